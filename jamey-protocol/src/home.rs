//! `JAMEY_HOME` as every process sees it: the files the runtime, the CLI and the TUI share, and
//! where the runtime listens unless told otherwise. Names and path arithmetic only: nothing here
//! touches the file system or reads the environment.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// Where the runtime listens when neither `config.toml` nor `JAMEY_LISTEN` names an address.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000);

/// The application name of the platform data directory (`directories::ProjectDirs::from("",
/// "", PLATFORM_APPLICATION)`, e.g. `~/.local/share/jamey`): the home when `JAMEY_HOME` is unset.
pub const PLATFORM_APPLICATION: &str = "jamey";

/// The layout of one Jamey home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JameyHome {
    root: PathBuf,
}

impl JameyHome {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.tls_dir().join("ca.pem")
    }

    /// The CA's private key; `jamey cert issue` signs client certificates with it.
    pub fn ca_key(&self) -> PathBuf {
        self.tls_dir().join("ca-key.pem")
    }

    pub fn server_cert(&self) -> PathBuf {
        self.tls_dir().join("server.pem")
    }

    pub fn server_key(&self) -> PathBuf {
        self.tls_dir().join("server-key.pem")
    }

    /// The owner's client certificate, used by the CLI and TUI.
    pub fn client_cert(&self) -> PathBuf {
        self.tls_dir().join("client.pem")
    }

    pub fn client_key(&self) -> PathBuf {
        self.tls_dir().join("client-key.pem")
    }

    /// Client certificates issued to external tools by `jamey cert issue NAME`.
    pub fn issued_certs_dir(&self) -> PathBuf {
        self.tls_dir().join("clients")
    }

    /// Bearer tokens (hashed) and revoked certificates.
    pub fn credentials_file(&self) -> PathBuf {
        self.root.join("credentials.json")
    }

    /// The AES-256-GCM encrypted secrets file, used where no OS keychain works.
    pub fn secrets_file(&self) -> PathBuf {
        self.root.join("secrets.enc")
    }

    /// The key of the secrets file when neither a keychain nor `JAMEY_SECRETS_PASSPHRASE` is available.
    pub fn secrets_key_file(&self) -> PathBuf {
        self.root.join("secrets.key")
    }

    /// The embedded memory store, used when no database URL is configured.
    pub fn embedded_store_dir(&self) -> PathBuf {
        self.root.join("memory")
    }

    /// Locked by the runtime for as long as it lives (`jamey start` creates it).
    pub fn pid_file(&self) -> PathBuf {
        self.root.join("jamey.pid")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The output of a runtime started by `jamey start`.
    pub fn runtime_log(&self) -> PathBuf {
        self.logs_dir().join("runtime.log")
    }

    /// The log of `jamey-tui`, which never writes to the screen it draws.
    pub fn tui_log(&self) -> PathBuf {
        self.logs_dir().join("tui.log")
    }

    /// The line history of `jamey chat`'s interactive session.
    pub fn chat_history(&self) -> PathBuf {
        self.root.join("chat_history")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_lives_under_the_root() {
        let home = JameyHome::new("/srv/jamey");
        assert_eq!(home.config_file(), Path::new("/srv/jamey/config.toml"));
        assert_eq!(
            home.client_key(),
            Path::new("/srv/jamey/tls/client-key.pem")
        );
        assert_eq!(home.runtime_log(), Path::new("/srv/jamey/logs/runtime.log"));
        assert_eq!(DEFAULT_LISTEN.to_string(), "127.0.0.1:3000");
    }
}
