//! Capture files: the one binary format for recorded feeds, also used as the crash journal.
//!
//! The format is fixed (outside tools depend on it; see `docs/capture-format.md`):
//!
//! ```text
//! file   := magic "KITECAP1" record*
//! record := recv_time_us u64 BE | kind u8 (1 binary, 2 text) | len u32 BE | payload | crc32 u32 BE
//! ```
//!
//! The CRC is CRC-32/IEEE of the payload (as `zlib.crc32`). [`CaptureReader`] tells a torn final
//! record (a file still being written, or cut by a crash) apart from corruption, and can skip
//! past corruption to the next good record. [`CaptureWriter`] appends with buffered I/O and an
//! explicit [`SyncPolicy`].

pub mod journal;
mod reader;
mod writer;

pub use journal::{JournalKey, row_seq};
pub use reader::{CaptureError, CaptureReader, Next, RecordHeader, TornTail};
pub use writer::{CaptureWriter, OpenReport, SyncPolicy};

/// The 8 bytes every capture file starts with.
pub const MAGIC: &[u8; 8] = b"KITECAP1";

/// Bytes of a record before its payload: time (8), kind (1), length (4).
pub const HEADER_LEN: usize = 13;

/// Bytes of a record after its payload: the CRC.
pub const TRAILER_LEN: usize = 4;

/// Largest payload a record may carry. Kite's largest message (3000 full packets) is about
/// 560 KB; anything near this bound is corruption, not data.
pub const MAX_PAYLOAD: u32 = 16 * 1024 * 1024;

/// What a record's payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A binary WebSocket message (ticks or a heartbeat).
    Binary,
    /// A text WebSocket message (JSON).
    Text,
}

impl RecordKind {
    /// The byte stored in the file.
    pub const fn code(self) -> u8 {
        match self {
            RecordKind::Binary => 1,
            RecordKind::Text => 2,
        }
    }

    /// The kind stored as `code`, if any.
    pub const fn from_code(code: u8) -> Option<RecordKind> {
        match code {
            1 => Some(RecordKind::Binary),
            2 => Some(RecordKind::Text),
            _ => None,
        }
    }
}

/// Total bytes a record with a payload of `len` bytes takes in the file.
pub const fn record_len(len: u32) -> u64 {
    (HEADER_LEN + TRAILER_LEN) as u64 + len as u64
}
