//! The control plane's and operations' figures: coordinator, auth, instruments, scheduler, end
//! of day, day runner, HTTP endpoint, notifier.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ist;

/// `coordinator`: the children it stops in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CoordinatorStatus {
    /// Sockets, the journal (or the consumer) and the sink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children: Option<usize>,
}

/// `auth`: each app's token expiry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthStatus {
    /// App → when its token expires.
    #[serde(with = "ist::map", skip_serializing_if = "BTreeMap::is_empty")]
    pub token_expiry: BTreeMap<String, DateTime<Utc>>,
}

/// `instruments`: the day's plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstrumentsStatus {
    /// How the plan came: `resolved` from the dump, or `kept` from earlier today.
    pub plan: Option<String>,
    /// Duplicate dump rows left out.
    pub duplicates: Vec<String>,
    /// Rows in the dump (none when the plan was kept).
    pub dump_rows: Option<usize>,
    /// Instruments planned.
    pub instruments: usize,
    /// Sockets planned.
    pub sockets: usize,
    /// Names not in the dump.
    pub unknown: Vec<String>,
}

/// One scheduled event's last outcome: `event: result` on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct LastEvent {
    /// `login`, `instruments`, `connect` or `close`.
    pub event: String,
    /// What came of it.
    pub result: String,
}

impl Serialize for LastEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}: {}", self.event, self.result))
    }
}

impl<'de> Deserialize<'de> for LastEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LastEvent, D::Error> {
        let text = String::deserialize(d)?;
        let (event, result) = text.split_once(": ").unwrap_or((&text, ""));
        Ok(LastEvent {
            event: event.to_string(),
            result: result.to_string(),
        })
    }
}

/// `scheduler`: the calendar's next event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerStatus {
    /// The trading session it works towards.
    pub session: Option<NaiveDate>,
    /// The session's special name (Muhurat trading, …).
    pub special_session: Option<String>,
    /// `login`, `instruments`, `connect` or `close`.
    pub next_event: Option<String>,
    /// When it is due.
    #[serde(with = "ist")]
    pub next_at: Option<DateTime<Utc>>,
    /// Why today is closed, when it is.
    pub idle: Option<String>,
    /// An event is running.
    pub busy: bool,
    /// Events that failed (each retry counts).
    pub failures: u64,
    /// When the token expires.
    #[serde(with = "ist")]
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Whether it is still valid.
    pub token_valid: bool,
    /// The last event's outcome.
    pub last_event: Option<LastEvent>,
}

impl SchedulerStatus {
    /// The next event is the close: a day is being recorded.
    pub fn recording(&self) -> bool {
        self.next_event.as_deref() == Some("close")
    }
}

/// Where a running end of day is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EodProgress {
    /// Chunks moved.
    pub chunks_done: u64,
    /// Chunks in all.
    pub chunks: u64,
    /// Instruments in the day.
    pub instruments: u64,
    /// Rows moved so far.
    pub rows_moved: u64,
    /// Rows in all.
    pub rows_total: u64,
}

/// How the last end of day ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EodOutcome {
    /// `ok` or `failed`.
    pub result: String,
    /// When it ended.
    #[serde(with = "ist")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The report's figures (none after a failure).
    pub master_rows: Option<u64>,
    #[allow(missing_docs)]
    pub duration_ms: Option<u64>,
    #[allow(missing_docs)]
    pub silent_instruments: Option<usize>,
    #[allow(missing_docs)]
    pub thin_instruments: Option<usize>,
    #[allow(missing_docs)]
    pub gap_minutes: Option<f64>,
    #[allow(missing_docs)]
    pub database_bytes: Option<u64>,
    /// Rows of the export after the end of day (`[export] after_eod`; none when not asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_rows: Option<u64>,
    /// Why that export failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_error: Option<String>,
}

impl EodOutcome {
    /// The last end of day succeeded.
    pub fn ok(&self) -> bool {
        self.result == "ok"
    }
}

/// `eod`: the running or last end of day (nothing before the first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EodStatus {
    /// The date it is (or was) about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// The step running, or `done` or `failed` after the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Progress of the running (or last) run.
    #[serde(flatten)]
    pub progress: Option<EodProgress>,
    /// The last run's outcome.
    #[serde(flatten)]
    pub outcome: Option<EodOutcome>,
}

/// `day`: the day runner.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DayStatus {
    /// `all`, `ingest` or `store`.
    pub role: String,
    /// The date of the last event carried out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
}

/// `http`: the endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpStatus {
    /// The address it listens on (or was asked to).
    pub listen: String,
}

/// `notifier`: alert mails and the disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifierStatus {
    /// Mail is configured.
    pub enabled: bool,
    /// Recipients.
    pub recipients: usize,
    /// Mails sent.
    pub sent: u64,
    /// Mails the server did not take.
    pub failed: u64,
    /// Alerts held back by the rate limit.
    pub suppressed: u64,
    /// Mails being sent.
    pub in_flight: usize,
    /// The last alert's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_alert: Option<String>,
    /// When it was raised.
    #[serde(with = "ist", skip_serializing_if = "Option::is_none")]
    pub last_alert_at: Option<DateTime<Utc>>,
    /// Free bytes on the data directory's file system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_free_bytes: Option<u64>,
}
