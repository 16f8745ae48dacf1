//! `jamey init`: creates JAMEY_HOME with `config.toml`, a local CA, the runtime's server
//! certificate and the owner's client certificate, and records that certificate as a credential.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use jamey_core::credentials::Credentials;
use jamey_core::home::{JameyHome, CONFIG_TEMPLATE};
use jamey_core::pki::{self, FileAccess, OWNER_CLIENT_NAME, SERVER_NAMES};
use serde::Serialize;

use crate::report::{self, Report};

#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// Replace config.toml and every certificate. Tokens are kept; certificates issued by the
    /// old CA stop working.
    #[arg(long)]
    force: bool,
}

/// What `jamey init` created.
#[derive(Debug, Serialize)]
struct Initialised {
    home: PathBuf,
    config: PathBuf,
    credentials: PathBuf,
    ca_cert: PathBuf,
    ca_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    client_fingerprint_sha256: String,
    /// Certificates of an earlier CA revoked because that CA was replaced.
    revoked_certs: usize,
}

impl Report for Initialised {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Initialised Jamey at {}", self.home.display())?;
        let rows = [
            ("config", &self.config, String::new()),
            ("CA certificate", &self.ca_cert, String::new()),
            ("CA key", &self.ca_key, String::new()),
            (
                "server certificate",
                &self.server_cert,
                format!(" ({})", SERVER_NAMES.join(", ")),
            ),
            ("server key", &self.server_key, String::new()),
            (
                "client certificate",
                &self.client_cert,
                format!(" ({OWNER_CLIENT_NAME})"),
            ),
            ("client key", &self.client_key, String::new()),
            ("credentials", &self.credentials, String::new()),
        ];
        for (what, path, detail) in rows {
            writeln!(out, "  {what:<20}{}{detail}", path.display())?;
        }
        if self.revoked_certs > 0 {
            writeln!(
                out,
                "Revoked {} client certificate(s) of the previous CA; tokens still work.",
                self.revoked_certs
            )?;
        }
        writeln!(
            out,
            "Clients such as curl connect with: --cacert {} --cert {} --key {}",
            self.ca_cert.display(),
            self.client_cert.display(),
            self.client_key.display()
        )
    }
}

pub(crate) fn run(home: &JameyHome, args: &InitArgs, json: bool) -> anyhow::Result<()> {
    if !args.force && (home.config_file().exists() || home.ca_cert().exists()) {
        bail!(
            "already initialised at {}: use --force to overwrite",
            home.root().display()
        );
    }

    // Everything is generated before the first write, so a failure here leaves the home as it was.
    let ca = pki::create_ca()?;
    let server = pki::issue_server_cert(&ca)?;
    let client = pki::issue_client_cert(&ca, OWNER_CLIENT_NAME)?;
    let mut credentials = Credentials::load(&home.credentials_file())?;
    let revoked_certs = credentials.revoke_all_certs();
    credentials.record_cert(OWNER_CLIENT_NAME, &client)?;

    for dir in [home.root().to_owned(), home.tls_dir()] {
        pki::create_private_dir(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    server.write(&home.server_cert(), &home.server_key())?;
    client.write(&home.client_cert(), &home.client_key())?;
    credentials.save(&home.credentials_file())?;
    // The CA and config.toml mark the home as initialised, so they come last.
    ca.write(&home.ca_cert(), &home.ca_key())?;
    let config = home.config_file();
    pki::write_atomically(&config, CONFIG_TEMPLATE.as_bytes(), FileAccess::Everyone)
        .with_context(|| format!("cannot write {}", config.display()))?;

    report::print(
        &Initialised {
            home: home.root().to_owned(),
            config,
            credentials: home.credentials_file(),
            ca_cert: home.ca_cert(),
            ca_key: home.ca_key(),
            server_cert: home.server_cert(),
            server_key: home.server_key(),
            client_cert: home.client_cert(),
            client_key: home.client_key(),
            client_fingerprint_sha256: client.fingerprint_sha256_hex,
            revoked_certs,
        },
        json,
    )
}
