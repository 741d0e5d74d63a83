//! The typed, layered settings tree.
//!
//! Layers, later ones winning: `config/default.toml` (compiled in, so the binary works from any
//! directory), the file given with `--config FILE`, then environment variables
//! `TICKVAULT__SECTION__KEY` (e.g. `TICKVAULT__LOG__FILTER=debug`,
//! `TICKVAULT__APPS__MAIN__API_KEY=…`). Unknown keys are errors, so a typo never passes silently.
//!
//! [`Settings::load`] takes the environment and the credentials directory as arguments: nothing
//! here reads the process environment, so tests can load settings side by side.

mod apps;
mod error;
pub mod export;
pub mod ops;
pub mod pipeline;
pub mod redis;
mod role;
pub mod schedule;
pub mod secret;
pub mod show;
pub mod sim;
pub mod universe;

pub use apps::AppSettings;
pub use error::{SettingsError, SettingsWarning};
pub use role::Role;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

/// The compiled-in first layer.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Prefix of environment variables that override settings.
pub const ENV_PREFIX: &str = "TICKVAULT";

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(try_from = "String")]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Text,
    /// One JSON object per line, for journald and log shippers.
    Json,
}

impl TryFrom<String> for LogFormat {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("expected `text` or `json`, found `{other}`")),
        }
    }
}

/// `[log]`: what is logged and how.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Default filter in `tracing-subscriber` EnvFilter syntax; `RUST_LOG` overrides it.
    pub filter: String,
    /// `text` or `json`; `--log-format` overrides it.
    pub format: LogFormat,
}

/// The whole settings tree, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[log]`.
    pub log: LogSettings,
    /// `[apps.<name>]`, in name order.
    pub apps: Vec<AppSettings>,
    /// `[sim]`: the Kite simulator.
    pub sim: sim::SimConfig,
    /// `[paths]`.
    pub paths: pipeline::PathSettings,
    /// `[kite]`.
    pub kite: pipeline::KiteSettings,
    /// `[storage]`.
    pub storage: pipeline::StorageSettings,
    /// `[journal]`.
    pub journal: pipeline::JournalSettings,
    /// `[sockets]`.
    pub sockets: pipeline::SocketSettings,
    /// `[universe]`.
    pub universe: universe::Universe,
    /// `[eod]`.
    pub eod: pipeline::EodSettings,
    /// `[export]`.
    pub export: export::ExportSettings,
    /// `[redis]`.
    pub redis: self::redis::RedisSettings,
    /// `[schedule]`.
    pub schedule: schedule::ScheduleSettings,
    /// `[http]`.
    pub http: ops::HttpSettings,
    /// `[notify]`.
    pub notify: ops::NotifySettings,
    /// Settings accepted with a warning (logged once logging is up).
    pub warnings: Vec<SettingsWarning>,
}

/// Inputs to [`Settings::load`] besides the compiled-in defaults.
#[derive(Debug, Default, Clone)]
pub struct Sources<'a> {
    /// A compiled-in preset layered right over the defaults (`config/demo.toml` for `demo`).
    pub preset: Option<&'static str>,
    /// `--config FILE`.
    pub file: Option<&'a Path>,
    /// Environment variables (only `TICKVAULT__…` ones are read).
    pub env: HashMap<String, String>,
    /// `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
    pub credentials_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    log: LogSettings,
    sim: sim::SimSettings,
    paths: pipeline::PathSettings,
    kite: pipeline::KiteSettings,
    storage: pipeline::StorageSettings,
    journal: pipeline::JournalSettings,
    sockets: pipeline::SocketSettings,
    universe: universe::RawUniverse,
    eod: pipeline::RawEodSettings,
    export: export::ExportSettings,
    redis: self::redis::RawRedis,
    schedule: schedule::RawSchedule,
    http: ops::RawHttp,
    notify: ops::RawNotify,
    #[serde(default)]
    apps: BTreeMap<String, apps::RawApp>,
}

/// This host's name (for mail subjects and consumer names).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "tickvault".into())
}

impl Settings {
    /// Loads and validates the layers. Every error names the key.
    pub fn load(sources: &Sources<'_>) -> Result<Settings, SettingsError> {
        let raw: RawSettings = error::deserialize(merge(sources)?, sources)?;
        raw.validate(sources.credentials_dir.as_deref())
    }

    /// The app called `name`.
    pub fn app(&self, name: &str) -> Option<&AppSettings> {
        self.apps.iter().find(|a| a.name == name)
    }
}

/// The layers merged, not yet checked.
fn merge(sources: &Sources<'_>) -> Result<Config, SettingsError> {
    let mut builder = Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
    if let Some(preset) = sources.preset {
        builder = builder.add_source(File::from_str(preset, FileFormat::Toml));
    }
    if let Some(path) = sources.file {
        if !path.is_file() {
            return Err(SettingsError::new(
                "--config",
                format!("{} is not a readable file", path.display()),
            ));
        }
        builder = builder.add_source(File::from(path).format(FileFormat::Toml));
    }
    let env: config::Map<String, String> = sources
        .env
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    builder = builder.add_source(
        Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .source(Some(env)),
    );
    builder
        .build()
        .map_err(|e| error::from_config_error(e, None, sources))
}

/// The merged settings tree as written in the layers (defaults, file, environment), before
/// validation, for `tickvault config`: every secret replaced by where it comes from
/// ([`show::view`]), never its value.
pub fn merged_view(sources: &Sources<'_>) -> Result<toml::Table, SettingsError> {
    let tree: toml::Table = error::deserialize(merge(sources)?, sources)?;
    Ok(show::view(tree, sources.credentials_dir.as_deref()))
}

impl RawSettings {
    fn validate(self, credentials_dir: Option<&Path>) -> Result<Settings, SettingsError> {
        if let Err(e) = self.log.filter.parse::<tracing_subscriber::EnvFilter>() {
            return Err(SettingsError::new("log.filter", e.to_string()));
        }
        let mut apps = Vec::with_capacity(self.apps.len());
        for (name, raw) in self.apps {
            apps.push(raw.validate(name, credentials_dir)?);
        }
        let mut warnings = Vec::new();
        let storage = self
            .storage
            .with_password(credentials_dir, &mut warnings)?
            .with_tls(&mut warnings)?;
        pipeline::validate(&self.kite, &storage, &self.sockets)?;
        Ok(Settings {
            log: self.log,
            apps,
            sim: self.sim.validate()?,
            universe: self.universe.validate()?,
            eod: self.eod.validate()?,
            export: self.export,
            redis: self.redis.validate(credentials_dir)?,
            schedule: self.schedule.validate()?,
            http: self.http.validate(credentials_dir)?,
            notify: self.notify.validate(credentials_dir, &mut warnings)?,
            paths: self.paths,
            kite: self.kite,
            storage,
            journal: self.journal,
            sockets: self.sockets,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, toml).unwrap();
        Settings::load(&Sources {
            preset: None,
            file: Some(&path),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            credentials_dir: None,
        })
    }

    const APP: &str = r#"
[apps.main]
api_key = "k"
user_id = "AB1234"
api_secret = "s"
password = "p"
totp_secret = "gezd gnbv gy3t qojq gezd gnbv gy3t qojq"
"#;

    #[test]
    fn defaults_load_on_their_own() {
        let s = Settings::load(&Sources::default()).unwrap();
        assert_eq!(s.log.format, LogFormat::Text);
        assert!(s.apps.is_empty());
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let s = load(
            APP,
            &[
                ("TICKVAULT__LOG__FORMAT", "json"),
                ("TICKVAULT__APPS__MAIN__USER_ID", "ZZ9999"),
                ("TICKVAULT__APPS__MAIN__PASSWORD", "007"),
                ("TICKVAULT__SIM__SEED", "42"),
                ("TICKVAULT__SIM__RATE", "2.5"),
                ("UNRELATED", "x"),
            ],
        )
        .unwrap();
        assert_eq!(s.log.format, LogFormat::Json);
        let app = s.app("main").unwrap();
        assert_eq!(app.user_id, "ZZ9999");
        assert_eq!(app.password.expose_secret(), "007", "strings stay strings");
        assert_eq!((s.sim.seed, s.sim.rate), (42, 2.5), "numbers still parse");
        assert_eq!(
            app.totp_secret.expose_secret(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn schedule_times_and_the_holiday_file_are_checked() {
        let s = load("", &[]).unwrap();
        assert_eq!(s.schedule.times.close.to_string(), "15:35:00");
        assert!(s.schedule.holidays_file.is_none());
        let e = load("[schedule]\nclose = \"3:35pm\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "schedule.close", "{e}");
        let e = load("[schedule]\nconnect = \"08:00\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "schedule.connect", "before instruments: {e}");
        let e = load(
            "[schedule]\nholidays_file = \"/nonexistent/nse.toml\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "schedule.holidays_file", "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("h.toml");
        std::fs::write(&file, "[2027]\n\"2027-01-26\" = \"Republic Day\"\n").unwrap();
        let s = load(
            &format!(
                "[schedule]\nholidays_file = \"{}\"\nclose = \"15:50\"\n",
                file.display()
            ),
            &[],
        )
        .unwrap();
        assert!(s.schedule.calendar.covers_year(2027) && !s.schedule.calendar.covers_year(2026));
        assert_eq!(s.schedule.times.close.to_string(), "15:50:00");
    }

    #[test]
    fn the_database_password_may_be_kept_out_of_the_url() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("storage.password");
        std::fs::write(&secret, "p@ss:w/rd\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let cfg = dir.path().join("t.toml");
        std::fs::write(
            &cfg,
            "[storage]\nurl = \"mysql://tv@127.0.0.1:3306/ticks\"\n",
        )
        .unwrap();
        let s = Settings::load(&Sources {
            file: Some(&cfg),
            credentials_dir: Some(dir.path().to_path_buf()),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(
            s.storage.url,
            "mysql://tv:p%40ss%3Aw%2Frd@127.0.0.1:3306/ticks"
        );
        assert!(!format!("{:?}", s.storage).contains("p%40ss"));
        // A password left over from a MySQL setup does not block a move to SQLite: a warning.
        let s = load(
            "[storage]\nurl = \"sqlite://t.db\"\npassword_file = \"/nonexistent\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.storage.url, "sqlite://t.db");
        let keys: Vec<&str> = s.warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["storage.password"]);
        assert!(load("", &[]).unwrap().warnings.is_empty());
    }

    #[test]
    fn an_smtp_password_nothing_uses_is_a_warning() {
        let s = load("[notify]\npassword_file = \"/nonexistent\"\n", &[]).unwrap();
        let keys: Vec<&str> = s.warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["notify.password"]);
    }

    #[test]
    fn http_and_notify_are_checked_and_name_the_key() {
        let s = load("", &[]).unwrap();
        assert_eq!(s.http.listen.to_string(), "127.0.0.1:9187");
        assert!(s.http.enabled && !s.notify.enabled);
        let e = load("[http]\nlisten = \"localhost\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "http.listen", "{e}");
        let on = "[notify]\nenabled = true\nsmtp_host = \"smtp.example.com\"\n";
        let e = load(on, &[]).unwrap_err();
        assert_eq!(e.key, "notify.to", "at least one recipient: {e}");
        let e = load(&format!("{on}to = [\"not an address\"]\n"), &[]).unwrap_err();
        assert_eq!(e.key, "notify.to", "{e}");
        let e = load(&format!("{on}to = [\"a@b.test\"]\nusername = \"u\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "notify.password", "a login needs its password: {e}");
        let e = load(
            &format!("{on}to = [\"a@b.test\"]\nsecurity = \"none\"\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.key, "notify.security",
            "no clear text beyond loopback: {e}"
        );
        let e = load(
            &format!("{on}to = [\"a@b.test\"]\nsecurity = \"ssl\"\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "notify.security", "{e}");
        let s = load(
            &format!("{on}to = [\"Ops <ops@b.test>\", \"q@b.test\"]\nusername = \"u\"\n"),
            &[("TICKVAULT__NOTIFY__PASSWORD", "pw-never-shown")],
        )
        .unwrap();
        assert_eq!(s.notify.to.len(), 2);
        assert!(!format!("{:?}", s.notify).contains("pw-never-shown"));
    }

    #[test]
    fn the_redis_ca_file_is_checked_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("ca.pem");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let with = |url: &str, file: &std::path::Path| {
            load(
                &format!(
                    "[redis]\nurl = \"{url}\"\nca_file = \"{}\"\n",
                    file.display()
                ),
                &[],
            )
        };
        let s = with("rediss://127.0.0.1:6380/0", &pem).unwrap();
        assert!(s.redis.ca_pem.is_some());
        let e = with("redis://127.0.0.1:6379/0", &pem).unwrap_err();
        assert_eq!(e.key, "redis.ca_file", "{e}");
        let e = with("rediss://127.0.0.1:6380/0", &dir.path().join("missing.pem")).unwrap_err();
        assert_eq!(e.key, "redis.ca_file", "{e}");
        std::fs::write(&pem, "not a certificate").unwrap();
        let e = with("rediss://127.0.0.1:6380/0", &pem).unwrap_err();
        assert_eq!(e.key, "redis.ca_file", "{e}");
        assert!(e.problem.contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        let e = load("[log]\nfliter = \"info\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "log.fliter", "{e}");
        let e = load("[logs]\nfilter = \"info\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "logs", "{e}");
        let e = load("[log]\nformat = \"xml\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "log.format", "{e}");
        assert!(e.problem.contains("`text` or `json`"), "{e}");
        let e = load("[log\n", &[]).unwrap_err();
        assert!(
            e.key.ends_with("t.toml") && !e.problem.contains('\n'),
            "{e}"
        );
        let e = load("[log]\nfilter = \"info,[[\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "log.filter");
        let e = load(
            &APP.replace("totp_secret = \"gezd", "totp_secret = \"1!zd"),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "apps.main.totp_secret");
        let e = load(&APP.replace("password = \"p\"\n", ""), &[]).unwrap_err();
        assert_eq!(e.key, "apps.main.password");
        let e = load(&APP.replace("user_id = \"AB1234\"", "user_id = \"\""), &[]).unwrap_err();
        assert_eq!(e.key, "apps.main.user_id");
        let e = load(&APP.replace("api_key = \"k\"\n", ""), &[]).unwrap_err();
        assert_eq!(e.key, "apps.main.api_key", "{e}");
        let e = load(
            &APP.replace("api_key = \"k\"", "api_key = \"k\"\nsecret = 1"),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.key, "apps.main.secret",
            "an unknown key inside a named table: {e}"
        );
        let e = load("[sockets]\nper_app = \"three\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "sockets.per_app", "{e}");
    }

    #[test]
    fn secrets_never_show_in_debug_or_errors() {
        let s = load(APP, &[]).unwrap();
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("\"p\"") && !debug.to_lowercase().contains("gezd"),
            "{debug}"
        );
        let e = load(
            &APP.replace(
                "api_key = \"k\"",
                "api_key = \"k\"\npassword_file = \"/nope\"",
            ),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "apps.main.password");
        assert!(!e.to_string().contains("\"p\""));
    }
}
