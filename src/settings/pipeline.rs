//! Settings of the recording pipeline: paths, Kite endpoints, storage, journal, sockets and the
//! universe to record. Each section validates itself and names the key on error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::SettingsError;
use crate::kite::Mode;
use crate::storage::StorageUrl;
use crate::storage::eod::Dedupe;

fn mode(key: &str, value: &str) -> Result<Mode, SettingsError> {
    Mode::parse(value)
        .ok_or_else(|| SettingsError::new(key, format!("`{value}` is not ltp, quote or full")))
}

fn at_least(key: &str, value: u64, min: u64) -> Result<(), SettingsError> {
    if value < min {
        return Err(SettingsError::new(key, format!("must be at least {min}")));
    }
    Ok(())
}

/// `[paths]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSettings {
    /// Recorded data: journals, SQLite files, status.json, instrument snapshots.
    pub data_dir: PathBuf,
    /// State to keep between runs: cached tokens.
    pub state_dir: PathBuf,
}

/// `[kite]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KiteSettings {
    /// REST API root.
    pub api_root: String,
    /// Web login root.
    pub login_root: String,
    /// WebSocket root.
    pub ws_root: String,
    /// HTTP timeout, milliseconds.
    pub timeout_ms: u64,
}

impl KiteSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        for (key, url, schemes) in [
            ("kite.api_root", &self.api_root, ["http://", "https://"]),
            ("kite.login_root", &self.login_root, ["http://", "https://"]),
            ("kite.ws_root", &self.ws_root, ["ws://", "wss://"]),
        ] {
            if !schemes.iter().any(|s| url.starts_with(s)) {
                return Err(SettingsError::new(
                    key,
                    format!("`{url}` must start with {} or {}", schemes[0], schemes[1]),
                ));
            }
        }
        at_least("kite.timeout_ms", self.timeout_ms, 100)
    }

    /// The HTTP timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// `[storage]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// `sqlite://PATH` or `mysql://USER:PASSWORD@HOST:PORT/DATABASE` (may hold a password:
    /// `Debug` hides it).
    pub url: String,
    /// Commit when this many rows are waiting…
    pub batch_rows: usize,
    /// …or this many milliseconds passed, whichever first.
    pub batch_ms: u64,
    /// The MySQL password kept out of the URL (`storage.password`, `storage.password_file`
    /// or the systemd credential `storage.password`); put into `url` at start-up.
    #[serde(default)]
    password: Option<secrecy::SecretString>,
    #[serde(default)]
    password_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for StorageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageSettings")
            .field("url", &crate::storage::redact(&self.url))
            .field("batch_rows", &self.batch_rows)
            .field("batch_ms", &self.batch_ms)
            .finish()
    }
}

impl StorageSettings {
    /// Resolves `storage.password` (inline, file or systemd credential) into a `mysql://` URL
    /// that has none; a URL that already holds one and a password set besides is an error.
    pub fn with_password(mut self, creds: Option<&std::path::Path>) -> Result<Self, SettingsError> {
        use secrecy::ExposeSecret;
        let password = super::secret::resolve(
            "storage.password",
            super::secret::SecretSource {
                inline: self.password.take(),
                file: self.password_file.take(),
            },
            creds,
        )?;
        let Some(password) = password else {
            return Ok(self);
        };
        let Some(rest) = self.url.strip_prefix("mysql://") else {
            return Err(SettingsError::new(
                "storage.password",
                "is only used with a mysql:// url",
            ));
        };
        let (user, host) = rest.split_once('@').ok_or_else(|| {
            SettingsError::new(
                "storage.url",
                "name the user (mysql://USER@HOST:PORT/DATABASE) when the password is set apart",
            )
        })?;
        if user.contains(':') {
            return Err(SettingsError::new(
                "storage.password",
                "the url already holds a password; keep one",
            ));
        }
        let encoded = percent_encoding::utf8_percent_encode(
            password.expose_secret(),
            percent_encoding::NON_ALPHANUMERIC,
        );
        self.url = format!("mysql://{user}:{encoded}@{host}");
        Ok(self)
    }

    /// The parsed URL.
    pub fn parsed_url(&self) -> Result<StorageUrl, SettingsError> {
        StorageUrl::parse(&self.url).map_err(|e| SettingsError::new("storage.url", e.to_string()))
    }
}

/// `[journal]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalSettings {
    /// The persister is told how far the journals reach this often, milliseconds (frames reach
    /// the OS as they are appended).
    pub flush_ms: u64,
    /// And forced to disk (`fdatasync`) this often, milliseconds.
    pub fsync_ms: u64,
    /// After a successful end of day, journals of dates more than this many days before it are
    /// deleted (only dates whose own end of day is done); 0 keeps every journal.
    pub retention_days: u32,
}

/// `[eod]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEodSettings {
    /// `exact`, `per_second` or `none`.
    pub dedupe: String,
    /// Instruments with fewer rows than this are listed in the report.
    pub min_rows: u64,
}

/// `[eod]`: the end-of-day move to the master table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EodSettings {
    /// What the dedupe removes.
    pub dedupe: Dedupe,
    /// Instruments with fewer rows than this are listed in the report.
    pub min_rows: u64,
}

impl RawEodSettings {
    /// Checks the dedupe mode.
    pub fn validate(&self) -> Result<EodSettings, SettingsError> {
        let dedupe = Dedupe::parse(&self.dedupe).ok_or_else(|| {
            SettingsError::new(
                "eod.dedupe",
                format!(
                    "expected `exact`, `per_second` or `none`, found `{}`",
                    self.dedupe
                ),
            )
        })?;
        Ok(EodSettings {
            dedupe,
            min_rows: self.min_rows,
        })
    }
}

/// `[sockets]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketSettings {
    /// WebSocket connections per API app (Kite allows 3).
    pub per_app: usize,
    /// Instruments per connection (Kite allows 3000).
    pub max_instruments: usize,
    /// No frame (heartbeats included) for this long means the socket is dead, milliseconds.
    pub stall_ms: u64,
    /// First reconnect delay, milliseconds; doubles (with jitter) up to `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    /// Longest reconnect delay, milliseconds.
    pub backoff_max_ms: u64,
    /// Delay after HTTP 429 at the upgrade (too many connections), milliseconds.
    pub rate_limited_backoff_ms: u64,
    /// Tokens per subscribe message.
    pub subscribe_batch: usize,
    /// Handshake timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// More than this many restarts of one socket…
    pub restart_limit: u32,
    /// …within this many seconds escalates: the process exits for systemd to restart it.
    pub restart_period_secs: u64,
}

impl SocketSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=3).contains(&self.per_app) {
            return Err(SettingsError::new(
                "sockets.per_app",
                "must be 1, 2 or 3 (Kite's limit is 3)",
            ));
        }
        if !(1..=3000).contains(&self.max_instruments) {
            return Err(SettingsError::new(
                "sockets.max_instruments",
                "must be from 1 to 3000 (Kite's limit)",
            ));
        }
        at_least("sockets.stall_ms", self.stall_ms, 100)?;
        at_least("sockets.backoff_initial_ms", self.backoff_initial_ms, 1)?;
        at_least(
            "sockets.backoff_max_ms",
            self.backoff_max_ms,
            self.backoff_initial_ms,
        )?;
        at_least("sockets.subscribe_batch", self.subscribe_batch as u64, 1)?;
        at_least("sockets.connect_timeout_ms", self.connect_timeout_ms, 100)?;
        at_least("sockets.restart_period_secs", self.restart_period_secs, 1)
    }
}

/// How many strikes of an option chain to record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StrikeWindow {
    /// Every strike in the dump.
    All,
    /// This many strikes each side of the one nearest to spot.
    AroundAtm(u32),
    /// Strikes within this percentage of spot.
    Percent(f64),
}

impl StrikeWindow {
    /// Parses `all`, `N` (strikes each side of ATM) or `X%`.
    pub fn parse(s: &str) -> Option<StrikeWindow> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Some(StrikeWindow::All);
        }
        if let Some(p) = s.strip_suffix('%') {
            return p
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| *p > 0.0)
                .map(StrikeWindow::Percent);
        }
        s.parse().ok().map(StrikeWindow::AroundAtm)
    }
}

/// `[universe.options.<underlying>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptionChain {
    /// The underlying's quote key, for spot (`NSE:NIFTY 50`); needed unless `strikes = "all"`.
    #[serde(default)]
    pub spot: Option<String>,
    /// Nearest weekly expiries to record.
    pub weeklies: usize,
    /// Nearest monthly expiries to record.
    pub monthlies: usize,
    /// `all`, `N` strikes each side of ATM, or `X%` of spot.
    pub strikes: String,
}

/// An option chain to record.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionChain {
    /// Underlying name as in the dump's `name` column (`NIFTY`).
    pub underlying: String,
    /// Spot quote key (`None` when every strike is recorded).
    pub spot: Option<String>,
    /// Weekly expiries.
    pub weeklies: usize,
    /// Monthly expiries.
    pub monthlies: usize,
    /// Strike window.
    pub strikes: StrikeWindow,
}

/// `[universe]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUniverse {
    /// Indices by `EXCHANGE:TRADINGSYMBOL`.
    pub indices: Vec<String>,
    /// Their mode.
    pub index_mode: String,
    /// NSE equity symbols.
    pub equities: Vec<String>,
    /// A file of more symbols (one a line, or the first column of a CSV); empty for none.
    pub equities_file: String,
    /// Their mode.
    pub equity_mode: String,
    /// Underlyings whose futures to record (`NIFTY`, `RELIANCE`).
    pub future_underlyings: Vec<String>,
    /// Nearest expiries of each.
    pub future_months: usize,
    /// Their mode.
    pub future_mode: String,
    /// Mode of options.
    pub option_mode: String,
    /// Option chains by underlying.
    #[serde(default)]
    pub options: BTreeMap<String, RawOptionChain>,
}

/// The universe to record, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Universe {
    /// Indices.
    pub indices: Vec<String>,
    /// Index mode.
    pub index_mode: Mode,
    /// Equities (file contents included).
    pub equities: Vec<String>,
    /// Equity mode.
    pub equity_mode: Mode,
    /// Future underlyings.
    pub future_underlyings: Vec<String>,
    /// Expiries each.
    pub future_months: usize,
    /// Future mode.
    pub future_mode: Mode,
    /// Option chains.
    pub options: Vec<OptionChain>,
    /// Option mode.
    pub option_mode: Mode,
}

impl RawUniverse {
    /// Checks modes and windows, reads the equities file.
    pub fn validate(&self) -> Result<Universe, SettingsError> {
        let mut equities = self.equities.clone();
        if !self.equities_file.is_empty() {
            let text = std::fs::read_to_string(&self.equities_file).map_err(|e| {
                SettingsError::new(
                    "universe.equities_file",
                    format!("cannot read {}: {e}", self.equities_file),
                )
            })?;
            for line in text.lines() {
                let symbol = line
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_matches('"');
                if !symbol.is_empty()
                    && !symbol.eq_ignore_ascii_case("symbol")
                    && !symbol.starts_with('#')
                {
                    equities.push(symbol.to_string());
                }
            }
        }
        let mut options = Vec::new();
        for (name, chain) in &self.options {
            let key = format!("universe.options.{name}");
            let strikes = StrikeWindow::parse(&chain.strikes).ok_or_else(|| {
                SettingsError::new(
                    format!("{key}.strikes"),
                    format!(
                        "`{}` is not `all`, a number of strikes, or a percentage like `5%`",
                        chain.strikes
                    ),
                )
            })?;
            if strikes != StrikeWindow::All && chain.spot.is_none() {
                return Err(SettingsError::new(
                    format!("{key}.spot"),
                    format!(
                        "is missing: a strike window of `{}` needs the underlying's quote key, e.g. `NSE:NIFTY 50`",
                        chain.strikes
                    ),
                ));
            }
            options.push(OptionChain {
                underlying: name.to_ascii_uppercase(),
                spot: chain.spot.clone(),
                weeklies: chain.weeklies,
                monthlies: chain.monthlies,
                strikes,
            });
        }
        Ok(Universe {
            indices: self.indices.clone(),
            index_mode: mode("universe.index_mode", &self.index_mode)?,
            equities,
            equity_mode: mode("universe.equity_mode", &self.equity_mode)?,
            future_underlyings: self
                .future_underlyings
                .iter()
                .map(|u| u.to_ascii_uppercase())
                .collect(),
            future_months: self.future_months,
            future_mode: mode("universe.future_mode", &self.future_mode)?,
            options,
            option_mode: mode("universe.option_mode", &self.option_mode)?,
        })
    }
}

/// Checks the sections that need it.
pub fn validate(
    kite: &KiteSettings,
    storage: &StorageSettings,
    sockets: &SocketSettings,
) -> Result<(), SettingsError> {
    kite.validate()?;
    storage.parsed_url()?;
    at_least("storage.batch_rows", storage.batch_rows as u64, 1)?;
    at_least("storage.batch_ms", storage.batch_ms, 1)?;
    sockets.validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strike_windows_parse() {
        assert_eq!(StrikeWindow::parse("all"), Some(StrikeWindow::All));
        assert_eq!(StrikeWindow::parse("20"), Some(StrikeWindow::AroundAtm(20)));
        assert_eq!(
            StrikeWindow::parse("2.5%"),
            Some(StrikeWindow::Percent(2.5))
        );
        assert_eq!(StrikeWindow::parse("-1"), None);
        assert_eq!(StrikeWindow::parse("0%"), None);
    }
}
