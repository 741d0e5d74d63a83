//! `[apps.<name>]`: the Kite Connect API apps and the accounts that log in to them, with their
//! secrets resolved (inline, `*_file`, or a systemd credential) and the TOTP seed checked.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::SettingsError;
use super::secret::{self, SecretSource};

/// One Kite Connect API app and the Zerodha account that logs in to it.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// The name under `[apps.<name>]`, used in logs, status and file names.
    pub name: String,
    /// The app's API key (public).
    pub api_key: String,
    /// The app's API secret.
    pub api_secret: SecretString,
    /// Zerodha user id that logs in.
    pub user_id: String,
    /// Zerodha password.
    pub password: SecretString,
    /// Base32 TOTP secret of the account's external 2FA.
    pub totp_secret: SecretString,
}

impl From<&AppSettings> for crate::kite::client::Credentials {
    fn from(app: &AppSettings) -> Self {
        crate::kite::client::Credentials {
            api_key: app.api_key.clone(),
            api_secret: app.api_secret.clone(),
            user_id: app.user_id.clone(),
            password: app.password.clone(),
            totp_secret: app.totp_secret.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApp {
    api_key: Option<String>,
    user_id: Option<String>,
    api_secret: Option<SecretString>,
    api_secret_file: Option<PathBuf>,
    password: Option<SecretString>,
    password_file: Option<PathBuf>,
    totp_secret: Option<SecretString>,
    totp_secret_file: Option<PathBuf>,
}

impl RawApp {
    pub(super) fn validate(
        self,
        name: String,
        creds: Option<&Path>,
    ) -> Result<AppSettings, SettingsError> {
        let prefix = format!("apps.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(SettingsError::new(
                &prefix,
                "app names may use only letters, digits, `_` and `-`",
            ));
        }
        let named = |key: &str, value: Option<String>| match value {
            None => Err(SettingsError::new(format!("{prefix}.{key}"), "is missing")),
            Some(v) if v.trim().is_empty() => Err(SettingsError::new(
                format!("{prefix}.{key}"),
                "must not be empty",
            )),
            Some(v) => Ok(v),
        };
        let api_key = named("api_key", self.api_key)?;
        let user_id = named("user_id", self.user_id)?;
        let required = |field: &str, inline, file| {
            let key = format!("{prefix}.{field}");
            secret::resolve(&key, SecretSource { inline, file }, creds)?
                .ok_or_else(|| secret::missing(&key))
        };
        let api_secret = required("api_secret", self.api_secret, self.api_secret_file)?;
        let password = required("password", self.password, self.password_file)?;
        let totp_secret = required("totp_secret", self.totp_secret, self.totp_secret_file)?;
        let totp_secret = normalize_totp_secret(&totp_secret).ok_or_else(|| {
            SettingsError::new(
                format!("{prefix}.totp_secret"),
                "is not a base32 TOTP secret",
            )
        })?;
        Ok(AppSettings {
            name,
            api_key,
            api_secret,
            user_id,
            password,
            totp_secret,
        })
    }
}

/// Checks the secret is a usable TOTP seed (spaces and case do not matter; secrets are often
/// shown in groups of four) and returns it upper-cased without spaces.
fn normalize_totp_secret(secret: &SecretString) -> Option<SecretString> {
    crate::kite::login::totp(secret.expose_secret()).ok()?;
    let cleaned: String = secret
        .expose_secret()
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Some(SecretString::from(cleaned))
}
