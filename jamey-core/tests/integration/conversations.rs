//! The conversation stores, both backends, one suite: sessions, append-only messages in keyset
//! pages, checkpoints and the cost ledger.

use crate::support::{fresh_database, identity, sql_client};
use jamey_core::conversation::{
    Checkpoint, ConversationError, ConversationStore, NewMessage, PgConversationStore,
    SqliteConversationStore, UsageRecord,
};
use jamey_core::db::{PgDatabase, PgDatabaseConfig, SqliteFile};
use jamey_core::memory::{PgMemoryStore, PgStoreConfig};
use jamey_protocol::{MessageStatus, Role, ToolCall, ToolResult};
use std::sync::Arc;

type Store = Arc<dyn ConversationStore>;

async fn suite(store: Store) {
    // Sessions are created on first use and listed most recently active first.
    let a = store.open_session("work", Some("Work")).await.unwrap();
    assert_eq!((a.id.as_str(), a.message_count), ("work", 0));
    let again = store.open_session("work", Some("ignored")).await.unwrap();
    assert_eq!(again.title.as_deref(), Some("Work"));
    store.open_session("home", None).await.unwrap();
    assert!(matches!(
        store.open_session("bad id!", None).await,
        Err(ConversationError::Invalid {
            field: "session_id",
            ..
        })
    ));

    // Messages are appended in order, with tool calls and results kept whole.
    let user = store
        .append("work", NewMessage::text(Role::User, "What is on today?"))
        .await
        .unwrap();
    let mut calling = NewMessage::text(Role::Assistant, "");
    calling.tool_calls = vec![ToolCall {
        id: "call_1".into(),
        name: "memory_search".into(),
        arguments: r#"{"query":"today"}"#.into(),
    }];
    calling.model = Some("m/one".into());
    store.append("work", calling).await.unwrap();
    let mut result = NewMessage::text(Role::Tool, "[]");
    result.tool_result = Some(ToolResult {
        call_id: "call_1".into(),
        content: "[]".into(),
        is_error: false,
    });
    store.append("work", result).await.unwrap();
    let mut cut = NewMessage::text(Role::Assistant, "You have a meet");
    cut.status = MessageStatus::Incomplete;
    let last = store.append("work", cut).await.unwrap();
    assert!(last.id > user.id);
    assert!(matches!(
        store
            .append("nobody", NewMessage::text(Role::User, "x"))
            .await,
        Err(ConversationError::SessionNotFound(_))
    ));

    let sessions = store.list_sessions(1, None).await.unwrap();
    assert_eq!(sessions.items[0].id, "work");
    assert_eq!(sessions.items[0].message_count, 4);
    let rest = store
        .list_sessions(10, sessions.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].id, "home");
    assert!(rest.next_cursor.is_none());

    // Keyset pages, oldest first, cover every message exactly once.
    let first = store.messages("work", 3, None).await.unwrap();
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.items[0].content, "What is on today?");
    assert_eq!(first.items[1].tool_calls[0].name, "memory_search");
    assert_eq!(first.items[1].model.as_deref(), Some("m/one"));
    assert_eq!(
        first.items[2].tool_result.as_ref().unwrap().call_id,
        "call_1"
    );
    let second = store
        .messages("work", 3, first.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].status, MessageStatus::Incomplete);
    assert!(second.next_cursor.is_none());
    assert!(matches!(
        store.messages("work", 3, Some("forged")).await,
        Err(ConversationError::InvalidCursor(_))
    ));
    assert!(matches!(
        store.messages("nobody", 3, None).await,
        Err(ConversationError::SessionNotFound(_))
    ));
    assert!(matches!(
        store.messages("work", 0, None).await,
        Err(ConversationError::Invalid { field: "limit", .. })
    ));

    // Recent messages after a checkpoint, oldest first.
    let recent = store.recent_messages("work", None, 2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[1].id, last.id);
    assert!(store.latest_checkpoint("work").await.unwrap().is_none());
    store
        .save_checkpoint(&Checkpoint {
            session_id: "work".into(),
            up_to_message: user.id,
            summary: "The user asked about today.".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let checkpoint = store.latest_checkpoint("work").await.unwrap().unwrap();
    assert_eq!(checkpoint.up_to_message, user.id);
    let after = store
        .recent_messages("work", Some(checkpoint.up_to_message), 100)
        .await
        .unwrap();
    assert_eq!(after.len(), 3);

    // The ledger sums per session and overall.
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    for (session, cost) in [(Some("work"), 0.25), (Some("work"), 0.5), (None, 1.0)] {
        store
            .record_usage(&UsageRecord {
                session_id: session.map(str::to_string),
                model: "m/one".into(),
                prompt_tokens: 100,
                completion_tokens: 20,
                cost_usd: cost,
            })
            .await
            .unwrap();
    }
    let work = store.usage_totals(Some("work"), since).await.unwrap();
    assert_eq!(
        (work.requests, work.prompt_tokens, work.completion_tokens),
        (2, 200, 40)
    );
    assert!((work.cost_usd - 0.75).abs() < 1e-9);
    let all = store.usage_totals(None, since).await.unwrap();
    assert!((all.cost_usd - 1.75).abs() < 1e-9);
    let future = store
        .usage_totals(None, chrono::Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(future.requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_embedded() {
    let dir = tempfile::tempdir().unwrap();
    suite(Arc::new(SqliteConversationStore::open(dir.path()).unwrap())).await;
    // Reopening keeps everything.
    let reopened = SqliteConversationStore::open(dir.path()).unwrap();
    assert_eq!(
        reopened
            .session("work")
            .await
            .unwrap()
            .unwrap()
            .message_count,
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    // The runtime's way: one database, both stores on it.
    let config = PgStoreConfig::new(url);
    let db = PgDatabase::connect(&config.database()).await.unwrap();
    let memories = PgMemoryStore::open(db.clone(), &config, &identity())
        .await
        .unwrap();
    suite(Arc::new(PgConversationStore::new(db))).await;
    assert_eq!(
        jamey_core::MemoryStore::count(&memories).await.unwrap(),
        0,
        "the memory store shares the database"
    );
}

fn names_column(result: Result<impl std::fmt::Debug, ConversationError>, expected: &str) {
    match result {
        Err(ConversationError::UnreadableColumn { column, .. }) => assert_eq!(column, expected),
        other => panic!("expected an unreadable {expected}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_row_is_an_error_naming_its_column_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let store = PgConversationStore::new(
        PgDatabase::connect(&PgDatabaseConfig::new(url.clone()))
            .await
            .unwrap(),
    );
    store.open_session("s", None).await.unwrap();
    store
        .append("s", NewMessage::text(Role::User, "hi"))
        .await
        .unwrap();
    let client = sql_client(&url).await;
    client
        .batch_execute("UPDATE chat_messages SET tool_calls = '{\"not\": \"a list\"}'::jsonb")
        .await
        .unwrap();
    names_column(store.messages("s", 10, None).await, "tool_calls");
    client
        .batch_execute("ALTER TABLE chat_sessions ALTER COLUMN message_count TYPE text")
        .await
        .unwrap();
    names_column(store.session("s").await, "message_count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_row_is_an_error_naming_its_column_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteConversationStore::open(dir.path()).unwrap();
    store.open_session("s", None).await.unwrap();
    store
        .append("s", NewMessage::text(Role::User, "hi"))
        .await
        .unwrap();
    let file = rusqlite::Connection::open(SqliteFile::Conversations.path(dir.path())).unwrap();
    file.execute_batch("UPDATE chat_messages SET created_at = 'yesterday'")
        .unwrap();
    names_column(store.messages("s", 10, None).await, "created_at");
    file.execute_batch("UPDATE chat_sessions SET message_count = 'many'")
        .unwrap();
    names_column(store.session("s").await, "message_count");
}
