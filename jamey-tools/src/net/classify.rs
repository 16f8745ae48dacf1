//! The address classifier: which IP addresses are not public Internet hosts (loopback, private,
//! link-local, cloud metadata, CGNAT, unique-local, multicast, documentation, reserved, and the
//! IPv6 forms that embed an IPv4 address of one of those kinds). The guard refuses them unless
//! `[tools.network]` lets them through.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A block of addresses: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `None` when the prefix is longer than the address (33 for IPv4, 129 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// Whether `ip` lies in the block. An IPv4 block never contains an IPv6 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_match(
                u128::from(u32::from(net)),
                u128::from(u32::from(ip)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_match(u128::from(net), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }

    /// Whether the address given had bits set beyond the prefix (`10.0.0.1/8`).
    pub fn has_host_bits(&self) -> bool {
        !self.contains_exactly_network()
    }

    fn contains_exactly_network(&self) -> bool {
        let (value, width) = match self.addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        };
        match width - u32::from(self.prefix) {
            0 => true,
            128 => value == 0,
            host_bits => value & ((1u128 << host_bits) - 1) == 0,
        }
    }
}

fn prefix_match(net: u128, ip: u128, width: u32, prefix: u8) -> bool {
    let host_bits = width - u32::from(prefix);
    if host_bits >= 128 {
        return true;
    }
    (net >> host_bits) == (ip >> host_bits)
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A kind of address that is not a public Internet host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedRange {
    /// What the block is, e.g. `private address`.
    pub kind: &'static str,
    /// The block, as written in the registries, e.g. `10.0.0.0/8`.
    pub block: &'static str,
}

/// Why an address is not public: its own block, or (for NAT64 and 6to4 forms) the block of the
/// IPv4 address it embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// The address itself lies in a reserved block.
    Range(ReservedRange),
    /// An IPv6 form (`form`, `form_block`) that carries an IPv4 address of a reserved kind.
    Embedded {
        form: &'static str,
        form_block: &'static str,
        v4: Ipv4Addr,
        range: ReservedRange,
    },
}

impl Reserved {
    /// The block named in a refusal.
    pub fn block(&self) -> &'static str {
        match self {
            Self::Range(range) => range.block,
            Self::Embedded { form_block, .. } => form_block,
        }
    }
}

impl fmt::Display for Reserved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Range(range) => write!(f, "{} ({})", range.kind, range.block),
            Self::Embedded {
                form,
                form_block,
                v4,
                range,
            } => write!(
                f,
                "{form} ({form_block}) embedding {v4}, a {} ({})",
                range.kind, range.block
            ),
        }
    }
}

const fn range(kind: &'static str, block: &'static str) -> ReservedRange {
    ReservedRange { kind, block }
}

/// IPv4 blocks, most specific first (the metadata address before link-local, broadcast before
/// reserved).
const V4: &[(u32, u8, ReservedRange)] = &[
    (
        0xa9fe_a9fe,
        32,
        range("cloud metadata address", "169.254.169.254/32"),
    ),
    (
        0xffff_ffff,
        32,
        range("broadcast address", "255.255.255.255/32"),
    ),
    (0x0000_0000, 32, range("unspecified address", "0.0.0.0/32")),
    (
        0x0000_0000,
        8,
        range("\"this network\" address", "0.0.0.0/8"),
    ),
    (0x0a00_0000, 8, range("private address", "10.0.0.0/8")),
    (
        0x6440_0000,
        10,
        range("shared (CGNAT) address", "100.64.0.0/10"),
    ),
    (0x7f00_0000, 8, range("loopback address", "127.0.0.0/8")),
    (
        0xa9fe_0000,
        16,
        range("link-local address", "169.254.0.0/16"),
    ),
    (0xac10_0000, 12, range("private address", "172.16.0.0/12")),
    (
        0xc000_0000,
        24,
        range("IETF protocol assignment", "192.0.0.0/24"),
    ),
    (
        0xc000_0200,
        24,
        range("documentation address", "192.0.2.0/24"),
    ),
    (
        0xc058_6300,
        24,
        range("6to4 relay anycast address", "192.88.99.0/24"),
    ),
    (0xc0a8_0000, 16, range("private address", "192.168.0.0/16")),
    (
        0xc612_0000,
        15,
        range("benchmarking address", "198.18.0.0/15"),
    ),
    (
        0xc633_6400,
        24,
        range("documentation address", "198.51.100.0/24"),
    ),
    (
        0xcb00_7100,
        24,
        range("documentation address", "203.0.113.0/24"),
    ),
    (0xe000_0000, 4, range("multicast address", "224.0.0.0/4")),
    (0xf000_0000, 4, range("reserved address", "240.0.0.0/4")),
];

/// IPv6 blocks that are reserved whatever they carry.
const V6: &[(u128, u8, ReservedRange)] = &[
    (0, 128, range("unspecified address", "::/128")),
    (1, 128, range("loopback address", "::1/128")),
    (
        0xfd00_0ec2_0000_0000_0000_0000_0000_0254,
        128,
        range("cloud metadata address", "fd00:ec2::254/128"),
    ),
    (
        0xffff_0000_0000,
        96,
        range("IPv4-mapped IPv6 address", "::ffff:0:0/96"),
    ),
    (0, 96, range("IPv4-compatible IPv6 address", "::/96")),
    (
        0x0064_ff9b_0001_0000_0000_0000_0000_0000,
        48,
        range("local-use NAT64 address", "64:ff9b:1::/48"),
    ),
    (
        0x0100_0000_0000_0000_0000_0000_0000_0000,
        64,
        range("discard-only address", "100::/64"),
    ),
    (
        0x2001_0002_0000_0000_0000_0000_0000_0000,
        48,
        range("benchmarking address", "2001:2::/48"),
    ),
    (
        0x2001_0db8_0000_0000_0000_0000_0000_0000,
        32,
        range("documentation address", "2001:db8::/32"),
    ),
    (
        0x3fff_0000_0000_0000_0000_0000_0000_0000,
        20,
        range("documentation address", "3fff::/20"),
    ),
    (
        0xfc00_0000_0000_0000_0000_0000_0000_0000,
        7,
        range("unique-local address", "fc00::/7"),
    ),
    (
        0xfe80_0000_0000_0000_0000_0000_0000_0000,
        10,
        range("link-local address", "fe80::/10"),
    ),
    (
        0xfec0_0000_0000_0000_0000_0000_0000_0000,
        10,
        range("site-local address", "fec0::/10"),
    ),
    (
        0xff00_0000_0000_0000_0000_0000_0000_0000,
        8,
        range("multicast address", "ff00::/8"),
    ),
];

/// Why `ip` is not a public Internet host, or `None` when it is one.
pub fn classify(ip: IpAddr) -> Option<Reserved> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4).map(Reserved::Range),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<ReservedRange> {
    let bits = u128::from(u32::from(ip));
    V4.iter()
        .find(|(net, prefix, _)| prefix_match(u128::from(*net), bits, 32, *prefix))
        .map(|(_, _, range)| *range)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Reserved> {
    let bits = u128::from(ip);
    // A NAT64 or 6to4 address of a public IPv4 host is a public route; one that carries a
    // private IPv4 address reaches that address through a translator.
    let embedded = if prefix_match(0x0064_ff9bu128 << 96, bits, 128, 96) {
        Some(("NAT64 address", "64:ff9b::/96", Ipv4Addr::from(bits as u32)))
    } else if prefix_match(0x2002u128 << 112, bits, 128, 16) {
        Some((
            "6to4 address",
            "2002::/16",
            Ipv4Addr::from((bits >> 80) as u32),
        ))
    } else {
        None
    };
    if let Some((form, form_block, v4)) = embedded {
        return classify_v4(v4).map(|range| Reserved::Embedded {
            form,
            form_block,
            v4,
            range,
        });
    }
    V6.iter()
        .find(|(net, prefix, _)| prefix_match(*net, bits, 128, *prefix))
        .map(|(_, _, range)| Reserved::Range(*range))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str) -> Option<&'static str> {
        classify(text.parse().unwrap()).map(|r| r.block())
    }

    #[test]
    fn every_reserved_kind_is_caught_and_public_addresses_pass() {
        let table: &[(&str, Option<&str>)] = &[
            ("127.0.0.1", Some("127.0.0.0/8")),
            ("127.255.255.254", Some("127.0.0.0/8")),
            ("10.0.0.5", Some("10.0.0.0/8")),
            ("172.16.0.1", Some("172.16.0.0/12")),
            ("172.31.255.255", Some("172.16.0.0/12")),
            ("172.32.0.1", None),
            ("192.168.1.10", Some("192.168.0.0/16")),
            ("169.254.169.254", Some("169.254.169.254/32")),
            ("169.254.1.1", Some("169.254.0.0/16")),
            ("100.64.0.1", Some("100.64.0.0/10")),
            ("100.127.255.255", Some("100.64.0.0/10")),
            ("100.128.0.1", None),
            ("0.0.0.0", Some("0.0.0.0/32")),
            ("0.1.2.3", Some("0.0.0.0/8")),
            ("255.255.255.255", Some("255.255.255.255/32")),
            ("240.0.0.1", Some("240.0.0.0/4")),
            ("224.0.0.251", Some("224.0.0.0/4")),
            ("192.0.0.192", Some("192.0.0.0/24")),
            ("192.0.2.1", Some("192.0.2.0/24")),
            ("198.51.100.7", Some("198.51.100.0/24")),
            ("203.0.113.9", Some("203.0.113.0/24")),
            ("198.18.0.1", Some("198.18.0.0/15")),
            ("198.19.255.255", Some("198.18.0.0/15")),
            ("198.20.0.1", None),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("::", Some("::/128")),
            ("::1", Some("::1/128")),
            ("::ffff:127.0.0.1", Some("::ffff:0:0/96")),
            ("::ffff:7f00:1", Some("::ffff:0:0/96")),
            ("::ffff:8.8.8.8", Some("::ffff:0:0/96")),
            ("::127.0.0.1", Some("::/96")),
            ("64:ff9b::7f00:1", Some("64:ff9b::/96")),
            ("64:ff9b::a9fe:a9fe", Some("64:ff9b::/96")),
            ("64:ff9b::808:808", None),
            ("64:ff9b:1::1", Some("64:ff9b:1::/48")),
            ("2002:7f00:1::", Some("2002::/16")),
            ("2002:c0a8:101::1", Some("2002::/16")),
            ("2002:808:808::1", None),
            ("fd00:ec2::254", Some("fd00:ec2::254/128")),
            ("fd12:3456::1", Some("fc00::/7")),
            ("fc00::1", Some("fc00::/7")),
            ("fe80::1", Some("fe80::/10")),
            ("fec0::1", Some("fec0::/10")),
            ("ff02::1", Some("ff00::/8")),
            ("2001:db8::1", Some("2001:db8::/32")),
            ("3fff::1", Some("3fff::/20")),
            ("2001:2::1", Some("2001:2::/48")),
            ("100::1", Some("100::/64")),
            ("2606:4700:4700::1111", None),
            ("2001:4860:4860::8888", None),
        ];
        for (addr, expected) in table {
            assert_eq!(block(addr), *expected, "{addr}");
        }
    }

    #[test]
    fn refusal_text_names_the_kind_and_the_block() {
        let reserved = classify("10.0.0.5".parse().unwrap()).unwrap();
        assert_eq!(reserved.to_string(), "private address (10.0.0.0/8)");
        let embedded = classify("64:ff9b::a00:5".parse().unwrap()).unwrap();
        assert_eq!(
            embedded.to_string(),
            "NAT64 address (64:ff9b::/96) embedding 10.0.0.5, a private address (10.0.0.0/8)"
        );
    }

    #[test]
    fn cidr_blocks_contain_their_addresses_only() {
        let net = Cidr::new("10.1.0.0".parse().unwrap(), 16).unwrap();
        assert!(net.contains("10.1.255.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("::ffff:10.1.0.1".parse().unwrap()));
        let all = Cidr::new("::".parse().unwrap(), 0).unwrap();
        assert!(all.contains("2001:db8::1".parse().unwrap()));
        assert!(Cidr::new("10.0.0.0".parse().unwrap(), 33).is_none());
        assert!(Cidr::new("10.0.0.1".parse().unwrap(), 8)
            .unwrap()
            .has_host_bits());
        assert!(!Cidr::new("10.0.0.0".parse().unwrap(), 8)
            .unwrap()
            .has_host_bits());
    }
}
