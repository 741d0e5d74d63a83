//! The end of day's SQL: dedupe the daily table, move a date's rows into the master table
//! (`ticks`), verify, clear, and keep the run's record. Every function works on one instrument
//! of one date in one transaction, so a run killed at any point can simply be run again: the
//! dedupe finds nothing more to remove, the move inserts nothing twice (`INSERT IGNORE` on the
//! master's key), and the counts live in `eod_instruments` beside the work they count.
//!
//! The move is `INSERT … SELECT` inside the database (no row travels through tickvault), one
//! instrument per statement, so no statement holds the server for long.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date};

use super::schema::{daily_ticks, eod_instruments, eod_runs, ticks};
use super::{Db, on_backend};

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
const ALL_COLUMNS: &str = "trade_date, socket, seq, instrument_token, recv_time_us, exchange_time, \
    last_trade_time, `mode`, price_divisor, last_price, last_quantity, average_price, volume, \
    buy_quantity, sell_quantity, `open`, high, low, `close`, net_change, oi, oi_day_high, \
    oi_day_low, bid1_quantity, bid1_price, bid1_orders, bid2_quantity, bid2_price, bid2_orders, \
    bid3_quantity, bid3_price, bid3_orders, bid4_quantity, bid4_price, bid4_orders, \
    bid5_quantity, bid5_price, bid5_orders, ask1_quantity, ask1_price, ask1_orders, \
    ask2_quantity, ask2_price, ask2_orders, ask3_quantity, ask3_price, ask3_orders, \
    ask4_quantity, ask4_price, ask4_orders, ask5_quantity, ask5_price, ask5_orders";

/// The columns that make two ticks of one instrument the same market event.
const MARKET_COLUMNS: &str = "exchange_time, last_trade_time, `mode`, price_divisor, last_price, \
    last_quantity, average_price, volume, buy_quantity, sell_quantity, `open`, high, low, \
    `close`, net_change, oi, oi_day_high, oi_day_low, bid1_quantity, bid1_price, bid1_orders, \
    bid2_quantity, bid2_price, bid2_orders, bid3_quantity, bid3_price, bid3_orders, \
    bid4_quantity, bid4_price, bid4_orders, bid5_quantity, bid5_price, bid5_orders, \
    ask1_quantity, ask1_price, ask1_orders, ask2_quantity, ask2_price, ask2_orders, \
    ask3_quantity, ask3_price, ask3_orders, ask4_quantity, ask4_price, ask4_orders, \
    ask5_quantity, ask5_price, ask5_orders";

/// Backtick-quoted identifiers are MySQL's; SQLite accepts them too.
fn dedupe_sql(mode: Dedupe, mysql: bool) -> Option<String> {
    let (partition, order, only_timed) = match mode {
        Dedupe::None => return None,
        Dedupe::Exact => (
            MARKET_COLUMNS.to_string(),
            "recv_time_us, socket, seq",
            true,
        ),
        Dedupe::PerSecond => {
            let div = if mysql { "DIV" } else { "/" };
            (
                format!("COALESCE(exchange_time, recv_time_us {div} 1000000)"),
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
        "DELETE FROM daily_ticks WHERE trade_date = ? AND instrument_token = ? AND (socket, seq) IN \
         (SELECT socket, seq FROM (SELECT socket, seq, ROW_NUMBER() OVER (PARTITION BY {partition} \
         ORDER BY {order}) AS rn FROM daily_ticks WHERE trade_date = ? AND instrument_token = ?{timed}) \
         ranked WHERE rn > 1)"
    ))
}

/// The instruments with rows in the daily table on `date`, in token order.
pub fn daily_instruments(db: &mut Db, date: NaiveDate) -> QueryResult<Vec<i64>> {
    use daily_ticks::dsl;
    on_backend!(db, c => dsl::daily_ticks
        .filter(dsl::trade_date.eq(date))
        .select(dsl::instrument_token)
        .distinct()
        .order(dsl::instrument_token)
        .load(c))
}

/// Rows of `date` in the daily table.
pub fn daily_rows(db: &mut Db, date: NaiveDate) -> QueryResult<i64> {
    use daily_ticks::dsl;
    on_backend!(db, c => dsl::daily_ticks
        .filter(dsl::trade_date.eq(date))
        .count()
        .get_result(c))
}

/// Removes `token`'s duplicates on `date` as `mode` says and adds their number to its
/// `eod_instruments` row (created here), in one transaction. Returns the rows removed.
pub fn dedupe_instrument(
    db: &mut Db,
    date: NaiveDate,
    token: i64,
    mode: Dedupe,
) -> QueryResult<u64> {
    let mysql = matches!(db, Db::Mysql(_));
    let sql = dedupe_sql(mode, mysql);
    on_backend!(db, c => c.transaction(|c| {
        let removed = match &sql {
            Some(sql) => diesel::sql_query(sql.as_str())
                .bind::<Date, _>(date)
                .bind::<BigInt, _>(token)
                .bind::<Date, _>(date)
                .bind::<BigInt, _>(token)
                .execute(c)? as i64,
            None => 0,
        };
        let key = eod_instruments::table
            .filter(eod_instruments::trade_date.eq(date))
            .filter(eod_instruments::instrument_token.eq(token));
        let known: i64 = key.count().get_result(c)?;
        if known == 0 {
            diesel::insert_into(eod_instruments::table)
                .values((
                    eod_instruments::trade_date.eq(date),
                    eod_instruments::instrument_token.eq(token),
                    eod_instruments::removed_rows.eq(removed),
                    eod_instruments::moved_rows.eq(None::<i64>),
                ))
                .execute(c)?;
        } else if removed > 0 {
            diesel::update(key)
                .set(eod_instruments::removed_rows.eq(eod_instruments::removed_rows + removed))
                .execute(c)?;
        }
        Ok(removed as u64)
    }))
}

/// Copies `token`'s daily rows on `date` into the master (rows already there are skipped) and
/// records the master's count for it, in one transaction. Returns the rows inserted.
pub fn move_instrument(db: &mut Db, date: NaiveDate, token: i64) -> QueryResult<u64> {
    let verb = match db {
        Db::Sqlite(_) => "INSERT OR IGNORE",
        Db::Mysql(_) => "INSERT IGNORE",
    };
    let sql = format!(
        "{verb} INTO ticks ({ALL_COLUMNS}) SELECT {ALL_COLUMNS} FROM daily_ticks \
         WHERE trade_date = ? AND instrument_token = ?"
    );
    on_backend!(db, c => c.transaction(|c| {
        let inserted = diesel::sql_query(sql.as_str())
            .bind::<Date, _>(date)
            .bind::<BigInt, _>(token)
            .execute(c)?;
        let in_master: i64 = ticks::table
            .filter(ticks::trade_date.eq(date))
            .filter(ticks::instrument_token.eq(token))
            .count()
            .get_result(c)?;
        diesel::update(
            eod_instruments::table
                .filter(eod_instruments::trade_date.eq(date))
                .filter(eod_instruments::instrument_token.eq(token)),
        )
        .set(eod_instruments::moved_rows.eq(Some(in_master)))
        .execute(c)?;
        Ok(inserted as u64)
    }))
}

/// How `token`'s rows on `date` compare: (daily rows, master rows, daily rows missing from the
/// master). The move is verified when nothing is missing and the counts agree.
pub fn compare_instrument(
    db: &mut Db,
    date: NaiveDate,
    token: i64,
) -> QueryResult<(i64, i64, i64)> {
    #[derive(QueryableByName)]
    struct Missing {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = "SELECT COUNT(*) AS n FROM daily_ticks d WHERE d.trade_date = ? AND \
               d.instrument_token = ? AND NOT EXISTS (SELECT 1 FROM ticks m WHERE \
               m.trade_date = d.trade_date AND m.instrument_token = d.instrument_token AND \
               m.socket = d.socket AND m.seq = d.seq)";
    on_backend!(db, c => {
        let daily: i64 = daily_ticks::table
            .filter(daily_ticks::trade_date.eq(date))
            .filter(daily_ticks::instrument_token.eq(token))
            .count()
            .get_result(c)?;
        let master: i64 = ticks::table
            .filter(ticks::trade_date.eq(date))
            .filter(ticks::instrument_token.eq(token))
            .count()
            .get_result(c)?;
        let missing = diesel::sql_query(sql)
            .bind::<Date, _>(date)
            .bind::<BigInt, _>(token)
            .get_result::<Missing>(c)?
            .n;
        Ok((daily, master, missing))
    })
}

/// Deletes `token`'s daily rows on `date`. Returns the rows deleted.
pub fn clear_instrument(db: &mut Db, date: NaiveDate, token: i64) -> QueryResult<u64> {
    use daily_ticks::dsl;
    on_backend!(db, c => diesel::delete(
        dsl::daily_ticks
            .filter(dsl::trade_date.eq(date))
            .filter(dsl::instrument_token.eq(token)),
    )
    .execute(c))
    .map(|n| n as u64)
}

/// Master rows per instrument on `date`.
pub fn master_rows_per_token(db: &mut Db, date: NaiveDate) -> QueryResult<HashMap<u32, u64>> {
    use diesel::dsl::count_star;
    let counts: Vec<(i64, i64)> = on_backend!(db, c => ticks::table
        .filter(ticks::trade_date.eq(date))
        .group_by(ticks::instrument_token)
        .select((ticks::instrument_token, count_star()))
        .load(c))?;
    Ok(counts
        .into_iter()
        .map(|(t, n)| (t as u32, n as u64))
        .collect())
}

/// Rows the dedupe removed on `date`, over every run.
pub fn removed_rows(db: &mut Db, date: NaiveDate) -> QueryResult<u64> {
    // Summed here: SQL's SUM of a BIGINT is a decimal on MySQL.
    let each: Vec<i64> = on_backend!(db, c => eod_instruments::table
        .filter(eod_instruments::trade_date.eq(date))
        .select(eod_instruments::removed_rows)
        .load(c))?;
    Ok(each.iter().map(|n| (*n).max(0) as u64).sum())
}

/// Starts a run's record: earlier runs of `date` still marked `running` were killed, and are
/// marked `interrupted`. Returns the new run's id.
pub fn begin_run(
    db: &mut Db,
    date: NaiveDate,
    dedupe: Dedupe,
    started_at_us: i64,
) -> QueryResult<i32> {
    use eod_runs::dsl;
    on_backend!(db, c => c.transaction(|c| {
        diesel::update(dsl::eod_runs.filter(dsl::trade_date.eq(date)).filter(dsl::status.eq("running")))
            .set(dsl::status.eq("interrupted"))
            .execute(c)?;
        diesel::insert_into(dsl::eod_runs)
            .values((
                dsl::trade_date.eq(date),
                dsl::started_at_us.eq(started_at_us),
                dsl::status.eq("running"),
                dsl::dedupe.eq(dedupe.as_str()),
            ))
            .execute(c)?;
        dsl::eod_runs
            .filter(dsl::trade_date.eq(date))
            .select(diesel::dsl::max(dsl::id))
            .get_result::<Option<i32>>(c)
            .map(|id| id.unwrap_or(0))
    }))
}

/// A finished run's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// `done` or `failed`.
    pub status: &'static str,
    /// When it ended, µs since the epoch.
    pub finished_at_us: i64,
    /// Master rows of the date.
    pub master_rows: i64,
    /// Rows the dedupe removed.
    pub removed_rows: i64,
    /// Instruments with rows.
    pub instruments: i32,
    /// Minutes in the gap ledger.
    pub gap_minutes: f64,
    /// How long it took.
    pub duration_ms: i64,
    /// The report, JSON.
    pub report: String,
}

/// Closes run `id` with its figures.
pub fn finish_run(db: &mut Db, id: i32, record: &RunRecord) -> QueryResult<()> {
    use eod_runs::dsl;
    on_backend!(db, c => diesel::update(dsl::eod_runs.filter(dsl::id.eq(id)))
        .set((
            dsl::status.eq(record.status),
            dsl::finished_at_us.eq(Some(record.finished_at_us)),
            dsl::master_rows.eq(Some(record.master_rows)),
            dsl::removed_rows.eq(Some(record.removed_rows)),
            dsl::instruments.eq(Some(record.instruments)),
            dsl::gap_minutes.eq(Some(record.gap_minutes)),
            dsl::duration_ms.eq(Some(record.duration_ms)),
            dsl::report.eq(Some(record.report.as_str())),
        ))
        .execute(c))
    .map(|_| ())
}

/// The statuses of `date`'s runs, oldest first.
pub fn run_statuses(db: &mut Db, date: NaiveDate) -> QueryResult<Vec<String>> {
    use eod_runs::dsl;
    on_backend!(db, c => dsl::eod_runs
        .filter(dsl::trade_date.eq(date))
        .order(dsl::id)
        .select(dsl::status)
        .load(c))
}

/// The date's instrument snapshot: token → trading symbol.
pub fn instrument_symbols(
    db: &mut Db,
    date: NaiveDate,
) -> QueryResult<std::collections::BTreeMap<u32, String>> {
    use super::schema::instruments::dsl;
    let rows: Vec<(i64, String)> = on_backend!(db, c => dsl::instruments
        .filter(dsl::trade_date.eq(date))
        .select((dsl::instrument_token, dsl::tradingsymbol))
        .load(c))?;
    Ok(rows.into_iter().map(|(t, s)| (t as u32, s)).collect())
}
