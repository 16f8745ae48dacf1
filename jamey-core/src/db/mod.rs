//! The database layer the stores sit on: the shared PostgreSQL database (one pool, every
//! migration in `migrations/`) and the embedded stores' SQLite files (their schema from
//! `migrations/sqlite/`), with database failures classified by what a caller can do about them.

pub(crate) mod cursor;
mod error;
pub mod postgres;
pub(crate) mod rows;
pub mod sqlite;

pub use error::{DbError, DbErrorKind};
pub use postgres::{redact_url, MigrationLock, PgDatabase, PgDatabaseConfig};
pub use sqlite::{SharedConnection, SqliteError, SqliteFile};
