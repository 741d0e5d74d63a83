//! The service manager (systemd `Type=notify`, `config/systemd/tickvault.service`): `READY=1`
//! once the service is up, `STATUS=` every 10 s, `WATCHDOG=1` only while the pipeline makes
//! progress (or is idle by the calendar), `STOPPING=1` on shutdown. Every call is a no-op
//! without `NOTIFY_SOCKET`; a failed send is logged once and never stops anything.
//!
//! Progress, judged from the status board at each watchdog check: no actor has given up
//! (`failed`), and while a day is recording (the scheduler's next event is the close) the
//! sockets received frames since the last check (Kite's 1 s heartbeats count, so a quiet market
//! still moves), or every socket is reconnecting on its own (a Kite outage; a restart would not
//! help). A wedged event loop sends nothing at all, and systemd restarts the process.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

use crate::status::{Actor, ActorStatus, Entries, PersisterStatus, State, StatusBoard};

/// How often `STATUS=` is sent.
pub const STATUS_EVERY: Duration = Duration::from_secs(10);

fn send(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

/// `READY=1`.
pub fn ready() {
    send(&[NotifyState::Ready]);
}

/// `STOPPING=1`.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// What one look at the board found.
#[derive(Debug, Clone, PartialEq)]
pub struct Look {
    /// Frames received by all sockets so far.
    pub frames: u64,
    /// Ticks received by all sockets so far.
    pub ticks: u64,
    /// Whether a watchdog ping is deserved, and why not when it is not.
    pub verdict: Result<(), String>,
}

/// Judges progress from `actors` (a board snapshot) against the frames seen at the last look.
pub fn look(actors: &[ActorStatus], frames_before: u64) -> Look {
    let frames = actors.sockets().map(|(_, s)| s.frames).sum();
    let ticks = actors.sockets().map(|(_, s)| s.ticks).sum();
    let recording = actors.day_recording();
    let no_sockets = actors.sockets().next().is_none();
    // Reconnecting on their own (a Kite outage): a restart would not help.
    let all_reconnecting = actors
        .sockets()
        .all(|(a, _)| matches!(a.state, State::Backoff | State::Starting));
    let verdict = if let Some(failed) = actors.iter().find(|a| a.state == State::Failed) {
        Err(format!("{} has failed", failed.name))
    } else if !recording || no_sockets || frames > frames_before || all_reconnecting {
        Ok(())
    } else {
        Err("no frame from any socket since the last check".into())
    };
    Look {
        frames,
        ticks,
        verdict,
    }
}

/// The one-line `STATUS=`: sockets up/total, ticks/s, last commit age, token expiry, next event.
pub fn status_line(
    actors: &[ActorStatus],
    ticks_per_s: f64,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let total = actors.sockets().count();
    let up = actors
        .sockets()
        .filter(|(a, _)| a.state == State::Running)
        .count();
    let mut parts = vec![
        format!("sockets {up}/{total}"),
        format!("{ticks_per_s:.0} ticks/s"),
    ];
    if let Some(at) = actors
        .details::<PersisterStatus>(Actor::Persister)
        .and_then(|p| p.last_commit_at)
    {
        let age = (now - at).num_milliseconds() as f64 / 1000.0;
        parts.push(format!("last commit {age:.1} s ago"));
    }
    if let Some((_, s)) = actors.scheduler() {
        if let Some(t) = s.token_expires_at {
            parts.push(format!("token expires {}", crate::calendar::ist_rfc3339(t)));
        }
        if let (Some(e), Some(at)) = (&s.next_event, s.next_at) {
            parts.push(format!("next {e} at {}", crate::calendar::ist_rfc3339(at)));
        }
        if let Some(why) = &s.idle {
            parts.push(format!("idle ({why})"));
        }
    }
    parts.join(", ")
}

/// Sends `STATUS=` every [`STATUS_EVERY`] and, when systemd asked for a watchdog
/// (`WATCHDOG_USEC`), `WATCHDOG=1` every half period while [`look`] finds progress. Runs on
/// the current actix system until it stops.
pub fn spawn(board: Arc<StatusBoard>) {
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    actix_rt::spawn(async move {
        let tick = watchdog.map_or(STATUS_EVERY, |w| w.min(STATUS_EVERY));
        let mut interval = actix_rt::time::interval(tick);
        let (mut frames, mut ticks) = (0u64, 0u64);
        let mut last_status: Option<tokio::time::Instant> = None;
        let mut complained = false;
        loop {
            interval.tick().await;
            let actors = board.snapshot();
            let seen = look(&actors, frames);
            if watchdog.is_some() {
                match &seen.verdict {
                    Ok(()) => {
                        send(&[NotifyState::Watchdog]);
                        complained = false;
                    }
                    Err(why) if !complained => {
                        complained = true;
                        tracing::error!(
                            why,
                            "no progress: withholding the watchdog ping (systemd restarts the service if it lasts)"
                        );
                    }
                    Err(_) => {}
                }
            }
            let elapsed = last_status.map(|t| t.elapsed());
            if elapsed.is_none_or(|e| e >= STATUS_EVERY) {
                let secs = elapsed.map_or(0.0, |e| e.as_secs_f64());
                let rate = if secs > 0.0 {
                    seen.ticks.saturating_sub(ticks) as f64 / secs
                } else {
                    0.0
                };
                send(&[NotifyState::Status(&status_line(
                    &actors,
                    rate,
                    chrono::Utc::now(),
                ))]);
                last_status = Some(tokio::time::Instant::now());
                ticks = seen.ticks;
            }
            frames = seen.frames;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::status::sample as actor;

    fn board(next: &str, sockets: [(State, u64); 2]) -> Vec<ActorStatus> {
        let mut v = vec![actor(
            "scheduler",
            State::Running,
            json!({ "next_event": next }),
        )];
        for (i, (state, frames)) in sockets.into_iter().enumerate() {
            v.push(actor(
                &format!("socket-{}", i + 1),
                state,
                json!({ "frames": frames, "ticks": frames * 10 }),
            ));
        }
        v
    }

    #[test]
    fn progress_is_frames_while_recording_and_anything_while_idle() {
        let recording = board("close", [(State::Running, 10), (State::Running, 5)]);
        let l = look(&recording, 0);
        assert_eq!((l.frames, l.ticks), (15, 150));
        assert!(l.verdict.is_ok(), "frames arrived");
        assert!(
            look(&recording, 15).verdict.is_err(),
            "nothing since the last look"
        );
        let idle = board("login", [(State::Stopped, 10), (State::Stopped, 5)]);
        assert!(look(&idle, 15).verdict.is_ok(), "idle by the calendar");
        let outage = board("close", [(State::Backoff, 10), (State::Starting, 5)]);
        assert!(
            look(&outage, 15).verdict.is_ok(),
            "every socket is reconnecting"
        );
        let half = board("close", [(State::Backoff, 10), (State::Running, 5)]);
        assert!(
            look(&half, 15).verdict.is_err(),
            "a connected socket without frames is stuck"
        );
        let mut failed = board("login", [(State::Stopped, 1), (State::Stopped, 1)]);
        failed.push(actor("persister", State::Failed, json!({})));
        assert_eq!(look(&failed, 0).verdict, Err("persister has failed".into()));
    }

    #[test]
    fn the_status_line_says_what_an_operator_asks_first() {
        let now = chrono::Utc::now();
        let mut actors = board("close", [(State::Running, 10), (State::Backoff, 5)]);
        actors.push(actor(
            "persister",
            State::Running,
            json!({ "last_commit_at": (now - chrono::TimeDelta::milliseconds(1500)).to_rfc3339() }),
        ));
        actors[0] = actor(
            "scheduler",
            State::Running,
            json!({
                "next_event": "close",
                "token_expires_at": "2026-11-24T06:00:00.000+05:30",
                "next_at": "2026-11-23T15:35:00.000+05:30",
            }),
        );
        let line = status_line(&actors, 1234.4, now);
        assert_eq!(
            line,
            "sockets 1/2, 1234 ticks/s, last commit 1.5 s ago, token expires 2026-11-24T06:00:00.000+05:30, next close at 2026-11-23T15:35:00.000+05:30"
        );
    }
}
