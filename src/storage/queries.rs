//! The queries the pipeline runs on either backend: the batch commit (through each backend's
//! fast path), the committed journal positions, the instrument snapshot, the gap ledger and the
//! per-instrument counts.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::models::{Gap, NewGap, NewInstrument, NewTick, Position};
use super::{Db, SQLITE_ROWS_PER_STATEMENT, Store, bulk, on_backend, schema};
use crate::capture::JournalKey;

/// Inserts `rows` (skipping any already stored: replays are idempotent) and moves each socket's
/// committed journal position, in one transaction. Returns the rows inserted.
pub fn commit_batch(
    store: &mut Store,
    rows: &[NewTick],
    positions: &[Position],
) -> QueryResult<usize> {
    match (&mut store.bulk, &mut store.db) {
        (bulk::Bulk::Sqlite(b), Db::Sqlite(_)) => b.commit(rows, positions),
        #[cfg(feature = "mysql")]
        (bulk::Bulk::Mysql(b), Db::Mysql(c)) => b.commit(c, rows, positions),
        // Both are built from the same URL in `Store::open`; say so rather than panic.
        #[cfg(feature = "mysql")]
        _ => Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new("the store's batch path and connection disagree on the backend".to_string()),
        )),
    }
}

/// The committed offset of each journal file of `date`.
pub fn positions(db: &mut Db, date: NaiveDate) -> QueryResult<HashMap<JournalKey, u64>> {
    use schema::journal_positions::dsl;
    let rows: Vec<Position> = on_backend!(db, c => dsl::journal_positions
        .filter(dsl::trade_date.eq(date))
        .select(Position::as_select())
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|p| (p.key(), p.committed_offset.max(0) as u64))
        .collect())
}

/// Adds `rows` to `date`'s instrument snapshot: the snapshot is the union of every plan of
/// the day (a restart's plan replaces the rows of its instruments and keeps the others, so
/// rows stored under an earlier plan keep their symbols).
pub fn save_instruments(db: &mut Db, date: NaiveDate, rows: &[NewInstrument]) -> QueryResult<()> {
    use schema::instruments::dsl;
    let rows: Vec<NewInstrument> = rows
        .iter()
        .filter(|r| r.trade_date == date)
        .cloned()
        .collect();
    on_backend!(db, c => c.transaction(|c| {
        for chunk in rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
            diesel::replace_into(dsl::instruments).values(chunk).execute(c)?;
        }
        Ok(())
    }))
}

/// Appends to the gap ledger.
pub fn record_gap(db: &mut Db, gap: &NewGap) -> QueryResult<()> {
    on_backend!(db, c => diesel::insert_into(schema::gaps::table).values(gap).execute(c))
        .map(|_| ())
}

/// Records `gap` unless the ledger already has one of its socket starting at the same time
/// (replaying a gap file twice adds nothing). Returns whether it was added.
pub fn record_gap_once(db: &mut Db, gap: &NewGap) -> QueryResult<bool> {
    use schema::gaps::dsl;
    let known: i64 = on_backend!(db, c => dsl::gaps
        .filter(dsl::trade_date.eq(gap.trade_date))
        .filter(dsl::socket.eq(gap.socket))
        .filter(dsl::start_us.eq(gap.start_us))
        .count()
        .get_result(c))?;
    if known > 0 {
        return Ok(false);
    }
    record_gap(db, gap).map(|()| true)
}

/// The gap ledger of `date`.
pub fn gaps(db: &mut Db, date: NaiveDate) -> QueryResult<Vec<Gap>> {
    use schema::gaps::dsl;
    on_backend!(db, c => dsl::gaps
        .filter(dsl::trade_date.eq(date))
        .order(dsl::id)
        .select(Gap::as_select())
        .load(c))
}

/// Rows per instrument token on `date` in the daily table.
pub fn rows_per_token(db: &mut Db, date: NaiveDate) -> QueryResult<HashMap<u32, u64>> {
    use diesel::dsl::count_star;
    use schema::daily_ticks::dsl;
    let counts: Vec<(i64, i64)> = on_backend!(db, c => dsl::daily_ticks
        .filter(dsl::trade_date.eq(date))
        .group_by(dsl::instrument_token)
        .select((dsl::instrument_token, count_star()))
        .load(c))?;
    Ok(counts
        .into_iter()
        .map(|(t, n)| (t as u32, n as u64))
        .collect())
}
