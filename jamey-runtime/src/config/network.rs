//! The `[tools.network]` section: what the web tools' network guard lets through (reserved
//! addresses named in `allow_hosts`, or all of them with `allow_private`; never `deny_hosts`)
//! and the limits of each guarded request. Raw (as written) and validated forms.

use super::{range as int, ConfigError};
use jamey_tools::net::{HostRule, NetworkLimits, NetworkPolicy};
use serde::Deserialize;
use std::time::Duration;

/// What an `allow_hosts` or `deny_hosts` entry may be.
const HOST_ENTRY: &str = "a host name (or *.domain), an IP address or a CIDR block, each with \
                          an optional :port, e.g. nas.lan, 192.168.1.10:8080, 10.0.0.0/8, \
                          [fd00::1]:443";

/// The validated `[tools.network]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NetworkConfig {
    pub allow_hosts: Vec<HostRule>,
    pub deny_hosts: Vec<HostRule>,
    pub allow_private: bool,
    pub timeout_secs: u64,
    pub max_body_bytes: usize,
    pub max_decompressed_bytes: usize,
    pub max_redirects: usize,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        let limits = NetworkLimits::default();
        Self {
            allow_hosts: Vec::new(),
            deny_hosts: Vec::new(),
            allow_private: false,
            timeout_secs: limits.timeout.as_secs(),
            max_body_bytes: limits.max_body_bytes,
            max_decompressed_bytes: limits.max_decompressed_bytes,
            max_redirects: limits.max_redirects,
        }
    }
}

impl NetworkConfig {
    /// The policy the guarded client runs under.
    pub fn to_policy(&self) -> NetworkPolicy {
        NetworkPolicy {
            allow_hosts: self.allow_hosts.clone(),
            deny_hosts: self.deny_hosts.clone(),
            allow_private: self.allow_private,
            limits: NetworkLimits {
                timeout: Duration::from_secs(self.timeout_secs),
                max_body_bytes: self.max_body_bytes,
                max_decompressed_bytes: self.max_decompressed_bytes,
                max_redirects: self.max_redirects,
            },
        }
    }
}

/// `[tools.network]` as written.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub allow_hosts: Option<Vec<String>>,
    pub deny_hosts: Option<Vec<String>>,
    pub allow_private: Option<bool>,
    pub timeout_secs: Option<i64>,
    pub max_body_bytes: Option<i64>,
    pub max_decompressed_bytes: Option<i64>,
    pub max_redirects: Option<i64>,
}

impl RawNetwork {
    pub fn validate(&self) -> Result<NetworkConfig, ConfigError> {
        let d = NetworkConfig::default();
        let max_body_bytes = int(
            "tools.network.max_body_bytes",
            self.max_body_bytes,
            1024,
            256 << 20,
            d.max_body_bytes as i64,
        )? as usize;
        Ok(NetworkConfig {
            allow_hosts: rules("tools.network.allow_hosts", self.allow_hosts.as_deref())?,
            deny_hosts: rules("tools.network.deny_hosts", self.deny_hosts.as_deref())?,
            allow_private: self.allow_private.unwrap_or(d.allow_private),
            timeout_secs: int(
                "tools.network.timeout_secs",
                self.timeout_secs,
                1,
                3600,
                d.timeout_secs as i64,
            )? as u64,
            max_decompressed_bytes: int(
                "tools.network.max_decompressed_bytes",
                self.max_decompressed_bytes,
                max_body_bytes as i64,
                1 << 30,
                (d.max_decompressed_bytes as i64).max(max_body_bytes as i64),
            )? as usize,
            max_body_bytes,
            max_redirects: int(
                "tools.network.max_redirects",
                self.max_redirects,
                0,
                20,
                d.max_redirects as i64,
            )? as usize,
        })
    }
}

fn rules(key: &str, entries: Option<&[String]>) -> Result<Vec<HostRule>, ConfigError> {
    entries
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            HostRule::parse(entry).map_err(|e| ConfigError::Invalid {
                key: format!("{key}[{i}]"),
                value: entry.clone(),
                allowed: format!("{HOST_ENTRY} ({e})"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::RawConfig;

    fn validate(toml: &str) -> Result<crate::config::Config, String> {
        RawConfig::from_toml(toml)?
            .validate(true)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_refuse_private_addresses_with_the_documented_limits() {
        let config = validate("").unwrap();
        let policy = config.tools.network.to_policy();
        assert!(policy.allow_hosts.is_empty() && policy.deny_hosts.is_empty());
        assert!(!policy.allow_private);
        assert_eq!(policy.limits, jamey_tools::net::NetworkLimits::default());
        assert_eq!(policy.limits.max_redirects, 5);
    }

    #[test]
    fn entries_and_limits_become_the_policy() {
        let config = validate(
            "[tools.network]\nallow_hosts = [\"nas.lan:8080\", \"192.168.1.0/24\", \"[fd00::1]:443\"]\n\
             deny_hosts = [\"*.evil.example\"]\nallow_private = false\ntimeout_secs = 10\n\
             max_body_bytes = 65536\nmax_decompressed_bytes = 131072\nmax_redirects = 2\n",
        )
        .unwrap();
        let policy = config.tools.network.to_policy();
        let allow: Vec<String> = policy.allow_hosts.iter().map(|r| r.to_string()).collect();
        assert_eq!(allow, ["nas.lan:8080", "192.168.1.0/24", "[fd00::1]:443"]);
        assert_eq!(policy.deny_hosts[0].to_string(), "*.evil.example");
        assert_eq!(policy.limits.timeout, std::time::Duration::from_secs(10));
        assert_eq!(
            (
                policy.limits.max_body_bytes,
                policy.limits.max_decompressed_bytes,
                policy.limits.max_redirects
            ),
            (65536, 131072, 2)
        );
        let shown = serde_json::to_value(&config.tools.network).unwrap();
        assert_eq!(shown["allow_hosts"][0], "nas.lan:8080");
    }

    #[test]
    fn an_invalid_entry_names_its_key_value_and_what_is_allowed() {
        let err = validate(
            "[tools.network]\nallow_hosts = [\"nas.lan\", \"10.0.0.0/8\", \"10.0.0.1/33\"]\n",
        )
        .unwrap_err();
        assert!(err.contains("tools.network.allow_hosts[2]"), "{err}");
        assert!(err.contains("10.0.0.1/33"), "{err}");
        assert!(
            err.contains("a host name (or *.domain), an IP address or a CIDR"),
            "{err}"
        );
        let err = validate("[tools.network]\ndeny_hosts = [\"evil:99999\"]\n").unwrap_err();
        assert!(err.contains("tools.network.deny_hosts[0]"), "{err}");
        let err = validate("[tools.network]\nmax_redirects = 50\n").unwrap_err();
        assert!(err.contains("tools.network.max_redirects"), "{err}");
        let err =
            validate("[tools.network]\nmax_body_bytes = 4096\nmax_decompressed_bytes = 1024\n")
                .unwrap_err();
        assert!(
            err.contains("tools.network.max_decompressed_bytes"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = validate("[tools.network]\nallow_host = [\"nas.lan\"]\n").unwrap_err();
        assert!(err.contains("allow_host"), "{err}");
    }
}
