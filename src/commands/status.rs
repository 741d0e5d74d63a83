//! `tickvault status`: the status report (`<data_dir>/status.json`) as a table. When the
//! service is running (its pid in `<state_dir>/tickvault.pid`), it is first asked for a fresh
//! report (SIGUSR1); otherwise the last one written (at SIGUSR1 and at shutdown) is shown.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use super::Failure;
use crate::settings::Settings;

/// Arguments of `tickvault status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print the JSON as it is.
    #[arg(long)]
    pub json: bool,
    /// Show the last report written, without asking the running service for a fresh one.
    #[arg(long)]
    pub cached: bool,
}

/// Runs the command.
pub fn run(args: &StatusArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    let path = settings.paths.data_dir.join("status.json");
    if !args.cached {
        match crate::pidfile::running(&settings.paths.state_dir) {
            Some(pid) => {
                if let Err(e) = crate::pidfile::refresh(pid, &path, Duration::from_secs(5)) {
                    eprintln!("{e}; showing the last report");
                }
            }
            None => eprintln!(
                "the service is not running (no live pid in {}); showing the last report",
                settings
                    .paths
                    .state_dir
                    .join(crate::pidfile::FILE)
                    .display()
            ),
        }
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| {
            format!(
                "no status report at {} (send SIGUSR1 to the service to write one)",
                path.display()
            )
        })
        .map_err(Failure::NoInput)?;
    if args.json {
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", path.display()))
        .map_err(Failure::Data)?;
    print!("{}", table(&v));
    Ok(ExitCode::SUCCESS)
}

/// The report as a fixed-width table.
pub fn table(v: &Value) -> String {
    let mut out = format!("status at {}\n", v["generated_at"].as_str().unwrap_or("?"));
    out += &format!(
        "{:<14} {:<9} {:>8}  {:<29}  {}\n",
        "ACTOR", "STATE", "RESTARTS", "SINCE", "DETAILS"
    );
    for a in v["actors"].as_array().into_iter().flatten() {
        let skip = ["name", "state", "restarts", "since", "last_error"];
        let details: Vec<String> = a
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| !skip.contains(&k.as_str()) && !v.is_null())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out += &format!(
            "{:<14} {:<9} {:>8}  {:<29}  {}\n",
            a["name"].as_str().unwrap_or("?"),
            a["state"].as_str().unwrap_or("?"),
            a["restarts"],
            a["since"].as_str().unwrap_or(""),
            details.join(" ")
        );
        if let Some(e) = a["last_error"].as_str() {
            out += &format!("{:<14} last error: {e}\n", "");
        }
    }
    out
}
