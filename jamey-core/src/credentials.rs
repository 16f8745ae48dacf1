//! The credentials file (`JAMEY_HOME/credentials.json`): bearer tokens, kept only as SHA-256
//! hashes, and the client certificates issued by the local CA, each with its revocation and the
//! tools it may use. The CLI writes it; the runtime re-reads it when it changes, so a revocation
//! applies without a restart.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pki::{write_atomically, FileAccess, IssuedCert};

/// Every bearer token starts with this, so that leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "jmy_";

const TOKEN_RANDOM_BYTES: usize = 32;
const MAX_NAME_CHARS: usize = 64;
/// Tool names follow what OpenAI-compatible APIs accept: `^[a-zA-Z0-9_-]{1,64}$`.
const MAX_TOOL_NAME_CHARS: usize = 64;
const FORMAT_VERSION: u32 = 1;

/// Why a credential could not be created, revoked, loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A name is empty, longer than 64 characters, or has a character outside `[A-Za-z0-9_.-]`.
    #[error("invalid name {name:?}: use 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-'")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The name already holds an active token.
    #[error("a token named {name:?} already exists: revoke it first or choose another name")]
    TokenExists {
        /// The name in use.
        name: String,
    },
    /// A tool name in a scope is empty, longer than 64 characters, or has a character outside
    /// `[A-Za-z0-9_-]`.
    #[error("invalid tool name {name:?}: use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'")]
    InvalidToolName {
        /// The rejected tool name.
        name: String,
    },
    /// No active token has this name.
    #[error("no active token named {name:?}")]
    NoActiveToken {
        /// The name asked for.
        name: String,
    },
    /// The name already holds an active client certificate.
    #[error(
        "a client certificate named {name:?} already exists: revoke it first or choose another name"
    )]
    CertExists {
        /// The name in use.
        name: String,
    },
    /// No active client certificate has this name.
    #[error("no active client certificate named {name:?}")]
    NoActiveCert {
        /// The name asked for.
        name: String,
    },
    /// The file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The credentials file.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// The file is not JSON of the expected shape.
    #[error("{} is not a valid credentials file: {source}", path.display())]
    Parse {
        /// The credentials file.
        path: PathBuf,
        /// What the parser found.
        source: serde_json::Error,
    },
    /// The file was written by a newer Jamey in a format this build does not know.
    #[error(
        "{} has format version {found}, this build reads version {FORMAT_VERSION}: upgrade Jamey",
        path.display()
    )]
    UnsupportedVersion {
        /// The credentials file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
    },
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The credentials file.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
}

/// A bearer token as stored: its hash, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// Who or what the token was created for.
    pub name: String,
    /// SHA-256 of the token, lowercase hex.
    pub sha256: String,
    /// When the token was created.
    pub created_at: DateTime<Utc>,
    /// When the token was revoked; `None` while it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The tools the token may use (`--tools a,b`); `None`: only those whose permission is
    /// `allow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
}

/// A client certificate issued by the local CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertRecord {
    /// The certificate's name (its common name).
    pub name: String,
    /// The certificate's serial number, lowercase hex.
    pub serial_hex: String,
    /// SHA-256 of the certificate's DER encoding, lowercase hex.
    pub fingerprint_sha256: String,
    /// When the certificate was issued.
    pub created_at: DateTime<Utc>,
    /// When the certificate was revoked; `None` while it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The tools the certificate may use (`--tools a,b`); `None`: only those whose permission
    /// is `allow` (the owner's certificate may use every tool, whatever it records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
}

/// A credential the runtime accepted, with the tools it may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCredential {
    /// The token's or certificate's name.
    pub name: String,
    /// The tools it was created for; `None`: only those whose permission is `allow`.
    pub tools: Option<Vec<String>>,
}

/// The contents of the credentials file. Revoked entries stay, so a revoked certificate is still
/// recognised and a name can be reused once its credential is revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    version: u32,
    #[serde(default)]
    tokens: Vec<TokenRecord>,
    #[serde(default)]
    certs: Vec<CertRecord>,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            tokens: Vec::new(),
            certs: Vec::new(),
        }
    }
}

impl Credentials {
    /// Reads the credentials file; a missing file holds no credentials.
    pub fn load(path: &Path) -> Result<Self, CredentialsError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(CredentialsError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let credentials: Self =
            serde_json::from_slice(&bytes).map_err(|source| CredentialsError::Parse {
                path: path.to_owned(),
                source,
            })?;
        if credentials.version != FORMAT_VERSION {
            return Err(CredentialsError::UnsupportedVersion {
                path: path.to_owned(),
                found: credentials.version,
            });
        }
        Ok(credentials)
    }

    /// Writes the credentials file atomically, readable by its owner only (mode 0600).
    pub fn save(&self, path: &Path) -> Result<(), CredentialsError> {
        let write_error = |source| CredentialsError::Write {
            path: path.to_owned(),
            source,
        };
        let mut json = serde_json::to_vec_pretty(self)
            .map_err(io::Error::from)
            .map_err(write_error)?;
        json.push(b'\n');
        write_atomically(path, &json, FileAccess::OwnerOnly).map_err(write_error)
    }

    /// Every token ever created, revoked ones included, oldest first.
    pub fn tokens(&self) -> &[TokenRecord] {
        &self.tokens
    }

    /// Every client certificate ever recorded, revoked ones included, oldest first.
    pub fn certs(&self) -> &[CertRecord] {
        &self.certs
    }

    /// Creates a token for `name` and returns it. Only its hash is kept: the caller shows the
    /// token once, and nobody can show it again.
    pub fn create_token(&mut self, name: &str) -> Result<String, CredentialsError> {
        self.create_scoped_token(name, None)
    }

    /// Creates a token for `name` that may use `tools` (`None`: only the tools whose permission
    /// is `allow`) and returns it; a bad tool name is an error naming it, and nothing is created.
    pub fn create_scoped_token(
        &mut self,
        name: &str,
        tools: Option<&[String]>,
    ) -> Result<String, CredentialsError> {
        validate_name(name)?;
        let tools = tools.map(validate_tools).transpose()?;
        if self.active_token(name).is_some() {
            return Err(CredentialsError::TokenExists {
                name: name.to_owned(),
            });
        }
        let mut random = [0u8; TOKEN_RANDOM_BYTES];
        rand::rng().fill_bytes(&mut random);
        let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        self.tokens.push(TokenRecord {
            name: name.to_owned(),
            sha256: token_hash(&token),
            created_at: Utc::now(),
            revoked_at: None,
            tools,
        });
        Ok(token)
    }

    /// Revokes the active token named `name` and returns its record.
    pub fn revoke_token(&mut self, name: &str) -> Result<&TokenRecord, CredentialsError> {
        validate_name(name)?;
        let record = self
            .tokens
            .iter_mut()
            .find(|token| token.name == name && token.revoked_at.is_none())
            .ok_or_else(|| CredentialsError::NoActiveToken {
                name: name.to_owned(),
            })?;
        record.revoked_at = Some(Utc::now());
        Ok(record)
    }

    /// The name of the active token equal to `token`, if any. Hashes are compared in constant
    /// time, and every active token is compared, so timing reveals nothing about stored tokens.
    pub fn verify_token(&self, token: &str) -> Option<String> {
        self.verify_scoped_token(token)
            .map(|verified| verified.name)
    }

    /// The active token equal to `token`, with the tools it may use; compared as
    /// `verify_token` does.
    pub fn verify_scoped_token(&self, token: &str) -> Option<VerifiedCredential> {
        let presented = token_hash(token);
        let mut matched = None;
        for record in self
            .tokens
            .iter()
            .filter(|record| record.revoked_at.is_none())
        {
            if constant_time_eq(record.sha256.as_bytes(), presented.as_bytes()) {
                matched = Some(VerifiedCredential {
                    name: record.name.clone(),
                    tools: record.tools.clone(),
                });
            }
        }
        matched
    }

    /// The active client certificate with this SHA-256 DER fingerprint (hex, any case), with
    /// the tools it may use; `None` when it was never recorded here or has been revoked.
    pub fn verify_cert(&self, fingerprint_hex: &str) -> Option<VerifiedCredential> {
        self.certs
            .iter()
            .find(|cert| {
                cert.revoked_at.is_none()
                    && cert
                        .fingerprint_sha256
                        .eq_ignore_ascii_case(fingerprint_hex)
            })
            .map(|cert| VerifiedCredential {
                name: cert.name.clone(),
                tools: cert.tools.clone(),
            })
    }

    /// Records a client certificate issued to `name`.
    pub fn record_cert(&mut self, name: &str, cert: &IssuedCert) -> Result<(), CredentialsError> {
        self.record_scoped_cert(name, cert, None)
    }

    /// Records a client certificate issued to `name` that may use `tools` (`None`: only the
    /// tools whose permission is `allow`); a bad tool name is an error naming it.
    pub fn record_scoped_cert(
        &mut self,
        name: &str,
        cert: &IssuedCert,
        tools: Option<&[String]>,
    ) -> Result<(), CredentialsError> {
        validate_name(name)?;
        let tools = tools.map(validate_tools).transpose()?;
        if self.active_cert(name).is_some() {
            return Err(CredentialsError::CertExists {
                name: name.to_owned(),
            });
        }
        self.certs.push(CertRecord {
            name: name.to_owned(),
            serial_hex: cert.serial_hex.clone(),
            fingerprint_sha256: cert.fingerprint_sha256_hex.clone(),
            created_at: Utc::now(),
            revoked_at: None,
            tools,
        });
        Ok(())
    }

    /// Revokes the active client certificate named `name` and returns its record.
    pub fn revoke_cert(&mut self, name: &str) -> Result<&CertRecord, CredentialsError> {
        validate_name(name)?;
        let record = self
            .certs
            .iter_mut()
            .find(|cert| cert.name == name && cert.revoked_at.is_none())
            .ok_or_else(|| CredentialsError::NoActiveCert {
                name: name.to_owned(),
            })?;
        record.revoked_at = Some(Utc::now());
        Ok(record)
    }

    /// Revokes every active client certificate, as when the CA that signed them is replaced;
    /// returns how many were revoked.
    pub fn revoke_all_certs(&mut self) -> usize {
        let now = Utc::now();
        let mut revoked = 0;
        for cert in self
            .certs
            .iter_mut()
            .filter(|cert| cert.revoked_at.is_none())
        {
            cert.revoked_at = Some(now);
            revoked += 1;
        }
        revoked
    }

    /// Whether the certificate with this SHA-256 DER fingerprint (hex, any case) was revoked.
    pub fn is_cert_revoked(&self, fingerprint_hex: &str) -> bool {
        self.certs.iter().any(|cert| {
            cert.revoked_at.is_some()
                && cert
                    .fingerprint_sha256
                    .eq_ignore_ascii_case(fingerprint_hex)
        })
    }

    fn active_token(&self, name: &str) -> Option<&TokenRecord> {
        self.tokens
            .iter()
            .find(|token| token.name == name && token.revoked_at.is_none())
    }

    fn active_cert(&self, name: &str) -> Option<&CertRecord> {
        self.certs
            .iter()
            .find(|cert| cert.name == name && cert.revoked_at.is_none())
    }
}

/// Names become file names (`tls/clients/NAME.pem`) and certificate subjects, hence the strict set.
fn validate_name(name: &str) -> Result<(), CredentialsError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(allowed) {
        return Err(CredentialsError::InvalidName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Checks every tool name of a scope and drops repeats, keeping the order given.
fn validate_tools(tools: &[String]) -> Result<Vec<String>, CredentialsError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    let mut kept: Vec<String> = Vec::with_capacity(tools.len());
    for tool in tools {
        if tool.is_empty()
            || tool.chars().count() > MAX_TOOL_NAME_CHARS
            || !tool.chars().all(allowed)
        {
            return Err(CredentialsError::InvalidToolName { name: tool.clone() });
        }
        if !kept.contains(tool) {
            kept.push(tool.clone());
        }
    }
    Ok(kept)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    difference == 0
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::pki::{create_ca, issue_client_cert};

    fn issued(name: &str) -> IssuedCert {
        let ca = create_ca().unwrap();
        issue_client_cert(&ca, name).unwrap()
    }

    #[test]
    fn a_created_token_verifies_until_revoked() {
        let mut credentials = Credentials::default();
        let token = credentials.create_token("ci").unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(credentials.verify_token(&token).as_deref(), Some("ci"));

        let revoked = credentials.revoke_token("ci").unwrap();
        assert!(revoked.revoked_at.is_some());
        assert_eq!(credentials.verify_token(&token), None);
    }

    #[test]
    fn wrong_or_empty_tokens_do_not_verify() {
        let mut credentials = Credentials::default();
        let token = credentials.create_token("ci").unwrap();
        assert_eq!(credentials.verify_token(""), None);
        assert_eq!(credentials.verify_token(&format!("{token}x")), None);
        assert_eq!(credentials.verify_token(&token[..token.len() - 1]), None);
        assert_eq!(
            credentials.verify_token(&credentials.tokens()[0].sha256),
            None
        );
    }

    #[test]
    fn tokens_are_distinct_and_map_to_their_names() {
        let mut credentials = Credentials::default();
        let first = credentials.create_token("one").unwrap();
        let second = credentials.create_token("two").unwrap();
        assert_ne!(first, second);
        assert_eq!(credentials.verify_token(&first).as_deref(), Some("one"));
        assert_eq!(credentials.verify_token(&second).as_deref(), Some("two"));
    }

    #[test]
    fn a_name_holds_one_active_token_and_is_free_again_after_revocation() {
        let mut credentials = Credentials::default();
        let old = credentials.create_token("ci").unwrap();
        let err = credentials.create_token("ci").unwrap_err();
        assert!(matches!(err, CredentialsError::TokenExists { .. }));
        assert!(err.to_string().contains("\"ci\""), "{err}");

        credentials.revoke_token("ci").unwrap();
        let new = credentials.create_token("ci").unwrap();
        assert_eq!(credentials.verify_token(&old), None);
        assert_eq!(credentials.verify_token(&new).as_deref(), Some("ci"));
        assert_eq!(credentials.tokens().len(), 2);
    }

    #[test]
    fn revoking_a_missing_or_revoked_token_fails() {
        let mut credentials = Credentials::default();
        let err = credentials.revoke_token("ghost").unwrap_err();
        assert!(matches!(err, CredentialsError::NoActiveToken { .. }));
        credentials.create_token("ci").unwrap();
        credentials.revoke_token("ci").unwrap();
        let err = credentials.revoke_token("ci").unwrap_err();
        assert!(matches!(err, CredentialsError::NoActiveToken { .. }));
    }

    #[test]
    fn bad_names_are_rejected_and_good_ones_accepted() {
        let mut credentials = Credentials::default();
        let long = "a".repeat(65);
        for name in [
            "",
            long.as_str(),
            "a b",
            "a/b",
            "../x",
            "é",
            "tab\t",
            "semi;colon",
        ] {
            let err = credentials.create_token(name).unwrap_err();
            assert!(
                matches!(err, CredentialsError::InvalidName { .. }),
                "{name:?}: {err}"
            );
            let err = credentials.record_cert(name, &issued("x")).unwrap_err();
            assert!(
                matches!(err, CredentialsError::InvalidName { .. }),
                "{name:?}: {err}"
            );
        }
        let longest = "a".repeat(64);
        for name in ["a", "ci-bot_1.x", "A.B-C_d", longest.as_str()] {
            credentials.create_token(name).unwrap();
        }
    }

    #[test]
    fn certs_are_recorded_revoked_and_recognised_by_fingerprint() {
        let mut credentials = Credentials::default();
        let cert = issued("laptop");
        credentials.record_cert("laptop", &cert).unwrap();
        let fingerprint = cert.fingerprint_sha256_hex.clone();
        assert!(!credentials.is_cert_revoked(&fingerprint));

        let err = credentials
            .record_cert("laptop", &issued("laptop"))
            .unwrap_err();
        assert!(matches!(err, CredentialsError::CertExists { .. }));

        let revoked = credentials.revoke_cert("laptop").unwrap();
        assert_eq!(revoked.fingerprint_sha256, fingerprint);
        assert_eq!(revoked.serial_hex, cert.serial_hex);
        assert!(credentials.is_cert_revoked(&fingerprint));
        assert!(credentials.is_cert_revoked(&fingerprint.to_uppercase()));
        assert!(!credentials.is_cert_revoked(&issued("other").fingerprint_sha256_hex));

        let err = credentials.revoke_cert("laptop").unwrap_err();
        assert!(matches!(err, CredentialsError::NoActiveCert { .. }));
        credentials
            .record_cert("laptop", &issued("laptop"))
            .unwrap();
        assert!(credentials.is_cert_revoked(&fingerprint));
    }

    #[test]
    fn revoke_all_certs_revokes_only_active_ones_and_keeps_tokens() {
        let mut credentials = Credentials::default();
        let token = credentials.create_token("ci").unwrap();
        credentials.record_cert("owner", &issued("owner")).unwrap();
        credentials
            .record_cert("laptop", &issued("laptop"))
            .unwrap();
        credentials.revoke_cert("laptop").unwrap();
        assert_eq!(credentials.revoke_all_certs(), 1);
        assert!(credentials
            .certs()
            .iter()
            .all(|cert| cert.revoked_at.is_some()));
        assert_eq!(credentials.verify_token(&token).as_deref(), Some("ci"));
    }

    #[test]
    fn save_and_load_round_trip_without_the_token_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        let mut credentials = Credentials::default();
        let token = credentials.create_token("ci").unwrap();
        credentials.create_token("old").unwrap();
        credentials.revoke_token("old").unwrap();
        credentials.record_cert("owner", &issued("owner")).unwrap();
        credentials.save(&path).unwrap();

        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token));
        assert!(text.contains(&token_hash(&token)));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let loaded = Credentials::load(&path).unwrap();
        assert_eq!(loaded, credentials);
        assert_eq!(loaded.verify_token(&token).as_deref(), Some("ci"));
    }

    #[test]
    fn a_missing_file_holds_no_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = Credentials::load(&dir.path().join("credentials.json")).unwrap();
        assert_eq!(loaded, Credentials::default());
        assert!(loaded.tokens().is_empty() && loaded.certs().is_empty());
    }

    #[test]
    fn a_malformed_or_newer_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        fs::write(&path, "{not json").unwrap();
        let err = Credentials::load(&path).unwrap_err();
        assert!(matches!(err, CredentialsError::Parse { .. }));
        assert!(err.to_string().contains("credentials.json"), "{err}");

        fs::write(&path, r#"{"version": 2, "tokens": [], "certs": []}"#).unwrap();
        let err = Credentials::load(&path).unwrap_err();
        assert!(
            matches!(err, CredentialsError::UnsupportedVersion { found: 2, .. }),
            "{err}"
        );
    }

    fn names(tools: &[&str]) -> Vec<String> {
        tools.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn a_scoped_token_verifies_with_its_tools_and_an_unscoped_one_with_none() {
        let mut credentials = Credentials::default();
        let scoped = credentials
            .create_scoped_token(
                "ci",
                Some(&names(&["system_info", "process_kill", "system_info"])),
            )
            .unwrap();
        let plain = credentials.create_token("dash").unwrap();
        assert_eq!(
            credentials.verify_scoped_token(&scoped),
            Some(VerifiedCredential {
                name: "ci".into(),
                tools: Some(names(&["system_info", "process_kill"])),
            })
        );
        assert_eq!(
            credentials.verify_scoped_token(&plain),
            Some(VerifiedCredential {
                name: "dash".into(),
                tools: None
            })
        );
        assert_eq!(credentials.verify_scoped_token("jmy_nope"), None);
        credentials.revoke_token("ci").unwrap();
        assert_eq!(credentials.verify_scoped_token(&scoped), None);
        // An empty list is a scope too: no tool at all.
        let none = credentials.create_scoped_token("none", Some(&[])).unwrap();
        assert_eq!(
            credentials.verify_scoped_token(&none).unwrap().tools,
            Some(vec![])
        );
    }

    #[test]
    fn bad_tool_names_are_rejected_by_name_and_nothing_is_created() {
        let mut credentials = Credentials::default();
        let long = "t".repeat(65);
        for bad in ["", "a.b", "a b", "mcp/x", "é", long.as_str()] {
            let err = credentials
                .create_scoped_token("ci", Some(&names(&["system_info", bad])))
                .unwrap_err();
            assert!(
                matches!(&err, CredentialsError::InvalidToolName { name } if name == bad),
                "{bad:?}: {err}"
            );
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
            let err = credentials
                .record_scoped_cert("laptop", &issued("laptop"), Some(&names(&[bad])))
                .unwrap_err();
            assert!(matches!(err, CredentialsError::InvalidToolName { .. }));
        }
        assert!(credentials.tokens().is_empty() && credentials.certs().is_empty());
        let longest = "t".repeat(64);
        credentials
            .create_scoped_token(
                "ci",
                Some(&names(&["mcp__home-lab__lights", "A_b-9", &longest])),
            )
            .unwrap();
    }

    #[test]
    fn a_scoped_cert_is_found_by_fingerprint_until_revoked() {
        let mut credentials = Credentials::default();
        let cert = issued("laptop");
        credentials
            .record_scoped_cert("laptop", &cert, Some(&names(&["memory_search"])))
            .unwrap();
        let owner = issued("owner");
        credentials.record_cert("owner", &owner).unwrap();
        let fingerprint = cert.fingerprint_sha256_hex.to_uppercase();
        assert_eq!(
            credentials.verify_cert(&fingerprint),
            Some(VerifiedCredential {
                name: "laptop".into(),
                tools: Some(names(&["memory_search"])),
            })
        );
        assert_eq!(
            credentials
                .verify_cert(&owner.fingerprint_sha256_hex)
                .unwrap()
                .tools,
            None
        );
        assert_eq!(
            credentials.verify_cert(&issued("stranger").fingerprint_sha256_hex),
            None
        );
        credentials.revoke_cert("laptop").unwrap();
        assert_eq!(credentials.verify_cert(&fingerprint), None);
    }

    #[test]
    fn scopes_survive_a_save_and_older_files_without_them_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        let mut credentials = Credentials::default();
        let token = credentials
            .create_scoped_token("ci", Some(&names(&["http_fetch"])))
            .unwrap();
        credentials.create_token("plain").unwrap();
        credentials.save(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"tools\": [\n        \"http_fetch\""),
            "{text}"
        );
        // An unscoped record writes no `tools` key, as older versions wrote it.
        assert_eq!(text.matches("\"tools\"").count(), 1, "{text}");
        let loaded = Credentials::load(&path).unwrap();
        assert_eq!(loaded, credentials);
        assert_eq!(
            loaded.verify_scoped_token(&token).unwrap().tools,
            Some(names(&["http_fetch"]))
        );

        fs::write(
            &path,
            r#"{"version": 1,
                "tokens": [{"name": "old", "sha256": "00", "created_at": "2025-01-01T00:00:00Z"}],
                "certs": [{"name": "owner", "serial_hex": "01", "fingerprint_sha256": "ab",
                           "created_at": "2025-01-01T00:00:00Z"}]}"#,
        )
        .unwrap();
        let old = Credentials::load(&path).unwrap();
        assert_eq!(old.tokens()[0].tools, None);
        assert_eq!(old.verify_cert("AB").unwrap().tools, None);
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
