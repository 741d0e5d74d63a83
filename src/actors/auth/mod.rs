//! The auth actor: unattended login (user id + password + TOTP, PROTOCOL.md §4.2), one access
//! token per API app, cached for the day in `<state_dir>/tokens/<app>.json` (mode 0600, expiry
//! the next 06:00 IST) and reused while `/user/profile` accepts it.
//!
//! Messages: [`handlers::GetToken`] (→ a token), [`handlers::TokenRejected`] (a socket got 403:
//! log in again unless a newer token exists). Talks to: Kite's login and `/user/profile`.
//! Never logs the token, the password or the TOTP secret.

pub mod actor;
pub mod handlers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::calendar::IST;
use crate::clock::SharedClock;
use crate::kite::client::{KiteClient, Session};
use crate::settings::AppSettings;
use crate::status::StatusHandle;

/// Why no token could be had; the variants are decisions.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// No such app in the settings.
    #[error("no API app called `{0}`")]
    UnknownApp(String),
    /// Kite refused the credentials (wrong password, blocked account): an operator must act.
    #[error("login for app `{app}` was refused: {reason}")]
    Rejected {
        /// The app.
        app: String,
        /// Which credential.
        refusal: crate::kite::client::Refusal,
        /// Kite's message.
        reason: String,
    },
    /// Kite could not be reached or kept failing: try again later.
    #[error("login for app `{app}` failed after {attempts} attempts: {reason}")]
    Unavailable {
        /// The app.
        app: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        reason: String,
    },
}

/// An access token as handed to sockets and the instruments actor.
#[derive(Debug, Clone)]
pub struct Token {
    /// The app's API key.
    pub api_key: String,
    /// The session (token inside, never printed).
    pub session: Session,
    /// Increases with every new token of the app; a rejection names the one it saw.
    pub generation: u64,
    /// When Kite will flush it (06:00 IST after the login).
    pub expires_at: DateTime<Utc>,
}

/// The cache file's contents.
#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    app: String,
    api_key: String,
    user_id: String,
    access_token: String,
    login_time: String,
    expires_at: DateTime<Utc>,
}

/// The next 06:00 IST after `t`: when Kite flushes access tokens.
pub fn next_expiry(t: DateTime<Utc>) -> DateTime<Utc> {
    let local = t.with_timezone(&IST);
    let six = NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default();
    let mut day = local.date_naive();
    if local.time() >= six {
        day = day.checked_add_days(Days::new(1)).unwrap_or(day);
    }
    IST.from_local_datetime(&day.and_time(six))
        .single()
        .map_or(t, |d| d.with_timezone(&Utc))
}

/// The auth actor's state.
pub struct Auth {
    apps: Vec<AppSettings>,
    api_root: String,
    login_root: String,
    timeout: std::time::Duration,
    tokens_dir: PathBuf,
    client: Option<KiteClient>,
    tokens: HashMap<String, Token>,
    generation: u64,
    clock: SharedClock,
    status: StatusHandle,
    max_attempts: u32,
    /// Whether today's cached token may be reused (`tickvault login --fresh`: no).
    use_cache: bool,
    restarts: crate::actors::children::Restarts,
}

impl Auth {
    /// An auth actor for `apps`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        apps: Vec<AppSettings>,
        api_root: String,
        login_root: String,
        timeout: std::time::Duration,
        state_dir: &Path,
        clock: SharedClock,
        status: StatusHandle,
    ) -> Auth {
        Auth {
            apps,
            api_root,
            login_root,
            timeout,
            tokens_dir: state_dir.join("tokens"),
            client: None,
            tokens: HashMap::new(),
            generation: 0,
            clock,
            restarts: crate::actors::children::Restarts::new(&status),
            status,
            max_attempts: 6,
            use_cache: true,
        }
    }

    /// At most `n` login attempts (the service keeps 6: a TOTP refused at a window's edge and a
    /// flaky network are retried; `tickvault login` gives up sooner).
    pub fn attempts(mut self, n: u32) -> Auth {
        self.max_attempts = n.max(1);
        self
    }

    /// Logs in even when today's token is cached (`tickvault login --fresh`): the password
    /// and TOTP are really tried. The new token replaces the cached one.
    pub fn fresh(mut self) -> Auth {
        self.use_cache = false;
        self
    }

    /// An auth actor for every app in `settings`, logging in at `settings.kite`.
    pub fn from_settings(
        settings: &crate::settings::Settings,
        clock: SharedClock,
        status: StatusHandle,
    ) -> Auth {
        Auth::new(
            settings.apps.clone(),
            settings.kite.api_root.clone(),
            settings.kite.login_root.clone(),
            settings.kite.timeout(),
            &settings.paths.state_dir,
            clock,
            status,
        )
    }

    fn app(&self, name: &str) -> Result<&AppSettings, AuthError> {
        self.apps
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| AuthError::UnknownApp(name.to_string()))
    }

    fn client(&mut self) -> KiteClient {
        self.client
            .get_or_insert_with(|| KiteClient::new(&self.api_root, &self.login_root, self.timeout))
            .clone()
    }

    fn cache_path(&self, app: &str) -> PathBuf {
        self.tokens_dir.join(format!("{app}.json"))
    }

    /// The in-memory token of `app`, if still before its expiry.
    fn current(&self, app: &str) -> Option<Token> {
        self.tokens
            .get(app)
            .filter(|t| t.expires_at > self.clock.now())
            .cloned()
    }

    /// Reads a cached token that has not expired (validity on Kite is checked by the caller).
    fn read_cache(&self, app: &AppSettings) -> Option<Session> {
        let text = std::fs::read_to_string(self.cache_path(&app.name)).ok()?;
        let file: CacheFile = serde_json::from_str(&text).ok()?;
        (file.api_key == app.api_key && file.expires_at > self.clock.now()).then(|| Session {
            api_key: file.api_key,
            user_id: file.user_id,
            access_token: SecretString::from(file.access_token),
            login_time: file.login_time,
        })
    }

    /// Writes the cache file with mode 0600 (created so; never world-readable in between).
    fn write_cache(&self, app: &str, session: &Session, expires_at: DateTime<Utc>) {
        let file = CacheFile {
            app: app.to_string(),
            api_key: session.api_key.clone(),
            user_id: session.user_id.clone(),
            access_token: session.access_token.expose_secret().to_string(),
            login_time: session.login_time.clone(),
            expires_at,
        };
        let write = || -> std::io::Result<()> {
            let json = serde_json::to_string_pretty(&file)?;
            // The token is a secret: readable by the service's user only.
            crate::files::write_atomically_with_mode(&self.cache_path(app), json.as_bytes(), 0o600)
        };
        if let Err(e) = write() {
            tracing::warn!(app, error = %e, "cannot cache the access token; the next start logs in again");
        }
    }

    fn forget_cache(&self, app: &str) {
        let _ = std::fs::remove_file(self.cache_path(app));
    }

    fn report_status(&self) {
        self.status.report(|a: &mut crate::status::AuthStatus| {
            a.token_expiry = self
                .tokens
                .iter()
                .map(|(app, t)| (app.clone(), t.expires_at))
                .collect();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_at_the_next_six_in_the_morning_ist() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            next_expiry(t("2026-11-20T09:00:00+05:30")),
            t("2026-11-21T06:00:00+05:30")
        );
        assert_eq!(
            next_expiry(t("2026-11-21T05:59:00+05:30")),
            t("2026-11-21T06:00:00+05:30")
        );
        assert_eq!(
            next_expiry(t("2026-11-21T06:00:00+05:30")),
            t("2026-11-22T06:00:00+05:30")
        );
    }
}
