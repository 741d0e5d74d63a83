//! The Redis stream's entries between the roles (docs/redis.md): the field names the
//! publisher writes (a contract with readers and the store role) and how the store role turns
//! an entry back into the row the ingest host's persister would have written.

use chrono::NaiveDate;
use redis::streams::StreamId;

use crate::kite::decode_packet;
use crate::storage::models::NewTick;

/// The stream entry's field names (a contract with readers and the store role).
pub mod fields {
    /// Instrument token.
    pub const TOKEN: &str = "token";
    /// Trading symbol.
    pub const SYMBOL: &str = "symbol";
    /// The tick as `tickvault decode` prints it, plus `tradingsymbol`.
    pub const DATA: &str = "data";
    /// Receiving socket.
    pub const SOCKET: &str = "socket";
    /// Row key within the socket and date.
    pub const SEQ: &str = "seq";
    /// Receive time, µs since the epoch (UTC).
    pub const RECV_US: &str = "recv_us";
    /// Trading date, `YYYY-MM-DD`.
    pub const DATE: &str = "date";
    /// The raw Kite packet (binary), from which the store rebuilds the exact row.
    pub const PACKET: &str = "packet";
}

/// Why an entry cannot become a row.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    /// A field the row needs is missing or not a number / date.
    #[error("field `{0}` missing or malformed")]
    Field(&'static str),
    /// The packet does not decode.
    #[error("the packet does not decode")]
    Packet,
}

/// Rebuilds the row a stream entry stands for (the same row the ingest host's persister would
/// write from its journal).
pub fn entry_row(entry: &StreamId) -> Result<NewTick, EntryError> {
    fn field<T: redis::FromRedisValue>(e: &StreamId, name: &'static str) -> Result<T, EntryError> {
        e.get::<T>(name).ok_or(EntryError::Field(name))
    }
    let date: String = field(entry, fields::DATE)?;
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .map_err(|_| EntryError::Field(fields::DATE))?;
    let socket: i16 = field(entry, fields::SOCKET)?;
    let seq: i64 = field(entry, fields::SEQ)?;
    let recv_us: i64 = field(entry, fields::RECV_US)?;
    let packet: Vec<u8> = field(entry, fields::PACKET)?;
    let tick = decode_packet(&packet).ok_or(EntryError::Packet)?;
    Ok(NewTick::new(date, socket, seq, recv_us, &tick))
}
