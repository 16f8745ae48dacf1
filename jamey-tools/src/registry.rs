//! `ToolRegistry`: the tools the twin has, their JSON Schemas, a permission per tool, and the
//! execution of the model's calls: arguments validated first, calls run concurrently, each
//! within a timeout and an output limit. A failed call becomes an error result for the model.

use crate::{Tool, ToolError};
use async_trait::async_trait;
use jamey_protocol::{ToolCall, ToolDescription};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Whether the twin may run a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Runs when the model calls it.
    Allow,
    /// Needs the user's approval per call. The HTTP turn has no way to ask, so such a call is
    /// answered with an error telling the model to ask the user.
    Ask,
    /// Never offered to the model, and refused if called anyway.
    Deny,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Ask => "ask",
            Self::Deny => "deny",
        }
    }
}

impl std::str::FromStr for Permission {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Self::Allow),
            "ask" => Ok(Self::Ask),
            "deny" => Ok(Self::Deny),
            other => Err(format!("`{other}` is not allow, ask or deny")),
        }
    }
}

/// Bounds on one tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolLimits {
    pub timeout: Duration,
    /// Longer output is cut (at a character boundary) and marked as cut.
    pub max_output_bytes: usize,
}

impl Default for ToolLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_output_bytes: 16 * 1024,
        }
    }
}

/// The result of one call, as the model and the client see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallOutcome {
    pub id: String,
    pub name: String,
    pub arguments: String,
    pub output: String,
    pub is_error: bool,
}

/// A tool behind its type: arguments arrive as JSON text.
#[async_trait]
trait ErasedTool: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn parameters(&self) -> serde_json::Value;
    async fn call_json(&self, arguments: &str) -> Result<String, ToolError>;
}

#[async_trait]
impl<T: Tool> ErasedTool for T {
    fn name(&self) -> &'static str {
        Tool::name(self)
    }

    fn description(&self) -> &'static str {
        Tool::description(self)
    }

    fn parameters(&self) -> serde_json::Value {
        let mut schema = schemars::schema_for!(T::Args).to_value();
        if let Some(object) = schema.as_object_mut() {
            object.remove("$schema");
            object.remove("title");
        }
        schema
    }

    async fn call_json(&self, arguments: &str) -> Result<String, ToolError> {
        // Models send "" for a call without arguments.
        let text = if arguments.trim().is_empty() {
            "{}"
        } else {
            arguments
        };
        let args: T::Args =
            serde_json::from_str(text).map_err(|e| ToolError::InvalidArguments {
                tool: Tool::name(self).into(),
                reason: e.to_string(),
            })?;
        self.call(args).await
    }
}

/// The tools, their permissions and the limits every call runs under.
#[derive(Debug, Clone)]
pub struct ToolRegistry {
    tools: BTreeMap<&'static str, Arc<dyn ErasedTool>>,
    permissions: HashMap<String, Permission>,
    limits: ToolLimits,
}

impl ToolRegistry {
    pub fn new(limits: ToolLimits) -> Self {
        Self {
            tools: BTreeMap::new(),
            permissions: HashMap::new(),
            limits,
        }
    }

    /// Adds a tool, allowed unless a permission says otherwise.
    pub fn register<T: Tool>(&mut self, tool: T) -> &mut Self {
        self.tools.insert(Tool::name(&tool), Arc::new(tool));
        self
    }

    pub fn set_permission(&mut self, tool: impl Into<String>, permission: Permission) {
        self.permissions.insert(tool.into(), permission);
    }

    pub fn permission(&self, tool: &str) -> Permission {
        self.permissions
            .get(tool)
            .copied()
            .unwrap_or(Permission::Allow)
    }

    pub fn limits(&self) -> ToolLimits {
        self.limits
    }

    /// Every registered tool with its schema and permission (`GET /v1/tools`).
    pub fn describe(&self) -> Vec<ToolDescription> {
        self.tools
            .values()
            .map(|tool| ToolDescription {
                name: tool.name().into(),
                description: tool.description().into(),
                parameters: tool.parameters(),
                permission: self.permission(tool.name()).as_str().into(),
            })
            .collect()
    }

    /// The tools offered to the model: all but the denied ones.
    pub fn offered(&self) -> Vec<ToolDescription> {
        self.describe()
            .into_iter()
            .filter(|t| t.permission != Permission::Deny.as_str())
            .collect()
    }

    /// Runs one call; never fails: a problem becomes an error outcome for the model.
    pub async fn call(&self, call: &ToolCall) -> ToolCallOutcome {
        let span = tracing::info_span!("tool", name = %call.name, id = %call.id);
        let result = self.run(call).instrument(span.clone()).await;
        let (output, is_error) = match result {
            Ok(output) => (self.cap(output), false),
            Err(error) => {
                span.in_scope(|| tracing::info!(%error, "tool call failed"));
                (error.to_string(), true)
            }
        };
        ToolCallOutcome {
            id: call.id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
            output,
            is_error,
        }
    }

    /// Runs calls concurrently; outcomes in the order of `calls`.
    pub async fn call_all(&self, calls: &[ToolCall]) -> Vec<ToolCallOutcome> {
        futures::future::join_all(calls.iter().map(|call| self.call(call))).await
    }

    async fn run(&self, call: &ToolCall) -> Result<String, ToolError> {
        let tool = self
            .tools
            .get(call.name.as_str())
            .ok_or_else(|| ToolError::UnknownTool(call.name.clone()))?;
        match self.permission(&call.name) {
            Permission::Allow => {}
            Permission::Ask => return Err(ToolError::NeedsApproval(call.name.clone())),
            Permission::Deny => return Err(ToolError::Denied(call.name.clone())),
        }
        tokio::time::timeout(self.limits.timeout, tool.call_json(&call.arguments))
            .await
            .map_err(|_| ToolError::Timeout {
                tool: call.name.clone(),
                seconds: self.limits.timeout.as_secs(),
            })?
    }

    fn cap(&self, mut output: String) -> String {
        let max = self.limits.max_output_bytes;
        if output.len() <= max {
            return output;
        }
        let mut end = max;
        while !output.is_char_boundary(end) {
            end -= 1;
        }
        let total = output.len();
        output.truncate(end);
        output.push_str(&format!("\n[output cut at {end} of {total} bytes]"));
        output
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use schemars::JsonSchema;
    use serde::Deserialize;

    #[derive(Debug)]
    struct Echo;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct EchoArgs {
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
        async fn call(&self, args: EchoArgs) -> Result<String, ToolError> {
            if let Some(ms) = args.sleep_ms {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            if args.text == "fail" {
                return Err(ToolError::Failed("asked to fail".into()));
            }
            Ok(args.text.repeat(args.repeat.unwrap_or(1)))
        }
    }

    fn registry() -> ToolRegistry {
        let mut registry = ToolRegistry::new(ToolLimits {
            timeout: Duration::from_millis(200),
            max_output_bytes: 10,
        });
        registry.register(Echo);
        registry
    }

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn schema_comes_from_the_argument_type() {
        let tools = registry().describe();
        assert_eq!(tools.len(), 1);
        let schema = &tools[0].parameters;
        assert_eq!(schema["type"], "object");
        assert!(schema["properties"]["text"].is_object(), "{schema}");
        assert_eq!(schema["required"], serde_json::json!(["text"]));
        assert!(schema.get("$schema").is_none());
        assert_eq!(tools[0].permission, "allow");
    }

    #[tokio::test]
    async fn arguments_are_validated_before_the_tool_runs() {
        let registry = registry();
        let missing = registry.call(&call("1", "echo", r#"{"repeat": 2}"#)).await;
        assert!(
            missing.is_error && missing.output.contains("text"),
            "{missing:?}"
        );
        let unknown = registry
            .call(&call("2", "echo", r#"{"text": "a", "colour": 1}"#))
            .await;
        assert!(
            unknown.is_error && unknown.output.contains("colour"),
            "{unknown:?}"
        );
        let malformed = registry.call(&call("3", "echo", r#"{"text": "#)).await;
        assert!(malformed.is_error, "{malformed:?}");
        let nobody = registry.call(&call("4", "teleport", "{}")).await;
        assert_eq!(nobody.output, "unknown tool `teleport`");
    }

    #[tokio::test]
    async fn failures_timeouts_and_long_output_become_results() {
        let registry = registry();
        let outcomes = registry
            .call_all(&[
                call("a", "echo", r#"{"text": "hi"}"#),
                call("b", "echo", r#"{"text": "fail"}"#),
                call("c", "echo", r#"{"text": "x", "sleep_ms": 5000}"#),
                call("d", "echo", r#"{"text": "abc", "repeat": 10}"#),
            ])
            .await;
        assert_eq!(
            (outcomes[0].output.as_str(), outcomes[0].is_error),
            ("hi", false)
        );
        assert_eq!(outcomes[1].output, "asked to fail");
        assert!(outcomes[2].is_error && outcomes[2].output.contains("did not finish"));
        assert!(outcomes[3]
            .output
            .starts_with("abcabcabca\n[output cut at 10 of 30 bytes]"));
        assert_eq!(
            outcomes.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
    }

    #[tokio::test]
    async fn calls_run_concurrently() {
        let mut registry = ToolRegistry::new(ToolLimits {
            timeout: Duration::from_secs(10),
            max_output_bytes: 10,
        });
        registry.register(Echo);
        let started = std::time::Instant::now();
        let calls: Vec<ToolCall> = (0..4)
            .map(|i| call(&i.to_string(), "echo", r#"{"text": "z", "sleep_ms": 120}"#))
            .collect();
        let outcomes = registry.call_all(&calls).await;
        assert!(outcomes.iter().all(|o| !o.is_error), "{outcomes:?}");
        // Sequential would take 480 ms; concurrent about 120 ms.
        assert!(started.elapsed() < Duration::from_millis(470));
    }

    #[tokio::test]
    async fn permissions_are_enforced() {
        let mut registry = registry();
        registry.set_permission("echo", Permission::Deny);
        assert!(registry.offered().is_empty());
        let denied = registry.call(&call("1", "echo", r#"{"text": "a"}"#)).await;
        assert!(denied.is_error && denied.output.contains("denied"));
        registry.set_permission("echo", Permission::Ask);
        assert_eq!(registry.offered().len(), 1);
        let asked = registry.call(&call("2", "echo", r#"{"text": "a"}"#)).await;
        assert!(asked.is_error && asked.output.contains("approval"));
        assert_eq!("deny".parse::<Permission>(), Ok(Permission::Deny));
        assert!("maybe".parse::<Permission>().is_err());
    }
}
