//! `tickvault demo [--duration 60s]`: the whole system in about a minute, offline. Starts the
//! simulator in-process on a free port, runs the service against it (`config/demo.toml`, SQLite
//! at `./data/demo.db`), shows a live line per socket, drops `socket-2` once at mid-run through
//! the simulator's fault API to show it restart alone, then stops, drains and prints a summary.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use chrono::Utc;
use serde_json::Value;

use super::{Failure, day_failure, grouped};
use crate::calendar::ist_date;
use crate::settings::Settings;
use crate::sim::{self, SimOptions};
use crate::status::Entries;
use crate::storage::{self, Store};

/// The demo's settings preset.
pub const DEMO_TOML: &str = include_str!("../../config/demo.toml");

/// Arguments of `tickvault demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How long to record: `60s`, `2m`, or seconds.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
}

/// Parses `90`, `90s` or `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.strip_suffix('m') {
        Some(n) => (n, 60.0),
        None => (s.strip_suffix('s').unwrap_or(s), 1.0),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 60s or 2m"))?;
    if !(value > 0.0 && value * unit <= 86_400.0) {
        return Err(format!("`{s}` must be above 0 and at most a day"));
    }
    Ok(Duration::from_secs_f64(value * unit))
}

fn db_path(settings: &Settings) -> Option<std::path::PathBuf> {
    match settings.storage.parsed_url().ok()? {
        storage::StorageUrl::Sqlite(p) => Some(p),
        storage::StorageUrl::Mysql(_) => None,
    }
}

/// Runs the command.
pub fn run(args: &DemoArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    let mut settings = settings.clone();
    let db = db_path(&settings)
        .ok_or_else(|| Failure::Other(anyhow!("the demo needs a sqlite:// storage URL")))?;
    // One demo per directory (a second one would delete the first one's files).
    let lock_dir = db
        .parent()
        .map_or_else(|| std::path::PathBuf::from("."), |p| p.to_path_buf());
    let _lock = crate::lock::lock(&[&lock_dir], "demo")?;
    // A fresh start: the demo's own directory and database only.
    let _ = std::fs::remove_dir_all(&settings.paths.data_dir);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let date = ist_date(Utc::now());
    let duration = args.duration;
    actix_rt::System::new().block_on(async move {
        let mut sim_config = settings.sim.clone();
        sim_config.listen = "127.0.0.1:0".parse().map_err(|e| Failure::Other(anyhow!("{e}")))?;
        let sim = sim::start(SimOptions { config: sim_config, date, record: None }).map_err(Failure::Other)?;
        settings.kite.api_root = sim.http_url();
        settings.kite.login_root = sim.http_url();
        settings.kite.ws_root = sim.ws_url();
        println!("tickvault demo: Kite simulator on {} (trading date {date})", sim.http_url());
        println!("recording for {} s", duration.as_secs());
        let app = crate::service::control::start_day(&settings, date, crate::clock::system(), Default::default())
            .await
            .map_err(day_failure)?;
        let (board, status_path) = (app.board.clone(), app.status_path());
        crate::signals::on_sigusr1(move || board.dump(&status_path));
        println!("resolved {} instruments onto {} sockets", app.plan.instruments.len(), app.plan.sockets.len());
        println!("journal in {}, rows in {}", settings.paths.data_dir.join("journal").display(), db.display());
        let sockets: Vec<String> = app.plan.sockets.iter().map(|s| s.name()).collect();
        println!("{}", live_header(&sockets));
        let started = Instant::now();
        let mut dropped = false;
        let mut last: BTreeMap<String, u64> = BTreeMap::new();
        while started.elapsed() < duration {
            actix_rt::time::sleep(Duration::from_secs(1)).await;
            let mut cells = Vec::new();
            for (s, figures) in app.board.snapshot().sockets() {
                let ticks = figures.ticks;
                let rate = ticks.saturating_sub(*last.get(&s.name).unwrap_or(&0));
                last.insert(s.name.clone(), ticks);
                cells.push(live_cell(rate, ticks, s.state.as_str(), s.restarts));
            }
            println!("{}", live_line(started.elapsed().as_secs(), &cells));
            let _ = std::io::stdout().flush();
            if !dropped && started.elapsed() >= duration / 2 && app.plan.sockets.len() >= 2 {
                dropped = true;
                match drop_socket(&sim.http_url(), app.plan.sockets[1].tokens[0].0).await {
                    Ok(id) => println!("  >>> dropped socket-2 (simulator connection {id}) through the fault API: watch it restart alone"),
                    Err(e) => println!("  >>> could not drop socket-2: {e}"),
                }
            }
        }
        let rows = app.shutdown().await.map_err(|e| Failure::Unavailable(anyhow!("{e}")))?;
        let stats = fetch_json(&format!("{}/sim/stats", sim.http_url())).await.map_err(Failure::Other)?;
        summary(&app, &settings, &db, rows, &stats).map_err(Failure::Other)?;
        sim.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Width of one socket's cell in the live lines: ` 12,345   1,234,567 running ↻1` (up to
/// 99,999 ticks/s and 9,999,999 ticks, three sockets fit 100 columns).
const CELL: usize = 28;

/// The live lines' header: a column per socket.
fn live_header(sockets: &[String]) -> String {
    let mut line = format!("{:>5}", "time");
    for name in sockets {
        line += &format!(" │ {:<w$}", format!("{name}: /s, ticks"), w = CELL);
    }
    line.trim_end().to_string()
}

/// One socket's cell: its rate, total, state (and restarts, when any).
fn live_cell(rate: u64, ticks: u64, state: &str, restarts: u32) -> String {
    let restarts = if restarts > 0 {
        format!("↻{restarts}")
    } else {
        String::new()
    };
    format!(
        "{:>6} {:>9} {state:<8}{restarts}",
        grouped(rate),
        grouped(ticks)
    )
}

/// A live line: seconds since the start, then each socket's cell (3 sockets fit 100 columns).
fn live_line(secs: u64, cells: &[String]) -> String {
    let mut line = format!("{secs:>4}s");
    for cell in cells {
        line += &format!(" │ {cell:<w$}", w = CELL);
    }
    line.trim_end().to_string()
}

async fn fetch_json(url: &str) -> anyhow::Result<Value> {
    let mut r = awc::Client::new()
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow!("GET {url}: {e}"))?;
    r.json()
        .limit(64 << 20)
        .await
        .map_err(|e| anyhow!("GET {url}: {e}"))
}

/// Drops the simulator connection that carries `token` (socket-2's first instrument).
async fn drop_socket(base: &str, token: u32) -> anyhow::Result<u64> {
    let conns = fetch_json(&format!("{base}/sim/connections")).await?;
    let id = conns
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| {
            c["tokens"]
                .as_array()
                .is_some_and(|t| t.iter().any(|v| v.as_u64() == Some(u64::from(token))))
        })
        .and_then(|c| c["id"].as_u64())
        .context("no simulator connection carries socket-2's instruments")?;
    let r = awc::Client::new()
        .post(format!("{base}/sim/connections/{id}/drop"))
        .send()
        .await
        .map_err(|e| anyhow!("{e}"))?;
    anyhow::ensure!(
        r.status().is_success(),
        "the fault API answered {}",
        r.status()
    );
    Ok(id)
}

fn summary(
    app: &crate::pipeline::App,
    settings: &Settings,
    db: &Path,
    rows: u64,
    stats: &Value,
) -> anyhow::Result<()> {
    let url = settings.storage.parsed_url().map_err(|e| anyhow!("{e}"))?;
    let mut store = Store::open(&url)?;
    let per_token = storage::rows_per_token(store.conn(), app.date)?;
    let stored: u64 = per_token.values().sum();
    let gaps = storage::gaps(store.conn(), app.date)?;
    let sent = stats["ticks_sent"].as_u64().unwrap_or(0);
    println!("\nsummary");
    let snapshot = app.board.snapshot();
    for (s, figures) in snapshot.sockets() {
        let causes: Vec<String> = figures
            .reconnects_by_cause
            .iter()
            .map(|(cause, n)| format!("{cause} {n}"))
            .collect();
        println!(
            "  {:<9} {:>11} ticks received, {} restart(s){}",
            s.name,
            grouped(figures.ticks),
            s.restarts,
            if causes.is_empty() {
                String::new()
            } else {
                format!(" ({})", causes.join(", "))
            }
        );
    }
    println!("  ticks sent by the simulator: {}", grouped(sent));
    println!(
        "  rows stored: {} (committed this run: {}){}",
        grouped(stored),
        grouped(rows),
        if sent == stored {
            " — nothing lost"
        } else {
            ""
        }
    );
    println!("  gap ledger: {} interval(s)", gaps.len());
    for g in &gaps {
        println!(
            "    socket-{} {} for {} ms ({} instruments)",
            g.socket,
            g.cause,
            (g.end_us - g.start_us) / 1000,
            g.instruments
        );
    }
    println!("  data:    {} (SQLite)", db.display());
    println!(
        "  journal: {} (raw frames)",
        app.data_dir.join("journal").display()
    );
    println!("  status:  {}", app.status_path().display());
    println!("\ntry:");
    let db = db.display();
    println!("  sqlite3 {db} \"SELECT socket, count(*) FROM daily_ticks GROUP BY 1\"");
    println!("  sqlite3 {db} \"SELECT tradingsymbol AS s, count(*) AS n FROM daily_ticks_v \\");
    println!("    GROUP BY s ORDER BY n DESC LIMIT 5\"");
    println!("  sqlite3 {db} \"SELECT socket, cause, (end_us - start_us) / 1000 AS ms FROM gaps\"");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_lines_fit_a_hundred_columns() {
        let sockets: Vec<String> = (1..=3).map(|n| format!("socket-{n}")).collect();
        let cell = live_cell(99_999, 9_999_999, "starting", 12);
        let line = live_line(3_600, &[cell.clone(), cell.clone(), cell]);
        for l in [live_header(&sockets), line] {
            assert!(
                l.chars().count() <= 100,
                "{} columns: {l}",
                l.chars().count()
            );
        }
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(12), "12");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
