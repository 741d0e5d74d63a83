//! Storage throughput: full-mode ticks through the persister's batch path (`commit_batch`,
//! 5,000 rows per transaction, the journal position in each) into SQLite and MariaDB, against
//! the old approach of one autocommitted `REPLACE INTO` per tick on the same server in the same
//! run; then the end of day of a large day on each backend, and the export of that day from
//! the master to Parquet (`tickvault export`'s path) on one worker and on every core.
//!
//! `cargo bench --bench storage`. Environment: `STORAGE_ROWS` (batch path rows, default
//! 500,000), `REPLACE_ROWS` (default 5,000), `EOD_ROWS` (default 5,000,000; 0 skips the end of
//! day), `TICKVAULT_TEST_MYSQL` (server URL without a database; default the test account).

use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tickvault::eod::{EodOptions, Step, run_eod};
use tickvault::kite::{Level, PacketKind, Tick};
use tickvault::settings::pipeline::EodSettings;
use tickvault::storage::eod::Dedupe;
use tickvault::storage::models::{NewTick, Position};
use tickvault::storage::schema::daily_ticks;
use tickvault::storage::{self, Db, StorageUrl, Store};

mod common;

use common::{day, env};

/// Rows `from..from + n` of a day of full-mode ticks over 9,000 instruments, prices and depth
/// moving, as the feed brings them: messages of 50 packets, one journal record each.
fn rows(from: usize, n: usize) -> Vec<NewTick> {
    let mut out = Vec::with_capacity(n);
    for i in from..from + n {
        let token = 10_000 + (i % 9_000) as u32;
        let mut t = Tick::new(PacketKind::Full, token);
        let step = (i / 9_000) as u32;
        t.last_price = 100_000 + ((i as u64 * 7919) % 5_000) as u32;
        t.last_traded_quantity = 75;
        t.average_traded_price = t.last_price - 3;
        t.volume_traded = 1_000 + step * 75;
        t.total_buy_quantity = 50_000;
        t.total_sell_quantity = 48_000;
        t.exchange_timestamp = 1_795_600_000 + step / 2;
        t.last_trade_time = t.exchange_timestamp;
        t.oi = 120_000;
        for (k, level) in t.depth.buy.iter_mut().enumerate() {
            *level = Level {
                quantity: 75 * (k as u32 + 1),
                price: t.last_price - 5 * (k as u32 + 1),
                orders: k as u16 + 1,
            };
        }
        for (k, level) in t.depth.sell.iter_mut().enumerate() {
            *level = Level {
                quantity: 75 * (k as u32 + 2),
                price: t.last_price + 5 * (k as u32 + 1),
                orders: k as u16 + 2,
            };
        }
        let record = (i / 50) as i64;
        let seq = (record << 16) | (i % 50) as i64;
        out.push(NewTick::new(
            day(),
            1,
            seq,
            1_795_600_000_000_000 + i as i64,
            &t,
        ));
    }
    out
}

/// Inserts `rows` the persister's way; returns rows/s.
fn batch_path(store: &mut Store, rows: &[NewTick]) -> f64 {
    let started = Instant::now();
    for (i, batch) in rows.chunks(5_000).enumerate() {
        let position = Position::new(
            day(),
            tickvault::capture::JournalKey::new(1, 0),
            (i as u64 + 1) * 1_000_000,
        );
        storage::commit_batch(store, batch, &[position]).expect("commit");
    }
    rows.len() as f64 / started.elapsed().as_secs_f64()
}

/// One autocommitted `REPLACE INTO` per tick (what today's scripts do) on `db`; returns rows/s.
fn replace_per_tick(db: &mut Db, rows: &[NewTick]) -> f64 {
    let started = Instant::now();
    for row in rows {
        tickvault::on_backend!(db, c => diesel::replace_into(daily_ticks::table)
            .values(row)
            .execute(c))
        .expect("replace");
    }
    rows.len() as f64 / started.elapsed().as_secs_f64()
}

/// The same through a connection set up as a script sets it up: WAL (as system B does) and
/// SQLite's default `synchronous = FULL` (tickvault's store runs NORMAL: its journal is the
/// record of truth).
fn replace_per_tick_script(path: &std::path::Path, rows: &[NewTick]) -> f64 {
    let mut c = diesel::sqlite::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    c.batch_execute("PRAGMA journal_mode = WAL").unwrap();
    replace_per_tick(&mut Db::Sqlite(c), rows)
}

fn mysql_server() -> String {
    std::env::var("TICKVAULT_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://tickvault_test:tickvault_test@127.0.0.1:3306".into())
}

/// A fresh database on the server; dropped by [`drop_mysql`].
fn fresh_mysql(name: &str) -> Store {
    let server = mysql_server();
    let mut admin =
        diesel::mysql::MysqlConnection::establish(&format!("{server}/information_schema"))
            .expect("MariaDB (run tests/run to set it up)");
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"
        ))
        .unwrap();
    Store::open(&StorageUrl::parse(&format!("{server}/{name}")).unwrap()).unwrap()
}

fn drop_mysql(name: &str) {
    let server = mysql_server();
    if let Ok(mut admin) =
        diesel::mysql::MysqlConnection::establish(&format!("{server}/information_schema"))
    {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS `{name}`"));
    }
}

fn clear(store: &mut Store) {
    match store.conn() {
        Db::Sqlite(c) => c.batch_execute("DELETE FROM daily_ticks; DELETE FROM journal_positions"),
        Db::Mysql(c) => c.batch_execute("TRUNCATE daily_ticks; TRUNCATE journal_positions"),
    }
    .unwrap();
}

/// Loads `n` rows in the batch path, then times the end of day; returns (load s, EOD s).
fn eod(store: &mut Store, dir: &std::path::Path, n: usize) -> (f64, f64) {
    clear(store);
    let started = Instant::now();
    let chunk = 500_000;
    let mut loaded = 0;
    while loaded < n {
        let rows = rows(loaded, chunk.min(n - loaded));
        batch_path(store, &rows);
        loaded += rows.len();
    }
    let load = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let settings = EodSettings {
        dedupe: Dedupe::Exact,
        min_rows: 10,
    };
    let opts = EodOptions::new(settings, 0);
    // Time per step: from the previous step's last chunk to its own last chunk (planning and
    // the index build count to the dedupe).
    let mut ends: Vec<(Step, Instant)> = Vec::new();
    let report = run_eod(store, dir, day(), opts, &mut |p| match ends.last_mut() {
        Some((step, at)) if *step == p.step => *at = Instant::now(),
        _ => ends.push((p.step, Instant::now())),
    })
    .expect("eod");
    assert_eq!(report.master_rows as usize, n);
    let total = started.elapsed().as_secs_f64();
    let mut from = started;
    let mut shown = Vec::new();
    for (step, end) in &ends {
        shown.push(format!("{step:?} {:.1} s", (*end - from).as_secs_f64()));
        from = *end;
    }
    shown.push(format!("report {:.1} s", from.elapsed().as_secs_f64()));
    println!("    steps: {}", shown.join(", "));
    (load, total)
}

/// Exports the day from the master to Parquet in `dir` on `workers` threads (0: one per core);
/// returns (seconds, bytes).
fn export(store: &mut Store, dir: &std::path::Path, workers: usize) -> (f64, u64) {
    let options = tickvault::export::ExportOptions {
        workers,
        ..Default::default()
    };
    let started = Instant::now();
    let done =
        tickvault::export::export_date(store, day(), dir, &options, &mut |_: u64, _: u64| {})
            .expect("export");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(done.source, tickvault::storage::export::Source::Master);
    (secs, done.bytes)
}

/// Prints the export's figures for `n` rows on `backend`, one worker then every core.
fn exports(backend: &str, store: &mut Store, dir: &std::path::Path, n: usize) {
    let out = dir.join(format!("export-{}", backend.trim()));
    for workers in [1, 0] {
        let (secs, bytes) = export(store, &out, workers);
        let threads = match workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        println!(
            "  {backend} export of {n} rows to Parquet, {threads} worker(s): {secs:.1} s ({:.0} rows/s, {:.1} MB)",
            n as f64 / secs,
            bytes as f64 / 1e6
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a list; this is a benchmark, not a test.
    }
    let n = env("STORAGE_ROWS", 500_000);
    let n_replace = env("REPLACE_ROWS", 5_000);
    let n_eod = env("EOD_ROWS", 5_000_000);
    let dir = tempfile::tempdir().unwrap();
    let data = rows(0, n);

    let sqlite_path = dir.path().join("bench.db");
    let sqlite_url = format!("sqlite://{}", sqlite_path.display());
    let mut sqlite = Store::open(&StorageUrl::parse(&sqlite_url).unwrap()).unwrap();
    let sqlite_rate = batch_path(&mut sqlite, &data);
    clear(&mut sqlite);
    let sqlite_replace = replace_per_tick(sqlite.conn(), &data[..n_replace]);
    clear(&mut sqlite);
    let sqlite_script = replace_per_tick_script(&sqlite_path, &data[..n_replace]);

    let name = "tickvault_test_bench_storage";
    let mut mysql = fresh_mysql(name);
    let mysql_rate = batch_path(&mut mysql, &data);
    clear(&mut mysql);
    let mysql_replace = replace_per_tick(mysql.conn(), &data[..n_replace]);

    println!("storage: full-mode ticks, 9,000 instruments, 5,000-row transactions");
    println!(
        "  SQLite   batch path {sqlite_rate:>10.0} rows/s   REPLACE INTO per tick {sqlite_replace:>8.0} rows/s   ({:.0}x)",
        sqlite_rate / sqlite_replace
    );
    println!(
        "  SQLite   (per tick through a script's connection, WAL + synchronous FULL: {sqlite_script:.0} rows/s, {:.0}x)",
        sqlite_rate / sqlite_script
    );
    println!(
        "  MariaDB  batch path {mysql_rate:>10.0} rows/s   REPLACE INTO per tick {mysql_replace:>8.0} rows/s   ({:.0}x)",
        mysql_rate / mysql_replace
    );
    drop(data);

    if n_eod > 0 {
        let (load, secs) = eod(&mut sqlite, dir.path(), n_eod);
        println!(
            "  SQLite   end of day of {n_eod} rows: {secs:.1} s ({:.0} rows/s; loading them took {load:.1} s)",
            n_eod as f64 / secs
        );
        exports("SQLite  ", &mut sqlite, dir.path(), n_eod);
        let (load, secs) = eod(&mut mysql, dir.path(), n_eod);
        println!(
            "  MariaDB  end of day of {n_eod} rows: {secs:.1} s ({:.0} rows/s; loading them took {load:.1} s)",
            n_eod as f64 / secs
        );
        exports("MariaDB ", &mut mysql, dir.path(), n_eod);
    }
    drop(mysql);
    drop_mysql(name);
}
