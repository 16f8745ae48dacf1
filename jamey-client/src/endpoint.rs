//! Where the runtime is and how to prove who we are: the same settings the runtime reads
//! (`config.toml`'s `listen` and `tls.plain_http`, then `JAMEY_LISTEN`), or an explicit URL.

use crate::error::ClientError;
use jamey_protocol::home::{JameyHome, PLATFORM_APPLICATION};
use jamey_protocol::settings::LISTEN_VARIABLE;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub use jamey_protocol::home::DEFAULT_LISTEN;

/// What the caller knows: the home directory and the overrides it was given. The library reads
/// no environment variable itself; the binary passes `JAMEY_LISTEN` and `JAMEY_TOKEN` here.
#[derive(Debug, Clone, Default)]
pub struct EndpointSettings {
    /// `JAMEY_HOME`.
    pub home: PathBuf,
    /// `--url`: wins over everything else.
    pub url: Option<String>,
    /// `JAMEY_LISTEN`: wins over `config.toml`'s `listen`.
    pub listen: Option<String>,
    /// A bearer token from `jamey token create`, sent when no client certificate is used.
    pub token: Option<String>,
}

/// The owner's certificate files in `JAMEY_HOME/tls/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_cert: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// The files `jamey init` writes under `home`.
    pub fn in_home(home: &Path) -> Self {
        let home = JameyHome::new(home);
        Self {
            ca_cert: home.ca_cert(),
            client_cert: home.client_cert(),
            client_key: home.client_key(),
        }
    }
}

/// A resolved runtime address with the credentials to use there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// e.g. `https://127.0.0.1:3000`, without a trailing slash.
    pub base_url: String,
    /// The certificate files for an `https` URL; `None` for plain HTTP.
    pub tls: Option<TlsFiles>,
    pub token: Option<String>,
}

/// The part of `config.toml` the client needs; every other key is the runtime's business.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    listen: Option<String>,
    #[serde(default)]
    tls: ConfigTls,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigTls {
    plain_http: Option<bool>,
}

impl Endpoint {
    /// Resolves where the runtime listens, as the runtime itself would from the same settings.
    pub fn resolve(settings: &EndpointSettings) -> Result<Self, ClientError> {
        let config_path = JameyHome::new(&settings.home).config_file();
        let file = read_config(&config_path)?;
        let plain_http = file.tls.plain_http.unwrap_or(false);
        let base_url = match &settings.url {
            Some(url) => {
                let url = url.trim_end_matches('/').to_string();
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ClientError::InvalidUrl {
                        url,
                        reason: "it must start with https:// or http://".into(),
                    });
                }
                url
            }
            None => {
                let (text, source) = match (&settings.listen, &file.listen) {
                    (Some(listen), _) => (Some(listen.as_str()), LISTEN_VARIABLE.to_string()),
                    (None, Some(listen)) => {
                        (Some(listen.as_str()), config_path.display().to_string())
                    }
                    (None, None) => (None, String::new()),
                };
                let listen = match text {
                    Some(text) => text
                        .parse::<SocketAddr>()
                        .map_err(|_| ClientError::Config {
                            path: source,
                            reason: format!(
                            "listen = {text:?} is not an IP address and port, e.g. 127.0.0.1:3000"
                        ),
                        })?,
                    None => DEFAULT_LISTEN,
                };
                let scheme = if plain_http { "http" } else { "https" };
                format!("{scheme}://{}", connect_address(listen))
            }
        };
        let tls = base_url
            .starts_with("https://")
            .then(|| TlsFiles::in_home(&settings.home));
        Ok(Self {
            base_url,
            tls,
            token: settings.token.clone(),
        })
    }
}

/// `config.toml`, or nothing when the file does not exist.
fn read_config(path: &Path) -> Result<ConfigFile, ClientError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(e) => {
            return Err(ClientError::Config {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    toml::from_str(&text).map_err(|e| ClientError::Config {
        path: path.display().to_string(),
        reason: e.message().to_string(),
    })
}

/// Where to connect for a listen address: a wildcard address is reached on loopback, which the
/// server certificate names (SANs localhost, 127.0.0.1, ::1).
fn connect_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// The platform's data directory for Jamey (e.g. `~/.local/share/jamey`), the home when
/// `JAMEY_HOME` is not set; the same directory the runtime uses.
pub fn platform_home() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", PLATFORM_APPLICATION)
        .map(|dirs| dirs.data_dir().to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home_with(config: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = config {
            std::fs::write(dir.path().join("config.toml"), text).unwrap();
        }
        dir
    }

    fn resolve(
        dir: &tempfile::TempDir,
        listen: Option<&str>,
        url: Option<&str>,
    ) -> Result<Endpoint, ClientError> {
        Endpoint::resolve(&EndpointSettings {
            home: dir.path().to_path_buf(),
            url: url.map(str::to_string),
            listen: listen.map(str::to_string),
            token: None,
        })
    }

    #[test]
    fn defaults_to_https_on_loopback_port_3000_with_the_home_certificates() {
        let dir = home_with(None);
        let endpoint = resolve(&dir, None, None).unwrap();
        assert_eq!(endpoint.base_url, "https://127.0.0.1:3000");
        assert_eq!(
            endpoint.tls.unwrap().client_key,
            dir.path().join("tls/client-key.pem")
        );
    }

    #[test]
    fn environment_beats_the_file_and_url_beats_both() {
        let dir = home_with(Some(
            "listen = \"127.0.0.1:4000\"\n[log]\nlevel = \"debug\"\n",
        ));
        assert_eq!(
            resolve(&dir, None, None).unwrap().base_url,
            "https://127.0.0.1:4000"
        );
        assert_eq!(
            resolve(&dir, Some("0.0.0.0:5000"), None).unwrap().base_url,
            "https://127.0.0.1:5000"
        );
        assert_eq!(
            resolve(&dir, Some("[::]:5001"), None).unwrap().base_url,
            "https://[::1]:5001"
        );
        assert_eq!(
            resolve(&dir, Some("0.0.0.0:5000"), Some("https://localhost:6000/"))
                .unwrap()
                .base_url,
            "https://localhost:6000"
        );
    }

    #[test]
    fn plain_http_uses_http_without_certificates() {
        let dir = home_with(Some("[tls]\nplain_http = true\n"));
        let endpoint = resolve(&dir, None, None).unwrap();
        assert_eq!(endpoint.base_url, "http://127.0.0.1:3000");
        assert_eq!(endpoint.tls, None);
    }

    #[test]
    fn bad_settings_name_where_they_come_from() {
        let dir = home_with(Some("listen = \"nowhere\"\n"));
        let err = resolve(&dir, None, None).unwrap_err().to_string();
        assert!(
            err.contains("config.toml") && err.contains("nowhere"),
            "{err}"
        );
        let err = resolve(&dir, Some("x"), None).unwrap_err().to_string();
        assert!(err.contains("JAMEY_LISTEN"), "{err}");
        let err = resolve(&dir, None, Some("ftp://h"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("https://"), "{err}");
        let broken = home_with(Some("listen = "));
        let err = resolve(&broken, None, None).unwrap_err().to_string();
        assert!(err.contains("config.toml"), "{err}");
    }
}
