//! The end-of-day summary mail, with the database's growth (what today's users keep a separate
//! "DB size check" for): the size after each end of day is kept in
//! `<data_dir>/eod/db-size.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;

use super::watch::{free_bytes, human_bytes};
use super::{Alert, AlertKind};
use crate::eod::EodReport;

/// Instruments listed by name in the mail (the rest are counted).
const LISTED: usize = 40;

/// The database's size and growth at an end of day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    /// Size now.
    pub bytes: u64,
    /// Change since the previous recorded end of day.
    pub since_last: Option<i64>,
    /// Mean daily growth over the recorded days (up to 30).
    pub per_day: Option<f64>,
    /// Free bytes on the data directory's file system.
    pub disk_free: Option<u64>,
    /// Free bytes where the database's own files are (a SQLite file; unknown for a MySQL
    /// server): what the days-left estimate divides.
    pub database_disk_free: Option<u64>,
}

/// Records `bytes` as `date`'s size in `<data_dir>/eod/db-size.json` and says how it grew;
/// `database_file` is the SQLite file, when the database is one.
pub fn record_growth(
    data_dir: &Path,
    date: NaiveDate,
    bytes: u64,
    database_file: Option<&Path>,
) -> Growth {
    let path = data_dir.join("eod").join("db-size.json");
    let mut sizes: BTreeMap<NaiveDate, u64> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let previous = sizes.range(..date).next_back().map(|(_, b)| *b);
    sizes.insert(date, bytes);
    while sizes.len() > 30 {
        sizes.pop_first();
    }
    let per_day = match (sizes.first_key_value(), sizes.last_key_value()) {
        (Some((d0, b0)), Some((d1, b1))) if d1 > d0 => {
            Some((*b1 as f64 - *b0 as f64) / (sizes.len() - 1) as f64)
        }
        _ => None,
    };
    let write = || -> std::io::Result<()> {
        crate::files::write_atomically(&path, &serde_json::to_vec_pretty(&sizes)?)
    };
    if let Err(e) = write() {
        tracing::warn!(path = %path.display(), error = %e, "cannot record the database size");
    }
    Growth {
        bytes,
        since_last: previous.map(|p| bytes as i64 - p as i64),
        per_day,
        disk_free: free_bytes(data_dir),
        database_disk_free: database_file.and_then(free_bytes),
    }
}

/// The end-of-day summary alert: the report's figures, the instruments with few or no ticks,
/// the gaps, and the database's growth.
pub fn eod_alert(r: &EodReport, growth: Option<&Growth>) -> Alert {
    let mut body = format!(
        "End of day {date}: {rows} rows of {instruments} instruments in the master store \
         ({moved} moved by this run, {removed} duplicates removed), in {secs:.1} s.\n\
         Gaps: {gaps} interval(s), {gap_min:.1} socket-minutes.\n",
        date = r.trade_date,
        rows = r.master_rows,
        instruments = r.instruments,
        moved = r.moved_by_this_run,
        removed = r.removed_rows,
        secs = r.duration_ms as f64 / 1000.0,
        gaps = r.gaps,
        gap_min = r.gap_minutes,
    );
    for (title, list) in [
        ("No tick at all", &r.silent_instruments),
        (
            &*format!("Fewer than {} ticks", r.min_rows),
            &r.thin_instruments,
        ),
    ] {
        let _ = write!(body, "\n{title}: {}\n", list.len());
        for i in list.iter().take(LISTED) {
            let name = if i.tradingsymbol.is_empty() {
                "?"
            } else {
                &i.tradingsymbol
            };
            let _ = writeln!(body, "  {name} (token {}): {} rows", i.token, i.rows);
        }
        if list.len() > LISTED {
            let _ = writeln!(
                body,
                "  … and {} more (the full list: eod/{}.json)",
                list.len() - LISTED,
                r.trade_date
            );
        }
    }
    if let Some(e) = &r.export {
        match (&e.error, e.rows, e.bytes) {
            (None, Some(rows), Some(bytes)) => {
                let _ = write!(
                    body,
                    "\nExported: {rows} rows, {}, in {}.\n",
                    human_bytes(bytes),
                    e.dir.display()
                );
            }
            (error, _, _) => {
                let _ = write!(
                    body,
                    "\nThe export FAILED ({}): run `tickvault export --date {}`.\n",
                    error.as_deref().unwrap_or("no error recorded"),
                    r.trade_date
                );
            }
        }
    }
    if let Some(g) = growth {
        let _ = write!(body, "\nDatabase: {}", human_bytes(g.bytes));
        if let Some(d) = g.since_last {
            let sign = if d < 0 { "-" } else { "+" };
            let _ = write!(
                body,
                ", {sign}{} since the last end of day",
                human_bytes(d.unsigned_abs())
            );
        }
        if let Some(p) = g.per_day {
            let _ = write!(
                body,
                ", {} a day on average",
                human_bytes(p.max(0.0) as u64)
            );
        }
        if let Some(free) = g.disk_free {
            let _ = write!(body, ".\nDisk free: {}", human_bytes(free));
            if let Some(p) = g.per_day.filter(|p| *p > 0.0) {
                let _ = write!(
                    body,
                    " (about {:.0} trading days at this rate)",
                    free as f64 / p
                );
            }
        }
        body.push_str(".\n");
    }
    let subject = format!(
        "end of day {}: {} rows, {} silent, {} thin, {:.1} gap-minutes",
        r.trade_date,
        r.master_rows,
        r.silent_instruments.len(),
        r.thin_instruments.len(),
        r.gap_minutes
    );
    Alert {
        kind: AlertKind::EodSummary,
        about: r.trade_date.to_string(),
        subject,
        body,
    }
}

/// The alert for a close or end of day that failed: the daily rows are kept.
pub fn eod_failed_alert(date: NaiveDate, error: &str) -> Alert {
    Alert {
        kind: AlertKind::EodSummary,
        about: date.to_string(),
        subject: format!("end of day {date} FAILED"),
        body: format!(
            "Closing {date} failed: {error}\n\nThe day's rows are kept in the daily table and \
             the journals are kept: nothing is lost. Read the error (and \
             `journalctl -u tickvault`), fix the cause, then run \
             `tickvault eod --date {date}`, which picks up where it stopped.\n"
        ),
    }
}
