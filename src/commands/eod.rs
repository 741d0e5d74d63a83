//! `tickvault eod [--date D]`: the end of day by hand. Replays what the date's journals hold
//! beyond the committed positions (as start-up recovery does), then dedupes, moves, verifies,
//! clears and reports (see [`crate::eod`]). Safe to run again: a run killed anywhere
//! finishes on the next one with the same master contents.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::anyhow;
use chrono::{NaiveDate, Utc};

use super::{Failure, recovery_failure};
use crate::calendar::ist_date;
use crate::eod::{EodError, EodOptions, PROGRESS_EVERY, Progress, report_path, run_eod};
use crate::recovery;
use crate::settings::Settings;
use crate::storage::Store;
use crate::storage::eod as sql;

fn storage_failure(e: diesel::result::Error) -> Failure {
    Failure::Unavailable(anyhow!("{e}"))
}

/// Thin or silent instruments named in the output (all of them are in the report).
const MAX_LISTED: usize = 30;

/// Arguments of `tickvault eod`.
#[derive(Debug, clap::Args)]
pub struct EodArgs {
    /// Trading date to close (default: today in IST).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,
    /// Skip damaged journal records while replaying (each is logged) instead of stopping.
    #[arg(long)]
    pub skip_corrupt: bool,
    /// Run even for a date with nothing recorded, or whose end of day is done with nothing
    /// new since.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command.
pub fn run(args: &EodArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    let _lock = super::lock_dirs(settings, "eod")?;
    let date = args.date.unwrap_or_else(|| ist_date(Utc::now()));
    let url = settings.storage.parsed_url()?;
    let mut store = Store::open(&url).map_err(|e| Failure::Unavailable(anyhow!("{e}")))?;
    let data_dir = &settings.paths.data_dir;
    let today = ist_date(Utc::now());
    let db = store.conn();
    let nothing = !crate::capture::journal::journal_dir(data_dir, date).is_dir()
        && sql::daily_rows(db, date).map_err(storage_failure)? == 0
        && !sql::master_has(db, date).map_err(storage_failure)?;
    if nothing && !args.force {
        let why = if date > today {
            " (a date still to come)"
        } else if !settings.schedule.calendar.is_trading_day(date) {
            " (not a trading day)"
        } else {
            ""
        };
        return Err(Failure::Usage(anyhow!(
            "nothing is recorded for {date}{why}: no journals, no daily rows, nothing in the \
             master; check the date, or --force to run the end of day anyway"
        )));
    }

    let replayed = recovery::recover(
        &mut store,
        data_dir,
        date,
        args.skip_corrupt,
        settings.storage.batch_rows,
    )
    .map_err(recovery_failure)?;
    let rows: u64 = replayed.iter().map(|f| f.inserted).sum();
    if rows > 0 {
        eprintln!("replayed {rows} rows from the journals of {date} that were not stored yet");
    }
    if !args.force && sql::done_and_nothing_new(store.conn(), date).map_err(storage_failure)? {
        println!("end of day {date} is done and nothing came since: not run again");
        println!(
            "  report: {} (--force runs it anyway)",
            report_path(data_dir, date).display()
        );
        return Ok(ExitCode::SUCCESS);
    }

    let opts = EodOptions::new(settings.eod, settings.journal.retention_days).exporting(settings);
    // On a terminal one line redrawn in place; in a log (systemd, a pipe) a line per finished
    // step, never a carriage return.
    let terminal = std::io::stderr().is_terminal();
    let mut last = Instant::now();
    let mut progress = |p: Progress| {
        let line = format!(
            "eod {date}: {:?} {}/{} chunks ({} instruments), {}/{} rows moved",
            p.step, p.done, p.chunks, p.instruments, p.rows_moved, p.rows_total
        );
        if terminal {
            if last.elapsed() >= PROGRESS_EVERY || p.done == p.chunks {
                last = Instant::now();
                eprint!("\r{line}   ");
                let _ = std::io::stderr().flush();
            }
        } else if p.done == p.chunks {
            eprintln!("{line}");
        }
    };
    let report = run_eod(&mut store, data_dir, date, opts, &mut progress);
    if terminal {
        eprintln!();
    }
    let report = report.map_err(|e| match e {
        EodError::Verify(_) => Failure::Data(anyhow!("{e}")),
        EodError::Storage(_) => Failure::Unavailable(anyhow!("{e}")),
        other => Failure::Other(anyhow!("{other}")),
    })?;
    let mut out = String::new();
    out.push_str(&format!(
        "end of day {date}: {} rows of {} instruments in the master\n",
        report.master_rows, report.instruments,
    ));
    out.push_str(&format!(
        "  dedupe {}: {} duplicates removed\n",
        report.dedupe.as_str(),
        report.removed_rows,
    ));
    out.push_str(&format!(
        "  fewer than {} rows: {}; no tick at all: {}; gaps: {} ({} socket-minutes)\n",
        report.min_rows,
        report.thin_instruments.len(),
        report.silent_instruments.len(),
        report.gaps,
        report.gap_minutes
    ));
    for (what, list) in [
        ("thin", &report.thin_instruments),
        ("silent", &report.silent_instruments),
    ] {
        if list.is_empty() {
            continue;
        }
        let names: Vec<String> = list
            .iter()
            .map(|i| match i.tradingsymbol.as_str() {
                "" => format!("token {} ({})", i.token, i.rows),
                s => format!("{s} ({})", i.rows),
            })
            .collect();
        let text = format!(
            "{what}: {}",
            super::check::first_of(&names, MAX_LISTED, ", ")
        );
        for line in super::check::wrap(&text, 96) {
            out.push_str(&format!("    {line}\n"));
        }
    }
    if !report.journals_deleted.is_empty() {
        out.push_str(&format!(
            "  journals deleted (retention): {}\n",
            report.journals_deleted.join(", ")
        ));
    }
    out.push_str(&format!(
        "  took {} ms; report: {}\n",
        report.duration_ms,
        report_path(data_dir, date).display()
    ));
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(ExitCode::SUCCESS)
}
