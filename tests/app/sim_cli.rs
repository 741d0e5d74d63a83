//! `tickvault sim` as a process, and its `--record` capture.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use tickvault::capture::{CaptureReader, Next, RecordKind};
use tickvault::kite::parse_message;

use crate::helpers::{Ws, get_json, login, sim_config, spawn_sim_with, tickvault};

#[actix_rt::test]
async fn the_sim_command_prints_where_it_listens_and_stops_cleanly_on_sigterm() {
    let mut child = tickvault()
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--date",
            "2026-11-20",
            "--seed",
            "5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next().unwrap().unwrap();
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {banner:?}"))
        .to_string();
    let credentials: Vec<String> = lines.by_ref().take(2).map(Result::unwrap).collect();
    assert!(
        credentials[0].contains("api_key=sim_api_key")
            && credentials[0].contains("api_secret=sim_api_secret")
    );
    assert!(
        credentials[1].contains("user_id=SIM001")
            && credentials[1].contains("totp_secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    );
    let stats = get_json(&format!("{url}/sim/stats")).await;
    assert_eq!(stats["date"], "2026-11-20");
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

#[actix_rt::test]
async fn record_writes_every_message_sent_to_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.kcap");
    let mut config = sim_config();
    config.rate = 10.0;
    let sim = spawn_sim_with(config, Some(path.clone()));
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    ws.send(r#"{"a":"subscribe","v":[256265,408065,738561]}"#)
        .await;
    let (mut ticks, _) = ws.ticks_for(Duration::from_millis(800)).await;
    ws.send(r#"{"a":"unsubscribe","v":[256265,408065,738561]}"#)
        .await;
    ws.ticks_until_heartbeat(&mut ticks).await;
    ws.send(r#"{"a":"quit","v":[]}"#).await; // a text error comes back, and is recorded too
    let _ = ws.next(Duration::from_secs(3)).await;
    sim.stop().await;

    let mut reader = CaptureReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut payload = Vec::new();
    let (mut recorded_ticks, mut texts, mut heartbeats) = (0, 0, 0);
    while let Next::Record(h) = reader.next_into(&mut payload).unwrap() {
        match h.kind {
            RecordKind::Text => texts += 1,
            RecordKind::Binary if payload.len() == 1 => heartbeats += 1,
            RecordKind::Binary => {
                recorded_ticks += parse_message(&payload).unwrap().packets().len()
            }
        }
    }
    assert_eq!(
        recorded_ticks,
        ticks.len(),
        "every tick sent is in the recording"
    );
    assert!(
        heartbeats >= 1 && texts >= 1,
        "heartbeats {heartbeats}, texts {texts}"
    );
}
