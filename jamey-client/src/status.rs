//! The runtime's `/health` and `/ready` answers, read leniently: dependencies are named by the
//! runtime, so each one's details are kept as they come.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /health`: the runtime is alive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub uptime_secs: u64,
}

/// `GET /ready`: whether the runtime can serve, and each dependency's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readiness {
    /// "ready", or "unavailable" when the store does not answer.
    pub status: String,
    #[serde(default)]
    pub dependencies: BTreeMap<String, DependencyState>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// One dependency: its state ("up", "down", "not_configured", ...) and whatever else the
/// runtime reports about it (backend, model; never an error text, which stays in its log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyState {
    pub status: String,
    #[serde(flatten)]
    pub details: BTreeMap<String, serde_json::Value>,
}
