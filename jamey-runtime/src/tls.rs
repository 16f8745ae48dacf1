//! The server's TLS configuration: rustls with the ring provider only, TLS 1.2 minimum (1.3
//! preferred), certificate and key from `JAMEY_HOME/tls/`, and client certificates verified
//! against the local CA when presented. A connection without a certificate is allowed through
//! the handshake so that bearer tokens work; `auth` then requires one or the other.

use jamey_core::home::JameyHome;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file is missing or unreadable.
    #[error("cannot read {path}: {reason} (run `jamey init` to create the certificates)")]
    Read { path: String, reason: String },
    /// The files are readable but not usable certificates or keys.
    #[error("invalid TLS material in {path}: {reason}")]
    Invalid { path: String, reason: String },
}

/// The one crypto provider of the process. Installed first thing in `main`; crates that bring
/// another provider make rustls panic at the first handshake.
pub fn install_crypto_provider() {
    // Err means a provider is already installed (tests call this repeatedly): nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let certs = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Invalid {
            path: path.display().to_string(),
            reason: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    rustls_pemfile::private_key(&mut bytes.as_slice())
        .map_err(|e| TlsError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?
        .ok_or_else(|| TlsError::Invalid {
            path: path.display().to_string(),
            reason: "no PEM private key found".into(),
        })
}

/// The server configuration for `home`'s certificates.
pub fn server_config(home: &JameyHome) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in read_certs(&home.ca_cert())? {
        roots.add(ca).map_err(|e| TlsError::Invalid {
            path: home.ca_cert().display().to_string(),
            reason: e.to_string(),
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Invalid {
            path: home.ca_cert().display().to_string(),
            reason: e.to_string(),
        })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Invalid {
            path: "TLS versions".into(),
            reason: e.to_string(),
        })?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            read_certs(&home.server_cert())?,
            read_key(&home.server_key())?,
        )
        .map_err(|e| TlsError::Invalid {
            path: home.server_key().display().to_string(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
