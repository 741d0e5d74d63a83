//! What `tickvault export` reads: a date's ticks from the master (or the daily table before the
//! end of day), one instrument at a time in exchange-time order, and the day's snapshot.

use std::borrow::Cow;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::bulk::sqlite_error;
use super::schema::{daily_ticks, instruments, ticks};
use super::{Db, Store, on_backend};
use crate::kite::Mode;

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
    /// `ltp`, `quote` or `full` (borrowed: no allocation per row).
    pub mode: Cow<'static, str>,
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

impl StoredTick {
    /// A row with the last price only (every optional field empty, mode `quote`): the base of
    /// the tests' rows.
    #[cfg(test)]
    pub(crate) fn bare(
        trade_date: NaiveDate,
        instrument_token: i64,
        price_divisor: i32,
        last_price: i64,
    ) -> StoredTick {
        StoredTick {
            trade_date,
            socket: 0,
            seq: 1,
            instrument_token,
            recv_time_us: 1_795_000_000_000_000,
            exchange_time: None,
            last_trade_time: None,
            mode: Cow::Borrowed("quote"),
            price_divisor,
            last_price,
            last_quantity: None,
            average_price: None,
            volume: None,
            buy_quantity: None,
            sell_quantity: None,
            open: None,
            high: None,
            low: None,
            close: None,
            net_change: None,
            oi: None,
            oi_day_high: None,
            oi_day_low: None,
            depth: [(None, None, None); 10],
        }
    }
}

/// The columns as Diesel reads them (MySQL): nested tuples (a flat one of 56 is past its limit).
#[cfg(feature = "mysql")]
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

#[cfg(feature = "mysql")]
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
            mode: mode(&a.7),
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
#[cfg(feature = "mysql")]
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

/// The stored mode text as a static name (no allocation per row); an unknown one is kept.
fn mode(text: &str) -> Cow<'static, str> {
    match Mode::parse(text) {
        Some(m) => Cow::Borrowed(m.as_str()),
        None => Cow::Owned(text.to_owned()),
    }
}

/// Where each integer column is in [`StoredColumns`] (and in the statement's select list).
#[allow(missing_docs)]
pub mod col {
    pub const SOCKET: usize = 0;
    pub const SEQ: usize = 1;
    pub const INSTRUMENT_TOKEN: usize = 2;
    pub const RECV_TIME_US: usize = 3;
    pub const EXCHANGE_TIME: usize = 4;
    pub const LAST_TRADE_TIME: usize = 5;
    pub const PRICE_DIVISOR: usize = 6;
    pub const LAST_PRICE: usize = 7;
    pub const LAST_QUANTITY: usize = 8;
    pub const AVERAGE_PRICE: usize = 9;
    pub const VOLUME: usize = 10;
    pub const BUY_QUANTITY: usize = 11;
    pub const SELL_QUANTITY: usize = 12;
    pub const OPEN: usize = 13;
    pub const HIGH: usize = 14;
    pub const LOW: usize = 15;
    pub const CLOSE: usize = 16;
    pub const NET_CHANGE: usize = 17;
    pub const OI: usize = 18;
    pub const OI_DAY_HIGH: usize = 19;
    pub const OI_DAY_LOW: usize = 20;
    /// Depth level `n` (0..5 bids, 5..10 asks): quantity, price, orders.
    pub const fn depth(n: usize) -> (usize, usize, usize) {
        (21 + 3 * n, 22 + 3 * n, 23 + 3 * n)
    }
    /// How many integer columns there are.
    pub const COUNT: usize = 51;
}

/// The columns read, in [`col`]'s order, then `mode` (the date is the statement's).
const COLUMNS: &str = "socket, seq, instrument_token, recv_time_us, exchange_time, \
    last_trade_time, price_divisor, last_price, last_quantity, average_price, volume, \
    buy_quantity, sell_quantity, open, high, low, close, net_change, oi, oi_day_high, \
    oi_day_low, \
    bid1_quantity, bid1_price, bid1_orders, bid2_quantity, bid2_price, bid2_orders, \
    bid3_quantity, bid3_price, bid3_orders, bid4_quantity, bid4_price, bid4_orders, \
    bid5_quantity, bid5_price, bid5_orders, \
    ask1_quantity, ask1_price, ask1_orders, ask2_quantity, ask2_price, ask2_orders, \
    ask3_quantity, ask3_price, ask3_orders, ask4_quantity, ask4_price, ask4_orders, \
    ask5_quantity, ask5_price, ask5_orders, mode";

/// One instrument's rows on a date, column by column (what the Parquet export encodes without
/// a row in between), in arrival order: exchange time, then receive time, socket and sequence.
/// A missing exchange time sorts first, as SQL's `ORDER BY … ASC` puts NULL first.
#[derive(Debug)]
pub struct StoredColumns {
    /// The date.
    pub trade_date: NaiveDate,
    /// Each integer column ([`col`]): its values, [`StoredColumns::NULL`] where NULL.
    values: Vec<Vec<i64>>,
    modes: Vec<Cow<'static, str>>,
}

impl StoredColumns {
    fn new(trade_date: NaiveDate) -> StoredColumns {
        StoredColumns {
            trade_date,
            values: vec![Vec::new(); col::COUNT],
            modes: Vec::new(),
        }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.modes.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.modes.is_empty()
    }

    /// What stands for NULL in [`StoredColumns::column`]: no stored value is near it (the
    /// wire's numbers are 32-bit, times are microseconds since 1970).
    pub const NULL: i64 = i64::MIN;

    /// Column `c` ([`col`]): its values, [`StoredColumns::NULL`] where NULL.
    pub fn column(&self, c: usize) -> &[i64] {
        &self.values[c]
    }

    /// The `mode` column.
    pub fn modes(&self) -> &[Cow<'static, str>] {
        &self.modes
    }

    fn clear(&mut self) {
        self.values.iter_mut().for_each(Vec::clear);
        self.modes.clear();
    }

    fn get(&self, c: usize, i: usize) -> Option<i64> {
        Some(self.values[c][i]).filter(|v| *v != Self::NULL)
    }

    /// Row `i` whole.
    pub fn row(&self, i: usize) -> StoredTick {
        let v = |c: usize| self.values[c][i];
        let o = |c: usize| self.get(c, i);
        let depth = std::array::from_fn(|n| {
            let (quantity, price, orders) = col::depth(n);
            (
                o(quantity),
                o(price),
                o(orders).and_then(|v| i32::try_from(v).ok()),
            )
        });
        StoredTick {
            trade_date: self.trade_date,
            socket: i16::try_from(v(col::SOCKET)).unwrap_or(i16::MAX),
            seq: v(col::SEQ),
            instrument_token: v(col::INSTRUMENT_TOKEN),
            recv_time_us: v(col::RECV_TIME_US),
            exchange_time: o(col::EXCHANGE_TIME),
            last_trade_time: o(col::LAST_TRADE_TIME),
            mode: self.modes[i].clone(),
            price_divisor: i32::try_from(v(col::PRICE_DIVISOR)).unwrap_or(1),
            last_price: v(col::LAST_PRICE),
            last_quantity: o(col::LAST_QUANTITY),
            average_price: o(col::AVERAGE_PRICE),
            volume: o(col::VOLUME),
            buy_quantity: o(col::BUY_QUANTITY),
            sell_quantity: o(col::SELL_QUANTITY),
            open: o(col::OPEN),
            high: o(col::HIGH),
            low: o(col::LOW),
            close: o(col::CLOSE),
            net_change: o(col::NET_CHANGE),
            oi: o(col::OI),
            oi_day_high: o(col::OI_DAY_HIGH),
            oi_day_low: o(col::OI_DAY_LOW),
            depth,
        }
    }

    /// Every row whole.
    pub fn rows(&self) -> impl Iterator<Item = StoredTick> + '_ {
        (0..self.len()).map(|i| self.row(i))
    }

    /// The columns of `rows` (one instrument's, in arrival order), as the reader hands them.
    pub fn from_rows(trade_date: NaiveDate, rows: &[StoredTick]) -> StoredColumns {
        let mut columns = StoredColumns::new(trade_date);
        for row in rows {
            columns.push(row);
        }
        columns
    }

    /// Appends a row (the MySQL path reads rows).
    fn push(&mut self, t: &StoredTick) {
        let mut put = |c: usize, v: Option<i64>| {
            self.values[c].push(v.unwrap_or(Self::NULL));
        };
        put(col::SOCKET, Some(i64::from(t.socket)));
        put(col::SEQ, Some(t.seq));
        put(col::INSTRUMENT_TOKEN, Some(t.instrument_token));
        put(col::RECV_TIME_US, Some(t.recv_time_us));
        put(col::EXCHANGE_TIME, t.exchange_time);
        put(col::LAST_TRADE_TIME, t.last_trade_time);
        put(col::PRICE_DIVISOR, Some(i64::from(t.price_divisor)));
        put(col::LAST_PRICE, Some(t.last_price));
        put(col::LAST_QUANTITY, t.last_quantity);
        put(col::AVERAGE_PRICE, t.average_price);
        put(col::VOLUME, t.volume);
        put(col::BUY_QUANTITY, t.buy_quantity);
        put(col::SELL_QUANTITY, t.sell_quantity);
        put(col::OPEN, t.open);
        put(col::HIGH, t.high);
        put(col::LOW, t.low);
        put(col::CLOSE, t.close);
        put(col::NET_CHANGE, t.net_change);
        put(col::OI, t.oi);
        put(col::OI_DAY_HIGH, t.oi_day_high);
        put(col::OI_DAY_LOW, t.oi_day_low);
        for (n, (quantity, price, orders)) in t.depth.iter().enumerate() {
            let (q, p, o) = col::depth(n);
            put(q, *quantity);
            put(p, *price);
            put(o, orders.map(i64::from));
        }
        self.modes.push(t.mode.clone());
    }

    fn key(&self, i: usize) -> (Option<i64>, i64, i64, i64) {
        (
            self.get(col::EXCHANGE_TIME, i),
            self.values[col::RECV_TIME_US][i],
            self.values[col::SOCKET][i],
            self.values[col::SEQ][i],
        )
    }

    /// Puts the rows in arrival order (they usually are already: the master's key is socket
    /// and sequence, and a socket's ticks arrive in exchange-time order).
    fn sort(&mut self) {
        let n = self.len();
        if (1..n).all(|i| self.key(i - 1) <= self.key(i)) {
            return;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| self.key(i));
        for column in self.values.iter_mut() {
            *column = order.iter().map(|&i| column[i]).collect();
        }
        self.modes = order.iter().map(|&i| self.modes[i].clone()).collect();
    }

    /// Reads one row of the SQLite statement ([`COLUMNS`]).
    fn push_sqlite(&mut self, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        use rusqlite::types::ValueRef;
        for c in 0..col::COUNT {
            let value = match row.get_ref_unwrap(c) {
                ValueRef::Integer(v) => v,
                ValueRef::Null => Self::NULL,
                other => {
                    return Err(rusqlite::Error::InvalidColumnType(
                        c,
                        COLUMNS.split(',').nth(c).unwrap_or("?").trim().to_string(),
                        other.data_type(),
                    ));
                }
            };
            self.values[c].push(value);
        }
        self.modes
            .push(mode(row.get_ref_unwrap(col::COUNT).as_str()?));
        Ok(())
    }
}

/// A connection of its own for reading a date's rows: the export's workers each open one, so
/// a date is read on as many cores as there are workers.
pub struct Reader {
    conn: ReaderConn,
}

enum ReaderConn {
    /// SQLite through `rusqlite`: values read straight from SQLite's row into the columns,
    /// nothing allocated per row. Diesel's generic row decoding (a boxed value per column,
    /// 55 columns) cost more than SQLite's own reading (`docs/performance.md`, "Export").
    Sqlite(rusqlite::Connection),
    /// MySQL through Diesel, instrument by instrument (each a range of the master's clustered
    /// key).
    #[cfg(feature = "mysql")]
    Mysql(Db),
}

impl Reader {
    /// A reading connection to the store's database.
    pub fn open(store: &Store) -> Result<Reader, DieselError> {
        let conn = match store.url() {
            super::StorageUrl::Sqlite(path) => {
                let conn = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(sqlite_error)?;
                conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA cache_size = -16384;")
                    .map_err(sqlite_error)?;
                ReaderConn::Sqlite(conn)
            }
            #[cfg(feature = "mysql")]
            url @ super::StorageUrl::Mysql(_) => ReaderConn::Mysql(
                super::connect(url).map_err(|e| super::bulk::db_error(e.to_string()))?,
            ),
            #[cfg(not(feature = "mysql"))]
            super::StorageUrl::Mysql(_) => {
                return Err(super::bulk::db_error(
                    "this build has no MySQL support".into(),
                ));
            }
        };
        Ok(Reader { conn })
    }

    /// Hands `each` the rows of `tokens` (ascending) on `date` in `source`, one instrument at a
    /// time in token order, each instrument's rows in arrival order ([`StoredColumns`]). Memory
    /// holds one instrument's day at most.
    pub fn each_instrument<E: From<DieselError>>(
        &mut self,
        source: Source,
        date: NaiveDate,
        tokens: &[i64],
        mut each: impl FnMut(&StoredColumns) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut group = StoredColumns::new(date);
        let mut hand = |group: &mut StoredColumns| -> Result<(), E> {
            group.sort();
            each(group)?;
            group.clear();
            Ok(())
        };
        match &mut self.conn {
            ReaderConn::Sqlite(conn) => {
                let table = match source {
                    Source::Master => "ticks",
                    Source::Daily => "daily_ticks",
                };
                // The tokens are integers, written into the statement (a bound list would need
                // a parameter per token). The master is clustered by (date, instrument): its
                // rows come in instrument order with no sort. The daily table has no token
                // index (its write path is faster without): before the end of day each chunk
                // is a scan of the date and a sort by SQLite.
                let list: Vec<String> = tokens.iter().map(i64::to_string).collect();
                let sql = format!(
                    "SELECT {COLUMNS} FROM {table} WHERE trade_date = ?1 \
                     AND instrument_token IN ({}) ORDER BY instrument_token",
                    list.join(",")
                );
                let mut statement = conn.prepare(&sql).map_err(sqlite_error)?;
                // Every index `push_sqlite` reads is in range.
                if statement.column_count() != col::COUNT + 1 {
                    return Err(super::bulk::db_error(format!(
                        "the export's statement reads {} columns, not {}",
                        statement.column_count(),
                        col::COUNT + 1
                    ))
                    .into());
                }
                let mut rows = statement
                    .query([date.format("%Y-%m-%d").to_string()])
                    .map_err(sqlite_error)?;
                let mut current = None;
                while let Some(row) = rows.next().map_err(sqlite_error)? {
                    let token: i64 = row.get(col::INSTRUMENT_TOKEN).map_err(sqlite_error)?;
                    if current.is_some_and(|c| c != token) {
                        hand(&mut group)?;
                    }
                    current = Some(token);
                    group.push_sqlite(row).map_err(sqlite_error)?;
                }
                if !group.is_empty() {
                    hand(&mut group)?;
                }
            }
            #[cfg(feature = "mysql")]
            ReaderConn::Mysql(db) => {
                for token in tokens {
                    for tick in rows(db, source, date, *token)? {
                        group.push(&tick);
                    }
                    if !group.is_empty() {
                        hand(&mut group)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Every row of `token` on `date` in `source`, in no particular order (Diesel's path).
#[cfg(feature = "mysql")]
fn rows(db: &mut Db, source: Source, date: NaiveDate, token: i64) -> QueryResult<Vec<StoredTick>> {
    let raw: Vec<Raw> = on_backend!(db, c => match source {
        Source::Master => ticks::table
            .filter(ticks::trade_date.eq(date))
            .filter(ticks::instrument_token.eq(token))
            .select(every_column!(ticks))
            .load(c),
        Source::Daily => daily_ticks::table
            .filter(daily_ticks::trade_date.eq(date))
            .filter(daily_ticks::instrument_token.eq(token))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(socket: i16, seq: i64, exchange_time: Option<i64>, recv: i64) -> StoredTick {
        let date = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        StoredTick {
            socket,
            seq,
            recv_time_us: recv,
            exchange_time,
            mode: Cow::Borrowed("full"),
            last_quantity: Some(0),
            volume: Some(seq),
            depth: [(Some(seq), Some(0), None); 10],
            ..StoredTick::bare(date, 256_265, 100, seq * 10)
        }
    }

    #[test]
    fn an_instruments_rows_come_in_arrival_order_whole() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let given = [
            tick(1, 5, Some(100), 30),
            tick(1, 3, Some(99), 20),
            tick(0, 9, None, 40),
            tick(1, 4, Some(100), 10),
        ];
        let mut columns = StoredColumns::from_rows(date, &given);
        columns.sort();
        let rows: Vec<StoredTick> = columns.rows().collect();
        // A missing exchange time first (as SQL's NULLs), then time, then receive time.
        let order: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        assert_eq!(order, vec![9, 3, 4, 5]);
        for row in &rows {
            let original = given.iter().find(|g| g.seq == row.seq).unwrap();
            assert_eq!(row, original, "every column moved with its row");
        }
        // 0 and NULL stay apart.
        assert_eq!(rows[0].last_quantity, Some(0));
        assert_eq!(rows[0].average_price, None);
        assert_eq!(columns.column(col::AVERAGE_PRICE)[0], StoredColumns::NULL);
    }
}
