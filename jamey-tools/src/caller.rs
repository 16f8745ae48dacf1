//! `Caller`: who asked for an operation. The runtime establishes it (certificate or bearer token);
//! tools and host operations decide by it (only the owner may kill a process).

use std::fmt;

/// The authenticated caller of a request or a tool call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The owner's client certificate.
    Owner,
    /// A tool's client certificate (`jamey cert issue NAME`).
    Certificate(String),
    /// A bearer token (`jamey token create NAME`).
    Token(String),
}

impl Caller {
    /// Whether this is the owner's own certificate.
    pub fn is_owner(&self) -> bool {
        matches!(self, Self::Owner)
    }
}

/// `owner`, `cert:NAME` or `token:NAME`: the key rate limits count under and logs name.
impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Owner => f.write_str("owner"),
            Self::Certificate(name) => write!(f, "cert:{name}"),
            Self::Token(name) => write!(f, "token:{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_display_as_their_rate_keys() {
        assert_eq!(Caller::Owner.to_string(), "owner");
        assert_eq!(Caller::Certificate("ci".into()).to_string(), "cert:ci");
        assert_eq!(Caller::Token("ci".into()).to_string(), "token:ci");
        assert!(Caller::Owner.is_owner());
        assert!(!Caller::Token("owner".into()).is_owner());
    }
}
