//! Memories: what the twin remembers, and the requests that store, page and search them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identifier of a stored memory (a UUID).
pub type MemoryId = Uuid;

/// The kind a memory gets when none is given.
pub const DEFAULT_KIND: &str = "note";
/// The importance a memory gets when none is given.
pub const DEFAULT_IMPORTANCE: f32 = 0.5;

/// One stored memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Memory {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: MemoryId,
    pub content: String,
    pub kind: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "empty_object")]
    pub metadata: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub importance: f32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// A memory to store; only `content` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewMemory {
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<f32>,
}

impl NewMemory {
    /// A memory with only its content set.
    pub fn from_content(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            kind: None,
            tags: Vec::new(),
            metadata: None,
            session_id: None,
            importance: None,
        }
    }
}

/// `POST /v1/memories/batch` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewMemoryBatch {
    pub items: Vec<NewMemory>,
}

/// `POST /v1/memories/batch` response: the ids in the order of the items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMemoryIds {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub ids: Vec<MemoryId>,
}

/// A partial update; absent fields stay as they are. A changed `content` is re-embedded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemoryPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<f32>,
}

impl MemoryPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.content.is_none()
            && self.kind.is_none()
            && self.tags.is_none()
            && self.metadata.is_none()
            && self.importance.is_none()
    }
}

/// One page of memories, newest first. `next_cursor` is opaque; absent on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryPage {
    pub items: Vec<Memory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// How a search ranks memories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Semantic similarity, promoted by exact matches of rare query terms.
    #[default]
    Hybrid,
    /// Semantic similarity of embeddings only.
    Vector,
    /// Keyword matching only.
    Keyword,
}

impl SearchMode {
    /// The lowercase name used on the wire and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::Vector => "vector",
            Self::Keyword => "keyword",
        }
    }
}

impl std::str::FromStr for SearchMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hybrid" => Ok(Self::Hybrid),
            "vector" => Ok(Self::Vector),
            "keyword" => Ok(Self::Keyword),
            other => Err(format!(
                "unknown search mode `{other}`: expected hybrid, vector or keyword"
            )),
        }
    }
}

/// Restricts a search to memories that match every given field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemoryFilter {
    /// Memories carrying all of these tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl MemoryFilter {
    /// True when the filter lets every memory through.
    pub fn is_empty(&self) -> bool {
        self.tags.as_ref().is_none_or(Vec::is_empty)
            && self.kind.is_none()
            && self.session_id.is_none()
    }
}

/// `POST /v1/memories/search` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default)]
    pub mode: SearchMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<MemoryFilter>,
}

/// One search hit; higher scores are better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoredMemory {
    pub memory: Memory,
    pub score: f32,
}

/// `POST /v1/memories/search` response, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResponse {
    pub results: Vec<ScoredMemory>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn memory_strategy() -> impl Strategy<Value = Memory> {
        (
            any::<u128>(),
            ".{0,200}",
            "[a-z_]{1,16}",
            proptest::collection::vec("[a-z0-9-]{1,12}", 0..4),
            proptest::option::of("[a-zA-Z0-9-]{1,20}"),
            0.0f32..=1.0,
            0i64..4_000_000_000,
        )
            .prop_map(|(id, content, kind, tags, session_id, importance, secs)| {
                let at = DateTime::from_timestamp(secs, 0).unwrap_or_default();
                Memory {
                    id: Uuid::from_u128(id),
                    content,
                    kind,
                    tags,
                    metadata: serde_json::json!({"source": "test"}),
                    session_id,
                    importance,
                    created_at: at,
                    updated_at: at,
                }
            })
    }

    proptest! {
        #[test]
        fn memory_round_trips_through_json(memory in memory_strategy()) {
            let text = serde_json::to_string(&memory).unwrap();
            let back: Memory = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, memory);
        }

        #[test]
        fn search_request_round_trips(query in ".{0,100}", limit in proptest::option::of(1u32..500),
                                      mode in prop_oneof![Just(SearchMode::Hybrid), Just(SearchMode::Vector), Just(SearchMode::Keyword)],
                                      kind in proptest::option::of("[a-z]{1,8}")) {
            let request = SearchRequest { query, limit, mode, filter: Some(MemoryFilter { tags: None, kind, session_id: None }) };
            let back: SearchRequest = serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
            prop_assert_eq!(back, request);
        }
    }

    #[test]
    fn new_memory_rejects_unknown_fields() {
        let err = serde_json::from_str::<NewMemory>(r#"{"content":"x","colour":"red"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn search_mode_defaults_to_hybrid() {
        let request: SearchRequest = serde_json::from_str(r#"{"query":"tea"}"#).unwrap();
        assert_eq!(request.mode, SearchMode::Hybrid);
        assert_eq!("keyword".parse::<SearchMode>(), Ok(SearchMode::Keyword));
        assert!("fuzzy".parse::<SearchMode>().unwrap_err().contains("fuzzy"));
    }
}
