//! The end of day's bookkeeping: the daily and master counts it reports, and its runs
//! (`eod_runs`: begun, done, failed or interrupted), which make a rerun safe and a second run
//! of a done date a no-op.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::Dedupe;
use crate::on_backend;
use crate::storage::Db;
use crate::storage::schema::{daily_ticks, eod_days, eod_runs, ticks};

/// Daily rows of `date` (after a clear: the ones that arrived after the verification).
pub fn daily_rows(db: &mut Db, date: NaiveDate) -> QueryResult<u64> {
    let n: i64 = on_backend!(db, c => daily_ticks::table
        .filter(daily_ticks::trade_date.eq(date))
        .count()
        .get_result(c))?;
    Ok(n.max(0) as u64)
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
    let n: Option<i64> = on_backend!(db, c => eod_days::table
        .filter(eod_days::trade_date.eq(date))
        .select(eod_days::removed_rows)
        .first(c)
        .optional())?;
    Ok(n.unwrap_or(0).max(0) as u64)
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

/// Whether an end of day of `date` is done and nothing has come since (no daily rows left):
/// running it again would only repeat the report and the mail.
pub fn done_and_nothing_new(db: &mut Db, date: NaiveDate) -> QueryResult<bool> {
    // The latest run decides: one that failed after another was done is retried.
    Ok(run_statuses(db, date)?.last().is_some_and(|s| s == "done") && daily_rows(db, date)? == 0)
}

/// Whether the master holds any row of `date` (its primary key starts with the date).
pub fn master_has(db: &mut Db, date: NaiveDate) -> QueryResult<bool> {
    let n: i64 = on_backend!(db, c => ticks::table
        .filter(ticks::trade_date.eq(date))
        .select(ticks::seq)
        .limit(1)
        .load::<i64>(c))?
    .len() as i64;
    Ok(n > 0)
}

/// Which of `rows` (all of `date`) the master holds already: their (socket, seq).
pub fn in_master(
    db: &mut Db,
    date: NaiveDate,
    rows: &[crate::storage::models::NewTick],
) -> QueryResult<std::collections::HashSet<(i16, i64)>> {
    let mut found = std::collections::HashSet::new();
    // Chunks keep the statement's parameters well under SQLite's limit.
    for chunk in rows.chunks(2_000) {
        let tokens: std::collections::BTreeSet<i64> =
            chunk.iter().map(|r| r.instrument_token).collect();
        let tokens: Vec<i64> = tokens.into_iter().collect();
        let lo = chunk.iter().map(|r| r.seq).min().unwrap_or(0);
        let hi = chunk.iter().map(|r| r.seq).max().unwrap_or(0);
        let keys: Vec<(i16, i64)> = on_backend!(db, c => ticks::table
            .filter(ticks::trade_date.eq(date))
            .filter(ticks::instrument_token.eq_any(&tokens))
            .filter(ticks::seq.between(lo, hi))
            .select((ticks::socket, ticks::seq))
            .load(c))?;
        found.extend(keys);
    }
    Ok(found)
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
    use crate::storage::schema::instruments::dsl;
    let rows: Vec<(i64, String)> = on_backend!(db, c => dsl::instruments
        .filter(dsl::trade_date.eq(date))
        .select((dsl::instrument_token, dsl::tradingsymbol))
        .load(c))?;
    Ok(rows.into_iter().map(|(t, s)| (t as u32, s)).collect())
}
