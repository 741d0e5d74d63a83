//! Losing nothing when things die: the service SIGKILLed mid-stream (twice) and restarted, a
//! damaged journal at start-up, and MariaDB stopped for 30 s during a run.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tickvault::storage::{self, StorageUrl, Store};

use crate::helpers::{
    Backend, database_for, get_json, journal_ticks, post_json, service_config, signal, sim_config,
    stderr, tickvault, today,
};
#[cfg(feature = "mysql")]
use crate::helpers::{OwnMariadb, detail, spawn_app_on};

fn start_sim(rate: f64) -> tickvault::sim::SimHandle {
    let mut sc = sim_config();
    sc.rate = rate;
    tickvault::sim::start(tickvault::sim::SimOptions {
        config: sc,
        date: today(),
        record: None,
    })
    .unwrap()
}

/// Open simulator connections: (id, ticks sent).
pub(crate) async fn open_connections(sim: &tickvault::sim::SimHandle) -> Vec<(u64, u64)> {
    get_json(&format!("{}/sim/connections", sim.http_url()))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_u64().unwrap(), c["ticks_sent"].as_u64().unwrap()))
        .collect()
}

async fn ticks_sent(sim: &tickvault::sim::SimHandle) -> u64 {
    get_json(&format!("{}/sim/stats", sim.http_url())).await["ticks_sent"]
        .as_u64()
        .unwrap()
}

/// Polls `cond` every 50 ms until it holds; panics with `what` after `secs`.
pub(crate) async fn until(what: &str, secs: u64, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `tickvault run --now` with its log in `log`.
pub(crate) fn run_service(
    cfg: &std::path::Path,
    env: &[(&str, String)],
    log: &std::path::Path,
) -> Child {
    // The release build of the quick start has SQLite only: MariaDB runs need this build's.
    let mysql = env.iter().any(|(_, v)| v.starts_with("mysql://"));
    let mut cmd = if mysql {
        tickvault()
    } else {
        crate::helpers::tickvault_release()
    };
    cmd.args(["run", "--now", "--config"])
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Waits until the simulator streams to three connections; on timeout shows the service's log.
pub(crate) async fn wait_streaming(sim: &tickvault::sim::SimHandle, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let open = open_connections(sim).await;
        if open.len() == 3 && open.iter().all(|(_, n)| *n > 20) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no three streaming connections: {open:?}; the service's log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sigkill_twice_then_recover_on(backend: Backend) {
    let sim = start_sim(5.0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = service_config(&sim, dir.path(), "");
    let mysql = database_for(backend);
    let url = match &mysql {
        Some(db) => db.url().to_string(),
        None => format!("sqlite://{}", dir.path().join("ticks.db").display()),
    };
    // The persister commits only when it is told to stop: everything between start and a kill
    // is in the journal and not in the database, so each restart has to replay it. Sockets
    // do not give up on the stalled connections of the kill below.
    let env = [
        ("TICKVAULT__STORAGE__URL", url.clone()),
        ("TICKVAULT__STORAGE__BATCH_MS", "600000".into()),
        ("TICKVAULT__STORAGE__BATCH_ROWS", "10000000".into()),
        ("TICKVAULT__SOCKETS__STALL_MS", "600000".into()),
        ("TICKVAULT__EOD__DEDUPE", "none".into()),
    ];
    let journal = dir.path().join("data/journal").join(today().to_string());
    let db_rows = |url: &str| -> u64 {
        let mut store = Store::open(&StorageUrl::parse(url).unwrap()).unwrap();
        storage::rows_per_token(store.conn(), today())
            .unwrap()
            .values()
            .sum()
    };

    for round in 1..=2 {
        let log = dir.path().join(format!("run-{round}.log"));
        let mut child = run_service(&cfg, &env, &log);
        wait_streaming(&sim, &log).await;
        // Freeze the feed, let the journal catch up with every tick sent, then kill -9.
        let open = open_connections(&sim).await;
        for (id, _) in &open {
            post_json(&format!(
                "{}/sim/connections/{id}/stall?seconds=600",
                sim.http_url()
            ))
            .await;
        }
        let sent = ticks_sent(&sim).await;
        until("the journal to hold every tick sent", 20, async || {
            journal_ticks(&journal) == sent
        })
        .await;
        signal(child.id(), "KILL");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), None, "killed by a signal");
        assert!(
            db_rows(&url) < sent,
            "round {round}: the database lags the journal at the kill, so recovery has work"
        );
        // The server side of the dead connections goes away (the simulator may have noticed
        // the closed sockets already: then there is nothing to drop).
        for (id, _) in &open {
            let _ = awc::Client::new()
                .post(format!("{}/sim/connections/{id}/drop", sim.http_url()))
                .send()
                .await;
        }
        until("the killed connections to close", 10, async || {
            open_connections(&sim).await.is_empty()
        })
        .await;
    }

    // A last run, stopped cleanly: recovery replays both killed runs' journal tails first.
    let log = dir.path().join("run-3.log");
    let mut child = run_service(&cfg, &env, &log);
    wait_streaming(&sim, &log).await;
    signal(child.id(), "TERM");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains("recovered from the journal"), "{text}");

    let eod = crate::helpers::run(
        tickvault()
            .args(["eod", "--config"])
            .arg(&cfg)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str()))),
    );
    assert_eq!(eod.status.code(), Some(0), "{}", stderr(&eod));

    let stats = get_json(&format!("{}/sim/stats", sim.http_url())).await;
    let mut store = Store::open(&StorageUrl::parse(&url).unwrap()).unwrap();
    let master = storage::eod::master_rows_per_token(store.conn(), today()).unwrap();
    let sent: std::collections::HashMap<u32, u64> = stats["per_token"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(
        master, sent,
        "master rows per token == ticks the simulator sent: nothing lost, nothing twice"
    );
    assert_eq!(
        storage::rows_per_token(store.conn(), today())
            .unwrap()
            .len(),
        0,
        "the daily table is cleared"
    );
    sim.stop().await;
}

#[actix_rt::test]
async fn sigkill_twice_mid_stream_then_recovery_and_eod_keep_every_tick_once_on_sqlite() {
    sigkill_twice_then_recover_on(Backend::Sqlite).await;
}

#[cfg(feature = "mysql")]
#[actix_rt::test]
async fn sigkill_twice_mid_stream_then_recovery_and_eod_keep_every_tick_once_on_mariadb() {
    sigkill_twice_then_recover_on(Backend::Mysql).await;
}

#[actix_rt::test]
async fn a_damaged_journal_record_stops_start_up_naming_file_and_offset_unless_skipped() {
    use tickvault::capture::{CaptureReader, Next};
    let sim = start_sim(2.0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = service_config(&sim, dir.path(), "");
    // Yesterday's capture as today's socket-1 journal, with one record's payload damaged.
    let journal = dir.path().join("data/journal").join(today().to_string());
    std::fs::create_dir_all(&journal).unwrap();
    let path = journal.join("socket-1.kcap");
    std::fs::copy(crate::helpers::fixture("golden.kcap"), &path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let mut reader = CaptureReader::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let mut buf = Vec::new();
    let mut offsets = Vec::new();
    while let Ok(Next::Record(h)) = reader.next_into(&mut buf) {
        offsets.push(h.offset);
    }
    let damaged = offsets[offsets.len() / 2];
    bytes[damaged as usize + 20] ^= 0xff; // inside the payload: the CRC no longer matches
    std::fs::write(&path, &bytes).unwrap();

    let out = crate::helpers::run(tickvault().args(["run", "--now", "--config"]).arg(&cfg));
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&path.display().to_string()) && err.contains(&format!("at byte {damaged}")),
        "{err}"
    );
    assert!(err.contains("--skip-corrupt"), "says how to go on: {err}");

    // With --skip-corrupt it starts, storing everything but the damaged record.
    let mut child = tickvault()
        .args(["run", "--now", "--skip-corrupt", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let db = format!("sqlite://{}", dir.path().join("ticks.db").display());
    until("the service to stream", 30, async || {
        open_connections(&sim).await.len() == 3
    })
    .await;
    signal(child.id(), "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut store = Store::open(&StorageUrl::parse(&db).unwrap()).unwrap();
    let rows: u64 = storage::rows_per_token(store.conn(), today())
        .unwrap()
        .values()
        .sum();
    assert!(
        rows > 1_000,
        "the capture's other records were recovered: {rows}"
    );
    sim.stop().await;
}

#[cfg(feature = "mysql")]
#[actix_rt::test]
async fn mariadb_stopped_for_30_s_the_service_keeps_journaling_within_bounded_memory_and_catches_up()
 {
    let mut server = OwnMariadb::start();
    let url = server.url.clone();
    let t = spawn_app_on(Backend::Sqlite, 5.0, |s| {
        s.storage.url = url;
        s.storage.batch_rows = 200;
        s.storage.batch_ms = 100;
    })
    .await;
    t.wait_for_ticks(20).await;
    server.stop();
    t.wait_for("the persister to notice", Duration::from_secs(10), |b| {
        b.named("persister")
            .is_some_and(|p| p.state == tickvault::status::State::Backoff)
    })
    .await;
    let ticks = |b: &tickvault::status::StatusBoard| -> u64 {
        (1..=3)
            .map(|n| detail(b, &format!("socket-{n}"), "ticks"))
            .sum()
    };
    let (ticks_before, records_before) = (
        ticks(&t.app.board),
        detail(&t.app.board, "journal", "records"),
    );
    // 30 s without a database: sample what is held in memory all along.
    let down_until = Instant::now() + Duration::from_secs(30);
    let mut most_queued = 0;
    while Instant::now() < down_until {
        most_queued = most_queued.max(detail(&t.app.board, "persister", "queued"));
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        most_queued <= 200 + 1_000,
        "at most a batch (and the last message) is held: {most_queued}"
    );
    assert!(
        ticks(&t.app.board) > ticks_before + 300,
        "sockets kept receiving"
    );
    assert!(
        detail(&t.app.board, "journal", "records") > records_before + 100,
        "and journaling"
    );
    server.restart();
    t.wait_for("the persister to catch up", Duration::from_secs(60), |b| {
        b.named("persister")
            .is_some_and(|p| p.state == tickvault::status::State::Running)
            && detail(b, "persister", "committed_rows") >= ticks(b)
    })
    .await;
    let rows = t.app.shutdown().await.expect("drains");
    let sent = t.sent_per_token().await;
    let mut store = Store::open(&StorageUrl::parse(&server.url).unwrap()).unwrap();
    let stored = storage::rows_per_token(store.conn(), today()).unwrap();
    assert!(rows > 0);
    assert_eq!(
        stored, sent,
        "rows per token == ticks sent, outage included"
    );
    t.sim.stop().await;
}
