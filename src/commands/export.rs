//! `tickvault export --date D [--to D2] [--symbol S…] [--underlying U…] [--segment X…]
//! [--format parquet|csv] [--gzip] [--bars I] [--jobs N] [--out DIR]`: each date's ticks as
//! files (see [`crate::export`]). A line per date says where its rows came from (the master, or the daily
//! table before the end of day), how many, and that they are exactly the database's; on a
//! terminal a progress line with rows per second and an estimate of the time left runs meanwhile.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::anyhow;
use chrono::NaiveDate;

use super::Failure;
use crate::export::{ExportError, ExportOptions, Filter, Format, export_date};
use crate::settings::Settings;
use crate::storage::Store;

/// Arguments of `tickvault export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The (first) trading date to export.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// The last date of a range (each stored date in it is exported; others are skipped).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<NaiveDate>,
    /// Only this trading symbol (repeat for more).
    #[arg(long = "symbol", value_name = "SYMBOL")]
    pub symbols: Vec<String>,
    /// Only instruments of this underlying, the dump's `name` (repeat for more).
    #[arg(long = "underlying", value_name = "NAME")]
    pub underlyings: Vec<String>,
    /// Only this segment, as the dump names it: NFO-OPT, NSE, INDICES, … (repeat for more).
    #[arg(long = "segment", value_name = "SEGMENT")]
    pub segments: Vec<String>,
    /// The file format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    pub format: Format,
    /// CSV only: gzip each file (`part-0.csv.gz`).
    #[arg(long)]
    pub gzip: bool,
    /// Bars of this interval instead of ticks: one row per instrument per interval (1m, 5m,
    /// 15m, 1h, aligned to 09:15 IST; an interval without a tick has no row).
    #[arg(long, value_name = "INTERVAL")]
    pub bars: Option<crate::bars::Interval>,
    /// Threads reading and encoding at once, each with its own database connection (default:
    /// one per core).
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub jobs: usize,
    /// Where the `date=YYYY-MM-DD` directories go (default: `<data_dir>/export/ticks`, or
    /// `bars_1m` … with `--bars`, and `…_csv` for CSV).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: &ExportArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    let to = args.to.unwrap_or(args.date);
    if to < args.date {
        return Err(Failure::Usage(anyhow!(
            "--to {to} is before --date {}",
            args.date
        )));
    }
    if args.gzip && args.format != Format::Csv {
        return Err(Failure::Usage(anyhow!("--gzip is for --format csv")));
    }
    // One dataset per kind and format: readers take a directory of like files.
    let mut dataset = match args.bars {
        None => "ticks".to_string(),
        Some(interval) => format!("bars_{}", interval.as_str()),
    };
    if args.format == Format::Csv {
        dataset.push_str("_csv");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| settings.paths.data_dir.join("export").join(dataset));
    let options = ExportOptions {
        format: args.format,
        gzip: args.gzip,
        filter: Filter {
            symbols: args.symbols.clone(),
            underlyings: args.underlyings.clone(),
            segments: args.segments.clone(),
        },
        bars: args.bars,
        workers: args.jobs,
        group_rows: 0,
    };
    let url = settings.storage.parsed_url()?;
    let mut store = Store::open(&url).map_err(|e| Failure::Unavailable(anyhow!("{e}")))?;
    let terminal = std::io::stderr().is_terminal();
    let (mut exported, mut total) = (0usize, 0u64);
    for date in args.date.iter_days().take_while(|d| *d <= to) {
        let started = Instant::now();
        let mut last_drawn = Instant::now();
        let mut progress = |rows: u64, of: u64| {
            if !terminal || last_drawn.elapsed().as_millis() < 200 {
                return;
            }
            last_drawn = Instant::now();
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            let rate = rows as f64 / secs;
            let left = of.saturating_sub(rows) as f64 / rate.max(1.0);
            eprint!(
                "\r{date}  {rows:>12} of {of} rows  {rate:>10.0} rows/s  about {left:.0} s left   "
            );
            let _ = std::io::stderr().flush();
        };
        match export_date(&mut store, date, &out, &options, &mut progress) {
            Ok(done) => {
                if terminal {
                    eprint!("\r{:78}\r", "");
                }
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                let bars = match args.bars {
                    Some(i) => format!("{} {} bars from ", done.written, i.as_str()),
                    None => String::new(),
                };
                println!(
                    "{date}  from the {}  {bars}{} rows of {} instruments (exactly the database's)  {:.1} MB  {:.0} rows/s  {:.1} MB/s  → {}",
                    done.source.as_str(),
                    done.rows,
                    done.instruments,
                    done.bytes as f64 / 1e6,
                    done.rows as f64 / secs,
                    done.bytes as f64 / 1e6 / secs,
                    done.file.display()
                );
                exported += 1;
                total += done.rows;
            }
            // In a range, a date with nothing stored (a holiday) is skipped.
            Err(ExportError::NothingFor(_)) if args.to.is_some() => {
                println!("{date}  nothing stored: skipped");
            }
            Err(e @ (ExportError::NothingFor(_) | ExportError::NoMatch(_))) => {
                return Err(Failure::Usage(anyhow!("{e}")));
            }
            Err(e @ ExportError::Storage(_)) => return Err(Failure::Unavailable(anyhow!("{e}"))),
            Err(e @ ExportError::Mismatch { .. }) => return Err(Failure::Software(anyhow!("{e}"))),
            Err(e @ (ExportError::Io { .. } | ExportError::Encode(_))) => {
                return Err(Failure::Other(anyhow!("{e}")));
            }
        }
    }
    if exported == 0 {
        return Err(Failure::Usage(anyhow!(
            "nothing is stored from {} to {to}",
            args.date
        )));
    }
    if exported > 1 {
        println!("{exported} dates, {total} rows, in {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
