//! `NetworkGuard`: decides whether a URL may be fetched. It parses the URL the way browsers do
//! (WHATWG: `2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`, IDN and percent-encoded hosts all
//! become one normal host), refuses schemes other than http(s), resolves host names once, and
//! checks every address against the policy. The addresses it returns are the only ones the
//! client connects to.

use super::policy::Target;
use super::{NetworkPolicy, ResolveError, Resolver, SystemResolver};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use url::Url;

/// Why the guard did not hand out a target.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GuardError {
    /// The text is not an absolute URL.
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    /// A rule refused it; the text names the host, the address and the rule.
    #[error("{0}")]
    Refused(String),
    /// The host name did not resolve.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}

/// A URL that passed the guard, with the addresses it was checked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTarget {
    pub url: Url,
    /// The host as the URL's authority has it (`example.com`, `127.0.0.1`, `[::1]`).
    pub host: String,
    pub port: u16,
    /// Every address the host resolved to; each passed the policy.
    pub addrs: Vec<IpAddr>,
    /// Whether the host is a name (the client pins it to `addrs`) rather than an IP literal.
    pub is_name: bool,
}

/// The policy and the resolver it resolves with.
#[derive(Debug, Clone)]
pub struct NetworkGuard {
    policy: Arc<NetworkPolicy>,
    resolver: Arc<dyn Resolver>,
}

impl NetworkGuard {
    /// A guard resolving through the operating system.
    pub fn new(policy: NetworkPolicy) -> Self {
        Self::with_resolver(policy, Arc::new(SystemResolver))
    }

    /// A guard resolving through `resolver`.
    pub fn with_resolver(policy: NetworkPolicy, resolver: Arc<dyn Resolver>) -> Self {
        Self {
            policy: Arc::new(policy),
            resolver,
        }
    }

    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// Parses `text` as an absolute URL and checks it.
    pub async fn check_str(&self, text: &str) -> Result<CheckedTarget, GuardError> {
        let url = Url::parse(text.trim()).map_err(|e| GuardError::InvalidUrl(e.to_string()))?;
        self.check(url).await
    }

    /// Checks a parsed URL: its scheme, its host name against `deny_hosts`, then every address
    /// it resolves to.
    pub async fn check(&self, url: Url) -> Result<CheckedTarget, GuardError> {
        let origin = origin(&url);
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GuardError::Refused(format!(
                "{origin}: scheme \"{}\" is not allowed; only http and https are",
                url.scheme()
            )));
        }
        let (port, host) = match (url.port_or_known_default(), url.host()) {
            (Some(port), Some(host)) => (port, host.to_owned()),
            _ => return Err(GuardError::InvalidUrl(format!("{origin} has no host"))),
        };
        let (name, literal) = match &host {
            url::Host::Domain(domain) => {
                let name = domain.trim_end_matches('.');
                if name.is_empty() {
                    return Err(GuardError::InvalidUrl(format!("{origin} has no host")));
                }
                (Some(name.to_string()), None)
            }
            url::Host::Ipv4(ip) => (None, Some(IpAddr::V4(*ip))),
            url::Host::Ipv6(ip) => (None, Some(IpAddr::V6(*ip))),
        };
        let target = Target {
            origin: &origin,
            name: name.as_deref(),
            port,
        };
        self.policy
            .check_name(target)
            .map_err(GuardError::Refused)?;
        let addrs = match (&name, literal) {
            (_, Some(ip)) => vec![ip],
            (Some(name), None) if is_localhost(name) => vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
            (Some(name), None) => self.resolver.resolve(name, port).await?,
            (None, None) => Vec::new(),
        };
        if addrs.is_empty() {
            return Err(GuardError::Resolve(ResolveError {
                host: name.unwrap_or_default(),
                reason: "no addresses".into(),
            }));
        }
        self.policy
            .check_addrs(target, &addrs)
            .map_err(GuardError::Refused)?;
        Ok(CheckedTarget {
            host: url.host_str().unwrap_or_default().to_string(),
            is_name: name.is_some(),
            url,
            port,
            addrs,
        })
    }
}

/// `localhost` and its subdomains are loopback by definition (RFC 6761); they are not asked of
/// a resolver that might say otherwise.
fn is_localhost(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

/// `scheme://host[:port]/` for messages and logs: no userinfo, path or query, which may hold
/// secrets.
pub fn origin(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}/", url.scheme()),
        (Some(host), None) => format!("{}://{host}/", url.scheme()),
        (None, _) => format!("{}:", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{HostRule, MapResolver};

    fn guard(allow: &[&str], resolver: MapResolver) -> NetworkGuard {
        let policy = NetworkPolicy {
            allow_hosts: allow.iter().map(|r| HostRule::parse(r).unwrap()).collect(),
            ..NetworkPolicy::default()
        };
        NetworkGuard::with_resolver(policy, Arc::new(resolver))
    }

    #[tokio::test]
    async fn every_spelling_of_a_loopback_address_is_refused() {
        let guard = guard(&[], MapResolver::new());
        let spellings = [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://127.1/",
            "http://127.0.1/",
            "http://127.000.000.001/",
            "http://127.0.0.1./",
            "http://%31%32%37.0.0.1/",
            "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
            "http://[::1]/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::127.0.0.1]/",
            "http://[2002:7f00:1::]/",
            "http://0.0.0.0/",
            "http://0/",
            "http://[::]/",
            "http://localhost/",
            "http://localhost./",
            "http://LOCALHOST/",
            "http://LocalHost.:8080/",
            "http://api.localhost/",
            "http://\u{24db}ocalhost/",
            "http://user:secret@127.0.0.1/",
            "http://example.com@127.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
            "http://0xa9fea9fe/",
        ];
        for spelling in spellings {
            match guard.check_str(spelling).await {
                Err(GuardError::Refused(text)) => {
                    assert!(
                        text.contains("not in [tools.network] allow_hosts"),
                        "{text}"
                    );
                    assert!(!text.contains("secret"), "{text}");
                }
                other => panic!("{spelling}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn names_resolve_once_and_every_address_must_pass() {
        let resolver = MapResolver::new()
            .with("public.example", vec!["10.0.0.5".parse().unwrap()])
            .with(
                "mixed.example",
                vec![
                    "93.184.216.34".parse().unwrap(),
                    "127.0.0.1".parse().unwrap(),
                ],
            )
            .with("ok.example", vec!["93.184.216.34".parse().unwrap()]);
        let guard = guard(&[], resolver);
        let refused = guard.check_str("http://public.example/x?token=1").await;
        assert_eq!(
            refused,
            Err(GuardError::Refused(
                "http://public.example/ (10.0.0.5): private address (10.0.0.0/8) not in \
                 [tools.network] allow_hosts"
                    .into()
            ))
        );
        assert!(matches!(
            guard.check_str("http://mixed.example/").await,
            Err(GuardError::Refused(text)) if text.contains("(127.0.0.1)")
        ));
        let ok = guard.check_str("https://OK.example./a").await.unwrap();
        assert_eq!(ok.addrs, vec!["93.184.216.34".parse::<IpAddr>().unwrap()]);
        assert_eq!((ok.port, ok.is_name), (443, true));
        assert!(matches!(
            guard.check_str("http://nowhere.example/").await,
            Err(GuardError::Resolve(_))
        ));
    }

    #[tokio::test]
    async fn other_schemes_are_refused() {
        let guard = guard(&[], MapResolver::new());
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/",
            "gopher://example.com:70/",
            "data:text/plain,hi",
            "javascript:alert(1)",
            "ws://example.com/",
        ] {
            match guard.check_str(url).await {
                Err(GuardError::Refused(text)) => assert!(text.contains("scheme"), "{text}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        assert!(matches!(
            guard.check_str("not a url").await,
            Err(GuardError::InvalidUrl(_))
        ));
    }
}
