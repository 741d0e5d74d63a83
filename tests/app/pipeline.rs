//! The recording pipeline end to end against the simulator, on SQLite (and the zero-loss run
//! on MariaDB too).

use std::time::{Duration, Instant};

use tickvault::actors::instruments::handlers::ResolveError;
use tickvault::plan::PlanError;
use tickvault::service::control::DayError;
use tickvault::settings::universe::{OptionChain, StrikeWindow};
use tickvault::storage;

use crate::helpers::{Backend, TestApp, detail, post_json, spawn_app, spawn_app_on, today};

/// Stops the service and checks zero loss: for every token, rows == ticks the simulator sent.
async fn stop_and_check_zero_loss(t: TestApp) -> TestApp {
    let rows = t.app.shutdown().await.expect("drains");
    let sent = t.sent_per_token().await;
    let stored = storage::rows_per_token(t.store().conn(), today()).unwrap();
    assert!(rows > 0 && !sent.is_empty());
    assert_eq!(stored, sent, "rows per token == ticks sent per token");
    t
}

async fn every_tick_sent_is_stored_once_on(backend: Backend) {
    let t = spawn_app_on(backend, 5.0, |_| {}).await;
    assert_eq!(t.app.plan.sockets.len(), 3);
    assert_eq!(t.app.plan.instruments.len(), 13);
    t.wait_for_ticks(30).await;
    let t = stop_and_check_zero_loss(t).await;
    let instruments: i64 = {
        use diesel::prelude::*;
        use tickvault::storage::schema::instruments::dsl;
        tickvault::on_backend!(t.store().conn(), c => dsl::instruments.count().get_result(c))
            .unwrap()
    };
    assert_eq!(instruments, 13, "the instrument snapshot is stored");
    t.sim.stop().await;
}

#[actix_rt::test]
async fn every_tick_sent_is_stored_once() {
    every_tick_sent_is_stored_once_on(Backend::Sqlite).await;
}

#[cfg(feature = "mysql")]
#[actix_rt::test]
async fn every_tick_sent_is_stored_once_on_mariadb() {
    every_tick_sent_is_stored_once_on(Backend::Mysql).await;
}

#[actix_rt::test]
async fn a_dropped_socket_restarts_alone_and_its_gap_is_recorded() {
    let t = spawn_app(5.0, |_| {}).await;
    t.wait_for_ticks(20).await;
    let id = t.sim_connection_of(2).await;
    post_json(&format!("{}/sim/connections/{id}/drop", t.sim.http_url())).await;
    t.wait_for(
        "socket-2 to restart and stream again",
        Duration::from_secs(15),
        |b| {
            let s2 = b.named("socket-2").unwrap();
            s2.restarts == 1 && detail(b, "socket-2", "subscribed") > 0
        },
    )
    .await;
    let before = detail(&t.app.board, "socket-2", "ticks");
    t.wait_for("socket-2 to receive again", Duration::from_secs(10), |b| {
        detail(b, "socket-2", "ticks") > before + 10
    })
    .await;
    for other in ["socket-1", "socket-3"] {
        assert_eq!(
            t.app.board.named(other).unwrap().restarts,
            0,
            "{other} untouched"
        );
    }
    let t = stop_and_check_zero_loss(t).await;
    let gaps = storage::gaps(t.store().conn(), today()).unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(
        (gaps[0].socket, gaps[0].cause.as_str()),
        (2, "remote_closed")
    );
    assert!(gaps[0].end_us > gaps[0].start_us);
    assert_eq!(
        gaps[0].instruments as usize,
        t.app.plan.sockets[1].tokens.len()
    );
    t.sim.stop().await;
}

#[actix_rt::test]
async fn a_stalled_socket_is_detected_within_the_stall_timeout_and_reconnects() {
    // If the server still counts the abandoned connection, the reconnect gets 429: back off 1 s.
    let t = spawn_app(5.0, |s| s.sockets.rate_limited_backoff_ms = 1_000).await;
    t.wait_for_ticks(10).await;
    let id = t.sim_connection_of(1).await;
    post_json(&format!(
        "{}/sim/connections/{id}/stall?seconds=60",
        t.sim.http_url()
    ))
    .await;
    let stalled_at = Instant::now();
    t.wait_for(
        "socket-1 to notice the stall",
        Duration::from_secs(8),
        |b| b.named("socket-1").unwrap().restarts == 1,
    )
    .await;
    let detected = stalled_at.elapsed();
    assert!(
        detected <= Duration::from_millis(6_500),
        "detected after {detected:?}"
    );
    assert!(
        detected >= Duration::from_millis(4_000),
        "not before the 5 s timeout: {detected:?}"
    );
    let causes = t.app.board.named("socket-1").unwrap().fields()["reconnects_by_cause"].clone();
    assert_eq!(causes["stalled"], 1, "{causes}");
    t.wait_for("socket-1 to stream again", Duration::from_secs(10), |b| {
        detail(b, "socket-1", "subscribed") > 0
    })
    .await;
    t.app.shutdown().await.unwrap();
    t.sim.stop().await;
}

#[actix_rt::test]
async fn an_expired_token_is_replaced_and_the_socket_recovers() {
    let t = spawn_app(5.0, |_| {}).await;
    t.wait_for_ticks(10).await;
    post_json(&format!("{}/sim/tokens/expire", t.sim.http_url())).await;
    let id = t.sim_connection_of(3).await;
    post_json(&format!("{}/sim/connections/{id}/drop", t.sim.http_url())).await;
    t.wait_for(
        "socket-3 to get a new token and reconnect",
        Duration::from_secs(20),
        |b| {
            let causes = &b.named("socket-3").unwrap().fields()["reconnects_by_cause"];
            causes["auth_rejected"].as_u64() >= Some(1) && detail(b, "socket-3", "subscribed") > 0
        },
    )
    .await;
    for other in ["socket-1", "socket-2"] {
        assert_eq!(
            t.app.board.named(other).unwrap().restarts,
            0,
            "{other} kept streaming on its old token"
        );
    }
    let t = stop_and_check_zero_loss(t).await;
    t.sim.stop().await;
}

#[actix_rt::test]
async fn a_totp_failure_at_login_is_retried_in_the_next_window() {
    let mut config = crate::helpers::sim_config();
    config.rate = 5.0;
    let sim = tickvault::sim::start(tickvault::sim::SimOptions {
        config,
        date: today(),
        record: None,
    })
    .unwrap();
    post_json(&format!("{}/sim/login/fail?times=1", sim.http_url())).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::helpers::app_settings(&sim, dir.path());
    let started = Instant::now();
    let app = tickvault::service::control::start_day(
        &settings,
        today(),
        tickvault::clock::system(),
        Default::default(),
    )
    .await
    .expect("starts after one retry");
    assert!(started.elapsed() <= Duration::from_secs(35));
    let auth = app.board.named("auth").unwrap();
    assert_eq!(serde_json::to_value(auth.state).unwrap(), "running");
    app.shutdown().await.unwrap();
    sim.stop().await;
}

#[actix_rt::test]
async fn a_malformed_frame_is_counted_and_the_socket_carries_on() {
    let t = spawn_app(5.0, |_| {}).await;
    t.wait_for_ticks(10).await;
    let id = t.sim_connection_of(1).await;
    post_json(&format!(
        "{}/sim/connections/{id}/garbage",
        t.sim.http_url()
    ))
    .await;
    t.wait_for(
        "the malformed frame to be counted",
        Duration::from_secs(5),
        |b| detail(b, "socket-1", "malformed") == 1,
    )
    .await;
    let before = detail(&t.app.board, "socket-1", "ticks");
    t.wait_for("socket-1 to carry on", Duration::from_secs(5), |b| {
        detail(b, "socket-1", "ticks") > before + 10
    })
    .await;
    assert_eq!(t.app.board.named("socket-1").unwrap().restarts, 0);
    let t = stop_and_check_zero_loss(t).await;
    t.sim.stop().await;
}

#[actix_rt::test]
async fn a_universe_larger_than_one_app_can_carry_is_a_startup_error_naming_the_numbers() {
    let mut config = crate::helpers::sim_config();
    config.rate = 1.0;
    let sim = tickvault::sim::start(tickvault::sim::SimOptions {
        config,
        date: today(),
        record: None,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::app_settings(&sim, dir.path());
    let chain = |underlying: &str, spot: &str, weeklies| OptionChain {
        underlying: underlying.into(),
        spot: Some(spot.into()),
        weeklies,
        monthlies: 3,
        strikes: StrikeWindow::All,
    };
    settings.universe.options = vec![
        chain("NIFTY", "NSE:NIFTY 50", 4),
        chain("BANKNIFTY", "NSE:NIFTY BANK", 0),
        chain("FINNIFTY", "NSE:NIFTY FIN SERVICE", 0),
        chain("MIDCPNIFTY", "NSE:NIFTY MID SELECT", 0),
    ];
    // Stock option chains until the universe passes 3 sockets × 3000.
    let stocks: Vec<String> = sim
        .state()
        .universe
        .instruments
        .iter()
        .filter(|i| i.instrument_type == "CE" && i.segment == "NFO-OPT")
        .map(|i| i.name.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|n| !n.contains("NIFTY"))
        .take(60)
        .collect();
    for s in stocks {
        settings
            .universe
            .options
            .push(chain(&s, &format!("NSE:{s}"), 0));
    }
    match tickvault::service::control::start_day(
        &settings,
        today(),
        tickvault::clock::system(),
        Default::default(),
    )
    .await
    {
        Err(DayError::Plan(ResolveError::Plan(PlanError::TooMany {
            instruments,
            capacity,
            ..
        }))) => {
            assert!(instruments > 9_000, "{instruments}");
            assert_eq!(capacity, 9_000);
        }
        Err(other) => panic!("expected a plan that does not fit, got {other}"),
        Ok(_) => panic!("expected a plan that does not fit"),
    }
    sim.stop().await;
}

/// Issue 17, step 6: a journal stopped by a failure it cannot absorb restarts alone under its
/// supervisor: the sockets keep streaming (none restarts), the frames waiting in its mailbox are
/// kept, every socket goes on in a new generation, nothing is lost, and the status shows the
/// restart.
#[cfg(feature = "test-hooks")]
#[actix_rt::test]
async fn a_journal_that_stops_restarts_alone_and_loses_nothing() {
    let t = spawn_app(20.0, |_| {}).await;
    t.wait_for_ticks(50).await;
    let sockets: Vec<String> = t.app.plan.sockets.iter().map(|s| s.name()).collect();
    let socket_restarts = |b: &tickvault::status::StatusBoard| -> u32 {
        sockets
            .iter()
            .filter_map(|s| b.named(s))
            .map(|s| s.restarts)
            .sum()
    };
    let records = detail(&t.app.board, "journal", "records");
    assert!(t.app.crash(tickvault::status::Actor::Journal));
    t.wait_for(
        "the journal restarted and writes again",
        Duration::from_secs(20),
        |b| {
            b.named("journal").map(|j| j.restarts) == Some(1)
                && detail(b, "journal", "records") > records + 100
        },
    )
    .await;
    assert_eq!(socket_restarts(&t.app.board), 0, "no socket restarted");
    let journal = tickvault::capture::journal::journal_dir(&t.settings.paths.data_dir, today());
    let files = std::fs::read_dir(&journal)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".kcap"))
        .count();
    assert_eq!(files, 2 * sockets.len(), "a new generation per socket");
    let t = stop_and_check_zero_loss(t).await;
    t.sim.stop().await;
}

/// Issue 17, step 6: the persister, the publisher and the end of day, each stopped by a failure
/// it cannot absorb, restart alone under their supervisors while the sockets keep journaling:
/// none of the others restarts, the restarted persister commits on from the committed positions
/// (every tick sent is stored once), the restarted publisher puts its unanswered batches back
/// (every journaled tick is in the stream), and the restarted end of day moves the day.
#[cfg(feature = "test-hooks")]
#[actix_rt::test]
async fn the_persister_the_publisher_and_the_end_of_day_restart_alone_and_lose_nothing() {
    use tickvault::status::Actor;
    // A Redis of the test's own: it is paused below.
    let redis = crate::helpers::OwnRedis::start();
    let mut admin = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let url = redis.url.clone();
    let t = spawn_app(20.0, move |s| {
        s.redis.enabled = true;
        s.redis.url = url;
    })
    .await;
    t.wait_for_ticks(50).await;
    let others_restarts = |b: &tickvault::status::StatusBoard, stopped: &[String]| -> u32 {
        b.snapshot()
            .actors
            .iter()
            .filter(|a| !stopped.contains(&a.name))
            .map(|a| a.restarts)
            .sum()
    };
    let mut stopped = Vec::new();
    for (actor, figure) in [
        (Actor::Persister, "committed_rows"),
        (Actor::Publisher, "published"),
        (Actor::Eod, ""),
    ] {
        let name = actor.name();
        let before = (!figure.is_empty()).then(|| detail(&t.app.board, &name, figure));
        let records = detail(&t.app.board, "journal", "records");
        if actor == Actor::Publisher {
            // Redis holds every write: the batches sent wait unanswered when it stops.
            redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg(30_000)
                .arg("WRITE")
                .exec(&mut admin)
                .unwrap();
            t.wait_for(
                "ticks waiting behind the unanswered batches",
                Duration::from_secs(20),
                |b| detail(b, "publisher", "buffered") > 0,
            )
            .await;
        }
        assert!(t.app.crash(actor), "{name} is there to stop");
        stopped.push(name.clone());
        if actor == Actor::Publisher {
            t.wait_for("the publisher restarted", Duration::from_secs(20), |b| {
                b.named("publisher").map(|p| p.restarts) == Some(1)
            })
            .await;
            redis::cmd("CLIENT")
                .arg("UNPAUSE")
                .exec(&mut admin)
                .unwrap();
        }
        t.wait_for(
            &format!("{name} restarted, and works on while the sockets journal"),
            Duration::from_secs(20),
            |b| {
                b.named(&name).map(|a| a.restarts) == Some(1)
                    && before.is_none_or(|n| detail(b, &name, figure) > n + 50)
                    && detail(b, "journal", "records") > records + 50
            },
        )
        .await;
        assert_eq!(
            others_restarts(&t.app.board, &stopped),
            0,
            "only {name} restarted"
        );
        let restarted = t.app.board.named(&name).unwrap();
        assert_eq!(
            restarted.state,
            tickvault::status::State::Running,
            "{restarted:?}"
        );
    }

    let journaled = t.drain_and_publish_all().await;
    let stream = format!("{}ticks:raw", t.settings.redis.key_prefix);
    let entries: redis::streams::StreamRangeReply =
        redis::Commands::xrange_all(&mut admin, &stream).unwrap();
    let unique: std::collections::BTreeSet<(String, String)> = entries
        .ids
        .iter()
        .map(|e| (e.get("socket").unwrap(), e.get("seq").unwrap()))
        .collect();
    assert_eq!(
        unique.len() as u64,
        journaled,
        "every journaled tick is in the stream"
    );
    let sent = t.sent_per_token().await;
    let stored = storage::rows_per_token(t.store().conn(), today()).unwrap();
    assert_eq!(stored, sent, "rows per token == ticks sent per token");
    let report = t
        .app
        .run_eod(today())
        .await
        .expect("the restarted end of day runs");
    assert_eq!(
        report.master_rows + report.removed_rows,
        sent.values().sum::<u64>(),
        "every daily row moved (or removed as a duplicate by the dedupe setting)"
    );
    t.sim.stop().await;
}

/// Issue 17, step 6: a supervised pipeline actor's restart reaches the coordinator's restart
/// intensity rule: with no restart allowed, one is a storm and the day escalates.
#[cfg(feature = "test-hooks")]
#[actix_rt::test]
async fn a_restart_storm_of_a_pipeline_actor_escalates() {
    let mut t = spawn_app(20.0, |s| s.sockets.restart_limit = 0).await;
    t.wait_for_ticks(20).await;
    let mut escalations = t.app.take_escalations().expect("the day's escalations");
    assert!(t.app.crash(tickvault::status::Actor::Persister));
    let why = actix_rt::time::timeout(Duration::from_secs(20), escalations.recv())
        .await
        .expect("the storm escalates");
    assert!(why.is_some());
    let coordinator = t.app.board.named("coordinator").unwrap();
    assert_eq!(
        coordinator.state,
        tickvault::status::State::Failed,
        "{coordinator:?}"
    );
    assert_eq!(t.app.board.named("persister").map(|p| p.restarts), Some(1));
    let t = stop_and_check_zero_loss(t).await;
    t.sim.stop().await;
}
