//! `tickvault status --watch`: the status report as a screen that fits 100 columns, redrawn
//! every second until Ctrl-C: the day and the scheduler's next event, a line per socket (state,
//! instruments, ticks per second since the last report, last-frame age, reconnects by cause),
//! the journal, the persister, the publisher, the last end of day and the last alert. What is
//! bad is marked `!` at the line's start (and red on a terminal): a socket backing off, failed
//! or silent for more than five seconds, a journal failing appends, an actor that gave up.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::commands::grouped;

/// The screen's width.
pub const WIDTH: usize = 100;

/// A socket silent this long (ms) while running is shown as bad.
const STALE_MS: u64 = 5_000;

fn time_of(v: &Value) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok()
}

/// `HH:MM:SS` IST of an RFC 3339 value, or `-`.
fn clock(v: &Value) -> String {
    time_of(v).map_or_else(
        || "-".into(),
        |t| {
            crate::calendar::ist_human(t.with_timezone(&chrono::Utc))
                .get(11..19)
                .unwrap_or("-")
                .to_string()
        },
    )
}

fn int(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The actor called `name` in a report.
fn actor<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["actors"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
}

/// One line: `!` first when bad, cut to the width.
fn line(bad: bool, text: String) -> String {
    let text = format!("{} {text}", if bad { '!' } else { ' ' });
    text.chars()
        .take(WIDTH)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// The screen for `now`, with ticks per second from `before` (the previous report) when given.
pub fn frame(now: &Value, before: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let at = time_of(&now["generated_at"]);
    let seconds = match (at, before.and_then(|b| time_of(&b["generated_at"]))) {
        (Some(a), Some(b)) => (a - b).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    let day = actor(now, "day");
    let scheduler = actor(now, "scheduler");
    let mut head = format!(
        "tickvault  {}",
        at.map_or_else(
            || "-".into(),
            |t| crate::calendar::ist_human(t.with_timezone(&chrono::Utc))
        )
    );
    if let Some(day) = day {
        head += &format!(
            "  day {} ({})",
            day["date"].as_str().unwrap_or("-"),
            day["role"].as_str().unwrap_or("-")
        );
    }
    if let Some(s) = scheduler {
        match s["idle"].as_str() {
            Some(why) => head += &format!("  idle: {why}"),
            None => {
                head += &format!("  session {}", s["session"].as_str().unwrap_or("-"));
            }
        }
    }
    out.push(line(false, head));
    if let Some(s) = scheduler {
        out.push(line(
            !s["token_valid"].as_bool().unwrap_or(true) || int(&s["failures"]) > 0,
            format!(
                "next {} at {}   token until {}   scheduler failures {}",
                s["next_event"].as_str().unwrap_or("-"),
                clock(&s["next_at"]),
                clock(&s["token_expires_at"]),
                int(&s["failures"])
            ),
        ));
    }
    out.push(line(
        false,
        format!(
            "{:<10} {:<9} {:>6} {:>9} {:>11}  RECONNECTS",
            "SOCKET", "STATE", "INSTR", "TICKS/S", "LAST FRAME"
        ),
    ));
    let sockets = now["actors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["name"].as_str().is_some_and(|n| n.starts_with("socket-")));
    for s in sockets {
        let name = s["name"].as_str().unwrap_or("?");
        let state = s["state"].as_str().unwrap_or("?");
        let rate = before
            .and_then(|b| actor(b, name))
            .filter(|_| seconds > 0.0)
            .map(|b| int(&s["ticks"]).saturating_sub(int(&b["ticks"])) as f64 / seconds);
        let age = s["last_frame_age_ms"].as_u64();
        let reconnects: Vec<String> = s["reconnects_by_cause"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(cause, n)| format!("{cause} {n}"))
            .collect();
        let bad = matches!(state, "backoff" | "failed")
            || (state == "running" && age.is_some_and(|a| a > STALE_MS));
        out.push(line(
            bad,
            format!(
                "{name:<10} {state:<9} {:>6} {:>9} {:>11}  {}",
                int(&s["subscribed"]),
                rate.map_or_else(|| "-".into(), |r| grouped(r.round() as u64)),
                age.map_or_else(|| "-".into(), |a| format!("{:.1} s", a as f64 / 1000.0)),
                if reconnects.is_empty() {
                    "0".to_string()
                } else {
                    reconnects.join(", ")
                }
            ),
        ));
    }
    if let Some(j) = actor(now, "journal") {
        let failing = j["failing_sockets"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        out.push(line(
            failing || int(&j["failed_appends"]) > 0 || j["state"] == "failed",
            format!(
                "journal    {:<9} {:.1} MB  {} records  failed appends {}",
                j["state"].as_str().unwrap_or("?"),
                int(&j["bytes"]) as f64 / 1e6,
                grouped(int(&j["records"])),
                int(&j["failed_appends"])
            ),
        ));
    }
    if let Some(p) = actor(now, "persister") {
        let ms = |k: &str| {
            p[k].as_f64()
                .map_or_else(|| "-".into(), |v| format!("{v:.0}"))
        };
        out.push(line(
            matches!(p["state"].as_str(), Some("failed" | "backoff")),
            format!(
                "persister  {:<9} {} rows  lag {} ms  commit p50 {} p99 {} ms  queued {}",
                p["state"].as_str().unwrap_or("?"),
                grouped(int(&p["committed_rows"])),
                p["lag_ms"].as_i64().unwrap_or(0),
                ms("latency_p50_ms"),
                ms("latency_p99_ms"),
                int(&p["queued"])
            ),
        ));
    }
    if let Some(p) = actor(now, "publisher") {
        let lag: u64 = p["group_lag"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, n)| int(n))
            .sum();
        out.push(line(
            !p["connected"].as_bool().unwrap_or(false) || int(&p["dropped"]) > 0,
            format!(
                "publisher  {:<9} {}  {} published  {} buffered  {} dropped  lag {}",
                p["state"].as_str().unwrap_or("?"),
                if p["connected"].as_bool().unwrap_or(false) {
                    "connected"
                } else {
                    "disconnected"
                },
                grouped(int(&p["published"])),
                int(&p["buffered"]),
                int(&p["dropped"]),
                grouped(lag)
            ),
        ));
    }
    if let Some(e) = actor(now, "eod") {
        let outcome = &e["outcome"];
        let text = if outcome.is_object() {
            format!(
                "last {}: {} rows in {:.1} s, finished {}{}",
                outcome["result"].as_str().unwrap_or("?"),
                grouped(int(&outcome["master_rows"])),
                int(&outcome["duration_ms"]) as f64 / 1000.0,
                clock(&outcome["finished_at"]),
                outcome["export_error"]
                    .as_str()
                    .map_or(String::new(), |err| format!("  export failed: {err}"))
            )
        } else {
            "none yet".into()
        };
        let running = e["step"]
            .as_str()
            .map_or(String::new(), |step| format!("running {step}; "));
        out.push(line(
            outcome["result"].as_str().is_some_and(|r| r != "ok") || e["state"] == "failed",
            format!("end of day {running}{text}"),
        ));
    }
    if let Some(n) = actor(now, "notifier") {
        out.push(line(
            int(&n["failed"]) > 0,
            format!(
                "alerts     {} sent, {} failed  last: {} at {}",
                int(&n["sent"]),
                int(&n["failed"]),
                n["last_alert"].as_str().unwrap_or("none"),
                clock(&n["last_alert_at"])
            ),
        ));
    }
    let gave_up: Vec<&str> = now["actors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["state"] == "failed")
        .filter_map(|a| a["name"].as_str())
        .collect();
    if !gave_up.is_empty() {
        out.push(line(true, format!("failed: {}", gave_up.join(", "))));
    }
    out
}

/// Redraws the report every second: `read` gives the newest report (asking the service for
/// one first when it runs). On a terminal the screen is cleared and bad lines are red; piped,
/// each screen follows the last after a blank line.
pub fn run(mut read: impl FnMut() -> Result<Value, String>) -> ! {
    let terminal = std::io::stdout().is_terminal();
    let mut before: Option<Value> = None;
    loop {
        let mut stdout = std::io::stdout().lock();
        let screen = match read() {
            Ok(now) => {
                let lines = frame(&now, before.as_ref());
                before = Some(now);
                lines
            }
            Err(e) => vec![line(true, e)],
        };
        if terminal {
            let _ = write!(stdout, "\x1b[H\x1b[2J");
        }
        for l in &screen {
            let _ = if terminal && l.starts_with('!') {
                writeln!(stdout, "\x1b[31m{l}\x1b[0m")
            } else {
                writeln!(stdout, "{l}")
            };
        }
        if !terminal {
            let _ = writeln!(stdout);
        }
        let _ = stdout.flush();
        drop(stdout);
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(at: &str, ticks: [u64; 3], states: [&str; 3]) -> Value {
        let sockets = (0..3).map(|i| {
            json!({
                "name": format!("socket-{}", i + 1), "state": states[i], "subscribed": 3000,
                "ticks": ticks[i], "last_frame_age_ms": if states[i] == "running" { 40 } else { 9000 },
                "reconnects_by_cause": if i == 1 { json!({"remote_closed": 2}) } else { json!({}) },
            })
        });
        let mut actors: Vec<Value> = sockets.collect();
        actors.push(
            json!({"name": "journal", "state": "running", "bytes": 12_500_000,
            "records": 4000, "failed_appends": 0, "failing_sockets": []}),
        );
        actors.push(
            json!({"name": "persister", "state": "running", "committed_rows": 1_234_567,
            "lag_ms": 14, "latency_p50_ms": 139.8, "latency_p99_ms": 298.8, "queued": 0}),
        );
        actors.push(json!({"name": "eod", "state": "running", "outcome": {"result": "ok",
            "master_rows": 5_103_744, "duration_ms": 98_246, "finished_at": "2026-11-27T10:30:00Z"}}));
        actors.push(
            json!({"name": "scheduler", "state": "running", "session": "2026-11-28",
            "next_event": "close", "next_at": "2026-11-28T10:05:00Z",
            "token_expires_at": "2026-11-29T00:30:00Z", "token_valid": true, "failures": 0}),
        );
        json!({"generated_at": at, "actors": actors})
    }

    #[test]
    fn the_screen_fits_a_hundred_columns_and_marks_what_is_bad() {
        let before = report(
            "2026-11-28T04:00:00.000Z",
            [10_000, 5_000, 7_000],
            ["running", "running", "running"],
        );
        let now = report(
            "2026-11-28T04:00:02.000Z",
            [22_000, 5_000, 19_000],
            ["running", "backoff", "running"],
        );
        let screen = frame(&now, Some(&before));
        assert!(
            screen.iter().all(|l| l.chars().count() <= WIDTH),
            "{screen:#?}"
        );
        let socket = |n: &str| {
            screen
                .iter()
                .find(|l| l[2..].starts_with(n))
                .unwrap()
                .clone()
        };
        // 12,000 ticks in 2 s.
        assert!(socket("socket-1").contains(" 6,000 "), "{screen:#?}");
        assert!(!socket("socket-1").starts_with('!'));
        assert!(socket("socket-2").starts_with('!'), "backing off is bad");
        assert!(socket("socket-2").contains("remote_closed 2"));
        let persister = screen.iter().find(|l| l.contains("persister")).unwrap();
        assert!(persister.contains("1,234,567 rows") && persister.contains("p99 299"));
        assert!(
            screen
                .iter()
                .any(|l| l.contains("5,103,744 rows in 98.2 s"))
        );
        assert!(screen.iter().any(|l| l.contains("next close at 15:35:00")));
        // Without an earlier report there is no rate yet.
        assert!(
            frame(&now, None)
                .iter()
                .any(|l| l.contains("socket-1") && l.contains(" - "))
        );
    }
}
