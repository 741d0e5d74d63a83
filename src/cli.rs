//! The command line (clap derive). Each subcommand's arguments live beside its code in
//! [`crate::commands`]; a subcommand exists here only once it works.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
#[command(name = "tickvault", version, about, long_about = None, propagate_version = true)]
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

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the ticks of a capture file as JSON lines (or counts with --stats).
    Decode(DecodeArgs),
    /// Run the Kite simulator: login, REST, instruments, a live WebSocket feed, fault injection.
    Sim(SimArgs),
    /// Record: log in, resolve the universe, connect and store every tick until SIGINT/SIGTERM.
    Run(RunArgs),
    /// See it all work in a minute: the simulator in-process, the service against it, a socket
    /// dropped mid-run, and a summary of what was stored.
    Demo(DemoArgs),
    /// Log in to every configured API app (or reuse today's cached tokens) and print the expiry.
    Login(LoginArgs),
    /// Resolve the universe against the day's instruments dump and print the plan.
    Instruments(InstrumentsArgs),
    /// Print the status report as a table: a fresh one from the running service (SIGUSR1 through its pid file), else the last one written.
    Status(StatusArgs),
    /// End of day by hand: replay unstored journal records, dedupe, move the date into the
    /// master table, verify, clear the daily rows and write the report.
    Eod(EodArgs),
    /// Rebuild a day's daily table from journal files (or load captures recorded elsewhere);
    /// rows already stored are skipped.
    Replay(ReplayArgs),
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
