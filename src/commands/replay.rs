//! `tickvault replay --date D [--from-journal DIR]`: rebuilds a day's daily table from journal
//! files (the date's own by default, or captures recorded elsewhere). Rows already stored are
//! skipped, so replaying twice inserts nothing the second time. The gap ledger and the
//! instrument snapshot an ingest process keeps beside its journal (`gaps.jsonl`,
//! `instruments.json`) are loaded too.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use chrono::NaiveDate;

use super::{Failure, recovery_failure};
use crate::capture::journal::journal_dir;
use crate::recovery::{self, FIRST_RECORD, ReplayOptions};
use crate::settings::Settings;
use crate::storage::Store;

/// Arguments of `tickvault replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The trading date the rows belong to.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// A directory of `.kcap` files to load instead of `<data_dir>/journal/<date>/`
    /// (`socket-N.kcap` is stored as socket N, other names as 101, 102, …).
    #[arg(long, value_name = "DIR")]
    pub from_journal: Option<PathBuf>,
    /// Skip damaged records (each is logged) instead of stopping at the first.
    #[arg(long)]
    pub skip_corrupt: bool,
}

/// Runs the command.
pub fn run(args: &ReplayArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    let _lock = super::lock_dirs(settings, "replay")?;
    let own = journal_dir(&settings.paths.data_dir, args.date);
    let dir = args.from_journal.clone().unwrap_or_else(|| own.clone());
    if !dir.is_dir() {
        return Err(Failure::NoInput(anyhow!(
            "{} is not a directory of journal files",
            dir.display()
        )));
    }
    let url = settings.storage.parsed_url()?;
    let mut store = Store::open(&url).map_err(|e| Failure::Unavailable(anyhow!("{e}")))?;
    let files = recovery::journal_files(&dir).map_err(recovery_failure)?;
    if files.is_empty() {
        return Err(Failure::NoInput(anyhow!(
            "no .kcap files in {}",
            dir.display()
        )));
    }
    let opts = ReplayOptions {
        skip_corrupt: args.skip_corrupt,
        batch_rows: settings.storage.batch_rows,
        // Replay reads; it never changes the files it is given.
        truncate_torn: false,
        // The date's own journals move their positions (live recovery then starts after them).
        track_position: dir == own,
    };
    let mut out = String::new();
    let (mut ticks, mut inserted, mut in_master) = (0, 0, 0);
    for (key, path) in files {
        let done = recovery::replay_file(&mut store, args.date, key, &path, FIRST_RECORD, opts)
            .map_err(recovery_failure)?;
        out.push_str(&format!(
            "{}:\n  {key}, {} records, {} ticks, {} rows inserted, {} already stored{}{}{}\n",
            path.display(),
            done.records,
            done.ticks,
            done.inserted,
            done.ticks - done.inserted - done.in_master,
            if done.in_master > 0 {
                format!(", {} in the master (not put back)", done.in_master)
            } else {
                String::new()
            },
            if done.torn_bytes > 0 {
                format!(", torn tail of {} bytes ignored", done.torn_bytes)
            } else {
                String::new()
            },
            if done.corrupt_skipped > 0 {
                format!(", {} damaged records skipped", done.corrupt_skipped)
            } else {
                String::new()
            },
        ));
        ticks += done.ticks;
        inserted += done.inserted;
        in_master += done.in_master;
    }
    // What the service keeps beside its journal (crate::sidecar): gaps, the snapshot.
    let (gaps, instruments) = crate::sidecar::restore(&mut store, &dir, args.date)
        .map_err(|e| Failure::NoInput(anyhow!("cannot restore beside the journal: {e}")))?;
    if gaps + instruments > 0 {
        out.push_str(&format!(
            "gaps.jsonl: {gaps} gaps recorded; instruments.json: {instruments} instruments\n"
        ));
    }
    out.push_str(&format!(
        "replayed {ticks} ticks into {} for {}:\n  {inserted} rows inserted, {} already stored, \
         {in_master} in the master (not put back)\n",
        store.url(),
        args.date,
        ticks - inserted - in_master
    ));
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(ExitCode::SUCCESS)
}
