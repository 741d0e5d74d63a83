//! The batch path of each backend (`storage::bulk`: bound statements on SQLite, `LOAD DATA
//! LOCAL INFILE` on MariaDB): it stores exactly what Diesel's own insert stores, skips what is
//! already stored, moves the journal position with the rows, and on a server that refuses local
//! files still stores everything (through multi-row INSERTs).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use tickvault::capture::JournalKey;
use tickvault::kite::{Level, PacketKind, Tick};
use tickvault::on_backend;
#[cfg(feature = "mysql")]
use tickvault::storage::StorageUrl;
use tickvault::storage::models::{NewTick, Position, quoted};
use tickvault::storage::schema::daily_ticks;
use tickvault::storage::{self, Store};

#[cfg(feature = "mysql")]
use crate::helpers::OwnMariadb;
use crate::helpers::{Backend, test_store};

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
}

/// One row of every packet kind: full with depth and OI, quote, ltp (mostly NULL), index
/// quote and index full (net change, exchange time), on two sockets.
fn mixed_rows(day: NaiveDate) -> Vec<NewTick> {
    let mut full = Tick::new(PacketKind::Full, 12_345_678);
    full.last_price = 2_450_075;
    full.last_traded_quantity = 75;
    full.average_traded_price = 2_449_990;
    full.volume_traded = 1_234_567;
    full.total_buy_quantity = 50_000;
    full.total_sell_quantity = 48_000;
    full.ohlc.open = 2_440_000;
    full.ohlc.high = 2_460_000;
    full.ohlc.low = 2_430_000;
    full.ohlc.close = 2_445_000;
    full.exchange_timestamp = 1_795_600_123;
    full.last_trade_time = 1_795_600_120;
    full.oi = 4_321_000;
    full.oi_day_high = 4_400_000;
    full.oi_day_low = 4_100_000;
    for (k, level) in full.depth.buy.iter_mut().enumerate() {
        *level = Level {
            quantity: 75 * (k as u32 + 1),
            price: 2_450_000 - 5 * k as u32,
            orders: k as u16 + 1,
        };
    }
    full.depth.sell[4] = Level {
        quantity: u32::MAX,
        price: 2_460_000,
        orders: u16::MAX,
    };
    let mut quote = full;
    quote.kind = PacketKind::Quote;
    let mut ltp = Tick::new(PacketKind::Ltp, 408_065);
    ltp.last_price = 150_000;
    let mut index_quote = Tick::new(PacketKind::IndexQuote, 256_265);
    index_quote.last_price = 2_614_570;
    index_quote.net_change = 1_234;
    let mut index_full = index_quote;
    index_full.kind = PacketKind::IndexFull;
    index_full.exchange_timestamp = 1_795_600_124;
    // 2,500 rows: long enough for MySQL's two-stream path (2,000 rows and up).
    [full, quote, ltp, index_quote, index_full]
        .iter()
        .cycle()
        .take(2_500)
        .enumerate()
        .map(|(i, t)| {
            let socket = 1 + (i % 2) as i16;
            NewTick::new(
                day,
                socket,
                (i as i64) << 16,
                1_795_600_000_000_000 + i as i64,
                t,
            )
        })
        .collect()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Rows of `a` that `b` lacks (every column but the date), NULLs compared as equal.
fn rows_not_in(store: &mut Store, a: NaiveDate, b: NaiveDate) -> i64 {
    let columns = quoted(&NewTick::COLUMNS[1..]);
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT {columns} FROM daily_ticks WHERE trade_date = '{a}' \
         EXCEPT SELECT {columns} FROM daily_ticks WHERE trade_date = '{b}') x"
    );
    on_backend!(store.conn(), c => diesel::sql_query(&sql).get_result::<Count>(c))
        .unwrap()
        .n
}

fn stores_what_diesel_stores(backend: Backend) {
    let mut t = test_store(backend);
    let (bulk_day, diesel_day) = (date(19), date(20));
    let rows = mixed_rows(bulk_day);
    let position = Position::new(bulk_day, JournalKey::new(2, 1), 4_096);
    assert_eq!(
        storage::commit_batch(&mut t.store, &rows, &[position]).unwrap(),
        rows.len()
    );
    assert_eq!(
        storage::commit_batch(&mut t.store, &rows, &[position]).unwrap(),
        0,
        "a second commit of the same rows inserts nothing"
    );
    let by_diesel = mixed_rows(diesel_day);
    for chunk in by_diesel.chunks(500) {
        on_backend!(t.store.conn(), c => diesel::insert_into(daily_ticks::table)
            .values(chunk)
            .execute(c))
        .unwrap();
    }

    // The date as Diesel writes and reads it, every other column the same both ways.
    let per_token = storage::rows_per_token(t.store.conn(), bulk_day).unwrap();
    assert_eq!(per_token.values().sum::<u64>(), rows.len() as u64);
    assert_eq!(rows_not_in(&mut t.store, bulk_day, diesel_day), 0);
    assert_eq!(rows_not_in(&mut t.store, diesel_day, bulk_day), 0);
    let positions = storage::positions(t.store.conn(), bulk_day).unwrap();
    assert_eq!(positions.get(&JournalKey::new(2, 1)), Some(&4_096));
    let path = match backend {
        Backend::Sqlite => "bound_insert",
        #[cfg(feature = "mysql")]
        Backend::Mysql => "load_data",
    };
    assert_eq!(t.store.write_path(), path, "the fast path, not a fallback");
}

#[test]
fn the_batch_path_stores_what_diesel_stores_on_sqlite() {
    stores_what_diesel_stores(Backend::Sqlite);
}

#[cfg(feature = "mysql")]
#[test]
fn the_batch_path_stores_what_diesel_stores_on_mariadb() {
    stores_what_diesel_stores(Backend::Mysql);
}

#[cfg(feature = "mysql")]
#[test]
fn a_server_that_refuses_local_files_still_gets_every_row() {
    let server = OwnMariadb::start_with(&["--local-infile=0"]);
    let mut store = Store::open(&StorageUrl::parse(&server.url).unwrap()).unwrap();
    let rows = mixed_rows(date(20));
    let position = Position::new(date(20), JournalKey::new(1, 0), 99);
    assert_eq!(store.write_path(), "load_data", "tried first");
    for expected in [rows.len(), 0] {
        assert_eq!(
            storage::commit_batch(&mut store, &rows, &[position]).unwrap(),
            expected
        );
    }
    assert_eq!(store.write_path(), "insert_statements");
    let per_token = storage::rows_per_token(store.conn(), date(20)).unwrap();
    assert_eq!(per_token.values().sum::<u64>(), rows.len() as u64);
    assert_eq!(
        storage::positions(store.conn(), date(20))
            .unwrap()
            .get(&JournalKey::new(1, 0)),
        Some(&99)
    );
}
