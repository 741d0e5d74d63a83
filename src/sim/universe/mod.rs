//! The simulator's instrument universe for one trading date, deterministic per seed: indices,
//! about 500 NSE equities, futures, and index and stock options, with Kite's symbols, real lot
//! and tick sizes, and `instrument_token = exchange_token * 256 + segment` always.

mod data;

use std::collections::HashMap;

use chrono::NaiveDate;

use super::expiry::{self, Underlying};
use crate::calendar::TradingCalendar;
use crate::kite::Segment;
use data::*;

/// How the market model prices an instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pricing {
    /// An index: its underlying's level.
    Index,
    /// A stock: its underlying's price.
    Equity,
    /// A future: the underlying carried to expiry.
    Future,
    /// A call (`true`) or put on the underlying at `strike` (rupees).
    Option {
        /// Strike in rupees.
        strike: f64,
        /// Call or put.
        call: bool,
    },
}

/// One row of the instruments dump, plus what the market model needs.
#[derive(Debug, Clone)]
pub struct Instrument {
    /// `exchange_token * 256 + segment`.
    pub token: u32,
    /// The exchange's own token.
    pub exchange_token: u32,
    /// Kite's trading symbol.
    pub tradingsymbol: String,
    /// Company name, index name, or the underlying's root for derivatives.
    pub name: String,
    /// Expiry date of a derivative.
    pub expiry: Option<NaiveDate>,
    /// Strike of an option (0 otherwise).
    pub strike: f64,
    /// Price step in rupees.
    pub tick_size: f64,
    /// Contract size.
    pub lot_size: u32,
    /// `EQ`, `FUT`, `CE` or `PE`.
    pub instrument_type: &'static str,
    /// `INDICES`, `NSE`, `BSE`, `NFO-FUT`, `NFO-OPT`.
    pub segment: &'static str,
    /// `NSE`, `BSE` or `NFO`.
    pub exchange: &'static str,
    /// Index into [`Universe::underlyings`].
    pub underlying: usize,
    /// How it is priced.
    pub pricing: Pricing,
}

impl Instrument {
    /// `EXCHANGE:TRADINGSYMBOL`, the key quotes are asked by.
    pub fn key(&self) -> String {
        format!("{}:{}", self.exchange, self.tradingsymbol)
    }

    /// The price step in wire units.
    pub fn tick_raw(&self) -> u32 {
        let divisor = f64::from(Segment::of_token(self.token).price_divisor());
        ((self.tick_size * divisor).round() as u32).max(1)
    }
}

/// Something whose price moves by itself: an index or a stock.
#[derive(Debug, Clone)]
pub struct UnderlyingSpec {
    /// Index name or stock symbol.
    pub name: String,
    /// Level at the start of the day (the previous close).
    pub spot: f64,
    /// Annualised volatility used for the walk and for option prices.
    pub vol: f64,
}

/// All instruments of a trading date.
#[derive(Debug, Clone)]
pub struct Universe {
    /// The trading date the dump is for.
    pub date: NaiveDate,
    /// Every instrument, in dump order.
    pub instruments: Vec<Instrument>,
    /// What moves.
    pub underlyings: Vec<UnderlyingSpec>,
    by_token: HashMap<u32, usize>,
    by_key: HashMap<String, usize>,
}

/// The dump's header line, exactly (PROTOCOL.md §3.4).
pub use crate::kite::instruments::CSV_HEADER;

struct Builder {
    instruments: Vec<Instrument>,
    nfo_token: u32,
}

impl Builder {
    fn push(&mut self, mut i: Instrument, segment_code: u32) {
        i.token = i.exchange_token * 256 + segment_code;
        self.instruments.push(i);
    }

    fn next_nfo(&mut self) -> u32 {
        self.nfo_token += 1;
        self.nfo_token
    }
}

impl Universe {
    /// The universe of `date` for `seed`. Expiries follow `cal`.
    pub fn generate(date: NaiveDate, seed: u64, cal: &TradingCalendar) -> Universe {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut underlyings = Vec::new();
        let mut b = Builder {
            instruments: Vec::with_capacity(20_000),
            nfo_token: 35_000,
        };
        // Indices and their derivatives.
        let mut index_derivatives = Vec::new();
        for IndexSpec {
            symbol,
            exchange_token,
            exchange,
            level,
            vol,
            derivatives,
        } in INDICES
        {
            let spot = round_to(level * (1.0 + (rng.f64() - 0.5) * 0.04), 0.05);
            let underlying = underlyings.len();
            underlyings.push(UnderlyingSpec {
                name: symbol.to_string(),
                spot,
                vol,
            });
            b.push(
                Instrument {
                    token: 0,
                    exchange_token,
                    tradingsymbol: symbol.to_string(),
                    name: symbol.to_string(),
                    expiry: None,
                    strike: 0.0,
                    tick_size: 0.05,
                    lot_size: 0,
                    instrument_type: "EQ",
                    segment: "INDICES",
                    exchange,
                    underlying,
                    pricing: Pricing::Index,
                },
                9,
            );
            if let Some(d) = derivatives {
                index_derivatives.push((underlying, d));
            }
        }
        // Equities.
        for n in 0..EQUITY_COUNT {
            let (symbol, exchange_token, name) = match EQUITIES.get(n) {
                Some((s, t, name)) => (s.to_string(), *t, name.to_string()),
                None => (
                    format!("SIMSTK{n:03}"),
                    30_000 + n as u32,
                    format!("SIMULATED STOCK {n:03}"),
                ),
            };
            let price = round_to(
                (80f64.ln() + rng.f64() * (4000f64.ln() - 80f64.ln())).exp(),
                0.05,
            );
            let underlying = underlyings.len();
            underlyings.push(UnderlyingSpec {
                name: symbol.clone(),
                spot: price,
                vol: 0.2 + rng.f64() * 0.2,
            });
            b.push(
                Instrument {
                    token: 0,
                    exchange_token,
                    tradingsymbol: symbol,
                    name,
                    expiry: None,
                    strike: 0.0,
                    tick_size: if price < 250.0 { 0.01 } else { 0.05 },
                    lot_size: 1,
                    instrument_type: "EQ",
                    segment: "NSE",
                    exchange: "NSE",
                    underlying,
                    pricing: Pricing::Equity,
                },
                1,
            );
        }
        // Index futures and options.
        for (underlying, d) in index_derivatives {
            let spot = underlyings[underlying].spot;
            for expiry in expiry::monthly_expiries(d.kind, date, FUTURE_MONTHS, cal) {
                let t = b.next_nfo();
                b.push(future(t, d.root, expiry, d.lot, underlying), 2);
            }
            let atm = (spot / d.interval).round() * d.interval;
            let weekly = expiry::weekly_expiries(d.kind, date, d.weeklies, cal);
            let monthly = expiry::monthly_expiries(d.kind, date, d.monthlies, cal);
            let mut expiries: Vec<(NaiveDate, bool)> = weekly
                .into_iter()
                .map(|e| (e, true))
                .chain(monthly.into_iter().map(|e| (e, false)))
                .collect();
            expiries.sort();
            for (expiry, is_weekly) in expiries {
                for k in -(d.strikes_each_side as i64)..=d.strikes_each_side as i64 {
                    let strike = atm + k as f64 * d.interval;
                    for call in [true, false] {
                        let t = b.next_nfo();
                        b.push(
                            option(
                                t, d.root, expiry, is_weekly, strike, call, d.lot, underlying,
                            ),
                            2,
                        );
                    }
                }
            }
        }
        // Stock futures and options, for the first FNO_STOCKS equities.
        let stocks: Vec<(usize, String, f64)> = (0..FNO_STOCKS)
            .map(|n| {
                let u = INDICES.len() + n;
                (u, underlyings[u].name.clone(), underlyings[u].spot)
            })
            .collect();
        let stock_months = expiry::monthly_expiries(Underlying::Stock, date, FUTURE_MONTHS, cal);
        for (underlying, root, price) in stocks {
            let lot = stock_lot(price);
            for expiry in &stock_months {
                let t = b.next_nfo();
                b.push(future(t, &root, *expiry, lot, underlying), 2);
            }
            let interval = stock_strike_interval(price);
            let atm = (price / interval).round() * interval;
            for expiry in stock_months.iter().take(STOCK_OPTION_MONTHS) {
                for k in -(STOCK_STRIKES_EACH_SIDE as i64)..=STOCK_STRIKES_EACH_SIDE as i64 {
                    let strike = atm + k as f64 * interval;
                    if strike <= 0.0 {
                        continue;
                    }
                    for call in [true, false] {
                        let t = b.next_nfo();
                        b.push(
                            option(t, &root, *expiry, false, strike, call, lot, underlying),
                            2,
                        );
                    }
                }
            }
        }
        let instruments = b.instruments;
        let by_token = instruments
            .iter()
            .enumerate()
            .map(|(i, x)| (x.token, i))
            .collect();
        let by_key = instruments
            .iter()
            .enumerate()
            .map(|(i, x)| (x.key(), i))
            .collect();
        Universe {
            date,
            instruments,
            underlyings,
            by_token,
            by_key,
        }
    }

    /// The instrument with this token.
    pub fn by_token(&self, token: u32) -> Option<&Instrument> {
        self.by_token.get(&token).map(|i| &self.instruments[*i])
    }

    /// The instrument with this `EXCHANGE:TRADINGSYMBOL` key.
    pub fn by_key(&self, key: &str) -> Option<&Instrument> {
        self.by_key.get(key).map(|i| &self.instruments[*i])
    }

    /// The instruments dump as CSV, for all exchanges or one, with the exact header.
    pub fn csv(&self, exchange: Option<&str>, last_prices: impl Fn(&Instrument) -> f64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.instruments.len() * 80);
        out.extend_from_slice(CSV_HEADER.as_bytes());
        out.push(b'\n');
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        for i in self
            .instruments
            .iter()
            .filter(|i| exchange.is_none_or(|e| e == i.exchange))
        {
            let expiry = i.expiry.map(|e| e.to_string()).unwrap_or_default();
            // A csv writer into a Vec cannot fail.
            let _ = w.write_record([
                i.token.to_string().as_str(),
                i.exchange_token.to_string().as_str(),
                i.tradingsymbol.as_str(),
                i.name.as_str(),
                float_text(last_prices(i)).as_str(),
                expiry.as_str(),
                float_text(i.strike).as_str(),
                float_text(i.tick_size).as_str(),
                i.lot_size.to_string().as_str(),
                i.instrument_type,
                i.segment,
                i.exchange,
            ]);
        }
        w.into_inner().unwrap_or_default()
    }
}

/// A float as Python's `str(float)` writes it: `0.0`, `2528.4`, `0.05`.
fn float_text(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').to_string()
    }
}

fn round_to(v: f64, step: f64) -> f64 {
    ((v / step).round() * step * 100.0).round() / 100.0
}

fn future(
    exchange_token: u32,
    root: &str,
    expiry: NaiveDate,
    lot: u32,
    underlying: usize,
) -> Instrument {
    Instrument {
        token: 0,
        exchange_token,
        tradingsymbol: expiry::future_symbol(root, expiry),
        name: root.to_string(),
        expiry: Some(expiry),
        strike: 0.0,
        tick_size: 0.1,
        lot_size: lot,
        instrument_type: "FUT",
        segment: "NFO-FUT",
        exchange: "NFO",
        underlying,
        pricing: Pricing::Future,
    }
}

#[allow(clippy::too_many_arguments)]
fn option(
    exchange_token: u32,
    root: &str,
    expiry: NaiveDate,
    weekly: bool,
    strike: f64,
    call: bool,
    lot: u32,
    underlying: usize,
) -> Instrument {
    let right = if call { "CE" } else { "PE" };
    let tradingsymbol = if weekly {
        expiry::weekly_option_symbol(root, expiry, strike, right)
    } else {
        expiry::monthly_option_symbol(root, expiry, strike, right)
    };
    Instrument {
        token: 0,
        exchange_token,
        tradingsymbol,
        name: root.to_string(),
        expiry: Some(expiry),
        strike,
        tick_size: 0.05,
        lot_size: lot,
        instrument_type: right,
        segment: "NFO-OPT",
        exchange: "NFO",
        underlying,
        pricing: Pricing::Option { strike, call },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn universe() -> Universe {
        Universe::generate(
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            7,
            &TradingCalendar::nse(),
        )
    }

    #[test]
    fn tokens_are_unique_and_follow_the_invariant() {
        let u = universe();
        assert!(
            u.instruments.len() > 9_001,
            "room for the 3 × 3000 benchmark: {}",
            u.instruments.len()
        );
        let mut seen = HashSet::new();
        let mut keys = HashSet::new();
        for i in &u.instruments {
            assert!(seen.insert(i.token), "duplicate token {}", i.token);
            assert!(keys.insert(i.key()), "duplicate symbol {}", i.key());
            let seg = match i.segment {
                "INDICES" => 9,
                "NSE" => 1,
                "BSE" => 4,
                _ => 2,
            };
            assert_eq!(i.token, i.exchange_token * 256 + seg, "{}", i.tradingsymbol);
        }
        assert_eq!(u.by_key("NSE:NIFTY 50").map(|i| i.token), Some(256_265));
        assert_eq!(u.by_key("NSE:NIFTY BANK").map(|i| i.token), Some(260_105));
        assert_eq!(u.by_key("BSE:SENSEX").map(|i| i.token), Some(265));
        assert_eq!(u.by_key("NSE:INFY").map(|i| i.token), Some(408_065));
    }

    #[test]
    fn the_same_seed_gives_the_same_dump() {
        let a = universe();
        let b = universe();
        assert_eq!(a.csv(None, |_| 0.0), b.csv(None, |_| 0.0));
        let other = Universe::generate(a.date, 8, &TradingCalendar::nse());
        assert_ne!(a.underlyings[0].spot, other.underlyings[0].spot);
    }

    #[test]
    fn derivatives_have_kite_symbols_and_expiries() {
        let u = universe();
        // The November monthly moved from Tuesday 24th (a holiday) to Monday 23rd.
        let fut = u.by_key("NFO:NIFTY26NOVFUT").expect("current-month future");
        assert_eq!(fut.expiry, NaiveDate::from_ymd_opt(2026, 11, 23));
        assert_eq!(fut.lot_size, 65);
        let weekly = u
            .instruments
            .iter()
            .find(|i| i.tradingsymbol.starts_with("NIFTY26D01") && i.instrument_type == "CE")
            .expect("a weekly for 1 December");
        assert_eq!(weekly.expiry, NaiveDate::from_ymd_opt(2026, 12, 1));
        assert!(u.instruments.iter().any(|i| i.tradingsymbol.starts_with("BANKNIFTY26DEC") && i.instrument_type == "PE"));
        assert!(
            !u.instruments.iter().any(|i| i
                .tradingsymbol
                .strip_prefix("BANKNIFTY26D")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))),
            "no BANKNIFTY weeklies"
        );
    }

    #[test]
    fn csv_has_the_exact_header_and_twelve_columns() {
        let u = universe();
        let csv = String::from_utf8(u.csv(Some("NSE"), |i| {
            if i.pricing == Pricing::Index {
                0.0
            } else {
                123.45
            }
        }))
        .unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(CSV_HEADER));
        let nifty = csv.lines().find(|l| l.starts_with("256265,")).unwrap();
        assert_eq!(
            nifty,
            "256265,1001,NIFTY 50,NIFTY 50,0.0,,0.0,0.05,0,EQ,INDICES,NSE"
        );
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        for row in reader.records() {
            let row = row.unwrap();
            assert_eq!(row.len(), 12);
            assert_eq!(&row[11], "NSE");
            row[8].parse::<u32>().expect("integer lot size");
        }
    }
}
