//! The scheduler's messages.

use actix::prelude::*;
use chrono::{DateTime, NaiveDate, Utc};

use super::Event;
use crate::eod::EodReport;

/// The scheduler asks the runner to carry out `event` for the session of `date`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Outcome, EventError>")]
pub struct DayEvent {
    /// What to do.
    pub event: Event,
    /// The trading date.
    pub date: NaiveDate,
}

/// Why an event failed: the runner's own typed error, boxed. The scheduler's decision does not
/// depend on it (it retries by event: login, instruments and connect with backoff until the
/// close; a close is reported, not retried); it logs it and shows it in the status.
pub type EventError = Box<dyn std::error::Error + Send + Sync>;

/// What the runner did, as data; its `Display` is the line for the status and the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to do for this event in this role.
    Skipped {
        /// Why (`no login in the store role`).
        why: &'static str,
    },
    /// Every app has a token.
    LoggedIn {
        /// Apps logged in.
        apps: usize,
        /// When the first of the tokens expires (06:00 IST the next morning).
        token_expires_at: DateTime<Utc>,
    },
    /// The day's plan is resolved (and kept for the connect).
    Resolved {
        /// Instruments planned.
        instruments: usize,
        /// Sockets they are dealt over.
        sockets: usize,
    },
    /// The day's pipeline records.
    Connected {
        /// Instruments subscribed.
        instruments: usize,
        /// Sockets connecting.
        sockets: usize,
    },
    /// The day's pipeline was recording already.
    AlreadyConnected,
    /// The day is drained and its end of day done.
    Closed {
        /// Rows the drained pipeline had committed (none when the close replayed the journals).
        rows: Option<u64>,
        /// The end of day's report.
        report: Box<EodReport>,
    },
    /// The ingest role's day is drained (the store runs the end of day).
    Journaled {
        /// Ticks journaled.
        rows: u64,
    },
    /// The date's end of day was done and nothing came since: not run again.
    AlreadyClosed,
}

impl Outcome {
    /// After a login: when the token expires.
    pub fn token_expires_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Outcome::LoggedIn {
                token_expires_at, ..
            } => Some(*token_expires_at),
            _ => None,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Skipped { why } => f.write_str(why),
            Outcome::LoggedIn { apps, .. } => write!(f, "{apps} app(s) logged in"),
            Outcome::Resolved {
                instruments,
                sockets,
            } => write!(f, "{instruments} instruments on {sockets} sockets"),
            Outcome::Connected {
                instruments,
                sockets,
            } => write!(
                f,
                "recording {instruments} instruments on {sockets} sockets"
            ),
            Outcome::AlreadyConnected => f.write_str("already connected"),
            Outcome::Closed {
                rows: Some(rows),
                report,
            } => write!(f, "{rows} rows committed; {}", report.summary()),
            Outcome::Closed { rows: None, report } => f.write_str(&report.summary()),
            Outcome::Journaled { rows } => write!(
                f,
                "{rows} ticks journaled (ingest role: the store runs the end of day)"
            ),
            Outcome::AlreadyClosed => f.write_str("end of day already done; nothing new"),
        }
    }
}

/// Stops the scheduler (the service is shutting down): no event is sent any more. It stays
/// alive, stopped, rather than stopping its context, which its supervisor would take for a
/// failure and restart.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopScheduler;

impl Handler<StopScheduler> for super::Scheduler {
    type Result = ();

    fn handle(&mut self, _msg: StopScheduler, ctx: &mut Self::Context) {
        self.halted = true;
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        self.status.set_state(crate::status::State::Stopped);
    }
}
