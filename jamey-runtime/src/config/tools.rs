//! The `[tools]` section: the permission of each tool, each call's time and output limits, how
//! long an approval waits, and the host rule for other users' processes. Raw (as written) and
//! validated forms.

use super::{range as int, ConfigError};
use jamey_tools::{Permission, BUILTIN_TOOL_NAMES};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Tool permissions and limits.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolsConfig {
    pub timeout_secs: u64,
    pub max_output_bytes: usize,
    /// An `ask` call undecided this long is denied.
    pub approval_timeout_secs: u64,
    /// A runtime running as root may kill other users' processes.
    pub kill_other_users: bool,
    /// Overrides of each tool's default permission.
    pub permissions: BTreeMap<String, Permission>,
    /// `[tools.network]`: what the web tools may reach.
    pub network: super::NetworkConfig,
}

impl ToolsConfig {
    /// The overrides, as the registry takes them.
    pub fn permission_overrides(&self) -> HashMap<String, Permission> {
        self.permissions
            .iter()
            .map(|(tool, permission)| (tool.clone(), *permission))
            .collect()
    }
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 30,
            max_output_bytes: 16 * 1024,
            approval_timeout_secs: 300,
            kill_other_users: false,
            permissions: BTreeMap::new(),
            network: Default::default(),
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawTools {
    pub timeout_secs: Option<i64>,
    pub max_output_bytes: Option<i64>,
    pub approval_timeout_secs: Option<i64>,
    pub kill_other_users: Option<bool>,
    pub permissions: Option<BTreeMap<String, String>>,
    pub network: Option<super::RawNetwork>,
}

/// Whether `name` may appear in `[tools.permissions]`: a built-in tool, or an MCP tool
/// (checked when its server connects).
fn is_known_tool_name(name: &str) -> bool {
    BUILTIN_TOOL_NAMES.contains(&name)
        || (name.starts_with("mcp__") && jamey_tools::is_valid_tool_name(name))
}

impl RawTools {
    pub fn validate(&self) -> Result<ToolsConfig, ConfigError> {
        let mut permissions = BTreeMap::new();
        let raw = self.permissions.clone().unwrap_or_default();
        let unknown: Vec<&str> = raw
            .keys()
            .map(String::as_str)
            .filter(|name| !is_known_tool_name(name))
            .collect();
        if !unknown.is_empty() {
            return Err(ConfigError::Invalid {
                key: format!("tools.permissions.{}", unknown[0]),
                value: unknown.join(", "),
                allowed: format!(
                    "a built-in tool ({}) or mcp__<server>__<tool>",
                    BUILTIN_TOOL_NAMES.join(", ")
                ),
            });
        }
        for (tool, permission) in raw {
            let parsed = permission
                .parse::<Permission>()
                .map_err(|_| ConfigError::Invalid {
                    key: format!("tools.permissions.{tool}"),
                    value: permission.clone(),
                    allowed: "\"allow\", \"ask\" or \"deny\"".into(),
                })?;
            permissions.insert(tool, parsed);
        }
        Ok(ToolsConfig {
            timeout_secs: int("tools.timeout_secs", self.timeout_secs, 1, 3600, 30)? as u64,
            max_output_bytes: int(
                "tools.max_output_bytes",
                self.max_output_bytes,
                256,
                16 << 20,
                16 * 1024,
            )? as usize,
            approval_timeout_secs: int(
                "tools.approval_timeout_secs",
                self.approval_timeout_secs,
                1,
                86_400,
                300,
            )? as u64,
            kill_other_users: self.kill_other_users.unwrap_or(false),
            permissions,
            network: self.network.clone().unwrap_or_default().validate()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permissions(entries: &[(&str, &str)]) -> RawTools {
        RawTools {
            permissions: Some(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..RawTools::default()
        }
    }

    #[test]
    fn unknown_tool_names_stop_the_start_naming_them() {
        let error = permissions(&[("proces_kill", "deny"), ("http_fetch", "ask")])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(error.contains("tools.permissions.proces_kill"), "{error}");
        let ok = permissions(&[("process_kill", "deny"), ("mcp__files__read", "allow")])
            .validate()
            .unwrap();
        assert_eq!(ok.permissions["process_kill"], Permission::Deny);
        let bad = permissions(&[("process_kill", "sometimes")])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(bad.contains("sometimes") && bad.contains("allow"), "{bad}");
        assert_eq!(
            RawTools::default()
                .validate()
                .unwrap()
                .approval_timeout_secs,
            300
        );
    }
}
