//! `Environment`: what the process learned from its surroundings before starting (`JAMEY_HOME`,
//! the variables `main` read once, whether stderr is a terminal).

use jamey_core::home::JameyHome;
use std::collections::HashMap;

/// What the process learned from its surroundings before starting.
#[derive(Debug, Clone)]
pub struct Environment {
    pub home: JameyHome,
    /// `JAMEY_*` and provider variables, read once by `main`.
    pub vars: HashMap<String, String>,
    /// Whether stderr is a terminal (pretty logs) or not (JSON logs).
    pub terminal: bool,
}
