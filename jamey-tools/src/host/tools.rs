//! The host tools on the host functions: `system_info`, `process_list`, `process_kill`
//! (`ask`), and `config_get` (the effective configuration with secrets masked, the seed's
//! "registry access" on this platform). What the runtime knows of itself comes in through a
//! closure, so these tools read the live values.

use super::{kill_process, list_processes, system_info, KillRules, ProcessQuery, RuntimeFacts};
use crate::{CallContext, Permission, Tool, ToolError};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use std::sync::Arc;

/// Reads what the runtime says about itself now.
pub type FactsSource = Arc<dyn Fn() -> RuntimeFacts + Send + Sync>;
/// Reads the effective configuration, secrets already masked.
pub type ConfigSource = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

fn json(value: &impl serde::Serialize) -> Result<String, ToolError> {
    serde_json::to_string(value).map_err(|e| ToolError::Failed(e.to_string()))
}

/// `system_info`.
#[derive(Clone)]
pub struct SystemInfoTool {
    facts: FactsSource,
}

impl SystemInfoTool {
    pub fn new(facts: FactsSource) -> Self {
        Self { facts }
    }
}

impl std::fmt::Debug for SystemInfoTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemInfoTool")
    }
}

#[async_trait]
impl Tool for SystemInfoTool {
    type Args = NoArgs;

    fn name(&self) -> &'static str {
        "system_info"
    }

    fn description(&self) -> &'static str {
        "The machine the twin runs on: OS, CPUs and load, memory, and the runtime's version, \
         uptime, memory use, store and embedding model."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, _args: NoArgs, _context: &CallContext) -> Result<String, ToolError> {
        json(&system_info((self.facts)()).await?)
    }
}

/// `process_list`.
#[derive(Debug, Clone, Default)]
pub struct ProcessListTool;

#[async_trait]
impl Tool for ProcessListTool {
    type Args = ProcessQuery;

    fn name(&self) -> &'static str {
        "process_list"
    }

    fn description(&self) -> &'static str {
        "The host's processes, busiest first: filter by name or user, sort by \"cpu\" or \
         \"memory\", limit how many."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: ProcessQuery, _context: &CallContext) -> Result<String, ToolError> {
        json(&list_processes(args).await?)
    }
}

/// `process_kill`.
#[derive(Debug, Clone, Default)]
pub struct ProcessKillTool {
    rules: KillRules,
}

impl ProcessKillTool {
    pub fn new(rules: KillRules) -> Self {
        Self { rules }
    }
}

/// Arguments of `process_kill`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessKillArgs {
    /// The process id to send SIGTERM to.
    pub pid: u32,
}

#[async_trait]
impl Tool for ProcessKillTool {
    type Args = ProcessKillArgs;

    fn name(&self) -> &'static str {
        "process_kill"
    }

    fn description(&self) -> &'static str {
        "Sends SIGTERM to a process by PID. Never PID 1, never the runtime itself, never \
         another user's process. The user approves each call."
    }

    async fn call(
        &self,
        args: ProcessKillArgs,
        _context: &CallContext,
    ) -> Result<String, ToolError> {
        json(&kill_process(args.pid, self.rules).await?)
    }
}

/// `config_get`.
#[derive(Clone)]
pub struct ConfigGetTool {
    config: ConfigSource,
}

impl ConfigGetTool {
    pub fn new(config: ConfigSource) -> Self {
        Self { config }
    }
}

impl std::fmt::Debug for ConfigGetTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigGetTool")
    }
}

/// Arguments of `config_get`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigGetArgs {
    /// A dotted key (`tools.permissions`, `llm.model`); the whole configuration without it.
    #[serde(default)]
    pub key: Option<String>,
}

#[async_trait]
impl Tool for ConfigGetTool {
    type Args = ConfigGetArgs;

    fn name(&self) -> &'static str {
        "config_get"
    }

    fn description(&self) -> &'static str {
        "The runtime's effective configuration (secrets masked), whole or one dotted key."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: ConfigGetArgs, _context: &CallContext) -> Result<String, ToolError> {
        let config = (self.config)();
        let Some(key) = args.key else {
            return json(&config);
        };
        let mut value = &config;
        for part in key.split('.') {
            value = value.get(part).ok_or_else(|| ToolError::InvalidArguments {
                tool: "config_get".into(),
                field: Some("key".into()),
                reason: format!("the configuration has no key `{key}`"),
            })?;
        }
        json(value)
    }
}
