//! The journal actor: appends every received message, unparsed, to a capture file per socket
//! per trading date (`<data_dir>/journal/YYYY-MM-DD/socket-N.kcap`). It is the record of truth:
//! the database is built from it. Every frame goes to the OS as it is appended (a killed process
//! loses nothing received), the persister is told how far each file reaches every `flush_ms`,
//! and files go to disk every `fsync_ms`.
//!
//! Messages: [`handlers::Append`] (from sockets), [`handlers::FlushJournal`] (shutdown: sync
//! everything and report each file's end). Talks to: the persister ([`crate::actors::persister::handlers::Catchup`]).

pub mod actor;
pub mod handlers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use actix::Recipient;
use chrono::NaiveDate;

use crate::actors::persister::handlers::Catchup;
use crate::actors::publisher::handlers::Publish;
use crate::capture::{CaptureWriter, SyncPolicy};
use crate::settings::pipeline::JournalSettings;
use crate::status::StatusHandle;

/// The journal directory of `date` under `data_dir`.
pub fn journal_dir(data_dir: &Path, date: NaiveDate) -> PathBuf {
    data_dir.join("journal").join(date.to_string())
}

/// The journal file of `socket` on `date` under `data_dir`.
pub fn journal_path(data_dir: &Path, date: NaiveDate, socket: i16) -> PathBuf {
    journal_dir(data_dir, date).join(format!("socket-{socket}.kcap"))
}

/// The journal actor's state.
pub struct Journal {
    data_dir: PathBuf,
    date: NaiveDate,
    writers: HashMap<i16, CaptureWriter>,
    flush_every: Duration,
    fsync_every: Duration,
    persister: Recipient<Catchup>,
    /// A catch-up request is outstanding: do not pile up more.
    catchup_in_flight: bool,
    /// Offsets the persister was last told about.
    notified: HashMap<i16, u64>,
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
    /// A journal for `date`.
    pub fn new(
        data_dir: PathBuf,
        date: NaiveDate,
        settings: &JournalSettings,
        persister: Recipient<Catchup>,
        publisher: Option<Recipient<Publish>>,
        status: StatusHandle,
    ) -> Journal {
        Journal {
            data_dir,
            date,
            writers: HashMap::new(),
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

    /// The writer of `socket`, opened (and a torn tail from a crash cut off) on first use. A
    /// file corrupt in the middle is moved aside, never overwritten.
    fn writer(&mut self, socket: i16) -> std::io::Result<&mut CaptureWriter> {
        if !self.writers.contains_key(&socket) {
            let path = journal_path(&self.data_dir, self.date, socket);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let policy = SyncPolicy::Interval(self.fsync_every);
            let writer = match CaptureWriter::open(&path, policy) {
                Ok((w, report)) => {
                    if report.truncated_bytes > 0 {
                        tracing::warn!(path = %path.display(), bytes = report.truncated_bytes, "cut off a torn final record (a crash mid-write)");
                    }
                    w
                }
                Err(e) => {
                    let aside = path
                        .with_extension(format!("kcap.corrupt-{}", chrono::Utc::now().timestamp()));
                    tracing::error!(path = %path.display(), aside = %aside.display(), error = %e, "journal corrupt; moved aside, starting a new one");
                    std::fs::rename(&path, &aside)?;
                    CaptureWriter::open(&path, policy)
                        .map_err(std::io::Error::other)?
                        .0
                }
            };
            self.writers.insert(socket, writer);
        }
        self.writers
            .get_mut(&socket)
            .ok_or_else(|| std::io::Error::other("writer vanished"))
    }
}
