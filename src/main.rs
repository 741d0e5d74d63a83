//! `tickvault`: parse the command line, load settings, set up logging, run the subcommand,
//! and turn how it ended into an exit status. Everything else lives in the library.

use std::collections::HashMap;
use std::process::ExitCode;

use clap::Parser;
use tickvault::cli::Cli;
use tickvault::commands::{self, Command, exit};
use tickvault::settings::{Settings, Sources};
use tickvault::telemetry;

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (Kite over https/wss, rediss://).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let env: HashMap<String, String> = std::env::vars().collect();
    let sources = Sources {
        preset: cli.command.preset(),
        file: cli.config.as_deref(),
        credentials_dir: env.get("CREDENTIALS_DIRECTORY").map(Into::into),
        env: env.clone(),
    };
    // `config` shows the merged settings even when they do not validate.
    if let Command::Config(args) = &cli.command {
        return commands::config::run(args, &sources).unwrap_or_else(|failure| {
            eprintln!("tickvault: {failure}");
            ExitCode::from(failure.exit_code())
        });
    }
    let settings = match Settings::load(&sources) {
        Ok(settings) => settings,
        Err(e) => {
            if let Command::Check(args) = &cli.command {
                return commands::check::settings_failed(args, &e);
            }
            eprintln!("tickvault: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let format = cli.log_format.unwrap_or(settings.log.format);
    let rust_log = env.get("RUST_LOG").map(String::as_str);
    if let Err(e) = telemetry::init(&settings.log.filter, rust_log, format) {
        eprintln!("tickvault: {e:#}");
        return ExitCode::from(exit::CONFIG);
    }
    for warning in &settings.warnings {
        tracing::warn!(key = %warning.key, "{warning}");
    }
    match commands::run(cli.command, &settings, &sources) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("tickvault: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
