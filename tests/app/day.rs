//! The day runner against the simulator: the scheduler's four events carried out for real
//! (login, instruments, connect, close with the end of day), and the close of a day whose
//! pipeline had already stopped (the end of day from the journals).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tickvault::actors::scheduler::Event;
use tickvault::actors::scheduler::handlers::{DayEvent, Outcome};
use tickvault::calendar::IST;
use tickvault::service::day::DayRunner;
use tickvault::service::day::handlers::StopDay;
use tickvault::settings::Role;
use tickvault::sim::SimHandle;
use tickvault::status::StatusBoard;

use tickvault::pipeline::Ending;
use tickvault::service::{Service, ServiceOptions};

use crate::helpers::{app_settings, detail, get_json, journal_ticks, spawn_sim_today, today};

struct Day {
    _sim: SimHandle,
    dir: tempfile::TempDir,
    board: Arc<StatusBoard>,
    runner: Addr<DayRunner>,
    settings: tickvault::settings::Settings,
}

fn start() -> Day {
    let sim = spawn_sim_today(Some(5.0));
    let dir = tempfile::tempdir().unwrap();
    let settings = app_settings(&sim, dir.path());
    let board = StatusBoard::new();
    let (escalate, _escalations) = tokio::sync::mpsc::unbounded_channel();
    let control =
        tickvault::service::control::Control::start(&settings, tickvault::clock::system(), &board);
    let runner = DayRunner::new(
        settings.clone(),
        Some(control),
        board.clone(),
        Role::All,
        false,
        escalate,
    )
    .start();
    Day {
        _sim: sim,
        dir,
        board,
        runner,
        settings,
    }
}

impl Day {
    async fn event(&self, event: Event) -> Outcome {
        self.runner
            .send(DayEvent {
                event,
                date: today(),
            })
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{}: {e}", event.as_str()))
    }

    async fn wait_for_ticks(&self, ticks: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while ["socket-1", "socket-2", "socket-3"]
            .iter()
            .any(|s| detail(&self.board, s, "ticks") < ticks)
        {
            assert!(Instant::now() < deadline, "no ticks on every socket");
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ticks the three sockets received.
    fn received(&self) -> i64 {
        ["socket-1", "socket-2", "socket-3"]
            .iter()
            .map(|s| detail(&self.board, s, "ticks") as i64)
            .sum()
    }

    fn master_rows(&self) -> i64 {
        use diesel::dsl::count_star;
        use diesel::prelude::*;
        use tickvault::storage::schema::ticks::dsl;
        let mut store = tickvault::storage::Store::open(
            &tickvault::storage::StorageUrl::parse(&self.settings.storage.url).unwrap(),
        )
        .unwrap();
        tickvault::on_backend!(store.conn(), c => dsl::ticks
            .filter(dsl::trade_date.eq(today()))
            .select(count_star())
            .first::<i64>(c))
        .unwrap()
    }
}

#[actix_rt::test]
async fn the_runner_carries_a_day_from_login_to_the_end_of_day() {
    let day = start();
    let login = day.event(Event::Login).await;
    let expiry = login
        .token_expires_at()
        .expect("a login reports the token's expiry");
    assert!(expiry > chrono::Utc::now());
    assert_eq!(
        expiry.with_timezone(&IST).format("%H:%M").to_string(),
        "06:00"
    );

    let instruments = day.event(Event::Instruments).await;
    assert!(
        matches!(instruments, Outcome::Resolved { sockets: 3, instruments } if instruments > 0),
        "{instruments:?}"
    );

    day.event(Event::Connect).await;
    assert_eq!(
        kite_calls(&day._sim).await,
        (1, 1, 0),
        "the connect used the login's token and the instruments event's plan"
    );
    assert_eq!(
        day.event(Event::Connect).await,
        Outcome::AlreadyConnected,
        "a repeated connect is harmless"
    );
    day.wait_for_ticks(10).await;

    let close = day.event(Event::Close).await;
    let journaled = day.received();
    assert!(
        matches!(&close, Outcome::Closed { rows: Some(rows), report } if *rows as i64 == journaled && report.master_rows as i64 == journaled),
        "{close:?}"
    );
    assert!(journaled >= 30);
    assert_eq!(
        day.master_rows(),
        journaled,
        "every received tick is in the master"
    );
    // The sockets are closed: nothing more arrives.
    let ticks = detail(&day.board, "socket-1", "ticks");
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(detail(&day.board, "socket-1", "ticks"), ticks);
    drop(day.dir);
}

#[actix_rt::test]
async fn a_close_after_the_pipeline_stopped_runs_the_end_of_day_from_the_journals() {
    let day = start();
    day.event(Event::Login).await;
    day.event(Event::Instruments).await;
    day.event(Event::Connect).await;
    day.wait_for_ticks(10).await;
    // The service is stopped mid-session (drained, no end of day) and comes back after the close.
    day.runner.send(StopDay).await.unwrap().unwrap();
    let journaled = journal_ticks(&tickvault::capture::journal::journal_dir(
        &day.settings.paths.data_dir,
        today(),
    )) as i64;
    assert_eq!(day.received(), journaled, "the drain journaled every tick");
    assert!(journaled >= 30);
    let close = day.event(Event::Close).await;
    assert!(
        matches!(&close, Outcome::Closed { rows: None, report } if report.master_rows as i64 == journaled),
        "the end of day from the journals: {close:?}"
    );
    assert_eq!(day.master_rows(), journaled);
    // Issue 16, finding 11: a restart after the close closes the day again; with the end of day
    // done and nothing new, it is not run (nor mailed) a second time.
    for _ in 0..2 {
        assert_eq!(day.event(Event::Close).await, Outcome::AlreadyClosed);
    }
    let mut store = tickvault::storage::Store::open(
        &tickvault::storage::StorageUrl::parse(&day.settings.storage.url).unwrap(),
    )
    .unwrap();
    assert_eq!(
        tickvault::storage::eod::run_statuses(store.conn(), today()).unwrap(),
        ["done"],
        "one run of the end of day"
    );
    assert_eq!(day.master_rows(), journaled);
}

/// The simulator's counts of completed logins, dumps served and cached-token checks.
async fn kite_calls(sim: &SimHandle) -> (u64, u64, u64) {
    let stats = get_json(&format!("{}/sim/stats", sim.http_url())).await;
    let n = |k: &str| {
        stats[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {stats}"))
    };
    (
        n("sessions_created"),
        n("dumps_served"),
        n("profile_checks"),
    )
}

/// The simulator on the next trading day (today when it is one) and the calendar-driven
/// service's settings against it: a scheduler looking every second, no HTTP endpoint.
struct CalendarDay {
    date: chrono::NaiveDate,
    sim: SimHandle,
    dir: tempfile::TempDir,
    settings: tickvault::settings::Settings,
}

fn calendar_day() -> CalendarDay {
    let calendar = tickvault::settings::Settings::load(&Default::default())
        .unwrap()
        .schedule
        .calendar;
    let date = if calendar.is_trading_day(today()) {
        today()
    } else {
        calendar.next_trading_day(today())
    };
    let mut config = crate::helpers::sim_config();
    config.rate = 5.0;
    let sim = tickvault::sim::start(tickvault::sim::SimOptions {
        config,
        date,
        record: None,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = app_settings(&sim, dir.path());
    settings.schedule.recheck_secs = 1;
    settings.http.enabled = false;
    CalendarDay {
        date,
        sim,
        dir,
        settings,
    }
}

/// The calendar-driven service (all roles) on `clock`.
async fn calendar_service(
    settings: &tickvault::settings::Settings,
    clock: &Arc<tickvault::clock::ManualClock>,
) -> Service {
    Service::build(
        settings,
        clock.clone(),
        ServiceOptions {
            role: Role::All,
            ..Default::default()
        },
    )
    .await
    .expect("the service starts")
}

/// `h:m` IST on `date`.
fn ist_at(date: chrono::NaiveDate, h: u32, m: u32) -> chrono::DateTime<chrono::Utc> {
    date.and_hms_opt(h, m, 0)
        .unwrap()
        .and_local_timezone(IST)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Issue 17: the calendar-driven service logs in once and downloads the instruments dump once
/// per trading day; the day's pipeline uses the service's auth actor (the token in memory, not
/// through the cache file) and the plan the instruments event resolved.
#[actix_rt::test]
async fn a_calendar_day_logs_in_once_and_downloads_the_dump_once() {
    let CalendarDay {
        date,
        sim,
        dir: _dir,
        mut settings,
    } = calendar_day();
    // No saved plan to fall back on: the connect must use the plan the instruments event made.
    settings.universe.recenter = tickvault::settings::universe::Recenter::OnRestart;
    // Issue 18: the day is exported after its end of day.
    settings.export.after_eod = true;
    let at = |h: u32, m: u32| ist_at(date, h, m);
    // Mid-session: the scheduler catches up with login, instruments and connect at once.
    let clock = tickvault::clock::ManualClock::new(at(10, 0));
    let service = calendar_service(&settings, &clock).await;
    let board = service.board().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ["socket-1", "socket-2", "socket-3"]
        .iter()
        .any(|s| detail(&board, s, "ticks") < 5)
    {
        assert!(
            Instant::now() < deadline,
            "the day did not connect: {:?}",
            board.snapshot()
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        kite_calls(&sim).await,
        (1, 1, 0),
        "one login, one dump, no cached token checked, by the time the sockets record"
    );

    // The close: drain and the end of day.
    clock.set(at(15, 45));
    let deadline = Instant::now() + Duration::from_secs(30);
    while board
        .named("eod")
        .and_then(|e| e.fields().get("result").cloned())
        != Some(serde_json::json!("ok"))
    {
        assert!(Instant::now() < deadline, "no end of day after the close");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kite_calls(&sim).await, (1, 1, 0), "over the whole day");
    // The export after the end of day: in the status, the report and on disk.
    let eod = board.named("eod").unwrap().fields();
    let master = eod["master_rows"].as_u64().unwrap();
    assert_eq!(eod["export_rows"].as_u64(), Some(master), "{eod:?}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tickvault::eod::report_path(&settings.paths.data_dir, date))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["export"]["rows"].as_u64(), Some(master));
    assert!(
        settings
            .paths
            .data_dir
            .join("export/ticks")
            .join(format!("date={date}"))
            .join("part-0.parquet")
            .is_file()
    );
    let ending = service
        .run_until_stopped(std::future::ready(()))
        .await
        .expect("stops cleanly");
    assert!(matches!(ending, Ending::Requested { .. }), "{ending:?}");
    // Stopped on purpose: not a failure its supervisor would restart.
    let scheduler = board.named("scheduler").unwrap();
    assert_eq!(
        (scheduler.state, scheduler.restarts),
        (tickvault::status::State::Stopped, 0)
    );
    sim.stop().await;
}

/// Issue 17, step 6: the service's auth, instruments, scheduler and notifier, each stopped by a failure
/// it cannot absorb while a day records, restart alone under their supervisors: the sockets
/// keep streaming (none restarts), the restarted auth keeps the day's token (no second login),
/// and the restarted scheduler still closes the day.
#[cfg(feature = "test-hooks")]
#[actix_rt::test]
async fn the_services_own_actors_restart_alone_while_the_day_records() {
    use tickvault::status::Actor;
    let CalendarDay {
        date,
        sim,
        dir: _dir,
        settings,
    } = calendar_day();
    let at = |h: u32, m: u32| ist_at(date, h, m);
    let clock = tickvault::clock::ManualClock::new(at(10, 0));
    let service = calendar_service(&settings, &clock).await;
    let board = service.board().clone();
    let sockets = ["socket-1", "socket-2", "socket-3"];
    let ticks = |b: &StatusBoard| -> u64 { sockets.iter().map(|s| detail(b, s, "ticks")).sum() };
    let until = async |what: &str, done: &dyn Fn(&StatusBoard) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&board) {
            assert!(Instant::now() < deadline, "{what}: {:?}", board.snapshot());
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    };
    until("the day records", &|b| {
        sockets.iter().all(|s| detail(b, s, "ticks") >= 5)
    })
    .await;
    for actor in [
        Actor::Auth,
        Actor::Instruments,
        Actor::Scheduler,
        Actor::Notifier,
    ] {
        let name = actor.name();
        let before = ticks(&board);
        assert!(service.crash(actor), "{name} is there to stop");
        until(
            &format!("{name} restarted while the sockets stream"),
            &|b| b.named(&name).map(|a| a.restarts) == Some(1) && ticks(b) > before + 20,
        )
        .await;
        let socket_restarts: u32 = sockets
            .iter()
            .filter_map(|s| board.named(s))
            .map(|s| s.restarts)
            .sum();
        assert_eq!(socket_restarts, 0, "no socket restarted with {name}");
        assert_eq!(
            board.named(&name).map(|a| a.state),
            Some(tickvault::status::State::Running)
        );
    }
    assert_eq!(
        kite_calls(&sim).await.0,
        1,
        "the restarted auth kept the day's token"
    );

    clock.set(at(15, 45));
    until("the restarted scheduler closes the day", &|b| {
        b.named("eod")
            .and_then(|e| e.fields().get("result").cloned())
            == Some(serde_json::json!("ok"))
    })
    .await;
    service
        .run_until_stopped(std::future::ready(()))
        .await
        .expect("stops cleanly");
    let scheduler = board.named("scheduler").unwrap();
    assert_eq!(
        (scheduler.state, scheduler.restarts),
        (tickvault::status::State::Stopped, 1),
        "the stop is not counted as a restart"
    );
    sim.stop().await;
}

/// Issue 17, step 6: a restart of the service's own actors reaches the restart intensity rule:
/// with no restart allowed, one is a storm, and the service drains and ends escalated.
#[cfg(feature = "test-hooks")]
#[actix_rt::test]
async fn a_restart_storm_of_the_services_own_actors_escalates() {
    let CalendarDay {
        date,
        sim,
        dir: _dir,
        mut settings,
    } = calendar_day();
    settings.sockets.restart_limit = 0;
    let clock = tickvault::clock::ManualClock::new(ist_at(date, 10, 0));
    let service = calendar_service(&settings, &clock).await;
    let board = service.board().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while detail(&board, "socket-1", "ticks") < 5 {
        assert!(Instant::now() < deadline, "the day did not connect");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(service.crash(tickvault::status::Actor::Instruments));
    let ending = actix_rt::time::timeout(
        Duration::from_secs(30),
        service.run_until_stopped(std::future::pending()),
    )
    .await
    .expect("the storm ends the service")
    .expect("it drains");
    assert!(matches!(ending, Ending::Escalated(_)), "{ending:?}");
    let day = board.named("day").unwrap();
    assert_eq!(day.state, tickvault::status::State::Failed, "{day:?}");
    assert_eq!(board.named("instruments").map(|i| i.restarts), Some(1));
    sim.stop().await;
}
