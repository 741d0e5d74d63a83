//! The CSV form of the export: [`super::columns::names`] as the header, RFC 3339 IST
//! timestamps to the microsecond, decimals as text, empty for null.

use std::io::Write;

use super::columns::{Instrument, scaled, seconds};
use crate::bars::Bar;
use crate::calendar::ist_rfc3339_micros as rfc3339;
use crate::storage::export::StoredTick;

/// Writes the header line (the column names) into `out`.
pub(super) fn header(out: &mut dyn Write, names: Vec<String>) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(names)?;
    w.flush()
}

/// A CSV writer of export rows into a buffer: one per chunk of the date, the chunks' buffers
/// then written in order after [`header`].
pub(super) struct Writer {
    out: csv::Writer<Vec<u8>>,
    scale: i8,
}

impl Writer {
    /// Prices get `scale` decimals.
    pub(super) fn new(scale: i8) -> Writer {
        Writer {
            out: csv::Writer::from_writer(Vec::with_capacity(1 << 20)),
            scale,
        }
    }

    /// One bar.
    pub(super) fn bar(&mut self, b: &Bar, i: Option<&Instrument>) -> std::io::Result<()> {
        let price = |p: i64| decimal(scaled(p, b.price_divisor, self.scale), self.scale);
        let float = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let record = [
            b.instrument_token.to_string(),
            i.map(|i| i.exchange.clone()).unwrap_or_default(),
            i.map(|i| i.tradingsymbol.clone()).unwrap_or_default(),
            i.map(|i| i.segment.clone()).unwrap_or_default(),
            rfc3339(b.start_us),
            price(b.open),
            price(b.high),
            price(b.low),
            price(b.close),
            b.volume.to_string(),
            float(b.vwap),
            b.oi.map(|o| o.to_string()).unwrap_or_default(),
            b.ticks.to_string(),
            float(b.mean_spread),
            float(b.mean_bid_quantity),
            float(b.mean_ask_quantity),
        ];
        self.out.write_record(&record)?;
        Ok(())
    }

    /// One row.
    pub(super) fn row(&mut self, r: &StoredTick, i: Option<&Instrument>) -> std::io::Result<()> {
        let scale = self.scale;
        let price = |p: Option<i64>| p.map(|p| decimal(scaled(p, r.price_divisor, scale), scale));
        let int = |v: Option<i64>| v.map(|v| v.to_string());
        let time = |us: Option<i64>| us.map(rfc3339);
        let mut record: Vec<Option<String>> = vec![
            Some(r.instrument_token.to_string()),
            i.map(|i| i.exchange.clone()),
            i.map(|i| i.tradingsymbol.clone()),
            i.map(|i| i.segment.clone()),
            time(seconds(r.exchange_time)),
            time(Some(r.recv_time_us)),
            price(Some(r.last_price)),
            int(r.last_quantity),
            price(r.average_price),
            int(r.volume),
            int(r.buy_quantity),
            int(r.sell_quantity),
            price(r.open),
            price(r.high),
            price(r.low),
            price(r.close),
            price(r.net_change),
            int(r.oi),
            int(r.oi_day_high),
            int(r.oi_day_low),
            time(seconds(r.last_trade_time)),
        ];
        for (quantity, p, orders) in &r.depth {
            record.push(price(*p));
            record.push(int(*quantity));
            record.push(orders.map(|o| o.to_string()));
        }
        record.push(Some(r.mode.to_string()));
        self.out
            .write_record(record.iter().map(|v| v.as_deref().unwrap_or("")))?;
        Ok(())
    }

    /// The text written.
    pub(super) fn finish(self) -> std::io::Result<Vec<u8>> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// `value` with `scale` decimals as text (`123456`, 2 → `1234.56`).
fn decimal(value: i128, scale: i8) -> String {
    let scale = usize::try_from(scale).unwrap_or(0);
    let sign = if value < 0 { "-" } else { "" };
    let digits = format!("{:0>width$}", value.unsigned_abs(), width = scale + 1);
    let (whole, frac) = digits.split_at(digits.len() - scale);
    if scale == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_times_as_text() {
        assert_eq!(decimal(123_456, 2), "1234.56");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(-5, 4), "-0.0005");
        assert_eq!(decimal(7, 0), "7");
        assert_eq!(rfc3339(0), "1970-01-01T05:30:00.000000+05:30");
    }
}
