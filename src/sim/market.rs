//! The simulator's market model: a random walk per underlying on its own deterministic stream,
//! instruments priced from their underlying (futures carried to expiry, options by
//! Black–Scholes), and consistent tick fields (monotone volume and trade time, OHLC around the
//! last price, bids below asks, OI for derivatives).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveTime;

use super::universe::{Instrument, Pricing, Universe};
use crate::calendar::IST;
use crate::kite::{Level, Ohlc, PacketKind, Segment, Tick};

/// Annual risk-free rate used for carry and option prices.
const RATE: f64 = 0.065;
/// Seconds in a trading year (252 days × 6.25 hours), for the walk's volatility.
const TRADING_YEAR_SECS: f64 = 252.0 * 6.25 * 3600.0;

/// State of one instrument between updates.
#[derive(Debug, Clone)]
struct State {
    tick: Tick,
    rng: fastrand::Rng,
    /// Sum of price × quantity, for the VWAP.
    turnover: f64,
    updates: u64,
}

/// Every price in the simulated market.
#[derive(Debug)]
pub struct Market {
    universe: Arc<Universe>,
    seed: u64,
    spots: Vec<f64>,
    spot_rngs: Vec<fastrand::Rng>,
    states: HashMap<u32, State>,
}

fn mix(seed: u64, x: u64) -> u64 {
    // SplitMix64 finaliser: independent streams per (seed, x).
    let mut z = seed ^ x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn normal(rng: &mut fastrand::Rng) -> f64 {
    // Box–Muller.
    let u1 = rng.f64().max(f64::MIN_POSITIVE);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Standard normal CDF (Abramowitz & Stegun 7.1.26; error < 1.5e-7).
fn norm_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Black–Scholes price of a European option; intrinsic value at expiry.
pub fn black_scholes(spot: f64, strike: f64, years: f64, vol: f64, call: bool) -> f64 {
    if years <= 0.0 || vol <= 0.0 {
        return if call {
            (spot - strike).max(0.0)
        } else {
            (strike - spot).max(0.0)
        };
    }
    let sd = vol * years.sqrt();
    let d1 = ((spot / strike).ln() + (RATE + vol * vol / 2.0) * years) / sd;
    let d2 = d1 - sd;
    let df = (-RATE * years).exp();
    if call {
        spot * norm_cdf(d1) - strike * df * norm_cdf(d2)
    } else {
        strike * df * norm_cdf(-d2) - spot * norm_cdf(-d1)
    }
}

impl Market {
    /// A market at the start of the day.
    pub fn new(universe: Arc<Universe>, seed: u64) -> Market {
        let spots = universe.underlyings.iter().map(|u| u.spot).collect();
        let spot_rngs = (0..universe.underlyings.len())
            .map(|i| fastrand::Rng::with_seed(mix(seed, 0x5157_0000 + i as u64)))
            .collect();
        Market {
            universe,
            seed,
            spots,
            spot_rngs,
            states: HashMap::new(),
        }
    }

    /// The universe being traded.
    pub fn universe(&self) -> &Arc<Universe> {
        &self.universe
    }

    /// Moves every underlying one step of `dt_secs` along its walk.
    pub fn advance(&mut self, dt_secs: f64) {
        for (i, spot) in self.spots.iter_mut().enumerate() {
            let vol = self.universe.underlyings[i].vol;
            let step = vol * (dt_secs / TRADING_YEAR_SECS).sqrt() * normal(&mut self.spot_rngs[i]);
            *spot *= step.exp();
        }
    }

    /// Fair price now of `inst` in rupees (before rounding to its tick).
    fn fair(&self, inst: &Instrument, now: i64) -> f64 {
        let spot = self.spots[inst.underlying];
        let years = inst
            .expiry
            .and_then(|e| {
                e.and_time(NaiveTime::from_hms_opt(15, 30, 0)?)
                    .and_local_timezone(IST)
                    .single()
            })
            .map(|t| ((t.timestamp() - now) as f64 / (365.0 * 86_400.0)).max(0.0))
            .unwrap_or(0.0);
        match inst.pricing {
            Pricing::Index | Pricing::Equity => spot,
            Pricing::Future => spot * (RATE * years).exp(),
            Pricing::Option { strike, call } => black_scholes(
                spot,
                strike,
                years,
                self.universe.underlyings[inst.underlying].vol,
                call,
            ),
        }
    }

    /// The previous close of `inst`, in rupees: what the instruments dump shows as last price.
    pub fn previous_close(&self, inst: &Instrument) -> f64 {
        let spot = self.universe.underlyings[inst.underlying].spot;
        let years_to = |extra_days: f64| {
            inst.expiry
                .map(|e| ((e - self.universe.date).num_days() as f64 + extra_days) / 365.0)
                .unwrap_or(0.0)
        };
        match inst.pricing {
            Pricing::Index | Pricing::Equity => spot,
            Pricing::Future => spot * (RATE * years_to(1.0)).exp(),
            Pricing::Option { strike, call } => black_scholes(
                spot,
                strike,
                years_to(1.25),
                self.universe.underlyings[inst.underlying].vol,
                call,
            ),
        }
    }

    /// The state of `token` now, repriced from its underlying without a trade (volume, trade
    /// time and OI do not change). `None` for a token the universe does not have.
    pub fn snapshot(&mut self, token: u32, now: i64) -> Option<Tick> {
        self.mark(token, now, false)
    }

    /// Trades `token` once at the current fair price and returns its new state.
    pub fn update(&mut self, token: u32, now: i64) -> Option<Tick> {
        self.mark(token, now, true)
    }

    fn mark(&mut self, token: u32, now: i64, trade: bool) -> Option<Tick> {
        let inst = self.universe.by_token(token)?.clone();
        let fair = self.fair(&inst, now);
        let state = self.state(token, now)?;
        let tick_raw = inst.tick_raw();
        let divisor = f64::from(Segment::of_token(token).price_divisor());
        let rng = &mut state.rng;
        // A trade happens within one tick either way of the fair price; never below one tick.
        let noise = if trade { i64::from(rng.i32(-1..=1)) } else { 0 };
        let steps = ((fair * divisor / f64::from(tick_raw)).round() as i64 + noise).max(1);
        let price = u32::try_from(steps * i64::from(tick_raw)).unwrap_or(u32::MAX);
        let t = &mut state.tick;
        let now_u32 = u32::try_from(now).unwrap_or(0);
        t.last_price = price;
        t.exchange_timestamp = now_u32;
        if t.ohlc.open == 0 {
            t.ohlc.open = price;
            t.ohlc.high = price;
            t.ohlc.low = price;
        }
        t.ohlc.high = t.ohlc.high.max(price);
        t.ohlc.low = t.ohlc.low.min(price);
        if inst.pricing == Pricing::Index {
            t.net_change = (i64::from(price) - i64::from(t.ohlc.close)) as i32;
            if trade {
                state.updates += 1;
            }
            return Some(*t);
        }
        let lot = inst.lot_size.max(1);
        if trade {
            state.updates += 1;
            let qty = lot
                * if lot == 1 {
                    rng.u32(1..=500)
                } else {
                    rng.u32(1..=10)
                };
            t.last_traded_quantity = qty;
            t.volume_traded = t.volume_traded.saturating_add(qty);
            state.turnover += f64::from(price) * f64::from(qty);
            t.average_traded_price =
                (state.turnover / f64::from(t.volume_traded.max(1))).round() as u32;
            t.last_trade_time = now_u32;
            t.total_buy_quantity = lot * rng.u32(200..=5_000);
            t.total_sell_quantity = lot * rng.u32(200..=5_000);
            if matches!(inst.pricing, Pricing::Future | Pricing::Option { .. }) {
                let change = i64::from(lot) * i64::from(rng.i32(-20..=25));
                t.oi = u32::try_from((i64::from(t.oi) + change).max(0)).unwrap_or(0);
                t.oi_day_high = t.oi_day_high.max(t.oi);
                t.oi_day_low = if t.oi_day_low == 0 {
                    t.oi
                } else {
                    t.oi_day_low.min(t.oi)
                };
            }
        }
        fill_depth(t, tick_raw, lot, rng);
        Some(*t)
    }

    fn state(&mut self, token: u32, now: i64) -> Option<&mut State> {
        if !self.states.contains_key(&token) {
            let inst = self.universe.by_token(token)?;
            let divisor = f64::from(Segment::of_token(token).price_divisor());
            let close = (self.previous_close(inst) * divisor).round() as u32;
            let kind = if inst.pricing == Pricing::Index {
                PacketKind::IndexFull
            } else {
                PacketKind::Full
            };
            let mut tick = Tick::new(kind, token);
            let mut rng = fastrand::Rng::with_seed(mix(self.seed, u64::from(token)));
            tick.ohlc = Ohlc {
                open: 0,
                high: 0,
                low: 0,
                close,
            };
            tick.last_price = close.max(1);
            tick.exchange_timestamp = u32::try_from(now).unwrap_or(0);
            if matches!(inst.pricing, Pricing::Future | Pricing::Option { .. }) {
                tick.oi = inst.lot_size * rng.u32(1_000..=50_000);
                tick.oi_day_high = tick.oi;
                tick.oi_day_low = tick.oi;
            }
            self.states.insert(
                token,
                State {
                    tick,
                    rng,
                    turnover: 0.0,
                    updates: 0,
                },
            );
        }
        self.states.get_mut(&token)
    }

    /// How many times `token` has traded.
    pub fn updates(&self, token: u32) -> u64 {
        self.states.get(&token).map_or(0, |s| s.updates)
    }
}

/// Five bids below and five offers above the last price, one tick apart; levels that would be
/// at or below zero stay empty.
fn fill_depth(t: &mut Tick, tick_raw: u32, lot: u32, rng: &mut fastrand::Rng) {
    for i in 0..5u32 {
        let gap = tick_raw * (i + 1);
        t.depth.buy[i as usize] = match t.last_price.checked_sub(gap).filter(|p| *p > 0) {
            Some(price) => Level {
                quantity: lot * rng.u32(1..=200),
                price,
                orders: rng.u16(1..=60),
            },
            None => Level::default(),
        };
        t.depth.sell[i as usize] = Level {
            quantity: lot * rng.u32(1..=200),
            price: t.last_price.saturating_add(gap),
            orders: rng.u16(1..=60),
        };
    }
}

/// Unix seconds of `date` at `time` IST.
pub fn ist_epoch(date: chrono::NaiveDate, time: NaiveTime) -> i64 {
    crate::calendar::ist_at(date, time).timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::TradingCalendar;
    use chrono::NaiveDate;

    fn market() -> Market {
        let u = Universe::generate(
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            3,
            &TradingCalendar::nse(),
        );
        Market::new(Arc::new(u), 3)
    }

    const NOW: i64 = 1_795_600_000;

    #[test]
    fn black_scholes_respects_parity_and_bounds() {
        let (s, k, t, v) = (26_000.0, 26_100.0, 0.05, 0.13);
        let c = black_scholes(s, k, t, v, true);
        let p = black_scholes(s, k, t, v, false);
        let parity = s - k * (-RATE * t).exp();
        assert!((c - p - parity).abs() < 0.05, "{c} - {p} vs {parity}");
        assert!(c > 0.0 && c < s);
        assert_eq!(black_scholes(100.0, 90.0, 0.0, 0.2, true), 10.0);
    }

    #[test]
    fn ticks_are_consistent() {
        let mut m = market();
        let u = m.universe().clone();
        let opt = u
            .instruments
            .iter()
            .find(|i| i.instrument_type == "CE")
            .unwrap()
            .token;
        let eq = u.by_key("NSE:INFY").unwrap().token;
        let mut last_volume = 0;
        for n in 0..200 {
            m.advance(0.5);
            for token in [opt, eq] {
                let t = m.update(token, NOW + n).unwrap();
                assert!(t.ohlc.low <= t.last_price && t.last_price <= t.ohlc.high);
                assert!(t.depth.sell[0].price > t.last_price);
                assert!(t.depth.buy[0].price < t.last_price || t.depth.buy[0].price == 0);
                assert!(t.depth.buy[0].price < t.depth.sell[0].price);
                assert_eq!(t.exchange_timestamp as i64, NOW + n);
                if token == eq {
                    assert!(t.volume_traded > last_volume, "volume grows");
                    last_volume = t.volume_traded;
                    assert_eq!(t.oi, 0, "no OI for equities");
                } else {
                    assert!(t.oi > 0, "options have OI");
                    assert!(t.oi_day_low <= t.oi && t.oi <= t.oi_day_high);
                }
            }
        }
    }

    #[test]
    fn options_follow_their_underlying() {
        let mut m = market();
        let u = m.universe().clone();
        let nifty = u.underlyings[0].spot;
        let deep_call = u
            .instruments
            .iter()
            .find(|i| i.name == "NIFTY" && i.instrument_type == "CE" && i.strike < nifty - 2_000.0)
            .unwrap();
        let t = m.update(deep_call.token, NOW).unwrap();
        let intrinsic = nifty - deep_call.strike;
        assert!(
            t.last_price_f64() >= intrinsic * 0.98,
            "{} vs intrinsic {intrinsic}",
            t.last_price_f64()
        );
    }

    #[test]
    fn the_same_seed_trades_the_same_way() {
        let (mut a, mut b) = (market(), market());
        let token = 256_265;
        for n in 0..50 {
            a.advance(1.0);
            b.advance(1.0);
            assert_eq!(a.update(token, NOW + n), b.update(token, NOW + n));
        }
        assert_eq!(a.update(7, NOW), None, "unknown tokens have no data");
    }
}
