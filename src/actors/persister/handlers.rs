//! Messages of the persister.

use std::collections::HashMap;

use actix::prelude::*;

use super::Persister;
use crate::actors::sink::{Catchup, FlushPersister, RecordGap, SaveInstruments, SinkError};
use crate::capture::JournalKey;
use crate::recovery::{self, FileReplay, RecoveryError};
use crate::storage::models::NewTick;
use crate::storage::{self};

/// What crash recovery did, and what the journal must not reuse.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Each file's replay.
    pub files: Vec<FileReplay>,
    /// The highest journal generation of each socket the database holds rows of.
    pub floors: HashMap<i16, u16>,
}

/// Crash recovery, before live data flows: replays every journal file of the date from its
/// committed position (see [`crate::recovery::recover`]).
#[derive(Debug, Message)]
#[rtype(result = "Result<Recovered, RecoveryError>")]
pub struct Recover {
    /// Skip damaged records instead of stopping.
    pub skip_corrupt: bool,
}

/// Rows from the Redis stream (the `store` role): answered `Ok(rows)` once they are committed,
/// `Err` when the database refused (nothing is kept: the sender still holds the entries and
/// sends them again; shared, so a retry copies nothing).
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, SinkError>")]
pub struct StoreRows(pub std::sync::Arc<Vec<NewTick>>);

impl Handler<Catchup> for Persister {
    type Result = ();

    fn handle(&mut self, msg: Catchup, _ctx: &mut Self::Context) {
        self.check_database(false);
        let mut files: Vec<JournalKey> = msg
            .ends
            .iter()
            .filter(|(key, end)| {
                let read = self.pending_to.get(key).or(self.committed.get(key));
                read.is_none_or(|r| r < *end)
            })
            .map(|(key, _)| *key)
            .collect();
        files.sort_unstable();
        for key in files {
            self.ingest(key);
        }
        if self.pending.len() >= self.batch_rows || self.last_commit.elapsed() >= self.batch_every {
            self.commit();
        }
        self.report_status();
    }
}

impl Handler<FlushPersister> for Persister {
    type Result = Result<u64, SinkError>;

    fn handle(&mut self, msg: FlushPersister, _ctx: &mut Self::Context) -> Self::Result {
        // A last attempt now, whatever the retry timer says, into a database that is there.
        self.check_database(true);
        self.retry_at = std::time::Instant::now();
        for key in msg.files {
            self.ingest(key);
        }
        if self.commit() {
            Ok(self.committed_rows)
        } else {
            Err(SinkError::Refused {
                pending: self.pending.len(),
            })
        }
    }
}

impl Handler<StoreRows> for Persister {
    type Result = Result<u64, SinkError>;

    fn handle(&mut self, msg: StoreRows, _ctx: &mut Self::Context) -> Self::Result {
        // The store role has no journal to rebuild from: a deleted file is recreated (its
        // schema and today's snapshot) and the stream's rows from here on go into it.
        self.check_database(false);
        if self.write(&msg.0, &[]) {
            Ok(msg.0.len() as u64)
        } else {
            Err(SinkError::Refused {
                pending: msg.0.len(),
            })
        }
    }
}

impl Handler<Recover> for Persister {
    type Result = Result<Recovered, RecoveryError>;

    fn handle(&mut self, msg: Recover, _ctx: &mut Self::Context) -> Self::Result {
        let done = recovery::recover(
            &mut self.store,
            &self.data_dir,
            self.date,
            msg.skip_corrupt,
            self.batch_rows,
        )?;
        let rows: u64 = done.iter().map(|f| f.inserted).sum();
        self.committed_rows += rows;
        self.cursors.clear();
        self.load_positions()?;
        self.report_status();
        Ok(Recovered {
            files: done,
            floors: self.generation_floors(),
        })
    }
}

impl Handler<RecordGap> for Persister {
    type Result = ();

    fn handle(&mut self, msg: RecordGap, _ctx: &mut Self::Context) {
        // Beside the journal too: the day can be rebuilt from its directory alone.
        if let Err(e) = crate::sidecar::append_gap_file(&self.data_dir, self.date, &msg.0) {
            tracing::error!(error = %e, gap = ?msg.0, "cannot keep a gap beside the journal");
        }
        match storage::record_gap(self.store.conn(), &msg.0) {
            Ok(()) => self.gap_recorded(&msg.0),
            Err(e) => tracing::error!(error = %e, gap = ?msg.0, "cannot record a gap"),
        }
    }
}

impl Handler<SaveInstruments> for Persister {
    type Result = Result<(), SinkError>;

    fn handle(&mut self, msg: SaveInstruments, _ctx: &mut Self::Context) -> Self::Result {
        // Each row under its own date (a store may get yesterday's snapshot at today's start).
        let mut by_date: std::collections::BTreeMap<_, Vec<_>> = Default::default();
        for row in msg.0 {
            by_date.entry(row.trade_date).or_default().push(row);
        }
        for (date, rows) in by_date {
            if let Err(e) = crate::sidecar::merge_instruments_file(&self.data_dir, date, &rows) {
                tracing::error!(error = %e, "cannot keep the instrument snapshot beside the journal");
            }
            storage::save_instruments(self.store.conn(), date, &rows)?;
        }
        Ok(())
    }
}
