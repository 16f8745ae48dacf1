-- Tools: approvals waiting for (or given) the user's decision, and the audit trail of every
-- tool call. Arguments arrive with secrets already masked and are stored as given.
CREATE TABLE IF NOT EXISTS approvals (
    id          uuid PRIMARY KEY,
    tool        text        NOT NULL,
    arguments   jsonb       NOT NULL,
    fingerprint text        NOT NULL,
    session_id  text,
    job_id      text,
    caller      text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    state       text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
    remember    text        NOT NULL DEFAULT 'once' CHECK (remember IN ('once', 'session')),
    decided_at  timestamptz
);
CREATE INDEX IF NOT EXISTS approvals_pending_idx ON approvals (created_at, id)
    WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS approvals_session_grants_idx ON approvals (session_id, fingerprint)
    WHERE state = 'approved' AND remember = 'session';

CREATE TABLE IF NOT EXISTS tool_calls (
    id           uuid PRIMARY KEY,
    at           timestamptz NOT NULL,
    caller       text        NOT NULL,
    session_id   text,
    job_id       text,
    tool         text        NOT NULL,
    arguments    jsonb       NOT NULL,
    decision     text        NOT NULL
        CHECK (decision IN ('allowed', 'approved', 'denied', 'refused')),
    is_error     boolean     NOT NULL,
    output_bytes bigint      NOT NULL CHECK (output_bytes >= 0),
    duration_ms  bigint      NOT NULL CHECK (duration_ms >= 0),
    instance     text
);
CREATE INDEX IF NOT EXISTS tool_calls_newest_idx ON tool_calls (at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tool_calls_tool_idx ON tool_calls (tool, at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tool_calls_session_idx ON tool_calls (session_id, at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tool_calls_decision_idx ON tool_calls (decision, at DESC, id DESC);
