//! `Memories`: the memory subsystem as callers see it. It validates input, embeds text off the
//! async runtime's threads, and hands records to whichever `MemoryStore` was configured, through
//! the hybrid cache when one is attached (reads L1 -> L2 -> store, writes through, search results
//! cached under generation-stamped keys).

use super::{
    MemoryLimits, MemoryRecord, MemoryStore, MemoryUpdate, PageRequest, StoreError, StoreSearch,
};
use crate::cache::{normalize_query, HybridCache, MemoryLookup};
use crate::embedding::{EmbedError, Embedder};
use jamey_protocol::{
    Memory, MemoryId, MemoryPage, MemoryPatch, NewMemory, ScoredMemory, SearchMode, SearchRequest,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tracing::Instrument;

/// Results returned when a search names no limit.
pub const DEFAULT_SEARCH_LIMIT: u32 = 10;
/// Most results one search may ask for.
pub const MAX_SEARCH_LIMIT: u32 = 100;
/// Most memories one page may hold.
pub const MAX_PAGE_LIMIT: u32 = 1_000;

/// Validates, embeds and stores memories; searches them.
#[derive(Debug, Clone)]
pub struct Memories {
    store: Arc<dyn MemoryStore>,
    embedder: Arc<dyn Embedder>,
    limits: MemoryLimits,
    /// Hybrid search's keyword weight as f32 bits; `UNSET` leaves the store's own.
    keyword_weight: Arc<AtomicU32>,
    cache: Option<Arc<HybridCache>>,
}

const UNSET: u32 = u32::MAX;

impl Memories {
    pub fn new(
        store: Arc<dyn MemoryStore>,
        embedder: Arc<dyn Embedder>,
        limits: MemoryLimits,
    ) -> Self {
        Self {
            store,
            embedder,
            limits,
            keyword_weight: Arc::new(AtomicU32::new(UNSET)),
            cache: None,
        }
    }

    /// Puts `cache` in front of the store.
    pub fn with_cache(mut self, cache: Arc<HybridCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn cache(&self) -> Option<&Arc<HybridCache>> {
        self.cache.as_ref()
    }

    pub fn store(&self) -> &Arc<dyn MemoryStore> {
        &self.store
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    pub fn limits(&self) -> &MemoryLimits {
        &self.limits
    }

    /// Changes hybrid search's keyword weight from now on (a configuration reload).
    pub fn set_keyword_weight(&self, weight: f32) {
        self.keyword_weight
            .store(weight.to_bits(), Ordering::Relaxed);
    }

    fn keyword_weight(&self) -> Option<f32> {
        let bits = self.keyword_weight.load(Ordering::Relaxed);
        (bits != UNSET).then(|| f32::from_bits(bits))
    }

    pub async fn add(&self, memory: NewMemory) -> Result<Memory, StoreError> {
        let valid = self.limits.check_new(memory)?;
        let mut vectors = self.embed(vec![valid.content.clone()]).await?;
        let embedding = vectors
            .pop()
            .ok_or_else(|| EmbedError::Inference("no vector returned".into()))?;
        let memory = self
            .store
            .insert(MemoryRecord {
                content: valid.content,
                kind: valid.kind,
                tags: valid.tags,
                metadata: valid.metadata,
                session_id: valid.session_id,
                importance: valid.importance,
                embedding,
            })
            .await?;
        if let Some(cache) = &self.cache {
            cache.stored(&memory).await;
        }
        Ok(memory)
    }

    /// Stores every memory or none; a bad item is named by its index.
    pub async fn add_batch(&self, memories: Vec<NewMemory>) -> Result<Vec<MemoryId>, StoreError> {
        if memories.is_empty() {
            return Err(StoreError::invalid(
                "items",
                "must hold at least one memory",
            ));
        }
        if memories.len() > self.limits.max_batch_items {
            return Err(StoreError::invalid(
                "items",
                format!(
                    "holds {} memories, the limit is {}",
                    memories.len(),
                    self.limits.max_batch_items
                ),
            ));
        }
        let valid = memories
            .into_iter()
            .enumerate()
            .map(|(i, m)| self.limits.check_new(m).map_err(|e| e.at_index(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let vectors = self
            .embed(valid.iter().map(|v| v.content.clone()).collect())
            .await?;
        let records = valid
            .into_iter()
            .zip(vectors)
            .map(|(v, embedding)| MemoryRecord {
                content: v.content,
                kind: v.kind,
                tags: v.tags,
                metadata: v.metadata,
                session_id: v.session_id,
                importance: v.importance,
                embedding,
            })
            .collect::<Vec<_>>();
        let stored = self.store.insert_batch(records).await?;
        if let Some(cache) = &self.cache {
            cache.stored_batch(&stored).await;
        }
        Ok(stored.into_iter().map(|m| m.id).collect())
    }

    /// The cache's tiers first when there is a cache; a memory read from the store fills them.
    /// The memory is shared with the cache, so a cache hit copies nothing.
    pub async fn get(&self, id: MemoryId) -> Result<Option<Arc<Memory>>, StoreError> {
        let Some(cache) = &self.cache else {
            return Ok(self.store.get(id).await?.map(Arc::new));
        };
        let ticket = match cache.memory(id).await {
            MemoryLookup::Hit(memory) => return Ok(Some(memory)),
            MemoryLookup::Miss(ticket) => ticket,
        };
        let found = self.store.get(id).await?.map(Arc::new);
        if let Some(memory) = &found {
            cache.fill(ticket, memory).await;
        }
        Ok(found)
    }

    /// Applies a patch; changed content is re-embedded.
    pub async fn update(&self, id: MemoryId, patch: MemoryPatch) -> Result<Memory, StoreError> {
        let patch = self.limits.check_patch(patch)?;
        let embedding = match &patch.content {
            Some(content) => self.embed(vec![content.clone()]).await?.pop(),
            None => None,
        };
        let memory = self
            .store
            .update(
                id,
                MemoryUpdate {
                    content: patch.content,
                    kind: patch.kind,
                    tags: patch.tags,
                    metadata: patch.metadata,
                    importance: patch.importance,
                    embedding,
                },
            )
            .await?;
        if let Some(cache) = &self.cache {
            cache.updated(&memory).await;
        }
        Ok(memory)
    }

    pub async fn delete(&self, id: MemoryId) -> Result<bool, StoreError> {
        let Some(cache) = &self.cache else {
            return self.store.delete(id).await;
        };
        // The session decides which cached search results the delete makes stale.
        let session = match self.get(id).await {
            Ok(Some(memory)) => Some(memory.session_id.clone()),
            Ok(None) | Err(_) => None,
        };
        let deleted = self.store.delete(id).await?;
        if deleted {
            cache
                .deleted(id, session.as_ref().map(Option::as_deref))
                .await;
        }
        Ok(deleted)
    }

    pub async fn count(&self) -> Result<u64, StoreError> {
        self.store.count().await
    }

    pub async fn list(&self, page: PageRequest) -> Result<MemoryPage, StoreError> {
        let limit = match &page {
            PageRequest::Keyset { limit, .. } | PageRequest::Offset { limit, .. } => *limit,
        };
        if limit == 0 || limit > MAX_PAGE_LIMIT {
            return Err(StoreError::invalid(
                "limit",
                format!("must be from 1 to {MAX_PAGE_LIMIT}, got {limit}"),
            ));
        }
        self.store.list(page).await
    }

    pub async fn search(&self, request: SearchRequest) -> Result<Vec<ScoredMemory>, StoreError> {
        let limit = request.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        if limit == 0 || limit > MAX_SEARCH_LIMIT {
            return Err(StoreError::invalid(
                "limit",
                format!("must be from 1 to {MAX_SEARCH_LIMIT}, got {limit}"),
            ));
        }
        let text = normalize_query(&request.query);
        if text.is_empty() {
            return Err(StoreError::invalid("query", "must not be empty"));
        }
        if text.len() > self.limits.max_content_bytes {
            return Err(StoreError::invalid(
                "query",
                format!(
                    "is {} bytes, the limit is {} bytes",
                    text.len(),
                    self.limits.max_content_bytes
                ),
            ));
        }
        let filter = request.filter.unwrap_or_default();
        let keyword_weight = self.keyword_weight();
        let ticket = self
            .cache
            .as_ref()
            .map(|cache| cache.search_ticket(&text, request.mode, &filter, limit, keyword_weight));
        if let (Some(cache), Some(ticket)) = (&self.cache, &ticket) {
            if let Some(results) = cache.search(ticket) {
                return Ok(results);
            }
        }
        let embedding = match request.mode {
            SearchMode::Keyword => Vec::new(),
            SearchMode::Vector | SearchMode::Hybrid => self
                .embed(vec![text.clone()])
                .await?
                .pop()
                .ok_or_else(|| EmbedError::Inference("no vector returned".into()))?,
        };
        let results = self
            .store
            .search(&StoreSearch {
                text,
                embedding,
                mode: request.mode,
                filter,
                limit,
                keyword_weight,
            })
            .await?;
        if let (Some(cache), Some(ticket)) = (&self.cache, ticket) {
            cache.fill_search(ticket, results.clone());
        }
        Ok(results)
    }

    /// Embeds on a blocking thread: local models are CPU-bound and remote ones block on I/O.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, StoreError> {
        let embedder = self.embedder.clone();
        let span =
            tracing::debug_span!("embed", texts = texts.len(), model = %embedder.identity().model);
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs)
        })
        .instrument(span)
        .await
        .map_err(|e| {
            StoreError::Embedding(EmbedError::Inference(format!("embedding task failed: {e}")))
        })?
        .map_err(StoreError::Embedding)
    }
}
