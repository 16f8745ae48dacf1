//! The outbound network guard: every URL a tool takes from its arguments, and every redirect
//! from one, is parsed as browsers parse it, resolved once, and refused when an address is
//! reserved (loopback, private, link-local, cloud metadata, CGNAT, unique-local, multicast,
//! documentation, IPv4-embedding IPv6 forms...) unless `[tools.network]` allows it, or denied
//! outright by `deny_hosts`. The `GuardedClient` then connects to exactly the addresses that
//! were checked.
//!
//! `rule` (`HostRule`), `classify` (reserved blocks), `policy` (`NetworkPolicy`), `resolve`
//! (`Resolver`), `guard` (`NetworkGuard`), `client` (`GuardedClient`), `body` (limits on the
//! body).

mod body;
mod classify;
mod client;
mod guard;
mod policy;
mod resolve;
mod rule;

pub use body::Cut;
pub use classify::{classify, Cidr, Reserved, ReservedRange};
pub use client::{GuardedClient, WebError, WebRequest, WebResponse};
pub use guard::{origin, CheckedTarget, GuardError, NetworkGuard};
pub use policy::{NetworkLimits, NetworkPolicy};
pub use resolve::{MapResolver, ResolveError, Resolver, SystemResolver};
pub use rule::{HostPattern, HostRule, HostRuleError};
