//! The bars' columns (`export --bars`): one row per instrument per interval, as an Arrow batch
//! or CSV records. Prices exact as in the ticks' export; VWAP and the depth means are floats
//! (averages, not prices Kite sent).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::Float64Builder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};

use super::columns::{Instrument, ZONE, ints, prices, texts, times};
use crate::bars::{Bar, BarTick};
use crate::storage::export::StoredTick;

/// What a bar needs of a stored tick.
pub fn bar_tick(r: &StoredTick) -> BarTick {
    let (bid, ask) = (r.depth[0], r.depth[5]);
    BarTick {
        instrument_token: r.instrument_token,
        exchange_time_us: super::columns::seconds(r.exchange_time),
        received_us: r.recv_time_us,
        price_divisor: r.price_divisor,
        last_price: r.last_price,
        volume_traded: r.volume,
        average_traded_price: r.average_price,
        oi: r.oi,
        bid_price_1: bid.1,
        bid_quantity_1: bid.0,
        ask_price_1: ask.1,
        ask_quantity_1: ask.0,
    }
}

/// The bars' schema for prices of `scale` decimals.
pub fn schema(scale: i8) -> Arc<Schema> {
    let price = DataType::Decimal128(18, scale);
    Arc::new(Schema::new(vec![
        Field::new("instrument_token", DataType::Int64, false),
        Field::new("exchange", DataType::Utf8, true),
        Field::new("tradingsymbol", DataType::Utf8, true),
        Field::new("segment", DataType::Utf8, true),
        Field::new(
            "bar_start",
            DataType::Timestamp(TimeUnit::Microsecond, Some(ZONE.into())),
            false,
        ),
        Field::new("open", price.clone(), false),
        Field::new("high", price.clone(), false),
        Field::new("low", price.clone(), false),
        Field::new("close", price, false),
        Field::new("volume", DataType::Int64, false),
        Field::new("vwap", DataType::Float64, true),
        Field::new("oi", DataType::Int64, true),
        Field::new("ticks", DataType::Int64, false),
        Field::new("mean_spread", DataType::Float64, true),
        Field::new("mean_bid_quantity", DataType::Float64, true),
        Field::new("mean_ask_quantity", DataType::Float64, true),
    ]))
}

/// The column names, in order (CSV's header).
pub fn names() -> Vec<String> {
    super::columns::names_of(&schema(2))
}

/// `bars` as one Arrow batch of `schema`.
pub fn batch(
    bars: &[Bar],
    instruments: &HashMap<i64, Instrument>,
    scale: i8,
    schema: &Arc<Schema>,
) -> Result<RecordBatch, ArrowError> {
    let price = |f: fn(&Bar) -> i64| prices(bars, scale, move |b| Some((f(b), b.price_divisor)));
    let float = |f: fn(&Bar) -> Option<f64>| -> ArrayRef {
        let mut b = Float64Builder::with_capacity(bars.len());
        b.extend(bars.iter().map(f));
        Arc::new(b.finish())
    };
    let snapshot = |f: fn(&Instrument) -> &String| {
        texts(bars, move |b| {
            instruments.get(&b.instrument_token).map(|i| f(i).clone())
        })
    };
    let count = |n: u64| Some(i64::try_from(n).unwrap_or(i64::MAX));
    let columns: Vec<ArrayRef> = vec![
        ints(bars, |b| Some(b.instrument_token)),
        snapshot(|i| &i.exchange),
        snapshot(|i| &i.tradingsymbol),
        snapshot(|i| &i.segment),
        times(bars, |b| Some(b.start_us)),
        price(|b| b.open)?,
        price(|b| b.high)?,
        price(|b| b.low)?,
        price(|b| b.close)?,
        ints(bars, |b| count(b.volume)),
        float(|b| b.vwap),
        ints(bars, |b| b.oi),
        ints(bars, |b| count(b.ticks)),
        float(|b| b.mean_spread),
        float(|b| b.mean_bid_quantity),
        float(|b| b.mean_ask_quantity),
    ];
    RecordBatch::try_new(schema.clone(), columns)
}
