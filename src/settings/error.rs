//! Settings errors: each names the key (`apps.main.password`, `log.format`) or the file.
//! A deserialization error's key is the path serde was at (`serde_path_to_error`), never parsed
//! out of a message.

use config::ConfigError;

use super::Sources;

/// An invalid setting: the key and what is wrong with it. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `{key}`: {problem}")]
pub struct SettingsError {
    /// The dotted key (`apps.main.password_file`), or the file when the problem is the file.
    pub key: String,
    /// What is wrong, and where possible how to fix it.
    pub problem: String,
}

impl SettingsError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        SettingsError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// A setting that is accepted but probably not what was meant (a secret nothing uses): logged
/// as a warning at start-up and shown by `tickvault config`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SettingsWarning {
    /// The dotted key.
    pub key: String,
    /// What is odd about it.
    pub problem: String,
}

impl SettingsWarning {
    /// A warning about `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        SettingsWarning {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for SettingsWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "setting `{}` {}", self.key, self.problem)
    }
}

/// Deserializes the merged layers into `T`; an error names the key it was found at.
pub(super) fn deserialize<T: serde::de::DeserializeOwned>(
    config: config::Config,
    sources: &Sources<'_>,
) -> Result<T, SettingsError> {
    serde_path_to_error::deserialize(config).map_err(|e| {
        let path = e.path().to_string();
        let key = (path != ".").then_some(path);
        from_config_error(e.into_inner(), key, sources)
    })
}

/// A `config` error (building the layers, or deserializing them at `key`) as one line naming
/// the key, or the file when the file is what is wrong.
pub(super) fn from_config_error(
    e: ConfigError,
    key: Option<String>,
    sources: &Sources<'_>,
) -> SettingsError {
    let at = |k: Option<String>| k.unwrap_or_else(|| "configuration".into());
    match e {
        ConfigError::FileParse { uri, cause } => SettingsError::new(
            sources
                .file
                .map(|p| p.display().to_string())
                .or(uri)
                .unwrap_or_else(|| "configuration file".into()),
            format!("is not valid TOML: {}", one_line(&cause.to_string())),
        ),
        ConfigError::Type {
            key: found,
            unexpected,
            expected,
            ..
        } => SettingsError::new(
            at(key.or(found)),
            format!("expected {expected}, found {unexpected}"),
        ),
        ConfigError::At {
            error, key: found, ..
        } => from_config_error(*error, key.or(found), sources),
        ConfigError::NotFound(found) => SettingsError::new(at(key.or(Some(found))), "is missing"),
        ConfigError::Message(message) => SettingsError::new(at(key), one_line(&message)),
        other => SettingsError::new(at(key), one_line(&other.to_string())),
    }
}

/// Folds a multi-line parser message (with its source excerpt) into one line.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.contains(" | "))
        .collect();
    lines.join("; ")
}
