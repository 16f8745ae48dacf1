//! Reading a stored row by column name on either backend, for the stores that decode their rows
//! once for both: text, numbers and flags read the same; times, JSON and ids are stored
//! differently (PostgreSQL types; in SQLite microseconds since the epoch, JSON text, UUID text),
//! so each backend says how to read them. A column that is missing or holds something else is
//! an [`Unreadable`] naming it, never a panic.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A column of a stored row that is missing or does not hold what the code expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable {
    pub(crate) column: &'static str,
    pub(crate) reason: String,
}

impl Unreadable {
    pub(crate) fn new(column: &'static str, reason: impl ToString) -> Self {
        Self {
            column,
            reason: reason.to_string(),
        }
    }
}

/// Reads one column of a stored row as a `T`.
pub(crate) trait Column<T> {
    fn column(&self, name: &'static str) -> Result<T, Unreadable>;
}

/// One stored row, read by column name.
pub(crate) trait StoredRow:
    Column<String> + Column<Option<String>> + Column<i64> + Column<bool>
{
    fn time(&self, name: &'static str) -> Result<DateTime<Utc>, Unreadable>;
    fn optional_time(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, Unreadable>;
    fn json(&self, name: &'static str) -> Result<serde_json::Value, Unreadable>;
    fn uuid(&self, name: &'static str) -> Result<Uuid, Unreadable>;
}

/// A count or size column as the unsigned number it is.
pub(crate) fn unsigned(row: &impl StoredRow, name: &'static str) -> Result<u64, Unreadable> {
    let value: i64 = row.column(name)?;
    u64::try_from(value).map_err(|_| Unreadable::new(name, format!("negative value {value}")))
}

/// An unsigned number as the signed integer both databases store (saturating: no count comes
/// near `i64::MAX`).
pub(crate) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl<T: for<'a> tokio_postgres::types::FromSql<'a>> Column<T> for tokio_postgres::Row {
    fn column(&self, name: &'static str) -> Result<T, Unreadable> {
        self.try_get(name).map_err(|e| Unreadable::new(name, e))
    }
}

impl StoredRow for tokio_postgres::Row {
    fn time(&self, name: &'static str) -> Result<DateTime<Utc>, Unreadable> {
        self.column(name)
    }

    fn optional_time(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, Unreadable> {
        self.column(name)
    }

    fn json(&self, name: &'static str) -> Result<serde_json::Value, Unreadable> {
        self.column(name)
    }

    fn uuid(&self, name: &'static str) -> Result<Uuid, Unreadable> {
        self.column(name)
    }
}

impl<T: rusqlite::types::FromSql> Column<T> for rusqlite::Row<'_> {
    fn column(&self, name: &'static str) -> Result<T, Unreadable> {
        self.get(name).map_err(|e| Unreadable::new(name, e))
    }
}

fn from_micros(name: &'static str, stored: i64) -> Result<DateTime<Utc>, Unreadable> {
    DateTime::from_timestamp_micros(stored)
        .ok_or_else(|| Unreadable::new(name, format!("time {stored} is out of range")))
}

impl StoredRow for rusqlite::Row<'_> {
    fn time(&self, name: &'static str) -> Result<DateTime<Utc>, Unreadable> {
        from_micros(name, self.column(name)?)
    }

    fn optional_time(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, Unreadable> {
        let stored: Option<i64> = self.column(name)?;
        stored.map(|micros| from_micros(name, micros)).transpose()
    }

    fn json(&self, name: &'static str) -> Result<serde_json::Value, Unreadable> {
        let text: String = self.column(name)?;
        serde_json::from_str(&text).map_err(|e| Unreadable::new(name, e))
    }

    fn uuid(&self, name: &'static str) -> Result<Uuid, Unreadable> {
        let text: String = self.column(name)?;
        Uuid::parse_str(&text).map_err(|e| Unreadable::new(name, e))
    }
}

/// A time as SQLite stores it: microseconds since the epoch.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}
