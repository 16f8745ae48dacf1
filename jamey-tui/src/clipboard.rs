//! Copying to the clipboard two ways at once: the system clipboard through arboard (X11,
//! macOS, Windows), and an OSC 52 escape sequence written to the terminal, which the terminal
//! emulator turns into a clipboard write; that one works over SSH and on headless machines,
//! where arboard has no clipboard to talk to.

use jamey_client::slash::{osc52_sequence, OSC52_MAX_BYTES};
use std::io::Write;

/// Where a copy went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CopyOutcome {
    pub(crate) system: bool,
    pub(crate) osc52: bool,
}

impl CopyOutcome {
    pub(crate) fn copied(self) -> bool {
        self.system || self.osc52
    }
}

/// The system clipboard, opened on first use and kept open: on X11 the copied text lives only
/// as long as the process that owns it keeps its clipboard handle.
#[derive(Default)]
pub(crate) struct Clipboard {
    system: Option<arboard::Clipboard>,
    system_failed: bool,
}

impl std::fmt::Debug for Clipboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clipboard")
            .field("system", &self.system.is_some())
            .field("system_failed", &self.system_failed)
            .finish()
    }
}

impl Clipboard {
    /// Copies `text` to the system clipboard if there is one, and through OSC 52 on `terminal`.
    pub(crate) fn copy(&mut self, text: &str, terminal: &mut dyn Write) -> CopyOutcome {
        let system = self.copy_to_system(text);
        // Larger copies go to the system clipboard only.
        let osc52 = text.len() <= OSC52_MAX_BYTES
            && terminal
                .write_all(osc52_sequence(text).as_bytes())
                .and_then(|()| terminal.flush())
                .is_ok();
        CopyOutcome { system, osc52 }
    }

    fn copy_to_system(&mut self, text: &str) -> bool {
        if self.system_failed {
            return false;
        }
        if self.system.is_none() {
            match arboard::Clipboard::new() {
                Ok(clipboard) => self.system = Some(clipboard),
                Err(error) => {
                    tracing::info!(%error, "no system clipboard; copying through OSC 52 only");
                    self.system_failed = true;
                    return false;
                }
            }
        }
        let Some(clipboard) = self.system.as_mut() else {
            return false;
        };
        match clipboard.set_text(text.to_string()) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "system clipboard refused the text");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_carries_the_text_in_base64() {
        assert_eq!(osc52_sequence("hi ✓"), "\x1b]52;c;aGkg4pyT\x07");
    }

    #[test]
    fn osc52_is_written_even_without_a_system_clipboard() {
        let mut clipboard = Clipboard {
            system: None,
            system_failed: true,
        };
        let mut terminal = Vec::new();
        let outcome = clipboard.copy("fn main() {}", &mut terminal);
        assert_eq!(
            outcome,
            CopyOutcome {
                system: false,
                osc52: true
            }
        );
        assert!(outcome.copied());
        assert_eq!(
            String::from_utf8(terminal).unwrap(),
            osc52_sequence("fn main() {}")
        );
    }

    #[test]
    fn oversized_text_skips_osc52() {
        let mut clipboard = Clipboard {
            system: None,
            system_failed: true,
        };
        let mut terminal = Vec::new();
        let outcome = clipboard.copy(&"x".repeat(OSC52_MAX_BYTES + 1), &mut terminal);
        assert!(!outcome.copied());
        assert!(terminal.is_empty());
    }
}
