//! `NetworkPolicy`: what the guard lets a tool reach (`[tools.network]`): public addresses by
//! default, reserved ones (loopback, private, link-local, metadata...) only when `allow_hosts`
//! names them or `allow_private` is set, and never anything `deny_hosts` names. Also the limits
//! every guarded request runs under.

use super::classify::classify;
use super::HostRule;
use std::net::IpAddr;
use std::time::Duration;

/// The rules and limits of the guarded client.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetworkPolicy {
    /// Reserved addresses (a home-lab service) that may be reached: by name, address or block,
    /// optionally on one port only. Public addresses need no entry.
    pub allow_hosts: Vec<HostRule>,
    /// Never reached, whatever else says: by name, address or block.
    pub deny_hosts: Vec<HostRule>,
    /// Lifts the reserved-address rule (not `deny_hosts`).
    pub allow_private: bool,
    pub limits: NetworkLimits,
}

/// Limits of one guarded request, redirects included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkLimits {
    /// The whole request, every redirect and the body (the call's deadline may end it sooner).
    pub timeout: Duration,
    /// Bytes read from the wire; the body is cut there and marked as cut.
    pub max_body_bytes: usize,
    /// Bytes a compressed body may decode to; cut there and marked as cut.
    pub max_decompressed_bytes: usize,
    /// Redirects followed before the request gives up.
    pub max_redirects: usize,
}

impl Default for NetworkLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_body_bytes: 2 << 20,
            max_decompressed_bytes: 8 << 20,
            max_redirects: 5,
        }
    }
}

/// A request target after resolution: what the policy judges.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// `http://host:port/`, for messages (no userinfo, path or query).
    pub(crate) origin: &'a str,
    /// The host name, when the URL named one (not an IP literal).
    pub(crate) name: Option<&'a str>,
    pub(crate) port: u16,
}

impl NetworkPolicy {
    /// A refusal when `deny_hosts` names the host name.
    pub(crate) fn check_name(&self, target: Target<'_>) -> Result<(), String> {
        let Some(name) = target.name else {
            return Ok(());
        };
        match self
            .deny_hosts
            .iter()
            .find(|rule| rule.matches_port(target.port) && rule.matches_name(name))
        {
            Some(rule) => Err(format!(
                "{}: host {name} matches [tools.network] deny_hosts entry \"{rule}\"",
                target.origin
            )),
            None => Ok(()),
        }
    }

    /// A refusal naming the first address that may not be reached, if any.
    pub(crate) fn check_addrs(&self, target: Target<'_>, addrs: &[IpAddr]) -> Result<(), String> {
        addrs
            .iter()
            .try_for_each(|addr| self.check_addr(target, *addr))
    }

    fn check_addr(&self, target: Target<'_>, addr: IpAddr) -> Result<(), String> {
        let origin = target.origin;
        if let Some(rule) = self
            .deny_hosts
            .iter()
            .find(|rule| rule.matches_port(target.port) && rule.matches_ip(addr))
        {
            return Err(format!(
                "{origin} ({addr}): address matches [tools.network] deny_hosts entry \"{rule}\""
            ));
        }
        let Some(reserved) = classify(addr) else {
            return Ok(());
        };
        if self.allow_private {
            return Ok(());
        }
        let names = |rule: &HostRule| {
            rule.matches_ip(addr) || target.name.is_some_and(|name| rule.matches_name(name))
        };
        if self
            .allow_hosts
            .iter()
            .any(|rule| names(rule) && rule.matches_port(target.port))
        {
            return Ok(());
        }
        let other_port = if self.allow_hosts.iter().any(names) {
            format!(" for port {}", target.port)
        } else {
            String::new()
        };
        Err(format!(
            "{origin} ({addr}): {reserved} not in [tools.network] allow_hosts{other_port}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> NetworkPolicy {
        NetworkPolicy {
            allow_hosts: allow.iter().map(|r| HostRule::parse(r).unwrap()).collect(),
            deny_hosts: deny.iter().map(|r| HostRule::parse(r).unwrap()).collect(),
            ..NetworkPolicy::default()
        }
    }

    fn judge(
        policy: &NetworkPolicy,
        name: Option<&str>,
        port: u16,
        addr: &str,
    ) -> Result<(), String> {
        let target = Target {
            origin: "http://t/",
            name,
            port,
        };
        policy.check_name(target)?;
        policy.check_addrs(target, &[addr.parse().unwrap()])
    }

    #[test]
    fn reserved_addresses_need_an_allow_entry_and_deny_always_wins() {
        let p = policy(
            &[
                "192.168.1.10:8080",
                "10.0.0.0/8",
                "nas.lan",
                "[fd00::1]:443",
            ],
            &["10.9.0.0/16", "evil.example", "8.8.4.4"],
        );
        let table: &[(Option<&str>, u16, &str, bool)] = &[
            (None, 80, "93.184.216.34", true),
            (None, 8080, "192.168.1.10", true),
            (None, 80, "192.168.1.10", false),
            (None, 80, "192.168.1.11", false),
            (None, 1234, "10.3.4.5", true),
            (None, 80, "10.9.0.1", false),
            (Some("nas.lan"), 5000, "192.168.1.50", true),
            (Some("other.lan"), 5000, "192.168.1.50", false),
            (None, 443, "fd00::1", true),
            (None, 80, "fd00::1", false),
            (None, 80, "127.0.0.1", false),
            (None, 80, "169.254.169.254", false),
            (Some("evil.example"), 80, "93.184.216.34", false),
            (None, 53, "8.8.4.4", false),
        ];
        for (name, port, addr, allowed) in table {
            let verdict = judge(&p, *name, *port, addr);
            assert_eq!(
                verdict.is_ok(),
                *allowed,
                "{name:?} {addr}:{port}: {verdict:?}"
            );
        }
    }

    #[test]
    fn allow_private_lifts_the_reserved_rule_but_not_deny_hosts() {
        let mut p = policy(&[], &["10.9.0.0/16"]);
        p.allow_private = true;
        assert!(judge(&p, None, 80, "127.0.0.1").is_ok());
        assert!(judge(&p, None, 80, "10.1.0.1").is_ok());
        assert!(judge(&p, None, 80, "10.9.0.1").is_err());
    }

    #[test]
    fn refusals_name_the_host_the_address_and_the_rule() {
        let p = policy(&["10.0.0.5:8080"], &["evil.example"]);
        let target = Target {
            origin: "http://10.0.0.5/",
            name: None,
            port: 80,
        };
        assert_eq!(
            p.check_addrs(target, &["10.0.0.5".parse().unwrap()])
                .unwrap_err(),
            "http://10.0.0.5/ (10.0.0.5): private address (10.0.0.0/8) not in [tools.network] \
             allow_hosts for port 80"
        );
        let denied = Target {
            origin: "https://evil.example/",
            name: Some("evil.example"),
            port: 443,
        };
        assert_eq!(
            p.check_name(denied).unwrap_err(),
            "https://evil.example/: host evil.example matches [tools.network] deny_hosts entry \
             \"evil.example\""
        );
    }
}
