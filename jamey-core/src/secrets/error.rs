//! `SecretError`: everything that can go wrong while reading or writing secrets. No variant ever
//! carries a secret's value; names, paths and backend reasons only.

use std::io;
use std::path::PathBuf;

use super::FileKeySource;

/// An error from a [`SecretStore`](super::SecretStore) or the [`SecretManager`](super::SecretManager).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret name is empty, too long, or uses characters outside `a-z 0-9 _ - .`.
    #[error("invalid secret name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// `set` was given an empty value; every backend treats an empty value as unset.
    #[error("secret {name:?} cannot be set to an empty value")]
    EmptyValue {
        /// The secret's name.
        name: String,
    },

    /// The backend cannot be written to (the environment is read-only for Jamey).
    #[error("the {backend} secret store is read-only; store the secret in the keychain or the encrypted file instead")]
    ReadOnly {
        /// The backend's name, as [`SecretStore::backend`](super::SecretStore::backend) gives it.
        backend: &'static str,
    },

    /// No OS keychain works here: the probe could not write, read back or delete an entry.
    #[error("no OS keychain works here: {reason}")]
    KeychainUnavailable {
        /// What the platform said.
        reason: String,
    },

    /// A keychain operation failed although the keychain passed its probe.
    #[error("keychain {operation} of {name:?} failed: {reason}")]
    Keychain {
        /// `read`, `write` or `delete`.
        operation: &'static str,
        /// The entry's name.
        name: String,
        /// What the platform said.
        reason: String,
    },

    /// The passphrase does not open the encrypted secrets file.
    #[error("wrong passphrase: it does not open the secrets file {path}")]
    WrongPassphrase {
        /// The secrets file.
        path: PathBuf,
    },

    /// The key from a key file or the keychain does not open the encrypted secrets file.
    #[error("the key from {key_source} does not open the secrets file {path}")]
    WrongKey {
        /// The secrets file.
        path: PathBuf,
        /// Where the key came from.
        key_source: FileKeySource,
    },

    /// The key is right but the file failed authentication: it was modified or is corrupt.
    #[error("the secrets file {path} failed its integrity check: it was modified or is corrupt")]
    Tampered {
        /// The secrets file.
        path: PathBuf,
    },

    /// The file is not a secrets file this version can read (bad magic, unknown version,
    /// truncated header, or parameters out of range).
    #[error("{path} is not a readable secrets file: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The secrets file is encrypted with a passphrase and none was given.
    #[error("the secrets file {path} is encrypted with a passphrase, but none was given (set JAMEY_SECRETS_PASSPHRASE)")]
    PassphraseRequired {
        /// The secrets file.
        path: PathBuf,
    },

    /// The secrets file was encrypted with a key from another source than the one offered.
    #[error("the secrets file {path} is encrypted with a key from {file_key}, not from {offered}")]
    KeySourceMismatch {
        /// The secrets file.
        path: PathBuf,
        /// The kind of source the file's header names (`a key file`, `the OS keychain`, ...).
        file_key: &'static str,
        /// The source that was offered.
        offered: FileKeySource,
    },

    /// The secrets file exists but the key it was written with is gone.
    #[error("the secrets file {path} exists but its key from {key_source} is missing")]
    KeyMissing {
        /// The secrets file.
        path: PathBuf,
        /// Where the key should have been.
        key_source: FileKeySource,
    },

    /// An empty passphrase was given.
    #[error("the secrets passphrase is empty")]
    EmptyPassphrase,

    /// A key file (or a key held in the keychain) is not 32 bytes written as 64 hex digits.
    #[error("the secrets key from {key_source} is unusable: {reason}")]
    BadKey {
        /// Where the key came from.
        key_source: FileKeySource,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Reading or writing a file failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// AES-256-GCM refused to encrypt (the payload is beyond the cipher's limits).
    #[error("encrypting the secrets file failed")]
    Encrypt,

    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed: {reason}")]
    Randomness {
        /// What the OS said.
        reason: String,
    },
}

impl SecretError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
