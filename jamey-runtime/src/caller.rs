//! Who is calling: what the transport established about a connection (the verified client
//! certificate, attached by `server` to each request) and the authenticated `Caller` that
//! `auth` derives from it, which rate limits, handlers and tools decide by.

pub use jamey_tools::Caller;

/// What the transport established about a connection, attached to each of its requests.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInfo {
    /// The client certificate, when one was presented and verified against our CA.
    pub client_cert: Option<ClientCert>,
}

/// A verified client certificate.
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// The certificate's common name (`owner` for the owner's own).
    pub name: String,
    /// SHA-256 of the DER, matched against revocations.
    pub fingerprint: String,
}
