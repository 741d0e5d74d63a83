//! What `tickvault export` reads: a date's ticks from the master (or the daily table before the
//! end of day), one instrument at a time in exchange-time order, and the day's snapshot.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::schema::{daily_ticks, instruments, ticks};
use super::{Db, on_backend};

/// Where a date's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The master table (`ticks`): the end of day moved the date.
    Master,
    /// The daily table (`daily_ticks`): not moved yet.
    Daily,
}

impl Source {
    /// `master` or `daily`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Master => "master",
            Source::Daily => "daily",
        }
    }
}

/// One depth level: quantity, price, orders.
pub type Level = (Option<i64>, Option<i64>, Option<i32>);

/// A stored tick row, every column (both tables share them, in this order).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct StoredTick {
    pub trade_date: NaiveDate,
    pub socket: i16,
    pub seq: i64,
    pub instrument_token: i64,
    pub recv_time_us: i64,
    pub exchange_time: Option<i64>,
    pub last_trade_time: Option<i64>,
    pub mode: String,
    pub price_divisor: i32,
    pub last_price: i64,
    pub last_quantity: Option<i64>,
    pub average_price: Option<i64>,
    pub volume: Option<i64>,
    pub buy_quantity: Option<i64>,
    pub sell_quantity: Option<i64>,
    pub open: Option<i64>,
    pub high: Option<i64>,
    pub low: Option<i64>,
    pub close: Option<i64>,
    pub net_change: Option<i64>,
    pub oi: Option<i64>,
    pub oi_day_high: Option<i64>,
    pub oi_day_low: Option<i64>,
    /// Bids 1..5, then asks 1..5.
    pub depth: [Level; 10],
}

/// The columns as Diesel reads them: nested tuples (a flat one of 56 is past its limit).
type Raw = (
    (
        NaiveDate,
        i16,
        i64,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        String,
    ),
    (
        i32,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    ),
    (
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    ),
    (Option<i64>, Option<i64>, Option<i64>),
    (
        Level,
        Level,
        Level,
        Level,
        Level,
        Level,
        Level,
        Level,
        Level,
        Level,
    ),
);

impl From<Raw> for StoredTick {
    fn from(raw: Raw) -> StoredTick {
        let (a, b, c, d, e) = raw;
        StoredTick {
            trade_date: a.0,
            socket: a.1,
            seq: a.2,
            instrument_token: a.3,
            recv_time_us: a.4,
            exchange_time: a.5,
            last_trade_time: a.6,
            mode: a.7,
            price_divisor: b.0,
            last_price: b.1,
            last_quantity: b.2,
            average_price: b.3,
            volume: b.4,
            buy_quantity: b.5,
            sell_quantity: b.6,
            open: c.0,
            high: c.1,
            low: c.2,
            close: c.3,
            net_change: c.4,
            oi: d.0,
            oi_day_high: d.1,
            oi_day_low: d.2,
            depth: [e.0, e.1, e.2, e.3, e.4, e.5, e.6, e.7, e.8, e.9],
        }
    }
}

/// The select of every column of the tick table `$t`, as [`Raw`].
macro_rules! every_column {
    ($t:ident) => {{
        (
            (
                $t::trade_date,
                $t::socket,
                $t::seq,
                $t::instrument_token,
                $t::recv_time_us,
                $t::exchange_time,
                $t::last_trade_time,
                $t::mode,
            ),
            (
                $t::price_divisor,
                $t::last_price,
                $t::last_quantity,
                $t::average_price,
                $t::volume,
                $t::buy_quantity,
                $t::sell_quantity,
            ),
            ($t::open, $t::high, $t::low, $t::close, $t::net_change),
            ($t::oi, $t::oi_day_high, $t::oi_day_low),
            (
                ($t::bid1_quantity, $t::bid1_price, $t::bid1_orders),
                ($t::bid2_quantity, $t::bid2_price, $t::bid2_orders),
                ($t::bid3_quantity, $t::bid3_price, $t::bid3_orders),
                ($t::bid4_quantity, $t::bid4_price, $t::bid4_orders),
                ($t::bid5_quantity, $t::bid5_price, $t::bid5_orders),
                ($t::ask1_quantity, $t::ask1_price, $t::ask1_orders),
                ($t::ask2_quantity, $t::ask2_price, $t::ask2_orders),
                ($t::ask3_quantity, $t::ask3_price, $t::ask3_orders),
                ($t::ask4_quantity, $t::ask4_price, $t::ask4_orders),
                ($t::ask5_quantity, $t::ask5_price, $t::ask5_orders),
            ),
        )
    }};
}

/// Where `date`'s rows are: the master once the end of day moved them, else the daily table;
/// none when neither has any.
pub fn source_of(db: &mut Db, date: NaiveDate) -> QueryResult<Option<Source>> {
    if super::eod::master_has(db, date)? {
        return Ok(Some(Source::Master));
    }
    Ok((super::eod::daily_rows(db, date)? > 0).then_some(Source::Daily))
}

/// The instruments with rows on `date` in `source`, ascending.
pub fn tokens(db: &mut Db, source: Source, date: NaiveDate) -> QueryResult<Vec<i64>> {
    on_backend!(db, c => match source {
        Source::Master => ticks::table
            .filter(ticks::trade_date.eq(date))
            .select(ticks::instrument_token)
            .distinct()
            .order(ticks::instrument_token)
            .load(c),
        Source::Daily => daily_ticks::table
            .filter(daily_ticks::trade_date.eq(date))
            .select(daily_ticks::instrument_token)
            .distinct()
            .order(daily_ticks::instrument_token)
            .load(c),
    })
}

/// The price divisors on `date` in `source`.
pub fn divisors(db: &mut Db, source: Source, date: NaiveDate) -> QueryResult<Vec<i32>> {
    on_backend!(db, c => match source {
        Source::Master => ticks::table
            .filter(ticks::trade_date.eq(date))
            .select(ticks::price_divisor)
            .distinct()
            .load(c),
        Source::Daily => daily_ticks::table
            .filter(daily_ticks::trade_date.eq(date))
            .select(daily_ticks::price_divisor)
            .distinct()
            .load(c),
    })
}

/// Rows of `token` on `date` in `source`: `(instrument_token, rows)` pairs of every token.
pub fn counts(db: &mut Db, source: Source, date: NaiveDate) -> QueryResult<Vec<(i64, i64)>> {
    use diesel::dsl::count_star;
    on_backend!(db, c => match source {
        Source::Master => ticks::table
            .filter(ticks::trade_date.eq(date))
            .group_by(ticks::instrument_token)
            .select((ticks::instrument_token, count_star()))
            .load(c),
        Source::Daily => daily_ticks::table
            .filter(daily_ticks::trade_date.eq(date))
            .group_by(daily_ticks::instrument_token)
            .select((daily_ticks::instrument_token, count_star()))
            .load(c),
    })
}

/// Every row of `token` on `date` in `source`, by exchange time (then receive time, socket and
/// sequence: the order they arrived in).
pub fn rows(
    db: &mut Db,
    source: Source,
    date: NaiveDate,
    token: i64,
) -> QueryResult<Vec<StoredTick>> {
    let raw: Vec<Raw> = on_backend!(db, c => match source {
        Source::Master => ticks::table
            .filter(ticks::trade_date.eq(date))
            .filter(ticks::instrument_token.eq(token))
            .order((
                ticks::exchange_time.asc(),
                ticks::recv_time_us.asc(),
                ticks::socket.asc(),
                ticks::seq.asc(),
            ))
            .select(every_column!(ticks))
            .load(c),
        Source::Daily => daily_ticks::table
            .filter(daily_ticks::trade_date.eq(date))
            .filter(daily_ticks::instrument_token.eq(token))
            .order((
                daily_ticks::exchange_time.asc(),
                daily_ticks::recv_time_us.asc(),
                daily_ticks::socket.asc(),
                daily_ticks::seq.asc(),
            ))
            .select(every_column!(daily_ticks))
            .load(c),
    })?;
    Ok(raw.into_iter().map(StoredTick::from).collect())
}

/// A row of the day's instrument snapshot: token, exchange, symbol, segment, underlying name.
pub type SnapshotRow = (i64, String, String, String, String);

/// The day's instrument snapshot.
pub fn snapshot(db: &mut Db, date: NaiveDate) -> QueryResult<Vec<SnapshotRow>> {
    on_backend!(db, c => instruments::table
        .filter(instruments::trade_date.eq(date))
        .select((
            instruments::instrument_token,
            instruments::exchange,
            instruments::tradingsymbol,
            instruments::segment,
            instruments::name,
        ))
        .load(c))
}
