//! The simulator in-process, its default credentials, a Kite client logged in to it, and
//! JSON over HTTP.

use std::time::Duration;

use chrono::NaiveDate;
use secrecy::SecretString;

use tickvault::kite::client::{Credentials, KiteClient, Session};
use tickvault::settings::{Settings, Sources};
use tickvault::sim::{self, SimConfig, SimHandle, SimOptions};

use super::today;

/// The simulator's settings from the compiled-in defaults, on a free port.
pub fn sim_config() -> SimConfig {
    let mut config = Settings::load(&Sources::default())
        .expect("defaults load")
        .sim;
    config.listen = "127.0.0.1:0".parse().unwrap();
    config
}

/// A trading date whose expiries the tests know (a Friday; the November monthly moved to Monday
/// the 23rd because Tuesday the 24th is a holiday).
pub fn test_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// Starts a simulator with `config` (call inside `#[actix_rt::test]`).
pub fn spawn_sim_with(config: SimConfig, record: Option<std::path::PathBuf>) -> SimHandle {
    sim::start(SimOptions {
        config,
        date: test_date(),
        record,
    })
    .expect("the simulator starts")
}

/// Starts a simulator of today's universe (what the service records), at `rate` updates/s when
/// given.
pub fn spawn_sim_today(rate: Option<f64>) -> SimHandle {
    let mut config = sim_config();
    if let Some(rate) = rate {
        config.rate = rate;
    }
    sim::start(SimOptions {
        config,
        date: today(),
        record: None,
    })
    .expect("the simulator starts")
}

/// Starts a simulator with the default settings.
pub fn spawn_sim() -> SimHandle {
    spawn_sim_with(sim_config(), None)
}

/// The simulator's default app and user.
pub fn default_credentials() -> Credentials {
    Credentials {
        api_key: "sim_api_key".into(),
        api_secret: SecretString::from("sim_api_secret"),
        user_id: "SIM001".into(),
        password: SecretString::from("sim-password"),
        totp_secret: SecretString::from("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    }
}

/// A client for the simulator.
pub fn kite_client(sim: &SimHandle) -> KiteClient {
    KiteClient::new(&sim.http_url(), &sim.http_url(), Duration::from_secs(10))
}

/// Unix time now, for TOTP codes.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Logs in with the default credentials.
pub async fn login(sim: &SimHandle) -> Session {
    kite_client(sim)
        .login(&default_credentials(), unix_now())
        .await
        .expect("login succeeds")
}

/// A plain HTTP client for the simulator's `/sim` API and raw requests.
pub fn http() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(10))
        .finish()
}

/// `GET` a JSON document.
pub async fn get_json(url: &str) -> serde_json::Value {
    let mut r = http().get(url).send().await.expect("request");
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    r.json().limit(64 << 20).await.expect("json")
}

/// `POST` and return the JSON answer.
pub async fn post_json(url: &str) -> serde_json::Value {
    let mut r = http().post(url).send().await.expect("request");
    assert!(r.status().is_success(), "POST {url}: {}", r.status());
    r.json().await.expect("json")
}
