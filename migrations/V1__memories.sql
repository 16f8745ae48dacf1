-- Long-term memory. The embedding column gets its dimension (and its HNSW index) when the store
-- first opens with an embedder, recorded in jamey_store_meta; see PgMemoryStore::connect.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS jamey_store_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE IF NOT EXISTS memories (
    id          uuid PRIMARY KEY,
    content     text        NOT NULL,
    kind        text        NOT NULL,
    tags        text[]      NOT NULL DEFAULT '{}',
    metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    session_id  text,
    importance  real        NOT NULL,
    embedding   vector      NOT NULL,
    content_tsv tsvector    GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Keyword search.
CREATE INDEX IF NOT EXISTS memories_content_tsv_idx ON memories USING gin (content_tsv);
-- Keyset pagination, newest first.
CREATE INDEX IF NOT EXISTS memories_created_id_idx ON memories (created_at DESC, id DESC);
-- Search filters.
CREATE INDEX IF NOT EXISTS memories_tags_idx ON memories USING gin (tags);
CREATE INDEX IF NOT EXISTS memories_kind_idx ON memories (kind);
CREATE INDEX IF NOT EXISTS memories_session_idx ON memories (session_id) WHERE session_id IS NOT NULL;
