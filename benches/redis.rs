//! Redis: the publisher's throughput (ticks/s into `XADD` with the key views, pipelined) and its
//! latency at the full universe's rate (frame received → `XADD` acknowledged, p50/p99 at
//! 18,000 ticks/s), then the store role's throughput from the stream into SQLite and MariaDB
//! (consumer group → persister → commit → `XACK`).
//!
//! `cargo bench --bench redis`, against the Redis on 127.0.0.1:6379 (a key prefix of its own,
//! deleted afterwards) and the test account's MariaDB. Environment: `PUBLISH_TICKS` (default
//! 300,000), `PACED_SECS` (default 20), `PACED_RATE` (a second paced run at this rate; default
//! 18,000), `STORE_ROLE=0` to skip the store role.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::web::Bytes;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use redis::Commands;
use tickvault::actors::consumer::Consumer;
use tickvault::actors::consumer::handlers::StopConsumer;
use tickvault::actors::persister::Persister;
use tickvault::actors::publisher::Publisher;
use tickvault::actors::publisher::handlers::{Publish, SetSymbols};
use tickvault::kite::{Level, PacketKind, Tick, encode_message};
use tickvault::settings::redis::RedisSettings;
use tickvault::settings::{Settings, Sources};
use tickvault::status::StatusBoard;
use tickvault::storage::{StorageUrl, Store};

const INSTRUMENTS: u32 = 9_000;
const PER_FRAME: usize = 100;

mod common;

use common::{day, env};

fn now_us() -> u64 {
    chrono::Utc::now().timestamp_micros() as u64
}

/// Frame `n`: `PER_FRAME` full-mode ticks of consecutive instruments, prices moving.
fn frame(n: u64) -> Bytes {
    let ticks: Vec<Tick> = (0..PER_FRAME as u64)
        .map(|k| {
            let i = n * PER_FRAME as u64 + k;
            let mut t = Tick::new(
                PacketKind::Full,
                10_000 + (i % u64::from(INSTRUMENTS)) as u32,
            );
            t.last_price = 100_000 + ((i * 7919) % 5_000) as u32;
            t.last_traded_quantity = 75;
            t.volume_traded = 1_000 + (i / 9_000) as u32 * 75;
            t.total_buy_quantity = 50_000;
            t.total_sell_quantity = 48_000;
            t.exchange_timestamp = 1_795_600_000 + (i / 18_000) as u32;
            t.last_trade_time = t.exchange_timestamp;
            t.oi = 120_000;
            for (j, level) in t.depth.buy.iter_mut().enumerate() {
                *level = Level {
                    quantity: 75,
                    price: t.last_price - 5 * (j as u32 + 1),
                    orders: 1,
                };
            }
            for (j, level) in t.depth.sell.iter_mut().enumerate() {
                *level = Level {
                    quantity: 75,
                    price: t.last_price + 5 * (j as u32 + 1),
                    orders: 1,
                };
            }
            t
        })
        .collect();
    let mut out = Vec::new();
    encode_message(&ticks, &mut out).expect("encodes");
    Bytes::from(out)
}

fn settings(prefix: &str) -> Settings {
    let mut s = Settings::load(&Sources::default()).expect("defaults load");
    s.redis.enabled = true;
    s.redis.key_prefix = prefix.to_string();
    s.redis.stream_maxlen = 10_000_000;
    // All-out sending outruns any Redis; the bench measures how fast the buffer drains, so it
    // must hold everything (the service's default drops the oldest beyond 200,000).
    s.redis.buffer_ticks = 10_000_000;
    s
}

fn detail(board: &StatusBoard, actor: &str, key: &str) -> f64 {
    board
        .named(actor)
        .and_then(|s| s.fields().get(key).and_then(serde_json::Value::as_f64))
        .unwrap_or(0.0)
}

async fn wait(board: &StatusBoard, actor: &str, key: &str, at_least: f64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while detail(board, actor, key) < at_least {
        assert!(Instant::now() < deadline, "timed out: {actor}.{key}");
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn wait_connected(board: &StatusBoard) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while board.named("publisher").and_then(|s| {
        s.fields()
            .get("connected")
            .and_then(serde_json::Value::as_bool)
    }) != Some(true)
    {
        assert!(Instant::now() < deadline, "the publisher did not connect");
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
}

fn start_publisher(redis: &RedisSettings, board: &Arc<StatusBoard>) -> Addr<Publisher> {
    let (r, status) = (
        redis.clone(),
        board.handle(tickvault::status::Actor::Publisher),
    );
    let publisher = Publisher::start_in_arbiter(&Arbiter::new().handle(), move |_| {
        Publisher::new(r, day(), status)
    });
    publisher.do_send(SetSymbols(
        (0..INSTRUMENTS)
            .map(|i| (10_000 + i, format!("SYM{i}")))
            .collect(),
    ));
    publisher
}

async fn send(publisher: &Addr<Publisher>, n: u64, payload: Bytes) {
    let mut msg = Publish {
        socket: 1,
        generation: 0,
        offset: 8 + n * 10_000,
        recv_time_us: now_us(),
        payload,
    };
    loop {
        match publisher.try_send(msg) {
            Ok(()) => return,
            Err(SendError::Full(m)) => {
                msg = m;
                actix_rt::time::sleep(Duration::from_micros(200)).await;
            }
            Err(SendError::Closed(_)) => panic!("the publisher stopped"),
        }
    }
}

/// All out: ticks/s from the first send to the last acknowledgement. Every frame is handed
/// over at once (`do_send` ignores the mailbox bound): a sender that waits on a full mailbox is
/// woken only once per timer tick (1 ms), which would cap the figure at 1,000 frames/s.
async fn throughput(redis: &RedisSettings, frames: &[Bytes]) -> f64 {
    let board = StatusBoard::new();
    let publisher = start_publisher(redis, &board);
    wait_connected(&board).await;
    let started = Instant::now();
    for (n, f) in frames.iter().enumerate() {
        publisher.do_send(Publish {
            socket: 1,
            generation: 0,
            offset: 8 + n as u64 * 10_000,
            recv_time_us: now_us(),
            payload: f.clone(),
        });
    }
    let ticks = (frames.len() * PER_FRAME) as f64;
    // The status board is refreshed once a second; the stream's length is exact.
    let mut conn = redis::Client::open("redis://127.0.0.1:6379/0")
        .and_then(|c| c.get_connection())
        .expect("Redis on 127.0.0.1:6379");
    let deadline = Instant::now() + Duration::from_secs(600);
    while conn.xlen::<_, u64>(redis.stream_key()).unwrap_or(0) < ticks as u64 {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the stream"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let rate = ticks / started.elapsed().as_secs_f64();
    wait(&board, "publisher", "published", ticks).await;
    assert_eq!(detail(&board, "publisher", "dropped"), 0.0);
    rate
}

/// `rate` ticks/s (18,000: a frame of 100 every 5.56 ms) for `secs`: (p50, p99 ms).
async fn paced(redis: &RedisSettings, frames: &[Bytes], secs: u64, rate: u64) -> (f64, f64) {
    let board = StatusBoard::new();
    let publisher = start_publisher(redis, &board);
    wait_connected(&board).await;
    let every = Duration::from_secs_f64(PER_FRAME as f64 / rate as f64);
    let total = (secs as f64 / every.as_secs_f64()) as u64;
    let started = Instant::now();
    for n in 0..total {
        let due = started + every * n as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            actix_rt::time::sleep(wait).await;
        }
        send(&publisher, n, frames[n as usize % frames.len()].clone()).await;
    }
    wait(
        &board,
        "publisher",
        "published",
        (total as usize * PER_FRAME) as f64,
    )
    .await;
    let rate = (total as usize * PER_FRAME) as f64 / started.elapsed().as_secs_f64();
    println!("  paced run: {rate:.0} ticks/s achieved");
    (
        detail(&board, "publisher", "latency_p50_ms"),
        detail(&board, "publisher", "latency_p99_ms"),
    )
}

/// Entries `group` has read and acknowledged (`entries-read` − `pending`, Redis 7).
fn acked(conn: &mut redis::Connection, stream: &str, group: &str) -> u64 {
    let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query::<Vec<redis::Value>>(conn)
        .unwrap_or_default()
        .iter()
        .filter_map(|g| redis::from_redis_value_ref(g).ok())
        .collect();
    let num = |g: &std::collections::HashMap<String, redis::Value>, k: &str| {
        g.get(k)
            .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok())
            .unwrap_or(0)
    };
    groups
        .iter()
        .find(|g| {
            g.get("name")
                .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
                .as_deref()
                == Some(group)
        })
        .map_or(0, |g| {
            num(g, "entries-read").saturating_sub(num(g, "pending"))
        })
}

/// The store role over the stream's `entries` entries into `url`: entries/s.
async fn store_role(redis: &RedisSettings, url: &str, group: &str, entries: u64) -> f64 {
    let board = StatusBoard::new();
    let store = Store::open(&StorageUrl::parse(url).unwrap()).expect("the database opens");
    let cell = Arc::new(Mutex::new(Some(store)));
    let status = board.handle(tickvault::status::Actor::Persister);
    let persister = SyncArbiter::start(1, move || {
        let store = cell.lock().unwrap().take().unwrap();
        Persister::new(
            store,
            std::env::temp_dir(),
            day(),
            5_000,
            Duration::from_millis(200),
            status.clone(),
            tickvault::actors::children::Restarts::new(&status),
        )
    });
    let mut r = redis.clone();
    r.group = group.to_string();
    r.consumer = "bench".into();
    let status = board.handle(tickvault::status::Actor::Consumer);
    let snapshots = persister.clone().recipient();
    let rows = persister.recipient();
    let started = Instant::now();
    let consumer = Consumer::start_in_arbiter(&Arbiter::new().handle(), move |_| {
        Consumer::new(r, rows, snapshots, status)
    });
    // The status board is refreshed once a second; the group's own counts are exact: an
    // entry is acknowledged once it has been read and is no longer pending.
    let mut conn = redis::Client::open("redis://127.0.0.1:6379/0")
        .and_then(|c| c.get_connection())
        .expect("Redis on 127.0.0.1:6379");
    let deadline = Instant::now() + Duration::from_secs(600);
    while acked(&mut conn, &redis.stream_key(), group) < entries {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the store role"
        );
        // Not a thread sleep: the persister's SyncArbiter dispatches on this thread.
        actix_rt::time::sleep(Duration::from_millis(1)).await;
    }
    let rate = entries as f64 / started.elapsed().as_secs_f64();
    wait(&board, "consumer", "acked", entries as f64).await;
    consumer.send(StopConsumer).await.unwrap();
    rate
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a list; this is a benchmark, not a test.
    }
    let n_ticks = env("PUBLISH_TICKS", 300_000);
    let secs = env("PACED_SECS", 20);
    let prefix = format!("tickvault_bench:{:x}:", std::process::id());
    let s = settings(&prefix);
    let frames: Vec<Bytes> = (0..n_ticks / PER_FRAME as u64).map(frame).collect();
    let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut conn = client.get_connection().expect("Redis on 127.0.0.1:6379");
    let stream = s.redis.stream_key();

    let mysql_server = std::env::var("TICKVAULT_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://tickvault_test:tickvault_test@127.0.0.1:3306".into());
    let db_name = "tickvault_test_bench_redis";
    let admin = |sql: &str| {
        diesel::mysql::MysqlConnection::establish(&format!("{mysql_server}/information_schema"))
            .expect("MariaDB")
            .batch_execute(sql)
            .expect("admin statement");
    };
    admin(&format!("DROP DATABASE IF EXISTS `{db_name}`"));
    admin(&format!("CREATE DATABASE `{db_name}`"));
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let mysql_url = format!("{mysql_server}/{db_name}");

    actix_rt::System::new().block_on(async {
        println!("redis: full-mode ticks, {INSTRUMENTS} instruments, frames of {PER_FRAME}");
        let rate = throughput(&s.redis, &frames).await;
        println!("  publish (XADD + latest + symbols, pipelined): {rate:.0} ticks/s");
        let len: u64 = conn.xlen(&stream).unwrap();
        let memory: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&stream)
            .arg("SAMPLES")
            .arg(0)
            .query(&mut conn)
            .ok();
        if let Some(m) = memory {
            println!("  stream: {len} entries, {:.0} bytes each in Redis", m as f64 / len as f64);
        }
        if env("STORE_ROLE", 1) == 1 {
            let sqlite = store_role(&s.redis, &sqlite_url, "bench_sqlite", len).await;
            println!("  store role into SQLite:  {sqlite:.0} ticks/s");
            let mysql = store_role(&s.redis, &mysql_url, "bench_mysql", len).await;
            println!("  store role into MariaDB: {mysql:.0} ticks/s");
        }

        for rate in [18_000, env("PACED_RATE", 18_000)] {
            let (p50, p99) = paced(&s.redis, &frames, secs, rate).await;
            println!(
                "  latency at {rate} ticks/s, frame received -> XADD acknowledged: p50 {p50} ms, p99 {p99} ms"
            );
        }
    });

    let keys: Vec<String> = conn
        .scan_match(format!("{prefix}*"))
        .map(|it| it.filter_map(Result::ok).collect())
        .unwrap_or_default();
    for chunk in keys.chunks(1_000) {
        let _: redis::RedisResult<()> = conn.del(chunk);
    }
    admin(&format!("DROP DATABASE IF EXISTS `{db_name}`"));
}
