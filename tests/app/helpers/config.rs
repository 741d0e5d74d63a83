//! Settings for the service against a simulator, and what a journal holds.

use chrono::NaiveDate;
use secrecy::SecretString;

use tickvault::settings::AppSettings;
use tickvault::settings::{Settings, Sources};
use tickvault::sim::SimHandle;

/// Today in IST: the service records "today", so the simulator serves today's universe.
pub fn today() -> NaiveDate {
    tickvault::calendar::ist_date(chrono::Utc::now())
}

/// Settings for the service, pointed at `sim`, with everything under `dir`: the simulator's
/// default app and a small universe (2 indices, 10 stocks, the NIFTY future) over 3 sockets.
pub fn app_settings(sim: &SimHandle, dir: &std::path::Path) -> Settings {
    let mut s = Settings::load(&Sources::default()).expect("defaults load");
    s.paths.data_dir = dir.join("data");
    s.paths.state_dir = dir.join("state");
    s.storage.url = format!("sqlite://{}", dir.join("ticks.db").display());
    s.kite.api_root = sim.http_url();
    s.kite.login_root = sim.http_url();
    s.kite.ws_root = sim.ws_url();
    s.journal.flush_ms = 50;
    s.apps = vec![AppSettings {
        name: "sim".into(),
        api_key: "sim_api_key".into(),
        api_secret: SecretString::from("sim_api_secret"),
        user_id: "SIM001".into(),
        password: SecretString::from("sim-password"),
        totp_secret: SecretString::from("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    }];
    s.universe.indices = vec!["NSE:NIFTY 50".into(), "NSE:NIFTY BANK".into()];
    s.universe.equities = [
        "RELIANCE",
        "HDFCBANK",
        "ICICIBANK",
        "INFY",
        "TCS",
        "BHARTIARTL",
        "SBIN",
        "ITC",
        "LT",
        "HINDUNILVR",
    ]
    .map(String::from)
    .to_vec();
    s.universe.future_underlyings = vec!["NIFTY".into()];
    s.universe.future_months = 1;
    s.universe.options = Vec::new();
    s
}

/// Ticks in every journal file under `dir` (0 when it does not exist yet; a torn final record of
/// a file being written is not counted).
pub fn journal_ticks(dir: &std::path::Path) -> u64 {
    use tickvault::capture::{CaptureReader, Next, RecordKind};
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("kcap") {
            continue;
        }
        let Ok(mut r) = CaptureReader::new(std::fs::File::open(&path).unwrap()) else {
            continue;
        };
        let mut buf = Vec::new();
        while let Ok(Next::Record(h)) = r.next_into(&mut buf) {
            if h.kind == RecordKind::Binary && buf.len() > 1 {
                total += tickvault::kite::parse_message(&buf)
                    .map(|m| m.packets().len() as u64)
                    .unwrap_or(0);
            }
        }
    }
    total
}

/// A settings file for `tickvault run` against `sim`, everything under `dir` (SQLite at
/// `dir/ticks.db`), the small test universe; `extra` is appended (more tables, or keys of the
/// last one).
pub fn service_config(
    sim: &tickvault::sim::SimHandle,
    dir: &std::path::Path,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join("tickvault.toml");
    let text = format!(
        r#"
[paths]
data_dir = "{data}"
state_dir = "{state}"
[storage]
url = "sqlite://{db}"
[kite]
api_root = "{http}"
login_root = "{http}"
ws_root = "{ws}"
[journal]
flush_ms = 50
[apps.sim]
api_key = "sim_api_key"
user_id = "SIM001"
api_secret = "sim_api_secret"
password = "sim-password"
totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
[universe]
indices = ["NSE:NIFTY 50", "NSE:NIFTY BANK"]
equities = ["RELIANCE", "INFY", "TCS", "SBIN"]
future_underlyings = ["NIFTY"]
future_months = 1
{endpoint}
{extra}
"#,
        data = dir.join("data").display(),
        state = dir.join("state").display(),
        db = dir.join("ticks.db").display(),
        http = sim.http_url(),
        ws = sim.ws_url(),
        // Tests run side by side: the endpoint on a free port unless the test chooses one.
        endpoint = if extra.contains("[http]") {
            ""
        } else {
            "[http]\nlisten = \"127.0.0.1:0\""
        },
    );
    std::fs::write(&path, text).unwrap();
    path
}
