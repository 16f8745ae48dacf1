//! `jamey secret set|list|rm`: secrets (API keys, tokens) through the same Secret Manager the
//! runtime opens: the OS keychain where one works, else the encrypted file in `JAMEY_HOME`; the
//! environment is read but never written. Values are never printed. The runtime reads its
//! secrets when it starts, so a change reaches a running runtime at its next start.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Read, Write};

use anyhow::{bail, Context};
use clap::Subcommand;
use jamey_core::home::JameyHome;
use jamey_core::secrets::{
    validate_name, EnvSecretStore, Secret, SecretListing, SecretManager, SecretManagerOptions,
    SecretStore,
};
use jamey_protocol::settings::{self, Setting, SETTING_VARIABLES};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::daemon::{self, RuntimeProcess};
use crate::prompt;
use crate::report::{self, Report};
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub(crate) enum SecretCommand {
    /// Store a secret: the value from a prompt that does not echo, or from stdin when it is not a
    /// terminal (`printf %s "$KEY" | jamey secret set llm_api_key`).
    Set {
        /// e.g. llm_api_key: 1 to 128 characters from a-z 0-9 _ - .
        name: String,
    },
    /// The secrets Jamey can read and the backend holding each; never their values.
    List,
    /// Remove a secret from the keychain and the encrypted file.
    Rm {
        /// The secret's name.
        name: String,
    },
}

/// The result of `jamey secret set`.
#[derive(Debug, Serialize)]
struct Stored {
    name: String,
    backend: &'static str,
    /// The backend whose value reads use, when it is not the one just written.
    #[serde(skip_serializing_if = "Option::is_none")]
    shadowed_by: Option<&'static str>,
    /// A runtime started by `jamey start` is running and still holds the old value.
    restart_needed: bool,
}

impl Report for Stored {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Stored {} in {}", self.name, describe(self.backend))?;
        if let Some(first) = self.shadowed_by {
            writeln!(
                notes,
                "Note: {} is also set in {}, which is read first: remove it there for this value to count",
                self.name,
                describe(first)
            )?;
        }
        if self.restart_needed {
            writeln!(
                notes,
                "The running runtime read its secrets when it started: restart it (`jamey stop`, then `jamey start`) to use the new value"
            )
        } else {
            writeln!(notes, "The runtime reads secrets when it starts")
        }
    }
}

/// The result of `jamey secret list`.
#[derive(Debug, Serialize)]
struct Listed {
    /// Where `jamey secret set` writes.
    writes_to: &'static str,
    secrets: Vec<ListedSecret>,
}

#[derive(Debug, Serialize)]
struct ListedSecret {
    name: String,
    /// The backend whose value is used.
    backend: &'static str,
    /// Every backend holding it, in the order reads try them.
    backends: Vec<&'static str>,
}

impl Report for Listed {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        if self.secrets.is_empty() {
            writeln!(
                notes,
                "No secrets: `jamey secret set NAME` stores one in {}",
                describe(self.writes_to)
            )?;
            return Ok(());
        }
        let mut table = Table::new(vec!["NAME", "BACKEND", "ALSO IN"]);
        for secret in &self.secrets {
            table.row(vec![
                secret.name.clone(),
                secret.backend.to_owned(),
                secret.backends[1..].join(", "),
            ]);
        }
        table.write(out)
    }
}

/// The result of `jamey secret rm`.
#[derive(Debug, Serialize)]
struct Removed {
    name: String,
    /// The environment variable that still provides it, if one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    still_in_environment: Option<String>,
}

impl Report for Removed {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Removed {}", self.name)?;
        if let Some(variable) = &self.still_in_environment {
            writeln!(
                notes,
                "{} is still set in the environment ({variable}); unset it there",
                self.name
            )?;
        }
        Ok(())
    }
}

pub(crate) fn run(home: &JameyHome, command: &SecretCommand, json: bool) -> anyhow::Result<()> {
    crate::require_initialised(home)?;
    let env: HashMap<String, String> = std::env::vars()
        .filter(|(name, _)| settings::is_runtime_variable(name))
        .collect();
    let manager = open(home, &env)?;
    match command {
        SecretCommand::Set { name } => {
            // Before asking for a value that could not be stored.
            validate_name(name)?;
            let value = read_value(name)?;
            manager.set(name, &value)?;
            let backend = manager.backend();
            let read_first = manager
                .list(&[name])?
                .into_iter()
                .find(|listing| &listing.name == name)
                .and_then(|listing| listing.backends.first().copied());
            let restart_needed =
                matches!(daemon::probe(&home.pid_file())?, RuntimeProcess::Running(_));
            report::print(
                &Stored {
                    name: name.clone(),
                    backend,
                    shadowed_by: read_first.filter(|first| *first != backend),
                    restart_needed,
                },
                json,
            )
        }
        SecretCommand::List => {
            let listed = Listed {
                writes_to: manager.backend(),
                secrets: manager
                    .list(&runtime_secrets())?
                    .into_iter()
                    .filter_map(|SecretListing { name, backends }| {
                        let backend = *backends.first()?;
                        Some(ListedSecret {
                            backend,
                            name,
                            backends,
                        })
                    })
                    .collect(),
            };
            report::print(&listed, json)
        }
        SecretCommand::Rm { name } => {
            let removed = manager.delete(name)?;
            let still_in_environment = EnvSecretStore::variable_names(name)
                .into_iter()
                .find(|variable| env.get(variable).is_some_and(|v| !v.is_empty()));
            if !removed && still_in_environment.is_none() {
                bail!("there is no secret {name:?}: `jamey secret list` shows the secrets");
            }
            report::print(
                &Removed {
                    name: name.clone(),
                    still_in_environment,
                },
                json,
            )
        }
    }
}

/// The Secret Manager exactly as the runtime opens it, so writes land where it reads.
fn open(home: &JameyHome, env: &HashMap<String, String>) -> anyhow::Result<SecretManager> {
    let options = SecretManagerOptions {
        passphrase: env
            .get(settings::PASSPHRASE_VARIABLE)
            .map(|p| Secret::new(p.clone())),
        env: env.clone(),
        use_keychain: true,
    };
    SecretManager::open(home, options).context("cannot open the secrets")
}

/// The secrets the runtime asks for, which `list` looks up in the environment too.
fn runtime_secrets() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = SETTING_VARIABLES
        .iter()
        .filter_map(|v| match v.setting {
            Setting::Secret(name) => Some(name),
            _ => None,
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The value: typed at a prompt that does not echo, or all of stdin without its final newline.
fn read_value(name: &str) -> anyhow::Result<Secret> {
    let value = if io::stdin().is_terminal() {
        prompt::hidden(&format!("Value of {name} (not shown): "))?
    } else {
        // Room for any real key up front, so reading does not reallocate and leave copies of
        // the value behind; whatever buffer is left over is zeroed when dropped.
        let mut text = Zeroizing::new(String::with_capacity(8192));
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the value from stdin")?;
        let trimmed = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text)
            .len();
        text.truncate(trimmed);
        Secret::from(std::mem::take(&mut *text))
    };
    if value.is_empty() {
        bail!("no value given for {name}: type it at the prompt or pipe it on stdin");
    }
    Ok(value)
}

/// A backend's name for people.
fn describe(backend: &str) -> String {
    match backend {
        "keychain" => "the OS keychain".to_owned(),
        "encrypted-file" => "the encrypted file (JAMEY_HOME/secrets.enc)".to_owned(),
        "environment" => "the environment".to_owned(),
        other => other.to_owned(),
    }
}
