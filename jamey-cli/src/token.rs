//! `jamey token create|revoke NAME`: bearer tokens for external tools. The token is shown once;
//! the credentials file keeps only its hash, and a running runtime applies a revocation without
//! a restart.

use std::io::{self, Write};

use clap::Subcommand;
use jamey_core::credentials::{Credentials, TokenRecord};
use jamey_core::home::JameyHome;
use serde::Serialize;

use crate::report::{self, Report};

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a bearer token and print it once.
    Create {
        /// Who the token is for: 1 to 64 characters from A-Z a-z 0-9 _ . -
        name: String,
    },
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
}

impl Report for Created {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.token)?;
        writeln!(
            notes,
            "Created token {:?}. It cannot be shown again: store it now. \
             Clients send it as `Authorization: Bearer <token>`.",
            self.name
        )
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
        TokenCommand::Create { name } => {
            let token = credentials.create_token(name)?;
            credentials.save(&path)?;
            report::print(
                &Created {
                    name: name.clone(),
                    token,
                },
                json,
            )
        }
        TokenCommand::Revoke { name } => {
            let record = credentials.revoke_token(name)?.clone();
            credentials.save(&path)?;
            report::print(&Revoked(record), json)
        }
    }
}
