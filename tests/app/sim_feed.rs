//! The simulator's WebSocket feed: limits, subscriptions and modes, heartbeats, and faults.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use tickvault::kite::{PacketKind, parse_message};

use crate::helpers::{
    Received, Ws, get_json, login, post_json, sim_config, spawn_sim, spawn_sim_with,
};

const NIFTY: u32 = 256_265;
const INFY: u32 = 408_065;

/// The simulator's view of its only open connection.
async fn only_connection(sim: &tickvault::sim::SimHandle) -> serde_json::Value {
    let conns = get_json(&format!("{}/sim/connections", sim.http_url())).await;
    assert_eq!(conns.as_array().unwrap().len(), 1, "{conns}");
    conns[0].clone()
}

#[actix_rt::test]
async fn a_bad_token_gets_403_at_the_upgrade_and_a_fourth_connection_429() {
    let sim = spawn_sim();
    assert_eq!(
        Ws::connect(&sim, "sim_api_key", "nonsense").await.err(),
        Some(403)
    );
    let session = login(&sim).await;
    let token = session.access_token.expose_secret().to_string();
    assert_eq!(
        Ws::connect(&sim, "other_key", &token).await.err(),
        Some(403),
        "token of another app"
    );
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Ws::open(&sim, &session).await);
    }
    assert_eq!(
        Ws::connect(&sim, "sim_api_key", &token).await.err(),
        Some(429)
    );
    // Closing one makes room again.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    let reopened = loop {
        match Ws::connect(&sim, "sim_api_key", &token).await {
            Ok(ws) => break ws,
            Err(429) if Instant::now() < deadline => tokio::task::yield_now().await,
            Err(status) => panic!("reconnect refused with {status}"),
        }
    };
    drop(reopened);
    sim.stop().await;
}

#[actix_rt::test]
async fn subscribing_past_3000_instruments_gets_an_error_and_the_extra_is_ignored() {
    let sim = spawn_sim();
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    let tokens: Vec<u32> = sim
        .state()
        .universe
        .instruments
        .iter()
        .take(3_001)
        .map(|i| i.token)
        .collect();
    ws.send(&serde_json::json!({"a": "subscribe", "v": tokens}).to_string())
        .await;
    let (_, texts) = ws.ticks_for(Duration::from_secs(2)).await;
    let error = texts
        .iter()
        .find(|t| t.contains("\"error\""))
        .expect("a text error message");
    let v: serde_json::Value = serde_json::from_str(error).unwrap();
    assert!(
        v["data"]
            .as_str()
            .unwrap()
            .contains("1 instruments ignored"),
        "{v}"
    );
    assert_eq!(only_connection(&sim).await["subscribed"], 3_000);
    sim.stop().await;
}

#[actix_rt::test]
async fn subscribe_mode_and_unsubscribe_change_what_is_streamed() {
    let mut config = sim_config();
    config.rate = 5.0;
    let sim = spawn_sim_with(config, None);
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;

    // Python sends spaces; a bare subscribe streams in quote mode, with a snapshot at once.
    ws.send(&format!(
        "{{\"a\": \"subscribe\", \"v\": [{NIFTY}, {INFY}]}}"
    ))
    .await;
    let (ticks, _) = ws.ticks_for(Duration::from_millis(1_500)).await;
    let kinds: HashSet<(u32, PacketKind)> =
        ticks.iter().map(|t| (t.instrument_token, t.kind)).collect();
    assert_eq!(
        kinds,
        HashSet::from([(NIFTY, PacketKind::IndexQuote), (INFY, PacketKind::Quote)])
    );
    assert!(
        ticks.len() >= 4,
        "a snapshot and updates at 5/s: {}",
        ticks.len()
    );

    ws.send(&format!("{{\"a\":\"mode\",\"v\":[\"full\",[{INFY}]]}}"))
        .await;
    ws.send(&format!("{{\"a\":\"mode\",\"v\":[\"ltp\",[{NIFTY}]]}}"))
        .await;
    // Skip what was in flight before the mode change took effect.
    let (ticks, _) = ws.ticks_for(Duration::from_millis(300)).await;
    let last_infy = ticks
        .iter()
        .rev()
        .find(|t| t.instrument_token == INFY)
        .map(|t| t.kind);
    assert_eq!(
        last_infy,
        Some(PacketKind::Full),
        "the snapshot after `mode` is full"
    );
    let (ticks, _) = ws.ticks_for(Duration::from_secs(1)).await;
    assert!(
        ticks
            .iter()
            .any(|t| t.kind == PacketKind::Full && t.instrument_token == INFY)
    );
    assert!(ticks.iter().all(|t| match t.instrument_token {
        INFY => t.kind == PacketKind::Full,
        NIFTY => t.kind == PacketKind::Ltp,
        other => panic!("unsubscribed token {other} streamed"),
    }));
    let full = ticks.iter().find(|t| t.kind == PacketKind::Full).unwrap();
    assert!(
        full.depth.buy[0].price < full.last_price && full.last_price < full.depth.sell[0].price
    );
    assert!(full.exchange_timestamp > 0 && full.volume_traded > 0);

    ws.send(&format!("{{\"a\":\"unsubscribe\",\"v\":[{INFY}]}}"))
        .await;
    let _ = ws.ticks_for(Duration::from_millis(300)).await;
    let (ticks, _) = ws.ticks_for(Duration::from_secs(1)).await;
    assert!(!ticks.is_empty());
    assert!(
        ticks.iter().all(|t| t.instrument_token == NIFTY),
        "INFY stopped"
    );
    let conn = only_connection(&sim).await;
    assert_eq!(conn["tokens"], serde_json::json!([NIFTY]));
    assert_eq!(conn["modes"][NIFTY.to_string()], "ltp");
    sim.stop().await;
}

#[actix_rt::test]
async fn an_idle_connection_gets_a_heartbeat_at_least_every_second() {
    let sim = spawn_sim();
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    let mut last = Instant::now();
    for _ in 0..3 {
        match ws.next(Duration::from_millis(1_500)).await {
            Received::Binary(b) => assert_eq!(b.len(), 1, "a 1-byte heartbeat"),
            other => panic!("expected a heartbeat, got {other:?}"),
        }
        let gap = last.elapsed();
        assert!(gap <= Duration::from_millis(1_250), "heartbeat gap {gap:?}");
        last = Instant::now();
    }
    sim.stop().await;
}

#[actix_rt::test]
async fn ticks_counted_by_the_simulator_match_what_the_client_received() {
    let mut config = sim_config();
    config.rate = 10.0;
    let sim = spawn_sim_with(config, None);
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    let tokens: Vec<u32> = sim
        .state()
        .universe
        .instruments
        .iter()
        .take(300)
        .map(|i| i.token)
        .collect();
    ws.send(&serde_json::json!({"a": "subscribe", "v": tokens}).to_string())
        .await;
    ws.send(&serde_json::json!({"a": "mode", "v": ["full", tokens]}).to_string())
        .await;
    let (mut ticks, _) = ws.ticks_for(Duration::from_secs(2)).await;
    ws.send(&serde_json::json!({"a": "unsubscribe", "v": tokens}).to_string())
        .await;
    // Everything sent before the unsubscribe arrives before the next heartbeat.
    ws.ticks_until_heartbeat(&mut ticks).await;
    let stats = get_json(&format!("{}/sim/stats", sim.http_url())).await;
    let sent: u64 = stats["per_token"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(sent, ticks.len() as u64);
    assert_eq!(stats["ticks_sent"], ticks.len() as u64);
    assert!(ticks.len() > 300 * 10, "{} ticks", ticks.len());
    for (token, n) in stats["per_token"].as_object().unwrap() {
        let token: u32 = token.parse().unwrap();
        let got = ticks.iter().filter(|t| t.instrument_token == token).count() as u64;
        assert_eq!(got, n.as_u64().unwrap(), "token {token}");
    }
    sim.stop().await;
}

#[actix_rt::test]
async fn drop_closes_without_a_close_frame_and_garbage_is_one_bad_message() {
    let sim = spawn_sim();
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    let id = only_connection(&sim).await["id"].as_u64().unwrap();

    post_json(&format!("{}/sim/connections/{id}/garbage", sim.http_url())).await;
    let bad = loop {
        match ws.next(Duration::from_secs(3)).await {
            Received::Binary(b) if b.len() > 1 => break b,
            Received::Binary(_) => continue,
            other => panic!("expected the garbage message, got {other:?}"),
        }
    };
    assert!(parse_message(&bad).is_err(), "the garbage does not decode");

    post_json(&format!("{}/sim/connections/{id}/drop", sim.http_url())).await;
    loop {
        match ws.next(Duration::from_secs(3)).await {
            Received::Binary(_) => continue,
            Received::Ended => break,
            other => panic!("expected the connection to end without a close frame, got {other:?}"),
        }
    }
    let conns = get_json(&format!("{}/sim/connections", sim.http_url())).await;
    assert_eq!(conns.as_array().unwrap().len(), 0);
    let r = crate::helpers::http()
        .post(format!("{}/sim/connections/{id}/drop", sim.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    sim.stop().await;
}

#[actix_rt::test]
async fn a_stalled_connection_goes_silent_then_resumes() {
    let sim = spawn_sim();
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    let id = only_connection(&sim).await["id"].as_u64().unwrap();
    post_json(&format!(
        "{}/sim/connections/{id}/stall?seconds=2.5",
        sim.http_url()
    ))
    .await;
    let start = Instant::now();
    // At most one heartbeat can already be in flight when the stall begins.
    let mut silent_from = start;
    loop {
        match ws.next(Duration::from_secs(5)).await {
            Received::Binary(_) if start.elapsed() < Duration::from_millis(200) => {
                silent_from = Instant::now()
            }
            Received::Binary(_) => break,
            other => panic!("expected frames to resume, got {other:?}"),
        }
    }
    let silence = silent_from.elapsed();
    assert!(
        silence >= Duration::from_millis(2_200),
        "silent for {silence:?}"
    );
    assert!(
        silence < Duration::from_millis(4_000),
        "resumed after {silence:?}"
    );
    sim.stop().await;
}

#[actix_rt::test]
async fn expired_tokens_refuse_new_sockets_but_open_ones_keep_streaming() {
    let mut config = sim_config();
    config.rate = 5.0;
    let sim = spawn_sim_with(config, None);
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    ws.send(&format!("{{\"a\":\"subscribe\",\"v\":[{NIFTY}]}}"))
        .await;
    post_json(&format!("{}/sim/tokens/expire", sim.http_url())).await;
    let (ticks, _) = ws.ticks_for(Duration::from_secs(1)).await;
    assert!(ticks.len() >= 3, "still streaming: {}", ticks.len());
    let token = session.access_token.expose_secret().to_string();
    assert_eq!(
        Ws::connect(&sim, "sim_api_key", &token).await.err(),
        Some(403)
    );
    sim.stop().await;
}

#[actix_rt::test]
async fn a_client_close_is_answered_with_a_close_frame() {
    let sim = spawn_sim();
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    ws.close().await;
    loop {
        match ws.next(Duration::from_secs(3)).await {
            Received::Binary(_) => continue,
            Received::Close => break,
            other => panic!("expected a close frame back, got {other:?}"),
        }
    }
    sim.stop().await;
}

#[actix_rt::test]
async fn duplicate_tokens_count_toward_the_instrument_limit() {
    let mut config = sim_config();
    config.max_instruments_per_connection = 5;
    let sim = spawn_sim_with(config, None);
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    ws.send(r#"{"a":"subscribe","v":[256265,256265,260105,408065,738561,265]}"#)
        .await;
    let (ticks, texts) = ws.ticks_for(Duration::from_millis(800)).await;
    assert!(
        texts.iter().any(|t| t.contains("1 instruments ignored")),
        "{texts:?}"
    );
    let conn = only_connection(&sim).await;
    assert_eq!(conn["subscribed"], 4, "{conn}");
    let nifty_snapshots = ticks.iter().filter(|t| t.instrument_token == NIFTY).count();
    assert!(nifty_snapshots >= 1);
    assert!(
        !ticks.iter().any(|t| t.instrument_token == 265),
        "the sixth slot was refused"
    );
    sim.stop().await;
}

#[actix_rt::test]
async fn a_stalled_connection_still_obeys_drop() {
    let sim = spawn_sim();
    let session = login(&sim).await;
    let mut ws = Ws::open(&sim, &session).await;
    let id = only_connection(&sim).await["id"].as_u64().unwrap();
    post_json(&format!(
        "{}/sim/connections/{id}/stall?seconds=60",
        sim.http_url()
    ))
    .await;
    post_json(&format!("{}/sim/connections/{id}/drop", sim.http_url())).await;
    let start = Instant::now();
    loop {
        match ws.next(Duration::from_secs(5)).await {
            Received::Binary(_) => continue,
            Received::Ended => break,
            other => panic!("expected the drop to end the stalled connection, got {other:?}"),
        }
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    sim.stop().await;
}
