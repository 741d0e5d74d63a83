//! The batch insert, each backend's fastest path (measured in `benches/storage.rs`, figures in
//! `docs/performance.md`). Everything else goes through Diesel; here Diesel's per-value
//! machinery (an AST walk and a bind buffer per row, a statement prepared per multi-row insert)
//! cost more than the database itself.
//!
//! - **SQLite**: a second connection to the same file through `rusqlite` (the same
//!   `libsqlite3-sys`), one prepared `INSERT OR IGNORE` kept for the connection's life, values
//!   bound straight from [`NewTick::cells`], one `BEGIN IMMEDIATE` transaction per batch.
//! - **MySQL/MariaDB**: the batch written as tab-separated text to a temporary file and sent with
//!   `LOAD DATA LOCAL INFILE … IGNORE` (the server's bulk loader: no SQL to parse per value);
//!   a long batch loads in two halves at once over two connections (the server loads each on
//!   its own thread), the positions committing only after both. A server that refuses local
//!   files (`local_infile=OFF`) gets multi-row `INSERT IGNORE` statements instead, with one
//!   warning.
//!
//! Both keep the contract of [`super::commit_batch`]: rows already stored are skipped (replays
//! are idempotent), journal positions move in the same transaction, the count of rows inserted
//! is returned.

use std::path::Path;

use chrono::NaiveDate;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use rusqlite::TransactionBehavior;

use super::models::{Cell, NewTick, Position, quoted};

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
pub(super) use mysql::MysqlBulk;

/// The bulk side of a store.
pub(super) enum Bulk {
    /// SQLite's own connection.
    Sqlite(SqliteBulk),
    /// State of MySQL's loader (the connection is the store's).
    #[cfg(feature = "mysql")]
    Mysql(MysqlBulk),
}

impl Bulk {
    /// How batches go in: `bound_insert` (SQLite), `load_data` or `insert_statements` (MySQL).
    pub(super) fn path(&self) -> &'static str {
        match self {
            Bulk::Sqlite(_) => "bound_insert",
            #[cfg(feature = "mysql")]
            Bulk::Mysql(m) => m.path(),
        }
    }
}

/// The daily table's columns, backtick-quoted (`mode`, `open`, `close` are keywords).
pub(super) fn column_list() -> String {
    quoted(&NewTick::COLUMNS)
}

/// A diesel error carrying `what` (so callers keep one error type).
pub(super) fn db_error(what: String) -> DieselError {
    DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(what))
}

pub(super) fn sqlite_error(e: rusqlite::Error) -> DieselError {
    match e {
        rusqlite::Error::SqliteFailure(code, _)
            if code.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            db_error(format!(
                "SQLite is busy (another writer holds the lock): {e}"
            ))
        }
        e => db_error(format!("SQLite: {e}")),
    }
}

/// SQLite's batch connection.
pub(super) struct SqliteBulk {
    conn: rusqlite::Connection,
    insert: String,
}

impl SqliteBulk {
    /// A connection to the (already migrated) file at `path`, with the store's settings.
    pub(super) fn open(path: &Path) -> Result<SqliteBulk, String> {
        let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
        conn.execute_batch(super::SQLITE_PRAGMAS)
            .map_err(|e| e.to_string())?;
        conn.set_prepared_statement_cache_capacity(4);
        let placeholders = (1..=NewTick::COLUMNS.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(SqliteBulk {
            conn,
            insert: format!(
                "INSERT OR IGNORE INTO daily_ticks ({}) VALUES ({placeholders})",
                column_list()
            ),
        })
    }

    /// See [`super::commit_batch`].
    pub(super) fn commit(
        &mut self,
        rows: &[NewTick],
        positions: &[Position],
    ) -> Result<usize, DieselError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        let mut dates = DateText::default();
        let mut inserted = 0;
        {
            let mut insert = tx.prepare_cached(&self.insert).map_err(sqlite_error)?;
            for row in rows {
                for (i, cell) in row.cells().iter().enumerate() {
                    let at = i + 1;
                    match *cell {
                        Cell::Null => insert.raw_bind_parameter(at, rusqlite::types::Null),
                        Cell::Int(v) => insert.raw_bind_parameter(at, v),
                        Cell::Text(s) => insert.raw_bind_parameter(at, s),
                        Cell::Date(d) => insert.raw_bind_parameter(at, dates.get(d)),
                    }
                    .map_err(sqlite_error)?;
                }
                inserted += insert.raw_execute().map_err(sqlite_error)?;
            }
            let mut position = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO journal_positions \
                     (trade_date, socket, generation, committed_offset) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sqlite_error)?;
            for p in positions {
                position
                    .execute((
                        dates.get(p.trade_date),
                        p.socket,
                        p.generation,
                        p.committed_offset,
                    ))
                    .map_err(sqlite_error)?;
            }
        }
        tx.commit().map_err(sqlite_error)?;
        Ok(inserted)
    }
}

/// A date as SQLite stores it (`YYYY-MM-DD`, as Diesel writes it), formatted once per batch.
#[derive(Default)]
struct DateText {
    date: Option<NaiveDate>,
    text: String,
}

impl DateText {
    fn get(&mut self, date: NaiveDate) -> &str {
        if self.date != Some(date) {
            self.text = date.format("%Y-%m-%d").to_string();
            self.date = Some(date);
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::schema::daily_ticks;

    #[test]
    fn the_column_list_is_the_tables() {
        use diesel::Column;
        assert_eq!(NewTick::COLUMNS.len(), 53);
        assert_eq!(NewTick::COLUMNS[0], daily_ticks::trade_date::NAME);
        assert_eq!(NewTick::COLUMNS[52], daily_ticks::ask5_orders::NAME);
    }
}
