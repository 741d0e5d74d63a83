//! One tickvault per directory: `run`, `eod`, `replay` and `demo` hold an exclusive lock on the
//! state and data directories for their whole life (`<dir>/tickvault.lock`, an advisory `flock`
//! the kernel drops when the process ends, however it ends). A second one exits at once with
//! [`crate::commands::exit::LOCKED`], naming the holder: two recorders on one journal write
//! over each other's files, and a second pid file hides the first service.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in each directory.
pub const FILE: &str = "tickvault.lock";

/// Who holds a directory (as the holder wrote it in the lock file).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// What it runs (`run`, `eod`, …).
    pub command: String,
    /// Since when (RFC 3339, IST).
    pub since: String,
}

/// Why a directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another tickvault holds it.
    #[error(
        "{dir} is in use by another tickvault ({}): stop it first (systemctl stop tickvault), or give this one its own [paths]",
        holder.as_ref().map_or("pid unknown".to_string(), |h| format!("pid {}, `{}` since {}", h.pid, h.command, h.since))
    )]
    Held {
        /// The directory.
        dir: PathBuf,
        /// Who, when the lock file says.
        holder: Option<Holder>,
    },
    /// The lock file cannot be made (permissions, a full disk).
    #[error("cannot lock {dir}: {error}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
}

/// Exclusive locks on directories, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DirLock {
    _files: Vec<File>,
}

/// Locks each of `dirs` (created if missing; the same directory twice is locked once) for
/// `command`, or says who holds one.
pub fn lock(dirs: &[&Path], command: &str) -> Result<DirLock, LockError> {
    let mut files = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let io = |error| LockError::Io {
            dir: dir.to_path_buf(),
            error,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let canonical = dir.canonicalize().map_err(io)?;
        if seen.contains(&canonical) {
            continue;
        }
        seen.push(canonical);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    holder: serde_json::from_str(&text).ok(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let holder = Holder {
            pid: std::process::id(),
            command: command.to_string(),
            since: crate::calendar::ist_rfc3339(chrono::Utc::now()),
        };
        let text = serde_json::to_string(&holder).map_err(|e| io(std::io::Error::other(e)))?;
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .map_err(io)?;
        files.push(file);
    }
    Ok(DirLock { _files: files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_until_the_first_goes() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = lock(&[dir.path(), &data, dir.path()], "run").unwrap();
        match lock(&[&data], "eod") {
            Err(LockError::Held { dir: d, holder }) => {
                assert_eq!(d, data);
                let holder = holder.expect("the holder is named");
                assert_eq!(
                    (holder.pid, holder.command.as_str()),
                    (std::process::id(), "run")
                );
            }
            other => panic!("{other:?}"),
        }
        drop(first);
        let again = lock(&[&data], "eod");
        assert!(again.is_ok(), "{again:?}");
    }
}
