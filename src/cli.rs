//! The command line (clap derive). Each subcommand's arguments live beside its code in
//! [`crate::commands`]; a subcommand exists here only once it works.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::check::CheckArgs;
use crate::commands::config::ConfigArgs;
use crate::commands::decode::DecodeArgs;
use crate::commands::demo::DemoArgs;
use crate::commands::eod::EodArgs;
use crate::commands::instruments::InstrumentsArgs;
use crate::commands::login::LoginArgs;
use crate::commands::replay::ReplayArgs;
use crate::commands::run::RunArgs;
use crate::commands::sim::SimArgs;
use crate::commands::status::StatusArgs;
use crate::settings::LogFormat;

/// Records every tick of Zerodha Kite Connect's live feed, safely.
#[derive(Debug, Parser)]
#[command(name = "tickvault", version, about, long_about = None, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Settings file layered over the compiled-in defaults (see config/default.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format; overrides `log.format` (text for a terminal, json for journald).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, in the order people use them: the service and its daily jobs, the
/// commands that set it up and look into it, then the tools.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The service: follow the NSE calendar (or record now with --now), store every tick.
    Run(RunArgs),
    /// Print the service's status report: a fresh one when it runs, else the last.
    ///
    /// A running service is found through its pid file and asked for a fresh report (SIGUSR1).
    Status(StatusArgs),
    /// Check the setup before enabling the unit: a line per item, with the fix.
    ///
    /// Logins (fresh), the instruments dump and the universe, the database, Redis, SMTP, the
    /// directories, the holiday list and the clock.
    Check(CheckArgs),
    /// End of day by hand: dedupe, move the date into the master table, verify, clear.
    ///
    /// Replays unstored journal records first; writes the report.
    Eod(EodArgs),
    /// Rebuild a day's daily table from journals (or load captures recorded elsewhere).
    ///
    /// Rows already stored are skipped.
    Replay(ReplayArgs),
    /// Log in to every API app (or reuse today's cached tokens) and print the expiry.
    Login(LoginArgs),
    /// Resolve the universe against the day's instruments dump and print the plan.
    Instruments(InstrumentsArgs),
    /// Print the merged settings as TOML, each secret as where it comes from.
    ///
    /// Layers: the compiled-in defaults, --config FILE, then TICKVAULT__ variables.
    Config(ConfigArgs),
    /// Print the ticks of a capture file as JSON lines (or counts with --stats).
    Decode(DecodeArgs),
    /// Run the Kite simulator: login, REST, instruments, the WebSocket feed, faults.
    Sim(SimArgs),
    /// See it all work in a minute, offline, against the simulator in-process.
    ///
    /// The service records for a minute, a socket is dropped mid-run, and a summary shows what
    /// was stored.
    Demo(DemoArgs),
}

impl Command {
    /// The compiled-in settings preset this command layers over the defaults.
    pub fn preset(&self) -> Option<&'static str> {
        match self {
            Command::Demo(_) => Some(crate::commands::demo::DEMO_TOML),
            _ => None,
        }
    }
}
