-- Conversations: sessions, their append-only messages, checkpoints that summarize what the
-- prompt window dropped, and the ledger of paid model calls.
CREATE TABLE IF NOT EXISTS chat_sessions (
    id            text PRIMARY KEY,
    title         text,
    message_count bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_sessions_active_idx ON chat_sessions (updated_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS chat_messages (
    id          bigserial PRIMARY KEY,
    session_id  text        NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role        text        NOT NULL,
    content     text        NOT NULL,
    tool_calls  jsonb       NOT NULL DEFAULT '[]'::jsonb,
    tool_result jsonb,
    status      text        NOT NULL,
    model       text,
    created_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_messages_session_idx ON chat_messages (session_id, id);

CREATE TABLE IF NOT EXISTS chat_checkpoints (
    id            bigserial PRIMARY KEY,
    session_id    text        NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    up_to_message bigint      NOT NULL,
    summary       text        NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_checkpoints_session_idx ON chat_checkpoints (session_id, up_to_message DESC);

CREATE TABLE IF NOT EXISTS llm_usage (
    id                bigserial PRIMARY KEY,
    session_id        text,
    model             text             NOT NULL,
    prompt_tokens     bigint           NOT NULL,
    completion_tokens bigint           NOT NULL,
    cost_usd          double precision NOT NULL,
    created_at        timestamptz      NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_usage_session_idx ON llm_usage (session_id, created_at);
CREATE INDEX IF NOT EXISTS llm_usage_created_idx ON llm_usage (created_at);
