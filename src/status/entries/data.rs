//! The data path's figures: sockets, journal, persister, publisher, the store role's consumer
//! and the ingest role's ledger.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ist;

/// `socket-N`: one connection's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SocketStatus {
    /// The API app it connects as.
    pub app: String,
    /// Instruments subscribed (0 while down).
    pub subscribed: usize,
    /// Its first instrument's token (the fault API drops a socket by it).
    pub first_token: Option<u32>,
    /// Messages received (heartbeats included).
    pub frames: u64,
    /// Ticks decoded.
    pub ticks: u64,
    /// Messages that did not decode.
    pub malformed: u64,
    /// Appends that found the journal's mailbox full.
    pub journal_overflow: u64,
    /// Milliseconds since the last frame, while connected.
    pub last_frame_age_ms: Option<u64>,
    /// Reconnects by cause.
    pub reconnects_by_cause: BTreeMap<String, u64>,
}

/// `journal`: the record of truth's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JournalStatus {
    /// Sockets whose file cannot be written (their numbers).
    pub failing_sockets: Vec<i16>,
    /// Bytes written today.
    pub bytes: u64,
    /// Frames appended.
    pub records: u64,
    /// Appends that failed.
    pub failed_appends: u64,
    /// Ticks not handed to the publisher (its mailbox full).
    pub publish_dropped: u64,
}

/// `persister`: the daily table's writer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersisterStatus {
    /// Rows waiting for a commit.
    pub queued: usize,
    /// Rows committed today.
    pub committed_rows: u64,
    /// How long the last commit took.
    pub last_commit_ms: u64,
    /// When the last commit ended.
    #[serde(with = "ist")]
    pub last_commit_at: Option<DateTime<Utc>>,
    /// Frame received → row committed, for the newest row of the last commit.
    pub lag_ms: i64,
    /// Socket-seconds of closed gaps today.
    pub gap_seconds: f64,
    /// Journal records that did not decode (skipped with `--skip-corrupt`).
    pub corrupt_records: u64,
    /// Stream messages that did not decode (store role).
    pub malformed_messages: u64,
    /// Frame → commit percentiles since start.
    pub latency_p50_ms: Option<f64>,
    #[allow(missing_docs)]
    pub latency_p99_ms: Option<f64>,
    #[allow(missing_docs)]
    pub latency_max_ms: Option<f64>,
    /// The storage's bulk path.
    pub write_path: String,
    /// Times the database file was rebuilt from the journal.
    pub database_rebuilds: u64,
}

/// `publisher`: journaled ticks → Redis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PublisherStatus {
    /// Whether it holds a Redis connection.
    pub connected: bool,
    /// Ticks waiting to be published.
    pub buffered: usize,
    /// Ticks published.
    pub published: u64,
    /// Ticks dropped (buffer full while Redis was down).
    pub dropped: u64,
    /// Batches sent.
    pub batches: u64,
    /// Commands that failed.
    pub errors: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Frame → XADD acknowledged percentiles.
    pub latency_p50_ms: Option<f64>,
    #[allow(missing_docs)]
    pub latency_p99_ms: Option<f64>,
    /// The stream's key.
    pub stream: String,
    /// Entries each consumer group has not read.
    pub group_lag: BTreeMap<String, u64>,
}

/// `consumer`: the store role's reader of the stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerStatus {
    /// Its consumer name.
    pub consumer: String,
    /// Its group.
    pub group: String,
    /// The stream's key.
    pub stream: String,
    /// Entries acknowledged.
    pub acked: u64,
    /// Entries claimed from a dead consumer.
    pub claimed: u64,
    /// Entries that did not decode.
    pub malformed: u64,
    /// Redis commands that failed.
    pub redis_errors: u64,
    /// Database retries.
    pub db_retries: u64,
    /// Entries trimmed.
    pub trimmed: u64,
    /// Entries read, not yet acknowledged.
    pub in_flight: u64,
}

/// `ledger`: the ingest role's sink.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LedgerStatus {
    /// Bytes in today's journal files.
    pub journal_bytes: u64,
    /// Gaps recorded.
    pub gaps: u64,
    /// Socket-seconds of those gaps.
    pub gap_seconds: f64,
    /// `none (ingest role)`.
    pub database: String,
}
