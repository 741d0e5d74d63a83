//! The stream consumer of the `store` role (`tickvault run --role store`): reads the ticks an
//! ingest process published to the Redis stream, through a consumer group, and hands them to
//! the persister; an entry is acknowledged (`XACK`) only once its row is committed.
//!
//! The loop, one batch at a time: first the entries this consumer name already holds (a
//! restart under a fixed name), then every `claim_idle_ms / 2` the entries other consumers
//! have held for longer than `claim_idle_ms` (`XAUTOCLAIM`: a store that died before acking),
//! otherwise new entries (`XREADGROUP … BLOCK`). Several store processes share one group, each
//! getting different entries. Rows are keyed by (date, socket, seq) from the entry, so an entry
//! delivered twice (claimed after a commit whose ack was lost) inserts nothing twice.
//!
//! An entry that does not decode is logged with its id, counted and acknowledged (the ingest
//! host's journal still holds the frame). When the database refuses, the batch is retried
//! with backoff and nothing is acknowledged; when Redis fails, the consumer reconnects with
//! backoff.
//!
//! Messages: [`handlers::StopConsumer`]. Talks to: Redis, the persister
//! ([`crate::actors::persister::handlers::StoreRows`]).

pub mod actor;
pub mod handlers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::NaiveDate;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use tokio::sync::watch;

use crate::actors::persister::handlers::StoreRows;
use crate::actors::sink::SaveInstruments;
use crate::backoff::Backoff;
use crate::settings::redis::RedisSettings;
use crate::status::ConsumerStatus;
use crate::status::{State, StatusHandle};
use crate::storage::models::NewInstrument;
use crate::stream::entry_row;

/// Counters shown in the status (shared with the loop).
#[derive(Debug, Default)]
pub struct Counters {
    /// Entries whose rows are committed and acknowledged.
    pub acked: AtomicU64,
    /// Entries claimed from other (dead) consumers.
    pub claimed: AtomicU64,
    /// Entries that did not decode (acknowledged, logged).
    pub malformed: AtomicU64,
    /// Redis errors (each followed by a reconnect).
    pub redis_errors: AtomicU64,
    /// Batches the database refused (retried).
    pub db_retries: AtomicU64,
    /// Pending entries trimmed from the stream before they were stored (`XAUTOCLAIM`'s
    /// deleted ids): data to replay from the ingest host's journal.
    pub trimmed: AtomicU64,
    /// Entries read but not acknowledged yet.
    pub in_flight: AtomicU64,
}

/// A stop the loop can be told about mid-wait.
type Stop = watch::Receiver<bool>;

/// The consumer actor.
pub struct Consumer {
    settings: RedisSettings,
    name: String,
    persister: Recipient<StoreRows>,
    pub(crate) snapshots: Recipient<SaveInstruments>,
    status: StatusHandle,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    /// Becomes true when the loop has ended (after its last ack).
    done: watch::Sender<bool>,
    /// Tests: end the loop after committing the first batch, without acknowledging it (what
    /// a store killed between its commit and its ack leaves behind).
    stop_before_ack: bool,
    pub(crate) restarts: crate::actors::children::Restarts,
}

impl Consumer {
    /// A consumer of `settings.stream` in `settings.group`, committing through `persister`
    /// and keeping the ingest side's instrument snapshots through `snapshots`.
    pub fn new(
        settings: RedisSettings,
        persister: Recipient<StoreRows>,
        snapshots: Recipient<SaveInstruments>,
        status: StatusHandle,
    ) -> Consumer {
        let name = settings.consumer_name();
        Consumer {
            settings,
            name,
            persister,
            snapshots,
            counters: Arc::new(Counters::default()),
            stop: watch::channel(false).0,
            done: watch::channel(false).0,
            stop_before_ack: false,
            restarts: crate::actors::children::Restarts::new(&status),
            status,
        }
    }

    /// Tests: see the field (`test-hooks`).
    #[cfg(feature = "test-hooks")]
    pub fn stopping_before_the_first_ack(mut self) -> Consumer {
        self.stop_before_ack = true;
        self
    }

    fn report_status(&self) {
        let c = &self.counters;
        self.status.report(|s: &mut ConsumerStatus| {
            s.consumer.clone_from(&self.name);
            s.group.clone_from(&self.settings.group);
            s.stream = self.settings.stream_key();
            s.acked = c.acked.load(Ordering::Relaxed);
            s.claimed = c.claimed.load(Ordering::Relaxed);
            s.malformed = c.malformed.load(Ordering::Relaxed);
            s.redis_errors = c.redis_errors.load(Ordering::Relaxed);
            s.db_retries = c.db_retries.load(Ordering::Relaxed);
            s.trimmed = c.trimmed.load(Ordering::Relaxed);
            s.in_flight = c.in_flight.load(Ordering::Relaxed);
        });
    }
}

/// What the loop needs, owned.
struct Loop {
    settings: RedisSettings,
    name: String,
    stream: String,
    persister: Recipient<StoreRows>,
    snapshots: Recipient<SaveInstruments>,
    /// Dates of the entries seen, and the snapshot version stored of each.
    dates: std::collections::BTreeMap<chrono::NaiveDate, Option<i64>>,
    snapshot_checked: Option<Instant>,
    status: StatusHandle,
    counters: Arc<Counters>,
    stop: Stop,
    stop_before_ack: bool,
}

/// Where the next batch comes from.
enum Source {
    /// Entries already delivered to this consumer name (from id `0`).
    Own,
    /// Entries idle with other consumers (`XAUTOCLAIM` from this cursor).
    Claim(String),
    /// New entries (`>`).
    New,
}

impl Loop {
    async fn run(mut self) {
        let mut backoff = Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(self.settings.backoff_max_ms),
        );
        'connect: loop {
            if *self.stop.borrow() {
                return;
            }
            let mut conn = match self.connect().await {
                Ok(conn) => conn,
                Err(e) => {
                    self.status.fail(State::Backoff, &format!("redis: {e}"));
                    if self.sleep(backoff.next_delay()).await {
                        return;
                    }
                    continue;
                }
            };
            backoff.reset();
            self.status.set_state(State::Running);
            tracing::info!(stream = %self.stream, group = %self.settings.group, consumer = %self.name, "reading the stream");
            let claim_every = Duration::from_millis((self.settings.claim_idle_ms / 2).max(100));
            let mut next_claim = Instant::now();
            let mut source = Source::Own;
            loop {
                if *self.stop.borrow() {
                    return;
                }
                if matches!(source, Source::New) && Instant::now() >= next_claim {
                    source = Source::Claim("0-0".into());
                }
                let read = match &source {
                    Source::Own => self.read(&mut conn, "0", false).await,
                    Source::New => self.read(&mut conn, ">", true).await,
                    Source::Claim(cursor) => {
                        self.claim(&mut conn, cursor).await.map(|(next, entries)| {
                            source = if next == "0-0" {
                                next_claim = Instant::now() + claim_every;
                                Source::New
                            } else {
                                Source::Claim(next)
                            };
                            entries
                        })
                    }
                };
                let entries = match read {
                    Ok(Some(entries)) => entries,
                    // Stopped while blocked.
                    Ok(None) => return,
                    Err(e) => {
                        self.counters.redis_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "the stream read failed; reconnecting");
                        self.status.fail(State::Backoff, &format!("redis: {e}"));
                        if self.sleep(backoff.next_delay()).await {
                            return;
                        }
                        continue 'connect;
                    }
                };
                if matches!(source, Source::Own) && entries.is_empty() {
                    source = Source::New;
                }
                if let Err(e) = self.sync_snapshots(&mut conn).await {
                    tracing::warn!(error = %e, "cannot read the instrument snapshot from Redis yet");
                }
                if entries.is_empty() {
                    continue;
                }
                match self.store(&mut conn, entries).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => {
                        self.counters.redis_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "XACK failed; the entries stay pending and are claimed again (their rows are committed, nothing doubles)");
                        continue 'connect;
                    }
                }
            }
        }
    }

    async fn connect(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let client = self.settings.client()?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            // A blocked read answers after block_ms at the latest.
            .set_response_timeout(Some(
                Duration::from_millis(self.settings.block_ms) + Duration::from_secs(5),
            ));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(&self.settings.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Ok(()) => {
                tracing::info!(group = %self.settings.group, "consumer group created (reads the stream from its start)")
            }
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
        Ok(conn)
    }

    /// `XREADGROUP` from `id`; `None` when stopped while blocked.
    async fn read(
        &mut self,
        conn: &mut redis::aio::MultiplexedConnection,
        id: &str,
        block: bool,
    ) -> redis::RedisResult<Option<Vec<StreamId>>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.settings.group)
            .arg(&self.name)
            .arg("COUNT")
            .arg(self.settings.read_count);
        if block {
            cmd.arg("BLOCK").arg(self.settings.block_ms);
        }
        cmd.arg("STREAMS").arg(&self.stream).arg(id);
        let query = cmd.query_async::<Option<StreamReadReply>>(conn);
        let mut stop = self.stop.clone();
        tokio::select! {
            reply = query => Ok(Some(reply?.map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect()).unwrap_or_default())),
            _ = stop.wait_for(|s| *s) => Ok(None),
        }
    }

    /// One `XAUTOCLAIM` step from `cursor`: (next cursor, entries claimed).
    async fn claim(
        &mut self,
        conn: &mut redis::aio::MultiplexedConnection,
        cursor: &str,
    ) -> redis::RedisResult<(String, Option<Vec<StreamId>>)> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(&self.settings.group)
            .arg(&self.name)
            .arg(self.settings.claim_idle_ms)
            .arg(cursor)
            .arg("COUNT")
            .arg(self.settings.read_count)
            .query_async(conn)
            .await?;
        if !reply.deleted_ids.is_empty() {
            self.counters
                .trimmed
                .fetch_add(reply.deleted_ids.len() as u64, Ordering::Relaxed);
            tracing::error!(
                entries = reply.deleted_ids.len(),
                "pending entries were trimmed from the stream before any store committed them (MAXLEN too small for the lag, see docs/redis.md): replay them from the ingest host's journal"
            );
        }
        if !reply.claimed.is_empty() {
            self.counters
                .claimed
                .fetch_add(reply.claimed.len() as u64, Ordering::Relaxed);
            tracing::warn!(
                entries = reply.claimed.len(),
                "claimed entries another store left pending"
            );
        }
        Ok((reply.next_stream_id, Some(reply.claimed)))
    }

    /// Commits the entries' rows (retrying while the database refuses), then acknowledges
    /// them. `Ok(false)`: stopped before the rows were committed (nothing acknowledged).
    async fn store(
        &mut self,
        conn: &mut redis::aio::MultiplexedConnection,
        entries: Vec<StreamId>,
    ) -> redis::RedisResult<bool> {
        let mut rows = Vec::with_capacity(entries.len());
        for e in &entries {
            match entry_row(e) {
                Ok(row) => {
                    self.dates.entry(row.trade_date).or_insert(None);
                    rows.push(row)
                }
                Err(err) => {
                    self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(id = %e.id, error = %err, "a stream entry does not decode; acknowledged and skipped (the ingest host's journal has the frame)");
                }
            }
        }
        self.counters
            .in_flight
            .store(entries.len() as u64, Ordering::Relaxed);
        // Shared with each attempt below: a retry sends the same rows without copying them.
        let rows = Arc::new(rows);
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        while !rows.is_empty() {
            match self.persister.send(StoreRows(rows.clone())).await {
                Ok(Ok(_)) => break,
                Ok(Err(e)) => {
                    self.counters.db_retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %e, "the database refused a batch; retrying");
                }
                Err(e) => {
                    tracing::error!(error = %e, "the persister is gone; stopping");
                    return Ok(false);
                }
            }
            if self.sleep(backoff.next_delay()).await {
                return Ok(false);
            }
        }
        if self.stop_before_ack {
            tracing::warn!(
                entries = entries.len(),
                "stopping before the ack, as asked (tests)"
            );
            return Ok(false);
        }
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        let _: u64 = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.settings.group)
            .arg(&ids)
            .query_async(conn)
            .await?;
        self.counters
            .acked
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        self.counters.in_flight.store(0, Ordering::Relaxed);
        Ok(true)
    }

    /// Every few seconds, for each date its entries carried: when the ingest side's snapshot
    /// of the date (`instruments:{date}`) has a new version, stores it (the union of the
    /// day's plans): rows on a store host have symbols too.
    async fn sync_snapshots(
        &mut self,
        conn: &mut redis::aio::MultiplexedConnection,
    ) -> redis::RedisResult<()> {
        if self
            .snapshot_checked
            .is_some_and(|t| t.elapsed() < Duration::from_secs(2))
        {
            return Ok(());
        }
        self.snapshot_checked = Some(Instant::now());
        let dates: Vec<(NaiveDate, Option<i64>)> =
            self.dates.iter().map(|(d, v)| (*d, *v)).collect();
        for (date, stored) in dates {
            let version: Option<i64> = redis::cmd("GET")
                .arg(self.settings.instruments_version_key(date))
                .query_async(conn)
                .await?;
            if version.is_none() || version == stored {
                continue;
            }
            let fields: Vec<(String, String)> = redis::cmd("HGETALL")
                .arg(self.settings.instruments_key(date))
                .query_async(conn)
                .await?;
            let rows: Vec<NewInstrument> = fields
                .iter()
                .filter_map(|(_, json)| serde_json::from_str(json).ok())
                .collect();
            match self.snapshots.send(SaveInstruments(rows.clone())).await {
                Ok(Ok(())) => {
                    tracing::info!(%date, instruments = rows.len(), "stored the ingest side's instrument snapshot");
                    self.dates.insert(date, version);
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot store the instrument snapshot; again later")
                }
                Err(e) => tracing::warn!(error = %e, "the persister is gone"),
            }
        }
        Ok(())
    }

    /// Waits `d`; true when told to stop meanwhile.
    async fn sleep(&mut self, d: Duration) -> bool {
        let mut stop = self.stop.clone();
        let stopped = tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        stopped || *self.stop.borrow()
    }
}
