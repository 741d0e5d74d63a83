//! The export's columns: a stored tick row as read back, and as an Arrow batch (Parquet) or a
//! CSV record. Named as the official Python client names tick fields where it has one.
//!
//! Prices are exact decimals, `Decimal128(18, scale)` with the date's scale: 2 when every
//! instrument of the date prices in paise (divisor 100), 4 when a currency or BCD segment is
//! there (Kite's own "four decimal places"); CSV writes the same decimals as text. Timestamps
//! are microseconds in the Asia/Kolkata zone; a timestamp Kite sent as 0, and every field a
//! packet does not carry (depth in quote mode, OHLC in LTP mode), is null: never a sentinel.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    Decimal128Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};

use crate::storage::export::StoredTick;

/// The zone of every timestamp.
pub const ZONE: &str = "Asia/Kolkata";

/// What the instrument snapshot says of a token.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Instrument {
    /// `NSE`, `NFO`, …
    pub exchange: String,
    /// `NIFTY25DEC24000CE`, …
    pub tradingsymbol: String,
    /// `NFO-OPT`, …
    pub segment: String,
}

/// The export's schema for prices of `scale` decimals.
pub fn schema(scale: i8) -> Arc<Schema> {
    let price = DataType::Decimal128(18, scale);
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some(ZONE.into()));
    let mut fields = vec![
        Field::new("instrument_token", DataType::Int64, false),
        Field::new("exchange", DataType::Utf8, true),
        Field::new("tradingsymbol", DataType::Utf8, true),
        Field::new("segment", DataType::Utf8, true),
        Field::new("exchange_timestamp", time.clone(), true),
        Field::new("received_at", time.clone(), false),
        Field::new("last_price", price.clone(), false),
        Field::new("last_traded_quantity", DataType::Int64, true),
        Field::new("average_traded_price", price.clone(), true),
        Field::new("volume_traded", DataType::Int64, true),
        Field::new("total_buy_quantity", DataType::Int64, true),
        Field::new("total_sell_quantity", DataType::Int64, true),
        Field::new("open", price.clone(), true),
        Field::new("high", price.clone(), true),
        Field::new("low", price.clone(), true),
        Field::new("close", price.clone(), true),
        Field::new("change", price.clone(), true),
        Field::new("oi", DataType::Int64, true),
        Field::new("oi_day_high", DataType::Int64, true),
        Field::new("oi_day_low", DataType::Int64, true),
        Field::new("last_trade_time", time, true),
    ];
    for side in ["bid", "ask"] {
        for n in 1..=5 {
            fields.push(Field::new(format!("{side}_price_{n}"), price.clone(), true));
            fields.push(Field::new(
                format!("{side}_quantity_{n}"),
                DataType::Int64,
                true,
            ));
            fields.push(Field::new(
                format!("{side}_orders_{n}"),
                DataType::Int32,
                true,
            ));
        }
    }
    fields.push(Field::new("mode", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// The column names, in order (CSV's header).
pub fn names() -> Vec<String> {
    schema(2)
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// The decimals every price of a date needs: 4 when a divisor above 100 is there.
pub fn scale_for(divisors: impl IntoIterator<Item = i32>) -> i8 {
    if divisors.into_iter().any(|d| d > 100) {
        4
    } else {
        2
    }
}

/// `raw ÷ divisor` as an integer of `scale` decimals, exact when the divisor's decimals fit
/// (Kite's prices have at most four); a finer remainder is rounded half away from zero.
pub fn scaled(raw: i64, divisor: i32, scale: i8) -> i128 {
    let unit = 10i128.pow(u32::try_from(scale).unwrap_or(0));
    let divisor = i128::from(divisor.max(1));
    let n = i128::from(raw) * unit;
    let (q, r) = (n / divisor, n % divisor);
    if 2 * r.abs() >= divisor {
        q + n.signum()
    } else {
        q
    }
}

/// Kite's seconds as µs; 0 (or nothing) is null.
pub fn seconds(t: Option<i64>) -> Option<i64> {
    t.filter(|s| *s != 0).map(|s| s * 1_000_000)
}

/// A column of integers, one per row.
pub(super) fn ints<T>(rows: &[T], f: impl Fn(&T) -> Option<i64>) -> ArrayRef {
    let mut b = Int64Builder::with_capacity(rows.len());
    b.extend(rows.iter().map(f));
    Arc::new(b.finish())
}

/// A column of IST microsecond timestamps.
pub(super) fn times<T>(rows: &[T], f: impl Fn(&T) -> Option<i64>) -> ArrayRef {
    let mut b = TimestampMicrosecondBuilder::with_capacity(rows.len()).with_timezone(ZONE);
    b.extend(rows.iter().map(f));
    Arc::new(b.finish())
}

/// A column of text.
pub(super) fn texts<T>(rows: &[T], f: impl Fn(&T) -> Option<String>) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 12);
    b.extend(rows.iter().map(f));
    Arc::new(b.finish())
}

/// A column of exact prices of `scale` decimals, from (raw, divisor) pairs.
pub(super) fn prices<T>(
    rows: &[T],
    scale: i8,
    f: impl Fn(&T) -> Option<(i64, i32)>,
) -> Result<ArrayRef, ArrowError> {
    let mut b = Decimal128Builder::with_capacity(rows.len());
    b.extend(rows.iter().map(|r| f(r).map(|(p, d)| scaled(p, d, scale))));
    Ok(Arc::new(b.finish().with_precision_and_scale(18, scale)?))
}

/// `rows` as one Arrow batch of `schema` (prices of `scale` decimals).
pub fn batch(
    rows: &[StoredTick],
    instruments: &HashMap<i64, Instrument>,
    scale: i8,
    schema: &Arc<Schema>,
) -> Result<RecordBatch, ArrowError> {
    let price = |f: fn(&StoredTick) -> Option<i64>| {
        prices(rows, scale, move |r| f(r).map(|p| (p, r.price_divisor)))
    };
    let snapshot = |f: fn(&Instrument) -> &String| {
        texts(rows, move |r| {
            instruments.get(&r.instrument_token).map(|i| f(i).clone())
        })
    };
    let mut columns: Vec<ArrayRef> = vec![
        ints(rows, |r| Some(r.instrument_token)),
        snapshot(|i| &i.exchange),
        snapshot(|i| &i.tradingsymbol),
        snapshot(|i| &i.segment),
        times(rows, |r| seconds(r.exchange_time)),
        times(rows, |r| Some(r.recv_time_us)),
        price(|r| Some(r.last_price))?,
        ints(rows, |r| r.last_quantity),
        price(|r| r.average_price)?,
        ints(rows, |r| r.volume),
        ints(rows, |r| r.buy_quantity),
        ints(rows, |r| r.sell_quantity),
        price(|r| r.open)?,
        price(|r| r.high)?,
        price(|r| r.low)?,
        price(|r| r.close)?,
        price(|r| r.net_change)?,
        ints(rows, |r| r.oi),
        ints(rows, |r| r.oi_day_high),
        ints(rows, |r| r.oi_day_low),
        times(rows, |r| seconds(r.last_trade_time)),
    ];
    for level in 0..10 {
        columns.push(prices(rows, scale, |r| {
            r.depth[level].1.map(|p| (p, r.price_divisor))
        })?);
        columns.push(ints(rows, |r| r.depth[level].0));
        let mut orders = Int32Builder::with_capacity(rows.len());
        orders.extend(rows.iter().map(|r| r.depth[level].2));
        columns.push(Arc::new(orders.finish()));
    }
    columns.push(texts(rows, |r| Some(r.mode.clone())));
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_scale_exactly() {
        assert_eq!(scaled(123_456, 100, 2), 123_456);
        assert_eq!(scaled(123_456, 100, 4), 12_345_600);
        // CDS: ÷10⁷ to four decimals (83.1234 rupees).
        assert_eq!(scaled(831_234_000, 10_000_000, 4), 831_234);
        assert_eq!(scaled(-5, 100, 2), -5);
        assert_eq!(scale_for([100, 100]), 2);
        assert_eq!(scale_for([100, 10_000_000]), 4);
    }

    #[test]
    fn the_schema_names_the_python_clients_fields_and_carries_the_zone() {
        let names = names();
        assert_eq!(names.len(), 21 + 30 + 1);
        assert_eq!(
            &names[..6],
            [
                "instrument_token",
                "exchange",
                "tradingsymbol",
                "segment",
                "exchange_timestamp",
                "received_at"
            ]
        );
        assert_eq!(names[21], "bid_price_1");
        assert_eq!(names.last().unwrap(), "mode");
        let s = schema(4);
        assert_eq!(
            s.field_with_name("received_at").unwrap().data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some(ZONE.into()))
        );
        assert_eq!(
            s.field_with_name("last_price").unwrap().data_type(),
            &DataType::Decimal128(18, 4)
        );
    }
}
