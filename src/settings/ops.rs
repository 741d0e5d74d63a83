//! `[http]` (the status and metrics endpoint) and `[notify]` (alert mails): how an operator
//! watches the service (docs/operations.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;
use serde::Deserialize;

use super::SettingsError;
use super::secret::{self, SecretSource};

/// `[http]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    enabled: bool,
    listen: String,
    token: Option<SecretString>,
    token_file: Option<PathBuf>,
}

/// `[http]`, validated.
#[derive(Clone)]
pub struct HttpSettings {
    /// Serve `/healthz`, `/readyz`, `/status` and `/metrics` while `tickvault run` runs.
    pub enabled: bool,
    /// Where (`127.0.0.1:9187` by default; port 0: any free port, logged and in the status).
    pub listen: SocketAddr,
    /// The bearer token every request but `/healthz` and `/readyz` must carry (`http.token`,
    /// `http.token_file` or the systemd credential `http.token`); required when `listen` is
    /// not a loopback address.
    pub token: Option<SecretString>,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl RawHttp {
    /// Checks every key; errors name it. A non-loopback `listen` without a token is refused:
    /// the endpoint shows the day's plan and the service's state to whoever reaches it.
    pub fn validate(self, credentials_dir: Option<&Path>) -> Result<HttpSettings, SettingsError> {
        let listen = self.listen.parse().map_err(|_| {
            SettingsError::new(
                "http.listen",
                format!(
                    "expected IP:PORT (e.g. 127.0.0.1:9187), found `{}`",
                    self.listen
                ),
            )
        })?;
        let source = SecretSource {
            inline: self.token,
            file: self.token_file,
        };
        let token = secret::resolve("http.token", source, credentials_dir)?;
        {
            use secrecy::ExposeSecret;
            if token
                .as_ref()
                .is_some_and(|t| t.expose_secret().trim().is_empty())
            {
                return Err(SettingsError::new(
                    "http.token_file",
                    "the token is empty (any request would carry it)",
                ));
            }
        }
        let listen: SocketAddr = listen;
        if self.enabled && token.is_none() && !listen.ip().is_loopback() {
            return Err(SettingsError::new(
                "http.token_file",
                format!(
                    "http.listen {listen} is not a loopback address: set a bearer token \
                     (http.token_file, mode 0600) or listen on 127.0.0.1"
                ),
            ));
        }
        Ok(HttpSettings {
            enabled: self.enabled,
            listen,
            token,
        })
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on loopback.
    None,
}

/// `[notify]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    enabled: bool,
    smtp_host: String,
    smtp_port: u16,
    security: String,
    username: String,
    password: Option<SecretString>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    from: String,
    to: Vec<String>,
    timeout_secs: u64,
    min_interval_mins: u64,
    max_per_hour: u32,
    check_secs: u64,
    restart_storm: u32,
    storm_window_mins: u64,
    silent_secs: u64,
    disk_free_min_gib: f64,
}

/// `[notify]`, validated.
#[derive(Clone)]
pub struct NotifySettings {
    /// Send alert mails.
    pub enabled: bool,
    /// The SMTP server.
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: u16,
    /// STARTTLS (default), implicit TLS, or none (loopback only).
    pub security: SmtpSecurity,
    /// SMTP login (empty: none).
    pub username: String,
    /// SMTP password (`notify.password`, `notify.password_file` or the systemd credential
    /// `notify.password`).
    pub password: Option<SecretString>,
    /// PEM certificates trusted for the server besides the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The sender.
    pub from: Mailbox,
    /// The recipients (one mail, every one of them).
    pub to: Vec<Mailbox>,
    /// Longest time one mail may take.
    pub timeout: Duration,
    /// The same alert (kind and subject) at most once per this.
    pub min_interval: Duration,
    /// All alerts together at most this many per hour (the end-of-day summary always goes).
    pub max_per_hour: u32,
    /// How often the status board is looked at.
    pub check: Duration,
    /// Restarts of one socket within `storm_window` that make a restart storm.
    pub restart_storm: u32,
    /// The restart-storm window.
    pub storm_window: Duration,
    /// A socket with no tick for this long during market hours is silent.
    pub silent: Duration,
    /// Alert when the data directory's file system has less free space than this (bytes).
    pub disk_free_min_bytes: u64,
}

impl std::fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifySettings")
            .field("enabled", &self.enabled)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

/// Reads a PEM file of trusted certificates for the setting `key`.
pub fn read_ca_pem(key: &str, path: &Path) -> Result<Vec<u8>, SettingsError> {
    let pem = std::fs::read(path)
        .map_err(|e| SettingsError::new(key, format!("cannot read {}: {e}", path.display())))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(SettingsError::new(
            key,
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(pem)
}

impl RawNotify {
    /// Checks every key; errors name it. With `enabled = false` only the types are checked.
    pub fn validate(
        self,
        creds: Option<&Path>,
        warnings: &mut Vec<super::SettingsWarning>,
    ) -> Result<NotifySettings, SettingsError> {
        let bad = |key: &str, problem: String| SettingsError::new(format!("notify.{key}"), problem);
        let security = match self.security.as_str() {
            "starttls" => SmtpSecurity::Starttls,
            "tls" => SmtpSecurity::Tls,
            "none" => SmtpSecurity::None,
            other => {
                return Err(bad(
                    "security",
                    format!("expected `starttls`, `tls` or `none`, found `{other}`"),
                ));
            }
        };
        let from: Mailbox = self.from.parse().map_err(|e| {
            bad(
                "from",
                format!("`{}` is not a mail address: {e}", self.from),
            )
        })?;
        let to = self
            .to
            .iter()
            .map(|t| {
                t.parse::<Mailbox>()
                    .map_err(|e| bad("to", format!("`{t}` is not a mail address: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let unused = if !self.enabled {
            Some("notify.enabled is false")
        } else if self.username.is_empty() {
            Some("notify.username is empty: no SMTP login")
        } else {
            None
        };
        let password = secret::resolve_if_used(
            "notify.password",
            SecretSource {
                inline: self.password,
                file: self.password_file,
            },
            creds,
            unused,
            warnings,
        )?;
        let ca_pem = self
            .ca_file
            .as_deref()
            .map(|p| read_ca_pem("notify.ca_file", p))
            .transpose()?;
        if self.enabled {
            if self.smtp_host.trim().is_empty() {
                return Err(bad("smtp_host", "must be set when notify.enabled".into()));
            }
            if to.is_empty() {
                return Err(bad("to", "name at least one recipient".into()));
            }
            if security == SmtpSecurity::None
                && !matches!(self.smtp_host.as_str(), "127.0.0.1" | "::1" | "localhost")
            {
                return Err(bad(
                    "security",
                    "`none` sends the password and the mail in the clear; only for a relay on loopback".into(),
                ));
            }
            if !self.username.is_empty() && password.is_none() {
                return Err(secret::missing("notify.password"));
            }
        }
        for (key, value) in [
            ("timeout_secs", self.timeout_secs),
            ("min_interval_mins", self.min_interval_mins),
            ("max_per_hour", u64::from(self.max_per_hour)),
            ("check_secs", self.check_secs),
            ("restart_storm", u64::from(self.restart_storm)),
            ("storm_window_mins", self.storm_window_mins),
            ("silent_secs", self.silent_secs),
        ] {
            if value == 0 {
                return Err(bad(key, "must be at least 1".into()));
            }
        }
        if !(self.disk_free_min_gib >= 0.0 && self.disk_free_min_gib.is_finite()) {
            return Err(bad(
                "disk_free_min_gib",
                "must be 0 (no check) or more".into(),
            ));
        }
        Ok(NotifySettings {
            enabled: self.enabled,
            smtp_host: self.smtp_host,
            smtp_port: self.smtp_port,
            security,
            username: self.username,
            password,
            ca_pem,
            from,
            to,
            timeout: Duration::from_secs(self.timeout_secs),
            min_interval: Duration::from_secs(self.min_interval_mins * 60),
            max_per_hour: self.max_per_hour,
            check: Duration::from_secs(self.check_secs),
            restart_storm: self.restart_storm,
            storm_window: Duration::from_secs(self.storm_window_mins * 60),
            silent: Duration::from_secs(self.silent_secs),
            disk_free_min_bytes: (self.disk_free_min_gib * 1024.0 * 1024.0 * 1024.0) as u64,
        })
    }
}
