//! Jamey's local certificate authority: the CA, the server certificate and the client
//! certificates that live under `JAMEY_HOME/tls/`, all PEM and unencrypted so that curl and any
//! HTTP library can use them as they are, and the atomic, permission-aware file writes they need.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// The common name of the CA that `jamey init` creates.
pub const CA_COMMON_NAME: &str = "Jamey local CA";

/// The names the server certificate is valid for: the runtime listens on loopback by default.
pub const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The name (and common name) of the owner's own client certificate, used by the CLI and TUI.
pub const OWNER_CLIENT_NAME: &str = "owner";

const SERVER_COMMON_NAME: &str = "Jamey server";

/// About ten years: the CA outlives any reasonable install, and every certificate it issues
/// expires with it (re-run `jamey init --force` then).
const CA_VALIDITY: Duration = Duration::days(3653);

/// Certificates start slightly in the past so that a client whose clock runs behind accepts them.
const CLOCK_SKEW_ALLOWANCE: Duration = Duration::hours(1);

/// Why a certificate could not be created, loaded or written.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen could not generate a key pair or sign a certificate.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The CA certificate is not a PEM-encoded X.509 certificate.
    #[error("the CA certificate is not a valid PEM certificate: {0}")]
    InvalidCaCertificate(String),
    /// The CA certificate parses but does not carry the CA basic constraint.
    #[error("the CA certificate is not a certificate authority")]
    NotACa,
    /// The CA key is not a PEM-encoded private key of a supported algorithm.
    #[error("the CA key is not a valid PEM private key: {0}")]
    InvalidCaKey(rcgen::Error),
    /// The CA key is valid but belongs to another certificate.
    #[error("the CA key does not belong to the CA certificate")]
    KeyMismatch,
    /// A certificate or key file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file that could not be written.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
}

/// Who may read a file written by [`write_atomically`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAccess {
    /// Mode 0600: private keys and the credentials file.
    OwnerOnly,
    /// Mode 0644: certificates and configuration.
    Everyone,
}

impl FileAccess {
    fn mode(self) -> u32 {
        match self {
            Self::OwnerOnly => 0o600,
            Self::Everyone => 0o644,
        }
    }
}

/// The local CA: its certificate as written to `ca.pem` and the key that signs new certificates.
pub struct CertificateAuthority {
    cert_pem: String,
    /// The CA certificate as rcgen needs it to sign: same subject and key identifier as `cert_pem`.
    issuer: Certificate,
    key: KeyPair,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("subject", &self.issuer.params().distinguished_name)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl CertificateAuthority {
    /// Loads a CA from its PEM certificate and key, as [`CertificateAuthority::write`] stores
    /// them, checking that the certificate is a CA and that the key belongs to it.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|err| PkiError::InvalidCaCertificate(err.to_string()))?;
        let cert = pem
            .parse_x509()
            .map_err(|err| PkiError::InvalidCaCertificate(err.to_string()))?;
        if !cert.is_ca() {
            return Err(PkiError::NotACa);
        }
        let key = KeyPair::from_pem(key_pem).map_err(PkiError::InvalidCaKey)?;
        if cert.public_key().raw != key.public_key_der().as_slice() {
            return Err(PkiError::KeyMismatch);
        }
        // Re-signing the parsed parameters yields a certificate with the same subject and subject
        // key identifier, which is all that issuing needs from it; `cert_pem` stays the original.
        let issuer = CertificateParams::from_ca_cert_pem(cert_pem)?.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            issuer,
            key,
        })
    }

    /// The CA certificate, PEM-encoded: what clients and the server trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key, PEM-encoded (PKCS#8, unencrypted).
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Writes the certificate (mode 0644) and the key (mode 0600), each atomically.
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<(), PkiError> {
        write_pem(key_path, &self.key_pem(), FileAccess::OwnerOnly)?;
        write_pem(cert_path, &self.cert_pem, FileAccess::Everyone)
    }
}

/// A certificate signed by the local CA, with its private key.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate, PEM-encoded.
    pub cert_pem: String,
    /// The private key, PEM-encoded (PKCS#8, unencrypted).
    pub key_pem: String,
    /// The serial number, lowercase hex, as it appears in the certificate.
    pub serial_hex: String,
    /// SHA-256 of the certificate's DER encoding, lowercase hex: see [`cert_fingerprint`].
    pub fingerprint_sha256_hex: String,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("serial_hex", &self.serial_hex)
            .field("fingerprint_sha256_hex", &self.fingerprint_sha256_hex)
            .field("key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl IssuedCert {
    /// Writes the certificate (mode 0644) and the key (mode 0600), each atomically.
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<(), PkiError> {
        write_pem(key_path, &self.key_pem, FileAccess::OwnerOnly)?;
        write_pem(cert_path, &self.cert_pem, FileAccess::Everyone)
    }
}

/// Creates a new CA: an ECDSA P-256 key and a self-signed certificate named [`CA_COMMON_NAME`],
/// valid for about ten years, that may sign end-entity certificates only.
pub fn create_ca() -> Result<CertificateAuthority, PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(CA_COMMON_NAME);
    params.serial_number = Some(random_serial());
    params.not_before = now - CLOCK_SKEW_ALLOWANCE;
    params.not_after = now + CA_VALIDITY;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let issuer = params.self_signed(&key)?;
    Ok(CertificateAuthority {
        cert_pem: issuer.pem(),
        issuer,
        key,
    })
}

/// Issues the runtime's server certificate, valid for [`SERVER_NAMES`] (TLS server auth only).
pub fn issue_server_cert(ca: &CertificateAuthority) -> Result<IssuedCert, PkiError> {
    let names: Vec<String> = SERVER_NAMES.iter().map(|name| (*name).to_owned()).collect();
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name = common_name(SERVER_COMMON_NAME);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    issue(ca, params)
}

/// Issues a client certificate whose common name is `name` (TLS client auth only).
pub fn issue_client_cert(ca: &CertificateAuthority, name: &str) -> Result<IssuedCert, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    issue(ca, params)
}

/// SHA-256 of a certificate's DER encoding, lowercase hex: how credentials name a certificate.
pub fn cert_fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename, so a
/// reader sees the old file or the new one, never a partial one. The file gets `access`'s mode
/// from the moment it exists, so a key is never readable by others, even briefly.
pub fn write_atomically(path: &Path, contents: &[u8], access: FileAccess) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let mut suffix = [0u8; 8];
    rand::rng().fill_bytes(&mut suffix);
    let temp_path = dir.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        hex::encode(suffix)
    ));
    let result = write_then_rename(&temp_path, path, contents, access);
    if result.is_err() {
        // The temporary file may not exist (the open failed); nothing else to clean up.
        let _ = fs::remove_file(&temp_path);
    }
    result?;
    File::open(dir)?.sync_all()
}

/// Creates `path` and any missing parents with mode 0700; an existing directory is left as is.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)
}

fn write_then_rename(
    temp_path: &Path,
    path: &Path,
    contents: &[u8],
    access: FileAccess,
) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(access.mode())
        .open(temp_path)?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(temp_path, path)
}

fn write_pem(path: &Path, pem: &str, access: FileAccess) -> Result<(), PkiError> {
    write_atomically(path, pem.as_bytes(), access).map_err(|source| PkiError::Write {
        path: path.to_owned(),
        source,
    })
}

fn issue(ca: &CertificateAuthority, mut params: CertificateParams) -> Result<IssuedCert, PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let serial = random_serial();
    params.serial_number = Some(serial.clone());
    params.not_before = OffsetDateTime::now_utc() - CLOCK_SKEW_ALLOWANCE;
    params.not_after = ca.issuer.params().not_after;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &ca.issuer, &ca.key)?;
    Ok(IssuedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        serial_hex: hex::encode(serial.to_bytes()),
        fingerprint_sha256_hex: cert_fingerprint(cert.der()),
    })
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

/// 16 random bytes, positive and without a leading zero byte, so the DER integer keeps exactly
/// these bytes and `serial_hex` matches what tools such as openssl print.
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use rustls::client::danger::ServerCertVerifier;
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::server::WebPkiClientVerifier;
    use x509_parser::extensions::GeneralName;

    use super::*;

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn roots(ca: &CertificateAuthority) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der(ca.cert_pem())).unwrap();
        Arc::new(roots)
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn verify_client(ca: &CertificateAuthority, cert_pem: &str) -> Result<(), rustls::Error> {
        let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca), provider())
            .build()
            .unwrap();
        verifier
            .verify_client_cert(&der(cert_pem), &[], UnixTime::now())
            .map(|_| ())
    }

    fn verify_server(
        ca: &CertificateAuthority,
        cert_pem: &str,
        name: &str,
    ) -> Result<(), rustls::Error> {
        let verifier = WebPkiServerVerifier::builder_with_provider(roots(ca), provider())
            .build()
            .unwrap();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        verifier
            .verify_server_cert(&der(cert_pem), &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn client_cert_verifies_against_the_ca() {
        let ca = create_ca().unwrap();
        let client = issue_client_cert(&ca, OWNER_CLIENT_NAME).unwrap();
        verify_client(&ca, &client.cert_pem).unwrap();
    }

    #[test]
    fn client_cert_from_another_ca_is_rejected() {
        let ca = create_ca().unwrap();
        let other = create_ca().unwrap();
        let client = issue_client_cert(&other, "mallory").unwrap();
        assert!(verify_client(&ca, &client.cert_pem).is_err());
    }

    #[test]
    fn server_cert_is_not_a_client_cert_and_client_cert_is_not_a_server_cert() {
        let ca = create_ca().unwrap();
        let server = issue_server_cert(&ca).unwrap();
        let client = issue_client_cert(&ca, "bot").unwrap();
        assert!(verify_client(&ca, &server.cert_pem).is_err());
        assert!(verify_server(&ca, &client.cert_pem, "localhost").is_err());
    }

    #[test]
    fn server_cert_is_valid_for_localhost_and_both_loopback_addresses_only() {
        let ca = create_ca().unwrap();
        let server = issue_server_cert(&ca).unwrap();
        for name in SERVER_NAMES {
            verify_server(&ca, &server.cert_pem, name).unwrap();
        }
        assert!(verify_server(&ca, &server.cert_pem, "example.com").is_err());
        assert!(verify_server(&ca, &server.cert_pem, "10.0.0.1").is_err());

        let (_, pem) = x509_parser::pem::parse_x509_pem(server.cert_pem.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        let sans = cert.subject_alternative_name().unwrap().unwrap();
        let names: Vec<String> = sans
            .value
            .general_names
            .iter()
            .map(|name| match name {
                GeneralName::DNSName(dns) => (*dns).to_owned(),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap()).to_string(),
                    _ => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap()).to_string(),
                },
                other => panic!("unexpected SAN {other:?}"),
            })
            .collect();
        assert_eq!(names, SERVER_NAMES);
    }

    #[test]
    fn a_loaded_ca_issues_certs_that_chain_to_the_original() {
        let created = create_ca().unwrap();
        let loaded = CertificateAuthority::load(created.cert_pem(), &created.key_pem()).unwrap();
        assert_eq!(loaded.cert_pem(), created.cert_pem());
        let client = issue_client_cert(&loaded, "ci").unwrap();
        verify_client(&created, &client.cert_pem).unwrap();
        let server = issue_server_cert(&loaded).unwrap();
        verify_server(&created, &server.cert_pem, "127.0.0.1").unwrap();
    }

    #[test]
    fn issued_cert_reports_its_serial_fingerprint_and_name() {
        let ca = create_ca().unwrap();
        let client = issue_client_cert(&ca, "ci-bot").unwrap();
        let der = der(&client.cert_pem);
        assert_eq!(client.fingerprint_sha256_hex, cert_fingerprint(&der));
        assert_eq!(client.fingerprint_sha256_hex.len(), 64);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(client.serial_hex, hex::encode(cert.raw_serial()));
        assert_eq!(client.serial_hex.len(), 32);
        let cn = cert.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "ci-bot");
        assert!(!format!("{client:?}").contains("PRIVATE KEY"));
        assert!(!format!("{ca:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn ca_cert_is_a_ca_named_for_jamey_and_valid_for_about_ten_years() {
        let ca = create_ca().unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(ca.cert_pem().as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert!(cert.is_ca());
        let cn = cert.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), CA_COMMON_NAME);
        let lifetime =
            cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
        assert!(lifetime > 3650 * 86_400, "lifetime {lifetime}s");
    }

    #[test]
    fn load_rejects_a_key_of_another_ca() {
        let ca = create_ca().unwrap();
        let other = create_ca().unwrap();
        let err = CertificateAuthority::load(ca.cert_pem(), &other.key_pem()).unwrap_err();
        assert!(matches!(err, PkiError::KeyMismatch), "{err}");
    }

    #[test]
    fn load_rejects_a_leaf_certificate_and_garbage() {
        let ca = create_ca().unwrap();
        let client = issue_client_cert(&ca, "bot").unwrap();
        let err = CertificateAuthority::load(&client.cert_pem, &client.key_pem).unwrap_err();
        assert!(matches!(err, PkiError::NotACa), "{err}");
        let err = CertificateAuthority::load("not a certificate", &ca.key_pem()).unwrap_err();
        assert!(matches!(err, PkiError::InvalidCaCertificate(_)), "{err}");
        let err = CertificateAuthority::load(ca.cert_pem(), "not a key").unwrap_err();
        assert!(matches!(err, PkiError::InvalidCaKey(_)), "{err}");
    }

    #[test]
    fn write_gives_keys_mode_0600_and_certs_0644_and_replaces_files() {
        let dir = tempfile::tempdir().unwrap();
        let cert_path = dir.path().join("client.pem");
        let key_path = dir.path().join("client-key.pem");
        let ca = create_ca().unwrap();
        fs::write(&key_path, "old").unwrap();
        fs::set_permissions(&key_path, fs::Permissions::from_mode(0o666)).unwrap();

        let client = issue_client_cert(&ca, "bot").unwrap();
        client.write(&cert_path, &key_path).unwrap();

        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key_path), 0o600);
        assert_eq!(mode(&cert_path), 0o644);
        assert_eq!(fs::read_to_string(&key_path).unwrap(), client.key_pem);
        assert_eq!(fs::read_to_string(&cert_path).unwrap(), client.cert_pem);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .filter(|name| name.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn write_into_a_missing_directory_fails_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let ca = create_ca().unwrap();
        let missing = dir.path().join("missing");
        let err = ca
            .write(&missing.join("ca.pem"), &missing.join("ca-key.pem"))
            .unwrap_err();
        assert!(err.to_string().contains("ca-key.pem"), "{err}");
    }

    #[test]
    fn create_private_dir_uses_mode_0700() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b");
        create_private_dir(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        create_private_dir(&path).unwrap();
    }
}
