//! The storage URL: `sqlite://PATH` or `mysql://USER:PASSWORD@HOST:PORT/DATABASE`, parsed,
//! and shown with its password redacted.

use std::path::PathBuf;

use super::StorageError;

/// Where the data goes.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A MySQL/MariaDB database (the whole URL, password included: never shown).
    Mysql(String),
}

impl StorageUrl {
    /// Parses `sqlite://PATH` (relative paths are relative to the working directory) or
    /// `mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`. Errors never show a password.
    pub fn parse(url: &str) -> Result<StorageUrl, StorageError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if !path.is_empty() {
                return Ok(StorageUrl::Sqlite(PathBuf::from(path)));
            }
        } else if let Some(rest) = url.strip_prefix("mysql://") {
            let database = rest.rsplit_once('/').map(|(_, db)| db).unwrap_or("");
            let database = database.split('?').next().unwrap_or("");
            if !rest.is_empty() && !database.is_empty() {
                if !cfg!(feature = "mysql") {
                    return Err(StorageError::NotBuilt);
                }
                return Ok(StorageUrl::Mysql(url.to_string()));
            }
        }
        Err(StorageError::BadUrl(redact(url)))
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        match self {
            StorageUrl::Sqlite(_) => "sqlite",
            StorageUrl::Mysql(_) => "mysql",
        }
    }
}

/// Shows the URL with any password replaced by `***`.
impl std::fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            StorageUrl::Mysql(url) => f.write_str(&redact(url)),
        }
    }
}

impl std::fmt::Debug for StorageUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StorageUrl({self})")
    }
}

/// `scheme://user:secret@host/…` → `scheme://user:***@host/…`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}
