//! The scheduler on paused time: a week with a holiday and a weekend, a restart in the middle
//! of a session, a start after the close, login failures retried, and the token that expires
//! at 06:00 IST. The runner records what it is asked and when (the real runner is tested
//! against the simulator in `service.rs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use tickvault::actors::auth::next_expiry;
use tickvault::actors::scheduler::handlers::{DayEvent, EventError, Outcome};
use tickvault::actors::scheduler::{Event, Scheduler, Timetable};
use tickvault::calendar::TradingCalendar;
use tickvault::calendar::ist_at as ist;
use tickvault::clock::{SharedClock, TokioClock};
use tickvault::settings::schedule::DailyTimes;
use tickvault::status::StatusBoard;

/// What the runner was asked: (IST date and time it was asked, event, session date).
type Log = Arc<Mutex<Vec<(String, Event, NaiveDate)>>>;

struct Recorder {
    clock: SharedClock,
    log: Log,
    /// Logins to refuse before one succeeds.
    refuse_logins: u32,
}

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<DayEvent> for Recorder {
    type Result = Result<Outcome, EventError>;

    fn handle(&mut self, msg: DayEvent, _ctx: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        let at = now
            .with_timezone(&tickvault::calendar::IST)
            .format("%a %m-%d %H:%M:%S")
            .to_string();
        self.log.lock().unwrap().push((at, msg.event, msg.date));
        if msg.event == Event::Login && self.refuse_logins > 0 {
            self.refuse_logins -= 1;
            return Err("Kite said no".into());
        }
        Ok(match msg.event {
            Event::Login => Outcome::LoggedIn {
                apps: 1,
                token_expires_at: next_expiry(now),
            },
            _ => Outcome::Skipped { why: "recorded" },
        })
    }
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn hm(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap()
}

fn timetable() -> Timetable {
    Timetable {
        // Wednesday 18 November is a holiday in this file (not in NSE's).
        calendar: TradingCalendar::parse("[2026]\n\"2026-11-18\" = \"Test holiday\"\n", "test")
            .unwrap(),
        times: DailyTimes {
            login: hm("08:45"),
            instruments: hm("08:50"),
            connect: hm("09:00"),
            close: hm("15:35"),
        },
    }
}

struct Run {
    log: Log,
    board: Arc<StatusBoard>,
    clock: SharedClock,
    scheduler: Addr<Scheduler>,
}

/// Starts a scheduler (and its recorder) at `start`, on paused time.
fn start(start: DateTime<Utc>, refuse_logins: u32) -> Run {
    tokio::time::pause();
    let clock: SharedClock = TokioClock::starting_at(start);
    let log: Log = Arc::default();
    let board = StatusBoard::new();
    let runner = Recorder {
        clock: clock.clone(),
        log: log.clone(),
        refuse_logins,
    }
    .start();
    let scheduler = Scheduler::new(
        timetable(),
        None,
        clock.clone(),
        runner.recipient(),
        Duration::from_secs(60),
        board.handle(tickvault::status::Actor::Scheduler),
    )
    .start();
    Run {
        log,
        board,
        clock,
        scheduler,
    }
}

impl Run {
    /// Lets paused time run until `t` (the scheduler's timers fire on the way).
    async fn until(&self, t: DateTime<Utc>) {
        let wait = (t - self.clock.now()).to_std().unwrap();
        tokio::time::sleep(wait).await;
    }

    fn events(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(at, e, date)| format!("{at} {} {date}", e.as_str()))
            .collect()
    }

    fn status(&self, key: &str) -> serde_json::Value {
        self.board
            .named("scheduler")
            .and_then(|s| s.fields().get(key).cloned())
            .unwrap_or_default()
    }
}

fn day(date: &str, name: &str) -> Vec<String> {
    let mmdd = &date[5..];
    vec![
        format!("{name} {mmdd} 08:45:00 login {date}"),
        format!("{name} {mmdd} 08:50:00 instruments {date}"),
        format!("{name} {mmdd} 09:00:00 connect {date}"),
        format!("{name} {mmdd} 15:35:00 close {date}"),
    ]
}

#[actix_rt::test]
async fn a_week_with_a_holiday_and_a_weekend() {
    // Monday 16 November 2026, 07:00 IST.
    let run = start(ist(d("2026-11-16"), hm("07:00")), 0);
    run.until(ist(d("2026-11-16"), hm("08:00"))).await;
    assert_eq!(run.status("next_event"), "login");
    assert_eq!(run.status("next_at"), "2026-11-16T08:45:00.000+05:30");

    // Wednesday is the holiday: idle, and the status says why and until when.
    run.until(ist(d("2026-11-18"), hm("12:00"))).await;
    assert_eq!(run.status("idle"), "holiday: Test holiday");
    assert_eq!(run.status("session"), "2026-11-19");
    assert_eq!(run.status("next_at"), "2026-11-19T08:45:00.000+05:30");

    run.until(ist(d("2026-11-22"), hm("12:00"))).await;
    assert_eq!(run.status("idle"), "weekend");
    assert_eq!(run.status("next_at"), "2026-11-23T08:45:00.000+05:30");

    run.until(ist(d("2026-11-23"), hm("08:46"))).await;
    let mut expected = Vec::new();
    for (date, name) in [
        ("2026-11-16", "Mon"),
        ("2026-11-17", "Tue"),
        ("2026-11-19", "Thu"),
        ("2026-11-20", "Fri"),
    ] {
        expected.extend(day(date, name));
    }
    expected.push("Mon 11-23 08:45:00 login 2026-11-23".into());
    assert_eq!(run.events(), expected);
    assert!(run.scheduler.connected());
}

#[actix_rt::test]
async fn a_restart_mid_session_catches_up_at_once() {
    let run = start(ist(d("2026-11-19"), hm("11:20")), 0);
    run.until(ist(d("2026-11-19"), hm("11:21"))).await;
    assert_eq!(
        run.events(),
        [
            "Thu 11-19 11:20:00 login 2026-11-19",
            "Thu 11-19 11:20:00 instruments 2026-11-19",
            "Thu 11-19 11:20:00 connect 2026-11-19",
        ]
    );
    assert_eq!(run.status("next_event"), "close");
    run.until(ist(d("2026-11-19"), hm("16:00"))).await;
    assert_eq!(
        run.events().last().unwrap(),
        "Thu 11-19 15:35:00 close 2026-11-19"
    );
}

#[actix_rt::test]
async fn started_after_the_close_it_closes_the_day_then_waits_for_the_next() {
    let run = start(ist(d("2026-11-17"), hm("18:00")), 0);
    run.until(ist(d("2026-11-17"), hm("18:01"))).await;
    assert_eq!(run.events(), ["Tue 11-17 18:00:00 close 2026-11-17"]);
    // The next session skips Wednesday's holiday.
    assert_eq!(run.status("session"), "2026-11-19");
    assert_eq!(run.status("next_at"), "2026-11-19T08:45:00.000+05:30");
}

#[actix_rt::test]
async fn a_refused_login_is_retried_with_backoff_before_connecting() {
    let run = start(ist(d("2026-11-16"), hm("08:40")), 3);
    run.until(ist(d("2026-11-16"), hm("09:10"))).await;
    assert_eq!(
        run.events(),
        [
            "Mon 11-16 08:45:00 login 2026-11-16",
            "Mon 11-16 08:45:30 login 2026-11-16",
            "Mon 11-16 08:46:30 login 2026-11-16",
            "Mon 11-16 08:48:30 login 2026-11-16",
            "Mon 11-16 08:50:00 instruments 2026-11-16",
            "Mon 11-16 09:00:00 connect 2026-11-16",
        ],
        "30 s, 60 s, 120 s"
    );
    assert_eq!(run.status("failures"), 3);
}

#[actix_rt::test]
async fn the_token_expires_at_six_and_each_day_logs_in_again() {
    let run = start(ist(d("2026-11-16"), hm("08:00")), 0);
    run.until(ist(d("2026-11-16"), hm("12:00"))).await;
    assert_eq!(
        run.status("token_expires_at"),
        "2026-11-17T06:00:00.000+05:30"
    );
    assert_eq!(run.status("token_valid"), true);
    // The status is refreshed at least once a minute (`recheck`).
    run.until(ist(d("2026-11-17"), hm("06:01"))).await;
    assert_eq!(run.status("token_valid"), false, "expired at 06:00 IST");
    run.until(ist(d("2026-11-17"), hm("09:01"))).await;
    let events = run.events();
    let tuesday: Vec<_> = events.iter().filter(|e| e.contains("11-17")).collect();
    assert_eq!(
        tuesday,
        [
            "Tue 11-17 08:45:00 login 2026-11-17",
            "Tue 11-17 08:50:00 instruments 2026-11-17",
            "Tue 11-17 09:00:00 connect 2026-11-17",
        ],
        "a fresh login before Tuesday's connect"
    );
    assert_eq!(
        run.status("token_expires_at"),
        "2026-11-18T06:00:00.000+05:30"
    );
}
