//! `[redis]`: the live view (the publisher) and the stream between an ingest and a store
//! process (`run --role`). Key layout: `docs/redis.md`.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::SettingsError;
use super::secret::{self, SecretSource};

/// `[redis]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    enabled: bool,
    url: String,
    password: Option<SecretString>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    key_prefix: String,
    stream: String,
    stream_maxlen: u64,
    ttl_secs: u64,
    history_zsets: bool,
    buffer_ticks: usize,
    batch_ticks: usize,
    backoff_max_ms: u64,
    lag_warn_ratio: f64,
    group: String,
    consumer: String,
    claim_idle_ms: u64,
    read_count: usize,
    block_ms: u64,
}

/// `[redis]`, validated.
#[derive(Clone)]
pub struct RedisSettings {
    /// Publish ticks (roles `all` and `ingest`).
    pub enabled: bool,
    /// `redis://HOST:PORT/DB` (no password in it).
    pub url: String,
    /// The server's password (`redis.password`, `redis.password_file` or the systemd
    /// credential `redis.password`).
    pub password: Option<SecretString>,
    /// PEM certificates trusted for a `rediss://` server besides the public roots (a private
    /// CA or a self-signed server), read from `redis.ca_file` at start-up.
    pub ca_pem: Option<Vec<u8>>,
    /// Put before every key tickvault writes (several recorders can share one server).
    pub key_prefix: String,
    /// The stream every tick is added to.
    pub stream: String,
    /// `XADD … MAXLEN ~ stream_maxlen`.
    pub stream_maxlen: u64,
    /// TTL of the key views (`latest:…`, `symbols:…`, the history zsets), seconds.
    pub ttl_secs: u64,
    /// Also keep `ticks:{symbol}:{date}` and `depth:{symbol}:{date}` zsets.
    pub history_zsets: bool,
    /// Ticks held while Redis is slow or down; beyond it the oldest are dropped and counted.
    pub buffer_ticks: usize,
    /// Ticks per pipelined batch.
    pub batch_ticks: usize,
    /// Longest wait between reconnect attempts, milliseconds.
    pub backoff_max_ms: u64,
    /// Warn when a consumer group has more than this fraction of `stream_maxlen` unread.
    pub lag_warn_ratio: f64,
    /// The store role's consumer group.
    pub group: String,
    /// This store process's consumer name (empty: `<hostname>-<pid>`).
    pub consumer: String,
    /// Entries pending this long with a consumer are claimed by another (milliseconds).
    pub claim_idle_ms: u64,
    /// Entries per `XREADGROUP`.
    pub read_count: usize,
    /// `XREADGROUP … BLOCK`, milliseconds.
    pub block_ms: u64,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("enabled", &self.enabled)
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("key_prefix", &self.key_prefix)
            .field("stream", &self.stream)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl RedisSettings {
    /// The key `name` with the prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.key_prefix)
    }

    /// The stream's key.
    pub fn stream_key(&self) -> String {
        self.key(&self.stream)
    }

    /// The hash of `date`'s instrument snapshot (token → the instrument as JSON), the union of
    /// the day's plans: how a store process learns the symbols the ingest process resolved.
    pub fn instruments_key(&self, date: chrono::NaiveDate) -> String {
        self.key(&format!("instruments:{date}"))
    }

    /// Bumped at each change of `date`'s snapshot (stores re-read it when it moves).
    pub fn instruments_version_key(&self, date: chrono::NaiveDate) -> String {
        self.key(&format!("instruments_version:{date}"))
    }

    /// Connection info for the redis crate, the password included (never logged).
    pub fn connection_info(&self) -> Result<redis::ConnectionInfo, redis::RedisError> {
        use redis::IntoConnectionInfo;
        let info = self.url.as_str().into_connection_info()?;
        let mut redis_settings = info.redis_settings().clone();
        if let Some(p) = &self.password {
            redis_settings = redis_settings.set_password(p.expose_secret());
        }
        Ok(info.set_redis_settings(redis_settings))
    }

    /// A client for the server: TLS for `rediss://` (the public roots, plus `ca_file`'s
    /// certificates when set), the password from the settings.
    pub fn client(&self) -> Result<redis::Client, redis::RedisError> {
        let info = self.connection_info()?;
        match &self.ca_pem {
            Some(pem) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            None => redis::Client::open(info),
        }
    }

    /// This process's consumer name.
    pub fn consumer_name(&self) -> String {
        if !self.consumer.is_empty() {
            return self.consumer.clone();
        }
        format!("{}-{}", super::host_name(), std::process::id())
    }
}

impl RawRedis {
    /// Checks every key; errors name it.
    pub fn validate(self, creds: Option<&Path>) -> Result<RedisSettings, SettingsError> {
        let bad = |key: &str, problem: &str| SettingsError::new(format!("redis.{key}"), problem);
        if !(self.url.starts_with("redis://") || self.url.starts_with("rediss://")) {
            return Err(bad("url", "expected redis://HOST:PORT/DB"));
        }
        if self.url.contains('@') {
            return Err(bad(
                "url",
                "put the password in `redis.password` or `redis.password_file`, not in the URL",
            ));
        }
        {
            use redis::IntoConnectionInfo;
            if let Err(e) = self.url.as_str().into_connection_info() {
                return Err(bad("url", &e.to_string()));
            }
        }
        let ca_pem = match &self.ca_file {
            None => None,
            Some(path) => {
                if !self.url.starts_with("rediss://") {
                    return Err(bad("ca_file", "is only used with a rediss:// url"));
                }
                Some(super::ops::read_ca_pem("redis.ca_file", path)?)
            }
        };
        let password = secret::resolve(
            "redis.password",
            SecretSource {
                inline: self.password,
                file: self.password_file,
            },
            creds,
        )?;
        for (key, value) in [("stream", &self.stream), ("group", &self.group)] {
            if value.trim().is_empty() {
                return Err(bad(key, "must not be empty"));
            }
        }
        for (key, value) in [
            ("stream_maxlen", self.stream_maxlen),
            ("ttl_secs", self.ttl_secs),
            ("buffer_ticks", self.buffer_ticks as u64),
            ("batch_ticks", self.batch_ticks as u64),
            ("read_count", self.read_count as u64),
            ("backoff_max_ms", self.backoff_max_ms),
        ] {
            if value == 0 {
                return Err(bad(key, "must be at least 1"));
            }
        }
        if !(self.lag_warn_ratio > 0.0 && self.lag_warn_ratio < 1.0) {
            return Err(bad("lag_warn_ratio", "must be between 0 and 1"));
        }
        Ok(RedisSettings {
            enabled: self.enabled,
            url: self.url,
            password,
            ca_pem,
            key_prefix: self.key_prefix,
            stream: self.stream,
            stream_maxlen: self.stream_maxlen,
            ttl_secs: self.ttl_secs,
            history_zsets: self.history_zsets,
            buffer_ticks: self.buffer_ticks,
            batch_ticks: self.batch_ticks,
            backoff_max_ms: self.backoff_max_ms,
            lag_warn_ratio: self.lag_warn_ratio,
            group: self.group,
            consumer: self.consumer,
            claim_idle_ms: self.claim_idle_ms,
            read_count: self.read_count,
            block_ms: self.block_ms,
        })
    }
}
