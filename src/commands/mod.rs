//! What each subcommand does, at the edge of the application: argument structs, I/O to the
//! terminal, and the exit status each outcome maps to.

pub mod decode;
pub mod sim;

use std::process::ExitCode;

use crate::cli::Command;
use crate::settings::{Settings, SettingsError};

/// Exit statuses, from BSD's `sysexits.h` (what systemd and shell scripts expect).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Unexpected failure.
    pub const FAILURE: u8 = 1;
    /// Input data was malformed (a corrupt capture record).
    pub const DATAERR: u8 = 65;
    /// An input file did not exist or was not readable.
    pub const NOINPUT: u8 = 66;
    /// Invalid configuration.
    pub const CONFIG: u8 = 78;
}

/// How a command failed; each variant is an exit status.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Settings were invalid (exit 78).
    #[error(transparent)]
    Config(#[from] SettingsError),
    /// Input data was corrupt (exit 65).
    #[error("{0:#}")]
    Data(anyhow::Error),
    /// An input file could not be opened (exit 66).
    #[error("{0:#}")]
    NoInput(anyhow::Error),
    /// Anything else (exit 1).
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

impl Failure {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) => exit::CONFIG,
            Failure::Data(_) => exit::DATAERR,
            Failure::NoInput(_) => exit::NOINPUT,
            Failure::Other(_) => exit::FAILURE,
        }
    }
}

/// Runs one subcommand.
pub fn run(command: Command, settings: &Settings) -> Result<ExitCode, Failure> {
    match command {
        Command::Decode(args) => decode::run(&args),
        Command::Sim(args) => sim::run(&args, settings),
    }
}
