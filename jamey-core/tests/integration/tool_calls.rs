//! The stores behind tool calls, both backends, one suite each: approvals (created, listed,
//! decided once, expired, racing, session grants, seen across instances) and the audit trail
//! (newest first in keyset pages, filters, cursors, limits, and the indexes pages read).

use crate::support::{fresh_database, sql_client};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use jamey_core::approvals::{
    Approval, ApprovalError, ApprovalState, ApprovalStore, Decision, PgApprovalStore, Remember,
    SqliteApprovalStore,
};
use jamey_core::audit::{
    AuditError, CallDecision, PgToolCallLog, SqliteToolCallLog, ToolCallEntry, ToolCallLog,
    ToolCallQuery, MAX_TOOL_CALL_PAGE,
};
use jamey_core::db::{PgDatabase, PgDatabaseConfig, SharedConnection, SqliteFile};
use std::sync::Arc;
use uuid::Uuid;

type Approvals = Arc<dyn ApprovalStore>;
type Log = Arc<dyn ToolCallLog>;

/// Now, to the microsecond both databases keep.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn approval(created_at: DateTime<Utc>, session_id: Option<&str>, fingerprint: &str) -> Approval {
    Approval {
        id: Uuid::new_v4(),
        tool: "process_kill".into(),
        arguments: serde_json::json!({"pid": 4242, "note": "naïve ✓"}),
        fingerprint: fingerprint.into(),
        session_id: session_id.map(str::to_string),
        job_id: None,
        caller: "token:ci".into(),
        created_at,
        expires_at: created_at + Duration::seconds(300),
    }
}

fn already(result: Result<impl std::fmt::Debug, ApprovalError>, expected: ApprovalState) {
    match result {
        Err(ApprovalError::AlreadyDecided { state, .. }) => assert_eq!(state, expected),
        other => panic!("expected already {expected}, got {other:?}"),
    }
}

async fn approvals_suite(store: Approvals) {
    let t0 = now();
    let first = approval(t0, Some("s1"), "f1");
    let second = approval(t0 + Duration::milliseconds(1), Some("s1"), "f2");
    let mut third = approval(t0 + Duration::milliseconds(2), None, "f3");
    third.job_id = Some("nightly".into());
    third.caller = "owner".into();
    // Created out of order, listed oldest first.
    for a in [&third, &first, &second] {
        store.create(a).await.unwrap();
    }
    assert!(store.create(&first).await.is_err(), "an id is used once");
    let pending = store.pending(t0 + Duration::seconds(1)).await.unwrap();
    assert_eq!(pending, vec![first.clone(), second.clone(), third.clone()]);
    let stored = store.get(first.id).await.unwrap().unwrap();
    assert_eq!(
        stored.approval, first,
        "kept whole, times to the microsecond"
    );
    assert_eq!(
        (
            stored.state,
            stored.remember,
            stored.decided_at,
            stored.resolved()
        ),
        (ApprovalState::Pending, Remember::Once, None, None)
    );
    assert!(store.get(Uuid::new_v4()).await.unwrap().is_none());

    // Decided once; the second decision is refused and changes nothing.
    let decided_at = t0 + Duration::seconds(10);
    let decided = store
        .decide(first.id, Decision::Approve, Remember::Session, decided_at)
        .await
        .unwrap();
    assert_eq!(
        (decided.state, decided.remember, decided.decided_at),
        (ApprovalState::Approved, Remember::Session, Some(decided_at))
    );
    assert_eq!(decided.resolved().unwrap().decision, "approve");
    let twice = store
        .decide(first.id, Decision::Deny, Remember::Once, decided_at)
        .await;
    assert!(twice.as_ref().unwrap_err().is_client_error());
    already(twice, ApprovalState::Approved);
    assert_eq!(store.get(first.id).await.unwrap().unwrap(), decided);
    let unknown = Uuid::new_v4();
    assert!(matches!(
        store.decide(unknown, Decision::Approve, Remember::Once, decided_at).await,
        Err(ApprovalError::NotFound(id)) if id == unknown
    ));
    assert!(matches!(
        store.expire(unknown, decided_at).await,
        Err(ApprovalError::NotFound(_))
    ));
    assert_eq!(
        store.pending(decided_at).await.unwrap(),
        vec![second.clone(), third.clone()]
    );

    // Past its time an approval is no longer pending, and a decision comes too late.
    let late = second.expires_at + Duration::milliseconds(1);
    assert_eq!(
        store.pending(second.expires_at).await.unwrap(),
        vec![third.clone()]
    );
    assert!(store.pending(third.expires_at).await.unwrap().is_empty());
    already(
        store
            .decide(second.id, Decision::Approve, Remember::Session, late)
            .await,
        ApprovalState::Expired,
    );
    let expired = store.get(second.id).await.unwrap().unwrap();
    assert_eq!(
        (expired.state, expired.decided_at),
        (ApprovalState::Expired, Some(late))
    );
    assert_eq!(expired.resolved().unwrap().decision, "expired");

    // Expiring ends a pending one, and reports the final state of one already decided.
    let ended = store.expire(third.id, decided_at).await.unwrap();
    assert_eq!(ended.state, ApprovalState::Expired);
    assert_eq!(ended.approval.job_id.as_deref(), Some("nightly"));
    assert_eq!(
        store.expire(third.id, late).await.unwrap().decided_at,
        Some(decided_at),
        "expiring again changes nothing"
    );
    already(
        store
            .decide(third.id, Decision::Approve, Remember::Once, decided_at)
            .await,
        ApprovalState::Expired,
    );
    assert_eq!(
        store.expire(first.id, late).await.unwrap().state,
        ApprovalState::Approved
    );

    // A session grant binds to exactly that call in exactly that session.
    assert!(store.session_grant("s1", "f1").await.unwrap());
    assert!(!store.session_grant("s1", "f2").await.unwrap(), "expired");
    assert!(
        !store.session_grant("s2", "f1").await.unwrap(),
        "another session"
    );
    assert!(!store.session_grant("s1", "f3").await.unwrap());
    let once = approval(t0, Some("s3"), "g");
    let denied = approval(t0, Some("s4"), "g");
    for a in [&once, &denied] {
        store.create(a).await.unwrap();
    }
    store
        .decide(once.id, Decision::Approve, Remember::Once, decided_at)
        .await
        .unwrap();
    let refused = store
        .decide(denied.id, Decision::Deny, Remember::Session, decided_at)
        .await
        .unwrap();
    assert_eq!(refused.resolved().unwrap().decision, "deny");
    assert!(
        !store.session_grant("s3", "g").await.unwrap(),
        "approved once only"
    );
    assert!(!store.session_grant("s4", "g").await.unwrap(), "denied");
}

/// Decisions and expiries racing on the same approvals: exactly one changes each row, and what
/// each side reports agrees with what was stored.
async fn races(store: Approvals) {
    for round in 0..60 {
        let a = approval(now(), Some("race"), &format!("r{round}"));
        store.create(&a).await.unwrap();
        let (id, at) = (a.id, now());
        let (decided, expired) = tokio::join!(
            tokio::spawn({
                let store = store.clone();
                async move {
                    store
                        .decide(id, Decision::Approve, Remember::Once, at)
                        .await
                }
            }),
            tokio::spawn({
                let store = store.clone();
                async move { store.expire(id, at).await }
            }),
        );
        let expired = expired.unwrap().unwrap();
        let stored = store.get(id).await.unwrap().unwrap();
        assert_eq!(stored, expired, "expire returns the final row");
        match decided.unwrap() {
            Ok(won) => {
                assert_eq!(won.state, ApprovalState::Approved);
                assert_eq!(stored.state, ApprovalState::Approved);
            }
            Err(ApprovalError::AlreadyDecided { state, .. }) => {
                assert_eq!(state, ApprovalState::Expired);
                assert_eq!(stored.state, ApprovalState::Expired);
            }
            Err(other) => panic!("round {round}: {other}"),
        }

        // Two decisions: one wins, the other is told what the first decided.
        let b = approval(now(), None, "both");
        store.create(&b).await.unwrap();
        let (shared, id) = (store.clone(), b.id);
        let decide = move |decision| {
            let store = shared.clone();
            tokio::spawn(async move { store.decide(id, decision, Remember::Once, now()).await })
        };
        let (approve, deny) = tokio::join!(decide(Decision::Approve), decide(Decision::Deny));
        let (approve, deny) = (approve.unwrap(), deny.unwrap());
        assert!(approve.is_ok() != deny.is_ok(), "{approve:?} / {deny:?}");
        let final_state = store.get(b.id).await.unwrap().unwrap().state;
        let loser = if approve.is_ok() { deny } else { approve };
        already(loser, final_state);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approvals_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteApprovalStore::open(dir.path()).unwrap());
    approvals_suite(store.clone()).await;
    races(store).await;
    // Reopening keeps every decision.
    let reopened = SqliteApprovalStore::open(dir.path()).unwrap();
    assert!(reopened.session_grant("s1", "f1").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approvals_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let db = PgDatabase::connect(&PgDatabaseConfig::new(url))
        .await
        .unwrap();
    let store = Arc::new(PgApprovalStore::new(db));
    approvals_suite(store.clone()).await;
    races(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_decision_on_one_instance_is_seen_by_another_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let config = PgDatabaseConfig::new(url);
    let here = PgApprovalStore::new(PgDatabase::connect(&config).await.unwrap());
    let there = PgApprovalStore::new(PgDatabase::connect(&config).await.unwrap());
    let a = approval(now(), Some("s"), "f");
    here.create(&a).await.unwrap();
    assert_eq!(there.pending(now()).await.unwrap(), vec![a.clone()]);
    there
        .decide(a.id, Decision::Approve, Remember::Session, now())
        .await
        .unwrap();
    assert_eq!(
        here.get(a.id).await.unwrap().unwrap().state,
        ApprovalState::Approved
    );
    already(
        here.decide(a.id, Decision::Deny, Remember::Once, now())
            .await,
        ApprovalState::Approved,
    );
    assert!(here.session_grant("s", "f").await.unwrap());
    assert!(here.pending(now()).await.unwrap().is_empty());
}

fn entry(
    at: DateTime<Utc>,
    tool: &str,
    session: Option<&str>,
    decision: CallDecision,
) -> ToolCallEntry {
    ToolCallEntry {
        id: Uuid::new_v4(),
        at,
        caller: "owner".into(),
        session_id: session.map(str::to_string),
        job_id: None,
        tool: tool.into(),
        arguments: serde_json::json!({"url": "https://example.com", "headers": {"authorization": "[masked]"}}),
        decision,
        is_error: decision == CallDecision::Refused,
        output_bytes: 1234,
        duration_ms: 56,
        instance: Some("one".into()),
    }
}

/// Every page of `query`, following cursors, as ids.
async fn all_pages(log: &Log, mut query: ToolCallQuery) -> Vec<Uuid> {
    let mut ids = Vec::new();
    loop {
        let page = log.page(&query).await.unwrap();
        assert!(page.items.len() <= query.limit as usize);
        ids.extend(page.items.iter().map(|e| e.id));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return ids,
        }
    }
}

async fn audit_suite(log: Log) {
    let t0 = now();
    let old = entry(
        t0 - Duration::seconds(5),
        "http_fetch",
        Some("s1"),
        CallDecision::Allowed,
    );
    let mut middle = entry(
        t0 - Duration::seconds(3),
        "process_kill",
        Some("s1"),
        CallDecision::Approved,
    );
    middle.job_id = Some("nightly".into());
    middle.caller = "token:ci".into();
    middle.instance = None;
    let new = entry(
        t0 - Duration::seconds(1),
        "process_kill",
        Some("s2"),
        CallDecision::Denied,
    );
    for e in [&middle, &new, &old] {
        log.record(e).await.unwrap();
    }
    assert!(log.record(&old).await.is_err(), "an id is recorded once");
    let newest = log.page(&ToolCallQuery::default()).await.unwrap();
    assert_eq!(newest.items, vec![new.clone(), middle.clone(), old.clone()]);
    assert!(newest.next_cursor.is_none());

    // 250 calls at the same microsecond: pages of every size cover each once, id descending.
    let same = t0;
    let mut burst = Vec::new();
    for i in 0..250 {
        let decision = if i % 5 == 0 {
            CallDecision::Refused
        } else {
            CallDecision::Allowed
        };
        let e = entry(
            same,
            "web_read",
            Some(if i % 2 == 0 { "even" } else { "odd" }),
            decision,
        );
        log.record(&e).await.unwrap();
        burst.push(e);
    }
    let mut expected: Vec<Uuid> = burst.iter().map(|e| e.id).collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    let everything: Vec<Uuid> = expected
        .iter()
        .copied()
        .chain([new.id, middle.id, old.id])
        .collect();
    for limit in [1, 7, 50, 249, 250, MAX_TOOL_CALL_PAGE] {
        let query = ToolCallQuery {
            limit,
            ..ToolCallQuery::default()
        };
        assert_eq!(all_pages(&log, query).await, everything, "limit {limit}");
    }

    // Filters, alone and together, paged the same way.
    let by =
        |tool: Option<&str>, session: Option<&str>, decision: Option<CallDecision>| ToolCallQuery {
            limit: 9,
            cursor: None,
            tool: tool.map(str::to_string),
            session_id: session.map(str::to_string),
            decision,
        };
    let matching = |keep: &dyn Fn(&ToolCallEntry) -> bool| -> Vec<Uuid> {
        let mut all: Vec<&ToolCallEntry> = burst.iter().collect();
        all.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
        all.extend([&new, &middle, &old]);
        all.into_iter().filter(|e| keep(e)).map(|e| e.id).collect()
    };
    assert_eq!(
        all_pages(&log, by(Some("process_kill"), None, None)).await,
        vec![new.id, middle.id]
    );
    assert_eq!(
        all_pages(&log, by(None, Some("s1"), None)).await,
        vec![middle.id, old.id]
    );
    assert_eq!(
        all_pages(&log, by(None, None, Some(CallDecision::Denied))).await,
        vec![new.id]
    );
    assert_eq!(
        all_pages(&log, by(None, None, Some(CallDecision::Refused))).await,
        matching(&|e| e.decision == CallDecision::Refused)
    );
    assert_eq!(
        all_pages(
            &log,
            by(Some("web_read"), Some("even"), Some(CallDecision::Allowed))
        )
        .await,
        matching(
            &|e| e.session_id.as_deref() == Some("even") && e.decision == CallDecision::Allowed
        )
    );
    assert!(all_pages(
        &log,
        by(Some("process_kill"), Some("s1"), Some(CallDecision::Denied))
    )
    .await
    .is_empty());
    assert!(all_pages(&log, by(Some("nothing"), None, None))
        .await
        .is_empty());
    let approved = log
        .page(&by(None, None, Some(CallDecision::Approved)))
        .await
        .unwrap();
    assert_eq!(approved.items, vec![middle.clone()], "every field kept");

    // Cursors are opaque and sealed; limits are bounded.
    let first = log
        .page(&ToolCallQuery {
            limit: 2,
            ..ToolCallQuery::default()
        })
        .await
        .unwrap();
    let cursor = first.next_cursor.unwrap();
    let mut altered = cursor.clone().into_bytes();
    let last = altered.len() - 3;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(altered).unwrap(),
        "forged".into(),
        String::new(),
    ] {
        let query = ToolCallQuery {
            cursor: Some(bad),
            ..ToolCallQuery::default()
        };
        let error = log.page(&query).await.unwrap_err();
        assert!(matches!(error, AuditError::InvalidCursor), "{error}");
        assert!(error.is_client_error());
    }
    for limit in [0, MAX_TOOL_CALL_PAGE + 1] {
        let query = ToolCallQuery {
            limit,
            ..ToolCallQuery::default()
        };
        assert!(matches!(log.page(&query).await, Err(AuditError::InvalidLimit(l)) if l == limit));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_embedded() {
    let dir = tempfile::tempdir().unwrap();
    // The runtime's way: one connection to tools.sqlite3 for both stores.
    let connection = SharedConnection::open(dir.path(), SqliteFile::Tools).unwrap();
    let approvals = SqliteApprovalStore::on(connection.clone());
    let log = Arc::new(SqliteToolCallLog::on(connection));
    audit_suite(log).await;
    approvals.create(&approval(now(), None, "f")).await.unwrap();
    assert_eq!(approvals.pending(now()).await.unwrap().len(), 1);
    let reopened = SqliteToolCallLog::open(dir.path()).unwrap();
    let query = ToolCallQuery {
        limit: 500,
        ..ToolCallQuery::default()
    };
    assert_eq!(reopened.page(&query).await.unwrap().items.len(), 253);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let db = PgDatabase::connect(&PgDatabaseConfig::new(url))
        .await
        .unwrap();
    audit_suite(Arc::new(PgToolCallLog::new(db))).await;
}

/// The queries a page runs, with each filter and with a cursor.
fn planned_queries(cursor: String) -> Vec<ToolCallQuery> {
    let base = ToolCallQuery::default();
    vec![
        base.clone(),
        ToolCallQuery {
            cursor: Some(cursor.clone()),
            ..base.clone()
        },
        ToolCallQuery {
            tool: Some("tool_3".into()),
            cursor: Some(cursor.clone()),
            ..base.clone()
        },
        ToolCallQuery {
            session_id: Some("s7".into()),
            ..base.clone()
        },
        ToolCallQuery {
            decision: Some(CallDecision::Denied),
            cursor: Some(cursor),
            ..base
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_read_an_index_at_twenty_thousand_calls_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let log = PgToolCallLog::new(
        PgDatabase::connect(&PgDatabaseConfig::new(url.clone()))
            .await
            .unwrap(),
    );
    sql_client(&url)
        .await
        .batch_execute(
            "INSERT INTO tool_calls (id, at, caller, session_id, tool, arguments, decision, is_error, \
             output_bytes, duration_ms) \
             SELECT gen_random_uuid(), now() - i * interval '1 second', 'owner', 's' || (i % 50), \
             'tool_' || (i % 20), '{}'::jsonb, \
             (ARRAY['allowed', 'approved', 'denied', 'refused'])[1 + i % 4], false, i, i % 100 \
             FROM generate_series(1, 20000) AS i; ANALYZE tool_calls;",
        )
        .await
        .unwrap();
    let middle = log
        .page(&ToolCallQuery {
            limit: 500,
            ..ToolCallQuery::default()
        })
        .await
        .unwrap();
    for query in planned_queries(middle.next_cursor.unwrap()) {
        let plan = log.explain_page(&query).await.unwrap();
        let text = plan.join("\n");
        assert!(
            text.contains("Index Scan using tool_calls_"),
            "{query:?}\n{text}"
        );
        assert!(!text.contains("Sort"), "{query:?}\n{text}");
        assert!(!text.contains("Seq Scan"), "{query:?}\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_read_an_index_at_twenty_thousand_calls_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteToolCallLog::open(dir.path()).unwrap();
    let mut file = rusqlite::Connection::open(SqliteFile::Tools.path(dir.path())).unwrap();
    let tx = file.transaction().unwrap();
    let base = now().timestamp_micros();
    for i in 0..20_000_i64 {
        tx.execute(
            "INSERT INTO tool_calls (id, at, caller, session_id, tool, arguments, decision, is_error, \
             output_bytes, duration_ms) VALUES (?1, ?2, 'owner', ?3, ?4, '{}', ?5, 0, ?6, 1)",
            rusqlite::params![
                Uuid::new_v4().to_string(),
                base - i * 1_000_000,
                format!("s{}", i % 50),
                format!("tool_{}", i % 20),
                ["allowed", "approved", "denied", "refused"][(i % 4) as usize],
                i
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    file.execute_batch("ANALYZE").unwrap();
    let middle = log
        .page(&ToolCallQuery {
            limit: 500,
            ..ToolCallQuery::default()
        })
        .await
        .unwrap();
    for query in planned_queries(middle.next_cursor.unwrap()) {
        let plan = log.explain_page(&query).await.unwrap().join("\n");
        assert!(
            plan.contains("USING INDEX tool_calls_"),
            "{query:?}\n{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{query:?}\n{plan}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_row_is_an_error_naming_its_column_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let approvals = SqliteApprovalStore::open(dir.path()).unwrap();
    let log = SqliteToolCallLog::open(dir.path()).unwrap();
    let a = approval(now(), None, "f");
    approvals.create(&a).await.unwrap();
    log.record(&entry(now(), "t", None, CallDecision::Allowed))
        .await
        .unwrap();
    let file = rusqlite::Connection::open(SqliteFile::Tools.path(dir.path())).unwrap();
    file.execute_batch(
        "UPDATE approvals SET created_at = 'yesterday'; UPDATE tool_calls SET arguments = '{not json';",
    )
    .unwrap();
    match approvals.get(a.id).await {
        Err(ApprovalError::UnreadableColumn { column, .. }) => assert_eq!(column, "created_at"),
        other => panic!("{other:?}"),
    }
    match log.page(&ToolCallQuery::default()).await {
        Err(AuditError::UnreadableColumn { column, .. }) => assert_eq!(column, "arguments"),
        other => panic!("{other:?}"),
    }
}
