//! The persister: reads the journal from each socket's committed position and writes the ticks
//! into the daily table through Diesel, in batches (at `batch_rows` rows or after `batch_ms`,
//! whichever first), one transaction per batch, the journal position in the same transaction.
//!
//! It runs on its own thread (a `SyncArbiter`) with its own connection, so database work never
//! touches the event loop, and it reads from the journal rather than from a queue fed by the
//! sockets: when the database is slow or down, sockets are never blocked, memory stays bounded
//! (at most one batch is held), ticks wait in the journal and the persister catches up from it.
//! Replaying a journal inserts nothing twice (rows are keyed by journal position).
//!
//! In the `store` role (`run --role store`) the rows come from the Redis stream instead
//! ([`handlers::StoreRows`], answered once they are committed, so the consumer acknowledges
//! only committed entries); the batch path, retries and status are the same.
//!
//! Messages: the sink's ([`crate::actors::sink`]: `Catchup` (the journal grew),
//! `FlushPersister` (commit everything now), `RecordGap`, `SaveInstruments`),
//! [`handlers::StoreRows`], [`handlers::Recover`].

pub mod actor;
pub mod handlers;

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use hdrhistogram::Histogram;

use crate::backoff::Backoff;
use crate::capture::journal::journal_path;
use crate::capture::{CaptureError, CaptureReader, JournalKey, Next};
use crate::recovery::push_rows;
use crate::status::PersisterStatus;
use crate::status::{State, StatusHandle};
use crate::storage::models::{NewTick, Position};
use crate::storage::{self, Store};

/// The first wait before retrying a database that refused; it doubles up to [`LAST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// A socket's journal being read.
struct Cursor {
    reader: CaptureReader<BufReader<File>>,
}

/// The persister's state.
pub struct Persister {
    store: Store,
    data_dir: PathBuf,
    date: NaiveDate,
    batch_rows: usize,
    batch_every: Duration,
    cursors: HashMap<JournalKey, Cursor>,
    /// Committed offset per journal file (what the database holds).
    committed: HashMap<JournalKey, u64>,
    /// Rows read but not committed, and where each file's reading got to.
    pending: Vec<NewTick>,
    pending_to: HashMap<JournalKey, u64>,
    last_commit: Instant,
    status: StatusHandle,
    committed_rows: u64,
    corrupt_records: u64,
    malformed_messages: u64,
    last_commit_ms: u64,
    /// Socket-seconds of the date's recorded gaps.
    gap_seconds: f64,
    /// When rows were last committed (wall clock, for the status and systemd's `STATUS=`).
    last_commit_at: Option<chrono::DateTime<chrono::Utc>>,
    lag_ms: i64,
    /// The last commit failed: the database is unavailable.
    failing: bool,
    /// When the SQLite file's identity was last looked at, and rebuilds since start.
    checked_at: Instant,
    rebuilds: u64,
    /// While failing: no new attempt before this (then a reconnect first), doubling up to 10 s.
    retry_at: Instant,
    retry_after: Backoff,
    /// Frame received → row committed, per row, in microseconds, since start.
    /// (`None` only if the histogram could not be built, which its constant bounds rule out.)
    latency: Option<Histogram<u64>>,
    /// Its restarts (the `SyncArbiter` makes a new one after a stop).
    restarts: crate::actors::children::Restarts,
}

impl Persister {
    /// A persister for `date` writing to `store`.
    pub fn new(
        store: Store,
        data_dir: PathBuf,
        date: NaiveDate,
        batch_rows: usize,
        batch_every: Duration,
        status: StatusHandle,
        restarts: crate::actors::children::Restarts,
    ) -> Persister {
        Persister {
            store,
            data_dir,
            date,
            batch_rows: batch_rows.max(1),
            batch_every,
            cursors: HashMap::new(),
            committed: HashMap::new(),
            pending: Vec::new(),
            pending_to: HashMap::new(),
            last_commit: Instant::now(),
            status,
            committed_rows: 0,
            corrupt_records: 0,
            malformed_messages: 0,
            last_commit_ms: 0,
            gap_seconds: 0.0,
            last_commit_at: None,
            lag_ms: 0,
            failing: false,
            checked_at: Instant::now(),
            rebuilds: 0,
            retry_at: Instant::now(),
            retry_after: Backoff::new(FIRST_RETRY, LAST_RETRY),
            restarts,
            // 1 µs to 1 h, 3 significant digits; longer waits (a day-long outage) are clamped.
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3).ok(),
        }
    }

    /// A persister made again after a stop goes on counting where the last one was (its
    /// figures are on the board): today's committed rows do not start again at 0.
    pub fn carry_on(mut self) -> Persister {
        if let Some(last) = self.status.get()
            && let Some(p) = last.details::<PersisterStatus>()
        {
            self.committed_rows = p.committed_rows;
            self.corrupt_records = p.corrupt_records;
            self.malformed_messages = p.malformed_messages;
            self.gap_seconds = p.gap_seconds;
            self.rebuilds = p.database_rebuilds;
            self.last_commit_at = p.last_commit_at;
            self.last_commit_ms = p.last_commit_ms;
            self.lag_ms = p.lag_ms;
        }
        self
    }

    /// Loads the committed positions of the date.
    pub(crate) fn load_positions(&mut self) -> diesel::QueryResult<()> {
        self.committed = storage::positions(self.store.conn(), self.date)?;
        self.gap_seconds = storage::gaps(self.store.conn(), self.date)?
            .iter()
            .map(|g| crate::storage::models::gap_seconds(g.start_us, g.end_us))
            .fold(0.0, |a, b| a + b);
        Ok(())
    }

    /// The highest generation of each socket the database holds rows of (the journal never
    /// reuses one).
    pub(crate) fn generation_floors(&self) -> HashMap<i16, u16> {
        let mut floors: HashMap<i16, u16> = HashMap::new();
        for key in self.committed.keys() {
            let g = floors.entry(key.socket).or_insert(key.generation);
            *g = (*g).max(key.generation);
        }
        floors
    }

    /// Opens `key`'s journal file at its committed position.
    fn cursor(&mut self, key: JournalKey) -> Option<&mut Cursor> {
        if !self.cursors.contains_key(&key) {
            let path = journal_path(&self.data_dir, self.date, key);
            let file = File::open(&path).ok()?;
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let mut reader = match CaptureReader::new(BufReader::with_capacity(1 << 20, file)) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "cannot read the journal");
                    return None;
                }
            };
            let mut from = self
                .pending_to
                .get(&key)
                .or(self.committed.get(&key))
                .copied()
                .unwrap_or(8);
            if from > len {
                tracing::error!(path = %path.display(), committed = from, len, "the journal is shorter than what was committed (replaced?); reading it from the start");
                from = 8;
            }
            if let Err(e) = reader.seek_record(from) {
                tracing::error!(path = %path.display(), error = %e, "cannot seek in the journal");
                return None;
            }
            self.cursors.insert(key, Cursor { reader });
        }
        self.cursors.get_mut(&key)
    }

    /// Reads `key`'s journal file as far as it goes, committing whenever a batch fills. Stops
    /// early (keeping what it read) when a commit fails.
    fn ingest(&mut self, key: JournalKey) {
        let date = self.date;
        let mut payload = Vec::with_capacity(64 * 1024);
        loop {
            if self.pending.len() >= self.batch_rows && !self.commit() {
                return;
            }
            let Some(cursor) = self.cursor(key) else {
                return;
            };
            match cursor.reader.next_into(&mut payload) {
                Ok(Next::Record(h)) => {
                    if !push_rows(&mut self.pending, date, key, &h, &payload) {
                        // Counted and logged by the socket too; the bytes stay in the journal.
                        self.malformed_messages += 1;
                    }
                    self.pending_to.insert(key, h.end());
                }
                Ok(Next::End) | Ok(Next::Torn(_)) => return,
                Err(CaptureError::Io(e)) => {
                    tracing::error!(socket = key.socket, generation = key.generation, error = %e, "cannot read the journal");
                    self.cursors.remove(&key);
                    return;
                }
                Err(e) => {
                    self.corrupt_records += 1;
                    tracing::error!(socket = key.socket, generation = key.generation, error = %e, "corrupt journal record skipped");
                }
            }
        }
    }

    /// Commits what is pending. Returns false if the database refused (the rows stay pending,
    /// and are retried on the next call).
    fn commit(&mut self) -> bool {
        if self.pending_to.is_empty() {
            return true;
        }
        let positions: Vec<Position> = self
            .pending_to
            .iter()
            .map(|(key, o)| Position::new(self.date, *key, *o))
            .collect();
        let rows = std::mem::take(&mut self.pending);
        let ok = self.write(&rows, &positions);
        if ok {
            for (key, o) in self.pending_to.drain() {
                self.committed.insert(key, o);
            }
        } else {
            self.pending = rows;
        }
        ok
    }

    /// Commits `rows` (and `positions`) in one batch, or says the database refused; while it
    /// refuses, attempts are spaced out (doubling up to 10 s), each after a reconnect.
    pub(crate) fn write(&mut self, rows: &[NewTick], positions: &[Position]) -> bool {
        if self.failing {
            let now = Instant::now();
            if now < self.retry_at {
                return false;
            }
            self.retry_at = now + self.retry_after.next_delay();
            // A restarted server has dropped the old connection.
            if let Err(e) = self.store.reconnect() {
                self.status.fail(State::Backoff, &format!("reconnect: {e}"));
                self.report_status();
                return false;
            }
        }
        let started = Instant::now();
        match storage::commit_batch(&mut self.store, rows, positions) {
            Ok(_) => {
                let took = started.elapsed();
                self.last_commit_ms = took.as_millis() as u64;
                self.status
                    .observe(|h| &h.commit_seconds, took.as_secs_f64());
                self.status.observe(|h| &h.batch_rows, rows.len() as f64);
                self.committed_rows += rows.len() as u64;
                self.last_commit_at = Some(chrono::Utc::now());
                let now_us = chrono::Utc::now().timestamp_micros();
                if let Some(latency) = &mut self.latency {
                    for row in rows {
                        latency.saturating_record((now_us - row.recv_time_us).max(1) as u64);
                    }
                }
                if let Some(last) = rows.iter().map(|r| r.recv_time_us).max() {
                    self.lag_ms = (now_us - last) / 1000;
                }
                self.last_commit = Instant::now();
                if self.failing {
                    tracing::info!("the database is back; catching up");
                    self.failing = false;
                    self.retry_after.reset();
                    self.status.set_state(State::Running);
                }
                self.report_status();
                true
            }
            Err(e) => {
                if !self.failing {
                    tracing::error!(error = %e, rows = rows.len(), "cannot commit; the ticks wait in the journal (or the stream)");
                    self.retry_at = Instant::now() + self.retry_after.next_delay();
                }
                self.failing = true;
                self.status.fail(State::Backoff, &format!("commit: {e}"));
                self.report_status();
                false
            }
        }
    }

    /// Rebuilds the database from the journals when its SQLite file was deleted or renamed
    /// over under the open connection (rows would go where nobody reads them). Looked at at
    /// most once a second, or now when `force` (the drain).
    pub(crate) fn check_database(&mut self, force: bool) {
        if !force && self.checked_at.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.checked_at = Instant::now();
        if !self.store.replaced() {
            return;
        }
        tracing::error!(url = %self.store.url(), "the database file was deleted or replaced under the service; rebuilding it from the journals");
        self.status.fail(
            State::Backoff,
            "the database file was deleted or replaced; rebuilding it from the journals",
        );
        self.rebuilds += 1;
        self.report_status();
        let rebuilt = self.rebuild();
        match rebuilt {
            Ok(rows) => {
                tracing::info!(rows, "the database is rebuilt from the journals");
                self.status.set_state(State::Running);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot rebuild the database; retrying");
                self.status
                    .fail(State::Backoff, &format!("rebuilding the database: {e}"));
            }
        }
        self.report_status();
    }

    /// A new database from the date's journal directory: every file's records, its gaps and
    /// its instrument snapshot. Returns the rows stored.
    fn rebuild(&mut self) -> Result<u64, String> {
        self.store.reopen().map_err(|e| e.to_string())?;
        self.cursors.clear();
        self.pending.clear();
        self.pending_to.clear();
        // Damaged records are skipped (logged): the service is running.
        let done = crate::recovery::recover(
            &mut self.store,
            &self.data_dir,
            self.date,
            true,
            self.batch_rows,
        )
        .map_err(|e| e.to_string())?;
        let dir = crate::capture::journal::journal_dir(&self.data_dir, self.date);
        crate::sidecar::restore(&mut self.store, &dir, self.date)?;
        self.load_positions().map_err(|e| e.to_string())?;
        Ok(done.iter().map(|f| f.inserted).sum())
    }

    /// Counts a recorded gap.
    pub(crate) fn gap_recorded(&mut self, gap: &crate::storage::models::NewGap) {
        self.gap_seconds += gap.seconds();
        self.report_status();
    }

    fn report_status(&self) {
        self.status.report(|p: &mut PersisterStatus| {
            p.queued = self.pending.len();
            p.committed_rows = self.committed_rows;
            p.last_commit_ms = self.last_commit_ms;
            p.last_commit_at = self.last_commit_at;
            p.lag_ms = self.lag_ms;
            p.gap_seconds = self.gap_seconds;
            p.corrupt_records = self.corrupt_records;
            p.malformed_messages = self.malformed_messages;
            p.latency_p50_ms = self.latency_ms(50.0);
            p.latency_p99_ms = self.latency_ms(99.0);
            p.latency_max_ms = self.latency_ms(100.0);
            p.write_path = self.store.write_path().to_string();
            p.database_rebuilds = self.rebuilds;
        });
    }

    /// The `q`th percentile of frame-received → row-committed since start, in milliseconds.
    fn latency_ms(&self, q: f64) -> Option<f64> {
        let h = self.latency.as_ref().filter(|h| !h.is_empty())?;
        Some((h.value_at_percentile(q) as f64 / 100.0).round() / 10.0)
    }
}
