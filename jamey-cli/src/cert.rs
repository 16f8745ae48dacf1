//! `jamey cert issue|revoke NAME`: client certificates, signed by the local CA, for external
//! tools. Issued files go to `tls/clients/`; the credentials file records each certificate, with
//! the tools it may use (`--tools a,b`), so that revoking it by name applies to a running runtime
//! without a restart.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use jamey_core::credentials::{CertRecord, Credentials};
use jamey_core::home::JameyHome;
use jamey_core::pki::{self, CertificateAuthority};
use serde::Serialize;

use crate::report::{self, Report};

#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
    /// Issue a client certificate: writes tls/clients/NAME.pem and tls/clients/NAME-key.pem.
    Issue {
        /// Who the certificate is for: 1 to 64 characters from A-Z a-z 0-9 _ . -
        name: String,
        /// The tools the certificate may use, comma-separated [default: only the tools whose
        /// permission is `allow`].
        #[arg(long, value_name = "TOOL,...", value_delimiter = ',')]
        tools: Option<Vec<String>>,
    },
    /// Revoke a client certificate; a running runtime rejects it from then on.
    Revoke {
        /// The name the certificate was issued to.
        name: String,
    },
}

/// A certificate written by `jamey cert issue`.
#[derive(Debug, Serialize)]
struct Issued {
    name: String,
    cert: PathBuf,
    key: PathBuf,
    ca_cert: PathBuf,
    serial_hex: String,
    fingerprint_sha256: String,
    /// `null`: only the tools whose permission is `allow`.
    tools: Option<Vec<String>>,
}

impl Report for Issued {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Issued client certificate {:?}", self.name)?;
        writeln!(out, "  certificate  {}", self.cert.display())?;
        writeln!(out, "  key          {}", self.key.display())?;
        writeln!(out, "  sha256       {}", self.fingerprint_sha256)?;
        writeln!(
            out,
            "  may use      {}",
            crate::token::scope(self.tools.as_deref())
        )?;
        writeln!(
            out,
            "Clients such as curl connect with: --cacert {} --cert {} --key {}",
            self.ca_cert.display(),
            self.cert.display(),
            self.key.display()
        )
    }
}

/// The record of a certificate revoked by `jamey cert revoke`.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Revoked(CertRecord);

impl Report for Revoked {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Revoked client certificate {:?} (sha256 {})",
            self.0.name, self.0.fingerprint_sha256
        )
    }
}

pub(crate) fn run(home: &JameyHome, command: &CertCommand, json: bool) -> anyhow::Result<()> {
    crate::require_initialised(home)?;
    match command {
        CertCommand::Issue { name, tools } => issue(home, name, tools.as_deref(), json),
        CertCommand::Revoke { name } => revoke(home, name, json),
    }
}

fn issue(home: &JameyHome, name: &str, tools: Option<&[String]>, json: bool) -> anyhow::Result<()> {
    let ca = load_ca(home)?;
    let mut credentials = Credentials::load(&home.credentials_file())?;
    let dir = home.issued_certs_dir();
    let (cert_path, key_path) = issued_paths(&dir, name);
    refuse_overwriting_another_cert(&credentials, &dir, name)?;

    let cert = pki::issue_client_cert(&ca, name)?;
    // Recording first checks the name, so nothing is written for a bad or taken one.
    credentials.record_scoped_cert(name, &cert, tools)?;
    let tools = credentials
        .certs()
        .last()
        .and_then(|record| record.tools.clone());
    pki::create_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    cert.write(&cert_path, &key_path)?;
    credentials.save(&home.credentials_file())?;

    report::print(
        &Issued {
            name: name.to_owned(),
            cert: cert_path,
            key: key_path,
            ca_cert: home.ca_cert(),
            serial_hex: cert.serial_hex,
            fingerprint_sha256: cert.fingerprint_sha256_hex,
            tools,
        },
        json,
    )
}

fn revoke(home: &JameyHome, name: &str, json: bool) -> anyhow::Result<()> {
    let mut credentials = Credentials::load(&home.credentials_file())?;
    let record = credentials.revoke_cert(name)?.clone();
    credentials.save(&home.credentials_file())?;
    report::print(&Revoked(record), json)
}

fn load_ca(home: &JameyHome) -> anyhow::Result<CertificateAuthority> {
    let read = |path: PathBuf| {
        fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}: run `jamey init --force` to make a new CA",
                path.display()
            )
        })
    };
    let cert_pem = read(home.ca_cert())?;
    let key_pem = read(home.ca_key())?;
    CertificateAuthority::load(&cert_pem, &key_pem)
        .with_context(|| format!("cannot use the CA in {}", home.tls_dir().display()))
}

fn issued_paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    )
}

/// `x-key.pem` is both the key of "x" and the certificate of "x-key": refuse such a clash
/// rather than overwrite another active certificate's files.
fn refuse_overwriting_another_cert(
    credentials: &Credentials,
    dir: &Path,
    name: &str,
) -> anyhow::Result<()> {
    let (cert_path, key_path) = issued_paths(dir, name);
    let active_others = credentials
        .certs()
        .iter()
        .filter(|record| record.revoked_at.is_none() && record.name != name);
    for other in active_others {
        let (other_cert, other_key) = issued_paths(dir, &other.name);
        if cert_path == other_key || key_path == other_cert {
            bail!(
                "the files of {name:?} would overwrite those of the certificate {:?}: choose another name",
                other.name
            );
        }
    }
    Ok(())
}
