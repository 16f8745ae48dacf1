//! `Secret`: a string that never shows itself. Its `Debug` and `Display` print `[redacted]`, it has
//! no `Serialize` (so it cannot slip into JSON), and its memory is zeroed when it is dropped.

use std::fmt;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// What `Debug` and `Display` print instead of a secret's value.
pub const REDACTED: &str = "[redacted]";

/// A secret value (an API key, a password, a bearer token).
///
/// The only way to read the value is [`Secret::expose`], so every place that handles the plain
/// text is easy to find. `Serialize` is deliberately not implemented; `Deserialize` is, so typed
/// configs can hold secrets.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The plain text. Keep the borrow short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(Zeroizing::new(value))
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let secret = Secret::from("sk-or-v1-very-secret".to_owned());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose(), "sk-or-v1-very-secret");
    }

    #[test]
    fn redacted_inside_derived_debug() {
        #[derive(Debug)]
        struct Settings {
            api_key: Secret,
        }
        let settings = Settings {
            api_key: Secret::from("hunter2"),
        };
        let shown = format!("{settings:?} {settings:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(settings.api_key.expose(), "hunter2");
    }

    #[test]
    fn deserializes_from_a_string() -> anyhow::Result<()> {
        let secret: Secret = serde_json::from_str("\"p4ss\"")?;
        assert_eq!(secret.expose(), "p4ss");
        assert!(!secret.is_empty());
        assert!(Secret::default().is_empty());
        Ok(())
    }

    /// Compiles only while `Secret` does not implement `Serialize`: with the impl, the type of
    /// `_A` below becomes ambiguous between the two blanket impls.
    #[test]
    fn secret_has_no_serialize() {
        trait AmbiguousIfSerialize<A> {
            fn probe() -> bool {
                true
            }
        }
        impl<T: ?Sized> AmbiguousIfSerialize<()> for T {}
        struct IsSerialize;
        impl<T: ?Sized + serde::Serialize> AmbiguousIfSerialize<IsSerialize> for T {}

        assert!(<Secret as AmbiguousIfSerialize<_>>::probe());
        // The probe itself distinguishes: `String` is `Serialize`, so only an explicit choice
        // compiles for it.
        assert!(<String as AmbiguousIfSerialize<IsSerialize>>::probe());
    }
}
