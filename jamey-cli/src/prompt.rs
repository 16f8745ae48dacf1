//! A prompt on the terminal that does not echo what is typed, for secrets. It talks to
//! `/dev/tty`, so it works while stdout is redirected, and it turns off signals while it reads,
//! so Ctrl-C cancels the prompt without leaving the terminal silent.

use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Write};

use anyhow::{bail, Context};
use jamey_core::secrets::Secret;
use rustix::termios::{self, LocalModes, OptionalActions};

/// Ctrl-C and Ctrl-D as typed, since the prompt reads them as characters.
const CANCEL: [char; 2] = ['\u{3}', '\u{4}'];

/// Asks for one line without echoing it; fails when the user cancels.
pub(crate) fn hidden(question: &str) -> anyhow::Result<Secret> {
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("cannot open the terminal to ask for the value: pipe it on stdin instead")?;
    let saved = termios::tcgetattr(&tty).context("cannot read the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet
        .local_modes
        .remove(LocalModes::ECHO | LocalModes::ISIG);
    quiet.local_modes.insert(LocalModes::ECHONL);
    termios::tcsetattr(&tty, OptionalActions::Flush, &quiet)
        .context("cannot turn off the terminal's echo")?;
    let answer = ask(&tty, question);
    let restored = termios::tcsetattr(&tty, OptionalActions::Now, &saved);
    let mut line = answer?;
    restored.context("cannot restore the terminal's settings")?;
    // End of input before a newline (Ctrl-D on an empty line) reads nothing at all.
    if line.is_empty() || line.contains(CANCEL) {
        bail!("cancelled");
    }
    let value_len = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(value_len);
    Ok(Secret::from(line))
}

fn ask(tty: &std::fs::File, question: &str) -> anyhow::Result<String> {
    let mut out = tty;
    out.write_all(question.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to the terminal")?;
    let mut line = String::new();
    BufReader::new(tty)
        .read_line(&mut line)
        .map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => anyhow::anyhow!("the value is not valid UTF-8"),
            _ => anyhow::Error::from(e).context("cannot read from the terminal"),
        })?;
    Ok(line)
}
