//! The alerts found by watching the status board (pure: everything takes "now").

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use super::{Alert, AlertKind};
use crate::actors::scheduler::Timetable;
use crate::calendar::{TradingCalendar, ist_date};
use crate::settings::Settings;
use crate::status::{Actor, ActorStatus, Entries, State};

/// Attempts of one scheduled event before it is an alert.
pub const EVENT_ATTEMPTS: u64 = 3;

/// What the watcher remembers between looks.
pub struct Watch {
    storm: u32,
    window: TimeDelta,
    silent: TimeDelta,
    disk_min: u64,
    timetable: Timetable,
    holidays_file: Option<PathBuf>,
    data_dir: PathBuf,
    /// Socket → (when, restarts) within the storm window.
    restarts: HashMap<String, VecDeque<(DateTime<Utc>, u32)>>,
    /// Socket → ticks at the last change, and when.
    ticks: HashMap<String, (u64, DateTime<Utc>)>,
    silent_told: HashSet<String>,
    /// The scheduler's failure count when it last succeeded.
    failures_ok: u64,
    /// The current failure streak has been told.
    event_told: bool,
    /// When low disk space was last told (while it stays low).
    disk_told: Option<DateTime<Utc>>,
    /// The journal's current failure has been told.
    journal_told: bool,
    holidays_checked: Option<NaiveDate>,
}

/// Low disk space is told again after this long while it stays low.
const DISK_RETELL: TimeDelta = TimeDelta::hours(6);

impl Watch {
    /// A watcher with nothing seen yet.
    pub fn new(settings: &Settings) -> Watch {
        let n = &settings.notify;
        let delta = |d: std::time::Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        Watch {
            storm: n.restart_storm,
            window: delta(n.storm_window),
            silent: delta(n.silent),
            disk_min: n.disk_free_min_bytes,
            timetable: Timetable {
                calendar: settings.schedule.calendar.clone(),
                times: settings.schedule.times,
            },
            holidays_file: settings.schedule.holidays_file.clone(),
            data_dir: settings.paths.data_dir.clone(),
            restarts: HashMap::new(),
            ticks: HashMap::new(),
            silent_told: HashSet::new(),
            failures_ok: 0,
            event_told: false,
            disk_told: None,
            journal_told: false,
            holidays_checked: None,
        }
    }

    /// The alerts the board shows at `now`: scheduled events failing after retries, socket
    /// restart storms, sockets silent during market hours.
    pub fn look(&mut self, actors: &[ActorStatus], now: DateTime<Utc>) -> Vec<Alert> {
        let mut alerts = Vec::new();
        if let Some((s, figures)) = actors.scheduler() {
            let failures = figures.failures;
            if s.state != State::Backoff {
                self.failures_ok = failures;
                self.event_told = false;
            } else if failures >= self.failures_ok + EVENT_ATTEMPTS && !self.event_told {
                self.event_told = true;
                let event = figures
                    .last_event
                    .as_ref()
                    .map_or_else(|| "event".to_string(), |l| l.event.clone());
                let last = figures
                    .last_event
                    .as_ref()
                    .map_or("?", |l| l.result.as_str());
                alerts.push(Alert {
                    kind: AlertKind::EventFailed,
                    subject: format!(
                        "{event} failed after {} attempts",
                        failures - self.failures_ok
                    ),
                    body: format!(
                        "The scheduled {event} has failed {} times in a row and is being retried \
                         (every 30 s, doubling up to 5 min) until the close.\n\nLast error: {}\n\n\
                         Nothing is recorded until it succeeds. Check the account's password and \
                         TOTP secret (a changed password or a reset 2FA), Kite's status, and \
                         `journalctl -u tickvault`.\n",
                        failures - self.failures_ok,
                        s.last_error.as_deref().unwrap_or(last),
                    ),
                    about: event,
                });
            }
        }
        // The journal cannot write: every frame is lost until it can (a gap each).
        if let Some(j) = actors.entry(Actor::Journal) {
            if j.state != State::Backoff {
                self.journal_told = false;
            } else if !self.journal_told {
                self.journal_told = true;
                alerts.push(Alert {
                    kind: AlertKind::JournalFailing,
                    about: "journal".into(),
                    subject: "the journal cannot be written: ticks are being lost".into(),
                    body: format!(
                        "The journal, tickvault's record of truth, cannot be written: {}\n\n                         Every frame received meanwhile is lost (the service keeps its sockets \
                         and tries a new file every second); each interval is recorded as a gap \
                         of cause journal_write_failed. The usual cause is a full file system: \
                         free space under the data directory's journal/ now. The service is \
                         unready (/readyz) until it writes again.\n",
                        j.last_error.as_deref().unwrap_or("no error recorded"),
                    ),
                });
            }
        }
        let market = self.timetable.market_hours(ist_date(now));
        let open_since = market
            .filter(|(o, c)| *o <= now && now < *c)
            .map(|(o, _)| o);
        let open = open_since.is_some();
        for (s, figures) in actors.sockets().filter(|(a, _)| a.state != State::Stopped) {
            // Restart storm.
            let history = self.restarts.entry(s.name.clone()).or_default();
            if history.back().is_some_and(|(_, r)| *r > s.restarts) {
                history.clear();
            }
            history.push_back((now, s.restarts));
            while history.front().is_some_and(|(t, _)| now - *t > self.window) {
                history.pop_front();
            }
            let first = history.front().map_or(s.restarts, |(_, r)| *r);
            if s.restarts - first >= self.storm {
                alerts.push(Alert {
                    kind: AlertKind::RestartStorm,
                    about: s.name.clone(),
                    subject: format!("{} restarted {} times in {} min", s.name, s.restarts - first, self.window.num_minutes()),
                    body: format!(
                        "{} has restarted {} times within {} minutes (state {:?}).\n\nLast error: {}\n\n\
                         Each restart is a gap in the day's data (see the gaps in the end-of-day \
                         report). Kite refusing the connection (a token revoked by another login, \
                         more than 3 connections on the API key) or the network are the usual \
                         causes. If it goes on, the pipeline escalates and systemd restarts the \
                         service.\n",
                        s.name,
                        s.restarts - first,
                        self.window.num_minutes(),
                        s.state,
                        s.last_error.as_deref().unwrap_or("none recorded"),
                    ),
                });
                history.clear();
                history.push_back((now, s.restarts));
            }
            // Silent during market hours.
            let ticks = figures.ticks;
            let seen = self.ticks.entry(s.name.clone()).or_insert((ticks, now));
            if seen.0 != ticks || !open {
                *seen = (ticks, now);
                self.silent_told.remove(&s.name);
            } else if now - seen.1.max(open_since.unwrap_or(seen.1)) >= self.silent
                && self.silent_told.insert(s.name.clone())
            {
                let since = seen.1.max(open_since.unwrap_or(seen.1));
                alerts.push(Alert {
                    kind: AlertKind::SocketSilent,
                    about: s.name.clone(),
                    subject: format!(
                        "{} has had no tick for {} s during market hours",
                        s.name,
                        (now - since).num_seconds()
                    ),
                    body: format!(
                        "{} (state {:?}, {} instruments subscribed) has received no tick since {} \
                         while the market is open.\n\nLast error: {}\n\nA socket that is \
                         connected but silent usually means Kite stopped sending for its \
                         instruments; one that is down is reconnecting by itself. Ticks missed \
                         now are not recoverable from Kite.\n",
                        s.name,
                        s.state,
                        figures.subscribed,
                        crate::calendar::ist_rfc3339(since),
                        s.last_error.as_deref().unwrap_or("none recorded"),
                    ),
                });
            }
        }
        alerts
    }

    /// Free bytes on the data directory's file system, and an alert when it falls below the
    /// minimum (again every 6 hours while it stays there).
    pub fn disk(&mut self, now: DateTime<Utc>) -> (Option<u64>, Option<Alert>) {
        let free = free_bytes(&self.data_dir);
        let low = free.filter(|f| *f < self.disk_min);
        if low.is_none() {
            self.disk_told = None;
        }
        if self.disk_told.is_some_and(|t| now - t < DISK_RETELL) {
            return (free, None);
        }
        let alert = low.map(|f| Alert {
            kind: AlertKind::DiskLow,
            about: self.data_dir.display().to_string(),
            subject: format!("disk space low: {} free", human_bytes(f)),
            body: format!(
                "The file system of {} has {} free, below notify.disk_free_min_gib ({}).\n\n\
                 When it fills, the journal cannot append and ticks are lost. Free space (old \
                 journals: journal.retention_days; the database's old daily tables after EOD) \
                 or grow the volume.\n",
                self.data_dir.display(),
                human_bytes(f),
                human_bytes(self.disk_min),
            ),
        });
        if alert.is_some() {
            self.disk_told = Some(now);
        }
        (free, alert)
    }

    /// Once per IST date: the operator's holiday file is read again, and from 1 December an
    /// alert when it has nothing for next year.
    pub fn holidays(&mut self, now: DateTime<Utc>) -> Option<Alert> {
        let today = ist_date(now);
        if self.holidays_checked == Some(today) {
            return None;
        }
        self.holidays_checked = Some(today);
        // Once a day the operator's file is read again (as the scheduler does), so a special
        // session added later counts as market hours here too.
        let origin = match &self.holidays_file {
            Some(path) => {
                match TradingCalendar::load(path) {
                    Ok(c) => self.timetable.calendar = c,
                    Err(e) => tracing::warn!(error = %e, "cannot read the holiday file"),
                }
                path.display().to_string()
            }
            None => "the compiled-in list (config/holidays/nse.toml)".to_string(),
        };
        if today.month() != 12 {
            return None;
        }
        let calendar = &self.timetable.calendar;
        let next = today.year() + 1;
        (!calendar.covers_year(next)).then(|| Alert {
            kind: AlertKind::HolidaysMissing,
            about: next.to_string(),
            subject: format!("no NSE holidays for {next} yet"),
            body: format!(
                "The holiday list ({origin}) has no entry for {next}. From 1 January the service \
                 would take every weekday as a trading day: it would log in and wait for ticks \
                 on holidays, and miss nothing but raise silent-socket alerts.\n\nNSE publishes \
                 next year's list in December: add it to the file (format in \
                 config/holidays/nse.toml) and set schedule.holidays_file; it is re-read every \
                 trading day, no restart needed.\n"
            ),
        })
    }
}

/// Free bytes for an unprivileged user on `path`'s file system.
// The statvfs field types differ between platforms (u64 on Linux).
#[allow(clippy::useless_conversion)]
pub fn free_bytes(path: &Path) -> Option<u64> {
    // The directory itself may not exist yet: its nearest existing parent is on the same
    // file system.
    let existing = path
        .ancestors()
        .find(|p| !p.as_os_str().is_empty() && p.exists())
        .unwrap_or(Path::new("."));
    let stat = nix::sys::statvfs::statvfs(existing).ok()?;
    Some(u64::from(stat.blocks_available()) * u64::from(stat.fragment_size()))
}

/// `1.5 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::calendar::IST;
    use crate::settings::Sources;

    fn watch() -> Watch {
        let settings = Settings::load(&Sources::default()).unwrap();
        Watch::new(&settings)
    }

    fn ist(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        IST.with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn socket(name: &str, state: State, restarts: u32, ticks: u64) -> ActorStatus {
        let mut a = crate::status::sample(name, state, json!({ "ticks": ticks }));
        a.restarts = restarts;
        a.last_error = Some("remote closed".into());
        a
    }

    fn kinds(alerts: &[Alert]) -> Vec<(AlertKind, String)> {
        alerts.iter().map(|a| (a.kind, a.about.clone())).collect()
    }

    #[test]
    fn a_journal_that_cannot_write_is_told_once_per_failure() {
        let mut w = watch();
        let t0 = ist(2026, 11, 19, 10, 0);
        let journal = |state| {
            let mut a = crate::status::sample("journal", state, serde_json::json!({}));
            a.last_error = Some("No space left on device".into());
            a
        };
        let alerts = w.look(&[journal(State::Backoff)], t0);
        assert_eq!(
            kinds(&alerts),
            [(AlertKind::JournalFailing, "journal".into())]
        );
        assert!(alerts[0].body.contains("No space left on device"));
        assert!(
            w.look(&[journal(State::Backoff)], t0 + TimeDelta::minutes(1))
                .is_empty()
        );
        assert!(
            w.look(&[journal(State::Running)], t0 + TimeDelta::minutes(2))
                .is_empty()
        );
        let again = w.look(&[journal(State::Backoff)], t0 + TimeDelta::minutes(3));
        assert_eq!(again.len(), 1, "a new failure is told again");
    }

    // Thursday 2026-11-19 is a trading day.
    #[test]
    fn a_restart_storm_is_five_restarts_within_ten_minutes() {
        let mut w = watch();
        let t0 = ist(2026, 11, 19, 10, 0);
        assert!(
            w.look(&[socket("socket-1", State::Running, 0, 1)], t0)
                .is_empty()
        );
        // Four restarts over 8 minutes: not yet.
        let t1 = t0 + TimeDelta::minutes(8);
        assert!(
            w.look(&[socket("socket-1", State::Backoff, 4, 2)], t1)
                .is_empty()
        );
        let t2 = t0 + TimeDelta::minutes(9);
        let alerts = w.look(&[socket("socket-1", State::Backoff, 5, 3)], t2);
        assert_eq!(
            kinds(&alerts),
            [(AlertKind::RestartStorm, "socket-1".into())]
        );
        assert!(alerts[0].body.contains("remote closed"));
        // Spread over an hour, the same count is no storm.
        let mut w = watch();
        for i in 0..=6u32 {
            let t = t0 + TimeDelta::minutes(i64::from(i) * 11);
            assert!(
                w.look(&[socket("socket-1", State::Running, i, u64::from(i))], t)
                    .is_empty()
            );
        }
    }

    #[test]
    fn a_socket_is_silent_only_while_the_market_is_open_and_is_told_once() {
        let mut w = watch();
        let s = |ticks| [socket("socket-2", State::Running, 0, ticks)];
        // Before the open: no tick for an hour is normal.
        assert!(w.look(&s(10), ist(2026, 11, 19, 8, 0)).is_empty());
        assert!(w.look(&s(10), ist(2026, 11, 19, 9, 14)).is_empty());
        // From 09:15 the clock starts; 5 minutes later it is silent.
        assert!(w.look(&s(10), ist(2026, 11, 19, 9, 16)).is_empty());
        assert!(w.look(&s(10), ist(2026, 11, 19, 9, 19)).is_empty());
        let alerts = w.look(&s(10), ist(2026, 11, 19, 9, 20));
        assert_eq!(
            kinds(&alerts),
            [(AlertKind::SocketSilent, "socket-2".into())]
        );
        assert!(
            w.look(&s(10), ist(2026, 11, 19, 9, 30)).is_empty(),
            "told once"
        );
        // Ticks again, then silent again: a new episode.
        assert!(w.look(&s(11), ist(2026, 11, 19, 9, 31)).is_empty());
        assert_eq!(w.look(&s(11), ist(2026, 11, 19, 9, 36)).len(), 1);
        // A stopped socket (yesterday's) and a weekend never count.
        let mut w = watch();
        let stopped = [socket("socket-2", State::Stopped, 0, 10)];
        assert!(w.look(&stopped, ist(2026, 11, 19, 10, 0)).is_empty());
        assert!(w.look(&stopped, ist(2026, 11, 19, 11, 0)).is_empty());
        let mut w = watch();
        assert!(w.look(&s(10), ist(2026, 11, 21, 10, 0)).is_empty());
        assert!(w.look(&s(10), ist(2026, 11, 21, 11, 0)).is_empty());
    }

    #[test]
    fn a_scheduled_event_is_an_alert_after_three_failed_attempts() {
        let mut w = watch();
        let scheduler = |state, failures: u64| {
            let mut a = crate::status::sample(
                "scheduler",
                state,
                json!({ "failures": failures, "last_event": "login: failed: TOTP refused" }),
            );
            a.last_error = Some("TOTP refused".into());
            a
        };
        let t = ist(2026, 11, 19, 8, 45);
        // Two failures on an earlier day, then success.
        assert!(w.look(&[scheduler(State::Running, 2)], t).is_empty());
        assert!(w.look(&[scheduler(State::Backoff, 3)], t).is_empty());
        assert!(w.look(&[scheduler(State::Backoff, 4)], t).is_empty());
        let alerts = w.look(&[scheduler(State::Backoff, 5)], t);
        assert_eq!(kinds(&alerts), [(AlertKind::EventFailed, "login".into())]);
        assert!(alerts[0].subject.contains("login failed after 3 attempts"));
        assert!(alerts[0].body.contains("TOTP refused"));
        assert!(
            w.look(&[scheduler(State::Backoff, 6)], t).is_empty(),
            "once per streak"
        );
        assert!(w.look(&[scheduler(State::Running, 6)], t).is_empty());
        assert!(
            w.look(&[scheduler(State::Backoff, 9)], t).len() == 1,
            "a new streak"
        );
    }

    #[test]
    fn next_years_holidays_are_asked_for_from_the_first_of_december() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nse.toml");
        std::fs::write(&file, "[2026]\n\"2026-12-25\" = \"Christmas\"\n").unwrap();
        let mut w = watch();
        w.holidays_file = Some(file.clone());
        assert!(
            w.holidays(ist(2026, 11, 30, 9, 0)).is_none(),
            "November: too early"
        );
        let alert = w.holidays(ist(2026, 12, 1, 9, 0)).expect("2027 is missing");
        assert_eq!(alert.kind, AlertKind::HolidaysMissing);
        assert_eq!(alert.about, "2027");
        assert!(w.holidays(ist(2026, 12, 1, 15, 0)).is_none(), "once a day");
        std::fs::write(
            &file,
            "[2026]\n\"2026-12-25\" = \"Christmas\"\n[2027]\n\"2027-01-26\" = \"Republic Day\"\n",
        )
        .unwrap();
        assert!(
            w.holidays(ist(2026, 12, 2, 9, 0)).is_none(),
            "the file is re-read"
        );
    }

    #[test]
    fn low_disk_space_is_an_alert() {
        let mut w = watch();
        let t = ist(2026, 11, 19, 10, 0);
        let (free, alert) = w.disk(t);
        assert!(free.is_some_and(|f| f > 0));
        assert!(alert.is_none(), "the default minimum is small: {free:?}");
        w.disk_min = u64::MAX;
        let (_, alert) = w.disk(t);
        assert_eq!(alert.map(|a| a.kind), Some(AlertKind::DiskLow));
        assert!(w.disk(t + TimeDelta::hours(1)).1.is_none(), "told once");
        assert!(
            w.disk(t + TimeDelta::hours(6)).1.is_some(),
            "and again 6 h later"
        );
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
