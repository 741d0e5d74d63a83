//! MySQL/MariaDB's batch path (the `mysql` feature): `LOAD DATA LOCAL INFILE` over one or two
//! connections, `INSERT IGNORE` statements when the server refuses local files.

use std::io::{Seek, Write};

use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::super::models::{Cell, NewTick, Position};
use super::super::schema::{daily_ticks, journal_positions};
use super::{column_list, db_error};

/// Rows per multi-row INSERT on MySQL when local files are refused: 53 columns × 1,000 rows stay
/// under its 65,535 placeholders.
const MYSQL_ROWS_PER_STATEMENT: usize = 1_000;

/// Batches at least this long are split over two connections on MySQL.
const MYSQL_SPLIT_ROWS: usize = 2_000;

/// One `LOAD DATA` stream: a reusable temporary file and its text.
#[derive(Default)]
struct Loader {
    file: Option<tempfile::NamedTempFile>,
    text: Vec<u8>,
}

/// MySQL's loader: the main stream (on the store's connection, inside the batch's transaction),
/// a second connection with its own stream for the other half of long batches, and whether the
/// server takes local files.
pub(in crate::storage) struct MysqlBulk {
    main: Loader,
    /// The second connection and its stream (opened on the first long batch; dropped after an
    /// error, reopened on the next).
    side: Option<(MysqlConnection, Loader)>,
    /// To open the second connection (password included: never shown).
    url: String,
    local_infile: bool,
}

impl MysqlBulk {
    pub(in crate::storage) fn new(url: &str) -> MysqlBulk {
        MysqlBulk {
            main: Loader::default(),
            side: None,
            url: url.to_string(),
            local_infile: true,
        }
    }

    /// `load_data`, or `insert_statements` once the server refused local files.
    pub(in crate::storage) fn path(&self) -> &'static str {
        if self.local_infile {
            "load_data"
        } else {
            "insert_statements"
        }
    }

    /// Forgets the second connection (the server restarted).
    pub(in crate::storage) fn reset(&mut self) {
        self.side = None;
    }

    /// See [`super::commit_batch`]. A batch of [`MYSQL_SPLIT_ROWS`] or more loads in two halves
    /// at once: the second half through the second connection (its own autocommitted
    /// statement), the first half and the journal positions in the main transaction, which
    /// commits only after the second half is in. A failure of either leaves the positions
    /// where they were; the rows of a half that did go in are skipped when the batch is
    /// retried, so nothing is lost or doubled.
    pub(in crate::storage) fn commit(
        &mut self,
        c: &mut MysqlConnection,
        rows: &[NewTick],
        positions: &[Position],
    ) -> Result<usize, DieselError> {
        let split = self.local_infile && rows.len() >= MYSQL_SPLIT_ROWS && self.open_side();
        let result = c.transaction(|c| {
            let inserted = if split {
                self.insert_split(c, rows)?
            } else {
                self.insert(c, rows)?
            };
            for position in positions {
                diesel::replace_into(journal_positions::table)
                    .values(position)
                    .execute(c)?;
            }
            Ok(inserted)
        });
        if result.is_err() {
            self.side = None;
        }
        result
    }

    /// Opens the second connection if it is not open; false when it cannot be.
    fn open_side(&mut self) -> bool {
        if self.side.is_none() {
            match MysqlConnection::establish(&self.url) {
                Ok(conn) => self.side = Some((conn, Loader::default())),
                Err(e) => {
                    tracing::debug!(error = %crate::storage::redact(&e.to_string()), "no second loader connection; this batch goes in one stream");
                    return false;
                }
            }
        }
        true
    }

    /// Both halves at once (see [`MysqlBulk::commit`]).
    fn insert_split(
        &mut self,
        c: &mut MysqlConnection,
        rows: &[NewTick],
    ) -> Result<usize, DieselError> {
        let (first, second) = rows.split_at(rows.len() / 2);
        let Some((side_conn, side_loader)) = self.side.as_mut() else {
            return self.insert(c, rows);
        };
        let main = &mut self.main;
        let (a, b) = std::thread::scope(|scope| {
            let side = scope.spawn(|| side_loader.load(side_conn, second));
            let a = main.load(c, first);
            let b = side
                .join()
                .unwrap_or_else(|_| Err(db_error("the second loader stopped".into())));
            (a, b)
        });
        match (a, b) {
            (Ok(a), Ok(b)) => Ok(a + b),
            (Err(e), _) | (_, Err(e)) if refused(&e) => {
                tracing::warn!(
                    error = %e,
                    "the server refuses LOAD DATA LOCAL INFILE (local_infile=OFF?); batches go in multi-row INSERT statements, which are slower"
                );
                self.local_infile = false;
                self.side = None;
                insert_statements(c, rows)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }

    fn insert(&mut self, c: &mut MysqlConnection, rows: &[NewTick]) -> Result<usize, DieselError> {
        if rows.is_empty() {
            return Ok(0);
        }
        if self.local_infile {
            match self.main.load(c, rows) {
                Ok(n) => return Ok(n),
                Err(e) if refused(&e) => {
                    tracing::warn!(
                        error = %e,
                        "the server refuses LOAD DATA LOCAL INFILE (local_infile=OFF?); batches go in multi-row INSERT statements, which are slower"
                    );
                    self.local_infile = false;
                }
                Err(e) => return Err(e),
            }
        }
        insert_statements(c, rows)
    }
}

impl Loader {
    /// `LOAD DATA` of `rows` through `c`; returns the rows inserted. When the temporary file
    /// cannot be written, the rows go in `INSERT` statements.
    fn load(&mut self, c: &mut MysqlConnection, rows: &[NewTick]) -> Result<usize, DieselError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let statement = match self.write_file(rows) {
            Ok(statement) => statement,
            Err(e) => {
                tracing::warn!(error = %e, "cannot write the LOAD DATA file; this batch goes in INSERT statements");
                return insert_statements(c, rows);
            }
        };
        // ROW_COUNT() is read in the same text batch: a prepared statement in between would
        // reset it.
        c.batch_execute(&format!("{statement}; SET @tickvault_loaded = ROW_COUNT()"))?;
        let n: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "CAST(@tickvault_loaded AS SIGNED)",
        ))
        .get_result(c)?;
        Ok(n.max(0) as usize)
    }

    /// Writes `rows` as the loader's text into the temporary file; returns the statement.
    fn write_file(&mut self, rows: &[NewTick]) -> std::io::Result<String> {
        self.text.clear();
        for row in rows {
            for (i, cell) in row.cells().iter().enumerate() {
                if i > 0 {
                    self.text.push(b'\t');
                }
                write_cell(&mut self.text, cell);
            }
            self.text.push(b'\n');
        }
        if self.file.is_none() {
            self.file = Some(
                tempfile::Builder::new()
                    .prefix("tickvault-load-")
                    .suffix(".tsv")
                    .tempfile()?,
            );
        }
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("no temporary file"));
        };
        let f = file.as_file_mut();
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(&self.text)?;
        f.flush()?;
        let path = file
            .path()
            .to_string_lossy()
            .replace('\\', "\\\\")
            .replace('\'', "\\'");
        Ok(format!(
            "LOAD DATA LOCAL INFILE '{path}' IGNORE INTO TABLE daily_ticks CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
            column_list()
        ))
    }
}

/// The loader's text for one value: `\N` for NULL, tabs, newlines and backslashes escaped.
fn write_cell(out: &mut Vec<u8>, cell: &Cell<'_>) {
    match *cell {
        Cell::Null => out.extend_from_slice(b"\\N"),
        Cell::Int(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        Cell::Date(d) => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        }
        Cell::Text(s) => {
            for b in s.bytes() {
                match b {
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b => out.push(b),
                }
            }
        }
    }
}

/// Whether `e` says local files are not allowed (rather than the server or the data failing).
fn refused(e: &DieselError) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("not allowed")
        || text.contains("local data is disabled")
        || text.contains("local_infile")
}

/// The fallback: multi-row `INSERT IGNORE`, one round trip per thousand rows.
fn insert_statements(c: &mut MysqlConnection, rows: &[NewTick]) -> Result<usize, DieselError> {
    let mut inserted = 0;
    for chunk in rows.chunks(MYSQL_ROWS_PER_STATEMENT) {
        inserted += diesel::insert_or_ignore_into(daily_ticks::table)
            .values(chunk)
            .execute(c)?;
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn loader_text_escapes_and_marks_nulls() {
        let mut out = Vec::new();
        for cell in [
            Cell::Null,
            Cell::Int(-42),
            Cell::Text("a\tb\nc\\d"),
            Cell::Date(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()),
        ] {
            write_cell(&mut out, &cell);
            out.push(b'|');
        }
        assert_eq!(out, b"\\N|-42|a\\tb\\nc\\\\d|2026-01-02|");
    }
}
