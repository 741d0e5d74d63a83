//! Storage through Diesel: the daily tick table, journal positions, the instrument snapshot, the
//! gap ledger, and the master store the end of day moves each day into ([`eod`]). Queries are
//! plain functions taking `&mut` a [`Db`]; the persister and the end-of-day actor call them from
//! their own threads, never from the async event loop.
//!
//! The backend is chosen by the storage URL: `sqlite://PATH` or `mysql://USER:PASSWORD@HOST:PORT/DB`
//! (MySQL or MariaDB). Each has its migrations (`migrations/sqlite/`, `migrations/mysql/`),
//! embedded in the binary and run when the store opens. [`Db`] holds either connection and
//! every query is written once in Diesel's DSL and compiled for both ([`on_backend!`]); only the
//! batch insert ([`commit_batch`]) takes each backend's own fast path (`bulk`: a prepared
//! statement bound directly on SQLite, `LOAD DATA LOCAL INFILE` on MySQL).

mod bulk;
pub mod eod;
pub mod export;
pub mod models;
mod queries;
pub mod schema;
mod url;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
#[cfg(feature = "mysql")]
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use queries::*;
pub use url::{StorageUrl, redact};

/// The SQLite migrations, compiled in.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// The MySQL/MariaDB migrations, compiled in.
#[cfg(feature = "mysql")]
pub const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// Rows per multi-row INSERT of instruments on SQLite (13 columns; its limit is 32,766
/// parameters).
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

/// How every SQLite connection is set up. WAL lets readers (sqlite3, tests) look while the
/// persister writes; NORMAL is durable across process crashes, and the journal covers a power
/// cut; a 64 MiB page cache and in-memory temporary tables serve the end of day's sorts.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;";

/// Why the store failed; each variant is a decision for the caller.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL names no supported backend (a settings error).
    #[error(
        "unsupported storage URL `{0}`: use sqlite://PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE"
    )]
    BadUrl(String),
    /// The URL names a backend this binary was built without (a settings error: rebuild, or
    /// choose another backend).
    #[error(
        "this tickvault was built without MySQL/MariaDB support: rebuild with `--features mysql` \
         (needs `apt-get install libmariadb-dev`), install the Debian package, or use sqlite://PATH"
    )]
    NotBuilt,
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

/// A connection to either backend.
pub enum Db {
    /// SQLite.
    Sqlite(SqliteConnection),
    /// MySQL or MariaDB (the `mysql` feature).
    #[cfg(feature = "mysql")]
    Mysql(MysqlConnection),
}

impl Db {
    /// Whether this is a MySQL/MariaDB connection (SQL dialects differ in a few places).
    pub fn is_mysql(&self) -> bool {
        match self {
            Db::Sqlite(_) => false,
            #[cfg(feature = "mysql")]
            Db::Mysql(_) => true,
        }
    }
}

/// Runs `$body` with `$c` bound to the inner connection, whichever the backend: the same Diesel
/// code, compiled once per backend built in.
#[cfg(feature = "mysql")]
#[macro_export]
macro_rules! on_backend {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite($c) => $body,
            $crate::storage::Db::Mysql($c) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the inner connection (SQLite only: built without `mysql`).
#[cfg(not(feature = "mysql"))]
#[macro_export]
macro_rules! on_backend {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite($c) => $body,
        }
    };
}
pub use on_backend;

/// An open database connection with the schema migrated.
pub struct Store {
    db: Db,
    bulk: bulk::Bulk,
    url: StorageUrl,
    /// A SQLite file's device and inode when it was opened: a file deleted or replaced under
    /// the open connection is noticed ([`Store::replaced`]).
    identity: Option<(u64, u64)>,
}

/// Moves the `-wal` and `-shm` files of the missing SQLite database `path` out of the way of
/// a new one (logged; a failure to move is logged too, and the open that follows decides).
fn set_aside_orphans(path: &std::path::Path) {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let orphan = std::path::PathBuf::from(name);
        if !orphan.exists() {
            continue;
        }
        let mut aside = orphan.clone().into_os_string();
        aside.push(format!(".orphaned-{stamp}"));
        match std::fs::rename(&orphan, &aside) {
            Ok(()) => {
                tracing::warn!(from = %orphan.display(), to = %std::path::Path::new(&aside).display(), "moved aside a file of the deleted database")
            }
            Err(e) => {
                tracing::error!(path = %orphan.display(), error = %e, "cannot move aside a file of the deleted database")
            }
        }
    }
}

/// A file's (device, inode).
fn identity_of(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.url)
    }
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates.
    pub fn open(url: &StorageUrl) -> Result<Store, StorageError> {
        let mut db = connect(url)?;
        match &mut db {
            Db::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
            #[cfg(feature = "mysql")]
            Db::Mysql(c) => c.run_pending_migrations(MYSQL_MIGRATIONS).map(|_| ()),
        }
        .map_err(|e| StorageError::Migration(e.to_string()))?;
        let identity = match url {
            StorageUrl::Sqlite(path) => identity_of(path),
            StorageUrl::Mysql(_) => None,
        };
        Ok(Store {
            db,
            bulk: open_bulk(url)?,
            url: url.clone(),
            identity,
        })
    }

    /// Whether the SQLite file this store opened is gone or is another file now (deleted, or
    /// replaced by a restore): the open connection writes where nobody will read. Never for
    /// MySQL.
    pub fn replaced(&self) -> bool {
        match &self.url {
            StorageUrl::Sqlite(path) => identity_of(path) != self.identity,
            StorageUrl::Mysql(_) => false,
        }
    }

    /// Opens the store again from its URL (a new SQLite file is created and migrated).
    ///
    /// The old connections are closed first: a new file opened beside a live connection to a
    /// deleted one would share its `-wal`/`-shm` names, read the old file's pages out of the
    /// old WAL, and lose its own WAL when the old connection closes and deletes it. A WAL or
    /// shared-memory file left behind by a deleted database is moved aside
    /// (`<name>-wal.orphaned-<unix seconds>`), never replayed into the new one.
    pub fn reopen(&mut self) -> Result<(), StorageError> {
        let url = self.url.clone();
        if let StorageUrl::Sqlite(path) = &url {
            let memory = std::path::Path::new(":memory:");
            let closed = |e: String| StorageError::Unavailable(format!(":memory: {e}"));
            let db = SqliteConnection::establish(":memory:").map_err(|e| closed(e.to_string()))?;
            let bulk = bulk::SqliteBulk::open(memory).map_err(closed)?;
            drop(std::mem::replace(&mut self.db, Db::Sqlite(db)));
            drop(std::mem::replace(&mut self.bulk, bulk::Bulk::Sqlite(bulk)));
            if !path.exists() {
                set_aside_orphans(path);
            }
        }
        *self = Store::open(&url)?;
        Ok(())
    }

    /// The connection, for the query functions below.
    pub fn conn(&mut self) -> &mut Db {
        &mut self.db
    }

    /// How batches go in: `bound_insert` (SQLite), `load_data` (MySQL), or
    /// `insert_statements` (MySQL refusing local files).
    pub fn write_path(&self) -> &'static str {
        self.bulk.path()
    }

    /// The database's size in bytes (SQLite: pages × page size; MySQL: data and indexes of
    /// its tables), for the end-of-day summary's growth figures.
    pub fn size_bytes(&mut self) -> QueryResult<u64> {
        #[derive(QueryableByName)]
        struct Size {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            bytes: i64,
        }
        let size = match &mut self.db {
            Db::Sqlite(c) => diesel::sql_query(
                "SELECT CAST(page_count * page_size AS BIGINT) AS bytes \
                 FROM pragma_page_count(), pragma_page_size()",
            )
            .get_result::<Size>(c)?,
            #[cfg(feature = "mysql")]
            Db::Mysql(c) => diesel::sql_query(
                "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS SIGNED) AS bytes \
                 FROM information_schema.tables WHERE table_schema = DATABASE()",
            )
            .get_result::<Size>(c)?,
        };
        Ok(size.bytes.max(0) as u64)
    }

    /// Where it points (shown without a password).
    pub fn url(&self) -> &StorageUrl {
        &self.url
    }

    /// Replaces the connection with a new one (after a server restart the old one is dead).
    /// SQLite files need no reconnecting.
    pub fn reconnect(&mut self) -> Result<(), StorageError> {
        #[cfg(feature = "mysql")]
        if let StorageUrl::Mysql(_) = self.url {
            self.db = connect(&self.url)?;
            if let bulk::Bulk::Mysql(b) = &mut self.bulk {
                b.reset();
            }
        }
        Ok(())
    }
}

/// The batch side of a store (after migrations: SQLite's second connection prepares against
/// the migrated schema).
fn open_bulk(url: &StorageUrl) -> Result<bulk::Bulk, StorageError> {
    Ok(match url {
        StorageUrl::Sqlite(path) => bulk::Bulk::Sqlite(
            bulk::SqliteBulk::open(path)
                .map_err(|e| StorageError::Unavailable(format!("{}: {e}", path.display())))?,
        ),
        #[cfg(feature = "mysql")]
        StorageUrl::Mysql(raw) => bulk::Bulk::Mysql(bulk::MysqlBulk::new(raw)),
        #[cfg(not(feature = "mysql"))]
        StorageUrl::Mysql(_) => return Err(StorageError::NotBuilt),
    })
}

/// A new connection, set up for this workload.
fn connect(url: &StorageUrl) -> Result<Db, StorageError> {
    match url {
        StorageUrl::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StorageError::Unavailable(format!("{}: {e}", dir.display())))?;
            }
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|e| StorageError::Unavailable(format!("{}: {e}", path.display())))?;
            conn.batch_execute(SQLITE_PRAGMAS)
                .map_err(|e| StorageError::Unavailable(e.to_string()))?;
            Ok(Db::Sqlite(conn))
        }
        #[cfg(not(feature = "mysql"))]
        StorageUrl::Mysql(_) => Err(StorageError::NotBuilt),
        #[cfg(feature = "mysql")]
        StorageUrl::Mysql(raw) => {
            let conn = MysqlConnection::establish(raw).map_err(|e| {
                StorageError::Unavailable(format!("{url}: {}", redact(&e.to_string())))
            })?;
            Ok(Db::Mysql(conn))
        }
    }
}

/// A database as `tickvault check` sees it, without migrating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// `false`: a SQLite file not created yet (the first start creates it).
    pub exists: bool,
    /// Migrations applied.
    pub applied: usize,
    /// Migrations this build has that the database lacks (the next start applies them).
    pub pending: usize,
    /// Migrations the database has that this build does not know: a newer tickvault wrote it.
    pub unknown: Vec<String>,
}

/// Connects to the database and compares its migrations with this build's, changing nothing
/// but Diesel's own bookkeeping table. A SQLite file that does not exist is not created.
pub fn inspect(url: &StorageUrl) -> Result<SchemaState, StorageError> {
    if let StorageUrl::Sqlite(path) = url
        && !path.exists()
    {
        return Ok(SchemaState {
            exists: false,
            applied: 0,
            pending: MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map(|m| m.len())
                .unwrap_or(0),
            unknown: Vec::new(),
        });
    }
    let mut db = connect(url)?;
    fn state<C, DB>(c: &mut C, source: EmbeddedMigrations) -> diesel::migration::Result<SchemaState>
    where
        DB: diesel::backend::Backend,
        C: MigrationHarness<DB>,
        EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
    {
        let applied = c.applied_migrations()?;
        let known: Vec<String> = MigrationSource::<DB>::migrations(&source)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect();
        let pending = known
            .iter()
            .filter(|v| !applied.iter().any(|a| a.to_string() == **v))
            .count();
        let unknown = applied
            .iter()
            .map(|a| a.to_string())
            .filter(|a| !known.contains(a))
            .collect();
        Ok(SchemaState {
            exists: true,
            applied: applied.len(),
            pending,
            unknown,
        })
    }
    match &mut db {
        Db::Sqlite(c) => state(c, SQLITE_MIGRATIONS),
        #[cfg(feature = "mysql")]
        Db::Mysql(c) => state(c, MYSQL_MIGRATIONS),
    }
    .map_err(|e| StorageError::Migration(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::NaiveDate;

    use super::models::{NewGap, NewTick, Position};
    use super::*;
    use crate::capture::JournalKey;
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
        #[cfg(feature = "mysql")]
        {
            let mysql = StorageUrl::parse("mysql://tv:s3cret@127.0.0.1:3306/ticks").unwrap();
            assert_eq!(mysql.backend(), "mysql");
            assert_eq!(mysql.to_string(), "mysql://tv:***@127.0.0.1:3306/ticks");
            assert!(!format!("{mysql:?}").contains("s3cret"));
        }
        #[cfg(not(feature = "mysql"))]
        assert!(matches!(
            StorageUrl::parse("mysql://tv:s3cret@127.0.0.1:3306/ticks"),
            Err(StorageError::NotBuilt)
        ));
        let err = StorageUrl::parse("mysql://tv:s3cret@127.0.0.1:3306").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
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
        let pos = Position::new(day(), JournalKey::new(1, 3), 100);
        assert_eq!(commit_batch(&mut store, &rows, &[pos]).unwrap(), 2);
        assert_eq!(
            commit_batch(&mut store, &rows, &[pos]).unwrap(),
            0,
            "idempotent"
        );
        assert_eq!(
            positions(store.conn(), day()).unwrap(),
            HashMap::from([(JournalKey::new(1, 3), 100)])
        );
        let counts = rows_per_token(store.conn(), day()).unwrap();
        assert_eq!(counts, HashMap::from([(408_065, 1), (256_265, 1)]));
        // Exact integers, NULL for what a packet lacks.
        use schema::daily_ticks::dsl;
        let (price, ask1, oi): (i64, Option<i64>, Option<i64>) =
            on_backend!(store.conn(), c => dsl::daily_ticks
            .filter(dsl::instrument_token.eq(408_065))
            .select((dsl::last_price, dsl::ask1_price, dsl::oi))
            .first(c))
            .unwrap();
        assert_eq!((price, ask1, oi), (158_380, Some(158_385), Some(0)));
        let ltp_volume: Option<i64> = on_backend!(store.conn(), c => dsl::daily_ticks
            .filter(dsl::instrument_token.eq(256_265))
            .select(dsl::volume)
            .first(c))
        .unwrap();
        assert_eq!(ltp_volume, None);
    }

    /// Rows of socket 1 for token 408 065 with row_seq `seqs`.
    fn rows(seqs: std::ops::Range<i64>) -> Vec<NewTick> {
        let tick = Tick::new(PacketKind::Ltp, 408_065);
        seqs.map(|s| NewTick::new(day(), 1, s, 1, &tick)).collect()
    }

    fn integrity(path: &std::path::Path) -> String {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_store_reopened_after_its_file_was_deleted_starts_a_sound_new_file() {
        let (dir, mut store) = store();
        let path = dir.path().join("t.db");
        commit_batch(&mut store, &rows(0..500), &[]).unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        // These stay in the WAL of the file about to be deleted.
        commit_batch(&mut store, &rows(500..600), &[]).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(store.replaced());

        store.reopen().unwrap();
        assert!(!store.replaced());
        assert!(
            rows_per_token(store.conn(), day()).unwrap().is_empty(),
            "a new file"
        );
        commit_batch(&mut store, &rows(1000..1010), &[]).unwrap();
        // Another reader (an export, an analyst) sees the committed rows while the service
        // runs: the new file's WAL is the one on disk.
        let reader = rusqlite::Connection::open(&path).unwrap();
        let seen: i64 = reader
            .query_row("SELECT COUNT(*) FROM daily_ticks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 10);
        drop(reader);
        drop(store);

        assert_eq!(integrity(&path), "ok");
        let url = StorageUrl::Sqlite(path.clone());
        let mut again = Store::open(&url).unwrap();
        assert_eq!(
            rows_per_token(again.conn(), day()).unwrap(),
            HashMap::from([(408_065, 10)]),
            "the new file's own rows, none of the deleted one's"
        );
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
