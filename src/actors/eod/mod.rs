//! The end of day: after the close, the date's rows leave the daily table for the master table
//! (`ticks`), checked on the way, and a report says what the day holds.
//!
//! Steps ([`Step`]), each per chunk of instruments (a token range of about 100,000 rows) and
//! each rerunnable (see [`crate::storage::eod`]):
//! **dedupe** the daily rows, **move** them into the master, **verify** that every daily row is
//! in the master and the counts agree, only then **clear** the daily rows (in the table's key
//! order, up to the run's high-water marks; row by row against the master when rows arrived
//! during the run), and **report** (log,
//! `<data_dir>/eod/YYYY-MM-DD.json`, the `eod_runs` table), then delete journals past their
//! retention. Killed at any step and run again, it ends with the same master contents.
//!
//! [`run_eod`] is the whole job as a plain function (`tickvault eod` calls it); the [`Eod`]
//! actor runs it on its own thread with its own connection for the service.
//!
//! Messages: [`handlers::RunEod`].

pub mod actor;
pub mod handlers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::settings::pipeline::EodSettings;
use crate::status::StatusHandle;
use crate::storage::eod::{self as sql, ClearGuard, Dedupe, RunRecord};
use crate::storage::{self, Store};

/// A step of the end of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Remove duplicates from the daily rows.
    Dedupe,
    /// Copy the daily rows into the master.
    Move,
    /// Check the master holds every daily row.
    Verify,
    /// Delete the daily rows.
    Clear,
    /// Write the report and the run record.
    Report,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 5] = [
        Step::Dedupe,
        Step::Move,
        Step::Verify,
        Step::Clear,
        Step::Report,
    ];
}

/// Where to stop on purpose, to test that a run killed there finishes on the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailPoint {
    /// The step.
    pub step: Step,
    /// After this many chunks of the step (`usize::MAX`: once the step is done).
    pub after_chunks: usize,
}

/// Why the end of day stopped; the daily rows are kept in every case.
#[derive(Debug, thiserror::Error)]
pub enum EodError {
    /// The database refused: run again when it is back.
    #[error("database: {0}")]
    Storage(#[from] diesel::result::Error),
    /// The master does not hold what the daily table holds: nothing was cleared.
    #[error(
        "verification failed for {} instrument(s); the daily rows are kept: {}",
        .0.len(),
        .0.iter().take(5).map(|m| format!("token {} daily {} master {} verified before {} missing {}", m.token, m.daily, m.master, m.verified, m.missing)).collect::<Vec<_>>().join("; ")
    )]
    Verify(Vec<Mismatch>),
    /// The report could not be written.
    #[error("cannot write the report {path}: {error}")]
    Report {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// Stopped at a [`FailPoint`] (tests).
    #[error("stopped after {0:?} as asked")]
    Injected(Step),
}

pub use crate::storage::eod::Mismatch;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The step.
    pub step: Step,
    /// Chunks done in it.
    pub done: usize,
    /// Chunks in all (token ranges; for the clear, stretches of row keys).
    pub chunks: usize,
    /// Instruments in all.
    pub instruments: usize,
    /// Rows moved so far (move step).
    pub rows_moved: u64,
    /// Daily rows when the run began.
    pub rows_total: u64,
}

/// An instrument in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstrumentRows {
    /// Token.
    pub token: u32,
    /// Trading symbol from the day's snapshot (empty when not in it).
    pub tradingsymbol: String,
    /// Rows in the master.
    pub rows: u64,
}

/// What the end of day reports (`<data_dir>/eod/YYYY-MM-DD.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EodReport {
    /// The trading date.
    pub trade_date: NaiveDate,
    /// The dedupe mode.
    pub dedupe: Dedupe,
    /// When the run started (IST).
    pub started_at: String,
    /// How long it took.
    pub duration_ms: u64,
    /// Instruments with rows in the master.
    pub instruments: usize,
    /// Master rows of the date.
    pub master_rows: u64,
    /// Rows the dedupe removed (over every run of the date).
    pub removed_rows: u64,
    /// Rows copied into the master by this run.
    pub moved_by_this_run: u64,
    /// Rows per instrument (token → rows).
    pub rows_per_instrument: BTreeMap<u32, u64>,
    /// The report's threshold.
    pub min_rows: u64,
    /// Instruments with rows, but fewer than `min_rows`.
    pub thin_instruments: Vec<InstrumentRows>,
    /// Instruments in the day's snapshot that got no tick at all.
    pub silent_instruments: Vec<InstrumentRows>,
    /// Intervals in the gap ledger.
    pub gaps: usize,
    /// Their total length, minutes (socket-minutes: two sockets down for a minute is 2).
    pub gap_minutes: f64,
    /// Journal directories deleted by retention.
    pub journals_deleted: Vec<String>,
    /// The database's size after the run (bytes; `None` when it could not be measured).
    pub database_bytes: Option<u64>,
}

/// Puts `date`'s end-of-day outcome in its status entry (`eod`): `result` (`ok` or
/// `failed`), `finished_at`, and the report's figures (cleared after a failure). A failed run
/// is an outcome, not a dead actor: the entry stays `running` with the error as `last_error`
/// (a `failed` state would stop the systemd watchdog and restart the service over it).
pub fn report_status(status: &StatusHandle, date: NaiveDate, outcome: &Result<&EodReport, String>) {
    let finished_at = crate::actors::scheduler::ist_string(Utc::now());
    let (result, figures) = match outcome {
        Ok(r) => {
            status.set_state(crate::status::State::Running);
            (
                "ok",
                [
                    ("master_rows", json!(r.master_rows)),
                    ("duration_ms", json!(r.duration_ms)),
                    ("silent_instruments", json!(r.silent_instruments.len())),
                    ("thin_instruments", json!(r.thin_instruments.len())),
                    ("gap_minutes", json!(r.gap_minutes)),
                    ("database_bytes", json!(r.database_bytes)),
                ],
            )
        }
        Err(e) => {
            status.fail(crate::status::State::Running, e);
            (
                "failed",
                [
                    ("master_rows", Value::Null),
                    ("duration_ms", Value::Null),
                    ("silent_instruments", Value::Null),
                    ("thin_instruments", Value::Null),
                    ("gap_minutes", Value::Null),
                    ("database_bytes", Value::Null),
                ],
            )
        }
    };
    status.set_all(figures);
    status.set_all([
        ("date", json!(date.to_string())),
        ("result", json!(result)),
        (
            "step",
            json!(if result == "ok" { "done" } else { "failed" }),
        ),
        ("finished_at", json!(finished_at)),
    ]);
}

/// The end-of-day actor's state.
pub struct Eod {
    /// Where the database is: opened for each run and closed after it (a long-lived SQLite
    /// connection to a file deleted and rebuilt meanwhile would, on closing, delete the new
    /// file's WAL by name).
    url: crate::storage::StorageUrl,
    data_dir: PathBuf,
    settings: EodSettings,
    retention_days: u32,
    status: StatusHandle,
}

impl Eod {
    /// An end-of-day actor writing to the database at `url`.
    pub fn new(
        url: crate::storage::StorageUrl,
        data_dir: PathBuf,
        settings: EodSettings,
        retention_days: u32,
        status: StatusHandle,
    ) -> Eod {
        Eod {
            url,
            data_dir,
            settings,
            retention_days,
            status,
        }
    }
}

/// How a run is told what to do.
#[derive(Debug, Clone, Copy)]
pub struct EodOptions {
    /// Settings.
    pub settings: EodSettings,
    /// `journal.retention_days`.
    pub retention_days: u32,
    /// Rows per chunk ([`crate::storage::eod::CHUNK_ROWS`]).
    pub chunk_rows: u64,
    /// Stop on purpose here (tests).
    pub fail: Option<FailPoint>,
}

impl EodOptions {
    /// The settings' run, no fail point, chunks of the default size.
    pub fn new(settings: EodSettings, retention_days: u32) -> EodOptions {
        EodOptions {
            settings,
            retention_days,
            chunk_rows: sql::CHUNK_ROWS,
            fail: None,
        }
    }
}

fn check(fail: Option<FailPoint>, step: Step, done: usize) -> Result<(), EodError> {
    match fail {
        Some(f) if f.step == step && f.after_chunks == done => Err(EodError::Injected(step)),
        _ => Ok(()),
    }
}

/// The whole end of day for `date` (the caller has flushed the persister, or replayed the
/// journals). `progress` is called after every instrument of every step.
pub fn run_eod(
    store: &mut Store,
    data_dir: &Path,
    date: NaiveDate,
    opts: EodOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<EodReport, EodError> {
    let started = Instant::now();
    let started_at = Utc::now();
    let dedupe = opts.settings.dedupe;
    let db = store.conn();
    let run_id = sql::begin_run(db, date, dedupe, started_at.timestamp_micros())?;
    let result = steps(store, data_dir, date, opts, (started, started_at), progress);
    let db = store.conn();
    match &result {
        Ok((report, json)) => {
            let record = RunRecord {
                status: "done",
                finished_at_us: Utc::now().timestamp_micros(),
                master_rows: report.master_rows as i64,
                removed_rows: report.removed_rows as i64,
                instruments: report.instruments as i32,
                gap_minutes: report.gap_minutes,
                duration_ms: report.duration_ms as i64,
                report: json.clone(),
            };
            sql::finish_run(db, run_id, &record)?;
        }
        // A kill leaves the run `running`; the next run marks it `interrupted`.
        Err(EodError::Injected(_)) => {}
        Err(e) => {
            let record = RunRecord {
                status: "failed",
                finished_at_us: Utc::now().timestamp_micros(),
                master_rows: 0,
                removed_rows: 0,
                instruments: 0,
                gap_minutes: 0.0,
                duration_ms: started.elapsed().as_millis() as i64,
                report: serde_json::json!({ "error": e.to_string() }).to_string(),
            };
            if let Err(e) = sql::finish_run(db, run_id, &record) {
                tracing::error!(error = %e, "cannot record the failed end-of-day run");
            }
        }
    }
    result.map(|(report, _)| report)
}

fn steps(
    store: &mut Store,
    data_dir: &Path,
    date: NaiveDate,
    opts: EodOptions,
    (started, started_at): (Instant, chrono::DateTime<Utc>),
    progress: &mut dyn FnMut(Progress),
) -> Result<(EodReport, String), EodError> {
    let db = store.conn();
    sql::index_daily(db)?;
    let high_water = sql::high_water(db, date)?;
    let chunks = sql::plan_chunks(db, date, opts.chunk_rows)?;
    let rows_total: u64 = chunks.iter().map(|c| c.rows).sum();
    let instruments: usize = chunks.iter().map(|c| c.instruments).sum();
    let n = chunks.len();
    let mut report_progress = |step, done, chunks, rows_moved| {
        progress(Progress {
            step,
            done,
            chunks,
            instruments,
            rows_moved,
            rows_total,
        })
    };
    tracing::info!(%date, instruments, chunks = n, rows = rows_total, dedupe = opts.settings.dedupe.as_str(), "end of day: starting");

    let mut removed = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        removed += sql::dedupe_chunk(db, date, *chunk, opts.settings.dedupe)?;
        report_progress(Step::Dedupe, i + 1, n, 0);
        check(opts.fail, Step::Dedupe, i + 1)?;
    }
    check(opts.fail, Step::Dedupe, usize::MAX)?;
    tracing::info!(%date, removed, "end of day: dedupe done");

    let mut moved = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        moved += sql::move_chunk(db, date, *chunk)?;
        report_progress(Step::Move, i + 1, n, moved);
        check(opts.fail, Step::Move, i + 1)?;
    }
    check(opts.fail, Step::Move, usize::MAX)?;
    tracing::info!(%date, moved, "end of day: move done");

    let mut mismatches = Vec::new();
    let mut verified_rows = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let (bad, rows) = sql::verify_chunk(db, date, *chunk)?;
        mismatches.extend(bad);
        verified_rows += rows;
        report_progress(Step::Verify, i + 1, n, moved);
        check(opts.fail, Step::Verify, i + 1)?;
    }
    if !mismatches.is_empty() {
        return Err(EodError::Verify(mismatches));
    }
    check(opts.fail, Step::Verify, usize::MAX)?;

    // Rows that arrived since the run began (a replay, a late batch) were not verified: then
    // each deleted row is looked up in the master first. Otherwise the clear deletes the key
    // ranges up to the run's high-water marks, which hold exactly the verified rows.
    let guard = if sql::daily_rows(db, date)? == verified_rows {
        ClearGuard::Range
    } else {
        tracing::warn!(%date, "end of day: daily rows arrived during the run; the clear deletes only rows the master holds");
        ClearGuard::InMaster
    };
    // The clear walks the table's own key: the run's index would only slow every delete down.
    sql::unindex_daily(db)?;
    let parts = sql::plan_clear(db, date, opts.chunk_rows, &high_water)?;
    for (i, part) in parts.iter().enumerate() {
        sql::clear_part(db, date, *part, guard)?;
        report_progress(Step::Clear, i + 1, parts.len(), moved);
        check(opts.fail, Step::Clear, i + 1)?;
    }
    let late = sql::daily_rows(db, date)?;
    if late > 0 {
        tracing::warn!(%date, rows = late, "end of day: daily rows arrived after the verification; kept for the next run");
    }
    check(opts.fail, Step::Clear, usize::MAX)?;

    let per_token = sql::master_rows_per_token(db, date)?;
    let symbols = sql::instrument_symbols(db, date)?;
    let gaps = storage::gaps(db, date)?;
    let removed_rows = sql::removed_rows(db, date)?;
    let symbol = |t: u32| symbols.get(&t).cloned().unwrap_or_default();
    let rows_per_instrument: BTreeMap<u32, u64> = per_token.into_iter().collect();
    let thin_instruments = rows_per_instrument
        .iter()
        .filter(|(_, rows)| **rows < opts.settings.min_rows)
        .map(|(t, rows)| InstrumentRows {
            token: *t,
            tradingsymbol: symbol(*t),
            rows: *rows,
        })
        .collect();
    let silent_instruments = symbols
        .keys()
        .filter(|t| !rows_per_instrument.contains_key(t))
        .map(|t| InstrumentRows {
            token: *t,
            tradingsymbol: symbol(*t),
            rows: 0,
        })
        .collect();
    // A fold from +0.0: an empty f64 sum is -0.0, shown as "-0.0".
    let gap_minutes = gaps
        .iter()
        .map(|g| crate::storage::models::gap_seconds(g.start_us, g.end_us) / 60.0)
        .fold(0.0, |a, b| a + b);
    let journals_deleted = if opts.retention_days > 0 {
        delete_old_journals(store, data_dir, date, opts.retention_days)?
    } else {
        Vec::new()
    };
    let report = EodReport {
        trade_date: date,
        dedupe: opts.settings.dedupe,
        started_at: crate::calendar::ist_rfc3339(started_at),
        duration_ms: started.elapsed().as_millis() as u64,
        instruments: rows_per_instrument.len(),
        master_rows: rows_per_instrument.values().sum(),
        removed_rows,
        moved_by_this_run: moved,
        rows_per_instrument,
        min_rows: opts.settings.min_rows,
        thin_instruments,
        silent_instruments,
        gaps: gaps.len(),
        gap_minutes: (gap_minutes * 100.0).round() / 100.0,
        journals_deleted,
        database_bytes: store
            .size_bytes()
            .map_err(|e| tracing::warn!(error = %e, "cannot measure the database's size"))
            .ok(),
    };
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    let path = report_path(data_dir, date);
    crate::files::write_atomically(&path, json.as_bytes()).map_err(|error| EodError::Report {
        path: path.clone(),
        error,
    })?;
    check(opts.fail, Step::Report, usize::MAX)?;
    tracing::info!(
        %date,
        instruments = report.instruments,
        master_rows = report.master_rows,
        removed_rows = report.removed_rows,
        thin = report.thin_instruments.len(),
        silent = report.silent_instruments.len(),
        gap_minutes = report.gap_minutes,
        duration_ms = report.duration_ms,
        report = %path.display(),
        "end of day: done"
    );
    Ok((report, json))
}

/// `<data_dir>/eod/YYYY-MM-DD.json`.
pub fn report_path(data_dir: &Path, date: NaiveDate) -> PathBuf {
    data_dir.join("eod").join(format!("{date}.json"))
}

/// Deletes `<data_dir>/journal/D` for dates D more than `days` before `date` whose own end of
/// day is done (their rows are in the master). Returns the dates deleted.
fn delete_old_journals(
    store: &mut Store,
    data_dir: &Path,
    date: NaiveDate,
    days: u32,
) -> Result<Vec<String>, EodError> {
    let root = data_dir.join("journal");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(Vec::new());
    };
    let cutoff = date - chrono::Duration::days(i64::from(days));
    let mut old: Vec<NaiveDate> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<NaiveDate>().ok())
        .filter(|d| *d < cutoff)
        .collect();
    old.sort();
    let mut deleted = Vec::new();
    for d in old {
        let done = sql::run_statuses(store.conn(), d)?
            .iter()
            .any(|s| s == "done");
        if !done {
            tracing::warn!(date = %d, "journal past retention kept: its end of day never completed");
            continue;
        }
        let dir = root.join(d.to_string());
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => deleted.push(d.to_string()),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot delete an old journal")
            }
        }
    }
    Ok(deleted)
}

/// How long to wait between progress lines on a terminal.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);
