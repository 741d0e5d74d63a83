//! Messages of the end-of-day actor.

use actix::prelude::*;
use chrono::NaiveDate;

use super::Eod;
use crate::eod::{EodError, EodOptions, EodReport, run_eod};
use crate::status::{EodProgress, EodStatus};
use crate::storage::Store;

/// Runs the end of day for `date` (the persister must have been flushed first). Answers with the
/// report, or why it stopped (the daily rows are then kept).
#[derive(Debug, Message)]
#[rtype(result = "Result<EodReport, EodError>")]
pub struct RunEod {
    /// The trading date.
    pub date: NaiveDate,
}

impl Handler<RunEod> for Eod {
    type Result = Result<EodReport, EodError>;

    fn handle(&mut self, msg: RunEod, _ctx: &mut Self::Context) -> Self::Result {
        // A connection of the run's own, closed after it.
        let mut store = match Store::open(&self.url) {
            Ok(store) => store,
            Err(e) => {
                let e = EodError::Open(e);
                super::report_status(&self.status, msg.date, Err(&e));
                return Err(e);
            }
        };
        let mut opts = EodOptions::new(self.settings, self.retention_days);
        opts.export = self.export.clone();
        let date = msg.date;
        self.status.report(|e: &mut EodStatus| e.date = Some(date));
        let status = self.status.clone();
        let mut progress = |p: crate::eod::Progress| {
            status.report(|e: &mut EodStatus| {
                e.step = Some(p.step.as_str().to_string());
                e.progress = Some(EodProgress {
                    chunks_done: p.done as u64,
                    chunks: p.chunks as u64,
                    instruments: p.instruments as u64,
                    rows_moved: p.rows_moved,
                    rows_total: p.rows_total,
                });
            });
        };
        match run_eod(&mut store, &self.data_dir, msg.date, opts, &mut progress) {
            Ok(report) => {
                super::report_status(&self.status, msg.date, Ok(&report));
                Ok(report)
            }
            Err(e) => {
                tracing::error!(date = %msg.date, error = %e, "end of day failed; the daily rows are kept");
                super::report_status(&self.status, msg.date, Err(&e));
                Err(e)
            }
        }
    }
}
