//! The ledger: what stands in for the persister in the `ingest` role (`run --role ingest`),
//! which has no database. The journal is the ingest host's record (a store process gets the
//! ticks through the Redis stream); the ledger follows the journal's growth for the status,
//! and keeps what the persister would have written beside the ticks: socket gaps as JSON lines
//! in `<data_dir>/journal/<date>/gaps.jsonl` (`tickvault replay` loads them with the journal)
//! and the day's instrument snapshot in `<data_dir>/journal/<date>/instruments.json`.
//!
//! Messages: the sink's ([`crate::actors::sink`]: `Catchup`,
//! `FlushPersister`, `RecordGap`, `SaveInstruments`), so the journal, the sockets and the
//! coordinator talk to either.

pub mod actor;
pub mod handlers;

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::NaiveDate;

use crate::status::LedgerStatus;
use crate::status::StatusHandle;
use crate::storage::models::{NewGap, NewInstrument};

/// The ledger's state.
pub struct Ledger {
    data_dir: PathBuf,
    date: NaiveDate,
    /// Journal end per file, from the last catch-up.
    ends: HashMap<crate::capture::JournalKey, u64>,
    gaps: u64,
    gap_seconds: f64,
    status: StatusHandle,
    pub(crate) restarts: crate::actors::children::Restarts,
}

impl Ledger {
    /// A ledger for `date` under `data_dir`.
    pub fn new(data_dir: PathBuf, date: NaiveDate, status: StatusHandle) -> Ledger {
        Ledger {
            data_dir,
            date,
            ends: HashMap::new(),
            gaps: 0,
            gap_seconds: 0.0,
            restarts: crate::actors::children::Restarts::new(&status),
            status,
        }
    }

    fn append_gap(&mut self, gap: &NewGap) -> std::io::Result<()> {
        crate::sidecar::append_gap_file(&self.data_dir, self.date, gap)?;
        self.gaps += 1;
        self.gap_seconds += gap.seconds();
        Ok(())
    }

    fn save_instruments(&self, rows: &[NewInstrument]) -> std::io::Result<()> {
        crate::sidecar::merge_instruments_file(&self.data_dir, self.date, rows)
    }

    fn report_status(&self) {
        self.status.report(|l: &mut LedgerStatus| {
            l.journal_bytes = self.ends.values().sum();
            l.gaps = self.gaps;
            l.gap_seconds = self.gap_seconds;
            l.database = "none (ingest role)".into();
        });
    }
}
