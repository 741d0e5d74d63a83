//! The NSE trading calendar in IST: weekends, holidays and special sessions from
//! `config/holidays/nse.toml` (compiled in; an operator's file can replace it).
//!
//! Everything here is pure: "today" is always an argument, never read from the system clock.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveTime, Utc, Weekday};
use serde::Deserialize;

/// India Standard Time, UTC+05:30 (no daylight saving since 1945).
pub const IST: FixedOffset = match FixedOffset::east_opt(5 * 3600 + 30 * 60) {
    Some(offset) => offset,
    None => panic!("+05:30 is a valid offset"),
};

/// The compiled-in holiday list.
pub const NSE_HOLIDAYS_TOML: &str = include_str!("../config/holidays/nse.toml");

/// The instant of `time` on `date` in IST (IST has one offset: every local time exists once).
pub fn ist_at(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    (date.and_time(time) - chrono::Duration::seconds(i64::from(IST.local_minus_utc()))).and_utc()
}

/// The date in IST at instant `now`.
pub fn ist_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&IST).date_naive()
}

/// `t` for JSON (status.json, reports, the endpoint): RFC 3339 in IST with its offset, to the
/// millisecond (`2026-11-27T09:15:00.250+05:30`). Every timestamp tickvault writes looks so.
pub fn ist_rfc3339(t: DateTime<Utc>) -> String {
    t.with_timezone(&IST)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// `us` since the epoch as RFC 3339 in IST to the microsecond (the export's CSV:
/// `2026-11-27T09:15:00.123456+05:30`); empty past chrono's range.
pub fn ist_rfc3339_micros(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|t| {
            t.with_timezone(&IST)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
        })
        .unwrap_or_default()
}

/// `t` for people (terminal output, mails): IST with its offset, to the millisecond
/// (`2026-11-27 09:15:00.250 +05:30`).
pub fn ist_human(t: DateTime<Utc>) -> String {
    t.with_timezone(&IST)
        .format("%Y-%m-%d %H:%M:%S%.3f %:z")
        .to_string()
}

/// A day the market opens although it would otherwise be closed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SpecialSession {
    /// What the session is.
    pub name: String,
    /// Opening time, IST.
    #[serde(with = "hhmm")]
    pub open: NaiveTime,
    /// Closing time, IST.
    #[serde(with = "hhmm")]
    pub close: NaiveTime,
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        NaiveTime::parse_from_str(&s, "%H:%M")
            .map_err(|_| serde::de::Error::custom(format!("expected HH:MM, found {s:?}")))
    }
}

/// Why a holiday file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("holiday calendar {origin}: {problem}")]
pub struct CalendarError {
    origin: String,
    problem: String,
}

/// Weekends, holidays and special sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradingCalendar {
    holidays: BTreeMap<NaiveDate, String>,
    special_sessions: BTreeMap<NaiveDate, SpecialSession>,
}

impl TradingCalendar {
    /// The compiled-in NSE calendar.
    pub fn nse() -> TradingCalendar {
        // The compiled-in file is checked by a unit test; an empty calendar is the safe fallback.
        Self::parse(NSE_HOLIDAYS_TOML, "config/holidays/nse.toml").unwrap_or_default()
    }

    /// Reads an operator's holiday file.
    pub fn load(path: &Path) -> Result<TradingCalendar, CalendarError> {
        let text = std::fs::read_to_string(path).map_err(|e| CalendarError {
            origin: path.display().to_string(),
            problem: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the holiday file format (see `config/holidays/nse.toml`).
    pub fn parse(text: &str, origin: &str) -> Result<TradingCalendar, CalendarError> {
        let err = |problem: String| CalendarError {
            origin: origin.to_string(),
            problem,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut cal = TradingCalendar::default();
        for (section, value) in table {
            let entries = value
                .as_table()
                .ok_or_else(|| err(format!("[{section}] is not a table")))?;
            for (date, value) in entries {
                let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
                    err(format!("`{date}` in [{section}] is not a YYYY-MM-DD date"))
                })?;
                if section == "special_sessions" {
                    let session = SpecialSession::deserialize(value.clone())
                        .map_err(|e| err(format!("special session {date}: {e}")))?;
                    cal.special_sessions.insert(day, session);
                } else {
                    if section != day.year().to_string() {
                        return Err(err(format!("{date} is listed under [{section}]")));
                    }
                    let name = value
                        .as_str()
                        .ok_or_else(|| err(format!("holiday {date} needs a name string")))?;
                    cal.holidays.insert(day, name.to_string());
                }
            }
        }
        Ok(cal)
    }

    /// The holiday's name, if `day` is a listed holiday.
    pub fn holiday(&self, day: NaiveDate) -> Option<&str> {
        self.holidays.get(&day).map(String::as_str)
    }

    /// The special session on `day`, if any.
    pub fn special_session(&self, day: NaiveDate) -> Option<&SpecialSession> {
        self.special_sessions.get(&day)
    }

    /// Whether the market opens on `day`.
    pub fn is_trading_day(&self, day: NaiveDate) -> bool {
        if self.special_sessions.contains_key(&day) {
            return true;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains_key(&day)
    }

    /// `day` if it is a trading day, else the closest trading day before it (how NSE moves an
    /// expiry that falls on a holiday). Gives up after a year of closed days.
    pub fn on_or_before(&self, day: NaiveDate) -> NaiveDate {
        let mut d = day;
        for _ in 0..366 {
            if self.is_trading_day(d) {
                return d;
            }
            d = d.pred_opt().unwrap_or(d);
        }
        day
    }

    /// The first trading day strictly after `day`.
    pub fn next_trading_day(&self, day: NaiveDate) -> NaiveDate {
        let mut d = day;
        for _ in 0..366 {
            d = d.checked_add_days(Days::new(1)).unwrap_or(d);
            if self.is_trading_day(d) {
                return d;
            }
        }
        d
    }

    /// Whether the file lists any holiday in `year` (an empty year is probably a missing list).
    pub fn covers_year(&self, year: i32) -> bool {
        self.holidays.keys().any(|d| d.year() == year)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn timestamps_are_ist_with_the_offset_to_the_millisecond() {
        let t = DateTime::parse_from_rfc3339("2026-11-27T03:45:00.250999Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ist_rfc3339(t), "2026-11-27T09:15:00.250+05:30");
        assert_eq!(ist_human(t), "2026-11-27 09:15:00.250 +05:30");
    }

    #[test]
    fn the_compiled_in_calendar_parses() {
        let cal = TradingCalendar::parse(NSE_HOLIDAYS_TOML, "nse.toml").unwrap();
        assert_eq!(cal, TradingCalendar::nse());
        assert!(cal.covers_year(2025) && cal.covers_year(2026));
        assert_eq!(
            cal.holiday(d("2026-11-24")),
            Some("Prakash Gurpurb Sri Guru Nanak Dev")
        );
    }

    #[test]
    fn weekends_and_holidays_are_closed_special_sessions_open() {
        let cal = TradingCalendar::nse();
        assert!(cal.is_trading_day(d("2026-11-23")));
        assert!(!cal.is_trading_day(d("2026-11-24")), "holiday");
        assert!(!cal.is_trading_day(d("2026-11-21")), "Saturday");
        assert!(cal.is_trading_day(d("2026-02-01")), "budget Sunday");
        assert_eq!(cal.on_or_before(d("2026-11-24")), d("2026-11-23"));
        assert_eq!(cal.on_or_before(d("2026-03-31")), d("2026-03-30"));
        assert_eq!(
            cal.on_or_before(d("2026-11-22")),
            d("2026-11-20"),
            "Sunday → Friday"
        );
        assert_eq!(cal.next_trading_day(d("2026-11-20")), d("2026-11-23"));
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert!(TradingCalendar::parse("[2026]\n\"2026-13-01\" = \"x\"\n", "f").is_err());
        assert!(TradingCalendar::parse("[2025]\n\"2026-01-01\" = \"x\"\n", "f").is_err());
        let e = TradingCalendar::parse("[special_sessions]\n\"2026-01-03\" = { name = \"x\", open = \"9\", close = \"15:30\" }\n", "f")
            .unwrap_err();
        assert!(e.to_string().contains("HH:MM"), "{e}");
    }

    #[test]
    fn the_ist_date_differs_from_utc_after_18_30() {
        let t = DateTime::parse_from_rfc3339("2026-11-20T19:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ist_date(t), d("2026-11-21"));
    }
}
