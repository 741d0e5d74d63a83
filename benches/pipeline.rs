//! The whole service under the issue's load, end to end: `tickvault run --now` (release build, its
//! own process) against `tickvault sim --rate 2` (another process), 3 sockets × ≈3000 full-mode
//! option instruments × 2 updates/s (≈18k ticks/s) into SQLite.
//!
//! Reports: ticks/s stored, frame-received → row-committed latency (p50/p99/max, from the
//! persister's histogram in `status.json`), the service's CPU and peak RSS (from /proc), how long
//! the SIGTERM drain took, and checks zero loss (rows per token == ticks the simulator sent).
//!
//! `cargo bench --bench pipeline` (`PIPELINE_SECONDS` sets the measured window, default 60).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
mod common;

use common::{Reaped, cpu_seconds, peak_rss_kib, sim_login, start_sim};
use std::time::{Duration, Instant};

use tickvault::storage::{self, StorageUrl, Store};

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill -{sig} {pid}");
}

async fn get_json(url: &str) -> serde_json::Value {
    let mut resp = awc::Client::new().get(url).send().await.expect("GET");
    resp.json().limit(64 << 20).await.expect("JSON")
}

/// The option underlyings to record so that the universe is just under 9000 instruments: the
/// four index chains whole, then single-stock chains in name order while they fit.
async fn universe(url: &str) -> (Vec<String>, usize) {
    let (client, session) = sim_login(url).await;
    let csv = client
        .instruments(&session, Some("NFO"))
        .await
        .expect("instruments");
    let mut per_underlying: HashMap<String, usize> = HashMap::new();
    for line in String::from_utf8(csv).unwrap().lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        if cols.get(10) == Some(&"NFO-OPT") {
            *per_underlying
                .entry(cols[3].trim_matches('"').to_string())
                .or_default() += 1;
        }
    }
    let indices = ["NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY"];
    let mut chosen: Vec<String> = indices.iter().map(|s| s.to_string()).collect();
    let mut total: usize = indices.iter().map(|i| per_underlying[*i]).sum();
    let stocks: BTreeSet<&String> = per_underlying
        .keys()
        .filter(|k| !indices.contains(&k.as_str()))
        .collect();
    for s in stocks {
        if total + per_underlying[s] <= 9_000 {
            total += per_underlying[s];
            chosen.push(s.clone());
        }
    }
    (chosen, total)
}

fn write_config(dir: &Path, url: &str, underlyings: &[String]) -> std::path::PathBuf {
    let ws = url.replace("http://", "ws://");
    let mut text = format!(
        r#"
[log]
filter = "warn"
[paths]
data_dir = "{data}"
state_dir = "{state}"
[storage]
url = "sqlite://{db}"
[kite]
api_root = "{url}"
login_root = "{url}"
ws_root = "{ws}"
[apps.sim]
api_key = "sim_api_key"
user_id = "SIM001"
api_secret = "sim_api_secret"
password = "sim-password"
totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
[universe]
indices = []
equities = []
future_underlyings = []
option_mode = "full"
"#,
        data = dir.join("data").display(),
        state = dir.join("state").display(),
        db = dir.join("ticks.db").display(),
    );
    for u in underlyings {
        text.push_str(&format!(
            "[universe.options.\"{u}\"]\nweeklies = 20\nmonthlies = 12\nstrikes = \"all\"\n"
        ));
    }
    let path = dir.join("tickvault.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a list; this is a benchmark, not a test.
    }
    let seconds: u64 = std::env::var("PIPELINE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let (sim, url) = start_sim(&[]);
    let sim_pid = sim.0.id();
    let dir = tempfile::tempdir().unwrap();
    let system = actix_rt::System::new();
    let (underlyings, planned) = system.block_on(universe(&url));
    let config = write_config(dir.path(), &url, &underlyings);

    let mut service = Reaped(
        Command::new(env!("CARGO_BIN_EXE_tickvault"))
            .args(["run", "--now", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tickvault run starts"),
    );
    let pid = service.0.id();
    let status_path = dir.path().join("data/status.json");

    let measured = system.block_on(async {
        // Wait for all three connections to stream, then skip the subscription snapshots.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let conns = get_json(&format!("{url}/sim/connections")).await;
            let streaming = conns
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["ticks_sent"].as_u64() > Some(3_000))
                .count();
            if streaming == 3 {
                break;
            }
            assert!(Instant::now() < deadline, "never streamed: {conns}");
            if let Ok(Some(exit)) = service.0.try_wait() {
                panic!("tickvault run exited early: {exit}");
            }
            actix_rt::time::sleep(Duration::from_millis(200)).await;
        }
        actix_rt::time::sleep(Duration::from_secs(5)).await;
        let sent0 = get_json(&format!("{url}/sim/stats")).await["ticks_sent"]
            .as_u64()
            .unwrap();
        let (cpu0, sim_cpu0, t0) = (cpu_seconds(pid), cpu_seconds(sim_pid), Instant::now());
        actix_rt::time::sleep(Duration::from_secs(seconds)).await;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = (cpu_seconds(pid) - cpu0) / wall;
        let sim_cpu = (cpu_seconds(sim_pid) - sim_cpu0) / wall;
        let sent = get_json(&format!("{url}/sim/stats")).await["ticks_sent"]
            .as_u64()
            .unwrap()
            - sent0;
        // The status report: the persister's latency histogram.
        let _ = std::fs::remove_file(&status_path);
        signal(pid, "USR1");
        while !status_path.exists() {
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await; // atomically renamed: complete
        let status: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&status_path).unwrap()).unwrap();
        let actors = status["actors"].as_array().unwrap();
        let persister = actors
            .iter()
            .find(|a| a["name"] == "persister")
            .unwrap()
            .clone();
        let subscribed: u64 = actors
            .iter()
            .filter(|a| a["name"].as_str().unwrap().starts_with("socket-"))
            .map(|a| a["subscribed"].as_u64().unwrap())
            .sum();
        let restarts: u64 = actors
            .iter()
            .map(|a| a["restarts"].as_u64().unwrap_or(0))
            .sum();
        (
            sent as f64 / wall,
            cpu,
            sim_cpu,
            peak_rss_kib(pid),
            persister,
            subscribed,
            restarts,
        )
    });
    let (ticks_per_sec, cpu, sim_cpu, rss, persister, subscribed, restarts) = measured;

    signal(pid, "TERM");
    let stopping = Instant::now();
    let exit = service.0.wait().unwrap();
    let drain = stopping.elapsed();
    assert_eq!(exit.code(), Some(0), "tickvault run exit status");

    // Zero loss: every tick the simulator sent is a row.
    let sent_per_token: HashMap<u32, u64> = system.block_on(async {
        get_json(&format!("{url}/sim/stats")).await["per_token"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap()))
            .collect()
    });
    drop(sim);
    let db = StorageUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("ticks.db").display()
    ))
    .unwrap();
    let mut store = Store::open(&db).unwrap();
    let date = tickvault::calendar::ist_date(chrono::Utc::now());
    let rows = storage::rows_per_token(store.conn(), date).unwrap();
    let (sent_total, rows_total): (u64, u64) = (sent_per_token.values().sum(), rows.values().sum());
    let mismatched = sent_per_token
        .iter()
        .filter(|(t, n)| rows.get(t).copied().unwrap_or(0) != **n)
        .count();

    println!(
        "pipeline: {subscribed} full-mode instruments (planned {planned}) on 3 sockets at 2 updates/s, \
         {seconds} s measured"
    );
    println!("  ticks/s sent and stored       {ticks_per_sec:.0}");
    println!(
        "  received -> committed latency p50 {} ms, p99 {} ms, max {} ms (whole run)",
        persister["latency_p50_ms"], persister["latency_p99_ms"], persister["latency_max_ms"]
    );
    println!(
        "  service CPU                   {:.1} % of one core (simulator: {:.1} %)",
        cpu * 100.0,
        sim_cpu * 100.0
    );
    println!(
        "  service peak RSS              {:.1} MiB",
        rss as f64 / 1024.0
    );
    println!(
        "  SIGTERM drain                 {:.2} s, exit 0",
        drain.as_secs_f64()
    );
    println!("  restarts                      {restarts}");
    println!(
        "  zero loss                     {rows_total} rows == {sent_total} sent: {}; {mismatched} tokens differ",
        rows_total == sent_total && mismatched == 0
    );
    assert_eq!(mismatched, 0, "rows per token differ from ticks sent");
    assert_eq!(rows_total, sent_total);
}
