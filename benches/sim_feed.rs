//! The simulator under the load: 3 connections × 3000 full-mode instruments at 2
//! updates/s each (≈18k ticks/s). Runs `tickvault sim` (the release binary) as its own process,
//! streams for a while, and reports ticks/s received and the simulator's CPU use from /proc.
//!
//! `cargo bench --bench sim_feed` (set `SIM_FEED_SECONDS` to change the 30 s window).

mod common;

use common::{cpu_seconds, peak_rss_kib, sim_login, start_sim};
use std::time::{Duration, Instant};

use awc::ws::{Frame, Message};
use futures_util::{SinkExt, StreamExt};
use secrecy::ExposeSecret;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a list; this is a benchmark, not a test.
    }
    let seconds: u64 = std::env::var("SIM_FEED_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let (sim, url) = start_sim(&["--date", "2026-11-20"]);
    let pid = sim.0.id();

    let result = actix_rt::System::new().block_on(async move {
        let (client, session) = sim_login(&url).await;
        let csv = client
            .instruments(&session, Some("NFO"))
            .await
            .expect("instruments");
        let tokens: Vec<u32> = String::from_utf8(csv)
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next()?.parse().ok())
            .take(9_000)
            .collect();
        assert_eq!(tokens.len(), 9_000);
        let ws_url = format!(
            "{}/ws?api_key=sim_api_key&access_token={}",
            url.replace("http://", "ws://"),
            session.access_token.expose_secret()
        );
        let mut readers = Vec::new();
        for chunk in tokens.chunks(3_000) {
            let (_, mut ws) = awc::Client::new()
                .ws(ws_url.as_str())
                .max_frame_size(16 << 20)
                .connect()
                .await
                .expect("ws");
            let list = serde_json::to_string(chunk).unwrap();
            ws.send(Message::Text(
                format!("{{\"a\":\"subscribe\",\"v\":{list}}}").into(),
            ))
            .await
            .unwrap();
            ws.send(Message::Text(
                format!("{{\"a\":\"mode\",\"v\":[\"full\",{list}]}}").into(),
            ))
            .await
            .unwrap();
            readers.push(actix_rt::spawn(async move {
                let mut ticks = 0u64;
                let mut counted = 0u64;
                let warmup = Instant::now() + Duration::from_secs(3);
                let end = warmup + Duration::from_secs(seconds);
                while let Ok(Some(Ok(frame))) =
                    tokio::time::timeout(end.saturating_duration_since(Instant::now()), ws.next())
                        .await
                {
                    if let Frame::Binary(b) = frame {
                        let n = tickvault::kite::parse_message(&b)
                            .map(|m| m.packets().len() as u64)
                            .unwrap_or(0);
                        ticks += n;
                        if Instant::now() >= warmup {
                            counted += n;
                        }
                    }
                    if Instant::now() >= end {
                        break;
                    }
                }
                (ticks, counted)
            }));
        }
        // Measure the steady state, after the snapshots.
        actix_rt::time::sleep(Duration::from_secs(3)).await;
        let cpu0 = cpu_seconds(pid);
        let t0 = Instant::now();
        let mut counted = 0;
        for r in readers {
            counted += r.await.unwrap().1;
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu0;
        (counted as f64 / wall, cpu / wall, peak_rss_kib(pid))
    });
    drop(sim); // killed and reaped
    let (ticks_per_sec, cores, rss) = result;
    println!(
        "sim_feed: 3 connections x 3000 full-mode instruments at 2 updates/s for {seconds} s: \
         {ticks_per_sec:.0} ticks/s received, simulator CPU {:.1} % of one core, peak RSS {:.1} MiB",
        cores * 100.0,
        rss as f64 / 1024.0
    );
}
