//! What the benchmarks share: CPU and memory of a process, from /proc; settings from the
//! environment; the trading date. Each bench is its own crate and uses a part of it.
#![allow(dead_code)]

/// CPU seconds (user + system) used so far by process `pid`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("comm")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

/// Peak resident set (`VmHWM`) of `pid`, KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A child process killed when dropped (so a failed benchmark leaves nothing running).
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the release `tickvault sim --rate 2` (plus `extra` arguments) on a free port and
/// returns it with its HTTP root, read from its banner.
pub fn start_sim(extra: &[&str]) -> (Reaped, String) {
    use std::io::{BufRead, BufReader};
    let mut sim = std::process::Command::new(env!("CARGO_BIN_EXE_tickvault"))
        .args(["sim", "--listen", "127.0.0.1:0", "--rate", "2"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("tickvault sim starts");
    let banner = BufReader::new(sim.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    (Reaped(sim), url)
}

/// Logs in to the simulator at `url` with its default account.
pub async fn sim_login(
    url: &str,
) -> (
    tickvault::kite::client::KiteClient,
    tickvault::kite::client::Session,
) {
    use secrecy::SecretString;
    use tickvault::kite::client::{Credentials, KiteClient};
    let client = KiteClient::new(url, url, std::time::Duration::from_secs(10));
    let creds = Credentials {
        api_key: "sim_api_key".into(),
        api_secret: SecretString::from("sim_api_secret"),
        user_id: "SIM001".into(),
        password: SecretString::from("sim-password"),
        totp_secret: SecretString::from("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let session = client.login(&creds, now).await.expect("login");
    (client, session)
}

/// The number in the environment variable `name`, or `default`.
pub fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The storage and Redis benchmarks' trading date.
pub fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default()
}
