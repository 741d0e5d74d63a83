//! `[sim]` settings: what `tickvault sim` serves and how it behaves.
//!
//! The simulator's credentials are its own test fixtures, not secrets: they are printed at
//! start-up so that a client can be pointed at them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveTime;
use serde::Deserialize;

use super::SettingsError;
use crate::kite::Mode;

/// `[sim]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    /// Address to listen on (`--listen` overrides).
    pub listen: String,
    /// Seed of the universe and the market model (`--seed` overrides).
    pub seed: u64,
    /// Updates per instrument per second (`--rate` overrides).
    pub rate: f64,
    /// Mode of a token after a bare `subscribe`.
    pub default_mode: String,
    /// Time of day (IST) the simulated clock starts at.
    pub start_time: String,
    /// WebSocket connections allowed per API key.
    pub max_connections_per_key: usize,
    /// Instruments allowed per connection.
    pub max_instruments_per_connection: usize,
    /// A heartbeat goes out when nothing else was sent for this long.
    pub heartbeat_ms: u64,
    /// How long a request token can be exchanged.
    pub request_token_ttl_secs: u64,
    /// Requests per second per API key on `/quote*`.
    pub quote_requests_per_sec: u32,
    /// Requests per second per API key on every other endpoint.
    pub api_requests_per_sec: u32,
    /// Most packets in one binary message.
    pub max_packets_per_message: usize,
    /// API apps, by name.
    #[serde(default)]
    pub apps: BTreeMap<String, SimApp>,
    /// Accounts that can log in, by name.
    #[serde(default)]
    pub users: BTreeMap<String, SimUser>,
}

/// A Kite Connect app the simulator knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimApp {
    /// Its API key.
    pub api_key: String,
    /// Its API secret.
    pub api_secret: String,
    /// Where `/connect/finish` redirects with the request token.
    pub redirect_url: String,
}

/// A Zerodha account the simulator knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimUser {
    /// User id (`SIM001`).
    pub user_id: String,
    /// Password.
    pub password: String,
    /// Base32 TOTP seed.
    pub totp_secret: String,
    /// Full name.
    pub user_name: String,
    /// E-mail address.
    pub email: String,
}

/// [`SimSettings`] checked and converted.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Universe and market seed.
    pub seed: u64,
    /// Updates per instrument per second.
    pub rate: f64,
    /// Mode after a bare subscribe.
    pub default_mode: Mode,
    /// Simulated clock's start time (IST).
    pub start_time: NaiveTime,
    /// Connections per API key.
    pub max_connections_per_key: usize,
    /// Instruments per connection.
    pub max_instruments_per_connection: usize,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Request token lifetime.
    pub request_token_ttl: Duration,
    /// `/quote*` requests per second per key.
    pub quote_requests_per_sec: u32,
    /// Other requests per second per key.
    pub api_requests_per_sec: u32,
    /// Packets per binary message at most.
    pub max_packets_per_message: usize,
    /// Apps.
    pub apps: Vec<SimApp>,
    /// Users.
    pub users: Vec<SimUser>,
}

impl SimSettings {
    /// Validates the section; errors name the key.
    pub fn validate(&self) -> Result<SimConfig, SettingsError> {
        let listen = self.listen.parse().map_err(|_| {
            SettingsError::new("sim.listen", format!("`{}` is not HOST:PORT", self.listen))
        })?;
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 1000.0) {
            return Err(SettingsError::new(
                "sim.rate",
                "must be above 0 and at most 1000",
            ));
        }
        let default_mode = Mode::parse(&self.default_mode)
            .ok_or_else(|| SettingsError::new("sim.default_mode", "must be ltp, quote or full"))?;
        let start_time = NaiveTime::parse_from_str(&self.start_time, "%H:%M:%S")
            .map_err(|_| SettingsError::new("sim.start_time", "must be HH:MM:SS"))?;
        for (key, value) in [
            ("max_connections_per_key", self.max_connections_per_key),
            (
                "max_instruments_per_connection",
                self.max_instruments_per_connection,
            ),
            ("max_packets_per_message", self.max_packets_per_message),
        ] {
            if value == 0 {
                return Err(SettingsError::new(
                    format!("sim.{key}"),
                    "must be at least 1",
                ));
            }
        }
        if self.max_packets_per_message > crate::kite::codec::MAX_PACKETS_PER_MESSAGE {
            return Err(SettingsError::new(
                "sim.max_packets_per_message",
                "must be at most 65535",
            ));
        }
        if !(1..=60_000).contains(&self.heartbeat_ms) {
            return Err(SettingsError::new(
                "sim.heartbeat_ms",
                "must be from 1 to 60000",
            ));
        }
        for (key, value) in [
            ("quote_requests_per_sec", self.quote_requests_per_sec),
            ("api_requests_per_sec", self.api_requests_per_sec),
        ] {
            if value == 0 {
                return Err(SettingsError::new(
                    format!("sim.{key}"),
                    "must be at least 1",
                ));
            }
        }
        for (name, user) in &self.users {
            if crate::kite::login::totp(&user.totp_secret).is_err() {
                return Err(SettingsError::new(
                    format!("sim.users.{name}.totp_secret"),
                    "is not a base32 TOTP secret",
                ));
            }
        }
        Ok(SimConfig {
            listen,
            seed: self.seed,
            rate: self.rate,
            default_mode,
            start_time,
            max_connections_per_key: self.max_connections_per_key,
            max_instruments_per_connection: self.max_instruments_per_connection,
            heartbeat: Duration::from_millis(self.heartbeat_ms),
            request_token_ttl: Duration::from_secs(self.request_token_ttl_secs),
            quote_requests_per_sec: self.quote_requests_per_sec,
            api_requests_per_sec: self.api_requests_per_sec,
            max_packets_per_message: self.max_packets_per_message,
            apps: self.apps.values().cloned().collect(),
            users: self.users.values().cloned().collect(),
        })
    }
}
