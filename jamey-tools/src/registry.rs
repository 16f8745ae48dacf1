//! `ToolRegistry`: the tools the twin has under one name each (typed tools and tools known only
//! at run time), their JSON Schemas and sources, and the permission each one has: its default,
//! unless `[tools.permissions]` says otherwise. Running a call is `execute`'s job.

use crate::{CallContext, DynamicTool, Permission, Tool, ToolError};
use async_trait::async_trait;
use jamey_protocol::ToolDescription;
use parking_lot::RwLock;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

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

/// Whether `name` is a name OpenAI-compatible APIs accept: `^[a-zA-Z0-9_-]{1,64}$`.
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A tool behind its type: arguments arrive as JSON.
#[async_trait]
pub(crate) trait ErasedTool: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &str;
    fn description(&self) -> &str;
    fn parameters(&self) -> serde_json::Value;
    fn source(&self) -> String;
    fn default_permission(&self) -> Permission;
    /// Checks the arguments against the schema without running anything.
    fn validate(&self, arguments: &serde_json::Value) -> Result<(), ToolError>;
    async fn call_json(
        &self,
        arguments: serde_json::Value,
        context: &CallContext,
    ) -> Result<String, ToolError>;
}

/// Parses `arguments` into `T`, naming the field at fault.
fn parse_typed<T: serde::de::DeserializeOwned>(
    tool: &str,
    arguments: &serde_json::Value,
) -> Result<T, ToolError> {
    serde_path_to_error::deserialize(arguments).map_err(|error| {
        let path = error.path().to_string();
        let field = (path != ".").then_some(path);
        let reason = match &field {
            Some(field) => format!("{field}: {}", error.inner()),
            None => error.inner().to_string(),
        };
        // Unknown and missing fields are named in serde's own text.
        let field = field.or_else(|| quoted_field(&reason));
        ToolError::InvalidArguments {
            tool: tool.to_string(),
            field,
            reason,
        }
    })
}

/// The first `` `name` `` in serde's message ("missing field `pid`").
fn quoted_field(reason: &str) -> Option<String> {
    let start = reason.find('`')? + 1;
    let end = start + reason[start..].find('`')?;
    Some(reason[start..end].to_string())
}

/// A typed tool's schema without the metadata models do not need.
fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
    let mut schema = schemars::schema_for!(T).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    schema
}

/// A typed tool with its schema, generated once at registration (it is offered every round).
#[derive(Debug)]
struct Typed<T> {
    tool: T,
    schema: serde_json::Value,
}

#[async_trait]
impl<T: Tool> ErasedTool for Typed<T> {
    fn name(&self) -> &str {
        self.tool.name()
    }

    fn description(&self) -> &str {
        self.tool.description()
    }

    fn parameters(&self) -> serde_json::Value {
        self.schema.clone()
    }

    fn source(&self) -> String {
        "builtin".into()
    }

    fn default_permission(&self) -> Permission {
        self.tool.default_permission()
    }

    fn validate(&self, arguments: &serde_json::Value) -> Result<(), ToolError> {
        parse_typed::<T::Args>(self.tool.name(), arguments).map(drop)
    }

    async fn call_json(
        &self,
        arguments: serde_json::Value,
        context: &CallContext,
    ) -> Result<String, ToolError> {
        let args = parse_typed::<T::Args>(self.tool.name(), &arguments)?;
        self.tool.call(args, context).await
    }
}

/// A run-time tool with its compiled schema.
struct Dynamic {
    tool: Arc<dyn DynamicTool>,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Dynamic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dynamic").field("tool", &self.tool).finish()
    }
}

#[async_trait]
impl ErasedTool for Dynamic {
    fn name(&self) -> &str {
        self.tool.name()
    }

    fn description(&self) -> &str {
        self.tool.description()
    }

    fn parameters(&self) -> serde_json::Value {
        self.tool.parameters().clone()
    }

    fn source(&self) -> String {
        self.tool.source()
    }

    fn default_permission(&self) -> Permission {
        self.tool.default_permission()
    }

    fn validate(&self, arguments: &serde_json::Value) -> Result<(), ToolError> {
        match self.validator.iter_errors(arguments).next() {
            None => Ok(()),
            Some(error) => {
                let pointer = error.instance_path().to_string();
                let field = pointer.trim_start_matches('/').replace('/', ".");
                Err(ToolError::InvalidArguments {
                    tool: self.tool.name().to_string(),
                    field: (!field.is_empty()).then(|| field.clone()),
                    reason: if field.is_empty() {
                        error.to_string()
                    } else {
                        format!("{field}: {error}")
                    },
                })
            }
        }
    }

    async fn call_json(
        &self,
        arguments: serde_json::Value,
        context: &CallContext,
    ) -> Result<String, ToolError> {
        self.validate(&arguments)?;
        self.tool.call(arguments, context).await
    }
}

/// The tools, their permissions and the limits every call runs under. Tools may come and go
/// while the runtime serves (an MCP server connects); every method takes `&self`.
#[derive(Debug)]
pub struct ToolRegistry {
    tools: RwLock<BTreeMap<String, Arc<dyn ErasedTool>>>,
    /// `[tools.permissions]`: overrides of each tool's default.
    permissions: RwLock<HashMap<String, Permission>>,
    limits: RwLock<ToolLimits>,
}

impl ToolRegistry {
    pub fn new(limits: ToolLimits) -> Self {
        Self {
            tools: RwLock::new(BTreeMap::new()),
            permissions: RwLock::new(HashMap::new()),
            limits: RwLock::new(limits),
        }
    }

    /// Adds a typed tool. A name already taken, or one models would not accept, is an error.
    pub fn register<T: Tool>(&self, tool: T) -> Result<&Self, ToolError> {
        self.insert(Arc::new(Typed {
            tool,
            schema: schema_of::<T::Args>(),
        }))?;
        Ok(self)
    }

    /// Adds a tool known only at run time; its schema must compile.
    pub fn register_dynamic(&self, tool: Arc<dyn DynamicTool>) -> Result<&Self, ToolError> {
        let validator = jsonschema::validator_for(tool.parameters()).map_err(|error| {
            ToolError::invalid(
                tool.name(),
                format!("its parameter schema is invalid: {error}"),
            )
        })?;
        self.insert(Arc::new(Dynamic { tool, validator }))?;
        Ok(self)
    }

    fn insert(&self, tool: Arc<dyn ErasedTool>) -> Result<(), ToolError> {
        let name = tool.name().to_string();
        if !is_valid_tool_name(&name) {
            return Err(ToolError::invalid(
                name,
                "a tool name must match ^[a-zA-Z0-9_-]{1,64}$",
            ));
        }
        let mut tools = self.tools.write();
        if tools.contains_key(&name) {
            return Err(ToolError::DuplicateName(name));
        }
        tools.insert(name, tool);
        Ok(())
    }

    /// Removes every tool from `source` (an MCP server that went away); returns how many.
    pub fn unregister_source(&self, source: &str) -> usize {
        let mut tools = self.tools.write();
        let before = tools.len();
        tools.retain(|_, tool| tool.source() != source);
        before - tools.len()
    }

    /// Whether a tool has this name.
    pub fn contains(&self, name: &str) -> bool {
        self.tools.read().contains_key(name)
    }

    /// Replaces the configured permissions (`[tools.permissions]`).
    pub fn set_permissions(&self, permissions: HashMap<String, Permission>) {
        *self.permissions.write() = permissions;
    }

    pub fn set_permission(&self, tool: impl Into<String>, permission: Permission) {
        self.permissions.write().insert(tool.into(), permission);
    }

    /// The permission a call of `tool` runs under: configured, else the tool's default, else
    /// `deny` for a name no tool has.
    pub fn permission(&self, tool: &str) -> Permission {
        if let Some(permission) = self.permissions.read().get(tool) {
            return *permission;
        }
        self.tools
            .read()
            .get(tool)
            .map(|t| t.default_permission())
            .unwrap_or(Permission::Deny)
    }

    pub fn limits(&self) -> ToolLimits {
        *self.limits.read()
    }

    pub fn set_limits(&self, limits: ToolLimits) {
        *self.limits.write() = limits;
    }

    /// Every registered tool with its schema, permission and source (`GET /v1/tools`).
    pub fn describe(&self) -> Vec<ToolDescription> {
        let tools: Vec<Arc<dyn ErasedTool>> = self.tools.read().values().cloned().collect();
        tools
            .iter()
            .map(|tool| ToolDescription {
                name: tool.name().into(),
                description: tool.description().into(),
                parameters: tool.parameters(),
                permission: self.permission(tool.name()).as_str().into(),
                source: tool.source(),
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

    pub(crate) fn get(&self, name: &str) -> Option<Arc<dyn ErasedTool>> {
        self.tools.read().get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::test_tools::Echo;

    #[test]
    fn schema_source_and_permission_come_from_the_tool() {
        let registry = ToolRegistry::new(ToolLimits::default());
        registry.register(Echo).unwrap();
        let tools = registry.describe();
        assert_eq!(tools.len(), 1);
        let schema = &tools[0].parameters;
        assert_eq!(schema["type"], "object");
        assert!(schema["properties"]["text"].is_object(), "{schema}");
        assert_eq!(schema["required"], serde_json::json!(["text"]));
        assert!(schema.get("$schema").is_none());
        assert_eq!(tools[0].permission, "allow");
        assert_eq!(tools[0].source, "builtin");
        registry.set_permission("echo", Permission::Deny);
        assert!(registry.offered().is_empty());
        assert_eq!(registry.permission("nobody"), Permission::Deny);
    }

    #[test]
    fn a_name_is_registered_once_and_must_be_one_models_accept() {
        let registry = ToolRegistry::new(ToolLimits::default());
        registry.register(Echo).unwrap();
        assert_eq!(
            registry.register(Echo).unwrap_err(),
            ToolError::DuplicateName("echo".into())
        );
        assert!(is_valid_tool_name("mcp__files__read-file"));
        assert!(!is_valid_tool_name("has space"));
        assert!(!is_valid_tool_name(""));
        assert!(!is_valid_tool_name(&"a".repeat(65)));
    }

    #[test]
    fn typed_arguments_name_the_field_at_fault() {
        let registry = ToolRegistry::new(ToolLimits::default());
        registry.register(Echo).unwrap();
        let echo = registry.get("echo").unwrap();
        let missing = echo
            .validate(&serde_json::json!({"repeat": 2}))
            .unwrap_err();
        assert!(
            matches!(&missing, ToolError::InvalidArguments { field: Some(f), .. } if f == "text"),
            "{missing:?}"
        );
        let wrong = echo
            .validate(&serde_json::json!({"text": "a", "repeat": "two"}))
            .unwrap_err();
        assert!(
            matches!(&wrong, ToolError::InvalidArguments { field: Some(f), .. } if f == "repeat"),
            "{wrong:?}"
        );
        let unknown = echo
            .validate(&serde_json::json!({"text": "a", "colour": 1}))
            .unwrap_err();
        assert!(unknown.to_string().contains("colour"), "{unknown}");
        echo.validate(&serde_json::json!({"text": "a"})).unwrap();
    }

    #[derive(Debug)]
    struct Remote(serde_json::Value);

    #[async_trait]
    impl DynamicTool for Remote {
        fn name(&self) -> &str {
            "mcp__files__read"
        }
        fn description(&self) -> &str {
            "Reads a file"
        }
        fn parameters(&self) -> &serde_json::Value {
            &self.0
        }
        fn source(&self) -> String {
            "mcp:files".into()
        }
        async fn call(
            &self,
            arguments: serde_json::Value,
            _context: &CallContext,
        ) -> Result<String, ToolError> {
            Ok(arguments["path"].as_str().unwrap_or_default().to_string())
        }
    }

    #[test]
    fn run_time_tools_are_validated_against_their_schema_and_leave_with_their_source() {
        let registry = ToolRegistry::new(ToolLimits::default());
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
        });
        registry.register_dynamic(Arc::new(Remote(schema))).unwrap();
        assert_eq!(registry.permission("mcp__files__read"), Permission::Ask);
        let tool = registry.get("mcp__files__read").unwrap();
        let wrong = tool.validate(&serde_json::json!({"path": 3})).unwrap_err();
        assert!(
            matches!(&wrong, ToolError::InvalidArguments { field: Some(f), .. } if f == "path"),
            "{wrong:?}"
        );
        tool.validate(&serde_json::json!({"path": "/etc/hosts"}))
            .unwrap();
        assert_eq!(registry.describe()[0].source, "mcp:files");
        assert_eq!(registry.unregister_source("mcp:files"), 1);
        assert!(!registry.contains("mcp__files__read"));
        let broken = Remote(serde_json::json!({"type": 12}));
        assert!(registry.register_dynamic(Arc::new(broken)).is_err());
    }
}
