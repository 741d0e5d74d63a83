//! What each subcommand does, at the edge of the application: argument structs, I/O to the
//! terminal, and the exit status each outcome maps to.

pub mod check;
pub mod config;
pub mod decode;
pub mod demo;
pub mod eod;
pub mod export;
pub mod instruments;
pub mod login;
pub mod replay;
pub mod run;
pub mod sim;
pub mod status;

use std::process::ExitCode;

use crate::settings::{Settings, SettingsError, Sources};

/// The subcommands, in the order people use them: the service and its daily jobs, the
/// commands that set it up and look into it, then the tools.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The service: follow the NSE calendar (or record now with --now), store every tick.
    Run(run::RunArgs),
    /// Print the service's status report: a fresh one when it runs, else the last.
    ///
    /// A running service is found through its pid file and asked for a fresh report (SIGUSR1).
    Status(status::StatusArgs),
    /// Check the setup before enabling the unit: a line per item, with the fix.
    ///
    /// Logins (fresh), the instruments dump and the universe, the database, Redis, SMTP, the
    /// directories, the holiday list and the clock.
    Check(check::CheckArgs),
    /// End of day by hand: dedupe, move the date into the master table, verify, clear.
    ///
    /// Replays unstored journal records first; writes the report.
    Eod(eod::EodArgs),
    /// Rebuild a day's daily table from journals (or load captures recorded elsewhere).
    ///
    /// Rows already stored are skipped.
    Replay(replay::ReplayArgs),
    /// Export a date's ticks (or a range's) as Parquet or CSV files, one directory per date.
    ///
    /// Reads the master, or the daily table before the end of day; exactly the stored rows.
    Export(export::ExportArgs),
    /// Log in to every API app (or reuse today's cached tokens) and print the expiry.
    Login(login::LoginArgs),
    /// Resolve the universe against the day's instruments dump and print the plan.
    Instruments(instruments::InstrumentsArgs),
    /// Print the merged settings as TOML, each secret as where it comes from.
    ///
    /// Layers: the compiled-in defaults, --config FILE, then TICKVAULT__ variables.
    Config(config::ConfigArgs),
    /// Print the ticks of a capture file as JSON lines (or counts with --stats).
    Decode(decode::DecodeArgs),
    /// Run the Kite simulator: login, REST, instruments, the WebSocket feed, faults.
    Sim(sim::SimArgs),
    /// See it all work in a minute, offline, against the simulator in-process.
    ///
    /// The service records for a minute, a socket is dropped mid-run, and a summary shows what
    /// was stored.
    Demo(demo::DemoArgs),
}

impl Command {
    /// The compiled-in settings preset this command layers over the defaults.
    pub fn preset(&self) -> Option<&'static str> {
        match self {
            Command::Demo(_) => Some(demo::DEMO_TOML),
            _ => None,
        }
    }
}

/// Exit statuses, from BSD's `sysexits.h` (what systemd and shell scripts expect).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Unexpected failure.
    pub const FAILURE: u8 = 1;
    /// The command was given something that cannot be meant (a date with nothing recorded).
    pub const USAGE: u8 = 64;
    /// Input data was malformed (a corrupt capture record).
    pub const DATAERR: u8 = 65;
    /// An input file did not exist or was not readable.
    pub const NOINPUT: u8 = 66;
    /// A service needed (Kite, the database) is unavailable.
    pub const UNAVAILABLE: u8 = 69;
    /// An internal failure (a restart storm escalated).
    pub const SOFTWARE: u8 = 70;
    /// Another tickvault holds the state or data directory (EX_TEMPFAIL: try when it is gone).
    pub const LOCKED: u8 = 75;
    /// Invalid configuration.
    pub const CONFIG: u8 = 78;
}

/// How a command failed; each variant is an exit status.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Settings were invalid (exit 78).
    #[error(transparent)]
    Config(#[from] SettingsError),
    /// The arguments cannot be meant (exit 64).
    #[error("{0:#}")]
    Usage(anyhow::Error),
    /// Input data was corrupt (exit 65).
    #[error("{0:#}")]
    Data(anyhow::Error),
    /// An input file could not be opened (exit 66).
    #[error("{0:#}")]
    NoInput(anyhow::Error),
    /// A service is unavailable (exit 69).
    #[error("{0:#}")]
    Unavailable(anyhow::Error),
    /// The service gave up on itself (exit 70).
    #[error("{0:#}")]
    Software(anyhow::Error),
    /// Another tickvault holds the directories (exit 75).
    #[error(transparent)]
    Locked(#[from] crate::lock::LockError),
    /// Anything else (exit 1).
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

impl Failure {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) => exit::CONFIG,
            Failure::Usage(_) => exit::USAGE,
            Failure::Data(_) => exit::DATAERR,
            Failure::NoInput(_) => exit::NOINPUT,
            Failure::Unavailable(_) => exit::UNAVAILABLE,
            Failure::Software(_) => exit::SOFTWARE,
            Failure::Locked(crate::lock::LockError::Held { .. }) => exit::LOCKED,
            Failure::Locked(crate::lock::LockError::Io { .. }) => exit::NOINPUT,
            Failure::Other(_) => exit::FAILURE,
        }
    }
}

/// Runs one subcommand (`config` runs before the settings are validated: see
/// [`config::run`]).
pub fn run(
    command: Command,
    settings: &Settings,
    sources: &Sources<'_>,
) -> Result<ExitCode, Failure> {
    match command {
        Command::Check(args) => check::run(&args, settings, sources),
        Command::Config(args) => config::run(&args, sources),
        Command::Decode(args) => decode::run(&args),
        Command::Sim(args) => sim::run(&args, settings),
        Command::Run(args) => run::run(&args, settings),
        Command::Demo(args) => demo::run(&args, settings),
        Command::Login(args) => login::run(&args, settings),
        Command::Instruments(args) => instruments::run(&args, settings),
        Command::Status(args) => status::run(&args, settings),
        Command::Eod(args) => eod::run(&args, settings),
        Command::Replay(args) => replay::run(&args, settings),
        Command::Export(args) => export::run(&args, settings),
    }
}

/// Maps a day that could not open to the exit status it deserves.
pub fn day_failure(e: crate::service::control::DayError) -> Failure {
    use crate::actors::auth::AuthError;
    use crate::actors::instruments::handlers::ResolveError;
    use crate::pipeline::StartError;
    use crate::service::control::DayError;
    match e {
        // The settings' fault (78) or Kite's (a malformed dump, a missing quote: 69, which
        // systemd retries).
        // Kite refused a credential: the settings' to fix, named (as `tickvault login` says).
        DayError::Plan(ResolveError::Auth(AuthError::Rejected {
            app,
            refusal,
            reason,
        }))
        | DayError::Login {
            error:
                AuthError::Rejected {
                    app,
                    refusal,
                    reason,
                },
            ..
        } => Failure::Config(SettingsError::new(
            format!("apps.{app}.{}", refusal.key()),
            format!("Kite refused it: {reason}"),
        )),
        DayError::Plan(ResolveError::Plan(plan)) => match plan.setting() {
            Some(key) => Failure::Config(SettingsError::new(key, plan.to_string())),
            None => Failure::Unavailable(anyhow::anyhow!("{plan}")),
        },
        DayError::Start(StartError::Recovery(e)) => recovery_failure(e),
        DayError::Start(StartError::Internal(e)) | DayError::Internal(e) => {
            Failure::Other(anyhow::anyhow!("{e}"))
        }
        e @ (DayError::Plan(_)
        | DayError::Login { .. }
        | DayError::Start(StartError::Storage(_))
        | DayError::Close(_)) => Failure::Unavailable(anyhow::anyhow!("{e}")),
    }
}

/// Maps the service's failure to its exit status.
pub fn service_failure(e: crate::service::ServiceError) -> Failure {
    use crate::service::ServiceError;
    match e {
        ServiceError::Config(e) => Failure::Config(e),
        ServiceError::Day(e) => day_failure(e),
        e @ ServiceError::Internal(_) => Failure::Other(anyhow::anyhow!("{e}")),
        e @ (ServiceError::DataDir { .. } | ServiceError::Storage(_) | ServiceError::Drain(_)) => {
            Failure::Unavailable(anyhow::anyhow!("{e}"))
        }
    }
}

/// Maps a failed replay to its exit status: a damaged journal is bad data (65), an unreadable
/// one is missing input (66), a refusing database is unavailable (69).
pub fn recovery_failure(e: crate::recovery::RecoveryError) -> Failure {
    use crate::recovery::RecoveryError;
    match e {
        RecoveryError::Corrupt { .. } => Failure::Data(anyhow::anyhow!("{e}")),
        RecoveryError::Io { .. } => Failure::NoInput(anyhow::anyhow!("{e}")),
        RecoveryError::Storage(_) => Failure::Unavailable(anyhow::anyhow!("{e}")),
    }
}

/// Locks the state and data directories for `command` for as long as the guard lives.
pub fn lock_dirs(settings: &Settings, command: &str) -> Result<crate::lock::DirLock, Failure> {
    Ok(crate::lock::lock(
        &[&settings.paths.state_dir, &settings.paths.data_dir],
        command,
    )?)
}

/// Refuses to go on without an API app.
pub fn require_apps(settings: &Settings) -> Result<(), Failure> {
    if settings.apps.is_empty() {
        return Err(SettingsError::new(
            "apps",
            "no API app is configured: add an [apps.<name>] table",
        )
        .into());
    }
    Ok(())
}

/// `1234567` → `1,234,567` (the demo's and `status --watch`'s counts).
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
