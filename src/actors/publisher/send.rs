//! The publisher's Redis side: connect (with backoff), send batches (up to [`super::IN_FLIGHT`]
//! at once, in order), put failed batches back in front, resend the snapshot after an outage, and
//! watch the consumer groups' lag.

use std::time::{Duration, Instant};

use actix::prelude::*;

use super::{IN_FLIGHT, Publisher};
use crate::status::State;

/// A batch that takes longer than this is an error (Redis stalled): retried, counted.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

impl Publisher {
    /// Opens the connection manager; on failure retries after the backoff.
    pub(super) fn connect(&mut self, ctx: &mut Context<Self>) {
        let client = match self.settings.client() {
            Ok(client) => client,
            Err(e) => {
                self.status.fail(State::Failed, &e.to_string());
                return;
            }
        };
        self.busy = true;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let fut = async move { client.get_connection_manager_with_config(config).await };
        ctx.spawn(fut.into_actor(self).map(|res, act, ctx| match res {
            Ok(conn) => {
                tracing::info!(url = %act.settings.url, stream = %act.settings.stream_key(), "connected to Redis");
                act.conn = Some(conn);
                act.came_up();
                act.send_snapshot(ctx);
                act.busy = false;
                act.backoff.reset();
                act.status.set_state(State::Running);
                act.flush(ctx);
            }
            Err(e) => act.retry_later(ctx, &e.to_string()),
        }));
    }

    /// Sends batches while fewer than [`IN_FLIGHT`] are unanswered.
    pub(super) fn flush(&mut self, ctx: &mut Context<Self>) {
        while !self.busy && self.in_flight < IN_FLIGHT && !self.buffer.is_empty() {
            let Some(conn) = self.conn.clone() else {
                return;
            };
            self.send_batch(conn, ctx);
        }
    }

    pub(super) fn send_batch(
        &mut self,
        mut conn: redis::aio::ConnectionManager,
        ctx: &mut Context<Self>,
    ) {
        self.in_flight += 1;
        let number = self.next_batch;
        self.next_batch += 1;
        let n = self.buffer.len().min(self.settings.batch_ticks);
        let batch: Vec<_> = self.buffer.drain(..n).collect();
        let pipe = self.views.pipeline(&self.settings, &batch, Instant::now());
        // Kept here until answered, so that a restart puts it back in the buffer.
        self.sent.insert(number, batch);
        let fut = async move { pipe.query_async::<()>(&mut conn).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            act.in_flight -= 1;
            let batch = act.sent.remove(&number).unwrap_or_default();
            match res {
                Ok(()) => {
                    act.counters.published += batch.len() as u64;
                    act.counters.batches += 1;
                    act.record_latency(&batch);
                    if !act.up {
                        act.snapshot_unsent = true;
                        act.send_snapshot(ctx);
                    }
                    act.came_up();
                    if !act.backoff.is_reset() {
                        tracing::info!("Redis answers again; publishing");
                        act.status.set_state(State::Running);
                    }
                    act.backoff.reset();
                }
                Err(e) => {
                    // No new batch until the ones in flight are answered; then the failed ones
                    // go back to the front of the buffer in their order, and a retry waits.
                    act.busy = true;
                    act.failed.insert(number, batch);
                    if act.in_flight == 0 {
                        act.requeue_failed();
                        // A lost server loses the TTLs with the keys: set them again.
                        act.views.forget_ttls();
                        act.retry_later(ctx, &e.to_string());
                    }
                    return;
                }
            }
            if act.busy && act.in_flight == 0 && !act.failed.is_empty() {
                // An earlier batch failed while this one succeeded.
                act.requeue_failed();
                act.views.forget_ttls();
                act.retry_later(ctx, "a batch failed");
                return;
            }
            act.flush(ctx);
        }));
    }

    /// Puts the failed batches back at the front of the buffer, oldest first; the bound still
    /// holds (the oldest are dropped first).
    pub(super) fn requeue_failed(&mut self) {
        let failed = std::mem::take(&mut self.failed);
        for (_, batch) in failed.into_iter().rev() {
            let room = self.settings.buffer_ticks.saturating_sub(self.buffer.len());
            let keep = batch.len().min(room);
            self.note_dropped((batch.len() - keep) as u64);
            for p in batch.into_iter().rev().take(keep) {
                self.buffer.push_front(p);
            }
        }
    }

    /// Puts the day's snapshot into `instruments:{date}` (one field per instrument, so the
    /// hash is the union of the day's plans) and bumps its version, when Redis may lack it;
    /// again after every outage (a restarted Redis may have lost its keys; HSET is idempotent).
    pub(super) fn send_snapshot(&mut self, ctx: &mut Context<Self>) {
        let Some(mut conn) = self.conn.clone() else {
            return;
        };
        if !self.snapshot_unsent || self.snapshot.is_empty() {
            return;
        }
        self.snapshot_unsent = false;
        let rows: Vec<crate::storage::models::NewInstrument> =
            self.snapshot.values().cloned().collect();
        let mut pipe = redis::pipe();
        let ttl = self.settings.ttl_secs.max(7 * 86_400);
        let mut dates: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.trade_date).collect();
        dates.sort_unstable();
        dates.dedup();
        for row in &rows {
            if let Ok(json) = serde_json::to_string(row) {
                pipe.hset(
                    self.settings.instruments_key(row.trade_date),
                    row.instrument_token,
                    json,
                )
                .ignore();
            }
        }
        for date in dates {
            let (hash, version) = (
                self.settings.instruments_key(date),
                self.settings.instruments_version_key(date),
            );
            pipe.expire(&hash, ttl as i64).ignore();
            pipe.incr(&version, 1).ignore();
            pipe.expire(&version, ttl as i64).ignore();
        }
        let fut = async move { pipe.query_async::<()>(&mut conn).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(()) => tracing::info!(instruments = rows.len(), "the instrument snapshot is in Redis for the stores"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot put the instrument snapshot in Redis yet; again when it answers");
                act.snapshot_unsent = true;
            }
        }));
    }

    /// Redis answered: after an outage (not the first connection) that is a reconnect.
    pub(super) fn came_up(&mut self) {
        if !self.up && self.was_up {
            self.counters.reconnects += 1;
        }
        self.up = true;
        self.was_up = true;
    }

    pub(super) fn retry_later(&mut self, ctx: &mut Context<Self>, error: &str) {
        self.counters.errors += 1;
        self.up = false;
        self.busy = true;
        let wait = self.backoff.next_delay();
        tracing::warn!(
            error,
            retry_in_ms = wait.as_millis() as u64,
            buffered = self.buffer.len(),
            "Redis unavailable; ticks wait in the buffer"
        );
        self.status.fail(State::Backoff, error);
        ctx.run_later(wait, |act, ctx| {
            act.busy = false;
            if act.conn.is_none() {
                act.connect(ctx);
            } else {
                act.flush(ctx);
            }
        });
    }

    /// Reads `XINFO GROUPS` and warns when a group's unread entries approach `MAXLEN`.
    pub(super) fn check_lag(&mut self, ctx: &mut Context<Self>) {
        let Some(mut conn) = self.conn.clone() else {
            return;
        };
        let stream = self.settings.stream_key();
        let fut = async move {
            redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(&stream)
                .query_async::<Vec<redis::Value>>(&mut conn)
                .await
        };
        ctx.spawn(fut.into_actor(self).map(|res, act, _| {
            let Ok(groups) = res else {
                return; // no stream yet, or Redis away: the flush path reports that
            };
            act.group_lag = super::handlers::group_lags(&groups);
            let limit = (act.settings.stream_maxlen as f64 * act.settings.lag_warn_ratio) as u64;
            for (group, lag) in &act.group_lag {
                if *lag > limit {
                    tracing::warn!(group, lag, maxlen = act.settings.stream_maxlen, "a store group is falling behind: entries past MAXLEN are trimmed unread (see docs/redis.md for sizing)");
                }
            }
        }));
    }
}
