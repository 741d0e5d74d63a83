//! Storage through Diesel: the daily tick table, journal positions, the instrument snapshot and
//! the gap ledger. Queries are plain functions taking `&mut` a connection; the persister calls
//! them from its own thread, never from the async event loop.
//!
//! The backend is chosen by the storage URL: `sqlite://PATH` (MySQL/MariaDB arrives with the
//! storage issue, with its own migrations beside `migrations/sqlite/`). Migrations are embedded
//! in the binary and run when the store opens.

pub mod models;
pub mod schema;

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use self::models::{Gap, NewGap, NewInstrument, NewTick, Position};

/// The SQLite migrations, compiled in.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Rows per INSERT statement: 52 columns × 500 rows stays under SQLite's 32,766 parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// Why the store failed; each variant is a decision for the caller.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL names no supported backend (a settings error).
    #[error("unsupported storage URL `{0}`: use sqlite://PATH")]
    BadUrl(String),
    /// The database cannot be reached or opened: retry later, data waits in the journal.
    #[error("cannot open the database: {0}")]
    Unavailable(String),
    /// Migrations failed: stop, the schema is not what the code expects.
    #[error("cannot migrate the database: {0}")]
    Migration(String),
    /// A query failed: retry the batch later, data waits in the journal.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
}

/// Where the data goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
}

impl StorageUrl {
    /// Parses `sqlite://PATH` (relative paths are relative to the working directory).
    pub fn parse(url: &str) -> Result<StorageUrl, StorageError> {
        match url.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => Ok(StorageUrl::Sqlite(PathBuf::from(path))),
            _ => Err(StorageError::BadUrl(url.to_string())),
        }
    }
}

/// An open database connection with the schema migrated.
pub struct Store {
    conn: SqliteConnection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store(sqlite)")
    }
}

impl Store {
    /// Opens (creating if needed) and migrates.
    pub fn open(url: &StorageUrl) -> Result<Store, StorageError> {
        let StorageUrl::Sqlite(path) = url;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StorageError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let mut conn = SqliteConnection::establish(&path.to_string_lossy())
            .map_err(|e| StorageError::Unavailable(format!("{}: {e}", path.display())))?;
        // WAL lets readers (sqlite3, tests) look while the persister writes; NORMAL is durable
        // across process crashes, and the journal covers a power cut. A 64 MiB page cache keeps
        // the token index's hot pages in memory (the default 2 MiB re-reads them every batch).
        conn.batch_execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; \
             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )
        .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        conn.run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|e| StorageError::Migration(e.to_string()))?;
        Ok(Store { conn })
    }

    /// The connection, for the query functions below.
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

/// Inserts `rows` (already-present keys are skipped) and moves the sockets' committed journal
/// offsets, in one transaction. Returns the rows actually inserted.
pub fn commit_batch(
    conn: &mut SqliteConnection,
    rows: &[NewTick],
    positions: &[Position],
) -> QueryResult<usize> {
    use schema::{daily_ticks, journal_positions};
    conn.transaction(|conn| {
        let mut inserted = 0;
        for row in rows {
            // INSERT OR IGNORE: a replayed row is skipped. One prepared statement, reused.
            inserted += diesel::insert_or_ignore_into(daily_ticks::table)
                .values(row)
                .execute(conn)?;
        }
        for position in positions {
            diesel::insert_into(journal_positions::table)
                .values(position)
                .on_conflict((journal_positions::trade_date, journal_positions::socket))
                .do_update()
                .set(journal_positions::committed_offset.eq(position.committed_offset))
                .execute(conn)?;
        }
        Ok(inserted)
    })
}

/// The committed journal offset of each socket on `date`.
pub fn positions(conn: &mut SqliteConnection, date: NaiveDate) -> QueryResult<HashMap<i16, i64>> {
    use schema::journal_positions::dsl;
    Ok(dsl::journal_positions
        .filter(dsl::trade_date.eq(date))
        .select(Position::as_select())
        .load(conn)?
        .into_iter()
        .map(|p| (p.socket, p.committed_offset))
        .collect())
}

/// Replaces `date`'s instrument snapshot.
pub fn save_instruments(
    conn: &mut SqliteConnection,
    date: NaiveDate,
    rows: &[NewInstrument],
) -> QueryResult<()> {
    use schema::instruments::dsl;
    conn.transaction(|conn| {
        diesel::delete(dsl::instruments.filter(dsl::trade_date.eq(date))).execute(conn)?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            diesel::insert_into(dsl::instruments)
                .values(chunk)
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Appends to the gap ledger.
pub fn record_gap(conn: &mut SqliteConnection, gap: &NewGap) -> QueryResult<()> {
    diesel::insert_into(schema::gaps::table)
        .values(gap)
        .execute(conn)
        .map(|_| ())
}

/// The gap ledger of `date`.
pub fn gaps(conn: &mut SqliteConnection, date: NaiveDate) -> QueryResult<Vec<Gap>> {
    use schema::gaps::dsl;
    dsl::gaps
        .filter(dsl::trade_date.eq(date))
        .order(dsl::id)
        .select(Gap::as_select())
        .load(conn)
}

/// Rows per instrument token on `date`.
pub fn rows_per_token(
    conn: &mut SqliteConnection,
    date: NaiveDate,
) -> QueryResult<HashMap<u32, u64>> {
    use diesel::dsl::count_star;
    use schema::daily_ticks::dsl;
    let counts: Vec<(i64, i64)> = dsl::daily_ticks
        .filter(dsl::trade_date.eq(date))
        .group_by(dsl::instrument_token)
        .select((dsl::instrument_token, count_star()))
        .load(conn)?;
    Ok(counts
        .into_iter()
        .map(|(t, n)| (t as u32, n as u64))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kite::{Level, PacketKind, Tick};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url =
            StorageUrl::parse(&format!("sqlite://{}", dir.path().join("t.db").display())).unwrap();
        (dir, Store::open(&url).unwrap())
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    }

    #[test]
    fn urls_name_the_backend() {
        assert_eq!(
            StorageUrl::parse("sqlite://data/x.db").unwrap(),
            StorageUrl::Sqlite("data/x.db".into())
        );
        assert!(StorageUrl::parse("postgres://x").is_err());
        assert!(StorageUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn a_batch_and_its_position_commit_together_and_replays_insert_nothing() {
        let (_dir, mut store) = store();
        let mut full = Tick::new(PacketKind::Full, 408_065);
        full.last_price = 158_380;
        full.exchange_timestamp = 1_795_600_000;
        full.depth.sell[0] = Level {
            quantity: 10,
            price: 158_385,
            orders: 2,
        };
        let ltp = Tick::new(PacketKind::Ltp, 256_265);
        let rows = vec![
            NewTick::new(day(), 1, 8 << 16, 1, &full),
            NewTick::new(day(), 1, (8 << 16) | 1, 1, &ltp),
        ];
        let pos = Position {
            trade_date: day(),
            socket: 1,
            committed_offset: 100,
        };
        assert_eq!(commit_batch(store.conn(), &rows, &[pos]).unwrap(), 2);
        assert_eq!(
            commit_batch(store.conn(), &rows, &[pos]).unwrap(),
            0,
            "idempotent"
        );
        assert_eq!(
            positions(store.conn(), day()).unwrap(),
            HashMap::from([(1, 100)])
        );
        let counts = rows_per_token(store.conn(), day()).unwrap();
        assert_eq!(counts, HashMap::from([(408_065, 1), (256_265, 1)]));
        // Exact integers, NULL for what a packet lacks.
        use schema::daily_ticks::dsl;
        let (price, ask1, oi): (i64, Option<i64>, Option<i64>) = dsl::daily_ticks
            .filter(dsl::instrument_token.eq(408_065))
            .select((dsl::last_price, dsl::ask1_price, dsl::oi))
            .first(store.conn())
            .unwrap();
        assert_eq!((price, ask1, oi), (158_380, Some(158_385), Some(0)));
        let ltp_volume: Option<i64> = dsl::daily_ticks
            .filter(dsl::instrument_token.eq(256_265))
            .select(dsl::volume)
            .first(store.conn())
            .unwrap();
        assert_eq!(ltp_volume, None);
    }

    #[test]
    fn the_gap_ledger_keeps_each_interval() {
        let (_dir, mut store) = store();
        let gap = NewGap {
            trade_date: day(),
            socket: 2,
            start_us: 10,
            end_us: 20,
            cause: "disconnect".into(),
            instruments: 3000,
        };
        record_gap(store.conn(), &gap).unwrap();
        let all = gaps(store.conn(), day()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (
                all[0].socket,
                all[0].end_us - all[0].start_us,
                all[0].cause.as_str()
            ),
            (2, 10, "disconnect")
        );
    }
}
