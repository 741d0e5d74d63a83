//! The JSON shape of a tick: the official Python client's field names, scaled prices, and
//! timestamps as RFC 3339 strings in IST (`null` when the wire value is 0).
//!
//! `tickvault decode` prints it, and the Redis publisher puts it in stream entries, so the two
//! always agree.

use chrono::{Datelike, NaiveDate};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::tick::{Level, PacketKind, Tick};

/// Unix seconds as RFC 3339 in IST (`2021-07-05T10:41:27+05:30`); `None` for 0.
pub fn epoch_seconds_ist(secs: u32) -> Option<String> {
    IstStamp::seconds(secs).map(|s| s.as_str().to_string())
}

/// Microseconds since the Unix epoch as RFC 3339 in IST with microseconds.
pub fn epoch_micros_ist(micros: u64) -> Option<String> {
    IstStamp::micros(micros).map(|s| s.as_str().to_string())
}

/// An RFC 3339 IST timestamp written into a stack buffer: the JSON of every tick carries up to
/// three, and the Redis publisher writes one JSON per tick, so no allocation per timestamp.
#[derive(Debug, Clone, Copy)]
struct IstStamp {
    buf: [u8; 32],
    len: usize,
}

/// IST is UTC+05:30 all year (no daylight saving).
const IST_OFFSET_SECS: i64 = 19_800;

impl IstStamp {
    /// `None` for 0 (Kite's "no time").
    fn seconds(secs: u32) -> Option<IstStamp> {
        if secs == 0 {
            return None;
        }
        IstStamp::write(i64::from(secs), None)
    }

    fn micros(micros: u64) -> Option<IstStamp> {
        let micros = i64::try_from(micros).ok()?;
        let fraction = u32::try_from(micros.rem_euclid(1_000_000)).ok()?;
        IstStamp::write(micros.div_euclid(1_000_000), Some(fraction))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.ffffff]+05:30`; `None` outside years 0–9999.
    fn write(utc_secs: i64, micros: Option<u32>) -> Option<IstStamp> {
        let local = utc_secs.checked_add(IST_OFFSET_SECS)?;
        let days = i32::try_from(local.div_euclid(86_400)).ok()?;
        let of_day = local.rem_euclid(86_400) as u32;
        let date = NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)?;
        let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
        let mut out = IstStamp {
            buf: [0; 32],
            len: 0,
        };
        out.digits(year, 4);
        out.push(b'-');
        out.digits(date.month(), 2);
        out.push(b'-');
        out.digits(date.day(), 2);
        out.push(b'T');
        out.digits(of_day / 3600, 2);
        out.push(b':');
        out.digits(of_day / 60 % 60, 2);
        out.push(b':');
        out.digits(of_day % 60, 2);
        if let Some(f) = micros {
            out.push(b'.');
            out.digits(f, 6);
        }
        for c in *b"+05:30" {
            out.push(c);
        }
        Some(out)
    }

    fn push(&mut self, c: u8) {
        self.buf[self.len] = c;
        self.len += 1;
    }

    /// `value` as exactly `width` decimal digits (zero-padded).
    fn digits(&mut self, value: u32, width: u32) {
        for i in (0..width).rev() {
            self.push(b'0' + (value / 10u32.pow(i) % 10) as u8);
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Serialize for IstStamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A tick ready to be serialised, with an optional receive time (µs since the epoch, UTC).
#[derive(Debug, Clone, Copy)]
pub struct TickJson<'a> {
    /// The tick.
    pub tick: &'a Tick,
    /// When the frame carrying it was received, if known; printed as `recv_time`.
    pub recv_time_us: Option<u64>,
    /// The instrument's trading symbol, if known; printed as `tradingsymbol` (the Redis view).
    pub tradingsymbol: Option<&'a str>,
}

impl<'a> TickJson<'a> {
    /// A view of `tick` without a receive time.
    pub fn new(tick: &'a Tick) -> Self {
        TickJson {
            tick,
            recv_time_us: None,
            tradingsymbol: None,
        }
    }
}

struct Ohlc<'a>(&'a Tick);

impl Serialize for Ohlc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("open", &t.scaled(t.ohlc.open))?;
        m.serialize_entry("high", &t.scaled(t.ohlc.high))?;
        m.serialize_entry("low", &t.scaled(t.ohlc.low))?;
        m.serialize_entry("close", &t.scaled(t.ohlc.close))?;
        m.end()
    }
}

struct Levels<'a>(&'a Tick, &'a [Level; 5]);

impl Serialize for Levels<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(5))?;
        for level in self.1 {
            seq.serialize_element(&LevelJson(self.0, level))?;
        }
        seq.end()
    }
}

struct LevelJson<'a>(&'a Tick, &'a Level);

impl Serialize for LevelJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("quantity", &self.1.quantity)?;
        m.serialize_entry("price", &self.0.scaled(self.1.price))?;
        m.serialize_entry("orders", &self.1.orders)?;
        m.end()
    }
}

struct DepthJson<'a>(&'a Tick);

/// A full tick's depth as JSON (`{"buy": [...], "sell": [...]}`, as in the tick's JSON).
pub fn depth_value(tick: &Tick) -> serde_json::Value {
    serde_json::to_value(DepthJson(tick)).unwrap_or(serde_json::Value::Null)
}

impl Serialize for DepthJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("buy", &Levels(self.0, &self.0.depth.buy))?;
        m.serialize_entry("sell", &Levels(self.0, &self.0.depth.sell))?;
        m.end()
    }
}

impl Serialize for TickJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.tick;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("instrument_token", &t.instrument_token)?;
        m.serialize_entry("mode", t.mode().as_str())?;
        m.serialize_entry("tradable", &t.tradable())?;
        m.serialize_entry("last_price", &t.last_price_f64())?;
        if matches!(t.kind, PacketKind::Quote | PacketKind::Full) {
            m.serialize_entry("last_traded_quantity", &t.last_traded_quantity)?;
            m.serialize_entry("average_traded_price", &t.scaled(t.average_traded_price))?;
            m.serialize_entry("volume_traded", &t.volume_traded)?;
            m.serialize_entry("total_buy_quantity", &t.total_buy_quantity)?;
            m.serialize_entry("total_sell_quantity", &t.total_sell_quantity)?;
        }
        if t.kind != PacketKind::Ltp {
            m.serialize_entry("ohlc", &Ohlc(t))?;
            m.serialize_entry("change", &t.change_percent())?;
        }
        if t.kind == PacketKind::Full {
            m.serialize_entry("last_trade_time", &IstStamp::seconds(t.last_trade_time))?;
            m.serialize_entry("oi", &t.oi)?;
            m.serialize_entry("oi_day_high", &t.oi_day_high)?;
            m.serialize_entry("oi_day_low", &t.oi_day_low)?;
        }
        if matches!(t.kind, PacketKind::Full | PacketKind::IndexFull) {
            m.serialize_entry(
                "exchange_timestamp",
                &IstStamp::seconds(t.exchange_timestamp),
            )?;
        }
        if t.kind == PacketKind::Full {
            m.serialize_entry("depth", &DepthJson(t))?;
        }
        if let Some(us) = self.recv_time_us {
            m.serialize_entry("recv_time", &IstStamp::micros(us))?;
        }
        if let Some(symbol) = self.tradingsymbol {
            m.serialize_entry("tradingsymbol", symbol)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    use chrono::{DateTime, SecondsFormat};
    use proptest::prelude::*;

    use crate::calendar::IST;

    proptest! {
        /// The hand-written formatter agrees with chrono's RFC 3339 in IST everywhere.
        #[test]
        fn stamps_agree_with_chrono(secs in 1u32.., micros in 0u64..253_402_200_000_000_000) {
            let chrono_secs = DateTime::from_timestamp(i64::from(secs), 0)
                .map(|t| t.with_timezone(&IST).to_rfc3339_opts(SecondsFormat::Secs, false));
            prop_assert_eq!(epoch_seconds_ist(secs), chrono_secs);
            let chrono_micros = DateTime::from_timestamp_micros(micros as i64)
                .map(|t| t.with_timezone(&IST).to_rfc3339_opts(SecondsFormat::Micros, false));
            prop_assert_eq!(epoch_micros_ist(micros), chrono_micros);
        }
    }

    #[test]
    fn stamps_at_the_edges() {
        assert_eq!(
            epoch_micros_ist(0).as_deref(),
            Some("1970-01-01T05:30:00.000000+05:30")
        );
        assert_eq!(
            epoch_seconds_ist(u32::MAX).as_deref(),
            Some("2106-02-07T11:58:15+05:30")
        );
        // Past year 9999 in IST: no stamp rather than a wrong one.
        assert_eq!(epoch_micros_ist(253_402_300_799_999_999), None);
        assert_eq!(epoch_micros_ist(u64::MAX), None);
    }

    #[test]
    fn timestamps_are_ist_and_null_when_zero() {
        assert_eq!(
            epoch_seconds_ist(1_625_461_887).as_deref(),
            Some("2021-07-05T10:41:27+05:30")
        );
        assert_eq!(epoch_seconds_ist(0), None);
        assert_eq!(
            epoch_micros_ist(1_625_461_887_000_123).as_deref(),
            Some("2021-07-05T10:41:27.000123+05:30")
        );
    }

    #[test]
    fn an_ltp_tick_has_only_ltp_fields() {
        let mut t = Tick::new(PacketKind::Ltp, 408065);
        t.last_price = 158_380;
        let v: Value = serde_json::to_value(TickJson::new(&t)).unwrap();
        assert_eq!(
            v,
            json!({"instrument_token": 408065, "mode": "ltp", "tradable": true, "last_price": 1583.8})
        );
    }

    #[test]
    fn a_full_tick_has_depth_and_null_zero_times() {
        let mut t = Tick::new(PacketKind::Full, 408065);
        t.last_price = 100;
        t.ohlc.close = 50;
        t.exchange_timestamp = 1_625_461_887;
        t.depth.sell[4].orders = 3;
        let v: Value = serde_json::to_value(TickJson {
            tick: &t,
            recv_time_us: Some(1),
            tradingsymbol: None,
        })
        .unwrap();
        assert_eq!(v["change"], json!(100.0));
        assert_eq!(v["last_trade_time"], Value::Null);
        assert_eq!(v["exchange_timestamp"], json!("2021-07-05T10:41:27+05:30"));
        assert_eq!(v["depth"]["sell"][4]["orders"], json!(3));
        assert_eq!(v["depth"]["buy"].as_array().map(Vec::len), Some(5));
        assert_eq!(v["recv_time"], json!("1970-01-01T05:30:00.000001+05:30"));
    }
}
