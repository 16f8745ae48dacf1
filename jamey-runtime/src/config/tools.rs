//! The `[tools]` section: which tools the twin may use, and each call's time and output limits.
//! Raw (as written) and validated forms.

use super::{range as int, ConfigError};
use jamey_tools::Permission;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Tool permissions and limits.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolsConfig {
    pub timeout_secs: u64,
    pub max_output_bytes: usize,
    pub permissions: BTreeMap<String, String>,
    pub network: super::NetworkConfig,
}

impl ToolsConfig {
    pub fn permission(&self, tool: &str) -> Permission {
        self.permissions
            .get(tool)
            .and_then(|p| p.parse().ok())
            .unwrap_or(Permission::Allow)
    }
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 30,
            max_output_bytes: 16 * 1024,
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
    pub permissions: Option<BTreeMap<String, String>>,
    pub network: Option<super::RawNetwork>,
}

impl RawTools {
    pub fn validate(&self) -> Result<ToolsConfig, ConfigError> {
        let permissions = self.permissions.clone().unwrap_or_default();
        for (tool, permission) in &permissions {
            if permission.parse::<Permission>().is_err() {
                return Err(ConfigError::Invalid {
                    key: format!("tools.permissions.{tool}"),
                    value: permission.clone(),
                    allowed: "\"allow\", \"ask\" or \"deny\"".into(),
                });
            }
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
            permissions,
            network: self.network.clone().unwrap_or_default().validate()?,
        })
    }
}
