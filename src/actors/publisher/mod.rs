//! The publisher: every tick to Redis, the live view (`docs/redis.md`).
//!
//! Fed by the journal after each frame is journaled ([`handlers::Publish`], a bounded
//! `try_send`: neither the journal nor the sockets ever wait on Redis). For every tick, one
//! pipelined batch carries `XADD <stream> MAXLEN ~ N * …` (the tick as `tickvault decode` prints
//! it plus its trading symbol, and what a store process needs to rebuild the exact row: socket,
//! seq, receive time, date and the raw packet), `HSET latest:{symbol}`, `SADD symbols:{date}`,
//! and, when enabled, the `ticks:` / `depth:` history zsets. TTLs are refreshed once per key per
//! quarter of the TTL.
//!
//! Up to [`IN_FLIGHT`] batches are sent before the first is answered (Redis works on one while
//! the next is built). When one fails, no new batch starts; once the others are answered, the
//! failed ones go back to the front of the buffer in their order and are retried after the
//! backoff (so after a failure the stream's order can differ from the journal's; rows are keyed
//! by `seq`, and `latest:` catches up with the next tick of the symbol).
//!
//! When Redis is slow or down, ticks wait in a bounded buffer (`redis.buffer_ticks`); beyond it
//! the oldest are dropped and counted (Redis is the live view, the database is the record). The
//! connection is retried with exponential backoff up to `redis.backoff_max_ms`. Every few
//! seconds it reads `XINFO GROUPS` and warns when a consumer group's unread entries approach the
//! stream's `MAXLEN` (the trim would drop entries the group has not read).
//!
//! Messages: [`handlers::Publish`], [`handlers::SetSymbols`]. Talks to: Redis only.

pub mod actor;
pub mod handlers;
mod send;
pub mod views;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::NaiveDate;
use hdrhistogram::Histogram;

use crate::kite::Tick;
use crate::settings::redis::RedisSettings;
use crate::status::PublisherStatus;
use crate::status::StatusHandle;

/// Batches in flight at once: Redis works on one while the next is built and sent.
pub const IN_FLIGHT: usize = 3;

/// A tick waiting to be published.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    /// The socket that received it.
    pub socket: i16,
    /// Its row key ([`crate::capture::row_seq`]: journal generation, record offset, packet).
    pub seq: i64,
    /// When its frame was received (µs, UTC).
    pub recv_time_us: u64,
    /// The tick.
    pub tick: Tick,
}

/// Counters shown in the status.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    published: u64,
    dropped: u64,
    batches: u64,
    errors: u64,
    reconnects: u64,
}

/// The publisher actor.
pub struct Publisher {
    settings: RedisSettings,
    /// The day's key names, per-symbol keys built once, and when each TTL was set.
    views: views::Views,
    buffer: VecDeque<Pending>,
    conn: Option<redis::aio::ConnectionManager>,
    /// Redis answered the last command (the connection manager exists while Redis is away
    /// too: it reconnects by itself, so holding one says nothing).
    up: bool,
    /// The day's instrument snapshot, by token (the union of this run's plans), and whether
    /// Redis may lack some of it (not sent yet, or Redis came back and may have lost its keys).
    snapshot: std::collections::BTreeMap<i64, crate::storage::models::NewInstrument>,
    snapshot_unsent: bool,
    /// Redis has answered at least once (so the next answer after an outage is a reconnect).
    was_up: bool,
    /// Connecting, waiting for a retry, or a batch failed with others in flight: start none.
    busy: bool,
    /// Batches sent and not answered yet (at most [`IN_FLIGHT`]); the one connection keeps
    /// them in order.
    in_flight: usize,
    /// Numbers the batches, so failed ones go back to the buffer in their order.
    next_batch: u64,
    /// Batches that failed while others were still in flight, by number.
    failed: std::collections::BTreeMap<u64, Vec<Pending>>,
    /// Batches sent and not answered yet, by number (back to the buffer at a restart).
    sent: std::collections::BTreeMap<u64, Vec<Pending>>,
    backoff: crate::backoff::Backoff,
    counters: Counters,
    /// Frame received → XADD acknowledged, microseconds.
    latency: Option<Histogram<u64>>,
    /// Unread entries per consumer group, from the last `XINFO GROUPS`.
    group_lag: HashMap<String, u64>,
    status: StatusHandle,
    restarts: crate::actors::children::Restarts,
}

impl Publisher {
    /// A publisher for `date`'s ticks.
    pub fn new(settings: RedisSettings, date: NaiveDate, status: StatusHandle) -> Publisher {
        let backoff = crate::backoff::Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(settings.backoff_max_ms),
        );
        Publisher {
            views: views::Views::new(&settings, date),
            settings,
            buffer: VecDeque::new(),
            conn: None,
            up: false,
            snapshot: Default::default(),
            snapshot_unsent: false,
            was_up: false,
            busy: false,
            in_flight: 0,
            next_batch: 0,
            failed: std::collections::BTreeMap::new(),
            sent: std::collections::BTreeMap::new(),
            backoff,
            counters: Counters::default(),
            latency: Histogram::new_with_bounds(1, 60_000_000, 2).ok(),
            group_lag: HashMap::new(),
            restarts: crate::actors::children::Restarts::new(&status),
            status,
        }
    }

    /// Buffers `ticks`, dropping the oldest beyond the bound.
    fn enqueue(&mut self, ticks: impl IntoIterator<Item = Pending>) {
        for p in ticks {
            if self.buffer.len() >= self.settings.buffer_ticks {
                self.buffer.pop_front();
                self.note_dropped(1);
            }
            self.buffer.push_back(p);
        }
    }

    fn note_dropped(&mut self, n: u64) {
        let before = self.counters.dropped;
        self.counters.dropped += n;
        // Log at 1, 2, 4, 8, … drops: visible, never a flood.
        if (before + 1..=self.counters.dropped).any(u64::is_power_of_two) {
            tracing::warn!(
                dropped = self.counters.dropped,
                buffered = self.buffer.len(),
                "Redis is behind: ticks dropped from the live view (the database keeps them)"
            );
        }
    }

    fn record_latency(&mut self, sent: &[Pending]) {
        let Some(latency) = &mut self.latency else {
            return;
        };
        let now = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0);
        for p in sent {
            let _ = latency.record(now.saturating_sub(p.recv_time_us).max(1));
        }
    }

    fn latency_ms(&self, q: f64) -> Option<f64> {
        let h = self.latency.as_ref().filter(|h| !h.is_empty())?;
        Some((h.value_at_percentile(q) as f64 / 100.0).round() / 10.0)
    }

    fn report_status(&self) {
        let c = &self.counters;
        self.status.report(|p: &mut PublisherStatus| {
            p.connected = self.up;
            p.buffered = self.buffer.len();
            p.published = c.published;
            p.dropped = c.dropped;
            p.batches = c.batches;
            p.errors = c.errors;
            p.reconnects = c.reconnects;
            p.latency_p50_ms = self.latency_ms(50.0);
            p.latency_p99_ms = self.latency_ms(99.0);
            p.stream = self.settings.stream_key();
            p.group_lag = self
                .group_lag
                .iter()
                .map(|(g, n)| (g.clone(), *n))
                .collect();
        });
    }
}
