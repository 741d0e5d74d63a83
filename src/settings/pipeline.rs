//! Settings of the recording pipeline: paths, Kite endpoints, storage, journal, sockets and the
//! universe to record. Each section validates itself and names the key on error.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::SettingsError;
use crate::kite::Mode;
use crate::storage::StorageUrl;
use crate::storage::eod::Dedupe;

pub(super) fn mode(key: &str, value: &str) -> Result<Mode, SettingsError> {
    Mode::parse(value)
        .ok_or_else(|| SettingsError::new(key, format!("`{value}` is not ltp, quote or full")))
}

pub(super) fn at_least(key: &str, value: u64, min: u64) -> Result<(), SettingsError> {
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
    /// MySQL/MariaDB TLS: `disabled`, `preferred`, `required`, `verify_ca` or
    /// `verify_identity` (put into `url` at start-up, for every connection).
    #[serde(default)]
    ssl_mode: Option<String>,
    /// The CA certificate (PEM) the server's must chain to (`verify_ca`, `verify_identity`).
    #[serde(default)]
    ssl_ca: Option<std::path::PathBuf>,
}

/// MySQL's TLS modes, as Diesel's MySQL backend (the client library) names them.
const SSL_MODES: [&str; 5] = [
    "disabled",
    "preferred",
    "required",
    "verify_ca",
    "verify_identity",
];

/// The value of `key` among a URL's query parameters, decoded.
fn url_parameter(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == key).then_some(v))
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
    /// that has none; a URL that already holds one and a password set besides is an error. With
    /// a `sqlite://` URL a password set anyway is a warning (a leftover from a MySQL setup).
    pub fn with_password(
        mut self,
        creds: Option<&std::path::Path>,
        warnings: &mut Vec<super::SettingsWarning>,
    ) -> Result<Self, SettingsError> {
        use secrecy::ExposeSecret;
        let unused = (!self.url.starts_with("mysql://")).then_some("storage.url is not mysql://");
        let password = super::secret::resolve_if_used(
            "storage.password",
            super::secret::SecretSource {
                inline: self.password.take(),
                file: self.password_file.take(),
            },
            creds,
            unused,
            warnings,
        )?;
        let Some(password) = password else {
            return Ok(self);
        };
        let Some(rest) = self.url.strip_prefix("mysql://") else {
            return Ok(self);
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

    /// Puts `storage.ssl_mode` and `storage.ssl_ca` into a `mysql://` URL (Diesel's MySQL
    /// backend reads them from there, for every connection: the store's, the bulk loader's,
    /// the export's), after checking them: a mode it does not know, a verifying mode without
    /// a CA, a CA file that cannot be read, or a setting the URL already has are errors naming
    /// the key. A CA given in the URL (`?ssl_ca=…`) is checked the same way. With a `sqlite://`
    /// URL they are warnings (nothing uses them).
    pub fn with_tls(
        mut self,
        warnings: &mut Vec<super::SettingsWarning>,
    ) -> Result<Self, SettingsError> {
        if !self.url.starts_with("mysql://") {
            for (key, set) in [
                ("storage.ssl_mode", self.ssl_mode.is_some()),
                ("storage.ssl_ca", self.ssl_ca.is_some()),
            ] {
                if set {
                    warnings.push(super::SettingsWarning::new(
                        key,
                        "is set but not used (storage.url is not mysql://); remove it",
                    ));
                }
            }
            return Ok(self);
        }
        let mut parameters = Vec::new();
        if let Some(mode) = self.ssl_mode.take() {
            let mode = mode.trim().to_ascii_lowercase();
            if !SSL_MODES.contains(&mode.as_str()) {
                return Err(SettingsError::new(
                    "storage.ssl_mode",
                    format!("`{mode}` is not one of {}", SSL_MODES.join(", ")),
                ));
            }
            if url_parameter(&self.url, "ssl_mode").is_some() {
                return Err(SettingsError::new(
                    "storage.ssl_mode",
                    "storage.url has ?ssl_mode= already; keep one",
                ));
            }
            parameters.push(format!("ssl_mode={mode}"));
        }
        if let Some(ca) = self.ssl_ca.take() {
            if url_parameter(&self.url, "ssl_ca").is_some() {
                return Err(SettingsError::new(
                    "storage.ssl_ca",
                    "storage.url has ?ssl_ca= already; keep one",
                ));
            }
            let path = ca.to_string_lossy().into_owned();
            check_ca("storage.ssl_ca", &path)?;
            let encoded =
                percent_encoding::utf8_percent_encode(&path, percent_encoding::NON_ALPHANUMERIC);
            parameters.push(format!("ssl_ca={encoded}"));
        } else if let Some(path) = url_parameter(&self.url, "ssl_ca") {
            check_ca("storage.url", &path)?;
        }
        let mode = parameters
            .iter()
            .find_map(|p| p.strip_prefix("ssl_mode=").map(str::to_string))
            .or_else(|| url_parameter(&self.url, "ssl_mode"))
            .map(|m| m.to_ascii_lowercase());
        let has_ca = parameters.iter().any(|p| p.starts_with("ssl_ca="))
            || url_parameter(&self.url, "ssl_ca").is_some();
        if matches!(mode.as_deref(), Some("verify_ca" | "verify_identity")) && !has_ca {
            return Err(SettingsError::new(
                "storage.ssl_ca",
                "ssl_mode verify_ca and verify_identity need the CA certificate the server's \
                 chains to (a PEM file)",
            ));
        }
        if !parameters.is_empty() {
            let joiner = if self.url.contains('?') { '&' } else { '?' };
            self.url = format!("{}{joiner}{}", self.url, parameters.join("&"));
        }
        Ok(self)
    }

    /// The parsed URL.
    pub fn parsed_url(&self) -> Result<StorageUrl, SettingsError> {
        StorageUrl::parse(&self.url).map_err(|e| SettingsError::new("storage.url", e.to_string()))
    }
}

/// A CA file named by `key` must be a readable PEM certificate.
fn check_ca(key: &str, path: &str) -> Result<(), SettingsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::new(key, format!("cannot read the CA file {path}: {e}")))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(SettingsError::new(
            key,
            format!("{path} holds no PEM certificate"),
        ));
    }
    Ok(())
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
    use crate::settings::universe::*;

    fn list(text: &str) -> Result<Vec<String>, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, text).unwrap();
        read_equity_list(&path.display().to_string()).map(|l| l.symbols)
    }

    #[test]
    fn equities_files_are_read_as_nse_publishes_them_or_as_plain_lists() {
        // NSE's constituent CSV: a byte-order mark, a quoted name with a comma, CRLF.
        let nse = "\u{feff}Company Name,Industry,Symbol,Series,ISIN Code\r\n\
                   \"Mahindra & Mahindra, Ltd.\",Automobile,M&M,EQ,INE101A01026\r\n\
                   GE Vernova T&D India Ltd.,Capital Goods,GVT&D,EQ,INE200A01026\r\n";
        assert_eq!(list(nse).unwrap(), ["M&M", "GVT&D"]);
        // The Symbol column wherever it is.
        assert_eq!(
            list("ISIN,symbol\nINE002A01018,RELIANCE\n").unwrap(),
            ["RELIANCE"]
        );
        // A plain list: a symbol a line (or the first column), comments and blank lines.
        assert_eq!(
            list("# mine\nRELIANCE # the largest\n\ninfy, infosys\n").unwrap(),
            ["RELIANCE", "INFY"]
        );
        let e = list("# nothing\n\n").unwrap_err();
        assert_eq!(e.key, "universe.equities_file");
        let e = list("Company Name,Symbol\n").unwrap_err();
        assert_eq!(
            e.key, "universe.equities_file",
            "a header alone lists nothing"
        );
    }

    fn stock_options(toml: &str) -> Result<StockOptions, SettingsError> {
        let raw: RawStockOptions = toml::from_str(toml).unwrap();
        raw.validate()
    }

    #[test]
    fn stock_options_take_a_list_or_all() {
        let s =
            stock_options("underlyings = [\"reliance\", \"M&M\"]\nmonthlies = 1\nstrikes = \"10\"")
                .unwrap();
        assert_eq!(
            s.underlyings,
            StockSet::List(vec!["RELIANCE".into(), "M&M".into()])
        );
        assert_eq!(s.strikes, StrikeWindow::AroundAtm(10));
        let all = stock_options("underlyings = \"all\"\nmonthlies = 2\nstrikes = \"5%\"").unwrap();
        assert_eq!(all.underlyings, StockSet::All);
        let e =
            stock_options("underlyings = \"some\"\nmonthlies = 1\nstrikes = \"10\"").unwrap_err();
        assert_eq!(e.key, "universe.stock_options.underlyings");
        let e = stock_options("underlyings = []\nmonthlies = 1\nstrikes = \"10\"").unwrap_err();
        assert_eq!(e.key, "universe.stock_options.underlyings");
        let e =
            stock_options("underlyings = \"all\"\nmonthlies = 0\nstrikes = \"10\"").unwrap_err();
        assert_eq!(e.key, "universe.stock_options.monthlies");
    }

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
