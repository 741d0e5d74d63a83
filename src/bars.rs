//! Bars from ticks: one row per instrument per interval (`tickvault export --bars 1m`), built
//! by a plain function over ticks in exchange-time order.
//!
//! What a bar holds, and the choices behind it (docs/data-model.md says the same for users):
//! - **Time.** A tick belongs to the bar of its exchange timestamp (its receive time when Kite
//!   sent none: LTP mode). Bars are aligned to the session open, 09:15 IST: `1m`, `5m`, `15m`
//!   bars start on the clock's multiples, `1h` bars at 09:15, 10:15, … (as Kite's own candles).
//!   A bar is `[start, start + interval)`. Intervals with no tick have no bar (no row, not a row
//!   of nulls): a reader resamples if it wants them.
//! - **Prices.** Open, high, low and close of `last_price`, exact (the raw integer and its
//!   divisor, as stored).
//! - **Volume** is the bar's share of the cumulative `volume_traded`: the sum over its ticks of
//!   the rise since the instrument's previous tick (in this bar or an earlier one). The
//!   instrument's first tick only sets the baseline (its volume was traded before the
//!   recording began). A fall (the feed's counter restarted) counts the new value as traded
//!   since the restart; a volume is never negative.
//! - **VWAP** comes from Kite's `average_traded_price` (the day's running VWAP): the turnover
//!   `average × volume` at the bar's last tick less the turnover at the tick before the bar,
//!   over the volume between them; none when nothing traded or Kite sent no average.
//! - **OI** is the last open interest of the bar; **ticks** how many ticks it has; the **mean
//!   spread** (best ask − best bid) and the **mean best bid and ask quantities** are over the
//!   ticks that carried depth (none without depth: LTP and quote modes).
//!
//! Written by hand: an aggregation this specific (a baseline across bars, VWAP from Kite's
//! running average) is no library's; the code is one pass and small.

use chrono::{NaiveDate, NaiveTime};

/// A bar's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// 1 minute.
    M1,
    /// 5 minutes.
    M5,
    /// 15 minutes.
    M15,
    /// 1 hour (09:15, 10:15, …).
    H1,
}

impl Interval {
    /// Every interval, in `--bars` order.
    pub const ALL: [Interval; 4] = [Interval::M1, Interval::M5, Interval::M15, Interval::H1];

    /// Its name in `--bars` and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::M1 => "1m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::H1 => "1h",
        }
    }

    /// Its length in microseconds.
    pub fn micros(self) -> i64 {
        let minutes = match self {
            Interval::M1 => 1,
            Interval::M5 => 5,
            Interval::M15 => 15,
            Interval::H1 => 60,
        };
        minutes * 60 * 1_000_000
    }
}

impl std::str::FromStr for Interval {
    type Err = UnknownInterval;

    fn from_str(s: &str) -> Result<Interval, UnknownInterval> {
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| UnknownInterval(s.to_string()))
    }
}

/// An interval `--bars` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bar interval {0:?}: one of 1m, 5m, 15m, 1h")]
pub struct UnknownInterval(pub String);

/// What a bar needs of a tick. Prices are Kite's integers (divide by `price_divisor`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BarTick {
    /// The instrument.
    pub instrument_token: i64,
    /// The exchange timestamp, µs since the epoch (none: LTP mode).
    pub exchange_time_us: Option<i64>,
    /// When it was received, µs since the epoch.
    pub received_us: i64,
    /// The divisor of every price.
    pub price_divisor: i32,
    /// Last traded price.
    pub last_price: i64,
    /// Cumulative volume traded today.
    pub volume_traded: Option<i64>,
    /// Kite's running VWAP of the day.
    pub average_traded_price: Option<i64>,
    /// Open interest.
    pub oi: Option<i64>,
    /// Best bid and ask price and quantity (full mode only).
    pub bid_price_1: Option<i64>,
    #[allow(missing_docs)]
    pub bid_quantity_1: Option<i64>,
    #[allow(missing_docs)]
    pub ask_price_1: Option<i64>,
    #[allow(missing_docs)]
    pub ask_quantity_1: Option<i64>,
}

impl BarTick {
    /// The time it counts at.
    fn at(&self) -> i64 {
        self.exchange_time_us.unwrap_or(self.received_us)
    }
}

/// One instrument's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The instrument.
    pub instrument_token: i64,
    /// The bar's first µs (since the epoch); it ends one interval later.
    pub start_us: i64,
    /// The divisor of the prices below.
    pub price_divisor: i32,
    /// Open, high, low, close of `last_price`.
    pub open: i64,
    #[allow(missing_docs)]
    pub high: i64,
    #[allow(missing_docs)]
    pub low: i64,
    #[allow(missing_docs)]
    pub close: i64,
    /// Volume traded within the bar.
    pub volume: u64,
    /// Volume-weighted average price within the bar, in rupees.
    pub vwap: Option<f64>,
    /// Open interest at the bar's last tick that had one.
    pub oi: Option<i64>,
    /// Ticks in the bar.
    pub ticks: u64,
    /// Mean best ask − best bid, in rupees, over the ticks with depth.
    pub mean_spread: Option<f64>,
    /// Mean best bid and ask quantities over the ticks with depth.
    pub mean_bid_quantity: Option<f64>,
    #[allow(missing_docs)]
    pub mean_ask_quantity: Option<f64>,
}

/// Where `interval` bars of `date` start: the session open, 09:15 IST, in µs since the epoch.
pub fn anchor_us(date: NaiveDate) -> i64 {
    let open = NaiveTime::from_hms_opt(9, 15, 0).unwrap_or_default();
    crate::calendar::ist_at(date, open).timestamp_micros()
}

/// The start of the bar `at` falls in.
fn bar_start(at: i64, anchor: i64, interval: i64) -> i64 {
    anchor + (at - anchor).div_euclid(interval) * interval
}

/// A bar being built, and what it needs of the tick before it.
struct Open {
    bar: Bar,
    /// Turnover (average × volume) and volume at the tick before the bar.
    before: Option<(i128, i64)>,
    /// The same at the bar's last tick with both.
    last: Option<(i128, i64)>,
    spread_sum: f64,
    bid_sum: f64,
    ask_sum: f64,
    depth_ticks: u64,
}

impl Open {
    fn close(self) -> Bar {
        let mut bar = self.bar;
        let divisor = f64::from(bar.price_divisor.max(1));
        bar.vwap = match (self.before, self.last) {
            (Some((t0, v0)), Some((t1, v1))) if v1 > v0 => {
                Some((t1 - t0) as f64 / (v1 - v0) as f64 / divisor)
            }
            _ => None,
        };
        if self.depth_ticks > 0 {
            let n = self.depth_ticks as f64;
            bar.mean_spread = Some(self.spread_sum / n / divisor);
            bar.mean_bid_quantity = Some(self.bid_sum / n);
            bar.mean_ask_quantity = Some(self.ask_sum / n);
        }
        bar
    }
}

/// The bars of `ticks` (any instruments, each instrument's ticks in time order; the order
/// between instruments does not matter), for the trading date `date`. Bars come out by
/// instrument, then by time.
pub fn build(
    ticks: impl IntoIterator<Item = BarTick>,
    date: NaiveDate,
    interval: Interval,
) -> Vec<Bar> {
    let (anchor, length) = (anchor_us(date), interval.micros());
    let mut open: std::collections::BTreeMap<i64, Open> = Default::default();
    // Per instrument: the last cumulative volume, and the last (turnover, volume).
    let mut last_volume: std::collections::HashMap<i64, i64> = Default::default();
    let mut last_turnover: std::collections::HashMap<i64, (i128, i64)> = Default::default();
    let mut done = Vec::new();
    for t in ticks {
        let token = t.instrument_token;
        let start = bar_start(t.at(), anchor, length);
        let traded = match (t.volume_traded, last_volume.get(&token)) {
            (Some(v), Some(prev)) if v >= *prev => (v - prev) as u64,
            // The counter restarted: what it shows was traded since.
            (Some(v), Some(_)) => v.max(0) as u64,
            // The first tick is the baseline.
            _ => 0,
        };
        if let Some(v) = t.volume_traded {
            last_volume.insert(token, v);
        }
        if open.get(&token).is_some_and(|o| o.bar.start_us != start)
            && let Some(o) = open.remove(&token)
        {
            done.push(o.close());
        }
        let before = last_turnover.get(&token).copied();
        let o = open.entry(token).or_insert_with(|| Open {
            bar: Bar {
                instrument_token: token,
                start_us: start,
                price_divisor: t.price_divisor,
                open: t.last_price,
                high: t.last_price,
                low: t.last_price,
                close: t.last_price,
                volume: 0,
                vwap: None,
                oi: None,
                ticks: 0,
                mean_spread: None,
                mean_bid_quantity: None,
                mean_ask_quantity: None,
            },
            before,
            last: None,
            spread_sum: 0.0,
            bid_sum: 0.0,
            ask_sum: 0.0,
            depth_ticks: 0,
        });
        let bar = &mut o.bar;
        bar.high = bar.high.max(t.last_price);
        bar.low = bar.low.min(t.last_price);
        bar.close = t.last_price;
        bar.volume += traded;
        bar.ticks += 1;
        if t.oi.is_some() {
            bar.oi = t.oi;
        }
        if let (Some(avg), Some(v)) = (t.average_traded_price, t.volume_traded) {
            let now = (i128::from(avg) * i128::from(v), v);
            o.last = Some(now);
            last_turnover.insert(token, now);
        }
        if let (Some(bid), Some(ask), Some(bq), Some(aq)) = (
            t.bid_price_1,
            t.ask_price_1,
            t.bid_quantity_1,
            t.ask_quantity_1,
        ) && bid > 0
            && ask > 0
        {
            o.spread_sum += (ask - bid) as f64;
            o.bid_sum += bq as f64;
            o.ask_sum += aq as f64;
            o.depth_ticks += 1;
        }
    }
    done.extend(open.into_values().map(Open::close));
    done.sort_by_key(|b| (b.instrument_token, b.start_us));
    done
}

#[cfg(test)]
mod tests {
    // Prices in paise, grouped as rupees and paise: 100_00 is ₹100.00.
    #![allow(clippy::inconsistent_digit_grouping)]

    use super::*;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    /// A tick at `h:m:s` IST.
    fn at(h: u32, m: u32, s: u32) -> i64 {
        let t = date().and_hms_opt(h, m, s).unwrap() - chrono::TimeDelta::minutes(330);
        t.and_utc().timestamp_micros()
    }

    fn tick(token: i64, time: i64, price: i64, volume: Option<i64>) -> BarTick {
        BarTick {
            instrument_token: token,
            exchange_time_us: Some(time),
            received_us: time + 1_000,
            price_divisor: 100,
            last_price: price,
            volume_traded: volume,
            ..Default::default()
        }
    }

    #[test]
    fn open_high_low_close_volume_and_ticks_per_minute() {
        let ticks = [
            tick(1, at(9, 15, 0), 100_00, Some(1_000)),
            tick(1, at(9, 15, 10), 101_50, Some(1_200)),
            tick(1, at(9, 15, 59), 99_95, Some(1_250)),
            tick(1, at(9, 16, 0), 100_05, Some(1_300)),
        ];
        let bars = build(ticks, date(), Interval::M1);
        assert_eq!(bars.len(), 2);
        let first = &bars[0];
        assert_eq!(first.start_us, at(9, 15, 0));
        assert_eq!(
            (first.open, first.high, first.low, first.close),
            (100_00, 101_50, 99_95, 99_95)
        );
        assert_eq!(first.volume, 250, "the first tick is the baseline");
        assert_eq!(first.ticks, 3);
        assert_eq!(
            (bars[1].start_us, bars[1].volume, bars[1].ticks),
            (at(9, 16, 0), 50, 1),
            "a one-tick bar: its volume is the rise since the bar before"
        );
        assert_eq!(bars[1].open, bars[1].close);
    }

    #[test]
    fn a_gap_leaves_no_bar_and_the_volume_carries_across_it() {
        let ticks = [
            tick(1, at(10, 0, 5), 50_00, Some(10)),
            tick(1, at(10, 7, 30), 51_00, Some(40)),
        ];
        let bars = build(ticks, date(), Interval::M5);
        let starts: Vec<i64> = bars.iter().map(|b| b.start_us).collect();
        assert_eq!(starts, [at(10, 0, 0), at(10, 5, 0)], "no bar for nothing");
        assert_eq!(bars[1].volume, 30);
    }

    #[test]
    fn a_volume_reset_is_never_negative() {
        let ticks = [
            tick(1, at(11, 0, 0), 10_00, Some(5_000)),
            tick(1, at(11, 0, 20), 10_00, Some(5_100)),
            tick(1, at(11, 0, 40), 10_00, Some(30)),
            tick(1, at(11, 0, 50), 10_00, Some(45)),
        ];
        let bars = build(ticks, date(), Interval::M1);
        assert_eq!(bars[0].volume, 100 + 30 + 15);
    }

    #[test]
    fn hour_bars_start_at_the_session_open() {
        let ticks = [
            tick(1, at(9, 15, 0), 1, None),
            tick(1, at(10, 14, 59), 2, None),
            tick(1, at(10, 15, 0), 3, None),
        ];
        let bars = build(ticks, date(), Interval::H1);
        let starts: Vec<i64> = bars.iter().map(|b| b.start_us).collect();
        assert_eq!(starts, [at(9, 15, 0), at(10, 15, 0)]);
        assert_eq!(bars[0].close, 2);
    }

    #[test]
    fn vwap_comes_from_the_running_average_and_depth_means_from_full_ticks() {
        let mut a = tick(7, at(12, 0, 59), 100_00, Some(100));
        a.average_traded_price = Some(99_00); // turnover 9 900 rupees at 100 shares
        let mut b = tick(7, at(12, 1, 10), 102_00, Some(150));
        b.average_traded_price = Some(100_00); // 15 000 at 150
        b.oi = Some(1_000);
        (b.bid_price_1, b.ask_price_1) = (Some(101_90), Some(102_10));
        (b.bid_quantity_1, b.ask_quantity_1) = (Some(300), Some(500));
        let mut c = tick(7, at(12, 1, 40), 103_00, Some(200));
        c.average_traded_price = Some(101_00); // 20 200 at 200
        (c.bid_price_1, c.ask_price_1) = (Some(102_95), Some(103_05));
        (c.bid_quantity_1, c.ask_quantity_1) = (Some(100), Some(100));
        let bars = build([a, b, c], date(), Interval::M1);
        let bar = &bars[1];
        // (20 200 − 9 900) rupees over 100 shares.
        assert!((bar.vwap.unwrap() - 103.0).abs() < 1e-9, "{bar:?}");
        assert_eq!(bar.oi, Some(1_000), "the last OI the bar saw");
        assert!((bar.mean_spread.unwrap() - 0.15).abs() < 1e-9);
        assert_eq!(
            (bar.mean_bid_quantity, bar.mean_ask_quantity),
            (Some(200.0), Some(300.0))
        );
        assert_eq!(
            bars[0].vwap, None,
            "no trade before the first tick to measure from"
        );
        assert_eq!(bars[0].mean_spread, None, "no depth");
    }

    #[test]
    fn instruments_are_built_apart_and_come_out_in_order() {
        let ticks = [
            tick(2, at(9, 20, 0), 5, Some(1)),
            tick(1, at(9, 20, 0), 7, Some(1)),
            tick(2, at(9, 20, 30), 6, Some(4)),
            tick(1, at(9, 21, 0), 8, Some(9)),
        ];
        let bars = build(ticks, date(), Interval::M1);
        let keys: Vec<(i64, i64, u64)> = bars
            .iter()
            .map(|b| (b.instrument_token, b.start_us, b.volume))
            .collect();
        assert_eq!(
            keys,
            [
                (1, at(9, 20, 0), 0),
                (1, at(9, 21, 0), 8),
                (2, at(9, 20, 0), 3)
            ]
        );
    }

    #[test]
    fn ltp_ticks_count_at_their_receive_time_and_intervals_parse() {
        let mut t = tick(1, 0, 5, None);
        t.exchange_time_us = None;
        t.received_us = at(13, 2, 3);
        let bars = build([t], date(), Interval::M15);
        assert_eq!(bars[0].start_us, at(13, 0, 0));
        assert_eq!("15m".parse::<Interval>(), Ok(Interval::M15));
        assert!("2m".parse::<Interval>().is_err());
    }
}
