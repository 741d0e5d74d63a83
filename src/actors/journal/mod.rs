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
//! everything and report each file's end). Talks to: the persister ([`crate::actors::persister::handlers::Catchup`]).

pub mod actor;
pub mod handlers;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use actix::Recipient;
use chrono::NaiveDate;

use crate::actors::persister::handlers::Catchup;
use crate::actors::publisher::handlers::Publish;
use crate::capture::journal::{self as files, JournalKey};
use crate::capture::{CaptureWriter, SyncPolicy};
use crate::settings::pipeline::JournalSettings;
use crate::status::StatusHandle;

pub use crate::capture::journal::{journal_dir, journal_path};

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
}

impl Journal {
    /// A journal for `date`; `floors` are the highest generations the database has rows of.
    pub fn new(
        data_dir: PathBuf,
        date: NaiveDate,
        settings: &JournalSettings,
        floors: HashMap<i16, u16>,
        persister: Recipient<Catchup>,
        publisher: Option<Recipient<Publish>>,
        status: StatusHandle,
    ) -> Journal {
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
        }
    }

    /// The writer of `socket`: on first use (and after a failed write) a new generation's
    /// file, created empty, never one another run or a failed write left behind.
    fn writer(&mut self, socket: i16) -> std::io::Result<(u16, &mut CaptureWriter)> {
        if !self.writers.contains_key(&socket) {
            let dir = files::journal_dir(&self.data_dir, self.date);
            std::fs::create_dir_all(&dir)?;
            let floor = self.floors.get(&socket).copied();
            let generation = files::next_generation(&dir, socket, floor).ok_or_else(|| {
                std::io::Error::other(format!(
                    "socket-{socket} used up its {} journal generations of {}",
                    files::MAX_GENERATION,
                    self.date
                ))
            })?;
            let key = JournalKey::new(socket, generation);
            let path = files::file_in(&dir, key);
            let writer = CaptureWriter::create(&path, SyncPolicy::Interval(self.fsync_every))?;
            if generation > 0 {
                tracing::info!(socket, generation, path = %path.display(), "a new journal generation");
            }
            // Never reused, even if its file goes.
            self.floors.insert(socket, generation);
            self.ends.insert(key, writer.position());
            self.writers.insert(socket, (generation, writer));
        }
        self.writers
            .get_mut(&socket)
            .map(|(g, w)| (*g, w))
            .ok_or_else(|| std::io::Error::other("writer vanished"))
    }

    /// Ends `socket`'s current file: its next frame opens a new generation.
    fn close_generation(&mut self, socket: i16) {
        if let Some((generation, mut writer)) = self.writers.remove(&socket) {
            let key = JournalKey::new(socket, generation);
            match writer.sync() {
                Ok(()) => {
                    self.ends.insert(key, writer.position());
                }
                Err(e) => {
                    tracing::error!(socket, generation, error = %e, "cannot sync a journal file being closed")
                }
            }
        }
    }
}
