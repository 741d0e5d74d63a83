//! The proof of fidelity: the official Python client (kiteconnect 5.2.2) against the simulator.
//!
//! `tests/run` creates the virtualenv (`target/pyvenv`, or `$TICKVAULT_TEST_PYTHON`).

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::{python, sim_config, spawn_sim_with};

#[actix_rt::test]
async fn the_official_python_client_logs_in_and_streams_full_mode_ticks() {
    let mut config = sim_config();
    config.rate = 2.0;
    let sim = spawn_sim_with(config, None);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/kite_compat.py");
    let tokens = ["256265", "260105", "408065", "738561"];
    let mut cmd = Command::new(python());
    cmd.arg(script)
        .arg(sim.http_url())
        .arg(sim.ws_url())
        .arg("5")
        .args(tokens);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the Python client failed:\n{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(summary["user_id"], "SIM001");
    assert_eq!(
        summary["instruments"],
        sim.state().universe.instruments.len()
    );
    assert!(summary["instruments_nse"].as_u64().unwrap() > 500);
    assert!(summary["nifty_ltp"].as_f64().unwrap() > 20_000.0);
    assert_eq!(summary["errors"], serde_json::json!([]));
    assert_eq!(
        summary["tokens_seen"],
        serde_json::json!([256265, 260105, 408065, 738561])
    );
    // 4 tokens × 2 updates/s × 5 s, less start-up: plenty of full-mode ticks with depth.
    assert!(summary["full_ticks"].as_u64().unwrap() >= 20, "{summary}");
    assert_eq!(summary["depth_levels"], 5);
    assert!(
        summary["index_full_ticks"].as_u64().unwrap() >= 4,
        "index full packets decode too: {summary}"
    );
    let fields: Vec<&str> = summary["full_fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for f in [
        "depth",
        "exchange_timestamp",
        "last_trade_time",
        "oi",
        "ohlc",
        "volume_traded",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    sim.stop().await;
}
