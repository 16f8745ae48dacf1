//! `HostRule`: one entry of `[tools.network] allow_hosts` or `deny_hosts`: a host name (or
//! `*.domain` for its subdomains), an IP address or a CIDR block, each with an optional `:port`.
//! Host names are normalised the way URLs are (WHATWG), so a rule and a URL that name the same
//! host compare equal.

use super::classify::Cidr;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// One allow or deny entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostRule {
    pattern: HostPattern,
    port: Option<u16>,
}

/// What a rule matches, port aside.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// Exactly this host name (lowercase ASCII, no trailing dot).
    Name(String),
    /// Every subdomain of this name (`*.example.com`), not the name itself.
    Subdomains(String),
    /// Exactly this address.
    Ip(IpAddr),
    /// Every address in the block.
    Block(Cidr),
}

/// Why an entry is not a rule. Each variant names the entry as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostRuleError {
    /// Nothing but whitespace.
    #[error("an empty entry")]
    Empty,
    /// The part after the last `:` is not a port from 1 to 65535.
    #[error("{entry:?}: the port must be a number from 1 to 65535")]
    Port { entry: String },
    /// A CIDR whose address or prefix length does not parse, or with bits set past the prefix.
    #[error("{entry:?}: {reason}")]
    Block { entry: String, reason: String },
    /// The host part is neither a host name nor an IP address.
    #[error("{entry:?}: {reason}")]
    Host { entry: String, reason: String },
}

impl HostRule {
    /// Parses `nas.lan`, `nas.lan:8080`, `*.corp.example`, `192.168.1.10:8080`, `fd00::1`,
    /// `[fd00::1]:8080`, `10.0.0.0/8`, `10.0.0.0/8:8080` or `[fd00::/8]:443`.
    pub fn parse(entry: &str) -> Result<Self, HostRuleError> {
        let text = entry.trim();
        if text.is_empty() {
            return Err(HostRuleError::Empty);
        }
        let (host, port) = split_port(text).ok_or_else(|| HostRuleError::Port {
            entry: entry.into(),
        })?;
        let pattern = if let Some((addr, prefix)) = host.split_once('/') {
            HostPattern::Block(parse_block(entry, addr, prefix)?)
        } else if host.contains(':') {
            // A bare IPv6 address (no port: a port needs the brackets).
            let ip = host.parse::<Ipv6Addr>().map_err(|_| HostRuleError::Host {
                entry: entry.into(),
                reason: "not an IPv6 address (write a port as [address]:port)".into(),
            })?;
            HostPattern::Ip(IpAddr::V6(ip))
        } else if let Some(domain) = host.strip_prefix("*.") {
            match parse_host(entry, domain)? {
                HostPattern::Name(name) => HostPattern::Subdomains(name),
                _ => {
                    return Err(HostRuleError::Host {
                        entry: entry.into(),
                        reason: "`*.` goes before a host name, not an address".into(),
                    })
                }
            }
        } else {
            parse_host(entry, host)?
        };
        Ok(Self { pattern, port })
    }

    pub fn pattern(&self) -> &HostPattern {
        &self.pattern
    }

    /// The port the rule is limited to, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether the rule names this host name (normalised: lowercase, no trailing dot).
    pub fn matches_name(&self, name: &str) -> bool {
        match &self.pattern {
            HostPattern::Name(rule) => rule == name,
            HostPattern::Subdomains(domain) => name
                .strip_suffix(domain.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
            HostPattern::Ip(_) | HostPattern::Block(_) => false,
        }
    }

    /// Whether the rule names this address.
    pub fn matches_ip(&self, ip: IpAddr) -> bool {
        match &self.pattern {
            HostPattern::Ip(rule) => *rule == ip,
            HostPattern::Block(block) => block.contains(ip),
            HostPattern::Name(_) | HostPattern::Subdomains(_) => false,
        }
    }

    /// Whether the rule applies to this port (a rule without a port applies to every one).
    pub fn matches_port(&self, port: u16) -> bool {
        self.port.is_none_or(|rule| rule == port)
    }
}

impl std::str::FromStr for HostRule {
    type Err = HostRuleError;

    fn from_str(entry: &str) -> Result<Self, Self::Err> {
        Self::parse(entry)
    }
}

/// The normalised entry: `nas.lan:8080`, `[fd00::1]:443`, `10.0.0.0/8`.
impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v6 = match &self.pattern {
            HostPattern::Ip(ip) => ip.is_ipv6(),
            HostPattern::Block(block) => block.to_string().contains(':'),
            _ => false,
        };
        let host = match &self.pattern {
            HostPattern::Name(name) => name.clone(),
            HostPattern::Subdomains(domain) => format!("*.{domain}"),
            HostPattern::Ip(ip) => ip.to_string(),
            HostPattern::Block(block) => block.to_string(),
        };
        match self.port {
            Some(port) if v6 => write!(f, "[{host}]:{port}"),
            Some(port) => write!(f, "{host}:{port}"),
            None => f.write_str(&host),
        }
    }
}

impl serde::Serialize for HostRule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Splits `host[:port]` and `[v6][:port]`; `None` when a port is there but not valid.
fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(parse_port(after.strip_prefix(':')?)?))),
        };
    }
    match text.rsplit_once(':') {
        // Two or more colons without brackets: a bare IPv6 address or block.
        Some((head, _)) if head.contains(':') => Some((text, None)),
        Some((host, port)) => Some((host, Some(parse_port(port)?))),
        None => Some((text, None)),
    }
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|port| *port != 0)
}

fn parse_block(entry: &str, addr: &str, prefix: &str) -> Result<Cidr, HostRuleError> {
    let bad = |reason: &str| HostRuleError::Block {
        entry: entry.into(),
        reason: reason.into(),
    };
    let ip = addr
        .parse::<IpAddr>()
        .map_err(|_| bad("a CIDR block starts with an IP address, e.g. 10.0.0.0/8"))?;
    let prefix = prefix
        .parse::<u8>()
        .ok()
        .filter(|p| prefix.bytes().all(|b| b.is_ascii_digit()) && !prefix.is_empty() && *p <= 128)
        .ok_or_else(|| bad("the prefix length must be a number (0-32 for IPv4, 0-128 for IPv6)"))?;
    let block = Cidr::new(ip, prefix)
        .ok_or_else(|| bad("the prefix length must be from 0 to 32 for an IPv4 block"))?;
    if block.has_host_bits() {
        return Err(bad("the address has bits set past the prefix length"));
    }
    Ok(block)
}

/// A host name or IPv4 address, through the WHATWG host parser URLs go through.
fn parse_host(entry: &str, host: &str) -> Result<HostPattern, HostRuleError> {
    let bad = |reason: String| HostRuleError::Host {
        entry: entry.into(),
        reason,
    };
    match url::Host::parse(host) {
        Ok(url::Host::Domain(name)) => {
            let name = name.strip_suffix('.').unwrap_or(&name).to_string();
            let valid = !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            if !valid {
                return Err(bad(
                    "not a host name: use letters, digits, `-` and `_` in dot-separated labels"
                        .into(),
                ));
            }
            Ok(HostPattern::Name(name))
        }
        Ok(url::Host::Ipv4(ip)) => Ok(HostPattern::Ip(IpAddr::V4(ip))),
        Ok(url::Host::Ipv6(ip)) => Ok(HostPattern::Ip(IpAddr::V6(ip))),
        Err(e) => Err(bad(format!("not a host name or IP address ({e})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_into_their_normal_form() {
        let table: &[(&str, &str)] = &[
            ("nas.lan", "nas.lan"),
            ("NAS.Lan.", "nas.lan"),
            ("nas.lan:8080", "nas.lan:8080"),
            ("*.corp.example", "*.corp.example"),
            ("*.corp.example:443", "*.corp.example:443"),
            ("192.168.1.10", "192.168.1.10"),
            ("192.168.1.10:8080", "192.168.1.10:8080"),
            ("127.1", "127.0.0.1"),
            ("0x7f.1:9000", "127.0.0.1:9000"),
            ("fd00::1", "fd00::1"),
            ("[fd00::1]", "fd00::1"),
            ("[fd00::1]:8080", "[fd00::1]:8080"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.0.0.0/8:8080", "10.0.0.0/8:8080"),
            ("fd00::/8", "fd00::/8"),
            ("[fd00::/8]:443", "[fd00::/8]:443"),
            (" localhost ", "localhost"),
            ("bücher.example", "xn--bcher-kva.example"),
        ];
        for (entry, normal) in table {
            let rule = HostRule::parse(entry).unwrap_or_else(|e| panic!("{entry}: {e}"));
            assert_eq!(rule.to_string(), *normal, "{entry}");
        }
    }

    #[test]
    fn bad_entries_are_typed_errors_that_name_the_entry() {
        let table: &[(&str, &str)] = &[
            ("", "empty"),
            ("nas.lan:0", "port"),
            ("nas.lan:70000", "port"),
            ("nas.lan:", "port"),
            ("nas.lan:http", "port"),
            ("[fd00::1]8080", "port"),
            ("10.0.0.0/33", "block"),
            ("10.0.0.1/8", "block"),
            ("10.0.0.0/x", "block"),
            ("nas/8", "block"),
            ("fd00::zz", "host"),
            ("*.10.0.0.1", "host"),
            ("a b.example", "host"),
            ("a..b", "host"),
            ("http://nas.lan", "port"),
        ];
        for (entry, kind) in table {
            let err = HostRule::parse(entry).expect_err(entry);
            let actual = match &err {
                HostRuleError::Empty => "empty",
                HostRuleError::Port { .. } => "port",
                HostRuleError::Block { .. } => "block",
                HostRuleError::Host { .. } => "host",
            };
            assert_eq!(actual, *kind, "{entry}: {err}");
            if !entry.is_empty() {
                assert!(err.to_string().contains(&format!("{entry:?}")), "{err}");
            }
        }
    }

    #[test]
    fn rules_match_names_addresses_and_ports() {
        let name = HostRule::parse("nas.lan:8080").unwrap();
        assert!(name.matches_name("nas.lan") && name.matches_port(8080));
        assert!(!name.matches_port(80) && !name.matches_name("x.nas.lan"));
        let subdomains = HostRule::parse("*.corp.example").unwrap();
        assert!(subdomains.matches_name("git.corp.example"));
        assert!(subdomains.matches_name("a.b.corp.example"));
        assert!(!subdomains.matches_name("corp.example"));
        assert!(!subdomains.matches_name("evilcorp.example"));
        let block = HostRule::parse("192.168.0.0/16").unwrap();
        assert!(block.matches_ip("192.168.7.7".parse().unwrap()) && block.matches_port(1));
        assert!(!block.matches_ip("10.0.0.1".parse().unwrap()));
        assert!(!block.matches_name("192.168.7.7"));
        let ip = HostRule::parse("[::1]:9000").unwrap();
        assert!(ip.matches_ip("::1".parse().unwrap()) && ip.matches_port(9000));
        assert!(!ip.matches_port(9001));
    }
}
