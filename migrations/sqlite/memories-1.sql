-- The embedded memory store (memories.sqlite3), schema version 1. IF NOT EXISTS throughout, so a
-- file made by the schema that used to live in the code adopts this one unchanged.
CREATE TABLE IF NOT EXISTS memories (
    -- Declared, so VACUUM never renumbers rows that the FTS and vector indexes refer to;
    -- AUTOINCREMENT, so a deleted row's number is never reused and a search that raced a
    -- delete cannot attach one memory's score to another.
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    content TEXT NOT NULL,
    kind TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    session_id TEXT,
    importance REAL NOT NULL,
    embedding BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_newest ON memories (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS memories_kind ON memories (kind);
CREATE INDEX IF NOT EXISTS memories_session ON memories (session_id);

CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    content,
    content = 'memories',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_update AFTER UPDATE OF content ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    INSERT INTO memories_fts (rowid, content) VALUES (new.rowid, new.content);
END;

-- The tags again, one row each, so that a tag filter is an index lookup rather than a JSON
-- parse of every row.
CREATE TABLE IF NOT EXISTS memory_tags (
    tag TEXT NOT NULL,
    memory INTEGER NOT NULL,
    PRIMARY KEY (tag, memory)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS memory_tags_by_memory ON memory_tags (memory);
CREATE TRIGGER IF NOT EXISTS memory_tags_insert AFTER INSERT ON memories BEGIN
    INSERT OR IGNORE INTO memory_tags (tag, memory) SELECT value, new.rowid FROM json_each(new.tags);
END;
CREATE TRIGGER IF NOT EXISTS memory_tags_delete AFTER DELETE ON memories BEGIN
    DELETE FROM memory_tags WHERE memory = old.rowid;
END;
CREATE TRIGGER IF NOT EXISTS memory_tags_update AFTER UPDATE OF tags ON memories WHEN old.tags IS NOT new.tags BEGIN
    DELETE FROM memory_tags WHERE memory = old.rowid;
    INSERT OR IGNORE INTO memory_tags (tag, memory) SELECT value, new.rowid FROM json_each(new.tags);
END;

-- Which embedder the vectors come from, and an unfinished re-embedding's target.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
