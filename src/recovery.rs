//! Crash recovery and replay: journal records become daily rows.
//!
//! At start-up the persister compares each journal file's committed position with the journal
//! files of the trading date and replays the difference before live data flows (kdb+tick style);
//! `tickvault replay` rebuilds a day from journals explicitly, or loads captures recorded
//! elsewhere. Rows are keyed by (date, socket, [`crate::capture::row_seq`]: the file's
//! generation, the record's offset, the packet's index), so replaying what is already stored
//! inserts nothing, and no file's rows can take another file's keys.

use std::fs::{File, OpenOptions};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::capture::{
    CaptureError, CaptureReader, JournalKey, Next, RecordHeader, RecordKind, row_seq,
};
use crate::kite::parse_message;
use crate::storage::models::{NewTick, Position};
use crate::storage::{self, Store};

/// The magic's length: the first record starts here.
pub const FIRST_RECORD: u64 = 8;

/// Why a replay stopped; each variant is a decision.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// A journal file cannot be read (permissions, disk): nothing can be done without it.
    #[error("cannot read the journal {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// A record in the middle of a journal is damaged: stop unless told to skip such records.
    #[error(
        "corrupt record in {path} at byte {offset}: {detail} (rerun with --skip-corrupt to skip damaged records and go on)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the damaged record starts.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The database refused: retry when it is back; nothing was lost (the journal stays).
    #[error("cannot store the replayed rows: {0}")]
    Storage(#[from] diesel::result::Error),
}

/// How to replay.
#[derive(Debug, Clone, Copy)]
pub struct ReplayOptions {
    /// Skip damaged records (each is logged) instead of stopping.
    pub skip_corrupt: bool,
    /// Rows per transaction.
    pub batch_rows: usize,
    /// Cut a torn final record off the file (a crash mid-write), as the journal would.
    pub truncate_torn: bool,
    /// Move the socket's committed position with the rows (the date's own journals).
    pub track_position: bool,
}

/// What one file's replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FileReplay {
    /// The socket number the rows are stored under.
    pub socket: i16,
    /// The file's generation.
    pub generation: u16,
    /// The file.
    pub path: PathBuf,
    /// Where reading started and ended.
    pub from: u64,
    /// End of the last whole record.
    pub to: u64,
    /// Records read.
    pub records: u64,
    /// Ticks decoded.
    pub ticks: u64,
    /// Rows inserted (ticks already stored are not).
    pub inserted: u64,
    /// Bytes of a torn final record cut off.
    pub torn_bytes: u64,
    /// Damaged records skipped (only with `skip_corrupt`).
    pub corrupt_skipped: u64,
    /// Binary messages that do not parse (kept in the journal, counted, no rows).
    pub malformed: u64,
    /// Ticks not put back into the daily table because the master holds them (the date's end
    /// of day moved them).
    pub in_master: u64,
}

/// Appends the rows of one record of `key`'s file to `rows`: one per packet of a binary
/// message, keyed by [`row_seq`]. Returns false when the message does not parse.
pub fn push_rows(
    rows: &mut Vec<NewTick>,
    date: NaiveDate,
    key: JournalKey,
    header: &RecordHeader,
    payload: &[u8],
) -> bool {
    if header.kind != RecordKind::Binary || payload.len() <= 1 {
        return true;
    }
    match parse_message(payload) {
        Ok(message) => {
            for (i, tick) in message.packets().enumerate() {
                let seq = row_seq(key.generation, header.offset, i);
                rows.push(NewTick::new(
                    date,
                    key.socket,
                    seq,
                    header.recv_time_us as i64,
                    &tick,
                ));
            }
            true
        }
        Err(_) => false,
    }
}

/// The capture files in `dir` under the key each is stored as: journal files under their own
/// (`socket-N.kcap`, `socket-N.gG.kcap`); any other `*.kcap` (captures from elsewhere) as
/// sockets 101, 102, … in name order.
pub fn journal_files(dir: &Path) -> Result<Vec<(JournalKey, PathBuf)>, RecoveryError> {
    crate::capture::journal::files_in(dir).map_err(|error| RecoveryError::Io {
        path: dir.to_path_buf(),
        error,
    })
}

/// Replays `path` from byte `from` into the daily table of `date` as the file `key`.
pub fn replay_file(
    store: &mut Store,
    date: NaiveDate,
    key: JournalKey,
    path: &Path,
    from: u64,
    opts: ReplayOptions,
) -> Result<FileReplay, RecoveryError> {
    let io = |error| RecoveryError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut reader = match CaptureReader::new(BufReader::with_capacity(1 << 20, file)) {
        Ok(r) => r,
        Err(CaptureError::Io(e)) => return Err(io(e)),
        Err(e) => {
            return Err(RecoveryError::Corrupt {
                path: path.to_path_buf(),
                offset: 0,
                detail: e.to_string(),
            });
        }
    };
    let mut from = from.max(FIRST_RECORD);
    if from > len {
        // Its end was lost after the commit (a power cut before the fsync): the database holds
        // those rows, and nothing is ever appended to this file again (a new run writes a new
        // generation). Read from the start in case it was replaced; stored rows are skipped.
        tracing::error!(path = %path.display(), committed = from, len, "the journal file is shorter than what was committed; replaying it from the start");
        from = FIRST_RECORD;
    }
    reader.seek_record(from).map_err(io)?;
    let mut done = FileReplay {
        socket: key.socket,
        generation: key.generation,
        path: path.to_path_buf(),
        from,
        to: from,
        ..FileReplay::default()
    };
    // A date moved to the master: its rows must not come back into the daily table.
    let target = Target {
        date,
        key,
        opts,
        master: crate::storage::eod::master_has(store.conn(), date)?,
    };
    let batch_rows = opts.batch_rows.max(1);
    let mut rows: Vec<NewTick> = Vec::with_capacity(batch_rows);
    let mut payload = Vec::with_capacity(64 * 1024);
    loop {
        match reader.next_into(&mut payload) {
            Ok(Next::Record(h)) => {
                done.records += 1;
                let before = rows.len();
                if !push_rows(&mut rows, date, key, &h, &payload) {
                    done.malformed += 1;
                }
                done.ticks += (rows.len() - before) as u64;
                done.to = h.end();
                if rows.len() >= batch_rows {
                    target.commit(store, &rows, &mut done)?;
                    rows.clear();
                }
            }
            Ok(Next::End) => break,
            Ok(Next::Torn(torn)) => {
                done.torn_bytes = torn.available;
                if opts.truncate_torn && torn.available > 0 {
                    tracing::warn!(path = %path.display(), offset = torn.offset, bytes = torn.available, "cutting off a torn final record (a crash mid-write)");
                    OpenOptions::new()
                        .write(true)
                        .open(path)
                        .and_then(|f| f.set_len(torn.offset))
                        .map_err(io)?;
                }
                break;
            }
            Err(CaptureError::Io(e)) => return Err(io(e)),
            Err(e) => {
                let offset = e.offset().unwrap_or(done.to);
                if !opts.skip_corrupt {
                    if !rows.is_empty() {
                        target.commit(store, &rows, &mut done)?;
                    }
                    return Err(RecoveryError::Corrupt {
                        path: path.to_path_buf(),
                        offset,
                        detail: e.to_string(),
                    });
                }
                done.corrupt_skipped += 1;
                tracing::error!(path = %path.display(), offset, error = %e, "corrupt journal record skipped");
            }
        }
    }
    if !rows.is_empty() || (opts.track_position && done.to > from) {
        target.commit(store, &rows, &mut done)?;
    }
    Ok(done)
}

/// Where one file's rows go: its date and key, how, and whether the master holds the date.
struct Target {
    date: NaiveDate,
    key: JournalKey,
    opts: ReplayOptions,
    master: bool,
}

impl Target {
    /// Commits `rows` (leaving out those the master holds) and, when tracked, the file's
    /// position up to `done.to`; counts into `done`.
    fn commit(
        &self,
        store: &mut Store,
        rows: &[NewTick],
        done: &mut FileReplay,
    ) -> Result<(), RecoveryError> {
        let kept;
        let rows = if self.master {
            let held = crate::storage::eod::in_master(store.conn(), self.date, rows)?;
            kept = rows
                .iter()
                .filter(|r| !held.contains(&(r.socket, r.seq)))
                .cloned()
                .collect::<Vec<_>>();
            done.in_master += (rows.len() - kept.len()) as u64;
            &kept[..]
        } else {
            rows
        };
        let position = Position::new(self.date, self.key, done.to);
        let positions: &[Position] = if self.opts.track_position {
            std::slice::from_ref(&position)
        } else {
            &[]
        };
        done.inserted += storage::commit_batch(store, rows, positions)? as u64;
        Ok(())
    }
}

/// Crash recovery for `date`: every journal file of the date, from its committed position to
/// its end; positions move with the rows. Files are left as they are (a torn tail stays: no
/// run appends to an old file).
pub fn recover(
    store: &mut Store,
    data_dir: &Path,
    date: NaiveDate,
    skip_corrupt: bool,
    batch_rows: usize,
) -> Result<Vec<FileReplay>, RecoveryError> {
    let dir = crate::capture::journal::journal_dir(data_dir, date);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let committed = storage::positions(store.conn(), date)?;
    let opts = ReplayOptions {
        skip_corrupt,
        batch_rows,
        truncate_torn: false,
        track_position: true,
    };
    let mut done = Vec::new();
    for (key, path) in journal_files(&dir)? {
        let from = committed.get(&key).copied().unwrap_or(0);
        done.push(replay_file(store, date, key, &path, from, opts)?);
    }
    Ok(done)
}
