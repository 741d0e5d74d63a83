//! The export's columns: a stored tick row as read back, and as an Arrow batch (Parquet) or a
//! CSV record. Named as the official Python client names tick fields where it has one.
//!
//! Prices are exact decimals, `Decimal128(18, scale)` with the date's scale: 2 when every
//! instrument of the date prices in paise (divisor 100), 4 when a currency or BCD segment is
//! there (Kite's own "four decimal places"); CSV writes the same decimals as text. Timestamps
//! are microseconds in the Asia/Kolkata zone; a timestamp Kite sent as 0, and every field a
//! packet does not carry (depth in quote mode, OHLC in LTP mode), is null: never a sentinel.

use std::sync::Arc;

use arrow_array::builder::{
    Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{
    ArrayRef, Decimal128Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};

use crate::storage::export::{StoredColumns, col};

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
    names_of(&schema(2))
}

/// The names of `schema`'s columns, in order.
pub fn names_of(schema: &Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// The decimals every price of these instruments needs, from their segments (the token's low
/// byte decides the divisor the persister stored): 4 when a currency or BCD one is there.
pub fn scale_of_tokens(tokens: impl IntoIterator<Item = i64>) -> i8 {
    scale_for(tokens.into_iter().map(|t| {
        let segment = crate::kite::Segment::of_token(u32::try_from(t).unwrap_or(0));
        i32::try_from(segment.price_divisor()).unwrap_or(i32::MAX)
    }))
}

/// The decimals every price of a date needs: 4 when a divisor above 100 is there.
pub fn scale_for(divisors: impl IntoIterator<Item = i32>) -> i8 {
    if divisors.into_iter().any(|d| d > 100) {
        4
    } else {
        2
    }
}

/// A divisor's conversion to `scale` decimals: a multiplication when the divisor divides
/// 10^scale (paise to 2 or 4 decimals, the common case), else [`scaled`]'s division.
#[derive(Debug, Clone, Copy)]
struct Price {
    divisor: i32,
    scale: i8,
    /// 10^scale ÷ divisor when exact.
    factor: Option<i64>,
}

impl Price {
    fn new(divisor: i32, scale: i8) -> Price {
        let unit = 10i64.pow(u32::try_from(scale).unwrap_or(0));
        let d = i64::from(divisor.max(1));
        Price {
            divisor,
            scale,
            factor: (unit % d == 0).then_some(unit / d),
        }
    }

    fn of(self, raw: i64) -> i128 {
        match self.factor {
            Some(f) => i128::from(raw) * i128::from(f),
            None => scaled(raw, self.divisor, self.scale),
        }
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

/// One instrument's rows as an Arrow batch of `schema` (prices of `scale` decimals), column by
/// column from the stored columns: each Arrow column is one pass over one stored column.
pub fn batch(
    rows: &StoredColumns,
    instrument: Option<&Instrument>,
    scale: i8,
    schema: &Arc<Schema>,
) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    const NULL: i64 = StoredColumns::NULL;
    // The nulls of a column whose value `is` there: none at all is no buffer.
    let nulls = |values: &[i64], is: fn(i64) -> bool| -> Option<NullBuffer> {
        (!values.iter().all(|v| is(*v)))
            .then(|| NullBuffer::from(values.iter().map(|v| is(*v)).collect::<Vec<bool>>()))
    };
    let given = |v: i64| v != NULL;
    let int = |c: usize| -> ArrayRef {
        let values = rows.column(c);
        let nulls = nulls(values, given);
        let values: Vec<i64> = match nulls {
            None => values.to_vec(),
            Some(_) => values
                .iter()
                .map(|v| if *v == NULL { 0 } else { *v })
                .collect(),
        };
        Arc::new(Int64Array::new(ScalarBuffer::from(values), nulls))
    };
    let orders = |c: usize| -> ArrayRef {
        let values = rows.column(c);
        let small: Vec<i32> = values
            .iter()
            .map(|v| i32::try_from(*v).unwrap_or(0))
            .collect();
        Arc::new(Int32Array::new(
            ScalarBuffer::from(small),
            nulls(values, given),
        ))
    };
    // Kite's seconds as µs; 0 is null.
    let time = |c: usize| -> ArrayRef {
        let values = rows.column(c);
        let micros: Vec<i64> = values.iter().map(|v| v.saturating_mul(1_000_000)).collect();
        Arc::new(
            TimestampMicrosecondArray::new(
                ScalarBuffer::from(micros),
                nulls(values, |v| v != NULL && v != 0),
            )
            .with_timezone(ZONE),
        )
    };
    let divisors = rows.column(col::PRICE_DIVISOR);
    let price = |c: usize| -> Result<ArrayRef, ArrowError> {
        let values = rows.column(c);
        let mut unit = Price::new(1, scale);
        let mut scaled: Vec<i128> = Vec::with_capacity(n);
        for (v, d) in values.iter().zip(divisors) {
            let d = i32::try_from(*d).unwrap_or(1);
            if unit.divisor != d {
                unit = Price::new(d, scale);
                // The scale was chosen from the instruments' segments; a row whose divisor
                // asks for more decimals than that would lose them.
                if scale_for([d]) > scale {
                    return Err(ArrowError::InvalidArgumentError(format!(
                        "a price divisor of {d} needs more than {scale} decimals"
                    )));
                }
            }
            scaled.push(if *v == NULL { 0 } else { unit.of(*v) });
        }
        Ok(Arc::new(
            Decimal128Array::new(ScalarBuffer::from(scaled), nulls(values, given))
                .with_precision_and_scale(18, scale)?,
        ))
    };
    let text = |value: Option<&str>| -> ArrayRef {
        match value {
            Some(v) => {
                let mut b = StringBuilder::with_capacity(n, n * v.len());
                (0..n).for_each(|_| b.append_value(v));
                Arc::new(b.finish())
            }
            None => Arc::new(StringArray::new_null(n)),
        }
    };
    let received = rows.column(col::RECV_TIME_US);
    let mut columns: Vec<ArrayRef> = vec![
        int(col::INSTRUMENT_TOKEN),
        text(instrument.map(|i| i.exchange.as_str())),
        text(instrument.map(|i| i.tradingsymbol.as_str())),
        text(instrument.map(|i| i.segment.as_str())),
        time(col::EXCHANGE_TIME),
        Arc::new(
            TimestampMicrosecondArray::new(ScalarBuffer::from(received.to_vec()), None)
                .with_timezone(ZONE),
        ),
        price(col::LAST_PRICE)?,
        int(col::LAST_QUANTITY),
        price(col::AVERAGE_PRICE)?,
        int(col::VOLUME),
        int(col::BUY_QUANTITY),
        int(col::SELL_QUANTITY),
        price(col::OPEN)?,
        price(col::HIGH)?,
        price(col::LOW)?,
        price(col::CLOSE)?,
        price(col::NET_CHANGE)?,
        int(col::OI),
        int(col::OI_DAY_HIGH),
        int(col::OI_DAY_LOW),
        time(col::LAST_TRADE_TIME),
    ];
    for level in 0..10 {
        let (quantity, p, o) = col::depth(level);
        columns.push(price(p)?);
        columns.push(int(quantity));
        columns.push(orders(o));
    }
    let mut modes = StringBuilder::with_capacity(n, n * 4);
    for m in rows.modes() {
        modes.append_value(m);
    }
    columns.push(Arc::new(modes.finish()));
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
        // From the tokens' segments (the low byte): an index and a CDS contract.
        assert_eq!(scale_of_tokens([256_265]), 2);
        assert_eq!(scale_of_tokens([256_265, (5_000 << 8) | 3]), 4);
        // The multiplication agrees with the division wherever it applies.
        for (divisor, scale) in [(100, 2), (100, 4), (10_000, 4), (1, 2), (10_000_000, 4)] {
            for raw in [0, 1, -7, 123_456, 831_234_567] {
                assert_eq!(
                    Price::new(divisor, scale).of(raw),
                    scaled(raw, divisor, scale),
                    "{raw} / {divisor} at {scale}"
                );
            }
        }
    }

    #[test]
    fn a_batch_has_exact_prices_in_every_segment_and_nulls_where_nothing_came() {
        use crate::storage::export::StoredTick;
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Decimal128Type, TimestampMicrosecondType};
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let tick = |token: i64, divisor: i32, price: i64| StoredTick {
            exchange_time: Some(0),
            ..StoredTick::bare(date, token, divisor, price)
        };
        // USDINR on CDS: ÷10⁷ to four decimals, 83.1234 rupees.
        let cds = StoredColumns::from_rows(date, &[tick(1_234_563, 10_000_000, 831_234_000)]);
        let batch = super::batch(&cds, None, 4, &schema(4)).unwrap();
        let price = batch.column_by_name("last_price").unwrap();
        assert_eq!(price.as_primitive::<Decimal128Type>().value(0), 831_234);
        // An equity in paise at the same scale.
        let nse = StoredColumns::from_rows(date, &[tick(256_265, 100, 123_456)]);
        let batch = super::batch(&nse, None, 4, &schema(4)).unwrap();
        let price = batch.column_by_name("last_price").unwrap();
        assert_eq!(price.as_primitive::<Decimal128Type>().value(0), 12_345_600);
        // Quote mode: no depth, no OHLC; an exchange time of 0 is null, not 1970.
        for name in [
            "bid_price_1",
            "ask_orders_5",
            "open",
            "oi",
            "exchange_timestamp",
        ] {
            assert!(batch.column_by_name(name).unwrap().is_null(0), "{name}");
        }
        let received = batch.column_by_name("received_at").unwrap();
        assert_eq!(
            received.as_primitive::<TimestampMicrosecondType>().value(0),
            1_795_000_000_000_000
        );
        // A currency row where the scale was chosen for paise would lose decimals: refused.
        assert!(super::batch(&cds, None, 2, &schema(2)).is_err());
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
