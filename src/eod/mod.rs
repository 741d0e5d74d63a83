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
//! [`run_eod`] is the whole job as a plain function: `tickvault eod` and the day runner call
//! it, and the end-of-day actor ([`crate::actors::eod`]) runs it on its own thread with its own
//! connection for the service.

mod retention;
mod steps;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use crate::settings::pipeline::EodSettings;
use crate::storage::Store;
use crate::storage::eod::{self as sql, Dedupe, RunRecord};

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

    /// Its name in reports and status (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Dedupe => "dedupe",
            Step::Move => "move",
            Step::Verify => "verify",
            Step::Clear => "clear",
            Step::Report => "report",
        }
    }
}

/// Where to stop on purpose, to test that a run killed there finishes on the next one.
#[cfg(feature = "test-hooks")]
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
    /// The database cannot be opened: run again when it is back.
    #[error("cannot open the database for the end of day: {0}")]
    Open(#[from] crate::storage::StorageError),
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
    #[cfg(feature = "test-hooks")]
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
    /// The export after the end of day (`[export] after_eod`), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportOutcome>,
}

/// How the export after the end of day went: it never fails the end of day, which is done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportOutcome {
    /// The date's directory.
    pub dir: PathBuf,
    /// Rows written (the master's rows of the date), none after a failure.
    pub rows: Option<u64>,
    /// The file's size.
    pub bytes: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Where and how to export after the end of day.
#[derive(Debug, Clone, PartialEq)]
pub struct AfterEod {
    /// The dataset's directory.
    pub dir: PathBuf,
    /// The format.
    pub format: crate::export::Format,
}

impl AfterEod {
    /// What `[export]` asks for, if anything.
    pub fn from_settings(settings: &crate::settings::Settings) -> Option<AfterEod> {
        let export = &settings.export;
        export.after_eod.then(|| AfterEod {
            dir: export.dir(&settings.paths.data_dir),
            format: export.format,
        })
    }

    /// Exports `date` (from the master, where the end of day put it).
    pub fn run(&self, store: &mut Store, date: NaiveDate) -> ExportOutcome {
        let options = crate::export::ExportOptions {
            format: self.format,
            ..Default::default()
        };
        let dir = crate::export::date_dir(&self.dir, date);
        match crate::export::export_date(store, date, &self.dir, &options, &mut |_: u64, _: u64| {})
        {
            Ok(done) => {
                tracing::info!(%date, rows = done.rows, bytes = done.bytes, file = %done.file.display(), "exported after the end of day");
                ExportOutcome {
                    dir,
                    rows: Some(done.rows),
                    bytes: Some(done.bytes),
                    error: None,
                }
            }
            Err(e) => {
                tracing::error!(%date, error = %e, "the export after the end of day failed; the end of day is done");
                ExportOutcome {
                    dir,
                    rows: None,
                    bytes: None,
                    error: Some(e.to_string()),
                }
            }
        }
    }
}

/// How a run is told what to do.
#[derive(Debug, Clone)]
pub struct EodOptions {
    /// Settings.
    pub settings: EodSettings,
    /// Export the date after the move (`[export] after_eod`).
    pub export: Option<AfterEod>,
    /// `journal.retention_days`.
    pub retention_days: u32,
    /// Rows per chunk ([`crate::storage::eod::CHUNK_ROWS`]).
    pub chunk_rows: u64,
    /// Stop on purpose here (tests).
    #[cfg(feature = "test-hooks")]
    pub fail: Option<FailPoint>,
}

impl EodOptions {
    /// With the export after the end of day that `settings` asks for.
    pub fn exporting(mut self, settings: &crate::settings::Settings) -> EodOptions {
        self.export = AfterEod::from_settings(settings);
        self
    }

    /// The settings' run, no fail point, chunks of the default size.
    pub fn new(settings: EodSettings, retention_days: u32) -> EodOptions {
        EodOptions {
            settings,
            export: None,
            retention_days,
            chunk_rows: sql::CHUNK_ROWS,
            #[cfg(feature = "test-hooks")]
            fail: None,
        }
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
    let result = steps::steps(store, data_dir, date, opts, (started, started_at), progress);
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
        #[cfg(feature = "test-hooks")]
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

/// `<data_dir>/eod/YYYY-MM-DD.json`.
pub fn report_path(data_dir: &Path, date: NaiveDate) -> PathBuf {
    data_dir.join("eod").join(format!("{date}.json"))
}

/// How long to wait between progress lines on a terminal.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);

impl EodReport {
    /// One line about the report.
    pub fn summary(&self) -> String {
        format!(
            "end of day {}: {} rows of {} instruments in the master, {} silent, {} thin, {} gaps ({:.1} min), {} ms",
            self.trade_date,
            self.master_rows,
            self.instruments,
            self.silent_instruments.len(),
            self.thin_instruments.len(),
            self.gaps,
            self.gap_minutes,
            self.duration_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_named_in_status_as_it_is_serialized_in_reports() {
        for step in Step::ALL {
            assert_eq!(serde_json::to_value(step).unwrap(), step.as_str());
        }
    }
}
