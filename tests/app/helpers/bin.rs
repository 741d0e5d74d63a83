//! Running the built binary (a clean environment, the release build for the fault suites),
//! fixtures, the test virtualenv's python, signals and free ports.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A `tickvault` command with a clean environment: no `TICKVAULT__*`, `RUST_LOG` or systemd
/// variables leak in from the machine running the tests. `TICKVAULT_TEST_BIN` runs another
/// build instead of this one (a release build, or an older one to see a test fail before a fix).
pub fn tickvault() -> Command {
    clean(std::env::var_os("TICKVAULT_TEST_BIN"))
}

/// [`tickvault`], of the release build that the quick start builds when `TICKVAULT_RELEASE_BIN`
/// names it (tests/run does: default features, so SQLite only, `panic = "abort"`). The recovery
/// and fault suites run it on SQLite: the service as it runs in production.
/// `TICKVAULT_TEST_BIN`, when set, still wins (another build, to see a test fail before a fix).
pub fn tickvault_release() -> Command {
    clean(
        std::env::var_os("TICKVAULT_TEST_BIN")
            .or_else(|| std::env::var_os("TICKVAULT_RELEASE_BIN")),
    )
}

fn clean(bin: Option<std::ffi::OsString>) -> Command {
    let bin = bin
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tickvault")));
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("TICKVAULT") || key == "RUST_LOG" || key == "CREDENTIALS_DIRECTORY" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs a command to completion.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the tickvault binary runs")
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `tickvault config` with these `TICKVAULT__…` variables: its exit status, and its output
/// (stdout, then stderr).
pub fn config_with(env: &[(&str, &std::ffi::OsStr)]) -> (Option<i32>, String) {
    let out = tickvault()
        .arg("config")
        .envs(env.iter().copied())
        .output()
        .expect("tickvault config");
    (
        out.status.code(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out)),
    )
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test virtualenv's python (`tests/run` creates it: kiteconnect, aiosmtpd).
pub fn python() -> PathBuf {
    let path = std::env::var_os("TICKVAULT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyvenv/bin/python")
        });
    assert!(
        path.exists(),
        "{} is missing: run tests/run, which creates the virtualenv from tests/python/requirements.txt",
        path.display()
    );
    path
}

/// Sends `sig` (`TERM`, `KILL`, `USR1`) to `pid`.
pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}
