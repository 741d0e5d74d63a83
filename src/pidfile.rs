//! The service's pid file, `<state_dir>/tickvault.pid` (`/var/lib/tickvault` under systemd):
//! written by `tickvault run` as it starts, removed when it exits. `tickvault status`
//! uses it to ask the running service for a fresh status report (SIGUSR1).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The pid file's name in the data directory.
pub const FILE: &str = "tickvault.pid";

/// The pid file of this process; removed on drop (if it still names this process).
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `<state_dir>/tickvault.pid` (atomically).
    pub fn create(state_dir: &Path) -> std::io::Result<PidFile> {
        let path = state_dir.join(FILE);
        crate::files::write_atomically(&path, format!("{}\n", std::process::id()).as_bytes())?;
        Ok(PidFile { path })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if read_pid(&self.path) == Some(std::process::id() as i32) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The pid of the tickvault service using `state_dir`, if one is running. A stale file (no
/// such process, or the pid now belongs to another program or to another tickvault command,
/// which SIGUSR1 would end) gives `None`: nothing else is ever signalled.
pub fn running(state_dir: &Path) -> Option<i32> {
    let pid = read_pid(&state_dir.join(FILE))?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let is_run = cmdline.split(|b| *b == 0).skip(1).any(|arg| arg == b"run");
    (comm.trim() == "tickvault" && is_run).then_some(pid)
}

/// Asks the service `pid` to rewrite `report` (SIGUSR1) and waits up to `wait` for the file to
/// change. Errors say why (not allowed to signal it, no new report in time).
pub fn refresh(pid: i32, report: &Path, wait: Duration) -> Result<(), String> {
    let before = std::fs::metadata(report).and_then(|m| m.modified()).ok();
    kill(Pid::from_raw(pid), Signal::SIGUSR1).map_err(|e| {
        format!("cannot signal the service (pid {pid}): {e}; run as its user or root")
    })?;
    let started = Instant::now();
    // The service writes the report from its event loop: poll the file's time (a CLI waiting
    // on another process's file; nothing to subscribe to).
    while started.elapsed() < wait {
        let now = std::fs::metadata(report).and_then(|m| m.modified()).ok();
        if now.is_some() && now != before {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "the service (pid {pid}) did not write {} within {} s",
        report.display(),
        wait.as_secs()
    ))
}
