//! Appending records to a capture file with buffered I/O and an explicit durability policy.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{CaptureError, CaptureReader, MAGIC, MAX_PAYLOAD, Next, RecordKind, record_len};

/// When appended records are pushed to the OS and forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Flush and `fdatasync` after every record: nothing acknowledged is ever lost, at the
    /// price of one disk flush per record.
    EveryRecord,
    /// Flush and `fdatasync` when [`CaptureWriter::sync_if_due`] is called at least this long
    /// after the last sync (the journal calls it on a timer): bounds what a power cut can lose.
    Interval(Duration),
    /// Only on explicit [`CaptureWriter::flush`] / [`CaptureWriter::sync`].
    Manual,
}

/// A sink that can force its written data to stable storage.
pub trait SyncData: Write {
    /// Forces written data to disk (`fdatasync` for files).
    fn sync_data(&mut self) -> io::Result<()>;
}

impl SyncData for File {
    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }
}

impl SyncData for Vec<u8> {
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What [`CaptureWriter::open`] found in an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// Whole records already in the file.
    pub records: u64,
    /// Bytes of a torn final record that were cut off (a crash mid-write).
    pub truncated_bytes: u64,
}

/// Appends records to a capture; see the module docs of [`crate::capture`] for the format.
#[derive(Debug)]
pub struct CaptureWriter<W: SyncData = File> {
    out: BufWriter<W>,
    position: u64,
    policy: SyncPolicy,
    last_sync: Option<Instant>,
    unsynced: bool,
    /// Set when a write failed part-way: the file may end in half a record, so nothing more is
    /// appended (the caller reopens the file, which cuts the torn tail).
    failed: bool,
}

impl<W: SyncData> CaptureWriter<W> {
    /// Starts a new capture on `inner`, writing the magic.
    pub fn new(inner: W, policy: SyncPolicy) -> io::Result<Self> {
        let mut w = Self::at(inner, policy, 0);
        w.out.write_all(MAGIC)?;
        w.position = MAGIC.len() as u64;
        w.unsynced = true;
        Ok(w)
    }

    fn at(inner: W, policy: SyncPolicy, position: u64) -> Self {
        CaptureWriter {
            out: BufWriter::with_capacity(256 * 1024, inner),
            position,
            policy,
            last_sync: None,
            unsynced: false,
            failed: false,
        }
    }

    /// Appends one record and returns its offset. With [`SyncPolicy::EveryRecord`] it is on disk
    /// when this returns; otherwise it may still be in the buffer.
    ///
    /// After an I/O error the writer refuses every later append: reopen the file with
    /// [`CaptureWriter::open`], which cuts off the half-written record.
    pub fn append(
        &mut self,
        recv_time_us: u64,
        kind: RecordKind,
        payload: &[u8],
    ) -> io::Result<u64> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to this capture failed; reopen it",
            ));
        }
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|len| *len <= MAX_PAYLOAD)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "a {} byte payload exceeds the capture limit of {MAX_PAYLOAD}",
                        payload.len()
                    ),
                )
            })?;
        let mut header = [0u8; 13];
        header[..8].copy_from_slice(&recv_time_us.to_be_bytes());
        header[8] = kind.code();
        header[9..].copy_from_slice(&len.to_be_bytes());
        let written = self
            .out
            .write_all(&header)
            .and_then(|_| self.out.write_all(payload))
            .and_then(|_| self.out.write_all(&crc32fast::hash(payload).to_be_bytes()));
        if let Err(e) = written {
            self.failed = true;
            return Err(e);
        }
        let offset = self.position;
        self.position += record_len(len);
        self.unsynced = true;
        if self.policy == SyncPolicy::EveryRecord {
            self.sync()?;
        }
        Ok(offset)
    }

    /// Bytes in the capture, including what is still buffered: the offset of the next record.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The policy this writer follows.
    pub fn policy(&self) -> SyncPolicy {
        self.policy
    }

    /// Whether records were appended since the last [`Self::sync`].
    pub fn has_unsynced(&self) -> bool {
        self.unsynced
    }

    /// Hands buffered records to the OS (they survive a process crash, not a power cut).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and forces everything appended so far to disk.
    pub fn sync(&mut self) -> io::Result<()> {
        let synced = self
            .out
            .flush()
            .and_then(|_| self.out.get_mut().sync_data());
        if synced.is_err() {
            self.failed = true;
        }
        synced?;
        self.unsynced = false;
        Ok(())
    }

    /// Under [`SyncPolicy::Interval`], syncs when the interval has passed since the last sync
    /// (the clock is the caller's). Returns whether it synced.
    pub fn sync_if_due(&mut self, now: Instant) -> io::Result<bool> {
        let SyncPolicy::Interval(every) = self.policy else {
            return Ok(false);
        };
        let due = self
            .last_sync
            .is_none_or(|last| now.saturating_duration_since(last) >= every);
        if !due || !self.unsynced {
            return Ok(false);
        }
        self.sync()?;
        self.last_sync = Some(now);
        Ok(true)
    }

    /// Flushes and returns the sink.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

impl CaptureWriter<File> {
    /// Creates a new capture file; fails if `path` exists.
    pub fn create(path: &Path, policy: SyncPolicy) -> io::Result<Self> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Self::new(file, policy)
    }

    /// Opens a capture for appending, creating it if missing. An existing file is read through
    /// and checked; a torn final record is cut off (reported in [`OpenReport`]); any corruption
    /// before the end is an error naming its offset, and the file is left untouched.
    pub fn open(path: &Path, policy: SyncPolicy) -> Result<(Self, OpenReport), CaptureError> {
        let existing = match File::open(path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let Some(existing) = existing.filter(|f| f.metadata().map(|m| m.len() > 0).unwrap_or(true))
        else {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)?;
            return Ok((Self::new(file, policy)?, OpenReport::default()));
        };
        let mut reader = CaptureReader::new(BufReader::with_capacity(1 << 20, existing))?;
        let mut report = OpenReport::default();
        let mut buf = Vec::new();
        let end = loop {
            match reader.next_into(&mut buf)? {
                Next::Record(_) => report.records += 1,
                Next::End => break reader.offset(),
                Next::Torn(torn) => {
                    report.truncated_bytes = torn.available;
                    break torn.offset;
                }
            }
        };
        let file = OpenOptions::new().write(true).open(path)?;
        if end < crate::capture::MAGIC.len() as u64 {
            // Torn inside the magic: start the file again.
            file.set_len(0)?;
            return Ok((Self::new(file, policy)?, report));
        }
        file.set_len(end)?;
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(end))?;
        file.sync_data()?;
        Ok((Self::at(file, policy, end), report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn records(path: &Path) -> Vec<u64> {
        let mut r = CaptureReader::new(File::open(path).unwrap()).unwrap();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Next::Record(h) = r.next_into(&mut buf).unwrap() {
            out.push(h.recv_time_us);
        }
        out
    }

    #[test]
    fn the_bytes_are_exactly_the_documented_format() {
        let mut w = CaptureWriter::new(Vec::new(), SyncPolicy::Manual).unwrap();
        assert_eq!(
            w.append(0x0102030405060708, RecordKind::Text, b"hi")
                .unwrap(),
            8
        );
        assert_eq!(w.position(), 8 + 13 + 2 + 4);
        let bytes = w.into_inner().unwrap();
        let mut expected = b"KITECAP1".to_vec();
        expected.extend([1, 2, 3, 4, 5, 6, 7, 8, 2, 0, 0, 0, 2, b'h', b'i']);
        // zlib.crc32(b"hi") == 0xd8932aac
        expected.extend(0xd893_2aacu32.to_be_bytes());
        assert_eq!(bytes, expected);
        assert!(CaptureReader::new(Cursor::new(bytes)).is_ok());
    }

    #[test]
    fn open_appends_after_a_torn_tail_and_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.kcap");
        let (mut w, report) = CaptureWriter::open(&path, SyncPolicy::EveryRecord).unwrap();
        assert_eq!(report, OpenReport::default());
        w.append(1, RecordKind::Binary, &[0]).unwrap();
        w.append(2, RecordKind::Binary, &[0, 0]).unwrap();
        drop(w);
        // Simulate a crash in the middle of the second record.
        let len = std::fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let (mut w, report) = CaptureWriter::open(&path, SyncPolicy::Manual).unwrap();
        assert_eq!(report.records, 1);
        assert_eq!(report.truncated_bytes, 19 - 3);
        w.append(3, RecordKind::Binary, &[9]).unwrap();
        w.sync().unwrap();
        assert_eq!(records(&path), vec![1, 3]);
    }

    #[test]
    fn open_refuses_a_file_corrupt_in_the_middle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.kcap");
        let mut w = CaptureWriter::create(&path, SyncPolicy::Manual).unwrap();
        w.append(1, RecordKind::Binary, &[1]).unwrap();
        w.append(2, RecordKind::Binary, &[2]).unwrap();
        w.sync().unwrap();
        assert!(
            CaptureWriter::create(&path, SyncPolicy::Manual).is_err(),
            "create never clobbers"
        );
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8 + 13] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = CaptureWriter::open(&path, SyncPolicy::Manual).unwrap_err();
        assert_eq!(err.offset(), Some(8));
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "left untouched");
    }

    #[test]
    fn open_never_truncates_good_records_behind_a_damaged_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.kcap");
        let mut w = CaptureWriter::create(&path, SyncPolicy::Manual).unwrap();
        for t in 1..=4 {
            w.append(t, RecordKind::Binary, &[t as u8; 20]).unwrap();
        }
        w.sync().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8 + 9..8 + 13].copy_from_slice(&1_000_000u32.to_be_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = CaptureWriter::open(&path, SyncPolicy::Manual).unwrap_err();
        assert_eq!(err.offset(), Some(8), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing cut off");
    }

    #[test]
    fn a_failed_write_stops_further_appends() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::other("disk full"))
            }
        }
        impl SyncData for Full {
            fn sync_data(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = CaptureWriter::at(Full, SyncPolicy::EveryRecord, 8);
        assert!(w.append(1, RecordKind::Binary, &[1]).is_err());
        let again = w.append(2, RecordKind::Binary, &[2]).unwrap_err();
        assert!(again.to_string().contains("reopen"), "{again}");
    }

    #[test]
    fn interval_policy_syncs_only_when_due_and_dirty() {
        let start = Instant::now();
        let mut w =
            CaptureWriter::new(Vec::new(), SyncPolicy::Interval(Duration::from_secs(1))).unwrap();
        assert!(
            w.sync_if_due(start).unwrap(),
            "the magic is unsynced at first"
        );
        w.append(1, RecordKind::Binary, &[0]).unwrap();
        assert!(!w.sync_if_due(start + Duration::from_millis(500)).unwrap());
        assert!(w.has_unsynced());
        assert!(w.sync_if_due(start + Duration::from_secs(1)).unwrap());
        assert!(!w.has_unsynced());
        assert!(
            !w.sync_if_due(start + Duration::from_secs(5)).unwrap(),
            "nothing new to sync"
        );
    }

    #[test]
    fn oversized_payloads_are_refused() {
        let mut w = CaptureWriter::new(Vec::new(), SyncPolicy::Manual).unwrap();
        let big = vec![0u8; MAX_PAYLOAD as usize + 1];
        assert_eq!(
            w.append(1, RecordKind::Binary, &big).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(w.position(), 8);
    }
}
