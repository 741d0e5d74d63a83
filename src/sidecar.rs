//! What a day's journal directory keeps beside the frames: the socket gaps as JSON lines
//! (`gaps.jsonl`) and the day's instrument snapshot (`instruments.json`). The persister writes
//! them beside its database rows and the ingest role's ledger instead of them; a rebuilt
//! database and `tickvault replay` read them back ([`restore`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::capture::journal::journal_dir;
use crate::storage::models::{NewGap, NewInstrument};

/// `<data_dir>/journal/<date>/gaps.jsonl`.
pub fn gaps_path(data_dir: &Path, date: NaiveDate) -> PathBuf {
    journal_dir(data_dir, date).join("gaps.jsonl")
}

/// `<data_dir>/journal/<date>/instruments.json`.
pub fn instruments_path(data_dir: &Path, date: NaiveDate) -> PathBuf {
    journal_dir(data_dir, date).join("instruments.json")
}

/// Reads a gaps file written by the ledger (missing file: none); lines that do not parse are
/// skipped with a warning.
pub fn read_gaps(path: &Path) -> std::io::Result<Vec<NewGap>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut gaps = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<NewGap>(line) {
            Ok(g) => gaps.push(g),
            Err(e) => {
                tracing::warn!(path = %path.display(), line = i + 1, error = %e, "skipped a gap line")
            }
        }
    }
    Ok(gaps)
}

/// Appends `gap` to `date`'s gaps file (fsynced: it is part of the record).
pub fn append_gap_file(data_dir: &Path, date: NaiveDate, gap: &NewGap) -> std::io::Result<()> {
    let path = gaps_path(data_dir, date);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(gap).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    f.write_all(&line)?;
    f.sync_data()
}

/// Writes `date`'s instrument snapshot file; the day's snapshot is the union of every plan
/// of the day (`rows` first, then those only the file had).
pub fn save_instruments_file(
    data_dir: &Path,
    date: NaiveDate,
    rows: &[NewInstrument],
) -> std::io::Result<()> {
    let path = instruments_path(data_dir, date);
    let json = serde_json::to_vec(rows).map_err(std::io::Error::other)?;
    crate::files::write_atomically(&path, &json)
}

/// Adds `rows` to `date`'s snapshot file (the union of the day's plans: `rows` replace the
/// file's rows of their instruments).
pub fn merge_instruments_file(
    data_dir: &Path,
    date: NaiveDate,
    rows: &[NewInstrument],
) -> std::io::Result<()> {
    let mut all = read_instruments(&instruments_path(data_dir, date))?;
    let new: std::collections::HashSet<i64> = rows.iter().map(|r| r.instrument_token).collect();
    all.retain(|r| !new.contains(&r.instrument_token));
    all.extend_from_slice(rows);
    all.sort_by_key(|r| r.instrument_token);
    save_instruments_file(data_dir, date, &all)
}

/// Reads `date`'s instrument snapshot file (none: empty).
pub fn read_instruments(path: &Path) -> std::io::Result<Vec<NewInstrument>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// What the journal directory `dir` keeps beside the frames — the gaps and the instrument
/// snapshot — into `store` for `date`. Returns (gaps added, instruments saved).
pub fn restore(
    store: &mut crate::storage::Store,
    dir: &Path,
    date: NaiveDate,
) -> Result<(usize, usize), String> {
    let gaps = read_gaps(&dir.join("gaps.jsonl")).map_err(|e| format!("the gaps file: {e}"))?;
    let mut added = 0;
    for gap in gaps.iter().filter(|g| g.trade_date == date) {
        if crate::storage::record_gap_once(store.conn(), gap).map_err(|e| e.to_string())? {
            added += 1;
        }
    }
    let rows = read_instruments(&dir.join("instruments.json"))
        .map_err(|e| format!("the instruments file: {e}"))?;
    if !rows.is_empty() {
        crate::storage::save_instruments(store.conn(), date, &rows).map_err(|e| e.to_string())?;
    }
    Ok((added, rows.len()))
}
