//! `[schedule]`: the daily timetable (IST) and the holiday file the scheduler follows.

use std::path::PathBuf;

use chrono::NaiveTime;
use serde::Deserialize;

use super::SettingsError;
use crate::calendar::TradingCalendar;

/// `[schedule]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    holidays_file: String,
    login: String,
    instruments: String,
    connect: String,
    close: String,
    recheck_secs: u64,
}

/// The times of a regular trading day's events, IST. On a special session they move with the
/// session's open and close (see [`crate::actors::scheduler::Timetable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyTimes {
    /// Log in (and refresh the day's token).
    pub login: NaiveTime,
    /// Resolve the day's instruments.
    pub instruments: NaiveTime,
    /// Connect the sockets (before the 09:00 pre-open).
    pub connect: NaiveTime,
    /// Close the sockets, flush, then the end of day.
    pub close: NaiveTime,
}

/// `[schedule]`, validated: the calendar is loaded.
#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    /// The trading calendar (the operator's file, or the compiled-in one).
    pub calendar: TradingCalendar,
    /// Where the calendar came from (for messages).
    pub holidays_origin: String,
    /// The operator's holiday file, if any (re-read at each day's login).
    pub holidays_file: Option<PathBuf>,
    /// The daily events.
    pub times: DailyTimes,
    /// The longest the scheduler sleeps before looking at the clock again, seconds.
    pub recheck_secs: u64,
}

impl RawSchedule {
    /// Parses the times, checks their order and loads the holiday file; errors name the key.
    pub fn validate(self) -> Result<ScheduleSettings, SettingsError> {
        let time = |key: &str, value: &str| {
            NaiveTime::parse_from_str(value, "%H:%M").map_err(|_| {
                SettingsError::new(
                    format!("schedule.{key}"),
                    format!("expected HH:MM (IST), found {value:?}"),
                )
            })
        };
        let times = DailyTimes {
            login: time("login", &self.login)?,
            instruments: time("instruments", &self.instruments)?,
            connect: time("connect", &self.connect)?,
            close: time("close", &self.close)?,
        };
        for (key, earlier, later) in [
            ("instruments", times.login, times.instruments),
            ("connect", times.instruments, times.connect),
            ("close", times.connect, times.close),
        ] {
            if later < earlier || (key == "close" && later == earlier) {
                return Err(SettingsError::new(
                    format!("schedule.{key}"),
                    "must come after the event before it (login ≤ instruments ≤ connect < close)",
                ));
            }
        }
        if self.recheck_secs == 0 {
            return Err(SettingsError::new(
                "schedule.recheck_secs",
                "must be at least 1",
            ));
        }
        let (calendar, origin, file) = if self.holidays_file.trim().is_empty() {
            (
                TradingCalendar::nse(),
                "config/holidays/nse.toml (compiled in)".to_string(),
                None,
            )
        } else {
            let path = PathBuf::from(&self.holidays_file);
            let calendar = TradingCalendar::load(&path)
                .map_err(|e| SettingsError::new("schedule.holidays_file", e.to_string()))?;
            (calendar, path.display().to_string(), Some(path))
        };
        Ok(ScheduleSettings {
            calendar,
            holidays_origin: origin,
            holidays_file: file,
            times,
            recheck_secs: self.recheck_secs,
        })
    }
}
