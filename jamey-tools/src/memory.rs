//! The memory tools: `memory_search` lets the model look things up, `memory_save` lets it
//! remember on purpose.

use crate::{CallContext, Permission, Tool, ToolError};
use async_trait::async_trait;
use jamey_core::Memories;
use jamey_protocol::{NewMemory, SearchMode, SearchRequest};
use schemars::JsonSchema;
use serde::Deserialize;

/// Results `memory_search` returns when the model names no limit, and the most it may ask for.
const DEFAULT_LIMIT: u32 = 5;
const MAX_LIMIT: u32 = 20;

/// Searches long-term memory.
#[derive(Debug, Clone)]
pub struct MemorySearch {
    memories: Memories,
}

impl MemorySearch {
    pub fn new(memories: Memories) -> Self {
        Self { memories }
    }
}

/// Arguments of `memory_search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemorySearchArgs {
    /// What to look for, in words.
    pub query: String,
    /// How many memories to return (1 to 20, default 5).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[async_trait]
impl Tool for MemorySearch {
    type Args = MemorySearchArgs;

    fn name(&self) -> &'static str {
        "memory_search"
    }

    fn description(&self) -> &'static str {
        "Search the user's long-term memory by meaning and keywords. Returns the best matching \
         memories with their ids, newest facts first when equally relevant."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(
        &self,
        args: MemorySearchArgs,
        _context: &CallContext,
    ) -> Result<String, ToolError> {
        let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ToolError::InvalidArguments {
                tool: self.name().into(),
                field: Some("limit".into()),
                reason: format!("limit must be from 1 to {MAX_LIMIT}, got {limit}"),
            });
        }
        let results = self
            .memories
            .search(SearchRequest {
                query: args.query,
                limit: Some(limit),
                mode: SearchMode::Hybrid,
                filter: None,
            })
            .await
            .map_err(|e| ToolError::Failed(e.to_string()))?;
        let found: Vec<serde_json::Value> = results
            .into_iter()
            .map(|hit| {
                serde_json::json!({
                    "id": hit.memory.id,
                    "content": hit.memory.content,
                    "tags": hit.memory.tags,
                    "created_at": hit.memory.created_at,
                    "score": hit.score,
                })
            })
            .collect();
        Ok(serde_json::Value::Array(found).to_string())
    }
}

/// Saves a memory.
#[derive(Debug, Clone)]
pub struct MemorySave {
    memories: Memories,
}

impl MemorySave {
    pub fn new(memories: Memories) -> Self {
        Self { memories }
    }
}

/// Arguments of `memory_save`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemorySaveArgs {
    /// The fact to remember, as a self-contained sentence.
    pub content: String,
    /// Short labels such as `family` or `work`.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

#[async_trait]
impl Tool for MemorySave {
    type Args = MemorySaveArgs;

    fn name(&self) -> &'static str {
        "memory_save"
    }

    fn description(&self) -> &'static str {
        "Save a fact to the user's long-term memory so it can be recalled in later \
         conversations. Use a self-contained sentence."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(
        &self,
        args: MemorySaveArgs,
        _context: &CallContext,
    ) -> Result<String, ToolError> {
        let mut memory = NewMemory::from_content(args.content);
        memory.tags = args.tags.unwrap_or_default();
        memory.kind = Some("fact".into());
        memory.metadata = Some(serde_json::json!({"source": "memory_save"}));
        let stored = self.memories.add(memory).await.map_err(|e| {
            if e.is_client_error() {
                ToolError::invalid(self.name(), e.to_string())
            } else {
                ToolError::Failed(e.to_string())
            }
        })?;
        Ok(serde_json::json!({"saved": stored.id}).to_string())
    }
}
