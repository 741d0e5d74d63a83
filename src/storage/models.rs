//! Rows as Diesel inserts them, built from ticks and plans. Insert structs are `New…`.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::schema::{daily_ticks, gaps, instruments, journal_positions};
use crate::kite::{PacketKind, Tick};

/// A value of one column, for the backends' bulk paths (`storage::bulk`), which bind or write
/// values themselves instead of going through Diesel's per-value machinery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    /// SQL NULL.
    Null,
    /// An integer of any width.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// A date.
    Date(NaiveDate),
}

/// Column names as SQL, backtick-quoted (MySQL's quoting, which SQLite accepts too; `mode`,
/// `open` and `close` are keywords).
pub fn quoted(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Rust value as a [`Cell`].
pub trait ToCell {
    /// The cell.
    fn cell(&self) -> Cell<'_>;
}

impl ToCell for NaiveDate {
    fn cell(&self) -> Cell<'_> {
        Cell::Date(*self)
    }
}

impl ToCell for &'static str {
    fn cell(&self) -> Cell<'_> {
        Cell::Text(self)
    }
}

macro_rules! int_cells {
    ($($t:ty),+) => {$(
        impl ToCell for $t {
            fn cell(&self) -> Cell<'_> {
                Cell::Int(i64::from(*self))
            }
        }
        impl ToCell for Option<$t> {
            fn cell(&self) -> Cell<'_> {
                self.map_or(Cell::Null, |v| Cell::Int(i64::from(v)))
            }
        }
    )+};
}
int_cells!(i16, i32, i64);

/// Declares the row struct of `daily_ticks` with one documented field per column, in the
/// table's column order, plus [`NewTick::COLUMNS`] and [`NewTick::cells`] from the same list, so
/// the bulk paths can never disagree with Diesel about the columns.
macro_rules! tick_row {
    ($(#[$meta:meta])* pub struct $name:ident { $($field:ident: $ty:ty,)+ }) => {
        $(#[$meta])*
        pub struct $name {
            $(
                #[doc = concat!("`", stringify!($field), "`.")]
                pub $field: $ty,
            )+
        }

        impl $name {
            /// The column names, in the table's order.
            pub const COLUMNS: [&'static str; tick_row!(@count $($field)+)] =
                [$(stringify!($field)),+];

            /// The row's values, in [`Self::COLUMNS`] order.
            pub fn cells(&self) -> [Cell<'_>; tick_row!(@count $($field)+)] {
                [$(self.$field.cell()),+]
            }
        }
    };
    (@count $($field:ident)+) => { 0 $(+ tick_row!(@one $field))+ };
    (@one $field:ident) => { 1 };
}

tick_row! {
    /// A tick as a row of `daily_ticks`.
    #[derive(Debug, Clone, PartialEq, Insertable)]
    #[diesel(table_name = daily_ticks, treat_none_as_null = true)]
    pub struct NewTick {
        trade_date: NaiveDate,
        socket: i16,
        seq: i64,
        instrument_token: i64,
        recv_time_us: i64,
        exchange_time: Option<i64>,
        last_trade_time: Option<i64>,
        mode: &'static str,
        price_divisor: i32,
        last_price: i64,
        last_quantity: Option<i64>,
        average_price: Option<i64>,
        volume: Option<i64>,
        buy_quantity: Option<i64>,
        sell_quantity: Option<i64>,
        open: Option<i64>,
        high: Option<i64>,
        low: Option<i64>,
        close: Option<i64>,
        net_change: Option<i64>,
        oi: Option<i64>,
        oi_day_high: Option<i64>,
        oi_day_low: Option<i64>,
        bid1_quantity: Option<i64>,
        bid1_price: Option<i64>,
        bid1_orders: Option<i32>,
        bid2_quantity: Option<i64>,
        bid2_price: Option<i64>,
        bid2_orders: Option<i32>,
        bid3_quantity: Option<i64>,
        bid3_price: Option<i64>,
        bid3_orders: Option<i32>,
        bid4_quantity: Option<i64>,
        bid4_price: Option<i64>,
        bid4_orders: Option<i32>,
        bid5_quantity: Option<i64>,
        bid5_price: Option<i64>,
        bid5_orders: Option<i32>,
        ask1_quantity: Option<i64>,
        ask1_price: Option<i64>,
        ask1_orders: Option<i32>,
        ask2_quantity: Option<i64>,
        ask2_price: Option<i64>,
        ask2_orders: Option<i32>,
        ask3_quantity: Option<i64>,
        ask3_price: Option<i64>,
        ask3_orders: Option<i32>,
        ask4_quantity: Option<i64>,
        ask4_price: Option<i64>,
        ask4_orders: Option<i32>,
        ask5_quantity: Option<i64>,
        ask5_price: Option<i64>,
        ask5_orders: Option<i32>,
    }
}

fn opt(v: u32) -> Option<i64> {
    Some(i64::from(v))
}

fn time(secs: u32) -> Option<i64> {
    (secs != 0).then_some(i64::from(secs))
}

impl NewTick {
    /// The row for `tick`, received at `recv_time_us` on `socket`, with sequence `seq`.
    pub fn new(
        trade_date: NaiveDate,
        socket: i16,
        seq: i64,
        recv_time_us: i64,
        t: &Tick,
    ) -> NewTick {
        let quote = matches!(t.kind, PacketKind::Quote | PacketKind::Full);
        let full = t.kind == PacketKind::Full;
        let has_ohlc = t.kind != PacketKind::Ltp;
        let index = matches!(t.kind, PacketKind::IndexQuote | PacketKind::IndexFull);
        let q = |v: u32| if quote { opt(v) } else { None };
        let f = |v: u32| if full { opt(v) } else { None };
        let o = |v: u32| if has_ohlc { opt(v) } else { None };
        let level = |l: &crate::kite::Level| {
            if full {
                (opt(l.quantity), opt(l.price), Some(i32::from(l.orders)))
            } else {
                (None, None, None)
            }
        };
        let [b1, b2, b3, b4, b5] = t.depth.buy.each_ref().map(level);
        let [a1, a2, a3, a4, a5] = t.depth.sell.each_ref().map(level);
        NewTick {
            trade_date,
            socket,
            seq,
            instrument_token: i64::from(t.instrument_token),
            recv_time_us,
            exchange_time: if full || t.kind == PacketKind::IndexFull {
                time(t.exchange_timestamp)
            } else {
                None
            },
            last_trade_time: if full { time(t.last_trade_time) } else { None },
            mode: t.mode().as_str(),
            price_divisor: t.segment().price_divisor() as i32,
            last_price: i64::from(t.last_price),
            last_quantity: q(t.last_traded_quantity),
            average_price: q(t.average_traded_price),
            volume: q(t.volume_traded),
            buy_quantity: q(t.total_buy_quantity),
            sell_quantity: q(t.total_sell_quantity),
            open: o(t.ohlc.open),
            high: o(t.ohlc.high),
            low: o(t.ohlc.low),
            close: o(t.ohlc.close),
            net_change: index.then_some(i64::from(t.net_change)),
            oi: f(t.oi),
            oi_day_high: f(t.oi_day_high),
            oi_day_low: f(t.oi_day_low),
            bid1_quantity: b1.0,
            bid1_price: b1.1,
            bid1_orders: b1.2,
            bid2_quantity: b2.0,
            bid2_price: b2.1,
            bid2_orders: b2.2,
            bid3_quantity: b3.0,
            bid3_price: b3.1,
            bid3_orders: b3.2,
            bid4_quantity: b4.0,
            bid4_price: b4.1,
            bid4_orders: b4.2,
            bid5_quantity: b5.0,
            bid5_price: b5.1,
            bid5_orders: b5.2,
            ask1_quantity: a1.0,
            ask1_price: a1.1,
            ask1_orders: a1.2,
            ask2_quantity: a2.0,
            ask2_price: a2.1,
            ask2_orders: a2.2,
            ask3_quantity: a3.0,
            ask3_price: a3.1,
            ask3_orders: a3.2,
            ask4_quantity: a4.0,
            ask4_price: a4.1,
            ask4_orders: a4.2,
            ask5_quantity: a5.0,
            ask5_price: a5.1,
            ask5_orders: a5.2,
        }
    }
}

/// A row of `journal_positions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Insertable, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = journal_positions)]
pub struct Position {
    /// Trading date.
    pub trade_date: NaiveDate,
    /// Socket number (1, 2, …).
    pub socket: i16,
    /// The journal file's generation ([`crate::capture::journal`]).
    pub generation: i16,
    /// Journal offset committed up to.
    pub committed_offset: i64,
}

impl Position {
    /// Where `key`'s file of `date` is committed up to.
    pub fn new(date: NaiveDate, key: crate::capture::JournalKey, offset: u64) -> Position {
        Position {
            trade_date: date,
            socket: key.socket,
            generation: key.generation as i16,
            committed_offset: offset as i64,
        }
    }

    /// The file it is about.
    pub fn key(&self) -> crate::capture::JournalKey {
        crate::capture::JournalKey::new(self.socket, self.generation.max(0) as u16)
    }
}

/// A row of `instruments`.
#[derive(
    Debug, Clone, PartialEq, Insertable, Queryable, Selectable, serde::Serialize, serde::Deserialize,
)]
#[diesel(table_name = instruments, treat_none_as_null = true)]
pub struct NewInstrument {
    /// Trading date.
    pub trade_date: NaiveDate,
    /// Token.
    pub instrument_token: i64,
    /// Trading symbol.
    pub tradingsymbol: String,
    /// Name.
    pub name: String,
    /// Expiry of a derivative.
    pub expiry: Option<NaiveDate>,
    /// Strike (0 when none).
    pub strike: f64,
    /// EQ, FUT, CE, PE.
    pub instrument_type: String,
    /// Segment.
    pub segment: String,
    /// Exchange.
    pub exchange: String,
    /// Lot size.
    pub lot_size: i32,
    /// Tick size.
    pub tick_size: f64,
    /// The socket it is streamed on.
    pub socket: Option<i16>,
    /// Its mode.
    pub mode: Option<String>,
}

/// A gap's length in seconds (socket-seconds; a reversed interval counts 0).
pub fn gap_seconds(start_us: i64, end_us: i64) -> f64 {
    (end_us - start_us).max(0) as f64 / 1e6
}

/// A row of the gap ledger.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = gaps)]
pub struct NewGap {
    /// Trading date.
    pub trade_date: NaiveDate,
    /// Socket number.
    pub socket: i16,
    /// When delivery stopped (µs, UTC).
    pub start_us: i64,
    /// When it resumed.
    pub end_us: i64,
    /// Why: disconnect, stall, auth, backoff, …
    pub cause: String,
    /// Instruments affected.
    pub instruments: i32,
}

impl NewGap {
    /// Its length in seconds.
    pub fn seconds(&self) -> f64 {
        gap_seconds(self.start_us, self.end_us)
    }
}

/// A row of the gap ledger as read back.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = gaps)]
pub struct Gap {
    /// Row id.
    pub id: i32,
    /// Trading date.
    pub trade_date: NaiveDate,
    /// Socket number.
    pub socket: i16,
    /// Start (µs).
    pub start_us: i64,
    /// End (µs).
    pub end_us: i64,
    /// Cause.
    pub cause: String,
    /// Instruments affected.
    pub instruments: i32,
}
