-- The embedded tool store (tools.sqlite3), schema version 1: the tables of
-- ../V4__tool_calls.sql in SQLite's types (times in microseconds since the epoch, JSON and UUIDs
-- as text, flags as 0 or 1).
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    session_id TEXT,
    job_id TEXT,
    caller TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
    remember TEXT NOT NULL DEFAULT 'once' CHECK (remember IN ('once', 'session')),
    decided_at INTEGER
);
CREATE INDEX approvals_pending ON approvals (created_at, id) WHERE state = 'pending';
CREATE INDEX approvals_session_grants ON approvals (session_id, fingerprint)
    WHERE state = 'approved' AND remember = 'session';

CREATE TABLE tool_calls (
    id TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    caller TEXT NOT NULL,
    session_id TEXT,
    job_id TEXT,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('allowed', 'approved', 'denied', 'refused')),
    is_error INTEGER NOT NULL CHECK (is_error IN (0, 1)),
    output_bytes INTEGER NOT NULL CHECK (output_bytes >= 0),
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    instance TEXT
);
CREATE INDEX tool_calls_newest ON tool_calls (at DESC, id DESC);
CREATE INDEX tool_calls_tool ON tool_calls (tool, at DESC, id DESC);
CREATE INDEX tool_calls_session ON tool_calls (session_id, at DESC, id DESC);
CREATE INDEX tool_calls_decision ON tool_calls (decision, at DESC, id DESC);
