//! Tools for the unit tests of the registry and the runner.

use crate::{CallContext, Permission, Tool, ToolError};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use std::time::Duration;

/// Echoes its text, optionally repeated, after an optional sleep; "fail" fails.
#[derive(Debug)]
pub(crate) struct Echo;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EchoArgs {
    text: String,
    #[serde(default)]
    repeat: Option<usize>,
    #[serde(default)]
    sleep_ms: Option<u64>,
}

#[async_trait]
impl Tool for Echo {
    type Args = EchoArgs;
    fn name(&self) -> &'static str {
        "echo"
    }
    fn description(&self) -> &'static str {
        "Echoes text"
    }
    fn default_permission(&self) -> Permission {
        Permission::Allow
    }
    async fn call(&self, args: EchoArgs, _context: &CallContext) -> Result<String, ToolError> {
        if let Some(ms) = args.sleep_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if args.text == "fail" {
            return Err(ToolError::Failed("asked to fail".into()));
        }
        Ok(args.text.repeat(args.repeat.unwrap_or(1)))
    }
}
