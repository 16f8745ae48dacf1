//! Generation counters: instead of finding and deleting the cached entries a write affects, a
//! write bumps a counter that is part of those entries' keys (or is checked before they are
//! filled), so the old entries are never read again and age out. Scope counters are striped by a
//! hash of the scope: a fixed amount of memory, and a collision only costs an extra miss.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};

const STRIPES: usize = 1024;

/// A counter per stripe of scopes, one for "any scope", and a reset counter under all of them.
#[derive(Debug)]
pub(crate) struct Generations {
    reset: AtomicU64,
    any: AtomicU64,
    stripes: Box<[AtomicU64]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Generations {
    pub(crate) fn new() -> Self {
        Self {
            reset: AtomicU64::new(0),
            any: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn stripe<S: Hash + ?Sized>(&self, scope: &S) -> &AtomicU64 {
        let index = (self.hasher.hash_one(scope) as usize) % STRIPES;
        &self.stripes[index]
    }

    /// The generation of one scope; changes when it or everything is bumped.
    pub(crate) fn of<S: Hash + ?Sized>(&self, scope: &S) -> u64 {
        self.reset
            .load(Ordering::Acquire)
            .wrapping_add(self.stripe(scope).load(Ordering::Acquire))
    }

    /// The generation of "any scope"; changes on every `bump_any` and `reset`.
    pub(crate) fn any(&self) -> u64 {
        self.reset
            .load(Ordering::Acquire)
            .wrapping_add(self.any.load(Ordering::Acquire))
    }

    pub(crate) fn bump<S: Hash + ?Sized>(&self, scope: &S) {
        self.stripe(scope).fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn bump_any(&self) {
        self.any.fetch_add(1, Ordering::AcqRel);
    }

    /// Changes every generation at once.
    pub(crate) fn reset(&self) {
        self.reset.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_change_their_scope_and_resets_change_all() {
        let g = Generations::new();
        let (a0, b0, any0) = (g.of("a"), g.of("b"), g.any());
        g.bump("a");
        assert!(g.of("a") != a0 && g.of("b") == b0 && g.any() == any0);
        g.bump_any();
        assert!(g.of("b") == b0 && g.any() != any0);
        let (a1, any1) = (g.of("a"), g.any());
        g.reset();
        assert!(g.of("a") != a1 && g.of("b") != b0 && g.any() != any1);
    }
}
