//! The journal actor: appends every received message, unparsed, to a capture file per socket
//! per trading date (`<data_dir>/journal/YYYY-MM-DD/socket-N.kcap`, then `socket-N.gG.kcap`:
//! see [`crate::capture::journal`]). It is the record of truth: the database is built from it.
//! Every frame goes to the OS as it is appended (a killed process loses nothing received), the
//! persister is told how far each file reaches every `flush_ms`, and files go to disk every
//! `fsync_ms`.
//!
//! It never appends to a file another run wrote: each socket's first frame of a run opens a
//! new generation, and so does the first frame after a failed write (the failed file may end
//! in half a record) or one that would take a file past [`crate::capture::journal::MAX_OFFSET`].
//!
//! Messages: [`handlers::Append`] (from sockets), [`handlers::FlushJournal`] (shutdown: sync
//! everything and report each file's end). Talks to: the persister ([`crate::actors::sink::Catchup`]).

pub mod actor;
mod flush;
pub mod handlers;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use actix::Recipient;
use chrono::NaiveDate;

use crate::actors::publisher::handlers::Publish;
use crate::actors::sink::{Catchup, RecordGap};
use crate::capture::journal::{self as files, JournalKey};
use crate::capture::{CaptureWriter, SyncPolicy};
use crate::settings::pipeline::JournalSettings;
use crate::status::{State, StatusHandle};

/// The journal actor's state.
pub struct Journal {
    data_dir: PathBuf,
    date: NaiveDate,
    /// The file each socket is writing, and its generation.
    writers: HashMap<i16, (u16, CaptureWriter)>,
    /// The highest generation of each socket the database has committed rows of (a file may
    /// be gone; its generation is still never reused).
    floors: HashMap<i16, u16>,
    /// Where every file this run wrote ends (closed generations included, until the persister
    /// has been told).
    ends: HashMap<JournalKey, u64>,
    flush_every: Duration,
    fsync_every: Duration,
    persister: Recipient<Catchup>,
    /// A catch-up request is outstanding: do not pile up more.
    catchup_in_flight: bool,
    /// Offsets the persister was last told about.
    notified: HashMap<JournalKey, u64>,
    status: StatusHandle,
    records: u64,
    bytes: u64,
    /// Appends that failed (disk full, …): data at risk, reported as errors.
    failed_appends: u64,
    /// Where journaled binary frames go next (the Redis publisher), if anywhere.
    publisher: Option<Recipient<Publish>>,
    /// Frames the publisher's mailbox had no room for (the live view misses them).
    publish_dropped: u64,
    /// Where the intervals of lost frames go (the persister or the ledger).
    gaps: Recipient<RecordGap>,
    /// Instruments per socket (for the gaps), once the plan is known.
    sizes: HashMap<i16, i32>,
    /// Sockets whose frames cannot be written right now.
    failing: HashMap<i16, Failing>,
    /// Receive time of each socket's last frame written (a gap of lost frames starts there).
    last_written_us: HashMap<i16, i64>,
    /// Where its restarts are counted (the coordinator), once it is told.
    pub(super) restarts: crate::actors::children::Restarts,
}

/// A socket whose journal writes fail (a full disk, a read-only remount).
#[derive(Debug, Clone)]
pub(crate) struct Failing {
    /// Receive time of the last frame written before the failure (or of the first lost,
    /// when none was): the gap starts there.
    pub(crate) since_us: i64,
    /// Receive time of the last frame lost.
    pub(crate) last_us: i64,
    /// Frames lost, in all and since the last log line.
    pub(crate) lost: u64,
    pub(crate) lost_since_log: u64,
    /// The error.
    pub(crate) error: String,
    /// No new file is tried before this; frames until then are lost.
    pub(crate) retry_at: std::time::Instant,
    pub(crate) logged_at: std::time::Instant,
}

/// A new file is tried at most this often while writes fail.
pub(crate) const RETRY_EVERY: Duration = Duration::from_secs(1);
/// While writes fail, one log line per socket this often, with the count.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);

impl Journal {
    /// A journal for `date`; `floors` are the highest generations the database has rows of;
    /// intervals of frames it could not write go to `gaps`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        data_dir: PathBuf,
        date: NaiveDate,
        settings: &JournalSettings,
        floors: HashMap<i16, u16>,
        persister: Recipient<Catchup>,
        publisher: Option<Recipient<Publish>>,
        gaps: Recipient<RecordGap>,
        status: StatusHandle,
    ) -> Journal {
        let status_for_restarts = status.clone();
        Journal {
            data_dir,
            date,
            writers: HashMap::new(),
            floors,
            ends: HashMap::new(),
            flush_every: Duration::from_millis(settings.flush_ms.max(1)),
            fsync_every: Duration::from_millis(settings.fsync_ms.max(1)),
            persister,
            catchup_in_flight: false,
            notified: HashMap::new(),
            status,
            records: 0,
            bytes: 0,
            failed_appends: 0,
            publisher,
            publish_dropped: 0,
            gaps,
            sizes: HashMap::new(),
            failing: HashMap::new(),
            last_written_us: HashMap::new(),
            restarts: crate::actors::children::Restarts::new(&status_for_restarts),
        }
    }

    /// The writer of `socket`: on first use (and after a failed write) a new generation's
    /// file, created empty, never one another run or a failed write left behind.
    fn writer(&mut self, socket: i16) -> std::io::Result<(u16, &mut CaptureWriter)> {
        if !self.writers.contains_key(&socket) {
            let dir = files::journal_dir(&self.data_dir, self.date);
            std::fs::create_dir_all(&dir)?;
            let floor = self.floors.get(&socket).copied();
            let generation = files::next_generation(&dir, socket, floor)?.ok_or_else(|| {
                std::io::Error::other(format!(
                    "socket-{socket} used up its {} journal generations of {}",
                    files::MAX_GENERATION,
                    self.date
                ))
            })?;
            let key = JournalKey::new(socket, generation);
            let path = files::file_in(&dir, key);
            let writer = match CaptureWriter::create(&path, SyncPolicy::Interval(self.fsync_every))
            {
                Ok(w) => w,
                // Another file has the name: never touched.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(e),
                Err(e) => {
                    // This call made it and nothing could be written to it: no row can name
                    // it, so its number may be taken again.
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            };
            // The new name reaches the disk before any row can name the file: a power cut must
            // not lose a generation's number (the ingest role knows them from the disk alone).
            if let Err(e) = std::fs::File::open(&dir).and_then(|d| d.sync_all()) {
                tracing::warn!(error = %e, "cannot sync the journal directory");
            }
            // While the socket's frames are lost, each retry makes a file: the line saying the
            // journal is written again names the one that took.
            if generation > 0 && !self.failing.contains_key(&socket) {
                tracing::info!(socket, generation, path = %path.display(), "a new journal generation");
            }
            // Never reused, even if its file goes (unless it never held a record).
            self.floors.insert(socket, generation);
            self.ends.insert(key, writer.position());
            self.writers.insert(socket, (generation, writer));
        }
        self.writers
            .get_mut(&socket)
            .map(|(g, w)| (*g, w))
            .ok_or_else(|| std::io::Error::other("writer vanished"))
    }

    /// A frame of `socket` received at `at_us` is lost: the journal could not write it
    /// (`error`, or `None` when no new file is tried yet).
    pub(crate) fn lost(&mut self, socket: i16, at_us: i64, error: Option<String>) {
        self.failed_appends += 1;
        let now = std::time::Instant::now();
        match self.failing.get_mut(&socket) {
            Some(f) => {
                f.lost += 1;
                f.lost_since_log += 1;
                f.last_us = at_us;
                if let Some(e) = error {
                    f.error = e;
                    f.retry_at = now + RETRY_EVERY;
                }
            }
            None => {
                let error = error.unwrap_or_default();
                // Once per interval of failure (then a line every LOG_EVERY with the count).
                tracing::error!(socket, error = %error, "cannot write the journal: frames are lost until it can (recorded as a gap)");
                let since_us = self.last_written_us.get(&socket).copied().unwrap_or(at_us);
                self.failing.insert(
                    socket,
                    Failing {
                        since_us,
                        last_us: at_us,
                        lost: 1,
                        lost_since_log: 0,
                        error,
                        retry_at: now + RETRY_EVERY,
                        logged_at: now,
                    },
                );
            }
        }
        let failing: Vec<String> = self.failing.keys().map(|s| format!("socket-{s}")).collect();
        let error = self
            .failing
            .get(&socket)
            .map(|f| f.error.clone())
            .unwrap_or_default();
        self.status.fail(
            State::Backoff,
            &format!(
                "cannot write the journal of {}: {error}",
                failing.join(", ")
            ),
        );
    }

    /// `socket`'s frames are written again (the first at `at_us`): its interval of lost
    /// frames becomes a gap.
    pub(crate) fn recovered(&mut self, socket: i16, at_us: i64) {
        let Some(f) = self.failing.remove(&socket) else {
            return;
        };
        let generation = self.writers.get(&socket).map(|(g, _)| *g);
        tracing::info!(
            socket,
            lost = f.lost,
            generation,
            "the journal is written again"
        );
        self.record_gap(socket, f.since_us, at_us);
        if self.failing.is_empty() {
            self.status.set_state(State::Running);
        }
    }

    /// The gaps of sockets still failing, up to their last lost frame (at shutdown).
    pub(crate) fn close_failing(&mut self) {
        let failing: Vec<(i16, Failing)> = self.failing.drain().collect();
        for (socket, f) in failing {
            self.record_gap(socket, f.since_us, f.last_us);
        }
    }

    fn record_gap(&self, socket: i16, start_us: i64, end_us: i64) {
        self.gaps.do_send(RecordGap(crate::storage::models::NewGap {
            trade_date: self.date,
            socket,
            start_us,
            end_us: end_us.max(start_us),
            cause: "journal_write_failed".into(),
            instruments: self.sizes.get(&socket).copied().unwrap_or(0),
        }));
    }

    /// One line per failing socket every [`LOG_EVERY`], with how many frames were lost.
    pub(crate) fn log_failing(&mut self) {
        let now = std::time::Instant::now();
        for (socket, f) in &mut self.failing {
            if f.lost_since_log > 0 && now.duration_since(f.logged_at) >= LOG_EVERY {
                tracing::warn!(socket, lost = f.lost_since_log, lost_in_all = f.lost, error = %f.error, "the journal still cannot be written");
                f.lost_since_log = 0;
                f.logged_at = now;
            }
        }
    }

    /// Ends `socket`'s current file: its next frame opens a new generation.
    pub(super) fn close_generation(&mut self, socket: i16) {
        if let Some((generation, mut writer)) = self.writers.remove(&socket) {
            let key = JournalKey::new(socket, generation);
            match writer.sync() {
                Ok(()) => {
                    self.ends.insert(key, writer.position());
                }
                Err(_) => {
                    // A file that never got a whole record (a full disk at its creation) goes:
                    // no row names it, and its generation is taken again by the next try (a
                    // long outage must not use up the numbers).
                    let path = files::journal_path(&self.data_dir, self.date, key);
                    if std::fs::metadata(&path).is_ok_and(|m| m.len() <= 8)
                        && std::fs::remove_file(&path).is_ok()
                    {
                        self.ends.remove(&key);
                        if self.floors.get(&socket) == Some(&generation) {
                            match generation.checked_sub(1) {
                                Some(g) => self.floors.insert(socket, g),
                                None => self.floors.remove(&socket),
                            };
                        }
                    }
                }
            }
        }
    }
}
