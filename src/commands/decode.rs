//! `tickvault decode FILE`: every tick of a capture file as one JSON object per line, in order
//! (or counts by packet kind with `--stats`).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};

use super::Failure;
use crate::capture::{CaptureError, CaptureReader, HEADER_LEN, Next, RecordHeader, RecordKind};
use crate::kite::{PacketKind, TickJson, parse_message};

/// Arguments of `tickvault decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Capture file to read (KITECAP1 format; a journal file works too).
    pub file: PathBuf,

    /// Report corrupt records on stderr and carry on with the next good record.
    #[arg(long)]
    pub skip_corrupt: bool,

    /// Print counts by record and packet kind instead of the ticks.
    #[arg(long)]
    pub stats: bool,
}

/// What was found in a capture.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Whole records with a good CRC.
    pub records: u64,
    /// Records holding a binary message.
    pub binary_records: u64,
    /// Records holding a text message.
    pub text_records: u64,
    /// Binary messages of one byte.
    pub heartbeats: u64,
    /// Ticks, by packet kind (in [`PacketKind::ALL`] order).
    pub packets: [u64; 5],
    /// Records skipped as corrupt (a bad CRC or header: the file is damaged there).
    pub corrupt_records: u64,
    /// Whole records whose payload is not a Kite message (kept by the service on purpose: what
    /// the feed sent, even when it does not decode); reported and skipped.
    pub undecodable: u64,
    /// Bytes passed over while looking for the next good record after corruption.
    pub skipped_bytes: u64,
    /// Offset of a torn final record, if the file ends inside one.
    pub torn_at: Option<u64>,
}

impl Stats {
    /// All ticks.
    pub fn ticks(&self) -> u64 {
        self.packets.iter().sum()
    }

    fn print(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{:<22}{:>12}", "records", self.records)?;
        writeln!(out, "{:<22}{:>12}", "  binary", self.binary_records)?;
        writeln!(out, "{:<22}{:>12}", "  text", self.text_records)?;
        writeln!(out, "{:<22}{:>12}", "heartbeats", self.heartbeats)?;
        writeln!(out, "{:<22}{:>12}", "ticks", self.ticks())?;
        for (kind, n) in PacketKind::ALL.iter().zip(self.packets) {
            writeln!(out, "  {:<20}{:>12}", kind.as_str(), n)?;
        }
        writeln!(
            out,
            "{:<22}{:>12}",
            "undecodable messages", self.undecodable
        )?;
        writeln!(out, "{:<22}{:>12}", "corrupt records", self.corrupt_records)?;
        writeln!(out, "{:<22}{:>12}", "skipped bytes", self.skipped_bytes)?;
        match self.torn_at {
            Some(at) => writeln!(out, "{:<22}{:>12}", "torn record at byte", at),
            None => Ok(()),
        }
    }
}

/// Runs the command.
pub fn run(args: &DecodeArgs) -> Result<ExitCode, Failure> {
    let file = File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))
        .map_err(Failure::NoInput)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = decode(
        BufReader::with_capacity(1 << 20, file),
        &args.file,
        args,
        &mut out,
    );
    let result = result.and_then(|stats| {
        if args.stats {
            stats
                .print(&mut out)
                .map_err(|e| Failure::Other(e.into()))?;
        }
        out.flush().map_err(|e| Failure::Other(e.into()))?;
        Ok(stats)
    });
    match result {
        Ok(stats) => {
            if stats.corrupt_records > 0 || stats.undecodable > 0 {
                tracing::warn!(
                    file = %args.file.display(),
                    corrupt_records = stats.corrupt_records,
                    undecodable = stats.undecodable,
                    skipped_bytes = stats.skipped_bytes,
                    "skipped records"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        // `tickvault decode f | head` is not an error.
        Err(Failure::Other(e))
            if e.downcast_ref::<io::Error>().map(io::Error::kind)
                == Some(io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
    }
}

/// Reads every record of `input`, writing JSON lines to `out` (unless `--stats`).
pub fn decode<R: Read + Seek>(
    input: R,
    path: &Path,
    args: &DecodeArgs,
    out: &mut impl Write,
) -> Result<Stats, Failure> {
    let mut reader = CaptureReader::new(input).map_err(|e| corrupt(path, e))?;
    let mut stats = Stats::default();
    let mut payload = Vec::with_capacity(64 * 1024);
    loop {
        let header = match reader.next_into(&mut payload) {
            Ok(Next::Record(header)) => header,
            Ok(Next::End) => break,
            Ok(Next::Torn(torn)) => {
                tracing::warn!(
                    file = %path.display(),
                    offset = torn.offset,
                    bytes = torn.available,
                    "the capture ends inside a record (still being written, or cut short)"
                );
                stats.torn_at = Some(torn.offset);
                break;
            }
            Err(CaptureError::Io(e)) => {
                return Err(Failure::Other(
                    anyhow!(e).context(format!("reading {}", path.display())),
                ));
            }
            Err(e) => {
                stats.corrupt_records += 1;
                if !args.skip_corrupt {
                    return Err(corrupt(path, e));
                }
                tracing::warn!(file = %path.display(), offset = e.offset(), "skipping: {e}");
                continue;
            }
        };
        stats.records += 1;
        match header.kind {
            RecordKind::Text => stats.text_records += 1,
            RecordKind::Binary => {
                stats.binary_records += 1;
                if let Err(e) = write_ticks(&header, &payload, args.stats, &mut stats, out) {
                    match e {
                        TickError::Io(e) => return Err(Failure::Other(e.into())),
                        // The record is sound; the frame is what the feed sent. Reported and
                        // skipped, as replay does: only a damaged record stops the decode.
                        TickError::Decode(message) => {
                            stats.undecodable += 1;
                            tracing::warn!(file = %path.display(), "skipping: {message}");
                        }
                    }
                }
            }
        }
    }
    stats.skipped_bytes = reader.skipped_bytes();
    Ok(stats)
}

enum TickError {
    Io(io::Error),
    Decode(String),
}

fn write_ticks(
    header: &RecordHeader,
    payload: &[u8],
    count_only: bool,
    stats: &mut Stats,
    out: &mut impl Write,
) -> Result<(), TickError> {
    let message = parse_message(payload).map_err(|e| {
        TickError::Decode(format!(
            "undecodable message in the record at byte {}: {e} (byte {} of the file)",
            header.offset,
            header.offset + HEADER_LEN as u64 + e.offset() as u64
        ))
    })?;
    if payload.len() == 1 {
        stats.heartbeats += 1;
    }
    for tick in message.packets() {
        let kind = PacketKind::ALL
            .iter()
            .position(|k| *k == tick.kind)
            .unwrap_or(0);
        stats.packets[kind] += 1;
        if !count_only {
            let json = TickJson {
                tick: &tick,
                recv_time_us: Some(header.recv_time_us),
                tradingsymbol: None,
            };
            serde_json::to_writer(&mut *out, &json).map_err(|e| TickError::Io(e.into()))?;
            out.write_all(b"\n").map_err(TickError::Io)?;
        }
    }
    Ok(())
}

fn corrupt(path: &Path, e: CaptureError) -> Failure {
    match e {
        CaptureError::Io(io) => {
            Failure::Other(anyhow!(io).context(format!("reading {}", path.display())))
        }
        other => Failure::Data(anyhow!("{}: {other}", path.display())),
    }
}
