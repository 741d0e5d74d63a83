//! Secrets from settings: inline, from a `*_file` key, or from systemd's credentials directory.
//!
//! A secret file must be readable by its owner only: a file readable by group or others is
//! refused with the fix in the message. Secret values never reach logs or `Debug` output: they
//! live in [`SecretString`] from the moment they are read.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::SettingsError;

/// Where one secret may come from, as read from the settings layers.
#[derive(Debug, Default)]
pub struct SecretSource {
    /// The value given inline (`password = "…"`): already wrapped, never printed.
    pub inline: Option<SecretString>,
    /// A file holding the value (`password_file = "…"`).
    pub file: Option<PathBuf>,
}

/// Resolves a secret whose settings key is `key` (e.g. `apps.main.password`).
///
/// Order: the inline value, else the `*_file` key, else `$CREDENTIALS_DIRECTORY/<key>`. Giving
/// both an inline value and a file is an error (which one was meant?). Returns `None` when no
/// source has it.
pub fn resolve(
    key: &str,
    source: SecretSource,
    credentials_dir: Option<&Path>,
) -> Result<Option<SecretString>, SettingsError> {
    match (source.inline, source.file) {
        (Some(_), Some(_)) => Err(SettingsError::new(
            key,
            format!(
                "both `{}` and `{}_file` are set; keep one",
                leaf(key),
                leaf(key)
            ),
        )),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(file)) => read_secret_file(&format!("{key}_file"), &file).map(Some),
        (None, None) => match credentials_dir.map(|dir| dir.join(key)) {
            Some(path) if path.exists() => read_secret_file(key, &path).map(Some),
            _ => Ok(None),
        },
    }
}

/// Whether any source of `key` is set: an inline value, a `*_file` key, or a systemd credential.
/// Nothing is read.
pub fn is_set(key: &str, source: &SecretSource, credentials_dir: Option<&Path>) -> bool {
    source.inline.is_some()
        || source.file.is_some()
        || credentials_dir.is_some_and(|dir| dir.join(key).exists())
}

/// Resolves `key` when the settings use it; when they do not (`unused` says why), a secret set
/// anyway is left unread and reported as a warning: a leftover from an earlier setup (the MySQL
/// password after a move to SQLite) must not stop the service.
pub fn resolve_if_used(
    key: &str,
    source: SecretSource,
    credentials_dir: Option<&Path>,
    unused: Option<&str>,
    warnings: &mut Vec<super::SettingsWarning>,
) -> Result<Option<SecretString>, SettingsError> {
    match unused {
        None => resolve(key, source, credentials_dir),
        Some(why) => {
            if is_set(key, &source, credentials_dir) {
                warnings.push(super::SettingsWarning::new(
                    key,
                    format!("is set but not used ({why}); remove it"),
                ));
            }
            Ok(None)
        }
    }
}

/// The message for a required secret that no source had.
pub fn missing(key: &str) -> SettingsError {
    SettingsError::new(
        key,
        format!(
            "missing; set `{leaf}`, `{leaf}_file`, or provide the systemd credential `{key}`",
            leaf = leaf(key)
        ),
    )
}

fn leaf(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// Reads a secret file, refusing one that group or others can read. Trailing newlines (as left
/// by `echo` or editors) are not part of the secret.
pub fn read_secret_file(key: &str, path: &Path) -> Result<SecretString, SettingsError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        SettingsError::new(
            key,
            format!("cannot read secret file {}: {e}", path.display()),
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SettingsError::new(
                key,
                format!(
                    "secret file {path} is readable by group or others (mode {mode:04o}); run `chmod 600 {path}`",
                    path = path.display()
                ),
            ));
        }
    }
    if !meta.is_file() {
        return Err(SettingsError::new(
            key,
            format!("secret file {} is not a regular file", path.display()),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        SettingsError::new(
            key,
            format!("cannot read secret file {}: {e}", path.display()),
        )
    })?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(SettingsError::new(
            key,
            format!("secret file {} is empty", path.display()),
        ));
    }
    Ok(SecretString::from(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_file_readable_by_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "pw", "hunter2\n", 0o644);
        let err = read_secret_file("apps.main.password_file", &path).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("apps.main.password_file"), "{text}");
        assert!(
            text.contains(&format!("chmod 600 {}", path.display())),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn a_private_file_is_read_without_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "pw", "hunter2\n", 0o600);
        let secret = read_secret_file("k", &path).unwrap();
        assert_eq!(secret.expose_secret(), "hunter2");
    }

    #[test]
    fn sources_resolve_in_order_and_conflicts_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "apps.main.password", "from-creds", 0o400);
        let from_creds = resolve(
            "apps.main.password",
            SecretSource::default(),
            Some(dir.path()),
        )
        .unwrap()
        .unwrap();
        assert_eq!(from_creds.expose_secret(), "from-creds");
        let inline = SecretSource {
            inline: Some(SecretString::from("inline")),
            file: None,
        };
        let got = resolve("apps.main.password", inline, Some(dir.path()))
            .unwrap()
            .unwrap();
        assert_eq!(got.expose_secret(), "inline");
        let both = SecretSource {
            inline: Some(SecretString::from("inline")),
            file: Some(dir.path().join("apps.main.password")),
        };
        assert!(resolve("apps.main.password", both, None).is_err());
        assert!(
            resolve("apps.x.password", SecretSource::default(), Some(dir.path()))
                .unwrap()
                .is_none()
        );
    }
}
