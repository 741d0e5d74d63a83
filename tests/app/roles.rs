//! The roles over the real Redis server: an ingest process publishes, store processes read the
//! stream through one consumer group into the database. Every tick the ingest journaled ends
//! in the database exactly once: with two stores sharing the load, and when a store dies
//! between its commit and its ack (another claims what it left pending). And the publisher
//! rides out a Redis crash without touching the sockets.
// The store helpers serve tests that need the `mysql` or `test-hooks` feature.
#![cfg_attr(not(any(feature = "mysql", feature = "test-hooks")), allow(dead_code))]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use redis::Commands;
use tickvault::pipeline::{App, StartOptions};
use tickvault::settings::Role;
use tickvault::settings::Settings;
use tickvault::status::State;
use tickvault::storage::schema::daily_ticks::dsl;
use tickvault::storage::{StorageUrl, Store};

#[cfg(feature = "mysql")]
use crate::helpers::TestMysql;
use crate::helpers::{
    Backend, OwnRedis, RedisKeys, TestApp, detail, spawn_app, spawn_app_with, today,
};

/// Stored instruments of today without a symbol in the snapshot (`None`: no snapshot yet).
fn nameless(url: &str) -> Option<usize> {
    let mut store = Store::open(&StorageUrl::parse(url).unwrap()).unwrap();
    let symbols = tickvault::storage::eod::instrument_symbols(store.conn(), today()).unwrap();
    if symbols.is_empty() {
        return None;
    }
    let rows = tickvault::storage::rows_per_token(store.conn(), today()).unwrap();
    Some(rows.keys().filter(|t| !symbols.contains_key(t)).count())
}

/// An ingest process publishing under `prefix`, and its settings (a store's start from them).
async fn spawn_ingest(prefix: &str) -> (TestApp, Settings) {
    let p = prefix.to_string();
    let mut base: Option<Settings> = None;
    let options = StartOptions {
        role: Role::Ingest,
        ..Default::default()
    };
    let t = spawn_app_with(Backend::Sqlite, 20.0, options, |s| {
        s.redis.key_prefix = p;
        base = Some(s.clone());
    })
    .await;
    (t, base.expect("the settings"))
}

/// An ingest process publishing under `prefix` until every socket has `ticks` ticks, then
/// drained: returns it and the ticks its journal holds (everything is in the stream then).
async fn ingest(prefix: &str, ticks: u64) -> (TestApp, u64) {
    let (t, _) = spawn_ingest(prefix).await;
    t.wait_for_ticks(ticks).await;
    t.app.shutdown().await.expect("drains");
    let journaled = t.journaled();
    t.wait_for(
        "every journaled tick published",
        Duration::from_secs(20),
        |b| detail(b, "publisher", "published") >= journaled,
    )
    .await;
    assert_eq!(detail(&t.app.board, "publisher", "dropped"), 0);
    (t, journaled)
}

/// A store process on `url` with consumer name `name`.
async fn store(base: &Settings, url: &str, name: &str, tweak: impl FnOnce(&mut Settings)) -> App {
    store_with(base, url, name, StartOptions::default(), tweak).await
}

async fn store_with(
    base: &Settings,
    url: &str,
    name: &str,
    options: StartOptions,
    tweak: impl FnOnce(&mut Settings),
) -> App {
    let mut s = base.clone();
    s.storage.url = url.to_string();
    s.redis.consumer = name.to_string();
    s.redis.read_count = 50;
    s.redis.block_ms = 200;
    tweak(&mut s);
    let options = StartOptions {
        role: Role::Store,
        ..options
    };
    tickvault::service::control::start_day(&s, today(), tickvault::clock::system(), options)
        .await
        .expect("the store starts")
}

async fn wait_until(what: &str, apps: &[&App], cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        let boards: Vec<_> = apps
            .iter()
            .map(|a| a.board.to_json(chrono::Utc::now()))
            .collect();
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {boards:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The (socket, seq) keys in the database, and how many rows.
fn stored(url: &str) -> (BTreeSet<(i16, i64)>, usize) {
    let mut store = Store::open(&StorageUrl::parse(url).unwrap()).unwrap();
    let rows: Vec<(i16, i64)> = tickvault::on_backend!(store.conn(), c => dsl::daily_ticks
        .filter(dsl::trade_date.eq(today()))
        .select((dsl::socket, dsl::seq))
        .load(c))
    .unwrap();
    let n = rows.len();
    (rows.into_iter().collect(), n)
}

/// The (socket, seq) keys the stream carries.
fn streamed(keys: &mut RedisKeys) -> BTreeSet<(i16, i64)> {
    let entries: redis::streams::StreamRangeReply = keys
        .conn
        .xrange_all(format!("{}ticks:raw", keys.prefix))
        .unwrap();
    entries
        .ids
        .iter()
        .map(|e| (e.get("socket").unwrap(), e.get("seq").unwrap()))
        .collect()
}

/// Entries the group has delivered but not had acknowledged.
fn pending(keys: &mut RedisKeys) -> u64 {
    let reply: redis::Value = redis::cmd("XPENDING")
        .arg(format!("{}ticks:raw", keys.prefix))
        .arg("tickvault_store")
        .query(&mut keys.conn)
        .unwrap();
    match reply {
        redis::Value::Array(v) => match v.first() {
            Some(redis::Value::Int(n)) => *n as u64,
            _ => 0,
        },
        _ => 0,
    }
}

#[cfg(feature = "mysql")]
#[actix_rt::test]
async fn two_stores_in_one_group_share_the_stream_and_store_every_tick_once() {
    let mut keys = RedisKeys::new();
    let db = TestMysql::create();
    // The stores start first and wait on the empty stream, so both get entries as they come.
    let (t, journaled) = {
        let (sim_for_settings, base) = spawn_ingest(&keys.prefix).await;
        let a = store(&base, &db.url, "store-a", |_| {}).await;
        let b = store(&base, &db.url, "store-b", |_| {}).await;
        sim_for_settings.wait_for_ticks(30).await;
        sim_for_settings.app.shutdown().await.expect("drains");
        let journaled = sim_for_settings.journaled();
        wait_until("both stores acked every tick", &[&a, &b], || {
            detail(&a.board, "consumer", "acked") + detail(&b.board, "consumer", "acked")
                >= journaled
        })
        .await;
        let (acked_a, acked_b) = (
            detail(&a.board, "consumer", "acked"),
            detail(&b.board, "consumer", "acked"),
        );
        assert!(
            acked_a > 0 && acked_b > 0,
            "both share the load: a {acked_a}, b {acked_b}"
        );
        assert_eq!(acked_a + acked_b, journaled, "no entry acked twice");
        a.shutdown().await.expect("store a drains");
        b.shutdown().await.expect("store b drains");
        (sim_for_settings, journaled)
    };
    assert_eq!(detail(&t.app.board, "publisher", "dropped"), 0);
    let (rows, n) = stored(&db.url);
    assert_eq!(n as u64, journaled, "every journaled tick stored once");
    assert_eq!(rows, streamed(&mut keys), "exactly the stream's entries");
    assert_eq!(pending(&mut keys), 0);
    // The ingest process has no database.
    assert!(!t.settings.paths.data_dir.join("../ticks.db").exists());
    t.sim.stop().await;
}

#[cfg(feature = "test-hooks")]
#[actix_rt::test]
async fn a_store_killed_before_its_ack_leaves_entries_that_another_store_claims() {
    let mut keys = RedisKeys::new();
    let (t, journaled) = ingest(&keys.prefix, 10).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());

    // Store a commits its first batch and dies before acknowledging it.
    let stop_before_ack = StartOptions {
        stop_before_ack: true,
        ..Default::default()
    };
    let a = store_with(&t.settings, &url, "store-a", stop_before_ack, |_| {}).await;
    wait_until("store a stopped after its commit", &[&a], || {
        a.board.named("consumer").map(|s| s.state) == Some(State::Stopped)
    })
    .await;
    let left = pending(&mut keys);
    assert!(left > 0 && left <= 50, "a left its batch pending: {left}");
    assert_eq!(stored(&url).1 as u64, left, "… after committing it");
    a.shutdown().await.expect("store a drains");
    drop(a);

    // Store b reads the rest and, after the idle time, claims what a left.
    let b = store(&t.settings, &url, "store-b", |s| {
        s.redis.claim_idle_ms = 300
    })
    .await;
    wait_until("store b acked every tick", &[&b], || {
        detail(&b.board, "consumer", "acked") >= journaled
    })
    .await;
    assert_eq!(detail(&b.board, "consumer", "claimed"), left);
    assert_eq!(pending(&mut keys), 0);
    // Issue 16, finding 9: the store's database has the ingest side's instrument snapshot, so
    // every stored row has its symbol there too.
    wait_until("the snapshot stored", &[&b], || nameless(&url) == Some(0)).await;
    b.shutdown().await.expect("store b drains");
    let (rows, n) = stored(&url);
    assert_eq!(n as u64, journaled, "every tick exactly once");
    assert_eq!(rows, streamed(&mut keys));
    t.sim.stop().await;
}

#[actix_rt::test]
async fn redis_crashing_mid_run_costs_counted_drops_only_and_the_publisher_recovers() {
    let mut redis = OwnRedis::start();
    let url = redis.url.clone();
    let t = spawn_app(20.0, move |s| {
        s.redis.enabled = true;
        s.redis.url = url;
        s.redis.buffer_ticks = 50;
        s.redis.backoff_max_ms = 200;
    })
    .await;
    t.wait_for("ticks published", Duration::from_secs(20), |b| {
        detail(b, "publisher", "published") > 0
    })
    .await;
    let sockets: Vec<String> = t.app.plan.sockets.iter().map(|s| s.name()).collect();
    let reconnects = |b: &tickvault::status::StatusBoard| -> u64 {
        sockets.iter().map(|s| detail(b, s, "reconnects")).sum()
    };
    let ticks = |b: &tickvault::status::StatusBoard| -> u64 {
        sockets.iter().map(|s| detail(b, s, "ticks")).sum()
    };
    let (reconnects_before, ticks_before) = (reconnects(&t.app.board), ticks(&t.app.board));

    redis.kill();
    t.wait_for(
        "drops counted while Redis is down",
        Duration::from_secs(20),
        |b| detail(b, "publisher", "dropped") > 0 && detail(b, "publisher", "errors") > 0,
    )
    .await;
    // The sockets' counters reach the board once a second: wait for the next report.
    t.wait_for("the sockets kept receiving", Duration::from_secs(5), |b| {
        ticks(b) > ticks_before
    })
    .await;
    let published_down = detail(&t.app.board, "publisher", "published");
    // Issue 16, finding 12: while Redis is away the status says so (connected false, backoff),
    // and the way back counts as a reconnect.
    let publisher = t.app.board.named("publisher").unwrap();
    assert_eq!(publisher.fields()["connected"], false, "{publisher:?}");
    assert_eq!(publisher.state, State::Backoff);
    let reconnected_before = detail(&t.app.board, "publisher", "reconnects");

    redis.restart();
    t.wait_for("publishing again", Duration::from_secs(20), |b| {
        detail(b, "publisher", "published") > published_down + 20
    })
    .await;
    assert_eq!(
        reconnects(&t.app.board),
        reconnects_before,
        "no socket reconnected because of Redis"
    );
    let publisher = t.app.board.named("publisher").unwrap();
    assert_eq!(publisher.fields()["connected"], true);
    assert_eq!(publisher.state, State::Running);
    assert!(
        detail(&t.app.board, "publisher", "reconnects") > reconnected_before,
        "the way back is a reconnect"
    );
    t.app.shutdown().await.expect("drains");
    let journaled = t.journaled();
    t.wait_for(
        "every tick published or counted as dropped",
        Duration::from_secs(20),
        |b| detail(b, "publisher", "published") + detail(b, "publisher", "dropped") >= journaled,
    )
    .await;
    let b = &t.app.board;
    assert_eq!(
        detail(b, "publisher", "published") + detail(b, "publisher", "dropped"),
        journaled,
        "each tick is published or counted as dropped, once"
    );
    assert_eq!(detail(b, "publisher", "buffered"), 0);
    // The database, the record, has every tick.
    let mut store = t.store();
    let rows: i64 =
        tickvault::on_backend!(store.conn(), c => dsl::daily_ticks.count().get_result(c)).unwrap();
    assert_eq!(rows as u64, journaled);
    // After the restart the stream holds what was published since.
    let mut conn = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let len: u64 = conn.xlen("ticks:raw").unwrap();
    assert!(len > 20 && len < journaled, "stream length {len}");
    t.sim.stop().await;
}

/// Issue 17, step 6: the ingest role's ledger and the store role's consumer, each stopped by a
/// failure it cannot absorb, restart alone under their supervisors: the ingest side's sockets
/// keep journaling and publishing, the restarted consumer reads on (its own pending entries
/// first), and every journaled tick is stored once.
#[cfg(feature = "test-hooks")]
#[actix_rt::test]
async fn an_ingest_ledger_and_a_store_consumer_restart_alone_and_lose_nothing() {
    use tickvault::status::Actor;
    let mut keys = RedisKeys::new();
    let (t, base) = spawn_ingest(&keys.prefix).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = store(&base, &url, "store-a", |_| {}).await;
    t.wait_for_ticks(20).await;

    let bytes = detail(&t.app.board, "ledger", "journal_bytes");
    assert!(t.app.crash(Actor::Ledger));
    t.wait_for(
        "the ledger restarted and follows the journal",
        Duration::from_secs(20),
        |b| {
            b.named("ledger").map(|l| l.restarts) == Some(1)
                && detail(b, "ledger", "journal_bytes") > bytes + 1000
        },
    )
    .await;
    let others: u32 = t
        .app
        .board
        .snapshot()
        .actors
        .iter()
        .filter(|a| a.actor != Actor::Ledger)
        .map(|a| a.restarts)
        .sum();
    assert_eq!(others, 0, "only the ledger restarted");

    let acked = detail(&store.board, "consumer", "acked");
    assert!(store.crash(Actor::Consumer));
    wait_until("the consumer restarted and acks again", &[&store], || {
        store.board.named("consumer").map(|c| c.restarts) == Some(1)
            && detail(&store.board, "consumer", "acked") > acked + 50
    })
    .await;
    assert_eq!(
        store.board.named("consumer").map(|c| c.state),
        Some(State::Running)
    );

    t.app.shutdown().await.expect("the ingest side drains");
    let journaled = t.journaled();
    wait_until("the store has every journaled tick", &[&store], || {
        stored(&url).0.len() as u64 >= journaled
    })
    .await;
    store.shutdown().await.expect("the store drains");
    let (rows, n) = stored(&url);
    assert_eq!(n as u64, journaled, "every journaled tick stored once");
    assert_eq!(rows, streamed(&mut keys), "exactly the stream's entries");
    t.sim.stop().await;
}
