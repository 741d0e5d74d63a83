//! `GET /metrics`: the status board through a `prometheus-client` registry, in the OpenMetrics
//! text format (which Prometheus scrapes as it does its own 0.0.4 text).
//!
//! Every figure comes from the board's typed entries, the same source as SIGUSR1's report and
//! `/status`, so the three never disagree. Each scrape fills a fresh registry from one snapshot
//! (the board is the state; the registry is its rendering); the two histograms (batch size and
//! commit latency) live on the board and are registered as they are. A figure the board does
//! not have (no publisher, no end of day yet) is left out rather than shown as 0.
//! docs/operations.md lists the metrics and docs/grafana-dashboard.json plots them.

mod families;

use chrono::{DateTime, Utc};

use crate::status::{
    Actor, AuthStatus, Entries, EodStatus, JournalStatus, LedgerStatus, NotifierStatus,
    PersisterStatus, PublisherStatus, Snapshot, State, StatusBoard,
};
use crate::status::{ConsumerStatus, histogram::BATCH_ROWS, histogram::COMMIT_SECONDS};
use families::Scrape;

/// The content type of what [`render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The board as OpenMetrics text at `now`.
pub fn render(board: &StatusBoard, now: DateTime<Utc>) -> String {
    let snap = board.snapshot();
    let mut out = Scrape::default();
    out.gauge("tickvault_up", "1 while the service answers.", Some(1.0));
    out.gauges(
        "tickvault_actor_state",
        "1 for each actor's current state, 0 for the others (starting, running, backoff, stopped, failed).",
        snap.actors.iter().flat_map(|a| {
            State::ALL.iter().map(move |s| {
                (
                    vec![("actor", a.name.clone()), ("state", s.as_str().to_string())],
                    if a.state == *s { 1.0 } else { 0.0 },
                )
            })
        }),
    );
    out.counters(
        "tickvault_actor_restarts_total",
        "Restarts of each actor since the service started.",
        snap.actors
            .iter()
            .map(|a| (vec![("actor", a.name.clone())], f64::from(a.restarts))),
    );
    sockets(&mut out, &snap);
    storage(&mut out, board, &snap, now);
    redis(&mut out, &snap);
    control_and_operations(&mut out, &snap, now);
    out.finish()
}

/// Per socket: frames, ticks, malformed frames, reconnects by cause, last frame, subscriptions.
fn sockets(out: &mut Scrape, snap: &Snapshot) {
    let labels = |a: &crate::status::ActorStatus, app: &str| {
        vec![("socket", a.name.clone()), ("app", app.to_string())]
    };
    type Figure = fn(&crate::status::SocketStatus) -> u64;
    let figures: [(&str, &str, Figure); 3] = [
        (
            "tickvault_socket_frames_total",
            "WebSocket frames received (heartbeats included), per socket.",
            |s| s.frames,
        ),
        (
            "tickvault_socket_ticks_total",
            "Tick packets received, per socket.",
            |s| s.ticks,
        ),
        (
            "tickvault_socket_malformed_total",
            "Frames that did not decode (kept in the journal), per socket.",
            |s| s.malformed,
        ),
    ];
    for (name, help, figure) in figures {
        out.counters(
            name,
            help,
            snap.sockets()
                .map(|(a, s)| (labels(a, &s.app), figure(s) as f64)),
        );
    }
    out.counters(
        "tickvault_socket_reconnects_total",
        "Reconnects per socket and cause.",
        snap.sockets().flat_map(|(a, s)| {
            s.reconnects_by_cause.iter().map(|(cause, n)| {
                (
                    vec![("socket", a.name.clone()), ("cause", cause.clone())],
                    *n as f64,
                )
            })
        }),
    );
    out.gauges(
        "tickvault_socket_last_frame_age_seconds",
        "Seconds since each connected socket's last frame.",
        snap.sockets().filter_map(|(a, s)| {
            s.last_frame_age_ms
                .map(|ms| (vec![("socket", a.name.clone())], ms as f64 / 1000.0))
        }),
    );
    out.gauges(
        "tickvault_socket_subscribed",
        "Instruments subscribed on each socket (0 while it is down).",
        snap.sockets()
            .map(|(a, s)| (vec![("socket", a.name.clone())], s.subscribed as f64)),
    );
}

/// The journal (or the ingest role's ledger), the queues, the persister and its histograms.
fn storage(out: &mut Scrape, board: &StatusBoard, snap: &Snapshot, now: DateTime<Utc>) {
    let journal = snap.details::<JournalStatus>(Actor::Journal);
    let ledger = snap.details::<LedgerStatus>(Actor::Ledger);
    out.gauge(
        "tickvault_journal_bytes",
        "Bytes in today's journal files.",
        journal
            .map(|j| j.bytes)
            .or(ledger.map(|l| l.journal_bytes))
            .map(|b| b as f64),
    );
    out.counter(
        "tickvault_journal_records_total",
        "Frames appended to today's journal.",
        journal.map(|j| j.records as f64),
    );
    out.counter(
        "tickvault_journal_failed_appends_total",
        "Journal appends that failed (disk full, I/O error).",
        journal.map(|j| j.failed_appends as f64),
    );

    let persister = snap.details::<PersisterStatus>(Actor::Persister);
    let publisher = snap.details::<PublisherStatus>(Actor::Publisher);
    let consumer = snap.details::<ConsumerStatus>(Actor::Consumer);
    let queues = [
        ("persister", persister.map(|p| p.queued as f64)),
        ("publisher", publisher.map(|p| p.buffered as f64)),
        ("consumer", consumer.map(|c| c.in_flight as f64)),
    ];
    out.gauges(
        "tickvault_queue_depth",
        "Items waiting in each queue (rows to commit, ticks to publish, messages in flight).",
        queues
            .into_iter()
            .filter_map(|(q, v)| Some((vec![("queue", q.to_string())], v?))),
    );

    out.gauge(
        "tickvault_persister_lag_seconds",
        "Frame received to row committed, for the newest row of the last commit.",
        persister.map(|p| p.lag_ms as f64 / 1000.0),
    );
    out.counter(
        "tickvault_persister_committed_rows_total",
        "Tick rows committed to the database today.",
        persister.map(|p| p.committed_rows as f64),
    );
    out.gauge(
        "tickvault_persister_last_commit_age_seconds",
        "Seconds since the last commit.",
        persister
            .and_then(|p| p.last_commit_at)
            .map(|t| secs_between(t, now)),
    );
    // The histograms, empty until the first commit (and in the ingest role, which has none).
    let h = board.histograms();
    out.histogram(BATCH_ROWS.name, BATCH_ROWS.help, &h.batch_rows);
    out.histogram(COMMIT_SECONDS.name, COMMIT_SECONDS.help, &h.commit_seconds);
    out.gauge(
        "tickvault_gap_seconds_today",
        "Socket-seconds without data today (closed gaps in the gap ledger).",
        persister
            .map(|p| p.gap_seconds)
            .or(ledger.map(|l| l.gap_seconds)),
    );
}

/// The publisher, and ticks not published wherever they were dropped.
fn redis(out: &mut Scrape, snap: &Snapshot) {
    let publisher = snap.details::<PublisherStatus>(Actor::Publisher);
    let journal = snap.details::<JournalStatus>(Actor::Journal);
    out.counter(
        "tickvault_redis_published_total",
        "Ticks published to Redis.",
        publisher.map(|p| p.published as f64),
    );
    out.counter(
        "tickvault_redis_errors_total",
        "Redis commands that failed.",
        publisher.map(|p| p.errors as f64),
    );
    out.counter(
        "tickvault_redis_reconnects_total",
        "Reconnects to Redis.",
        publisher.map(|p| p.reconnects as f64),
    );
    out.gauges(
        "tickvault_redis_group_lag",
        "Stream entries each consumer group (the store role's) has not read yet.",
        publisher
            .into_iter()
            .flat_map(|p| &p.group_lag)
            .map(|(group, lag)| (vec![("group", group.clone())], *lag as f64)),
    );
    out.gauge(
        "tickvault_redis_connected",
        "1 while the publisher holds a Redis connection.",
        publisher.map(|p| if p.connected { 1.0 } else { 0.0 }),
    );
    let drops = [
        ("publisher", publisher.map(|p| p.dropped as f64)),
        ("journal", journal.map(|j| j.publish_dropped as f64)),
    ];
    out.counters(
        "tickvault_redis_dropped_total",
        "Ticks not published to Redis (buffer full while it was down, or the publisher's mailbox full).",
        drops
            .into_iter()
            .filter_map(|(at, v)| Some((vec![("at", at.to_string())], v?))),
    );
}

/// The control plane and operations: the tokens' expiry, the end of day, the scheduler, mail
/// and disk.
fn control_and_operations(out: &mut Scrape, snap: &Snapshot, now: DateTime<Utc>) {
    out.gauges(
        "tickvault_token_expiry_seconds",
        "Seconds until each app's access token expires (Kite: 06:00 IST).",
        snap.details::<AuthStatus>(Actor::Auth)
            .into_iter()
            .flat_map(|a| &a.token_expiry)
            .map(|(app, t)| (vec![("app", app.clone())], secs_between(now, *t))),
    );

    let eod = snap.details::<EodStatus>(Actor::Eod);
    if let Some(last) = eod.and_then(|e| e.outcome.as_ref()) {
        out.gauge(
            "tickvault_eod_last_success",
            "1 if the last end of day succeeded, 0 if it failed.",
            Some(if last.ok() { 1.0 } else { 0.0 }),
        );
        out.gauge(
            "tickvault_eod_last_duration_seconds",
            "How long the last end of day took.",
            last.duration_ms.map(|ms| ms as f64 / 1000.0),
        );
        out.gauge(
            "tickvault_eod_last_master_rows",
            "Master rows of the last end of day's date.",
            last.master_rows.map(|r| r as f64),
        );
        out.gauge(
            "tickvault_eod_last_finished_timestamp_seconds",
            "When the last end of day finished (Unix time).",
            last.finished_at.map(|t| t.timestamp() as f64),
        );
        // With `[export] after_eod` only.
        let exported = last.export_rows.is_some() || last.export_error.is_some();
        out.gauge(
            "tickvault_eod_last_export_success",
            "1 if the export after the last end of day succeeded, 0 if it failed.",
            exported.then_some(if last.export_error.is_none() {
                1.0
            } else {
                0.0
            }),
        );
        out.gauge(
            "tickvault_eod_last_export_rows",
            "Rows the export after the last end of day wrote.",
            last.export_rows.map(|r| r as f64),
        );
    }
    out.gauge(
        "tickvault_database_bytes",
        "Size of the database after the last end of day.",
        eod.and_then(|e| e.outcome.as_ref())
            .and_then(|o| o.database_bytes)
            .map(|b| b as f64),
    );

    if let Some((_, s)) = snap.scheduler() {
        out.gauge(
            "tickvault_scheduler_idle",
            "1 while the calendar says closed (holiday or weekend).",
            Some(if s.idle.is_some() { 1.0 } else { 0.0 }),
        );
        out.counter(
            "tickvault_scheduler_failures_total",
            "Scheduled events that failed (each retry counts).",
            Some(s.failures as f64),
        );
        if let (Some(event), Some(at)) = (&s.next_event, s.next_at) {
            out.gauges(
                "tickvault_scheduler_next_event_timestamp_seconds",
                "When the next scheduled event is due (Unix time).",
                [(vec![("event", event.clone())], at.timestamp() as f64)],
            );
        }
    }

    if let Some(n) = snap.details::<NotifierStatus>(Actor::Notifier) {
        out.counter(
            "tickvault_mail_sent_total",
            "Alert mails sent.",
            Some(n.sent as f64),
        );
        out.counter(
            "tickvault_mail_failed_total",
            "Alert mails the SMTP server did not take (logged).",
            Some(n.failed as f64),
        );
        out.counter(
            "tickvault_mail_suppressed_total",
            "Alerts held back by the rate limit.",
            Some(n.suppressed as f64),
        );
        out.gauge(
            "tickvault_disk_free_bytes",
            "Free space on the data directory's file system.",
            n.disk_free_bytes.map(|b| b as f64),
        );
    }
}

fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{PersisterStatus, SocketStatus};

    #[test]
    fn the_board_renders_as_openmetrics_with_the_fixed_names() {
        let board = StatusBoard::new();
        board
            .handle(Actor::Socket(1))
            .report(|s: &mut SocketStatus| {
                s.app = "main\"app".into();
                s.ticks = 7;
                s.reconnects_by_cause.insert("stalled".into(), 2);
            });
        let persister = board.handle(Actor::Persister);
        persister.report(|p: &mut PersisterStatus| p.committed_rows = 50);
        for v in [0.5, 1.0, 5.0, 50.0] {
            persister.observe(|h| &h.batch_rows, v);
        }
        let text = render(&board, Utc::now());
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            text.contains("# TYPE tickvault_socket_ticks counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "tickvault_socket_ticks_total{socket=\"socket-1\",app=\"main\\\"app\"} 7"
            ),
            "labels escaped: {text}"
        );
        assert!(text.contains(
            "tickvault_socket_reconnects_total{socket=\"socket-1\",cause=\"stalled\"} 2"
        ));
        assert!(text.contains("tickvault_persister_committed_rows_total 50"));
        // Cumulative buckets, the sum and the count.
        assert!(
            text.contains("tickvault_persister_batch_rows_bucket{le=\"1.0\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("tickvault_persister_batch_rows_bucket{le=\"10.0\"} 3\n"));
        assert!(text.contains("tickvault_persister_batch_rows_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.contains("tickvault_persister_batch_rows_sum 56.5\n"));
        assert!(text.contains("tickvault_persister_batch_rows_count 4\n"));
        // Nothing for what the board does not have.
        assert!(!text.contains("tickvault_redis_connected"));
        assert!(!text.contains("tickvault_eod_last_success"));
    }
}
