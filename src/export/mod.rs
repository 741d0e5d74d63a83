//! `tickvault export`: a date's ticks out of the database as files analysts open (Parquet by
//! default, or CSV), one Hive-style directory per date (`DIR/date=YYYY-MM-DD/part-0.parquet`),
//! rows by instrument then exchange time.
//!
//! - The date is read from the master, or from the daily table before its end of day (the
//!   report says which), one instrument at a time: memory holds one instrument's day at most.
//! - Parquet: zstd, row groups of up to a million rows, the columns of [`columns::schema`]
//!   (exact decimal prices, IST microsecond timestamps, nulls where Kite sent nothing).
//! - CSV: the same columns, RFC 3339 IST timestamps, decimals as text, gzip on request.
//! - Exact: the rows written are counted against the database's for the date (and filter); a
//!   difference fails the export and leaves the previous one in place. A re-export replaces the
//!   date's directory atomically (written aside, then renamed into place).

pub mod bar_columns;
pub mod columns;
mod csv;

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::bars::{Bar, Interval};
use crate::storage::Db;
use crate::storage::export::{self as sql, Source, StoredTick};
use columns::Instrument;

/// Rows per row group (readers like about a million).
pub const ROW_GROUP_ROWS: usize = 1_000_000;
/// Rows per Arrow batch handed to the writer.
const BATCH_ROWS: usize = 65_536;

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
    db: &mut Db,
    date: NaiveDate,
    out: &Path,
    options: &ExportOptions,
    progress: &mut dyn Progress,
) -> Result<DateExport, ExportError> {
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
    let counts: HashMap<i64, i64> = sql::counts(db, source, date)?.into_iter().collect();
    let tokens: Vec<i64> = sql::tokens(db, source, date)?
        .into_iter()
        .filter(|t| options.filter.is_empty() || admitted.contains(t))
        .collect();
    if tokens.is_empty() {
        return Err(ExportError::NoMatch(date));
    }
    let stored: u64 = tokens
        .iter()
        .map(|t| counts.get(t).copied().unwrap_or(0) as u64)
        .sum();
    let scale = columns::scale_for(sql::divisors(db, source, date)?);

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
    let written = write_file(
        db,
        source,
        date,
        &tokens,
        &instruments,
        scale,
        options,
        &path,
        stored,
        progress,
    );
    let (read, written) = match written {
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

/// Where rows go: a Parquet writer (with the batch being filled) or CSV.
enum Sink {
    Parquet {
        writer: ArrowWriter<File>,
        schema: std::sync::Arc<arrow_schema::Schema>,
        ticks: Vec<StoredTick>,
        bars: Vec<Bar>,
    },
    Csv(csv::Writer),
}

/// What one date's file holds and reads.
struct Write<'a> {
    sink: Sink,
    instruments: &'a HashMap<i64, Instrument>,
    scale: i8,
    bars: Option<Interval>,
    date: NaiveDate,
    /// The file (for errors).
    path: PathBuf,
    /// Ticks read from the database, and rows written (ticks, or bars).
    read: u64,
    written: u64,
}

impl Write<'_> {
    fn push(&mut self, rows: Vec<StoredTick>) -> Result<(), ExportError> {
        self.read += rows.len() as u64;
        let (instruments, scale, path) = (self.instruments, self.scale, &self.path);
        match self.bars {
            None => {
                self.written += rows.len() as u64;
                match &mut self.sink {
                    Sink::Parquet {
                        writer,
                        schema,
                        ticks,
                        ..
                    } => {
                        ticks.extend(rows);
                        if ticks.len() >= BATCH_ROWS {
                            writer.write(&columns::batch(ticks, instruments, scale, schema)?)?;
                            ticks.clear();
                        }
                    }
                    Sink::Csv(out) => {
                        for row in &rows {
                            out.row(row, instruments.get(&row.instrument_token))
                                .map_err(io(path))?;
                        }
                    }
                }
            }
            Some(interval) => {
                let built =
                    crate::bars::build(rows.iter().map(bar_columns::bar_tick), self.date, interval);
                self.written += built.len() as u64;
                match &mut self.sink {
                    Sink::Parquet {
                        writer,
                        schema,
                        bars,
                        ..
                    } => {
                        bars.extend(built);
                        if bars.len() >= BATCH_ROWS {
                            writer.write(&bar_columns::batch(bars, instruments, scale, schema)?)?;
                            bars.clear();
                        }
                    }
                    Sink::Csv(out) => {
                        for bar in &built {
                            out.bar(bar, instruments.get(&bar.instrument_token))
                                .map_err(io(path))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(self, path: &Path) -> Result<(), ExportError> {
        let (instruments, scale) = (self.instruments, self.scale);
        let file = match self.sink {
            Sink::Parquet {
                mut writer,
                schema,
                ticks,
                bars,
            } => {
                if !ticks.is_empty() {
                    writer.write(&columns::batch(&ticks, instruments, scale, &schema)?)?;
                }
                if !bars.is_empty() {
                    writer.write(&bar_columns::batch(&bars, instruments, scale, &schema)?)?;
                }
                writer.into_inner()?
            }
            Sink::Csv(out) => {
                out.finish().map_err(io(path))?;
                File::open(path).map_err(io(path))?
            }
        };
        file.sync_all().map_err(io(path))
    }
}

/// Writes the rows (or bars) of `tokens` into `path`; returns (ticks read, rows written).
#[allow(clippy::too_many_arguments)]
fn write_file(
    db: &mut Db,
    source: Source,
    date: NaiveDate,
    tokens: &[i64],
    instruments: &HashMap<i64, Instrument>,
    scale: i8,
    options: &ExportOptions,
    path: &Path,
    total: u64,
    progress: &mut dyn Progress,
) -> Result<(u64, u64), ExportError> {
    let file = File::create(path).map_err(io(path))?;
    let sink = match options.format {
        Format::Parquet => {
            let schema = match options.bars {
                None => columns::schema(scale),
                Some(_) => bar_columns::schema(scale),
            };
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .set_created_by(format!("tickvault {}", env!("CARGO_PKG_VERSION")))
                .build();
            Sink::Parquet {
                writer: ArrowWriter::try_new(file, schema.clone(), Some(props))?,
                schema,
                ticks: Vec::new(),
                bars: Vec::new(),
            }
        }
        Format::Csv => {
            let out: Box<dyn std::io::Write> = if options.gzip {
                Box::new(flate2::write::GzEncoder::new(
                    BufWriter::new(file),
                    flate2::Compression::default(),
                ))
            } else {
                Box::new(BufWriter::new(file))
            };
            let header = match options.bars {
                None => columns::names(),
                Some(_) => bar_columns::names(),
            };
            Sink::Csv(csv::Writer::new(out, header, scale).map_err(io(path))?)
        }
    };
    let mut w = Write {
        sink,
        instruments,
        scale,
        bars: options.bars,
        date,
        path: path.to_path_buf(),
        read: 0,
        written: 0,
    };
    for token in tokens {
        w.push(sql::rows(db, source, date, *token)?)?;
        progress.rows(w.read, total);
    }
    let counts = (w.read, w.written);
    w.finish(path)?;
    Ok(counts)
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
