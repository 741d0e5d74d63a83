//! The end of day's SQL: dedupe the daily table, move a date's rows into the master table
//! (`ticks`), verify, clear, and keep the run's record. Every function works on one chunk of
//! instruments (a token range, [`Chunk`]; the clear: a stretch of one socket's row keys,
//! [`ClearPart`]) of one date in one transaction, so a run killed at any point can simply be
//! run again: the dedupe finds nothing more to remove, the move inserts nothing twice
//! (`INSERT IGNORE` on the master's key), the removal count lives in `eod_days`, added to in
//! the same transaction as the removal, and the verified master counts live in `eod_verified`,
//! so a rerun after a partial clear (or a second run of a date) verifies against them.
//!
//! The move is `INSERT … SELECT` inside the database (no row travels through tickvault), one
//! chunk of about [`CHUNK_ROWS`] rows per statement, so no statement holds the server for long.

mod runs;

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date};

use super::models::{NewTick, quoted};
use super::schema::{daily_ticks, eod_days, eod_verified, ticks};
use super::{Db, on_backend};
pub use runs::*;

/// What the end of day removes before the move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dedupe {
    /// Exact duplicates: same instrument, exchange timestamp and every market field (ticks
    /// without an exchange timestamp, ltp and quote mode, are never taken for duplicates).
    Exact,
    /// Only the last tick of each second per instrument (by exchange time, else receive time).
    PerSecond,
    /// Keep every row.
    None,
}

impl Dedupe {
    /// Its settings name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dedupe::Exact => "exact",
            Dedupe::PerSecond => "per_second",
            Dedupe::None => "none",
        }
    }

    /// Parses a settings value.
    pub fn parse(s: &str) -> Option<Dedupe> {
        match s {
            "exact" => Some(Dedupe::Exact),
            "per_second" => Some(Dedupe::PerSecond),
            "none" => Some(Dedupe::None),
            _ => None,
        }
    }
}

/// Every column of a tick row, in table order (the daily table and the master share them).
fn all_columns() -> String {
    quoted(&NewTick::COLUMNS)
}

/// The columns that make two ticks of one instrument the same market event: the instrument and
/// everything after the receive time (exchange time, prices, quantities, depth).
fn market_columns() -> String {
    let market: Vec<&str> = NewTick::COLUMNS
        .iter()
        .copied()
        .skip_while(|c| *c != "exchange_time")
        .collect();
    format!("`instrument_token`, {}", quoted(&market))
}

/// Backtick-quoted identifiers are MySQL's; SQLite accepts them too.
fn dedupe_sql(mode: Dedupe, mysql: bool) -> Option<String> {
    let (partition, order, only_timed) = match mode {
        Dedupe::None => return None,
        Dedupe::Exact => (market_columns(), "recv_time_us, socket, seq", true),
        Dedupe::PerSecond => {
            let div = if mysql { "DIV" } else { "/" };
            (
                format!("instrument_token, COALESCE(exchange_time, recv_time_us {div} 1000000)"),
                "recv_time_us DESC, socket DESC, seq DESC",
                false,
            )
        }
    };
    let timed = if only_timed {
        " AND exchange_time IS NOT NULL"
    } else {
        ""
    };
    Some(format!(
        "DELETE FROM daily_ticks WHERE trade_date = ? AND instrument_token BETWEEN ? AND ? AND \
         (socket, seq) IN (SELECT socket, seq FROM (SELECT socket, seq, ROW_NUMBER() OVER \
         (PARTITION BY {partition} ORDER BY {order}) AS rn FROM daily_ticks WHERE trade_date = ? \
         AND instrument_token BETWEEN ? AND ?{timed}) ranked WHERE rn > 1)"
    ))
}

/// The index the end of day works through (a date's token ranges). The daily table carries no
/// token index during the day (it is the write path, appended in socket order); the run builds
/// this one in a single sort, and [`unindex_daily`] drops it when the run is done.
pub fn index_daily(db: &mut Db) -> QueryResult<()> {
    const CREATE: &str =
        "CREATE INDEX daily_ticks_eod ON daily_ticks (trade_date, instrument_token)";
    match db {
        Db::Sqlite(c) => c.batch_execute(&CREATE.replace("INDEX", "INDEX IF NOT EXISTS")),
        #[cfg(feature = "mysql")]
        Db::Mysql(c) => {
            if !mysql_has_eod_index(c)? {
                c.batch_execute(CREATE)?;
            }
            Ok(())
        }
    }
}

/// Drops the end of day's index (see [`index_daily`]).
pub fn unindex_daily(db: &mut Db) -> QueryResult<()> {
    match db {
        Db::Sqlite(c) => c.batch_execute("DROP INDEX IF EXISTS daily_ticks_eod"),
        #[cfg(feature = "mysql")]
        Db::Mysql(c) => {
            if mysql_has_eod_index(c)? {
                c.batch_execute("DROP INDEX daily_ticks_eod ON daily_ticks")?;
            }
            Ok(())
        }
    }
}

/// Whether the end of day's index exists (MySQL has no `CREATE INDEX IF NOT EXISTS`; MariaDB
/// has, but one path serves both).
#[cfg(feature = "mysql")]
fn mysql_has_eod_index(c: &mut diesel::mysql::MysqlConnection) -> QueryResult<bool> {
    let n: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
        "(SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() \
         AND table_name = 'daily_ticks' AND index_name = 'daily_ticks_eod')",
    ))
    .get_result(c)?;
    Ok(n > 0)
}

/// Rows per chunk the end of day aims for.
pub const CHUNK_ROWS: u64 = 100_000;

/// Instruments `first..=last` (tokens) of one date, processed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// First token.
    pub first: i64,
    /// Last token.
    pub last: i64,
    /// Daily rows in it when planned.
    pub rows: u64,
    /// Instruments in it.
    pub instruments: usize,
}

/// Splits `date`'s daily rows into token ranges of about `chunk_rows` rows (an instrument is
/// never split; one with more rows is a chunk of its own).
pub fn plan_chunks(db: &mut Db, date: NaiveDate, chunk_rows: u64) -> QueryResult<Vec<Chunk>> {
    use diesel::dsl::count_star;
    let counts: Vec<(i64, i64)> = on_backend!(db, c => daily_ticks::table
        .filter(daily_ticks::trade_date.eq(date))
        .group_by(daily_ticks::instrument_token)
        .select((daily_ticks::instrument_token, count_star()))
        .order(daily_ticks::instrument_token)
        .load(c))?;
    let mut chunks: Vec<Chunk> = Vec::new();
    for (token, n) in counts {
        match chunks.last_mut() {
            Some(c) if c.rows + n as u64 <= chunk_rows.max(1) => {
                c.last = token;
                c.rows += n as u64;
                c.instruments += 1;
            }
            _ => chunks.push(Chunk {
                first: token,
                last: token,
                rows: n as u64,
                instruments: 1,
            }),
        }
    }
    Ok(chunks)
}

/// Removes the chunk's duplicates as `mode` says and adds their number to `eod_days`, in one
/// transaction. Returns the rows removed.
pub fn dedupe_chunk(db: &mut Db, date: NaiveDate, chunk: Chunk, mode: Dedupe) -> QueryResult<u64> {
    let mysql = db.is_mysql();
    let Some(sql) = dedupe_sql(mode, mysql) else {
        return Ok(0);
    };
    on_backend!(db, c => c.transaction(|c| {
        let removed = diesel::sql_query(sql.as_str())
            .bind::<Date, _>(date)
            .bind::<BigInt, _>(chunk.first)
            .bind::<BigInt, _>(chunk.last)
            .bind::<Date, _>(date)
            .bind::<BigInt, _>(chunk.first)
            .bind::<BigInt, _>(chunk.last)
            .execute(c)? as i64;
        if removed > 0 {
            let day = eod_days::table.filter(eod_days::trade_date.eq(date));
            let known: i64 = day.count().get_result(c)?;
            if known == 0 {
                diesel::insert_into(eod_days::table)
                    .values((eod_days::trade_date.eq(date), eod_days::removed_rows.eq(removed)))
                    .execute(c)?;
            } else {
                diesel::update(day)
                    .set(eod_days::removed_rows.eq(eod_days::removed_rows + removed))
                    .execute(c)?;
            }
        }
        Ok(removed as u64)
    }))
}

/// Copies the chunk's daily rows into the master (rows already there are skipped), in one
/// statement. Returns the rows inserted.
pub fn move_chunk(db: &mut Db, date: NaiveDate, chunk: Chunk) -> QueryResult<u64> {
    let verb = match db {
        Db::Sqlite(_) => "INSERT OR IGNORE",
        #[cfg(feature = "mysql")]
        Db::Mysql(_) => "INSERT IGNORE",
    };
    let all = all_columns();
    let sql = format!(
        "{verb} INTO ticks ({all}) SELECT {all} FROM daily_ticks \
         WHERE trade_date = ? AND instrument_token BETWEEN ? AND ?"
    );
    on_backend!(db, c => diesel::sql_query(sql.as_str())
        .bind::<Date, _>(date)
        .bind::<BigInt, _>(chunk.first)
        .bind::<BigInt, _>(chunk.last)
        .execute(c))
    .map(|n| n as u64)
}

/// An instrument whose master rows do not match its daily rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// The instrument.
    pub token: i64,
    /// Its daily rows.
    pub daily: i64,
    /// Its master rows.
    pub master: i64,
    /// Its master rows an earlier run of the date verified.
    pub verified: i64,
    /// Daily rows not in the master.
    pub missing: i64,
}

/// Checks the chunk's move: every daily row is in the master (same key), and per instrument
/// the master holds no more rows than an earlier run verified plus the daily rows, and no fewer
/// than that run verified (on a first run: exactly the daily rows). Returns the instruments
/// that fail and the daily rows checked; when none fails, records the master counts as
/// verified, in the same transaction.
pub fn verify_chunk(
    db: &mut Db,
    date: NaiveDate,
    chunk: Chunk,
) -> QueryResult<(Vec<Mismatch>, u64)> {
    use diesel::dsl::count_star;
    #[derive(QueryableByName)]
    struct Missing {
        #[diesel(sql_type = BigInt)]
        instrument_token: i64,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = "SELECT d.instrument_token AS instrument_token, COUNT(*) AS n FROM daily_ticks d \
               WHERE d.trade_date = ? AND d.instrument_token BETWEEN ? AND ? AND NOT EXISTS \
               (SELECT 1 FROM ticks m WHERE m.trade_date = d.trade_date AND \
               m.instrument_token = d.instrument_token AND m.socket = d.socket AND m.seq = d.seq) \
               GROUP BY d.instrument_token";
    on_backend!(db, c => c.transaction(|c| {
        let counts = |rows: Vec<(i64, i64)>| rows.into_iter().collect::<HashMap<i64, i64>>();
        let daily = counts(daily_ticks::table
            .filter(daily_ticks::trade_date.eq(date))
            .filter(daily_ticks::instrument_token.between(chunk.first, chunk.last))
            .group_by(daily_ticks::instrument_token)
            .select((daily_ticks::instrument_token, count_star()))
            .load::<(i64, i64)>(c)?);
        let master = counts(ticks::table
            .filter(ticks::trade_date.eq(date))
            .filter(ticks::instrument_token.between(chunk.first, chunk.last))
            .group_by(ticks::instrument_token)
            .select((ticks::instrument_token, count_star()))
            .load::<(i64, i64)>(c)?);
        let verified = counts(eod_verified::table
            .filter(eod_verified::trade_date.eq(date))
            .filter(eod_verified::instrument_token.between(chunk.first, chunk.last))
            .select((eod_verified::instrument_token, eod_verified::master_rows))
            .load::<(i64, i64)>(c)?);
        let missing: HashMap<i64, i64> = diesel::sql_query(sql)
            .bind::<Date, _>(date)
            .bind::<BigInt, _>(chunk.first)
            .bind::<BigInt, _>(chunk.last)
            .load::<Missing>(c)?
            .into_iter()
            .map(|m| (m.instrument_token, m.n))
            .collect();
        let get = |m: &HashMap<i64, i64>, t: &i64| m.get(t).copied().unwrap_or(0);
        let mut bad: Vec<Mismatch> = daily
            .iter()
            .map(|(t, d)| Mismatch {
                token: *t,
                daily: *d,
                master: get(&master, t),
                verified: get(&verified, t),
                missing: get(&missing, t),
            })
            .filter(|m| m.missing > 0 || m.master > m.verified + m.daily || m.master < m.verified)
            .collect();
        if bad.is_empty() {
            let rows: Vec<_> = daily
                .keys()
                .map(|t| (
                    eod_verified::trade_date.eq(date),
                    eod_verified::instrument_token.eq(*t),
                    eod_verified::master_rows.eq(get(&master, t)),
                ))
                .collect();
            diesel::replace_into(eod_verified::table).values(&rows).execute(c)?;
        }
        bad.sort_unstable_by_key(|m| m.token);
        Ok((bad, daily.values().sum::<i64>().max(0) as u64))
    }))
}

/// A stretch of one socket's daily rows of a date (in the table's key order), cleared together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearPart {
    /// The socket.
    pub socket: i16,
    /// First row key.
    pub first_seq: i64,
    /// Last row key.
    pub last_seq: i64,
}

/// Splits `date`'s daily rows up to each socket's `high_water` key into [`ClearPart`]s of about
/// `chunk_rows` rows: evenly over each socket's row keys, which follow the journal's bytes.
/// Sockets without a mark (rows that arrived after the run began) are left out.
pub fn plan_clear(
    db: &mut Db,
    date: NaiveDate,
    chunk_rows: u64,
    high_water: &HashMap<i16, i64>,
) -> QueryResult<Vec<ClearPart>> {
    use diesel::dsl::{count_star, max, min};
    let spans: Vec<(i16, Option<i64>, Option<i64>, i64)> = on_backend!(db, c => daily_ticks::table
        .filter(daily_ticks::trade_date.eq(date))
        .group_by(daily_ticks::socket)
        .select((daily_ticks::socket, min(daily_ticks::seq), max(daily_ticks::seq), count_star()))
        .order(daily_ticks::socket)
        .load(c))?;
    let mut parts = Vec::new();
    for (socket, lo, hi, rows) in spans {
        let (Some(lo), Some(hi), Some(mark)) = (lo, hi, high_water.get(&socket)) else {
            continue;
        };
        let hi = hi.min(*mark);
        if hi < lo {
            continue;
        }
        let n = (rows as u64).div_ceil(chunk_rows.max(1)).max(1) as i64;
        let width = ((hi - lo) / n).max(1);
        let mut first = lo;
        while first <= hi {
            let last = if first.saturating_add(width) > hi {
                hi
            } else {
                first + width - 1
            };
            parts.push(ClearPart {
                socket,
                first_seq: first,
                last_seq: last,
            });
            first = last + 1;
        }
    }
    Ok(parts)
}

/// The highest row key per socket among `date`'s daily rows (a primary-key lookup per socket).
/// Rows the live pipeline adds later have higher keys (journal offsets only grow).
pub fn high_water(db: &mut Db, date: NaiveDate) -> QueryResult<HashMap<i16, i64>> {
    use diesel::dsl::max;
    let rows: Vec<(i16, Option<i64>)> = on_backend!(db, c => daily_ticks::table
        .filter(daily_ticks::trade_date.eq(date))
        .group_by(daily_ticks::socket)
        .select((daily_ticks::socket, max(daily_ticks::seq)))
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, m)| Some((s, m?)))
        .collect())
}

/// How the clear makes sure it deletes only moved rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearGuard {
    /// Every row up to the run's high-water marks was verified (the daily count did not change
    /// since): delete the key range, nothing else to check.
    Range,
    /// Rows arrived while the run was verifying: delete only rows the master holds (a lookup
    /// per row).
    InMaster,
}

/// Deletes the part's daily rows (see [`ClearGuard`]), walking the table's own key, so no
/// index is kept up to date on the way. Returns the rows deleted.
pub fn clear_part(
    db: &mut Db,
    date: NaiveDate,
    part: ClearPart,
    guard: ClearGuard,
) -> QueryResult<u64> {
    let check = match guard {
        ClearGuard::Range => "",
        ClearGuard::InMaster => {
            " AND EXISTS (SELECT 1 FROM ticks m WHERE m.trade_date = daily_ticks.trade_date AND \
             m.instrument_token = daily_ticks.instrument_token AND \
             m.socket = daily_ticks.socket AND m.seq = daily_ticks.seq)"
        }
    };
    let sql = format!(
        "DELETE FROM daily_ticks WHERE trade_date = ? AND socket = ? AND seq BETWEEN ? AND ?{check}"
    );
    on_backend!(db, c => diesel::sql_query(sql.as_str())
        .bind::<Date, _>(date)
        .bind::<diesel::sql_types::SmallInt, _>(part.socket)
        .bind::<BigInt, _>(part.first_seq)
        .bind::<BigInt, _>(part.last_seq)
        .execute(c))
    .map(|n| n as u64)
}
