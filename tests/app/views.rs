//! Issue 18, part 3: views that read like the data, with the same names and columns on both
//! backends (`daily_ticks_v` over the daily table, `ticks_v` over the master), and every query
//! the docs show, run through the database's own command-line client on both.

use std::process::Command;

use chrono::TimeZone;
use tickvault::calendar::IST;

use crate::helpers::{Backend, TestApp, spawn_app_on, stderr, today};

/// The views' columns, in order (the export's names where the official client has one).
const COLUMNS: &str = "trade_date instrument_token exchange tradingsymbol segment mode \
    exchange_timestamp_ist received_at_ist last_trade_time_ist last_price last_traded_quantity \
    average_traded_price volume_traded total_buy_quantity total_sell_quantity open high low close \
    change oi oi_day_high oi_day_low \
    bid_price_1 bid_quantity_1 bid_orders_1 bid_price_2 bid_quantity_2 bid_orders_2 \
    bid_price_3 bid_quantity_3 bid_orders_3 bid_price_4 bid_quantity_4 bid_orders_4 \
    bid_price_5 bid_quantity_5 bid_orders_5 \
    ask_price_1 ask_quantity_1 ask_orders_1 ask_price_2 ask_quantity_2 ask_orders_2 \
    ask_price_3 ask_quantity_3 ask_orders_3 ask_price_4 ask_quantity_4 ask_orders_4 \
    ask_price_5 ask_quantity_5 ask_orders_5 socket seq";

/// Runs `sql` with the backend's own client (`sqlite3`, `mariadb`): the header and the rows,
/// tab-separated, NULL as `NULL`.
fn query(url: &str, sql: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let out = if let Some(path) = url.strip_prefix("sqlite://") {
        Command::new("sqlite3")
            .args([
                "-header",
                "-separator",
                "\t",
                "-nullvalue",
                "NULL",
                path,
                sql,
            ])
            .output()
            .expect("sqlite3 (tests/run installs it)")
    } else {
        // mysql://user:password@host:port/database
        let rest = url.strip_prefix("mysql://").expect("a mysql:// URL");
        let (auth, rest) = rest.split_once('@').unwrap();
        let (user, password) = auth.split_once(':').unwrap();
        let (host, db) = rest.split_once('/').unwrap();
        let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
        Command::new("mariadb")
            .args([
                "--protocol=tcp",
                "--batch",
                "-h",
                host,
                "-P",
                port,
                "-u",
                user,
            ])
            .arg(format!("-p{password}"))
            .args([db, "-e", sql])
            .output()
            .expect("the mariadb client")
    };
    assert!(out.status.success(), "{sql}\n{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect());
    let header = lines.next().unwrap_or_default();
    (header, lines.collect())
}

/// The SQL of every `sqlite3 <db> "…"` line in docs/data-model.md and README.md.
fn documented_queries() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut queries = Vec::new();
    for doc in ["docs/data-model.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("sqlite3 ")
                && let Some((_, sql)) = rest.split_once(" \"")
                && let Some(sql) = sql.strip_suffix('"')
            {
                queries.push(sql.to_string());
            }
        }
    }
    assert!(queries.len() >= 5, "the docs' queries: {queries:?}");
    queries
}

/// `us` since the epoch as IST `YYYY-MM-DD HH:MM:SS.mmm`.
fn ist_ms(us: i64) -> String {
    IST.timestamp_micros(us)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

async fn the_views_read_like_the_data_on(backend: Backend) {
    let t: TestApp = spawn_app_on(backend, 20.0, |_| {}).await;
    t.wait_for_ticks(20).await;
    t.app.shutdown().await.expect("drains");
    let url = t.settings.storage.url.clone();
    let url = match (&t._mysql, backend) {
        (Some(db), _) => db.url().to_string(),
        _ => url,
    };

    // The clients print a header with rows only: each view is looked at while it has some.
    let columns = |view: &str| query(&url, &format!("SELECT * FROM {view} LIMIT 1")).0;
    let want: Vec<&str> = COLUMNS.split_whitespace().collect();
    assert_eq!(
        columns("daily_ticks_v"),
        want,
        "daily_ticks_v on {backend:?}"
    );

    // A tick as stored and as the view shows it.
    let (_, raw) = query(
        &url,
        "SELECT socket, seq, recv_time_us, exchange_time, last_price, price_divisor \
         FROM daily_ticks WHERE exchange_time IS NOT NULL ORDER BY socket, seq LIMIT 1",
    );
    let r = &raw[0];
    let (recv_us, exchange_s): (i64, i64) = (r[2].parse().unwrap(), r[3].parse().unwrap());
    let price = r[4].parse::<f64>().unwrap() / r[5].parse::<f64>().unwrap();
    let (_, shown) = query(
        &url,
        &format!(
            "SELECT received_at_ist, exchange_timestamp_ist, last_price, tradingsymbol \
             FROM daily_ticks_v WHERE socket = {} AND seq = {}",
            r[0], r[1]
        ),
    );
    let s = &shown[0];
    assert_eq!(s[0], ist_ms(recv_us), "received_at_ist in IST to the ms");
    assert_eq!(
        s[1],
        ist_ms(exchange_s * 1_000_000),
        "exchange_timestamp_ist"
    );
    assert!((s[2].parse::<f64>().unwrap() - price).abs() < 1e-9, "{s:?}");
    assert!(!s[3].is_empty() && s[3] != "NULL", "the symbol: {s:?}");
    let (_, daily) = query(&url, "SELECT count(*) FROM daily_ticks_v");
    let (_, stored) = query(&url, "SELECT count(*) FROM daily_ticks");
    assert_eq!(daily, stored, "one view row per tick");

    // The master's view after the end of day, and every query the docs show.
    t.app.run_eod(today()).await.expect("the end of day");
    let (_, master) = query(&url, "SELECT count(*) FROM ticks_v");
    let (_, moved) = query(&url, "SELECT count(*) FROM ticks");
    assert_eq!(master, moved);
    assert_ne!(master[0][0], "0");
    assert_eq!(
        columns("ticks_v"),
        want,
        "ticks_v on {backend:?}, as daily_ticks_v"
    );
    for sql in documented_queries() {
        query(&url, &sql);
    }
    t.sim.stop().await;
}

#[actix_rt::test]
async fn the_views_read_like_the_data_and_the_docs_queries_run_on_sqlite() {
    the_views_read_like_the_data_on(Backend::Sqlite).await;
}

#[cfg(feature = "mysql")]
#[actix_rt::test]
async fn the_views_read_like_the_data_and_the_docs_queries_run_on_mariadb() {
    the_views_read_like_the_data_on(Backend::Mysql).await;
}
