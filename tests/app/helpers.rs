//! Shared helpers: running the built binary, and locating fixtures.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A `tickvault` command with a clean environment: no `TICKVAULT__*`, `RUST_LOG` or systemd
/// variables leak in from the machine running the tests.
pub fn tickvault() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickvault"));
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
