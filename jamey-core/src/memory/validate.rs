//! Input rules for memories: what content, kinds, tags, metadata and importance are accepted.

use super::StoreError;
use jamey_protocol::memory::{DEFAULT_IMPORTANCE, DEFAULT_KIND};
use jamey_protocol::{MemoryPatch, NewMemory};

/// Size limits for one memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimits {
    /// Largest `content` in bytes (UTF-8).
    pub max_content_bytes: usize,
    pub max_tags: usize,
    pub max_tag_bytes: usize,
    /// Largest `metadata` object, serialized as JSON.
    pub max_metadata_bytes: usize,
    /// Most items in one batch.
    pub max_batch_items: usize,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        Self {
            max_content_bytes: 64 * 1024,
            max_tags: 32,
            max_tag_bytes: 64,
            max_metadata_bytes: 16 * 1024,
            max_batch_items: 10_000,
        }
    }
}

const MAX_KIND_BYTES: usize = 64;
const MAX_SESSION_BYTES: usize = 128;

/// A new memory whose fields passed the rules, defaults filled in; not yet embedded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidMemory {
    pub(crate) content: String,
    pub(crate) kind: String,
    pub(crate) tags: Vec<String>,
    pub(crate) metadata: serde_json::Value,
    pub(crate) session_id: Option<String>,
    pub(crate) importance: f32,
}

impl MemoryLimits {
    pub(crate) fn check_new(&self, memory: NewMemory) -> Result<ValidMemory, StoreError> {
        Ok(ValidMemory {
            content: self.check_content(memory.content)?,
            kind: check_kind(memory.kind.unwrap_or_else(|| DEFAULT_KIND.into()))?,
            tags: self.check_tags(memory.tags)?,
            metadata: self.check_metadata(
                memory
                    .metadata
                    .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            )?,
            session_id: memory.session_id.map(check_session).transpose()?,
            importance: check_importance(memory.importance.unwrap_or(DEFAULT_IMPORTANCE))?,
        })
    }

    pub(crate) fn check_patch(&self, patch: MemoryPatch) -> Result<MemoryPatch, StoreError> {
        if patch.is_empty() {
            return Err(StoreError::invalid(
                "patch",
                "names no field to change (content, kind, tags, metadata, importance)",
            ));
        }
        Ok(MemoryPatch {
            content: patch.content.map(|c| self.check_content(c)).transpose()?,
            kind: patch.kind.map(check_kind).transpose()?,
            tags: patch.tags.map(|t| self.check_tags(t)).transpose()?,
            metadata: patch.metadata.map(|m| self.check_metadata(m)).transpose()?,
            importance: patch.importance.map(check_importance).transpose()?,
        })
    }

    fn check_content(&self, content: String) -> Result<String, StoreError> {
        if content.trim().is_empty() {
            return Err(StoreError::invalid("content", "must not be empty"));
        }
        if content.len() > self.max_content_bytes {
            return Err(StoreError::invalid(
                "content",
                format!(
                    "is {} bytes, the limit is {} bytes",
                    content.len(),
                    self.max_content_bytes
                ),
            ));
        }
        if content.contains('\0') {
            return Err(StoreError::invalid(
                "content",
                "must not contain NUL characters",
            ));
        }
        Ok(content)
    }

    fn check_tags(&self, tags: Vec<String>) -> Result<Vec<String>, StoreError> {
        if tags.len() > self.max_tags {
            return Err(StoreError::invalid(
                "tags",
                format!("has {} tags, the limit is {}", tags.len(), self.max_tags),
            ));
        }
        let mut out: Vec<String> = Vec::with_capacity(tags.len());
        for tag in tags {
            let tag = tag.trim().to_string();
            if tag.is_empty() || tag.len() > self.max_tag_bytes || tag.contains('\0') {
                return Err(StoreError::invalid(
                    "tags",
                    format!(
                        "each tag must be 1 to {} bytes without NUL, got {tag:?}",
                        self.max_tag_bytes
                    ),
                ));
            }
            if !out.contains(&tag) {
                out.push(tag);
            }
        }
        Ok(out)
    }

    fn check_metadata(&self, metadata: serde_json::Value) -> Result<serde_json::Value, StoreError> {
        if !metadata.is_object() {
            return Err(StoreError::invalid("metadata", "must be a JSON object"));
        }
        let size = metadata.to_string().len();
        if size > self.max_metadata_bytes {
            return Err(StoreError::invalid(
                "metadata",
                format!(
                    "is {size} bytes as JSON, the limit is {}",
                    self.max_metadata_bytes
                ),
            ));
        }
        if metadata.to_string().contains("\\u0000") {
            return Err(StoreError::invalid(
                "metadata",
                "must not contain NUL characters",
            ));
        }
        Ok(metadata)
    }
}

fn check_kind(kind: String) -> Result<String, StoreError> {
    let valid = !kind.is_empty()
        && kind.len() <= MAX_KIND_BYTES
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(kind)
    } else {
        Err(StoreError::invalid(
            "kind",
            format!("must be 1 to {MAX_KIND_BYTES} characters of a-z, 0-9, _ or -, got {kind:?}"),
        ))
    }
}

fn check_session(session: String) -> Result<String, StoreError> {
    if session.is_empty() || session.len() > MAX_SESSION_BYTES || session.contains('\0') {
        return Err(StoreError::invalid(
            "session_id",
            format!("must be 1 to {MAX_SESSION_BYTES} bytes without NUL"),
        ));
    }
    Ok(session)
}

fn check_importance(importance: f32) -> Result<f32, StoreError> {
    if importance.is_finite() && (0.0..=1.0).contains(&importance) {
        Ok(importance)
    } else {
        Err(StoreError::invalid(
            "importance",
            format!("must be a number from 0 to 1, got {importance}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<ValidMemory, StoreError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_filled_in() {
        let valid = MemoryLimits::default()
            .check_new(NewMemory::from_content("tea at five"))
            .unwrap();
        assert_eq!(valid.kind, "note");
        assert_eq!(valid.importance, 0.5);
        assert_eq!(valid.metadata, serde_json::json!({}));
    }

    #[test]
    fn bad_fields_are_named() {
        let limits = MemoryLimits {
            max_content_bytes: 10,
            ..Default::default()
        };
        assert!(reason(limits.check_new(NewMemory::from_content("  ")))
            .starts_with("content: must not be empty"));
        assert!(
            reason(limits.check_new(NewMemory::from_content("x".repeat(11))))
                .contains("limit is 10 bytes")
        );
        let mut m = NewMemory::from_content("ok");
        m.kind = Some("Big Kind".into());
        assert!(reason(limits.check_new(m)).starts_with("kind:"));
        let mut m = NewMemory::from_content("ok");
        m.importance = Some(f32::NAN);
        assert!(reason(limits.check_new(m)).starts_with("importance:"));
        let mut m = NewMemory::from_content("ok");
        m.metadata = Some(serde_json::json!([1]));
        assert!(reason(limits.check_new(m)).starts_with("metadata:"));
        let mut m = NewMemory::from_content("ok");
        m.tags = vec!["".into()];
        assert!(reason(limits.check_new(m)).starts_with("tags:"));
    }

    #[test]
    fn an_empty_patch_is_rejected() {
        let err = MemoryLimits::default()
            .check_patch(MemoryPatch::default())
            .unwrap_err();
        assert!(err.to_string().contains("no field"));
    }
}
