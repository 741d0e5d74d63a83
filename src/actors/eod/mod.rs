//! The end-of-day actor: runs the end of day ([`crate::eod::run_eod`]) on its own thread, with
//! a connection of its own for each run, and keeps its status entry (`eod`).
//!
//! Messages: [`handlers::RunEod`].

pub mod actor;
pub mod handlers;

use std::path::PathBuf;

use chrono::NaiveDate;

use crate::eod::EodReport;
use crate::settings::pipeline::EodSettings;
use crate::status::{EodOutcome, EodStatus, StatusHandle};

/// Puts `date`'s end-of-day outcome in its status entry (`eod`): `result` (`ok` or
/// `failed`), `finished_at`, and the report's figures (cleared after a failure). A failed run
/// is an outcome, not a dead actor: the entry stays `running` with the error as `last_error`
/// (a `failed` state would stop the systemd watchdog and restart the service over it).
pub fn report_status(
    status: &StatusHandle,
    date: NaiveDate,
    outcome: Result<&EodReport, &dyn std::fmt::Display>,
) {
    let finished_at = Some(chrono::Utc::now());
    let last = match outcome {
        Ok(r) => {
            status.set_state(crate::status::State::Running);
            EodOutcome {
                result: "ok".into(),
                finished_at,
                master_rows: Some(r.master_rows),
                duration_ms: Some(r.duration_ms),
                silent_instruments: Some(r.silent_instruments.len()),
                thin_instruments: Some(r.thin_instruments.len()),
                gap_minutes: Some(r.gap_minutes),
                database_bytes: r.database_bytes,
                export_rows: r.export.as_ref().and_then(|e| e.rows),
                export_error: r.export.as_ref().and_then(|e| e.error.clone()),
            }
        }
        Err(e) => {
            status.fail(crate::status::State::Running, &e.to_string());
            EodOutcome {
                result: "failed".into(),
                finished_at,
                ..EodOutcome::default()
            }
        }
    };
    let step = if last.ok() { "done" } else { "failed" };
    status.report(|e: &mut EodStatus| {
        e.date = Some(date);
        e.step = Some(step.into());
        e.outcome = Some(last);
    });
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
    /// The export after each end of day (`[export] after_eod`).
    export: Option<crate::eod::AfterEod>,
    status: StatusHandle,
    /// Its restarts (the `SyncArbiter` makes a new one after a stop).
    restarts: crate::actors::children::Restarts,
}

impl Eod {
    /// An end-of-day actor writing to the database at `url`.
    pub fn new(
        url: crate::storage::StorageUrl,
        data_dir: PathBuf,
        settings: EodSettings,
        retention_days: u32,
        status: StatusHandle,
        restarts: crate::actors::children::Restarts,
    ) -> Eod {
        Eod {
            url,
            data_dir,
            settings,
            retention_days,
            export: None,
            status,
            restarts,
        }
    }
}

impl Eod {
    /// Also exports each date after its end of day.
    pub fn exporting(mut self, export: Option<crate::eod::AfterEod>) -> Eod {
        self.export = export;
        self
    }
}

crate::actors::children::supervised!(Eod);
