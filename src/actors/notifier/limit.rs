//! The mail rate limit: the same alert (kind and subject) at most once per
//! `notify.min_interval_mins` (some kinds wait longer), all alerts together at most
//! `notify.max_per_hour`, except the end-of-day summary, an escalation and a failing scheduled
//! event, which are never held by the hourly cap. What is held back
//! is counted and told in the next mail of that alert. The state survives restarts.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::AlertKind;
use crate::settings::ops::NotifySettings;

/// Send or hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send, telling that `held_back` alike were held back since the last one.
    Send {
        /// Alerts of this key held back since the last mail of it.
        held_back: u32,
    },
    /// Hold back (counted).
    Hold,
}

/// The limiter (serialised to `<data_dir>/notify-state.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RateLimiter {
    #[serde(skip)]
    min_interval: Duration,
    #[serde(skip)]
    max_per_hour: u32,
    /// Key → when its last mail went.
    last: BTreeMap<String, DateTime<Utc>>,
    /// Key → held back since.
    held: BTreeMap<String, u32>,
    /// When the mails of the last hour went.
    sent: VecDeque<DateTime<Utc>>,
}

/// How long the same alert waits at least: longer for slow-moving conditions.
fn interval(kind: AlertKind, min_interval: Duration) -> Duration {
    match kind {
        AlertKind::HolidaysMissing => Duration::from_secs(24 * 3600),
        AlertKind::DiskLow => min_interval.max(Duration::from_secs(6 * 3600)),
        _ => min_interval,
    }
}

impl RateLimiter {
    /// The state saved at `path`, or an empty limiter when there is none (a damaged file is
    /// logged and replaced).
    pub fn load(path: &Path, settings: &NotifySettings) -> RateLimiter {
        let saved = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice::<RateLimiter>(&bytes)
                .map_err(|e| {
                    tracing::warn!(path = %path.display(), error = %e, "mail rate-limit state unreadable; starting afresh");
                })
                .ok(),
            Err(_) => None,
        };
        let mut limiter = saved.unwrap_or_default();
        limiter.min_interval = settings.min_interval;
        limiter.max_per_hour = settings.max_per_hour;
        limiter
    }

    /// Writes the state to `path` (atomically; a failure is logged).
    pub fn save(&self, path: &Path) {
        let write = || -> std::io::Result<()> {
            crate::files::write_atomically(path, &serde_json::to_vec(self)?)
        };
        if let Err(e) = write() {
            tracing::warn!(path = %path.display(), error = %e, "cannot save the mail rate-limit state");
        }
    }

    /// Decides for one alert at `now`, and counts it either way.
    pub fn decide(&mut self, kind: AlertKind, key: &str, now: DateTime<Utc>) -> Decision {
        let hour_ago = now - TimeDelta::hours(1);
        while self.sent.front().is_some_and(|t| *t <= hour_ago) {
            self.sent.pop_front();
        }
        let wait = TimeDelta::from_std(interval(kind, self.min_interval)).unwrap_or(TimeDelta::MAX);
        let too_soon = self.last.get(key).is_some_and(|t| now - *t < wait);
        // What must reach a human gets past the hourly cap (its own interval still holds).
        let capped = !matches!(
            kind,
            AlertKind::EodSummary | AlertKind::Escalation | AlertKind::EventFailed
        );
        let over_cap = capped && self.sent.len() >= self.max_per_hour as usize;
        if too_soon || over_cap {
            *self.held.entry(key.to_string()).or_default() += 1;
            return Decision::Hold;
        }
        self.last.insert(key.to_string(), now);
        self.sent.push_back(now);
        // Keys not mailed for a week are forgotten (the file stays small).
        let week_ago = now - TimeDelta::days(7);
        self.last.retain(|_, t| *t > week_ago);
        Decision::Send {
            held_back: self.held.remove(key).unwrap_or(0),
        }
    }

    /// The mail decided at `at` did not go: it counts as held back (with what it carried), and
    /// the next one of its key may go at once.
    pub fn not_sent(&mut self, key: &str, held_back: u32, at: DateTime<Utc>) {
        if self.last.get(key) == Some(&at) {
            self.last.remove(key);
        }
        if let Some(i) = self.sent.iter().rposition(|t| *t == at) {
            self.sent.remove(i);
        }
        *self.held.entry(key.to_string()).or_default() += held_back + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(min_interval_mins: u64, max_per_hour: u32) -> RateLimiter {
        RateLimiter {
            min_interval: Duration::from_secs(min_interval_mins * 60),
            max_per_hour,
            ..RateLimiter::default()
        }
    }

    fn at(mins: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default() + TimeDelta::minutes(mins)
    }

    #[test]
    fn the_same_alert_waits_its_interval_and_then_tells_what_was_held() {
        let mut l = limiter(30, 100);
        let k = AlertKind::SocketSilent;
        assert_eq!(l.decide(k, "s1", at(0)), Decision::Send { held_back: 0 });
        assert_eq!(l.decide(k, "s1", at(10)), Decision::Hold);
        assert_eq!(l.decide(k, "s1", at(20)), Decision::Hold);
        // Another subject is another alert.
        assert_eq!(l.decide(k, "s2", at(20)), Decision::Send { held_back: 0 });
        assert_eq!(l.decide(k, "s1", at(30)), Decision::Send { held_back: 2 });
    }

    #[test]
    fn the_hourly_cap_holds_everything_but_the_end_of_day_summary() {
        let mut l = limiter(1, 3);
        for i in 0..3 {
            let key = format!("s{i}");
            assert!(matches!(
                l.decide(AlertKind::RestartStorm, &key, at(i)),
                Decision::Send { .. }
            ));
        }
        assert_eq!(
            l.decide(AlertKind::RestartStorm, "s9", at(5)),
            Decision::Hold
        );
        assert!(matches!(
            l.decide(AlertKind::EodSummary, "2026-11-20", at(5)),
            Decision::Send { .. }
        ));
        // An hour after the first, room again.
        assert!(matches!(
            l.decide(AlertKind::RestartStorm, "s9", at(61)),
            Decision::Send { held_back: 1 }
        ));
    }

    #[test]
    fn a_mail_that_did_not_go_leaves_room_for_the_next_and_is_counted() {
        let mut l = limiter(30, 1);
        let k = AlertKind::RestartStorm;
        assert_eq!(l.decide(k, "s1", at(0)), Decision::Send { held_back: 0 });
        l.not_sent("s1", 0, at(0));
        assert_eq!(l.decide(k, "s1", at(1)), Decision::Send { held_back: 1 });
        // An escalation is not held by the hourly cap.
        assert!(matches!(
            l.decide(AlertKind::Escalation, "pipeline", at(2)),
            Decision::Send { .. }
        ));
    }

    #[test]
    fn the_state_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify-state.json");
        let mut l = limiter(30, 10);
        assert!(matches!(
            l.decide(AlertKind::Started, "", at(0)),
            Decision::Send { .. }
        ));
        l.save(&path);
        let mut again: RateLimiter =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        again.min_interval = Duration::from_secs(1800);
        again.max_per_hour = 10;
        assert_eq!(again.decide(AlertKind::Started, "", at(1)), Decision::Hold);
    }
}
