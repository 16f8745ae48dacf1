//! `jamey config show`: the running runtime's effective settings (`GET /v1/config`), or, when
//! it is not running, what `config.toml` and the variables the runtime reads
//! (`jamey_protocol::settings`) set. Secrets are masked either way.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;
use serde_json::{Map, Value};

use jamey_core::home::JameyHome;
use jamey_protocol::settings::{Setting, SETTING_VARIABLES};

use crate::connect::Target;
use crate::report::{self, Report};

/// Shown instead of a secret.
const MASK: &str = "[redacted]";

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Show the effective configuration (from the runtime when it runs, else from the files).
    Show,
}

/// Where the settings shown come from.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum Source {
    /// `GET /v1/config` of the running runtime.
    Runtime,
    /// `config.toml` and the environment; unset keys are at their defaults.
    Files,
}

#[derive(Debug, Serialize)]
struct Shown {
    source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config_file: Option<PathBuf>,
    config: Value,
}

impl Report for Shown {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        match (&self.source, &self.url, &self.config_file) {
            (Source::Runtime, Some(url), _) => {
                writeln!(notes, "Effective settings of the runtime at {url}")?;
            }
            (_, _, Some(file)) => writeln!(
                notes,
                "The runtime is not running: settings from {} and the environment; keys not shown are at their defaults",
                file.display()
            )?,
            _ => {}
        }
        let mut flat = BTreeMap::new();
        flatten("", &self.config, &mut flat);
        for (key, value) in flat {
            writeln!(out, "{key} = {value}")?;
        }
        Ok(())
    }
}

pub(crate) fn run(
    target: &Target,
    command: &ConfigCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let ConfigCommand::Show = command;
    crate::require_initialised(&target.home)?;
    let remote = target.connect()?;
    let shown = match remote.call(remote.client.config()) {
        Ok(config) => Shown {
            source: Source::Runtime,
            url: Some(remote.client.base_url().to_owned()),
            config_file: None,
            config: mask(config),
        },
        Err(error) if error.is_not_running() => {
            let file = target.home.config_file();
            let env: Vec<(String, String)> = std::env::vars().collect();
            Shown {
                source: Source::Files,
                url: None,
                config: mask(from_files(&target.home, &env)?),
                config_file: Some(file),
            }
        }
        Err(error) => return Err(error.into()),
    };
    report::print(&shown, json)?;
    Ok(ExitCode::SUCCESS)
}

/// `config.toml` with the setting variables of `env` on top, as the runtime layers them; the
/// secrets the environment holds are shown masked under `secrets.NAME`.
fn from_files(home: &JameyHome, env: &[(String, String)]) -> anyhow::Result<Value> {
    let file = home.config_file();
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("cannot parse {}", file.display()))?;
    let mut config = serde_json::to_value(table).context("cannot convert the settings")?;
    for variable in SETTING_VARIABLES {
        let value = match variable.setting {
            // The home the runtime gets is the one this command works on (`--home` included).
            Setting::Home => Some(home.root().display().to_string()),
            _ => env
                .iter()
                .find(|(name, _)| name == variable.name)
                .map(|(_, value)| value.clone()),
        };
        let shown = match value {
            // The secret manager treats an empty variable as unset.
            Some(value) if variable.is_secret() && value.is_empty() => continue,
            Some(_) if variable.is_secret() => MASK.to_owned(),
            Some(value) => value,
            None => continue,
        };
        set_path(&mut config, &variable.shown_as(), Value::String(shown));
    }
    Ok(config)
}

fn set_path(root: &mut Value, dotted: &str, value: Value) {
    let mut node = root;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if parts.peek().is_none() {
            map.insert(part.to_string(), value);
            return;
        }
        node = map
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Masks secrets: a URL's password, and any value under a key that names a secret.
fn mask(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    // Only text can be a secret: `token_requests_per_second` is a number.
                    let value = if names_a_secret(&key) && value.is_string() {
                        Value::String(MASK.into())
                    } else {
                        mask(value)
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(mask).collect()),
        Value::String(text) => Value::String(mask_url_password(&text)),
        other => other,
    }
}

fn names_a_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "api_key",
        "apikey",
        "passphrase",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `postgres://user:pw@host/db` -> `postgres://user:[redacted]@host/db`.
fn mask_url_password(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return text.to_string();
    };
    match credentials.split_once(':') {
        Some((user, password)) if password != MASK => {
            format!("{scheme}://{user}:{MASK}@{host}{path}")
        }
        _ => text.to_string(),
    }
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&key, value, out);
            }
        }
        Value::String(text) => {
            out.insert(prefix.to_string(), format!("{text:?}"));
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_and_secret_keys_are_masked() {
        let masked = mask(json!({
            "database": {"url": "postgres://jamey:hunter2@db:5432/jamey", "pool_size": 4},
            "llm": {"api_key": "sk-123"},
            "listen": "127.0.0.1:3000"
        }));
        let text = masked.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("sk-123"),
            "{text}"
        );
        assert_eq!(
            masked["database"]["url"],
            "postgres://jamey:[redacted]@db:5432/jamey"
        );
        assert_eq!(masked["listen"], "127.0.0.1:3000");
    }

    #[test]
    fn environment_variables_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let home = JameyHome::new(dir.path());
        std::fs::write(
            home.config_file(),
            "listen = \"127.0.0.1:4000\"\n[log]\nlevel = \"debug\"\n",
        )
        .unwrap();
        let env = vec![
            ("JAMEY_LISTEN".to_string(), "127.0.0.1:5000".to_string()),
            (
                "JAMEY_DATABASE_URL".to_string(),
                "postgres://u:pw@h/db".to_string(),
            ),
        ];
        let config = mask(from_files(&home, &env).unwrap());
        assert_eq!(config["listen"], "127.0.0.1:5000");
        assert_eq!(config["log"]["level"], "debug");
        assert_eq!(config["database"]["url"], "postgres://u:[redacted]@h/db");
    }

    /// With the runtime stopped, every variable the runtime reads is shown under its key, and
    /// no secret value is.
    #[test]
    fn every_variable_the_runtime_reads_is_shown_offline() {
        let dir = tempfile::tempdir().unwrap();
        let home = JameyHome::new(dir.path());
        let env: Vec<(String, String)> = SETTING_VARIABLES
            .iter()
            .map(|v| (v.name.to_string(), format!("value-of-{}", v.name)))
            .collect();
        let config = mask(from_files(&home, &env).unwrap());
        let mut flat = BTreeMap::new();
        flatten("", &config, &mut flat);
        for variable in SETTING_VARIABLES {
            let shown = flat
                .get(&variable.shown_as())
                .unwrap_or_else(|| panic!("{} not shown: {flat:?}", variable.name));
            let value = format!("value-of-{}", variable.name);
            match variable.setting {
                Setting::Home => {
                    assert_eq!(shown, &format!("{:?}", dir.path().display().to_string()))
                }
                _ if variable.is_secret() => assert_eq!(shown, &format!("{MASK:?}")),
                _ => assert_eq!(shown, &format!("{value:?}")),
            }
        }
        let text = config.to_string();
        for variable in SETTING_VARIABLES.iter().filter(|v| v.is_secret()) {
            assert!(
                !text.contains(&format!("value-of-{}", variable.name)),
                "{text}"
            );
        }
    }
}
