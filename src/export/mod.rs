//! `tickvault export`: a date's ticks out of the database as files analysts open (Parquet by
//! default, or CSV), one Hive-style directory per date (`DIR/date=YYYY-MM-DD/part-0.parquet`),
//! rows by instrument then exchange time.
//!
//! - The date is read from the master, or from the daily table before its end of day (the
//!   report says which), on every core: chunks of whole instruments, each read, built and
//!   encoded by a worker with its own connection, appended in order ([`write`]). Memory holds
//!   one instrument's day and a few encoded chunks.
//! - Parquet: zstd, a row group per chunk (up to a million rows), the columns of
//!   [`columns::schema`] (exact decimal prices, IST microsecond timestamps, nulls where Kite
//!   sent nothing), prices, receive times and cumulative counters delta-encoded.
//! - CSV: the same columns, RFC 3339 IST timestamps, decimals as text, gzip on request.
//! - Exact: the rows written are counted against the database's for the date (and filter); a
//!   difference fails the export and leaves the previous one in place. A re-export replaces the
//!   date's directory atomically (written aside, then renamed into place).

pub mod bar_columns;
pub mod columns;
mod csv;
mod write;

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::bars::Interval;
use crate::storage::Store;
use crate::storage::export::{self as sql, Source};
use columns::Instrument;

pub use write::ROW_GROUP_ROWS;

/// The file format (`[export] format`, `--format`).
pub use crate::settings::export::ExportFormat as Format;

/// Which instruments: all when every list is empty, else those any list names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Trading symbols (`NIFTY25DEC24000CE`).
    pub symbols: Vec<String>,
    /// Underlyings, the dump's `name` (`NIFTY`, `RELIANCE`).
    pub underlyings: Vec<String>,
    /// Segments (`NFO-OPT`, `NSE`, `INDICES`).
    pub segments: Vec<String>,
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.symbols.is_empty() && self.underlyings.is_empty() && self.segments.is_empty()
    }

    fn admits(&self, (_, _, symbol, segment, name): &sql::SnapshotRow) -> bool {
        self.is_empty()
            || self.symbols.contains(symbol)
            || self.underlyings.contains(name)
            || self.segments.contains(segment)
    }
}

/// How to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Parquet or CSV.
    pub format: Format,
    /// CSV only: gzip the file.
    pub gzip: bool,
    /// Which instruments.
    pub filter: Filter,
    /// Bars of this interval instead of ticks.
    pub bars: Option<Interval>,
    /// Worker threads (each with its own database connection); 0 is one per core.
    pub workers: usize,
    /// Rows per Parquet row group (and per worker's chunk), at most; 0 is
    /// [`ROW_GROUP_ROWS`]. An instrument with more is a group of its own.
    pub group_rows: u64,
}

/// One date's export.
#[derive(Debug, Clone, PartialEq)]
pub struct DateExport {
    /// The date.
    pub date: NaiveDate,
    /// Where its rows came from.
    pub source: Source,
    /// Its directory.
    pub dir: PathBuf,
    /// The file in it.
    pub file: PathBuf,
    /// Ticks read, equal to the rows the database holds for it (and the filter).
    pub rows: u64,
    /// Rows written: the ticks, or the bars.
    pub written: u64,
    /// Instruments written.
    pub instruments: usize,
    /// The file's size.
    pub bytes: u64,
}

/// Why an export failed; each is a decision for the command (an exit status).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Neither the master nor the daily table has the date.
    #[error("nothing is stored for {0}")]
    NothingFor(NaiveDate),
    /// The filter names nothing recorded that day.
    #[error("no instrument of {0} matches the filter")]
    NoMatch(NaiveDate),
    /// The database failed.
    #[error("the database: {0}")]
    Storage(#[from] diesel::result::Error),
    /// Writing the files failed.
    #[error("writing {path}: {error}")]
    Io {
        /// What was being written.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The Parquet or Arrow library refused.
    #[error("encoding: {0}")]
    Encode(String),
    /// The rows written are not the database's (nothing was replaced).
    #[error("{date}: {written} rows written but the database holds {stored}; nothing replaced")]
    Mismatch {
        /// The date.
        date: NaiveDate,
        /// Rows written.
        written: u64,
        /// Rows stored.
        stored: u64,
    },
}

impl From<parquet::errors::ParquetError> for ExportError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        ExportError::Encode(e.to_string())
    }
}

impl From<arrow_schema::ArrowError> for ExportError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        ExportError::Encode(e.to_string())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |error| ExportError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Progress while a date is written: rows written so far of `total`.
pub trait Progress {
    /// `rows` of `total` written.
    fn rows(&mut self, rows: u64, total: u64);
}

impl<F: FnMut(u64, u64)> Progress for F {
    fn rows(&mut self, rows: u64, total: u64) {
        self(rows, total)
    }
}

/// `date=YYYY-MM-DD` under `out`.
pub fn date_dir(out: &Path, date: NaiveDate) -> PathBuf {
    out.join(format!("date={date}"))
}

/// Exports `date` into `out` (see the module's description).
pub fn export_date(
    store: &mut Store,
    date: NaiveDate,
    out: &Path,
    options: &ExportOptions,
    progress: &mut dyn Progress,
) -> Result<DateExport, ExportError> {
    let db = store.conn();
    let source = sql::source_of(db, date)?.ok_or(ExportError::NothingFor(date))?;
    let snapshot = sql::snapshot(db, date)?;
    let instruments: HashMap<i64, Instrument> = snapshot
        .iter()
        .map(|(token, exchange, symbol, segment, _)| {
            (
                *token,
                Instrument {
                    exchange: exchange.clone(),
                    tradingsymbol: symbol.clone(),
                    segment: segment.clone(),
                },
            )
        })
        .collect();
    let admitted: BTreeSet<i64> = snapshot
        .iter()
        .filter(|row| options.filter.admits(row))
        .map(|row| row.0)
        .collect();
    let tokens: Vec<(i64, u64)> = sql::counts(db, source, date)?
        .into_iter()
        .filter(|(t, _)| options.filter.is_empty() || admitted.contains(t))
        .map(|(t, n)| (t, u64::try_from(n).unwrap_or(0)))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    if tokens.is_empty() {
        return Err(ExportError::NoMatch(date));
    }
    let stored: u64 = tokens.iter().map(|(_, n)| n).sum();
    let scale = columns::scale_of_tokens(tokens.iter().map(|(t, _)| *t));

    std::fs::create_dir_all(out).map_err(io(out))?;
    let dir = date_dir(out, date);
    let aside = out.join(format!(".date={date}.partial-{}", std::process::id()));
    if aside.exists() {
        std::fs::remove_dir_all(&aside).map_err(io(&aside))?;
    }
    std::fs::create_dir(&aside).map_err(io(&aside))?;
    let name = match (options.format, options.gzip) {
        (Format::Parquet, _) => "part-0.parquet",
        (Format::Csv, false) => "part-0.csv",
        (Format::Csv, true) => "part-0.csv.gz",
    };
    let path = aside.join(name);
    let job = write::Job {
        source,
        date,
        tokens: &tokens,
        instruments: &instruments,
        scale,
        bars: options.bars,
        format: options.format,
        gzip: options.gzip,
    };
    let workers = match options.workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let group_rows = match options.group_rows {
        0 => ROW_GROUP_ROWS,
        n => n,
    };
    let (read, written) = match write::write(store, &job, &path, workers, group_rows, progress) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&aside);
            return Err(e);
        }
    };
    if read != stored {
        let _ = std::fs::remove_dir_all(&aside);
        return Err(ExportError::Mismatch {
            date,
            written: read,
            stored,
        });
    }
    let bytes = std::fs::metadata(&path).map_err(io(&path))?.len();
    replace(&aside, &dir)?;
    Ok(DateExport {
        date,
        source,
        file: dir.join(name),
        dir,
        rows: read,
        written,
        instruments: tokens.len(),
        bytes,
    })
}

/// Puts the directory written aside in place of `dir`: the old one (if any) is moved away
/// first, then the new one renamed in, then the old one removed; a crash leaves either.
fn replace(aside: &Path, dir: &Path) -> Result<(), ExportError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let old = parent.join(format!(
        ".{}.old-{}",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("date"),
        std::process::id()
    ));
    let had = dir.exists();
    if had {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(aside, dir).map_err(io(dir))?;
    if had {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(io(parent))?;
    Ok(())
}
