//! The terminal in TUI mode (raw input, alternate screen, mouse and bracketed paste) and the
//! guarantee that it is put back: by a guard when the TUI returns or unwinds, and by a panic
//! hook that restores it before the panic message is printed, so the message is readable.

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

/// True while the terminal is in TUI mode; restoring twice is harmless but noisy.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether mouse capture was turned on, so restoring turns it off.
static MOUSE: AtomicBool = AtomicBool::new(false);

/// The terminal in TUI mode; restored when dropped.
#[derive(Debug)]
pub(crate) struct TerminalGuard {
    pub(crate) terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    /// Enters TUI mode. `mouse` captures the mouse (wheel scrolling) at the cost of the
    /// terminal's own text selection. Installs the panic hook first, so that a failure half-way
    /// leaves nothing behind either.
    pub(crate) fn enter(mouse: bool) -> io::Result<Self> {
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        MOUSE.store(mouse, Ordering::SeqCst);
        let entered = (|| {
            enable_raw_mode()?;
            let mut stdout = io::stdout();
            execute!(stdout, EnterAlternateScreen, EnableBracketedPaste)?;
            if mouse {
                execute!(stdout, EnableMouseCapture)?;
            }
            Terminal::new(CrosstermBackend::new(stdout))
        })();
        match entered {
            Ok(terminal) => Ok(Self { terminal }),
            Err(error) => {
                restore();
                Err(error)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves TUI mode if the terminal is in it; errors are ignored, there is nothing left to do.
pub(crate) fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut stdout = io::stdout();
    if MOUSE.load(Ordering::SeqCst) {
        let _ = execute!(stdout, DisableMouseCapture);
    }
    let _ = execute!(
        stdout,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
