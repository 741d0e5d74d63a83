//! `tickvault run` as a process: SIGUSR1 writes the status report, SIGTERM drains, a
//! universe that does not fit exits 78, and on a closed day the calendar-driven service idles.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tickvault::storage::{self, StorageUrl, Store};

use crate::helpers::{
    get_json, journal_ticks, service_config, signal, spawn_sim_today, stderr, tickvault, today,
};

#[actix_rt::test]
async fn sigusr1_writes_the_status_report_and_sigterm_drains_to_a_database_equal_to_the_journal() {
    let sim = spawn_sim_today(Some(5.0));
    let dir = tempfile::tempdir().unwrap();
    let cfg = service_config(&sim, dir.path(), "");
    let child = tickvault()
        .args(["run", "--now", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until the simulator has streamed to all three connections.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let conns = get_json(&format!("{}/sim/connections", sim.http_url())).await;
        let streaming = conns
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["ticks_sent"].as_u64() > Some(20))
            .count();
        if streaming == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service never streamed: {conns}"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    signal(pid, "USR1");
    let status_path = dir.path().join("data/status.json");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !status_path.exists() {
        assert!(Instant::now() < deadline, "no status.json after SIGUSR1");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&status_path).unwrap()).unwrap();
    assert!(status["generated_at"].as_str().unwrap().ends_with("+05:30"));
    crate::first_contact::assert_ist_millis(&status);
    let actors = status["actors"].as_array().unwrap();
    let names: Vec<&str> = actors.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "coordinator",
            "auth",
            "instruments",
            "socket-1",
            "socket-2",
            "socket-3",
            "journal",
            "persister",
            "eod",
            "day",
            "http",
            "notifier"
        ]
    );
    for a in actors {
        for key in ["state", "restarts", "last_error", "since"] {
            assert!(a.get(key).is_some(), "{} lacks {key}", a["name"]);
        }
        let name = a["name"].as_str().unwrap();
        let keys: &[&str] = match name {
            s if s.starts_with("socket-") => &[
                "app",
                "subscribed",
                "first_token",
                "frames",
                "ticks",
                "last_frame_age_ms",
                "reconnects_by_cause",
            ],
            "persister" => &["queued", "committed_rows", "last_commit_ms", "lag_ms"],
            "journal" => &["bytes", "records"],
            _ => &[],
        };
        for key in keys {
            assert!(a.get(*key).is_some(), "{name} lacks {key}: {a}");
        }
    }
    assert_eq!(actors[3]["state"], "running");
    assert!(
        !std::fs::read_to_string(&status_path)
            .unwrap()
            .contains("sim-password"),
        "no secrets in status"
    );

    signal(pid, "TERM");
    let stopped = Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "took {:?}",
        stopped.elapsed()
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(
        !log.contains("sim-password") && !log.contains("JBSWY3DP"),
        "no secrets in logs"
    );
    let stamp = log.lines().next().unwrap_or("").split_whitespace().next();
    let stamp = stamp.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    assert_eq!(
        stamp.map(|t| t.offset().local_minus_utc()),
        Some(19_800),
        "log lines start with an IST timestamp: {log}"
    );

    let mut store = Store::open(
        &StorageUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join("ticks.db").display()
        ))
        .unwrap(),
    )
    .unwrap();
    let rows: u64 = storage::rows_per_token(store.conn(), today())
        .unwrap()
        .values()
        .sum();
    let in_journal = journal_ticks(&dir.path().join("data/journal").join(today().to_string()));
    assert!(rows > 60);
    assert_eq!(
        rows, in_journal,
        "the database holds exactly what the journal holds"
    );
    let sent = get_json(&format!("{}/sim/stats", sim.http_url())).await["ticks_sent"]
        .as_u64()
        .unwrap();
    assert_eq!(rows, sent, "and what the simulator sent");
    sim.stop().await;
}

#[actix_rt::test]
async fn a_universe_that_does_not_fit_exits_78_naming_the_numbers() {
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    // One socket of 10 instruments cannot carry the 7 planned above plus 40 strikes of NIFTY.
    let cfg = service_config(
        &sim,
        dir.path(),
        "[universe.options.nifty]\nspot = \"NSE:NIFTY 50\"\nweeklies = 1\nmonthlies = 0\nstrikes = \"10\"\n[sockets]\nper_app = 1\nmax_instruments = 10\n",
    );
    let child = tickvault()
        .args(["run", "--now", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "the universe has 49 instruments but 1 app(s) × 1 sockets × 10 instruments = 10 fit"
        ),
        "{err}"
    );
    sim.stop().await;
}

/// A password Kite refuses is the settings' to fix: `run --now` exits 78 naming the key (as
/// `tickvault login` does), so systemd does not restart it into the same refusal.
#[actix_rt::test]
async fn a_refused_password_at_run_now_exits_78_naming_the_key() {
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    let cfg = service_config(&sim, dir.path(), "");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("sim-password", "not-the-password")).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        crate::helpers::run(tickvault().args(["run", "--now", "--config"]).arg(&cfg))
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`apps.sim.password`"),
        "names the key: {}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("not-the-password"),
        "never the secret"
    );
    sim.stop().await;
}

/// A config whose holiday file makes today closed whatever day the tests run (a weekend, or a
/// holiday in the file); returns it and the idle reason the scheduler gives.
pub(crate) fn closed_today(
    sim: &tickvault::sim::SimHandle,
    dir: &std::path::Path,
    extra: &str,
) -> (std::path::PathBuf, &'static str) {
    use chrono::Datelike;
    let holidays = dir.join("holidays.toml");
    let weekend = matches!(
        today().weekday(),
        chrono::Weekday::Sat | chrono::Weekday::Sun
    );
    let mut text = format!("[{}]\n", today().year());
    if !weekend {
        text.push_str(&format!("\"{}\" = \"Test holiday\"\n", today()));
    }
    std::fs::write(&holidays, text).unwrap();
    let cfg = service_config(
        sim,
        dir,
        &format!(
            "[schedule]\nholidays_file = \"{}\"\n{extra}",
            holidays.display()
        ),
    );
    (
        cfg,
        if weekend {
            "weekend"
        } else {
            "holiday: Test holiday"
        },
    )
}

#[actix_rt::test]
async fn the_calendar_driven_service_idles_on_a_closed_day_and_says_until_when() {
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, want) = closed_today(&sim, dir.path(), "");
    let mut child = tickvault()
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // SIGUSR1 before the handler is installed would end the process: wait for the first line.
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("following the trading calendar"), "{first}");
    std::thread::spawn(move || lines.for_each(drop));
    let status_path = dir.path().join("data/status.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        signal(child.id(), "USR1");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && json["actors"].to_string().contains("scheduler")
        {
            break json;
        }
        assert!(Instant::now() < deadline, "no scheduler in status.json");
    };
    let text = status.to_string();
    assert!(text.contains(want), "idle reason {want:?} in {text}");
    assert!(text.contains("\"next_event\":\"login\""), "{text}");
    let stats = get_json(&format!("{}/sim/stats", sim.http_url())).await;
    assert_eq!(
        stats["per_connection"].as_object().map(|c| c.len()),
        Some(0),
        "no socket on a closed day: {stats}"
    );
    signal(child.id(), "TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM ends it cleanly");
}

#[actix_rt::test]
async fn the_service_tells_systemd_ready_status_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, want) = closed_today(&sim, dir.path(), "");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut child = tickvault()
        .args(["run", "--config"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut received: Vec<String> = Vec::new();
    let mut read = |until: &dyn Fn(&[String]) -> bool| {
        let mut buf = [0u8; 4096];
        while !until(&received) {
            assert!(received.len() < 200, "not what was expected: {received:?}");
            let n = socket.recv(&mut buf).expect("a notification within 20 s");
            // One state per line, each line ended by a newline.
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            received.extend(text.lines().map(str::to_string));
        }
        received.clone()
    };
    // Idle by the calendar is healthy: the watchdog is fed (every half period).
    let got = read(&|r| r.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3);
    assert_eq!(got[0], "READY=1", "ready first: {got:?}");
    let status = got
        .iter()
        .find(|m| m.starts_with("STATUS="))
        .expect("a STATUS= line");
    assert!(
        status.contains("sockets 0/0") && status.contains("next login at"),
        "{status}"
    );
    assert!(status.contains(want), "{status}");
    signal(child.id(), "TERM");
    read(&|r| r.iter().any(|m| m == "STOPPING=1"));
    assert!(child.wait().unwrap().success());
}
