//! The command line (clap derive): the global options. The subcommands ([`Command`]) and each
//! one's arguments live beside their code in [`crate::commands`].

use std::path::PathBuf;

use clap::Parser;

use crate::commands::Command;
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
