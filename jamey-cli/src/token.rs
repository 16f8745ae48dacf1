//! `jamey token create|revoke NAME` and `jamey token list`: bearer tokens for external tools,
//! each limited to the tools it was created for (`--tools a,b`). The token is shown once; the
//! credentials file keeps only its hash, and a running runtime applies a revocation without a
//! restart.

use std::io::{self, Write};

use clap::Subcommand;
use jamey_core::credentials::{Credentials, TokenRecord};
use jamey_core::home::JameyHome;
use serde::Serialize;

use crate::report::{self, Report};
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a bearer token and print it once.
    Create {
        /// Who the token is for: 1 to 64 characters from A-Z a-z 0-9 _ . -
        name: String,
        /// The tools the token may use, comma-separated [default: only the tools whose
        /// permission is `allow`].
        #[arg(long, value_name = "TOOL,...", value_delimiter = ',')]
        tools: Option<Vec<String>>,
    },
    /// The tokens created, revoked ones included, with the tools each may use.
    List,
    /// Revoke a bearer token; a running runtime rejects it from then on.
    Revoke {
        /// The name the token was created for.
        name: String,
    },
}

/// A token made by `jamey token create`: the only time it is ever shown.
#[derive(Debug, Serialize)]
struct Created {
    name: String,
    token: String,
    /// `null`: only the tools whose permission is `allow`.
    tools: Option<Vec<String>>,
}

impl Report for Created {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.token)?;
        writeln!(
            notes,
            "Created token {:?} for {}. It cannot be shown again: store it now. \
             Clients send it as `Authorization: Bearer <token>`.",
            self.name,
            scope(self.tools.as_deref())
        )
    }
}

/// A scope as people read it.
pub(crate) fn scope(tools: Option<&[String]>) -> String {
    match tools {
        None => "the tools whose permission is allow".into(),
        Some([]) => "no tools".into(),
        Some(tools) => format!("the tools {}", tools.join(", ")),
    }
}

/// `jamey token list`.
#[derive(Debug, Serialize)]
struct Listed {
    tokens: Vec<TokenRecord>,
}

impl Report for Listed {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        if self.tokens.is_empty() {
            return writeln!(notes, "No tokens: `jamey token create NAME` makes one");
        }
        let mut table = Table::new(vec!["NAME", "CREATED", "STATE", "TOOLS"]);
        for token in &self.tokens {
            table.row(vec![
                token.name.clone(),
                token.created_at.format("%Y-%m-%d %H:%M").to_string(),
                match token.revoked_at {
                    Some(at) => format!("revoked {}", at.format("%Y-%m-%d")),
                    None => "active".into(),
                },
                tools_cell(token.tools.as_deref()),
            ]);
        }
        table.write(out)
    }
}

/// A scope in a table cell.
fn tools_cell(tools: Option<&[String]>) -> String {
    match tools {
        None => "(allow-only)".into(),
        Some([]) => "(none)".into(),
        Some(tools) => tools.join(","),
    }
}

/// The record of a token revoked by `jamey token revoke`.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Revoked(TokenRecord);

impl Report for Revoked {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Revoked token {:?}", self.0.name)
    }
}

pub(crate) fn run(home: &JameyHome, command: &TokenCommand, json: bool) -> anyhow::Result<()> {
    crate::require_initialised(home)?;
    let path = home.credentials_file();
    let mut credentials = Credentials::load(&path)?;
    match command {
        TokenCommand::Create { name, tools } => {
            let token = credentials.create_scoped_token(name, tools.as_deref())?;
            credentials.save(&path)?;
            let tools = credentials
                .tokens()
                .last()
                .and_then(|record| record.tools.clone());
            report::print(
                &Created {
                    name: name.clone(),
                    token,
                    tools,
                },
                json,
            )
        }
        TokenCommand::List => report::print(
            &Listed {
                tokens: credentials.tokens().to_vec(),
            },
            json,
        ),
        TokenCommand::Revoke { name } => {
            let record = credentials.revoke_token(name)?.clone();
            credentials.save(&path)?;
            report::print(&Revoked(record), json)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_as_words_and_cells() {
        let tools = vec!["system_info".to_string(), "process_kill".to_string()];
        assert_eq!(scope(Some(&tools)), "the tools system_info, process_kill");
        assert_eq!(scope(None), "the tools whose permission is allow");
        assert_eq!(scope(Some(&[])), "no tools");
        assert_eq!(tools_cell(Some(&tools)), "system_info,process_kill");
        assert_eq!(tools_cell(None), "(allow-only)");
    }
}
