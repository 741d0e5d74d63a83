//! The scheduler: follows the NSE calendar in IST and tells the day's runner when to log in,
//! resolve the instruments, connect and close (then flush and run the end of day), and sleeps
//! until the next trading day's first event.
//!
//! "Now" comes from an injected [`crate::clock::Clock`]; the scheduler never sleeps longer than
//! `schedule.recheck_secs` before reading it again (a suspended host or a stepped clock is
//! noticed within a minute). Started in the middle of a session it catches up at once (login,
//! instruments and connect back to back); started after a trading day's close it closes that
//! day (flush and end of day; the end of day is safe to run again); on a holiday or weekend it
//! idles and says until when. A failed login, resolution or connect is retried with backoff
//! (30 s doubling to 5 min) until the session's close; a failed close is reported, not retried.
//! The holiday file is re-read before each new session.
//!
//! Messages: [`handlers::DayEvent`] (sent to the runner). Talks to: the runner
//! ([`crate::service::day`] in the service, a recorder in tests).

pub mod actor;
pub mod handlers;
mod run;
pub mod timetable;

use std::path::PathBuf;
use std::time::Duration;

use actix::SpawnHandle;
use chrono::{DateTime, Utc};

use crate::calendar::TradingCalendar;
use crate::clock::SharedClock;
use crate::status::StatusHandle;
use crate::status::{LastEvent, SchedulerStatus};
use handlers::DayEvent;
pub use timetable::{Event, Session, Timetable};

/// First wait after a failed event; doubles up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_secs(30);
/// Longest wait between retries of a failed event.
pub const RETRY_MAX: Duration = Duration::from_secs(300);

/// The scheduler actor.
pub struct Scheduler {
    timetable: Timetable,
    holidays_file: Option<PathBuf>,
    clock: SharedClock,
    runner: actix::Recipient<DayEvent>,
    recheck: Duration,
    /// The session being worked through, and its next event (`None`: done).
    session: Option<Session>,
    next: Option<Event>,
    /// An event is with the runner.
    busy: bool,
    /// Whether the first look at the clock has happened (a closed trading day is closed then).
    started: bool,
    retry: crate::backoff::Backoff,
    retry_at: Option<DateTime<Utc>>,
    failures: u32,
    token_expires_at: Option<DateTime<Utc>>,
    last: Option<(Event, String)>,
    timer: Option<SpawnHandle>,
    status: StatusHandle,
    /// The service is stopping: no more events.
    pub(super) halted: bool,
    restarts: crate::actors::children::Restarts,
}

impl Scheduler {
    /// A scheduler over `timetable` (re-reading `holidays_file` before each new session, when
    /// set), driving `runner`.
    pub fn new(
        timetable: Timetable,
        holidays_file: Option<PathBuf>,
        clock: SharedClock,
        runner: actix::Recipient<DayEvent>,
        recheck: Duration,
        status: StatusHandle,
    ) -> Scheduler {
        Scheduler {
            timetable,
            holidays_file,
            clock,
            runner,
            recheck,
            session: None,
            next: None,
            busy: false,
            started: false,
            retry: crate::backoff::Backoff::new(RETRY_FIRST, RETRY_MAX),
            retry_at: None,
            failures: 0,
            token_expires_at: None,
            last: None,
            timer: None,
            halted: false,
            restarts: crate::actors::children::Restarts::new(&status),
            status,
        }
    }

    /// Picks the session to work on at `now`.
    fn choose(&mut self, now: DateTime<Utc>) {
        let today = crate::calendar::ist_date(now);
        if !self.started {
            self.started = true;
            if let Some(s) = self.timetable.session(today)
                && now >= s.at(Event::Close)
            {
                tracing::info!(date = %today, "started after the close of a trading day: closing it (flush and end of day)");
                self.session = Some(s);
                self.next = Some(Event::Close);
                return;
            }
        }
        self.session = self.timetable.current_or_next(now);
        self.next = Some(Event::Login);
        if let Some(s) = &self.session
            && s.date != today
        {
            tracing::info!(
                today = %today,
                why = %self.timetable.closed_because(today),
                next_session = %s.date,
                login_at = %crate::calendar::ist_rfc3339(s.at(Event::Login)),
                "no session today; idle until the next one"
            );
        }
    }

    /// After a session is done: the next one, with the holiday file read again.
    fn advance(&mut self) {
        if let Some(path) = &self.holidays_file {
            match TradingCalendar::load(path) {
                Ok(calendar) => self.timetable.calendar = calendar,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot re-read the holiday file; keeping the calendar already loaded")
                }
            }
        }
        let done = self.session.as_ref().map(|s| s.date);
        self.session = done.and_then(|d| self.timetable.after(d));
        self.next = Some(Event::Login);
        if let Some(s) = &self.session {
            tracing::info!(next_session = %s.date, login_at = %crate::calendar::ist_rfc3339(s.at(Event::Login)), special = s.special.as_deref(), "day done; sleeping until the next trading day");
        }
    }

    fn report_status(&self, now: DateTime<Utc>) {
        let today = crate::calendar::ist_date(now);
        let (date, next_event, next_at) = match (&self.session, self.next) {
            (Some(s), Some(e)) => (
                Some(s.date),
                Some(e.as_str().to_string()),
                Some(self.retry_at.unwrap_or(s.at(e)).max(now)),
            ),
            (Some(s), None) => (Some(s.date), None, None),
            _ => (None, None, None),
        };
        let idle = self
            .session
            .as_ref()
            .filter(|s| s.date != today && !self.timetable.calendar.is_trading_day(today))
            .map(|_| self.timetable.closed_because(today));
        self.status.report(|s: &mut SchedulerStatus| {
            s.session = date;
            s.special_session = self.session.as_ref().and_then(|s| s.special.clone());
            s.next_event = next_event;
            s.next_at = next_at;
            s.idle = idle;
            s.busy = self.busy;
            s.failures = u64::from(self.failures);
            s.token_expires_at = self.token_expires_at;
            s.token_valid = self.token_expires_at.is_some_and(|t| t > now);
            s.last_event = self.last.as_ref().map(|(e, r)| LastEvent {
                event: e.as_str().to_string(),
                result: r.to_string(),
            });
        });
    }
}
