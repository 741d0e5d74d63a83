//! The pure part of the scheduler: which session comes next and when each of its events is
//! due, from the calendar and the configured times. Everything takes "now" as an argument.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};

use crate::calendar::{TradingCalendar, ist_at};
use crate::settings::schedule::DailyTimes;

/// A trading day's events, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Event {
    /// Log in (a fresh token for the day).
    Login,
    /// Resolve the day's instruments.
    Instruments,
    /// Connect the sockets and record.
    Connect,
    /// Close the sockets, flush, run the end of day.
    Close,
}

impl Event {
    /// All four, in order.
    pub const ALL: [Event; 4] = [
        Event::Login,
        Event::Instruments,
        Event::Connect,
        Event::Close,
    ];

    /// The name used in status and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Login => "login",
            Event::Instruments => "instruments",
            Event::Connect => "connect",
            Event::Close => "close",
        }
    }

    /// The event after this one (`None` after `Close`).
    pub fn next(self) -> Option<Event> {
        match self {
            Event::Login => Some(Event::Instruments),
            Event::Instruments => Some(Event::Connect),
            Event::Connect => Some(Event::Close),
            Event::Close => None,
        }
    }
}

/// One trading day's timetable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The trading date (IST).
    pub date: NaiveDate,
    /// The special session's name, if this is one.
    pub special: Option<String>,
    login: DateTime<Utc>,
    instruments: DateTime<Utc>,
    connect: DateTime<Utc>,
    close: DateTime<Utc>,
}

impl Session {
    /// When `event` is due.
    pub fn at(&self, event: Event) -> DateTime<Utc> {
        match event {
            Event::Login => self.login,
            Event::Instruments => self.instruments,
            Event::Connect => self.connect,
            Event::Close => self.close,
        }
    }
}

/// The calendar and the daily times.
#[derive(Debug, Clone)]
pub struct Timetable {
    /// Weekends, holidays, special sessions.
    pub calendar: TradingCalendar,
    /// A regular day's event times (IST).
    pub times: DailyTimes,
}

/// NSE's regular session, IST.
fn regular_open() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 15, 0).unwrap_or_default()
}

fn regular_close() -> NaiveTime {
    NaiveTime::from_hms_opt(15, 30, 0).unwrap_or_default()
}

impl Timetable {
    /// `date`'s session, or `None` when the market is closed that day. A special session's
    /// login, instruments and connect move by its open's distance from 09:15, and its close by
    /// its close's distance from 15:30.
    pub fn session(&self, date: NaiveDate) -> Option<Session> {
        if !self.calendar.is_trading_day(date) {
            return None;
        }
        let t = self.times;
        let (early, late, special) = match self.calendar.special_session(date) {
            Some(s) => (
                s.open - regular_open(),
                s.close - regular_close(),
                Some(s.name.clone()),
            ),
            None => (TimeDelta::zero(), TimeDelta::zero(), None),
        };
        Some(Session {
            date,
            special,
            login: ist_at(date, t.login) + early,
            instruments: ist_at(date, t.instruments) + early,
            connect: ist_at(date, t.connect) + early,
            close: ist_at(date, t.close) + late,
        })
    }

    /// When the market itself is open on `date` (09:15–15:30 IST, or a special session's
    /// hours), or `None` when it is closed that day.
    pub fn market_hours(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.calendar.is_trading_day(date) {
            return None;
        }
        Some(match self.calendar.special_session(date) {
            Some(s) => (ist_at(date, s.open), ist_at(date, s.close)),
            None => (ist_at(date, regular_open()), ist_at(date, regular_close())),
        })
    }

    /// The first session that has not closed at `now` (today's if it is still open or yet to
    /// come). Gives up after a year of closed days.
    pub fn current_or_next(&self, now: DateTime<Utc>) -> Option<Session> {
        let today = crate::calendar::ist_date(now);
        // Yesterday too: a special evening session could close after midnight.
        let mut day = today.checked_sub_days(Days::new(1)).unwrap_or(today);
        for _ in 0..370 {
            if let Some(s) = self.session(day)
                && s.close > now
            {
                return Some(s);
            }
            day = day.checked_add_days(Days::new(1))?;
        }
        None
    }

    /// The first session strictly after `date`.
    pub fn after(&self, date: NaiveDate) -> Option<Session> {
        let mut day = date;
        for _ in 0..370 {
            day = day.checked_add_days(Days::new(1))?;
            if let Some(s) = self.session(day) {
                return Some(s);
            }
        }
        None
    }

    /// Why `date` has no session (for the idle message).
    pub fn closed_because(&self, date: NaiveDate) -> String {
        use chrono::Datelike;
        match self.calendar.holiday(date) {
            Some(name) => format!("holiday: {name}"),
            None if matches!(date.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) => {
                "weekend".into()
            }
            None => "no session".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn hm(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    fn table() -> Timetable {
        Timetable {
            calendar: TradingCalendar::parse(
                "[2026]\n\"2026-11-18\" = \"Test holiday\"\n[special_sessions]\n\"2026-11-21\" = { name = \"Muhurat\", open = \"18:00\", close = \"19:00\" }\n",
                "test",
            )
            .unwrap(),
            times: DailyTimes {
                login: hm("08:45"),
                instruments: hm("08:50"),
                connect: hm("09:00"),
                close: hm("15:35"),
            },
        }
    }

    #[test]
    fn a_regular_day_runs_on_the_configured_times_in_ist() {
        let s = table().session(d("2026-11-16")).unwrap();
        assert_eq!(s.at(Event::Login), ist_at(d("2026-11-16"), hm("08:45")));
        assert_eq!(s.at(Event::Login).to_rfc3339(), "2026-11-16T03:15:00+00:00");
        assert_eq!(s.at(Event::Close), ist_at(d("2026-11-16"), hm("15:35")));
        assert!(s.special.is_none());
    }

    #[test]
    fn holidays_and_weekends_have_no_session_special_sessions_move_the_times() {
        let t = table();
        assert!(t.session(d("2026-11-18")).is_none());
        assert_eq!(t.closed_because(d("2026-11-18")), "holiday: Test holiday");
        assert!(t.session(d("2026-11-22")).is_none());
        assert_eq!(t.closed_because(d("2026-11-22")), "weekend");
        let s = t.session(d("2026-11-21")).unwrap();
        assert_eq!(s.special.as_deref(), Some("Muhurat"));
        assert_eq!(s.at(Event::Login), ist_at(d("2026-11-21"), hm("17:30")));
        assert_eq!(s.at(Event::Connect), ist_at(d("2026-11-21"), hm("17:45")));
        assert_eq!(s.at(Event::Close), ist_at(d("2026-11-21"), hm("19:05")));
    }

    #[test]
    fn the_current_session_until_it_closes_then_the_next() {
        let t = table();
        let at = |day: &str, time: &str| ist_at(d(day), hm(time));
        assert_eq!(
            t.current_or_next(at("2026-11-16", "07:00")).unwrap().date,
            d("2026-11-16")
        );
        assert_eq!(
            t.current_or_next(at("2026-11-16", "11:00")).unwrap().date,
            d("2026-11-16")
        );
        assert_eq!(
            t.current_or_next(at("2026-11-16", "15:35")).unwrap().date,
            d("2026-11-17")
        );
        assert_eq!(
            t.current_or_next(at("2026-11-17", "20:00")).unwrap().date,
            d("2026-11-19"),
            "over the holiday"
        );
        assert_eq!(
            t.current_or_next(at("2026-11-21", "10:00")).unwrap().date,
            d("2026-11-21"),
            "the special session"
        );
        assert_eq!(
            t.current_or_next(at("2026-11-21", "19:10")).unwrap().date,
            d("2026-11-23")
        );
        assert_eq!(t.after(d("2026-11-17")).unwrap().date, d("2026-11-19"));
    }
}
