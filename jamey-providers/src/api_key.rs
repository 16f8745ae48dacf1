//! `ApiKey`: the provider's bearer token, which never prints and is zeroed on drop.

use std::fmt;

use zeroize::Zeroizing;

/// An API key. `Debug` and `Display` print `[redacted]`; read it with [`ApiKey::expose`].
#[derive(Clone)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// Wraps a key.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The plain text, for the `Authorization` header only. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is the empty string (treated as "no key").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let key = ApiKey::new("sk-or-v1-secret");
        assert_eq!(format!("{key} {key:?}"), "[redacted] [redacted]");
        assert_eq!(key.expose(), "sk-or-v1-secret");
    }
}
