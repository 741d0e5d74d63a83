//! Writing one date's file on every core. The date's instruments are cut into chunks of whole
//! instruments (a chunk is one Parquet row group, about a million rows); each worker thread has
//! its own database connection and takes the next chunk, reads it, builds its columns and
//! encodes them (zstd included) or writes its CSV text; the calling thread appends the finished
//! chunks to the file in order. A worker takes no chunk more than the workers' number plus
//! [`AHEAD`] past the last one appended, so memory holds a few encoded chunks, not the date.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::columns::Instrument;
use super::{ExportError, Format, Progress, bar_columns, columns, csv, io};
use crate::bars::{Bar, Interval};
use crate::storage::Store;
use crate::storage::export::{Reader, Source, StoredColumns, col};

/// Rows per chunk, at most (one row group; readers like about a million). An instrument with
/// more rows than this is a chunk of its own.
pub const ROW_GROUP_ROWS: u64 = 1_000_000;
/// How many chunks, beyond one per worker, may be finished ahead of the one the file waits for.
const AHEAD: usize = 2;

/// What one date's file holds.
pub(super) struct Job<'a> {
    pub source: Source,
    pub date: NaiveDate,
    /// The instruments with rows (ascending) and their rows.
    pub tokens: &'a [(i64, u64)],
    pub instruments: &'a HashMap<i64, Instrument>,
    pub scale: i8,
    pub bars: Option<Interval>,
    pub format: Format,
    pub gzip: bool,
}

/// A finished chunk.
enum Piece {
    /// Parquet: the row group's column chunks, encoded and compressed.
    RowGroup(Vec<ArrowColumnChunk>),
    /// CSV: the chunk's lines.
    Text(Vec<u8>),
}

struct Done {
    piece: Piece,
    /// Ticks read, rows written.
    read: u64,
    written: u64,
}

/// Cuts `tokens` into chunks of whole instruments of about the same size: as many as needed to
/// keep each at most `most` rows (unless one instrument is more), rounded up to a multiple of
/// `workers` so that the cores finish together.
fn chunks(tokens: &[(i64, u64)], workers: usize, most: u64) -> Vec<Vec<i64>> {
    let total: u64 = tokens.iter().map(|(_, n)| n).sum();
    let most = most.max(1);
    let mut count = total.div_ceil(most).max(1) as usize;
    count = count.div_ceil(workers) * workers;
    let target = total.div_ceil(count as u64).max(1);
    let mut out: Vec<Vec<i64>> = Vec::new();
    let mut current: Vec<i64> = Vec::new();
    let mut rows = 0u64;
    for (token, n) in tokens {
        if !current.is_empty() && (rows + n > most || rows + n / 2 > target) {
            out.push(std::mem::take(&mut current));
            rows = 0;
        }
        current.push(*token);
        rows += n;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The file's properties. Prices, receive times and the cumulative counters (volume, OI) are
/// delta-encoded: within an instrument in time order they move by small steps, and measured on
/// a recorded day this made their columns a half to a third of their dictionary-encoded size
/// (`docs/performance.md`, "Export"); everything else keeps the default dictionary encoding,
/// which suits the repeated names, quantities and order counts.
pub(super) fn properties(schema: &Schema) -> WriterProperties {
    const DELTA: [&str; 5] = [
        "received_at",
        "volume_traded",
        "oi",
        "oi_day_high",
        "volume",
    ];
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS as usize))
        .set_created_by(format!("tickvault {}", env!("CARGO_PKG_VERSION")));
    for field in schema.fields() {
        let decimal = matches!(field.data_type(), arrow_schema::DataType::Decimal128(..));
        if decimal || DELTA.contains(&field.name().as_str()) {
            let path = ColumnPath::from(field.name().as_str());
            builder = builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
        }
    }
    builder.build()
}

/// Where the chunks go, in order.
enum Out {
    Parquet(parquet::file::writer::SerializedFileWriter<File>),
    Csv(BufWriter<File>),
    /// Finished explicitly: dropping the encoder would write its trailer and ignore an error.
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
}

impl Out {
    fn text(&mut self) -> Option<&mut dyn std::io::Write> {
        match self {
            Out::Parquet(_) => None,
            Out::Csv(w) => Some(w),
            Out::Gzip(w) => Some(w),
        }
    }
}

/// Writes the job's file at `path` on up to `workers` threads (each with its own connection to
/// `store`'s database), row groups of at most `group_rows`; returns (ticks read, rows written).
pub(super) fn write(
    store: &Store,
    job: &Job<'_>,
    path: &Path,
    workers: usize,
    group_rows: u64,
    progress: &mut dyn Progress,
) -> Result<(u64, u64), ExportError> {
    let total: u64 = job.tokens.iter().map(|(_, n)| n).sum();
    let workers = workers.max(1);
    let chunks = chunks(job.tokens, workers, group_rows);
    let workers = workers.min(chunks.len());
    let readers = (0..workers)
        .map(|_| Reader::open(store))
        .collect::<Result<Vec<_>, _>>()?;
    let schema = match job.bars {
        None => super::columns::schema(job.scale),
        Some(_) => bar_columns::schema(job.scale),
    };
    let file = File::create(path).map_err(io(path))?;
    let (mut out, factory) = match job.format {
        Format::Parquet => {
            let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties(&schema)))?;
            let (writer, factory) = writer.into_serialized_writer()?;
            (Out::Parquet(writer), Some(factory))
        }
        Format::Csv => {
            let mut out = if job.gzip {
                Out::Gzip(flate2::write::GzEncoder::new(
                    BufWriter::new(file),
                    flate2::Compression::default(),
                ))
            } else {
                Out::Csv(BufWriter::new(file))
            };
            if let Some(text) = out.text() {
                csv::header(text, columns::names_of(&schema)).map_err(io(path))?;
            }
            (out, None)
        }
    };

    let shared = Shared {
        job,
        workers,
        chunks: &chunks,
        schema: &schema,
        factory: factory.as_ref(),
        next: AtomicUsize::new(0),
        appended: Mutex::new(0),
        moved: Condvar::new(),
        stop: AtomicBool::new(false),
        read: AtomicU64::new(0),
    };
    let (tx, rx) = sync_channel::<(usize, Result<Done, ExportError>)>(workers + AHEAD);
    let (read, written) = std::thread::scope(|scope| {
        for reader in readers {
            let (shared, tx) = (&shared, tx.clone());
            scope.spawn(move || shared.work(reader, tx));
        }
        drop(tx);
        let result = shared.append(&rx, &mut out, path, total, progress);
        // On an error the workers stop at their next instrument; nothing more is read.
        shared.halt();
        drop(rx);
        result
    })?;
    let file = match out {
        Out::Parquet(writer) => writer.into_inner()?,
        Out::Csv(out) => out.into_inner().map_err(|e| io(path)(e.into_error()))?,
        Out::Gzip(out) => out
            .finish()
            .map_err(io(path))?
            .into_inner()
            .map_err(|e| io(path)(e.into_error()))?,
    };
    file.sync_all().map_err(io(path))?;
    Ok((read, written))
}

/// What the workers and the appending thread share.
struct Shared<'a> {
    job: &'a Job<'a>,
    /// Worker threads.
    workers: usize,
    chunks: &'a [Vec<i64>],
    schema: &'a Arc<Schema>,
    factory: Option<&'a ArrowRowGroupWriterFactory>,
    /// The next chunk a worker takes.
    next: AtomicUsize,
    /// Chunks appended to the file so far, and its signal.
    appended: Mutex<usize>,
    moved: Condvar,
    stop: AtomicBool,
    /// Ticks read so far (the progress line).
    read: AtomicU64,
}

/// Halts the export if its worker panics (the others would wait at the gate for the chunk it
/// held, and the appending thread for them).
struct HaltOnPanic<'a, 'b>(&'a Shared<'b>);

impl Drop for HaltOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.halt();
        }
    }
}

impl Shared<'_> {
    /// Stops the workers at their next instrument or gate. `stop` is set under the gate's lock:
    /// a worker between its check and its wait cannot miss the signal.
    fn halt(&self) {
        {
            let _gate = self.appended.lock().unwrap_or_else(|e| e.into_inner());
            self.stop.store(true, Ordering::Relaxed);
        }
        self.moved.notify_all();
    }

    /// A worker: takes chunks until none is left (or the export stopped).
    fn work(&self, mut reader: Reader, tx: SyncSender<(usize, Result<Done, ExportError>)>) {
        let _halt = HaltOnPanic(self);
        let window = self.workers + AHEAD;
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            if index >= self.chunks.len() {
                return;
            }
            {
                let mut appended = self.appended.lock().unwrap_or_else(|e| e.into_inner());
                while index >= *appended + window && !self.stop.load(Ordering::Relaxed) {
                    appended = self.moved.wait(appended).unwrap_or_else(|e| e.into_inner());
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let done = self.chunk(&mut reader, index);
            let failed = done.is_err();
            if tx.send((index, done)).is_err() || failed {
                return;
            }
        }
    }

    /// Reads and encodes chunk `index`.
    fn chunk(&self, reader: &mut Reader, index: usize) -> Result<Done, ExportError> {
        let job = self.job;
        let (mut read, mut written) = (0u64, 0u64);
        let mut each = |on: &mut dyn FnMut(&StoredColumns) -> Result<(), ExportError>| {
            reader.each_instrument(job.source, job.date, &self.chunks[index], |rows| {
                if self.stop.load(Ordering::Relaxed) {
                    return Err(ExportError::Encode("stopped".into()));
                }
                read += rows.len() as u64;
                self.read.fetch_add(rows.len() as u64, Ordering::Relaxed);
                on(rows)
            })
        };
        let piece = match (job.format, job.bars) {
            (Format::Parquet, None) => {
                let mut writers = self.writers(index)?;
                each(&mut |rows| {
                    written += rows.len() as u64;
                    let token = rows.column(col::INSTRUMENT_TOKEN).first().copied();
                    let instrument = token.and_then(|t| job.instruments.get(&t));
                    encode(
                        &mut writers,
                        &columns::batch(rows, instrument, job.scale, self.schema)?,
                    )
                })?;
                close(writers)?
            }
            (Format::Parquet, Some(interval)) => {
                let mut bars: Vec<Bar> = Vec::new();
                each(&mut |rows| {
                    bars.extend(self.bars(rows, interval));
                    Ok(())
                })?;
                written = bars.len() as u64;
                let mut writers = self.writers(index)?;
                let batch = bar_columns::batch(&bars, job.instruments, job.scale, self.schema)?;
                encode(&mut writers, &batch)?;
                close(writers)?
            }
            (Format::Csv, bars) => {
                let mut text = csv::Writer::new(job.scale);
                let failed = |e: std::io::Error| ExportError::Encode(format!("CSV: {e}"));
                each(&mut |rows| {
                    match bars {
                        None => {
                            written += rows.len() as u64;
                            for r in rows.rows() {
                                text.row(&r, job.instruments.get(&r.instrument_token))
                                    .map_err(failed)?;
                            }
                        }
                        Some(interval) => {
                            for bar in self.bars(rows, interval) {
                                written += 1;
                                text.bar(&bar, job.instruments.get(&bar.instrument_token))
                                    .map_err(failed)?;
                            }
                        }
                    }
                    Ok(())
                })?;
                Piece::Text(text.finish().map_err(failed)?)
            }
        };
        Ok(Done {
            piece,
            read,
            written,
        })
    }

    fn bars(&self, rows: &StoredColumns, interval: Interval) -> Vec<Bar> {
        crate::bars::build(
            rows.rows().map(|r| bar_columns::bar_tick(&r)),
            self.job.date,
            interval,
        )
    }

    fn writers(&self, index: usize) -> Result<Vec<ArrowColumnWriter>, ExportError> {
        let factory = self
            .factory
            .ok_or_else(|| ExportError::Encode("no Parquet writer".into()))?;
        Ok(factory.create_column_writers(index)?)
    }

    /// The appending thread: every chunk in order into `out`; returns (ticks read, rows
    /// written).
    fn append(
        &self,
        rx: &std::sync::mpsc::Receiver<(usize, Result<Done, ExportError>)>,
        out: &mut Out,
        path: &Path,
        total: u64,
        progress: &mut dyn Progress,
    ) -> Result<(u64, u64), ExportError> {
        let (mut read, mut written) = (0u64, 0u64);
        let mut early: BTreeMap<usize, Done> = BTreeMap::new();
        for index in 0..self.chunks.len() {
            let done = loop {
                if let Some(done) = early.remove(&index) {
                    break done;
                }
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok((i, done)) => {
                        early.insert(i, done?);
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        progress.rows(self.read.load(Ordering::Relaxed), total)
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(ExportError::Encode(format!(
                            "a worker ended before chunk {index} of {}",
                            self.chunks.len()
                        )));
                    }
                }
            };
            match (&mut *out, done.piece) {
                (Out::Parquet(writer), Piece::RowGroup(columns)) => {
                    let mut group = writer.next_row_group()?;
                    for column in columns {
                        column.append_to_row_group(&mut group)?;
                    }
                    group.close()?;
                }
                (out, Piece::Text(text)) => out
                    .text()
                    .ok_or_else(|| ExportError::Encode("a CSV chunk for Parquet".into()))?
                    .write_all(&text)
                    .map_err(io(path))?,
                (_, Piece::RowGroup(_)) => {
                    return Err(ExportError::Encode("a Parquet chunk for CSV".into()));
                }
            }
            read += done.read;
            written += done.written;
            *self.appended.lock().unwrap_or_else(|e| e.into_inner()) = index + 1;
            self.moved.notify_all();
            progress.rows(self.read.load(Ordering::Relaxed), total);
        }
        Ok((read, written))
    }
}

/// Encodes a batch: each column into its writer.
fn encode(writers: &mut [ArrowColumnWriter], batch: &RecordBatch) -> Result<(), ExportError> {
    let schema = batch.schema();
    let mut writers = writers.iter_mut();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        for leaf in compute_leaves(field, column)? {
            let writer = writers
                .next()
                .ok_or_else(|| ExportError::Encode("more columns than writers".into()))?;
            writer.write(&leaf)?;
        }
    }
    Ok(())
}

fn close(writers: Vec<ArrowColumnWriter>) -> Result<Piece, ExportError> {
    Ok(Piece::RowGroup(
        writers
            .into_iter()
            .map(ArrowColumnWriter::close)
            .collect::<Result<_, _>>()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_whole_instruments_of_at_most_a_row_group_shared_by_the_workers() {
        let sizes = |tokens: &[(i64, u64)], chunks: &[Vec<i64>]| -> Vec<u64> {
            chunks
                .iter()
                .map(|c| {
                    c.iter()
                        .map(|t| tokens.iter().find(|(k, _)| k == t).map_or(0, |(_, n)| *n))
                        .sum()
                })
                .collect()
        };
        // 30 instruments of 100k rows: 3M rows.
        let tokens: Vec<(i64, u64)> = (1..=30).map(|t| (t, 100_000)).collect();
        for workers in [1, 2, 3] {
            let cut = chunks(&tokens, workers, ROW_GROUP_ROWS);
            assert_eq!(
                cut.concat(),
                (1..=30).collect::<Vec<_>>(),
                "in order, each once"
            );
            assert!(sizes(&tokens, &cut).iter().all(|n| *n <= ROW_GROUP_ROWS));
            assert_eq!(cut.len() % workers, 0, "{workers} workers: {cut:?}");
        }
        // One instrument larger than a row group is a chunk of its own.
        let big = [(1, 10), (2, 3_000_000), (3, 10)];
        let cut = chunks(&big, 1, ROW_GROUP_ROWS);
        assert_eq!(cut.concat(), vec![1, 2, 3]);
        assert!(cut.iter().any(|c| c == &vec![2]), "{cut:?}");
        // A small day on one worker is one chunk.
        assert_eq!(chunks(&[(7, 5), (9, 5)], 1, ROW_GROUP_ROWS).len(), 1);
        // Groups of at most 3 rows: every instrument of 2 rows alone or in pairs.
        let small: Vec<(i64, u64)> = (1..=9).map(|t| (t, 2)).collect();
        let cut = chunks(&small, 3, 3);
        assert_eq!(cut.concat(), (1..=9).collect::<Vec<_>>());
        assert!(sizes(&small, &cut).iter().all(|n| *n <= 3), "{cut:?}");
    }
}
