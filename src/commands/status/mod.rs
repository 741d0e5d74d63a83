//! `tickvault status`: the status report (`<data_dir>/status.json`) as a table. When the
//! service is running (its pid in `<state_dir>/tickvault.pid`), it is first asked for a fresh
//! report (SIGUSR1); otherwise the last one written (at SIGUSR1 and at shutdown) is shown.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use super::Failure;
use crate::settings::Settings;

pub mod watch;

/// Arguments of `tickvault status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print the JSON as it is.
    #[arg(long)]
    pub json: bool,
    /// Show the last report written, without asking the running service for a fresh one.
    #[arg(long)]
    pub cached: bool,
    /// Redraw a screen of the report every second (sockets' ticks per second, the journal,
    /// storage, the last end of day, alerts; bad lines marked) until Ctrl-C.
    #[arg(long, conflicts_with = "json")]
    pub watch: bool,
}

/// Runs the command.
pub fn run(args: &StatusArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    let path = settings.paths.data_dir.join("status.json");
    if args.watch {
        let state_dir = settings.paths.state_dir.clone();
        let cached = args.cached;
        watch::run(move || {
            if !cached && let Some(pid) = crate::pidfile::running(&state_dir) {
                // A report that could not be refreshed is shown as it is (its time says so).
                let _ = crate::pidfile::refresh(pid, &path, Duration::from_secs(2));
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("no status report at {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
        });
    }
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

/// A JSON timestamp (RFC 3339) as people read it: IST with the offset, to the millisecond.
fn human_time(v: &Value) -> String {
    let text = v.as_str().unwrap_or("");
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| crate::calendar::ist_human(t.with_timezone(&chrono::Utc)))
        .unwrap_or_else(|_| text.to_string())
}

/// Width of the actor column; details wrap under the state.
const ACTOR: usize = 14;

/// The report as a table that fits 100 columns: a line per actor (state, restarts, since),
/// its details wrapped beneath.
pub fn table(v: &Value) -> String {
    let indent = " ".repeat(ACTOR + 1);
    let mut out = format!("status at {}\n", human_time(&v["generated_at"]));
    out += &format!(
        "{:<ACTOR$} {:<9} {:>8}  {}\n",
        "ACTOR", "STATE", "RESTARTS", "SINCE"
    );
    for a in v["actors"].as_array().into_iter().flatten() {
        let skip = ["name", "state", "restarts", "since", "last_error"];
        let details: Vec<String> = a
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| !skip.contains(&k.as_str()) && !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s)
                    if s.len() >= 20 && chrono::DateTime::parse_from_rfc3339(s).is_ok() =>
                {
                    format!("{k}={}", human_time(v))
                }
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        out += &format!(
            "{:<ACTOR$} {:<9} {:>8}  {}\n",
            a["name"].as_str().unwrap_or("?"),
            a["state"].as_str().unwrap_or("?"),
            a["restarts"],
            human_time(&a["since"]),
        );
        for line in super::check::wrap(&details.join("  "), 100 - indent.len()) {
            if !line.is_empty() {
                out += &format!("{indent}{line}\n");
            }
        }
        if let Some(e) = a["last_error"].as_str() {
            for line in super::check::wrap(&format!("last error: {e}"), 100 - indent.len()) {
                out += &format!("{indent}{line}\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_fits_a_hundred_columns_with_ist_times() {
        let long: serde_json::Map<String, Value> = (0..40)
            .map(|i| (format!("field_{i}"), serde_json::json!(i * 1_000_003)))
            .collect();
        let mut actor = serde_json::json!({
            "name": "persister", "state": "running", "restarts": 2,
            "since": "2026-11-27T03:45:00.250Z",
            "last_error": "database error: ".repeat(12),
            "last_commit_at": "2026-11-27T09:15:01.000+05:30",
        });
        actor.as_object_mut().unwrap().extend(long);
        let v = serde_json::json!({
            "generated_at": "2026-11-27T09:15:02.000+05:30",
            "actors": [actor],
        });
        let text = table(&v);
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        assert!(text.contains("2026-11-27 09:15:00.250 +05:30"), "{text}");
        assert!(
            text.contains("last_commit_at=2026-11-27 09:15:01.000 +05:30"),
            "{text}"
        );
        assert!(
            text.contains("field_39=39000117"),
            "every detail is shown: {text}"
        );
    }
}
