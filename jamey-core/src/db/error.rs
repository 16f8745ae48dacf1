//! `DbError`: a PostgreSQL failure classified by what a caller can do about it. Retry later: the
//! connection was lost or could not be made (SQLSTATE class 08, I/O, a closed connection), the
//! server is shutting down or starting (57P01, 57P02, 57P03), the transaction lost a
//! serialization race (40001) or a deadlock (40P01). Fix the request: a unique (23505) or check
//! (23514) constraint refused the row. Anything else is internal. The server's text is kept for
//! the log; the classification and the field are what a client may be told.

use tokio_postgres::error::SqlState;

/// What kind of database failure this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// No connection could be made, or the one in use was lost.
    ConnectionLost,
    /// The server is shutting down, crashed, or is not accepting connections yet.
    Shutdown,
    /// A serializable transaction lost to a concurrent one (40001).
    SerializationFailure,
    /// The transaction was chosen to break a deadlock (40P01).
    Deadlock,
    /// A unique constraint refused the row (23505).
    UniqueViolation,
    /// A check constraint refused the row (23514).
    CheckViolation,
    /// Anything else: a query the schema does not match, a failed migration, a bug.
    Internal,
}

/// A classified PostgreSQL failure. `Display` gives the full detail for the log; clients get
/// only the classification and, for a constraint violation, the field.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct DbError {
    kind: DbErrorKind,
    field: Option<String>,
    detail: String,
}

impl DbError {
    /// An internal failure (not retryable, not the caller's fault) described by `detail`.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(DbErrorKind::Internal, detail)
    }

    /// A failure of `kind` described by `detail`, naming no field.
    pub fn new(kind: DbErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            field: None,
            detail: detail.into(),
        }
    }

    pub fn kind(&self) -> DbErrorKind {
        self.kind
    }

    /// True when the same operation may succeed later: the server was unreachable, restarting,
    /// or the transaction lost a race it may win next time.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            DbErrorKind::ConnectionLost
                | DbErrorKind::Shutdown
                | DbErrorKind::SerializationFailure
                | DbErrorKind::Deadlock
        )
    }

    /// True when the data the caller sent broke a constraint (the 4xx family).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self.kind,
            DbErrorKind::UniqueViolation | DbErrorKind::CheckViolation
        )
    }

    /// For a constraint violation, the column(s) or else the constraint at fault.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

/// The columns a unique violation names in its detail, `Key (a, b)=(...) already exists.`
fn key_columns(detail: &str) -> Option<String> {
    let rest = detail.strip_prefix("Key (")?;
    let (columns, _) = rest.split_once(")=(")?;
    Some(columns.to_string())
}

fn kind_of(code: &SqlState) -> DbErrorKind {
    let code = code.code();
    match code {
        "57P01" | "57P02" | "57P03" => DbErrorKind::Shutdown,
        "40001" => DbErrorKind::SerializationFailure,
        "40P01" => DbErrorKind::Deadlock,
        "23505" => DbErrorKind::UniqueViolation,
        "23514" => DbErrorKind::CheckViolation,
        _ if code.starts_with("08") => DbErrorKind::ConnectionLost,
        _ => DbErrorKind::Internal,
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        let Some(db) = error.as_db_error() else {
            // tokio-postgres keeps its error kinds private; its messages name them.
            let text = error.to_string();
            let lost = error.is_closed()
                || [
                    "error communicating with the server",
                    "error connecting to server",
                    "timeout waiting for server",
                ]
                .iter()
                .any(|prefix| text.starts_with(prefix));
            let kind = if lost {
                DbErrorKind::ConnectionLost
            } else {
                DbErrorKind::Internal
            };
            return Self::new(kind, text);
        };
        let kind = kind_of(db.code());
        let field = match kind {
            DbErrorKind::UniqueViolation => db
                .detail()
                .and_then(key_columns)
                .or_else(|| db.constraint().map(str::to_string)),
            DbErrorKind::CheckViolation => db.column().or(db.constraint()).map(str::to_string),
            _ => None,
        };
        let mut detail = format!("{}: {}", db.code().code(), db.message());
        if let Some(more) = db.detail() {
            detail = format!("{detail} ({more})");
        }
        Self {
            kind,
            field,
            detail,
        }
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError;
        match error {
            PoolError::Backend(e) => e.into(),
            PoolError::Timeout(_) | PoolError::Closed => Self::new(
                DbErrorKind::ConnectionLost,
                format!("connection pool: {error}"),
            ),
            other => Self::internal(format!("connection pool: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        let cases = [
            ("08006", DbErrorKind::ConnectionLost, true, false),
            ("08001", DbErrorKind::ConnectionLost, true, false),
            ("57P01", DbErrorKind::Shutdown, true, false),
            ("57P03", DbErrorKind::Shutdown, true, false),
            ("40001", DbErrorKind::SerializationFailure, true, false),
            ("40P01", DbErrorKind::Deadlock, true, false),
            ("23505", DbErrorKind::UniqueViolation, false, true),
            ("23514", DbErrorKind::CheckViolation, false, true),
            ("42P01", DbErrorKind::Internal, false, false),
            ("23503", DbErrorKind::Internal, false, false),
        ];
        for (code, kind, retryable, client) in cases {
            let classified = kind_of(&SqlState::from_code(code));
            assert_eq!(classified, kind, "{code}");
            let error = DbError::new(classified, code);
            assert_eq!(error.is_retryable(), retryable, "{code}");
            assert_eq!(error.is_client_error(), client, "{code}");
        }
    }

    #[test]
    fn unique_violations_name_their_columns() {
        assert_eq!(
            key_columns("Key (content)=(hello) already exists.").as_deref(),
            Some("content")
        );
        assert_eq!(
            key_columns("Key (session_id, up_to_message)=(a, 3) already exists.").as_deref(),
            Some("session_id, up_to_message")
        );
        assert_eq!(key_columns("something else"), None);
    }
}
