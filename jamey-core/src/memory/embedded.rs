//! `EmbeddedMemoryStore`: the memory store used when no PostgreSQL is configured, kept in one
//! directory under JAMEY_HOME.
//!
//! SQLite in WAL mode with `synchronous=FULL` gives crash-safe, acknowledged-means-durable writes
//! and FTS5 keyword search in a single file with no server. Vectors are searched in memory by a
//! full scan (int8 codes for a shortlist, exact `f32` scores to rank it) rather than through an
//! approximate graph index: a personal store of up to a few hundred thousand memories scans in
//! milliseconds, needs no tuning, and is rebuilt from SQLite (the source of truth) at every open.
//! One process at a time uses a store's directory (see `EmbeddedMemoryStore::open`).

mod quantized;
mod reembed;
mod rows;
mod scan;
mod schema;
mod search;
mod vectors;

use super::fusion::DEFAULT_KEYWORD_WEIGHT;
use super::{
    check_vector, MemoryRecord, MemoryStore, MemoryUpdate, PageRequest, ScoredMemory, StoreError,
    StoreSearch,
};
use crate::db::sqlite::{self, SqliteFile};
use crate::embedding::EmbedderIdentity;
use async_trait::async_trait;
use jamey_protocol::{Memory, MemoryId, MemoryPage, SearchMode};
use parking_lot::{Mutex, MutexGuard, RwLock};
use rusqlite::{Connection, TransactionBehavior};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use uuid::Uuid;
use vectors::VectorIndex;

/// Where the embedded store lives and how it ranks.
#[derive(Debug, Clone)]
pub struct EmbeddedStoreConfig {
    /// The store's directory, created if missing.
    pub dir: PathBuf,
    /// Weight of keyword evidence in hybrid search (see `fusion::hybrid_score`).
    pub keyword_weight: f32,
}

impl EmbeddedStoreConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            keyword_weight: DEFAULT_KEYWORD_WEIGHT,
        }
    }
}

/// Reader connections: queries run beside the writer and each other thanks to WAL.
const READERS: usize = 2;

/// The file in the store's directory that an open store holds an exclusive lock on.
const LOCK_FILE: &str = "lock";

/// Memories in a SQLite file, with their vectors indexed in memory.
#[derive(Clone)]
pub struct EmbeddedMemoryStore {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    dimensions: usize,
    keyword_weight: f32,
    /// The only connection that writes. Whoever holds it also updates `index`, after the commit
    /// and before letting go: writes reach the index in commit order, and none is missing from it
    /// once its caller has the answer.
    writer: Mutex<Connection>,
    readers: [Mutex<Connection>; READERS],
    next_reader: AtomicUsize,
    index: Arc<RwLock<VectorIndex>>,
    /// Held, never read: the lock on the directory lasts as long as the store.
    _lock: File,
}

impl std::fmt::Debug for EmbeddedMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = &self.shared;
        f.debug_struct("EmbeddedMemoryStore")
            .field("path", &shared.path)
            .field("dimensions", &shared.dimensions)
            .field("keyword_weight", &shared.keyword_weight)
            .field("index", &*shared.index.read())
            .finish()
    }
}

impl EmbeddedMemoryStore {
    /// Opens or creates the store in `config.dir`, applying schema migrations and loading the
    /// vectors into memory. The first open records `identity`; a later open with another embedder
    /// fails with `StoreError::EmbedderMismatch`.
    ///
    /// The store locks its directory until it is dropped (with its last clone): another open of
    /// the same directory, in this process or another, fails with `StoreError::Io`.
    pub fn open(
        config: &EmbeddedStoreConfig,
        identity: &EmbedderIdentity,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", config.dir.display())))?;
        let lock = lock_directory(&config.dir)?;
        let path = SqliteFile::Memories.path(&config.dir);
        let mut writer = sqlite::open_writer(&config.dir, SqliteFile::Memories)?;
        schema::check_embedder(&mut writer, identity)?;
        let index = load_index(&writer, identity.dimensions)?.share()?;
        let readers = [
            sqlite::open_reader(&config.dir, SqliteFile::Memories)?,
            sqlite::open_reader(&config.dir, SqliteFile::Memories)?,
        ];
        tracing::info!(path = %path.display(), memories = index.read().len(), "opened the embedded memory store");
        Ok(Self {
            shared: Arc::new(Shared {
                path,
                dimensions: identity.dimensions,
                keyword_weight: config.keyword_weight,
                writer: Mutex::new(writer),
                readers: readers.map(Mutex::new),
                next_reader: AtomicUsize::new(0),
                index,
                _lock: lock,
            }),
        })
    }

    /// Runs `work` on a blocking thread: SQLite calls and vector scans must not stall the runtime.
    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Shared) -> Result<T, StoreError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || work(&shared))
            .await
            .map_err(|e| StoreError::Sqlite(format!("embedded store task failed: {e}")))?
    }
}

/// Takes the exclusive lock on `dir`. One process per store: the vector index is loaded at open
/// and then follows only its own process's writes, so a second writer would leave each index
/// stale. The operating system releases the lock when the file is closed, even after a crash.
fn lock_directory(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::Io(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Io(format!(
            "another Jamey process is using the memory store in {} (or this process has it open \
             already); stop that process, or configure another directory",
            dir.display()
        ))),
        Err(TryLockError::Error(e)) => Err(StoreError::Io(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// Reads every stored vector into a new index.
fn load_index(conn: &Connection, dimensions: usize) -> Result<VectorIndex, StoreError> {
    let mut index = VectorIndex::new(dimensions);
    let mut statement = conn.prepare("SELECT rowid, embedding FROM memories")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let rowid: i64 = row.get(0)?;
        let blob = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        let vector = vectors::from_blob(blob, dimensions).ok_or_else(|| {
            StoreError::Sqlite(format!(
                "memory row {rowid} holds a vector of {} bytes, expected {dimensions} dimensions",
                blob.len()
            ))
        })?;
        index.upsert(rowid, &vector)?;
    }
    Ok(index)
}

impl Shared {
    /// A free reader connection, or, when both are busy, the next in turn.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        for reader in &self.readers {
            if let Some(guard) = reader.try_lock() {
                return guard;
            }
        }
        let turn = self.next_reader.fetch_add(1, Ordering::Relaxed) % READERS;
        self.readers[turn].lock()
    }

    fn insert(&self, records: Vec<MemoryRecord>) -> Result<Vec<Memory>, StoreError> {
        let at = rows::now();
        let mut writer = self.writer.lock();
        let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut inserted = Vec::with_capacity(records.len());
        for record in &records {
            let id = Uuid::now_v7();
            inserted.push((id, rows::insert(&tx, id, record, at)?));
        }
        tx.commit()?;
        let mut index = self.index.write();
        for ((_, rowid), record) in inserted.iter().zip(&records) {
            index.upsert(*rowid, &record.embedding)?;
        }
        drop(index);
        drop(writer);
        Ok(inserted
            .into_iter()
            .zip(records)
            .map(|((id, _), record)| record.into_memory(id, at))
            .collect())
    }

    fn update(&self, id: MemoryId, update: MemoryUpdate) -> Result<Memory, StoreError> {
        if let Some(embedding) = &update.embedding {
            check_vector(embedding, self.dimensions)?;
        }
        let at = rows::now();
        let mut writer = self.writer.lock();
        let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (rowid, mut memory) = rows::get(&tx, id)?.ok_or(StoreError::NotFound(id))?;
        let content_changed = update.content.is_some();
        if let Some(content) = update.content {
            memory.content = content;
        }
        if let Some(kind) = update.kind {
            memory.kind = kind;
        }
        if let Some(tags) = update.tags {
            memory.tags = tags;
        }
        if let Some(metadata) = update.metadata {
            memory.metadata = metadata;
        }
        if let Some(importance) = update.importance {
            memory.importance = importance;
        }
        // A clock stepped backwards must not make a memory look updated before it was created.
        memory.updated_at = at.max(memory.created_at);
        rows::update(
            &tx,
            rowid,
            &memory,
            content_changed,
            update.embedding.as_deref(),
        )?;
        tx.commit()?;
        if let Some(embedding) = &update.embedding {
            self.index.write().upsert(rowid, embedding)?;
        }
        Ok(memory)
    }

    fn delete(&self, id: MemoryId) -> Result<bool, StoreError> {
        let mut writer = self.writer.lock();
        let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rowid = rows::delete(&tx, id)?;
        tx.commit()?;
        if let Some(rowid) = rowid {
            self.index.write().remove(rowid);
        }
        Ok(rowid.is_some())
    }

    fn search(&self, search: &StoreSearch) -> Result<Vec<ScoredMemory>, StoreError> {
        let _span = tracing::debug_span!(
            "embedded_search",
            mode = search.mode.as_str(),
            limit = search.limit
        )
        .entered();
        let mut reader = self.reader();
        // One read transaction: every query of the search sees the same snapshot.
        let tx = reader.transaction()?;
        let results = search::run(
            &tx,
            &self.index,
            search,
            search.keyword_weight.unwrap_or(self.keyword_weight),
        )?;
        tx.finish()?;
        tracing::debug!(results = results.len(), "searched the embedded store");
        Ok(results)
    }
}

#[async_trait]
impl MemoryStore for EmbeddedMemoryStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn insert(&self, record: MemoryRecord) -> Result<Memory, StoreError> {
        check_vector(&record.embedding, self.shared.dimensions)?;
        let mut memories = self.run(move |shared| shared.insert(vec![record])).await?;
        memories
            .pop()
            .ok_or_else(|| StoreError::Sqlite("the insert returned no memory".into()))
    }

    async fn insert_batch(&self, records: Vec<MemoryRecord>) -> Result<Vec<Memory>, StoreError> {
        for (i, record) in records.iter().enumerate() {
            check_vector(&record.embedding, self.shared.dimensions).map_err(|e| e.at_index(i))?;
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.run(move |shared| shared.insert(records)).await
    }

    async fn get(&self, id: MemoryId) -> Result<Option<Memory>, StoreError> {
        self.run(move |shared| Ok(rows::get(&shared.reader(), id)?.map(|(_, memory)| memory)))
            .await
    }

    async fn update(&self, id: MemoryId, update: MemoryUpdate) -> Result<Memory, StoreError> {
        self.run(move |shared| shared.update(id, update)).await
    }

    async fn delete(&self, id: MemoryId) -> Result<bool, StoreError> {
        self.run(move |shared| shared.delete(id)).await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.run(|shared| rows::count(&shared.reader())).await
    }

    async fn list(&self, page: PageRequest) -> Result<MemoryPage, StoreError> {
        self.run(move |shared| rows::list(&shared.reader(), &page))
            .await
    }

    async fn search(&self, search: &StoreSearch) -> Result<Vec<ScoredMemory>, StoreError> {
        if search.mode != SearchMode::Keyword {
            check_vector(&search.embedding, self.shared.dimensions)?;
        }
        let search = search.clone();
        self.run(move |shared| shared.search(&search)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(|shared| {
            shared
                .reader()
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Cursor;
    use jamey_protocol::MemoryFilter;
    use serde_json::json;
    use std::path::Path;

    const DIM: usize = 8;

    fn identity() -> EmbedderIdentity {
        EmbedderIdentity {
            model: "test/axis-model".into(),
            dimensions: DIM,
        }
    }

    fn open(dir: &Path) -> EmbeddedMemoryStore {
        EmbeddedMemoryStore::open(&EmbeddedStoreConfig::new(dir), &identity()).unwrap()
    }

    /// A unit vector with cosine `cos` to axis 0, leaning towards axis `side`.
    fn leaning(cos: f32, side: usize) -> Vec<f32> {
        let mut v = vec![0.0; DIM];
        v[0] = cos;
        v[side] = (1.0 - cos * cos).sqrt();
        v
    }

    fn axis(i: usize) -> Vec<f32> {
        leaning(0.0, 0)
            .iter()
            .enumerate()
            .map(|(j, _)| if i == j { 1.0 } else { 0.0 })
            .collect()
    }

    fn pseudo_random(seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v: Vec<f32> = (0..DIM)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 2000) as f32 / 1000.0 - 1.0
            })
            .collect();
        crate::embedding::normalize(&mut v).unwrap();
        v
    }

    fn record(content: &str, embedding: Vec<f32>) -> MemoryRecord {
        MemoryRecord {
            content: content.into(),
            kind: "note".into(),
            tags: Vec::new(),
            metadata: json!({}),
            session_id: None,
            importance: 0.5,
            embedding,
        }
    }

    fn query(text: &str, embedding: Vec<f32>, mode: SearchMode, limit: u32) -> StoreSearch {
        StoreSearch {
            text: text.into(),
            embedding: if mode == SearchMode::Keyword {
                Vec::new()
            } else {
                embedding
            },
            mode,
            filter: MemoryFilter::default(),
            limit,
            keyword_weight: None,
        }
    }

    fn contents(results: &[ScoredMemory]) -> Vec<&str> {
        results.iter().map(|r| r.memory.content.as_str()).collect()
    }

    #[tokio::test]
    async fn an_inserted_memory_reads_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        assert_eq!(store.backend(), "embedded");
        store.ping().await.unwrap();
        let mut new = record("Tea with Ana at five", axis(1));
        new.kind = "event".into();
        new.tags = vec!["friends".into(), "tea".into()];
        new.metadata = json!({"source": "chat", "n": 3});
        new.session_id = Some("session-1".into());
        new.importance = 0.7;
        let inserted = store.insert(new).await.unwrap();
        assert_eq!(inserted.created_at, inserted.updated_at);
        assert_eq!(
            store.get(inserted.id).await.unwrap(),
            Some(inserted.clone())
        );
        assert_eq!(store.get(Uuid::now_v7()).await.unwrap(), None);
        assert_eq!(store.count().await.unwrap(), 1);

        let err = store
            .insert(record("short vector", vec![1.0; 3]))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Dimension {
                    expected: DIM,
                    got: 3
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_batch_with_a_bad_vector_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut records: Vec<MemoryRecord> = (0..5)
            .map(|i| record(&format!("item {i}"), axis(i)))
            .collect();
        records[3].embedding[2] = f32::NAN;
        let err = store.insert_batch(records.clone()).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "embedding",
                    index: Some(3),
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().starts_with("item 3: embedding:"), "{err}");
        assert_eq!(store.count().await.unwrap(), 0);
        let found = store
            .search(&query("item", axis(0), SearchMode::Vector, 5))
            .await
            .unwrap();
        assert!(found.is_empty());

        records[3].embedding = axis(3);
        let stored = store.insert_batch(records).await.unwrap();
        assert_eq!(stored.len(), 5);
        for (i, memory) in stored.iter().enumerate() {
            assert_eq!(memory.content, format!("item {i}"));
            assert_eq!(store.get(memory.id).await.unwrap().as_ref(), Some(memory));
        }
        assert!(store.insert_batch(Vec::new()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn updates_change_only_the_given_fields() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let original = store
            .insert(record("Parked on level three", axis(0)))
            .await
            .unwrap();
        store
            .insert(record("Something else entirely", axis(5)))
            .await
            .unwrap();

        let tagged = store
            .update(
                original.id,
                MemoryUpdate {
                    tags: Some(vec!["car".into()]),
                    importance: Some(0.9),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(tagged.content, original.content);
        assert_eq!(tagged.tags, vec!["car".to_string()]);
        assert_eq!(tagged.importance, 0.9);
        assert_eq!(tagged.created_at, original.created_at);
        assert!(tagged.updated_at >= original.updated_at);
        assert_eq!(store.get(original.id).await.unwrap(), Some(tagged.clone()));
        let hits = store
            .search(&query("", axis(0), SearchMode::Vector, 1))
            .await
            .unwrap();
        assert_eq!(hits[0].memory, tagged);

        let moved = store
            .update(
                original.id,
                MemoryUpdate {
                    content: Some("Parked in the basement".into()),
                    embedding: Some(axis(3)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(moved.tags, vec!["car".to_string()]);
        assert_eq!(store.get(original.id).await.unwrap(), Some(moved.clone()));
        let hits = store
            .search(&query("", axis(3), SearchMode::Vector, 1))
            .await
            .unwrap();
        assert_eq!(hits[0].memory.id, original.id);
        assert!((hits[0].score - 1.0).abs() < 1e-5);
        let by_old_vector = store
            .search(&query("", axis(0), SearchMode::Vector, 1))
            .await
            .unwrap();
        assert!(
            by_old_vector[0].score < 0.5,
            "the old vector is gone from the index"
        );
        let by_new_word = store
            .search(&query("basement", Vec::new(), SearchMode::Keyword, 5))
            .await
            .unwrap();
        assert_eq!(contents(&by_new_word), vec!["Parked in the basement"]);
        let by_old_word = store
            .search(&query("level three", Vec::new(), SearchMode::Keyword, 5))
            .await
            .unwrap();
        assert!(by_old_word.is_empty());

        let tagged_with = |tag: &str| {
            let mut search = query("", axis(3), SearchMode::Vector, 5);
            search.filter = MemoryFilter {
                tags: Some(vec![tag.into()]),
                ..Default::default()
            };
            search
        };
        assert_eq!(store.search(&tagged_with("car")).await.unwrap().len(), 1);
        let retagged = MemoryUpdate {
            tags: Some(vec!["bike".into()]),
            ..Default::default()
        };
        store.update(original.id, retagged).await.unwrap();
        assert!(store.search(&tagged_with("car")).await.unwrap().is_empty());
        assert_eq!(store.search(&tagged_with("bike")).await.unwrap().len(), 1);

        let missing = Uuid::now_v7();
        let err = store
            .update(
                missing,
                MemoryUpdate {
                    kind: Some("x".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound(id) if id == missing),
            "{err}"
        );
        let err = store
            .update(
                original.id,
                MemoryUpdate {
                    embedding: Some(vec![0.5; 2]),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Dimension { .. }), "{err}");
    }

    #[tokio::test]
    async fn deleted_memories_are_gone_from_table_and_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let doomed = store
            .insert(record("Old locker code 4411", axis(2)))
            .await
            .unwrap();
        let kept = store
            .insert(record("New locker code 9020", axis(6)))
            .await
            .unwrap();
        assert!(store.delete(doomed.id).await.unwrap());
        assert!(!store.delete(doomed.id).await.unwrap());
        assert_eq!(store.get(doomed.id).await.unwrap(), None);
        assert_eq!(store.count().await.unwrap(), 1);
        let hits = store
            .search(&query("locker code", axis(2), SearchMode::Hybrid, 5))
            .await
            .unwrap();
        assert_eq!(
            hits.iter().map(|h| h.memory.id).collect::<Vec<_>>(),
            vec![kept.id]
        );
        let hits = store
            .search(&query("4411", Vec::new(), SearchMode::Keyword, 5))
            .await
            .unwrap();
        assert!(hits.is_empty());
    }

    #[tokio::test]
    async fn keyset_pages_walk_newest_first_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut inserted = Vec::new();
        for i in 0..25 {
            inserted.push(
                store
                    .insert(record(&format!("memory {i}"), pseudo_random(i)))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list(PageRequest::Keyset { limit: 10, after })
                .await
                .unwrap();
            sizes.push(page.items.len());
            seen.extend(page.items.iter().map(|m| m.id));
            match page.next_cursor {
                Some(text) => after = Some(Cursor::decode(&text).unwrap()),
                None => break,
            }
        }
        assert_eq!(sizes, vec![10, 10, 5]);
        inserted.reverse();
        assert_eq!(seen, inserted, "newest first, each memory once");

        let first = store
            .list(PageRequest::Keyset {
                limit: 10,
                after: None,
            })
            .await
            .unwrap();
        let text = first.next_cursor.unwrap();
        let mut tampered: Vec<char> = text.chars().collect();
        tampered[10] = if tampered[10] == 'A' { 'B' } else { 'A' };
        let tampered: String = tampered.into_iter().collect();
        assert!(matches!(
            Cursor::decode(&tampered),
            Err(StoreError::InvalidCursor(_))
        ));
    }

    #[tokio::test]
    async fn offset_pages_follow_the_same_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let records: Vec<MemoryRecord> = (0..25)
            .map(|i| record(&format!("memory {i}"), pseudo_random(i)))
            .collect();
        store.insert_batch(records).await.unwrap();
        let keyset = store
            .list(PageRequest::Keyset {
                limit: 25,
                after: None,
            })
            .await
            .unwrap();
        assert_eq!(keyset.next_cursor, None);

        let middle = store
            .list(PageRequest::Offset {
                limit: 10,
                offset: 10,
            })
            .await
            .unwrap();
        assert_eq!(middle.items, keyset.items[10..20]);
        let cursor = Cursor::decode(&middle.next_cursor.unwrap()).unwrap();
        let next = store
            .list(PageRequest::Keyset {
                limit: 10,
                after: Some(cursor),
            })
            .await
            .unwrap();
        assert_eq!(next.items, keyset.items[20..]);

        let last = store
            .list(PageRequest::Offset {
                limit: 10,
                offset: 20,
            })
            .await
            .unwrap();
        assert_eq!(last.items, keyset.items[20..]);
        assert_eq!(last.next_cursor, None);
        let beyond = store
            .list(PageRequest::Offset {
                limit: 10,
                offset: 1_000,
            })
            .await
            .unwrap();
        assert!(beyond.items.is_empty() && beyond.next_cursor.is_none());
    }

    #[tokio::test]
    async fn a_reopened_store_keeps_memories_and_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        {
            let writer = store.shared.writer.lock();
            let mode: String = writer
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap();
            let synchronous: i64 = writer
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap();
            assert_eq!(
                (mode.as_str(), synchronous),
                ("wal", 2),
                "WAL with synchronous=FULL"
            );
        }
        let target = store
            .insert(record("Passport is in the blue folder", leaning(0.9, 4)))
            .await
            .unwrap();
        let others: Vec<MemoryRecord> = (0..20)
            .map(|i| record(&format!("filler {i}"), pseudo_random(100 + i)))
            .collect();
        store.insert_batch(others).await.unwrap();
        drop(store);

        let reopened = open(dir.path());
        assert!(dir.path().join("memories.sqlite3").exists());
        assert_eq!(reopened.count().await.unwrap(), 21);
        assert_eq!(reopened.get(target.id).await.unwrap(), Some(target.clone()));
        let hits = reopened
            .search(&query("", leaning(0.9, 4), SearchMode::Vector, 3))
            .await
            .unwrap();
        assert_eq!(hits[0].memory, target);
        assert!((hits[0].score - 1.0).abs() < 1e-5);
    }

    #[tokio::test]
    async fn one_store_at_a_time_per_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = open(dir.path());
        let clone = first.clone();
        let err = EmbeddedMemoryStore::open(&EmbeddedStoreConfig::new(dir.path()), &identity())
            .unwrap_err();
        assert!(matches!(err, StoreError::Io(_)), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&dir.path().display().to_string())
                && message.contains("another Jamey process is using"),
            "{message}"
        );
        drop(first);
        // A clone shares the store, and with it the lock.
        assert!(
            EmbeddedMemoryStore::open(&EmbeddedStoreConfig::new(dir.path()), &identity()).is_err()
        );
        drop(clone);
        let reopened = open(dir.path());
        assert_eq!(reopened.count().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn another_embedder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path()));
        let other = EmbedderIdentity {
            model: "test/other-model".into(),
            dimensions: DIM,
        };
        let err =
            EmbeddedMemoryStore::open(&EmbeddedStoreConfig::new(dir.path()), &other).unwrap_err();
        assert!(matches!(err, StoreError::EmbedderMismatch { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("test/axis-model") && message.contains("test/other-model"),
            "{message}"
        );
        let wider = EmbedderIdentity {
            dimensions: DIM * 2,
            ..identity()
        };
        let err =
            EmbeddedMemoryStore::open(&EmbeddedStoreConfig::new(dir.path()), &wider).unwrap_err();
        assert!(matches!(err, StoreError::EmbedderMismatch { .. }), "{err}");
        open(dir.path());
    }

    #[tokio::test]
    async fn a_selective_filter_still_fills_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        // The rare memories point away from the query, so scanning first and filtering after
        // would find none of them.
        let records: Vec<MemoryRecord> = (0..1_000u64)
            .map(|i| {
                let rare = i % 143 == 0;
                let mut r = record(
                    &format!("memory number {i}"),
                    if rare {
                        leaning(-0.9, 3)
                    } else {
                        leaning(0.8, 1 + (i as usize % 7))
                    },
                );
                r.tags = if rare {
                    vec!["rare".into(), "x".into()]
                } else {
                    vec!["common".into()]
                };
                if rare && i % 2 == 0 {
                    r.kind = "event".into();
                    r.session_id = Some("s1".into());
                }
                r
            })
            .collect();
        store.insert_batch(records).await.unwrap();
        let filtered = |mode: SearchMode, limit: u32, filter: MemoryFilter| {
            let mut search = query("memory number", axis(0), mode, limit);
            search.filter = filter;
            search
        };
        let rare = || MemoryFilter {
            tags: Some(vec!["rare".into()]),
            ..Default::default()
        };
        for mode in [SearchMode::Vector, SearchMode::Hybrid, SearchMode::Keyword] {
            let five = store.search(&filtered(mode, 5, rare())).await.unwrap();
            assert_eq!(five.len(), 5, "{mode:?}");
            assert!(
                five.iter()
                    .all(|h| h.memory.tags.contains(&"rare".to_string())),
                "{mode:?}"
            );
            let ten = store.search(&filtered(mode, 10, rare())).await.unwrap();
            assert_eq!(ten.len(), 7, "{mode:?}");
        }
        let both = MemoryFilter {
            tags: Some(vec!["x".into(), "rare".into()]),
            ..Default::default()
        };
        assert_eq!(
            store
                .search(&filtered(SearchMode::Vector, 10, both))
                .await
                .unwrap()
                .len(),
            7
        );
        let contradictory = MemoryFilter {
            tags: Some(vec!["rare".into(), "common".into()]),
            ..Default::default()
        };
        assert!(store
            .search(&filtered(SearchMode::Vector, 10, contradictory))
            .await
            .unwrap()
            .is_empty());
        let events = MemoryFilter {
            tags: Some(vec!["rare".into()]),
            kind: Some("event".into()),
            session_id: Some("s1".into()),
        };
        let hits = store
            .search(&filtered(SearchMode::Hybrid, 10, events))
            .await
            .unwrap();
        assert_eq!(hits.len(), 4);
        assert!(hits
            .iter()
            .all(|h| h.memory.kind == "event" && h.memory.session_id.as_deref() == Some("s1")));
    }

    #[tokio::test]
    async fn keyword_search_finds_a_rare_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        assert!(store
            .search(&query("Zarkowski", Vec::new(), SearchMode::Keyword, 5))
            .await
            .unwrap()
            .is_empty());
        let records = vec![
            record("Lunch with Ana about the budget", pseudo_random(1)),
            record(
                "Zarkowski said the budget review moves to Friday",
                pseudo_random(2),
            ),
            record(
                "Budgets are due at the end of the quarter",
                pseudo_random(3),
            ),
            record("Call the dentist about the crown", pseudo_random(4)),
        ];
        store.insert_batch(records).await.unwrap();
        let hits = store
            .search(&query(
                "What did Zarkowski say?",
                Vec::new(),
                SearchMode::Keyword,
                5,
            ))
            .await
            .unwrap();
        assert_eq!(
            contents(&hits),
            vec!["Zarkowski said the budget review moves to Friday"]
        );
        assert!(hits[0].score > 0.0 && hits[0].score <= 1.0);

        // Porter stemming: "budgets" matches "budget"; full coverage ranks first.
        let hits = store
            .search(&query("budgets review", Vec::new(), SearchMode::Keyword, 5))
            .await
            .unwrap();
        assert_eq!(hits.len(), 3);
        assert_eq!(
            hits[0].memory.content,
            "Zarkowski said the budget review moves to Friday"
        );
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        assert!(hits[1].score < hits[0].score);

        assert!(store
            .search(&query("okonkwo", Vec::new(), SearchMode::Keyword, 5))
            .await
            .unwrap()
            .is_empty());
        assert!(store
            .search(&query(
                "\"what\" is it?",
                Vec::new(),
                SearchMode::Keyword,
                5
            ))
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn hybrid_promotes_an_exact_rare_name_over_a_closer_vector() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut records = vec![
            record("Lunch with Okonkwo at noon", leaning(0.80, 1)),
            record("Lunch with a colleague at noon", leaning(0.85, 2)),
        ];
        records.extend(
            (0..10).map(|i| record(&format!("Lunch plans number {i}"), leaning(0.1, 3 + i % 5))),
        );
        store.insert_batch(records).await.unwrap();

        let vector = store
            .search(&query("lunch with Okonkwo", axis(0), SearchMode::Vector, 3))
            .await
            .unwrap();
        assert_eq!(vector[0].memory.content, "Lunch with a colleague at noon");

        let hybrid = store
            .search(&query("lunch with Okonkwo", axis(0), SearchMode::Hybrid, 3))
            .await
            .unwrap();
        assert_eq!(hybrid.len(), 3);
        assert_eq!(hybrid[0].memory.content, "Lunch with Okonkwo at noon");
        assert!(
            (hybrid[0].score - (0.80 + DEFAULT_KEYWORD_WEIGHT)).abs() < 1e-4,
            "{}",
            hybrid[0].score
        );
        assert_eq!(hybrid[1].memory.content, "Lunch with a colleague at noon");
        assert!(hybrid.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[tokio::test]
    async fn an_empty_store_finds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        for mode in [SearchMode::Vector, SearchMode::Hybrid, SearchMode::Keyword] {
            assert!(store
                .search(&query("anything at all", axis(0), mode, 10))
                .await
                .unwrap()
                .is_empty());
        }
        let err = store
            .search(&query("anything", vec![0.0; 3], SearchMode::Hybrid, 10))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Dimension { .. }), "{err}");
        let page = store
            .list(PageRequest::Keyset {
                limit: 10,
                after: None,
            })
            .await
            .unwrap();
        assert!(page.items.is_empty() && page.next_cursor.is_none());
    }
}
