//! The scheduler's messages.

use actix::prelude::*;
use chrono::{DateTime, NaiveDate, Utc};

use super::Event;

/// The scheduler asks the runner to carry out `event` for the session of `date`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Outcome, String>")]
pub struct DayEvent {
    /// What to do.
    pub event: Event,
    /// The trading date.
    pub date: NaiveDate,
}

/// What the runner reports back.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// One line for the status and the log.
    pub detail: String,
    /// After a login: when the token expires (06:00 IST the next morning).
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// Stops the scheduler (the service is shutting down).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopScheduler;

impl Handler<StopScheduler> for super::Scheduler {
    type Result = ();

    fn handle(&mut self, _msg: StopScheduler, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
