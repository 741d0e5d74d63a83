//! Reading capture files record by record, into a reused buffer.

use std::io::{self, Read, Seek, SeekFrom};

use super::{HEADER_LEN, MAGIC, MAX_PAYLOAD, RecordKind, TRAILER_LEN, record_len};

/// Why a capture file could not be read. Every variant but `Io` names a byte offset in the file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file does not start with `KITECAP1`.
    #[error("not a capture file: bad magic at byte 0")]
    BadMagic,
    /// A record's payload does not match its CRC. Reading goes on after it when what follows
    /// looks like a record, otherwise from the next confirmed record.
    #[error(
        "bad CRC in the record at byte {offset}: stored {stored:#010x}, computed {computed:#010x}"
    )]
    BadCrc {
        /// Offset of the record's first byte.
        offset: u64,
        /// CRC in the file.
        stored: u32,
        /// CRC of the payload read.
        computed: u32,
    },
    /// A record header that cannot be right (unknown kind, implausible length, or a length
    /// running past the end of a file that has good records after it). The next read scans
    /// forward for the next confirmed record.
    #[error("corrupt record header at byte {offset}: {reason}")]
    BadHeader {
        /// Offset of the record's first byte.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The underlying reader failed.
    #[error("I/O error while reading the capture: {0}")]
    Io(#[from] io::Error),
}

impl CaptureError {
    /// The byte offset of the problem, where there is one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::BadMagic => Some(0),
            CaptureError::BadCrc { offset, .. } | CaptureError::BadHeader { offset, .. } => {
                Some(*offset)
            }
            CaptureError::Io(_) => None,
        }
    }
}

/// The header of a record that was read whole and whose CRC matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Offset of the record's first byte in the file.
    pub offset: u64,
    /// Receive time, microseconds since the Unix epoch (UTC).
    pub recv_time_us: u64,
    /// What the payload is.
    pub kind: RecordKind,
    /// Payload length in bytes.
    pub len: u32,
}

impl RecordHeader {
    /// Offset just past this record: where the next one starts.
    pub fn end(&self) -> u64 {
        self.offset + record_len(self.len)
    }
}

/// A final record the file ends in the middle of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Offset of the torn record's first byte (where a writer should truncate to).
    pub offset: u64,
    /// How many bytes of it are present.
    pub available: u64,
}

/// What [`CaptureReader::next_into`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A whole record; its payload is in the buffer.
    Record(RecordHeader),
    /// The end of the file, on a record boundary.
    End,
    /// The file ends inside a record: normal for a file still being written, or cut by a crash.
    Torn(TornTail),
}

/// Reads records from a capture file (or any `Read + Seek`), validating every one.
///
/// The CRC covers the payload only, so a damaged length field is caught indirectly: a record is
/// trusted only when its CRC matches, and after any corruption the reader looks for the next
/// *confirmed* record (plausible header, non-empty payload, matching CRC, and followed by the
/// end of the file or another plausible header) rather than trusting the damaged length. The
/// bytes passed over are counted ([`Self::skipped_bytes`]). A file that seems to end inside a
/// record is only reported as torn when no confirmed record follows; otherwise it is corruption.
#[derive(Debug)]
pub struct CaptureReader<R> {
    inner: R,
    /// Offset of the next byte `inner` yields.
    offset: u64,
    /// Set after corruption: the offset of the damaged record; scanning starts one byte later.
    resync_from: Option<u64>,
    skipped: u64,
}

impl<R: Read + Seek> CaptureReader<R> {
    /// Checks the magic and positions the reader at the first record. A file shorter than the
    /// magic whose bytes are a prefix of it (a writer that crashed at once) reads as empty, torn
    /// at 0.
    pub fn new(mut inner: R) -> Result<Self, CaptureError> {
        let mut magic = [0u8; 8];
        let n = read_full(&mut inner, &mut magic)?;
        if magic[..n] != MAGIC[..n] {
            return Err(CaptureError::BadMagic);
        }
        Ok(CaptureReader {
            inner,
            offset: n as u64,
            resync_from: None,
            skipped: 0,
        })
    }

    /// Moves to `offset`, which must be the start of a record (a committed position).
    pub fn seek_record(&mut self, offset: u64) -> io::Result<()> {
        self.resync_from = None;
        self.seek_to(offset.max(MAGIC.len() as u64))
    }

    /// Offset of the next record to be read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes passed over while scanning for a good record after corruption.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// Reads the next record's payload into `payload` (resized to fit; reuse it across calls).
    ///
    /// After [`Next::Torn`] the reader stays at the torn record, so calling again once the
    /// writer has added bytes reads it whole (tailing a file being written).
    pub fn next_into(&mut self, payload: &mut Vec<u8>) -> Result<Next, CaptureError> {
        if self.offset < MAGIC.len() as u64 {
            // The file ended inside the magic.
            return Ok(if self.offset == 0 {
                Next::End
            } else {
                Next::Torn(TornTail {
                    offset: 0,
                    available: self.offset,
                })
            });
        }
        if let Some(damaged) = self.resync_from.take() {
            return self.resync(damaged, payload);
        }
        let start = self.offset;
        match self.read_at_cursor(payload)? {
            Attempt::Good(header) => Ok(Next::Record(header)),
            Attempt::End => Ok(Next::End),
            Attempt::Torn(available) => {
                if let Some(found) = self.find_record(start + 1)? {
                    self.resync_from = Some(start);
                    return Err(CaptureError::BadHeader {
                        offset: start,
                        reason: format!(
                            "its length runs past the end of the file, but a good record follows at byte {found}"
                        ),
                    });
                }
                self.seek_to(start)?;
                Ok(Next::Torn(TornTail {
                    offset: start,
                    available,
                }))
            }
            Attempt::BadCrc {
                stored,
                computed,
                len,
            } => {
                // Trust the length only if what follows it looks like a record (or the end).
                let next = start + record_len(len);
                if !self.plausible_at(next)? {
                    self.resync_from = Some(start);
                } else {
                    self.seek_to(next)?;
                }
                Err(CaptureError::BadCrc {
                    offset: start,
                    stored,
                    computed,
                })
            }
            Attempt::BadHeader(reason) => {
                self.resync_from = Some(start);
                Err(CaptureError::BadHeader {
                    offset: start,
                    reason,
                })
            }
        }
    }

    fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(offset))?;
        self.offset = offset;
        Ok(())
    }

    fn file_len(&mut self) -> io::Result<u64> {
        let len = self.inner.seek(SeekFrom::End(0))?;
        self.inner.seek(SeekFrom::Start(self.offset))?;
        Ok(len)
    }

    /// Skips from the damaged record at `damaged` to the next confirmed record.
    fn resync(&mut self, damaged: u64, payload: &mut Vec<u8>) -> Result<Next, CaptureError> {
        match self.find_record(damaged + 1)? {
            Some(found) => {
                self.skipped += found - damaged;
                self.seek_to(found)?;
                match self.read_at_cursor(payload)? {
                    Attempt::Good(header) => Ok(Next::Record(header)),
                    // The file changed under us; report it as the corruption it now is.
                    _ => Err(CaptureError::BadHeader {
                        offset: found,
                        reason: "the record found while resynchronising changed".into(),
                    }),
                }
            }
            None => {
                let end = self.file_len()?;
                self.skipped += end.saturating_sub(damaged);
                self.seek_to(end)?;
                Ok(Next::End)
            }
        }
    }

    /// Whether `offset` is the end of the file or starts a plausible header (a header cut by the
    /// end of the file counts as plausible: it may be a torn tail).
    fn plausible_at(&mut self, offset: u64) -> io::Result<bool> {
        let here = self.offset;
        self.inner.seek(SeekFrom::Start(offset))?;
        let mut header = [0u8; HEADER_LEN];
        let n = read_full(&mut self.inner, &mut header)?;
        self.inner.seek(SeekFrom::Start(here))?;
        Ok(n < HEADER_LEN || plausible_header(&header).is_some())
    }

    /// The offset of the first confirmed record at or after `from`, if any: plausible header,
    /// payload of at least one byte that fits in the file, matching CRC, and followed by the end
    /// of the file or another plausible header. Scans through a window, not byte-by-byte reads.
    fn find_record(&mut self, from: u64) -> io::Result<Option<u64>> {
        const WINDOW: u64 = 1 << 20;
        let here = self.offset;
        let file_len = self.file_len()?;
        let mut window: Vec<u8> = Vec::new();
        let mut window_start = from;
        let mut candidate = from;
        let mut found = None;
        while candidate + (HEADER_LEN + TRAILER_LEN) as u64 <= file_len {
            if candidate + HEADER_LEN as u64 > window_start + window.len() as u64 {
                window_start = candidate;
                let want = WINDOW.min(file_len - candidate) as usize;
                window.resize(want, 0);
                self.inner.seek(SeekFrom::Start(window_start))?;
                let n = read_full(&mut self.inner, &mut window)?;
                window.truncate(n);
                if n < HEADER_LEN {
                    break;
                }
            }
            let at = (candidate - window_start) as usize;
            let header: [u8; HEADER_LEN] = window[at..at + HEADER_LEN]
                .try_into()
                .unwrap_or([0; HEADER_LEN]);
            if let Some(len) = plausible_header(&header).filter(|len| *len > 0)
                && candidate + record_len(len) <= file_len
                && self.crc_matches(candidate, len, &window, window_start)?
                && self.plausible_at(candidate + record_len(len))?
            {
                found = Some(candidate);
                break;
            }
            candidate += 1;
        }
        self.inner.seek(SeekFrom::Start(here))?;
        Ok(found)
    }

    /// Whether the record at `at` with payload `len` has a matching CRC (reading from `window`
    /// when it holds the record).
    fn crc_matches(
        &mut self,
        at: u64,
        len: u32,
        window: &[u8],
        window_start: u64,
    ) -> io::Result<bool> {
        let begin = (at - window_start) as usize + HEADER_LEN;
        let end = begin + len as usize + TRAILER_LEN;
        let owned;
        let bytes: &[u8] = if end <= window.len() {
            &window[begin..end]
        } else {
            let mut buf = vec![0u8; len as usize + TRAILER_LEN];
            self.inner.seek(SeekFrom::Start(at + HEADER_LEN as u64))?;
            if read_full(&mut self.inner, &mut buf)? < buf.len() {
                return Ok(false);
            }
            owned = buf;
            &owned
        };
        let (payload, crc) = bytes.split_at(len as usize);
        let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        Ok(crc32fast::hash(payload) == stored)
    }

    /// Reads one record at the cursor, advancing past whatever it consumed.
    fn read_at_cursor(&mut self, payload: &mut Vec<u8>) -> Result<Attempt, CaptureError> {
        let mut header = [0u8; HEADER_LEN];
        let n = read_full(&mut self.inner, &mut header)?;
        self.offset += n as u64;
        if n == 0 {
            return Ok(Attempt::End);
        }
        if n < HEADER_LEN {
            return Ok(Attempt::Torn(n as u64));
        }
        let recv_time_us = u64::from_be_bytes([
            header[0], header[1], header[2], header[3], header[4], header[5], header[6], header[7],
        ]);
        let kind_code = header[8];
        let len = u32::from_be_bytes([header[9], header[10], header[11], header[12]]);
        let Some(kind) = RecordKind::from_code(kind_code) else {
            return Ok(Attempt::BadHeader(format!(
                "unknown record kind {kind_code}"
            )));
        };
        if len > MAX_PAYLOAD {
            return Ok(Attempt::BadHeader(format!(
                "implausible payload length {len} (the limit is {MAX_PAYLOAD})"
            )));
        }
        payload.clear();
        payload.resize(len as usize, 0);
        let got = read_full(&mut self.inner, payload)?;
        self.offset += got as u64;
        if got < payload.len() {
            return Ok(Attempt::Torn((HEADER_LEN + got) as u64));
        }
        let mut crc = [0u8; TRAILER_LEN];
        let got_crc = read_full(&mut self.inner, &mut crc)?;
        self.offset += got_crc as u64;
        if got_crc < TRAILER_LEN {
            return Ok(Attempt::Torn((HEADER_LEN + payload.len() + got_crc) as u64));
        }
        let stored = u32::from_be_bytes(crc);
        let computed = crc32fast::hash(payload);
        if stored != computed {
            return Ok(Attempt::BadCrc {
                stored,
                computed,
                len,
            });
        }
        Ok(Attempt::Good(RecordHeader {
            offset: self.offset - record_len(len),
            recv_time_us,
            kind,
            len,
        }))
    }
}

/// The payload length of a header whose kind is known and whose length is within bounds.
fn plausible_header(header: &[u8; HEADER_LEN]) -> Option<u32> {
    RecordKind::from_code(header[8])?;
    let len = u32::from_be_bytes([header[9], header[10], header[11], header[12]]);
    (len <= MAX_PAYLOAD).then_some(len)
}

enum Attempt {
    Good(RecordHeader),
    End,
    Torn(u64),
    BadCrc {
        stored: u32,
        computed: u32,
        len: u32,
    },
    BadHeader(String),
}

/// Reads until `buf` is full or the reader is exhausted; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{CaptureWriter, SyncPolicy};
    use proptest::prelude::*;
    use std::io::Cursor;

    fn capture(records: &[(u64, RecordKind, &[u8])]) -> Vec<u8> {
        let mut w = CaptureWriter::new(Vec::new(), SyncPolicy::Manual).unwrap();
        for (t, k, p) in records {
            w.append(*t, *k, p).unwrap();
        }
        w.into_inner().unwrap()
    }

    /// Good records with their payloads, error messages, and how the file ended.
    type ReadAll = (Vec<(RecordHeader, Vec<u8>)>, Vec<String>, Next);

    fn read_all(bytes: &[u8]) -> ReadAll {
        let mut r = CaptureReader::new(Cursor::new(bytes)).unwrap();
        let mut buf = Vec::new();
        let mut good = Vec::new();
        let mut errors = Vec::new();
        loop {
            match r.next_into(&mut buf) {
                Ok(Next::Record(h)) => good.push((h, buf.clone())),
                Ok(end) => return (good, errors, end),
                Err(e) => errors.push(e.to_string()),
            }
        }
    }

    #[test]
    fn records_come_back_in_order_with_offsets() {
        let bytes = capture(&[
            (1, RecordKind::Binary, &[0]),
            (
                2,
                RecordKind::Text,
                b"{\"type\":\"message\",\"data\":\"hi\"}",
            ),
            (3, RecordKind::Binary, &[]),
        ]);
        let (good, errors, end) = read_all(&bytes);
        assert!(errors.is_empty());
        assert_eq!(end, Next::End);
        assert_eq!(good.len(), 3);
        assert_eq!(good[0].0.offset, 8);
        assert_eq!(good[1].0.offset, 8 + 18);
        assert_eq!(good[1].0.kind, RecordKind::Text);
        assert_eq!(good[2].0.recv_time_us, 3);
        assert_eq!(good[2].0.end(), bytes.len() as u64);
    }

    #[test]
    fn a_torn_tail_is_reported_not_an_error() {
        let bytes = capture(&[
            (1, RecordKind::Binary, &[1, 2, 3]),
            (2, RecordKind::Binary, &[4, 5, 6]),
        ]);
        for cut in 29..bytes.len() {
            let (good, errors, end) = read_all(&bytes[..cut]);
            assert!(errors.is_empty(), "cut at {cut}: {errors:?}");
            assert_eq!(good.len(), 1);
            assert_eq!(
                end,
                Next::Torn(TornTail {
                    offset: 28,
                    available: cut as u64 - 28
                }),
                "cut at {cut}"
            );
        }
        // A file cut inside the magic is torn at 0; an empty file is simply empty.
        assert_eq!(
            read_all(&bytes[..5]).2,
            Next::Torn(TornTail {
                offset: 0,
                available: 5
            })
        );
        assert_eq!(read_all(&[]).2, Next::End);
    }

    #[test]
    fn bad_magic_is_an_error() {
        assert!(matches!(
            CaptureReader::new(Cursor::new(b"KITECAP2")),
            Err(CaptureError::BadMagic)
        ));
    }

    #[test]
    fn a_bad_crc_names_the_record_and_reading_goes_on() {
        let mut bytes = capture(&[
            (1, RecordKind::Binary, &[1, 2, 3]),
            (2, RecordKind::Binary, &[4, 5, 6]),
            (3, RecordKind::Binary, &[7]),
        ]);
        bytes[28 + 13] ^= 0xff; // first payload byte of the second record
        let (good, errors, end) = read_all(&bytes);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("bad CRC in the record at byte 28"),
            "{}",
            errors[0]
        );
        assert_eq!(
            good.iter().map(|g| g.0.recv_time_us).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(end, Next::End);
    }

    #[test]
    fn a_bad_header_resyncs_to_the_next_good_record() {
        let mut bytes = capture(&[
            (1, RecordKind::Binary, &[1, 2, 3]),
            (2, RecordKind::Binary, &[4, 5, 6]),
            (3, RecordKind::Text, b"{}"),
        ]);
        bytes[28 + 8] = 9; // kind of the second record
        let mut r = CaptureReader::new(Cursor::new(&bytes)).unwrap();
        let mut buf = Vec::new();
        assert!(matches!(r.next_into(&mut buf), Ok(Next::Record(_))));
        let err = r.next_into(&mut buf).unwrap_err();
        assert_eq!(err.offset(), Some(28));
        assert!(err.to_string().contains("unknown record kind 9"), "{err}");
        let Ok(Next::Record(h)) = r.next_into(&mut buf) else {
            panic!("no resync")
        };
        assert_eq!((h.offset, h.recv_time_us), (48, 3));
        assert_eq!(r.skipped_bytes(), 20);
        assert_eq!(r.next_into(&mut buf).unwrap(), Next::End);
    }

    fn five_records() -> Vec<u8> {
        let payloads: Vec<Vec<u8>> = (1..=5u8).map(|i| vec![i; 30]).collect();
        let records: Vec<(u64, RecordKind, &[u8])> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u64 + 1, RecordKind::Binary, p.as_slice()))
            .collect();
        capture(&records)
    }

    const REC: usize = 17 + 30;

    fn times(good: &[(RecordHeader, Vec<u8>)]) -> Vec<u64> {
        good.iter().map(|g| g.0.recv_time_us).collect()
    }

    #[test]
    fn a_damaged_length_inside_the_file_loses_only_its_record() {
        let mut bytes = five_records();
        // Record 2's length now reaches into record 4.
        let at = 8 + REC + 9;
        bytes[at..at + 4].copy_from_slice(&(30u32 + 60).to_be_bytes());
        let (good, errors, end) = read_all(&bytes);
        assert_eq!(times(&good), vec![1, 3, 4, 5], "{errors:?}");
        assert_eq!(errors.len(), 1);
        assert_eq!(end, Next::End);
    }

    #[test]
    fn a_length_past_the_end_with_records_after_it_is_corruption_not_a_torn_tail() {
        let mut bytes = five_records();
        let at = 8 + REC + 9;
        bytes[at..at + 4].copy_from_slice(&(1_000_000u32).to_be_bytes());
        let (good, errors, end) = read_all(&bytes);
        assert_eq!(times(&good), vec![1, 3, 4, 5]);
        assert!(errors[0].contains("runs past the end"), "{errors:?}");
        assert_eq!(end, Next::End, "not torn");
    }

    #[test]
    fn resync_ignores_fake_empty_records_inside_payloads() {
        // Kind 1 followed by eight zero bytes is an empty record with a valid CRC: it appears
        // inside payloads full of zeros, and must not be taken for a record when resyncing.
        let mut zeros = [0u8; 40];
        zeros[10] = 1;
        let records = [
            (1, RecordKind::Binary, &[7u8; 5][..]),
            (2, RecordKind::Binary, &zeros[..]),
            (3, RecordKind::Binary, &[9u8; 5][..]),
        ];
        let mut bytes = capture(&records);
        bytes[8 + 22 + 8] = 7; // record 2's kind
        let (good, _errors, _) = read_all(&bytes);
        assert_eq!(times(&good), vec![1, 3]);
    }

    #[test]
    fn tailing_reads_a_record_completed_after_a_torn_read() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.kcap");
        let full = five_records();
        let cut = full.len() - 10;
        std::fs::write(&path, &full[..cut]).unwrap();
        let mut r = CaptureReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut buf = Vec::new();
        for _ in 0..4 {
            assert!(matches!(r.next_into(&mut buf), Ok(Next::Record(_))));
        }
        assert!(
            matches!(r.next_into(&mut buf), Ok(Next::Torn(t)) if t.offset == 8 + 4 * REC as u64)
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&full[cut..])
            .unwrap();
        assert!(matches!(r.next_into(&mut buf), Ok(Next::Record(h)) if h.recv_time_us == 5));
        assert_eq!(r.next_into(&mut buf).unwrap(), Next::End);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn arbitrary_bytes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend(tail);
            let mut r = CaptureReader::new(Cursor::new(&bytes)).unwrap();
            let mut buf = Vec::new();
            for _ in 0..1000 {
                match r.next_into(&mut buf) {
                    Ok(Next::Record(h)) => prop_assert!(h.end() <= bytes.len() as u64),
                    Ok(_) => break,
                    Err(_) => {}
                }
            }
        }

        #[test]
        fn mutated_captures_never_panic_and_lose_only_what_was_hit(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..10),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let records: Vec<(u64, RecordKind, &[u8])> = payloads
                .iter()
                .enumerate()
                .map(|(i, p)| (i as u64, RecordKind::Binary, p.as_slice()))
                .collect();
            let mut bytes = capture(&records);
            for (at, value) in &edits {
                let i = at.index(bytes.len());
                bytes[i] = *value;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()).max(8));
            }
            if bytes[..8] != MAGIC[..] {
                prop_assert!(CaptureReader::new(Cursor::new(&bytes)).is_err());
                return Ok(());
            }
            let (good, _errors, _end) = read_all(&bytes);
            // Every payload that comes back is one that was written, whole and unchanged (the
            // CRC covers the payload; the header's time is not covered by the format).
            for (h, p) in &good {
                prop_assert!(payloads.contains(p), "record at {} came back altered", h.offset);
            }
            // Without damage, everything comes back.
            if edits.is_empty() && !truncate {
                prop_assert_eq!(good.len(), payloads.len());
            }
        }
    }
}
