//! `GET /metrics`: the status board in the Prometheus text exposition format (version 0.0.4).
//!
//! Every figure comes from the board, the same source as SIGUSR1's report and `/status`, so
//! the three never disagree; the two histograms (batch size and commit latency) are kept on the
//! board too ([`crate::status::StatusHandle::observe`]). docs/operations.md lists the metrics and
//! docs/grafana-dashboard.json plots them.

mod text;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::status::histogram::{BATCH_ROWS, COMMIT_SECONDS, Histogram};
use crate::status::{ActorStatus, State, StatusBoard};
use text::*;

/// The board as Prometheus text at `now`.
pub fn render(board: &StatusBoard, now: DateTime<Utc>) -> String {
    let actors = board.snapshot();
    let by_name = |n: &str| actors.iter().find(|a| a.name == n);
    let sockets: Vec<&ActorStatus> = actors
        .iter()
        .filter(|a| a.name.starts_with("socket-"))
        .collect();
    let mut out = Out {
        text: String::with_capacity(8192),
    };

    out.one(
        "tickvault_up",
        "gauge",
        "1 while the service answers.",
        Some(1.0),
    );
    out.gauge_each(
        "tickvault_actor_state",
        "gauge",
        "1 for each actor's current state, 0 for the others (starting, running, backoff, stopped, failed).",
        actors.iter().flat_map(|a| {
            State::ALL.iter().map(move |s| {
                (
                    vec![("actor", a.name.as_str()), ("state", s.as_str())],
                    if a.state == *s { 1.0 } else { 0.0 },
                )
            })
        }),
    );
    out.gauge_each(
        "tickvault_actor_restarts_total",
        "counter",
        "Restarts of each actor since the service started.",
        actors
            .iter()
            .map(|a| (vec![("actor", a.name.as_str())], f64::from(a.restarts))),
    );

    // Sockets.
    let app = |s: &'_ ActorStatus| -> String {
        detail(s, "app")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let apps: Vec<String> = sockets.iter().map(|s| app(s)).collect();
    for (name, key, help) in [
        (
            "tickvault_socket_frames_total",
            "frames",
            "WebSocket frames received (heartbeats included), per socket.",
        ),
        (
            "tickvault_socket_ticks_total",
            "ticks",
            "Tick packets received, per socket.",
        ),
        (
            "tickvault_socket_malformed_total",
            "malformed",
            "Frames that did not decode (kept in the journal), per socket.",
        ),
    ] {
        out.gauge_each(
            name,
            "counter",
            help,
            sockets.iter().zip(&apps).map(|(s, app)| {
                (
                    vec![("socket", s.name.as_str()), ("app", app.as_str())],
                    s.f64(key).unwrap_or(0.0),
                )
            }),
        );
    }
    let causes: Vec<(String, String, f64)> = sockets
        .iter()
        .flat_map(|s| {
            detail(s, "reconnects_by_cause")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(cause, n)| (s.name.clone(), cause.clone(), n.as_f64().unwrap_or(0.0)))
        })
        .collect();
    out.gauge_each(
        "tickvault_socket_reconnects_total",
        "counter",
        "Reconnects per socket and cause.",
        causes
            .iter()
            .map(|(s, c, n)| (vec![("socket", s.as_str()), ("cause", c.as_str())], *n)),
    );
    out.gauge_each(
        "tickvault_socket_last_frame_age_seconds",
        "gauge",
        "Seconds since each connected socket's last frame.",
        sockets.iter().filter_map(|s| {
            s.f64("last_frame_age_ms")
                .map(|ms| (vec![("socket", s.name.as_str())], ms / 1000.0))
        }),
    );
    out.gauge_each(
        "tickvault_socket_subscribed",
        "gauge",
        "Instruments subscribed on each socket (0 while it is down).",
        sockets.iter().map(|s| {
            (
                vec![("socket", s.name.as_str())],
                s.f64("subscribed").unwrap_or(0.0),
            )
        }),
    );

    // Journal (or the ledger in the ingest role).
    let journal = by_name("journal");
    out.one(
        "tickvault_journal_bytes",
        "gauge",
        "Bytes in today's journal files.",
        journal
            .and_then(|j| j.f64("bytes"))
            .or_else(|| by_name("ledger").and_then(|l| l.f64("journal_bytes"))),
    );
    out.one(
        "tickvault_journal_records_total",
        "counter",
        "Frames appended to today's journal.",
        journal.and_then(|j| j.f64("records")),
    );
    out.one(
        "tickvault_journal_failed_appends_total",
        "counter",
        "Journal appends that failed (disk full, I/O error).",
        journal.and_then(|j| j.f64("failed_appends")),
    );

    // Queues.
    let queues: Vec<(&str, f64)> = [
        ("persister", "queued"),
        ("publisher", "buffered"),
        ("consumer", "in_flight"),
    ]
    .into_iter()
    .filter_map(|(actor, key)| by_name(actor).and_then(|a| a.f64(key)).map(|v| (actor, v)))
    .collect();
    out.gauge_each(
        "tickvault_queue_depth",
        "gauge",
        "Items waiting in each queue (rows to commit, ticks to publish, messages in flight).",
        queues.iter().map(|(q, v)| (vec![("queue", *q)], *v)),
    );

    // Persister.
    let persister = by_name("persister");
    out.one(
        "tickvault_persister_lag_seconds",
        "gauge",
        "Frame received to row committed, for the newest row of the last commit.",
        persister
            .and_then(|p| p.f64("lag_ms"))
            .map(|ms| ms / 1000.0),
    );
    out.one(
        "tickvault_persister_committed_rows_total",
        "counter",
        "Tick rows committed to the database today.",
        persister.and_then(|p| p.f64("committed_rows")),
    );
    out.one(
        "tickvault_persister_last_commit_age_seconds",
        "gauge",
        "Seconds since the last commit.",
        persister
            .and_then(|p| time(detail(p, "last_commit_at")))
            .map(|t| secs_between(t, now)),
    );
    // The histograms, empty until the first commit (and in the ingest role, which has none).
    let histograms = board.histograms();
    for spec in [&BATCH_ROWS, &COMMIT_SECONDS] {
        let empty = Histogram::new(spec.buckets);
        out.histogram(
            spec.name,
            spec.help,
            histograms.get(spec.name).unwrap_or(&empty),
        );
    }
    out.one(
        "tickvault_gap_seconds_today",
        "gauge",
        "Socket-seconds without data today (closed gaps in the gap ledger).",
        persister
            .or(by_name("ledger"))
            .and_then(|p| p.f64("gap_seconds")),
    );

    // Redis.
    let publisher = by_name("publisher");
    for (name, key, kind, help) in [
        (
            "tickvault_redis_published_total",
            "published",
            "counter",
            "Ticks published to Redis.",
        ),
        (
            "tickvault_redis_errors_total",
            "errors",
            "counter",
            "Redis commands that failed.",
        ),
        (
            "tickvault_redis_reconnects_total",
            "reconnects",
            "counter",
            "Reconnects to Redis.",
        ),
        (
            "tickvault_redis_group_lag",
            "group_lag",
            "gauge",
            "Stream entries the store's consumer group has not read yet.",
        ),
    ] {
        out.one(name, kind, help, publisher.and_then(|p| p.f64(key)));
    }
    out.one(
        "tickvault_redis_connected",
        "gauge",
        "1 while the publisher holds a Redis connection.",
        publisher
            .and_then(|p| detail(p, "connected"))
            .and_then(Value::as_bool)
            .map(|c| if c { 1.0 } else { 0.0 }),
    );
    let drops: Vec<(&str, f64)> = [
        (publisher, "dropped", "publisher"),
        (journal, "publish_dropped", "journal"),
    ]
    .into_iter()
    .filter_map(|(a, key, at)| a.and_then(|a| a.f64(key)).map(|v| (at, v)))
    .collect();
    out.gauge_each(
        "tickvault_redis_dropped_total",
        "counter",
        "Ticks not published to Redis (buffer full while it was down, or the publisher's mailbox full).",
        drops.iter().map(|(at, v)| (vec![("at", *at)], *v)),
    );

    control_and_operations(&mut out, &actors, now);
    out.text
}

/// The control plane and operations: the tokens' expiry, the end of day, the scheduler, mail
/// and disk.
fn control_and_operations(out: &mut Out, actors: &[ActorStatus], now: DateTime<Utc>) {
    let by_name = |n: &str| actors.iter().find(|a| a.name == n);
    // Token expiry, per app.
    let expiries: Vec<(String, f64)> = by_name("auth")
        .and_then(|a| detail(a, "token_expiry"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(app, t)| time(Some(t)).map(|t| (app.clone(), secs_between(now, t))))
        .collect();
    out.gauge_each(
        "tickvault_token_expiry_seconds",
        "gauge",
        "Seconds until each app's access token expires (Kite: 06:00 IST).",
        expiries
            .iter()
            .map(|(app, s)| (vec![("app", app.as_str())], *s)),
    );

    // End of day.
    if let Some(eod) = by_name("eod").filter(|e| detail(e, "result").is_some()) {
        let ok = detail(eod, "result").and_then(Value::as_str) == Some("ok");
        out.one(
            "tickvault_eod_last_success",
            "gauge",
            "1 if the last end of day succeeded, 0 if it failed.",
            Some(if ok { 1.0 } else { 0.0 }),
        );
        out.one(
            "tickvault_eod_last_duration_seconds",
            "gauge",
            "How long the last end of day took.",
            eod.f64("duration_ms").map(|ms| ms / 1000.0),
        );
        out.one(
            "tickvault_eod_last_master_rows",
            "gauge",
            "Master rows of the last end of day's date.",
            eod.f64("master_rows"),
        );
        out.one(
            "tickvault_eod_last_finished_timestamp_seconds",
            "gauge",
            "When the last end of day finished (Unix time).",
            time(detail(eod, "finished_at")).map(|t| t.timestamp() as f64),
        );
    }

    out.one(
        "tickvault_database_bytes",
        "gauge",
        "Size of the database after the last end of day.",
        by_name("eod").and_then(|e| e.f64("database_bytes")),
    );

    // Scheduler.
    if let Some(s) = by_name("scheduler") {
        out.one(
            "tickvault_scheduler_idle",
            "gauge",
            "1 while the calendar says closed (holiday or weekend).",
            Some(if detail(s, "idle").is_some() {
                1.0
            } else {
                0.0
            }),
        );
        out.one(
            "tickvault_scheduler_failures_total",
            "counter",
            "Scheduled events that failed (each retry counts).",
            s.f64("failures"),
        );
        let event = detail(s, "next_event").and_then(Value::as_str);
        if let (Some(event), Some(at)) = (event, time(detail(s, "next_at"))) {
            out.gauge_each(
                "tickvault_scheduler_next_event_timestamp_seconds",
                "gauge",
                "When the next scheduled event is due (Unix time).",
                [(vec![("event", event)], at.timestamp() as f64)],
            );
        }
    }

    // Mail and disk (the notifier).
    if let Some(n) = by_name("notifier") {
        for (name, key, help) in [
            ("tickvault_mail_sent_total", "sent", "Alert mails sent."),
            (
                "tickvault_mail_failed_total",
                "failed",
                "Alert mails the SMTP server did not take (logged).",
            ),
            (
                "tickvault_mail_suppressed_total",
                "suppressed",
                "Alerts held back by the rate limit.",
            ),
        ] {
            out.one(name, "counter", help, n.f64(key));
        }
        out.one(
            "tickvault_disk_free_bytes",
            "gauge",
            "Free space on the data directory's file system.",
            n.f64("disk_free_bytes"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_when_rendered() {
        let mut h = Histogram::new(&[1.0, 10.0]);
        for v in [0.5, 1.0, 5.0, 50.0] {
            h.observe(v);
        }
        let mut out = Out {
            text: String::new(),
        };
        out.histogram("x", "help", &h);
        assert!(out.text.contains("x_bucket{le=\"1\"} 2\n"), "{}", out.text);
        assert!(out.text.contains("x_bucket{le=\"10\"} 3\n"));
        assert!(out.text.contains("x_bucket{le=\"+Inf\"} 4\n"));
        assert!(out.text.contains("x_sum 56.5\n"));
        assert!(out.text.contains("x_count 4\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
