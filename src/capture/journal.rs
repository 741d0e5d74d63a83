//! Where the journal's capture files live, and how a row names its place in them.
//!
//! Each socket's journal of a trading date is a series of **generations**: files written by
//! one process run each, never appended to by another, numbered from 0 and never reused. A
//! new generation starts at every start of the service, after a failed write, and when a file
//! would outgrow [`MAX_OFFSET`]. So a record's position — (date, socket, generation, offset) —
//! names it in exactly one file, and no later file can collide with an earlier one (a journal
//! cut short by a power cut, a damaged one skipped, a crash mid-write).
//!
//! ```text
//! <data_dir>/journal/YYYY-MM-DD/socket-N.kcap       generation 0 (the first run of the day)
//! <data_dir>/journal/YYYY-MM-DD/socket-N.gG.kcap    generation G ≥ 1
//! ```
//!
//! Rows carry the position in their key: [`row_seq`] packs the generation, the record's offset
//! and the packet's index into one `seq` (rows written before generations existed are
//! generation 0: their `seq` is unchanged).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::{CaptureError, CaptureReader, Next};

/// One journal file's identity: the socket and the generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JournalKey {
    /// Socket number (1, 2, …; 101+ for captures recorded elsewhere).
    pub socket: i16,
    /// Generation (0, 1, …).
    pub generation: u16,
}

impl JournalKey {
    /// The key of `socket`'s generation `generation`.
    pub fn new(socket: i16, generation: u16) -> JournalKey {
        JournalKey { socket, generation }
    }
}

impl std::fmt::Display for JournalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "socket-{} generation {}", self.socket, self.generation)
    }
}

/// Generations per socket and date: [`row_seq`] keeps 11 bits for it.
pub const MAX_GENERATION: u16 = (1 << 11) - 1;

/// A generation ends before its offsets reach this (64 GiB): [`row_seq`] keeps 36 bits.
pub const MAX_OFFSET: u64 = 1 << 36;

/// The row key of packet `index` of the record at `offset` of generation `generation`:
/// generation × 2⁵² + offset × 2¹⁶ + index. Unique per date and socket, ordered as the journal
/// is (generation, then offset, then packet); the publisher's stream entries carry the same.
pub fn row_seq(generation: u16, offset: u64, index: usize) -> i64 {
    (i64::from(generation) << 52) | ((offset as i64) << 16) | index as i64
}

/// The generation a row key belongs to.
pub fn seq_generation(seq: i64) -> u16 {
    (seq >> 52) as u16
}

/// The journal directory of `date` under `data_dir`.
pub fn journal_dir(data_dir: &Path, date: NaiveDate) -> PathBuf {
    data_dir.join("journal").join(date.to_string())
}

/// The file of `key` in the journal directory `dir`.
pub fn file_in(dir: &Path, key: JournalKey) -> PathBuf {
    match key.generation {
        0 => dir.join(format!("socket-{}.kcap", key.socket)),
        g => dir.join(format!("socket-{}.g{g}.kcap", key.socket)),
    }
}

/// The file of `key` for `date` under `data_dir`.
pub fn journal_path(data_dir: &Path, date: NaiveDate, key: JournalKey) -> PathBuf {
    file_in(&journal_dir(data_dir, date), key)
}

/// The key a journal file name stands for (`socket-3.kcap`, `socket-3.g2.kcap`); only the
/// names [`file_in`] makes (`socket-03.kcap` or `socket-3.g0.kcap` would alias a key).
pub fn parse_name(name: &str) -> Option<JournalKey> {
    let stem = name.strip_suffix(".kcap")?.strip_prefix("socket-")?;
    let (socket, generation) = match stem.split_once(".g") {
        Some((s, g)) => (s, g.parse().ok()?),
        None => (stem, 0),
    };
    let key = JournalKey::new(socket.parse().ok()?, generation);
    let canonical = file_in(Path::new(""), key);
    (canonical.to_str() == Some(name)).then_some(key)
}

/// The capture files of a directory, in (socket, generation) order: journal files under their
/// own key; any other `*.kcap` (captures recorded elsewhere) as sockets 101, 102, … in name
/// order, generation 0.
pub fn files_in(dir: &Path) -> std::io::Result<Vec<(JournalKey, PathBuf)>> {
    let mut named = Vec::new();
    let mut others = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("kcap") {
            continue;
        }
        let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
        match parse_name(name) {
            Some(key) => named.push((key, path)),
            None => others.push(path),
        }
    }
    named.sort();
    others.sort();
    named.extend(
        others
            .into_iter()
            .enumerate()
            .map(|(i, p)| (JournalKey::new(101 + i as i16, 0), p)),
    );
    Ok(named)
}

/// The generation a new file of `socket` takes in `dir`: one past every generation there is
/// (or ever was, as far as `floor` knows: the positions a database has committed), 0 for the
/// first. `Ok(None)` when [`MAX_GENERATION`] is used up; an unreadable directory is an error
/// (never taken for an empty one).
pub fn next_generation(
    dir: &Path,
    socket: i16,
    floor: Option<u16>,
) -> std::io::Result<Option<u16>> {
    let on_disk = files_in(dir)?
        .into_iter()
        .filter(|(k, _)| k.socket == socket && k.socket < 101)
        .map(|(k, _)| k.generation)
        .max();
    Ok(match on_disk.max(floor) {
        None => Some(0),
        Some(g) if g < MAX_GENERATION => Some(g + 1),
        Some(_) => None,
    })
}

/// The file a clean stop leaves in a date's journal directory: the next start knows the hole in
/// the journals since is a stop, not a crash.
pub const STOPPED: &str = "stopped.json";

/// Marks `dir`'s journals as stopped cleanly (synced, nothing in flight), with when and by
/// which process.
pub fn mark_stopped(dir: &Path) -> std::io::Result<()> {
    let text = serde_json::json!({
        "stopped_at": crate::calendar::ist_rfc3339(chrono::Utc::now()),
        "pid": std::process::id(),
    });
    crate::files::write_atomically(&dir.join(STOPPED), text.to_string().as_bytes())
}

/// Whether the last run on `dir`'s journals stopped cleanly; the mark is removed (a crash of
/// this run must not pass for a stop).
pub fn take_stopped_mark(dir: &Path) -> bool {
    std::fs::remove_file(dir.join(STOPPED)).is_ok()
}

/// The receive time (µs) of the last frame any earlier run journaled for `socket` in `dir`:
/// the last record within `within` (the day: a damaged file's stray record is no frame) of its
/// latest generation that has one.
pub fn previous_frame(
    dir: &Path,
    socket: i16,
    within: std::ops::RangeInclusive<u64>,
) -> Option<u64> {
    let mut files: Vec<(JournalKey, PathBuf)> = files_in(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k.socket == socket)
        .collect();
    files.sort();
    files
        .iter()
        .rev()
        .find_map(|(_, path)| last_record_time_within(path, &within).ok().flatten())
}

/// The receive time of the last whole record of a capture file (µs since the epoch), read
/// from its last few MiB without trusting any offset there; `None` for a file with no record.
pub fn last_record_time(path: &Path) -> std::io::Result<Option<u64>> {
    last_record_time_within(path, &(0..=u64::MAX))
}

/// [`last_record_time`] of the records whose time is within `within`.
pub fn last_record_time_within(
    path: &Path,
    within: &std::ops::RangeInclusive<u64>,
) -> std::io::Result<Option<u64>> {
    /// Heartbeats come every second: the last records are always within this of the end.
    const TAIL: u64 = 4 << 20;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let from = len.saturating_sub(TAIL).max(super::MAGIC.len() as u64);
    let mut reader = match CaptureReader::new(std::io::BufReader::new(&mut file)) {
        Ok(r) => r,
        Err(CaptureError::Io(e)) => return Err(e),
        Err(_) => return Ok(None),
    };
    reader.seek_record(from)?;
    let mut last = None;
    let mut payload = Vec::new();
    loop {
        match reader.next_into(&mut payload) {
            Ok(Next::Record(h)) if within.contains(&h.recv_time_us) => last = Some(h.recv_time_us),
            Ok(Next::Record(_)) => {}
            Ok(Next::End) | Ok(Next::Torn(_)) => return Ok(last),
            Err(CaptureError::Io(e)) => return Err(e),
            // Not at a record boundary (or damage): the reader resyncs on the next call.
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{CaptureWriter, RecordKind, SyncPolicy};

    #[test]
    fn names_and_keys_go_both_ways() {
        let dir = Path::new("/j");
        for key in [JournalKey::new(2, 0), JournalKey::new(3, 7)] {
            let path = file_in(dir, key);
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(parse_name(name), Some(key), "{name}");
        }
        assert_eq!(
            file_in(dir, JournalKey::new(2, 0)),
            Path::new("/j/socket-2.kcap")
        );
        assert_eq!(
            file_in(dir, JournalKey::new(2, 5)),
            Path::new("/j/socket-2.g5.kcap")
        );
        assert_eq!(parse_name("socket-2.kcap.corrupt-123"), None);
        for alias in [
            "socket-02.kcap",
            "socket-2.g0.kcap",
            "socket-2.g007.kcap",
            "socket-+2.kcap",
        ] {
            assert_eq!(parse_name(alias), None, "{alias}");
        }
        assert_eq!(parse_name("feed.kcap"), None);
    }

    #[test]
    fn row_keys_order_by_generation_then_offset_and_keep_old_keys() {
        assert_eq!(
            row_seq(0, 8, 1),
            (8 << 16) | 1,
            "generation 0 is the old key"
        );
        let late_in_first = row_seq(0, MAX_OFFSET - 1, 65_535);
        let early_in_second = row_seq(1, 8, 0);
        assert!(late_in_first < early_in_second);
        assert_eq!(seq_generation(early_in_second), 1);
        assert_eq!(
            seq_generation(row_seq(MAX_GENERATION, MAX_OFFSET - 1, 65_535)),
            MAX_GENERATION
        );
        assert!(
            row_seq(MAX_GENERATION, MAX_OFFSET - 1, 65_535) > 0,
            "stays positive"
        );
    }

    #[test]
    fn generations_count_up_from_what_is_there_and_what_was_committed() {
        let dir = tempfile::tempdir().unwrap();
        let next = |socket, floor| next_generation(dir.path(), socket, floor).unwrap();
        assert_eq!(next(1, None), Some(0));
        assert_eq!(
            next(1, Some(0)),
            Some(1),
            "a committed generation 0 whose file is gone"
        );
        for key in [
            JournalKey::new(1, 0),
            JournalKey::new(1, 3),
            JournalKey::new(2, 0),
        ] {
            std::fs::write(file_in(dir.path(), key), b"KITECAP1").unwrap();
        }
        std::fs::write(dir.path().join("other.kcap"), b"KITECAP1").unwrap();
        assert_eq!(next(1, None), Some(4));
        assert_eq!(next(1, Some(9)), Some(10));
        assert_eq!(next(2, None), Some(1));
        assert_eq!(next(1, Some(MAX_GENERATION)), None);
        assert!(next_generation(&dir.path().join("missing"), 1, None).is_err());
        let keys: Vec<JournalKey> = files_in(dir.path())
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [
                JournalKey::new(1, 0),
                JournalKey::new(1, 3),
                JournalKey::new(2, 0),
                JournalKey::new(101, 0)
            ]
        );
    }

    #[test]
    fn the_last_record_time_is_found_from_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("socket-1.kcap");
        let mut w = CaptureWriter::create(&path, SyncPolicy::Manual).unwrap();
        // Big records so that the tail starts inside one.
        for t in 0..40u64 {
            w.append(1_000 + t, RecordKind::Binary, &vec![t as u8; 200_000])
                .unwrap();
        }
        w.flush().unwrap();
        drop(w);
        assert_eq!(last_record_time(&path).unwrap(), Some(1_039));
        // A torn final record is not a record.
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 30).unwrap();
        assert_eq!(last_record_time(&path).unwrap(), Some(1_038));
        // A stray record from another time: skipped by a window, not by the plain reading.
        let mut w = CaptureWriter::open(&path, SyncPolicy::Manual).unwrap().0;
        w.append(1, RecordKind::Binary, &[0]).unwrap();
        w.flush().unwrap();
        drop(w);
        assert_eq!(last_record_time(&path).unwrap(), Some(1));
        assert_eq!(
            last_record_time_within(&path, &(1_000..=2_000)).unwrap(),
            Some(1_038)
        );
        assert_eq!(previous_frame(dir.path(), 1, 1_000..=2_000), Some(1_038));
        let empty = dir.path().join("socket-2.kcap");
        CaptureWriter::create(&empty, SyncPolicy::Manual)
            .unwrap()
            .flush()
            .unwrap();
        assert_eq!(last_record_time(&empty).unwrap(), None);
    }
}
