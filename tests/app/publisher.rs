//! The Redis publisher against the real server (127.0.0.1:6379, a key prefix per test, removed
//! afterwards): every journaled tick reaches the stream and decodes back to the same row, and
//! the key views hold the latest values.

use std::collections::{BTreeSet, HashMap};

use redis::Commands;
use tickvault::kite::{decode_packet, exact_price};
use tickvault::storage::models::NewTick;

use crate::helpers::{RedisKeys, spawn_app, today};

#[actix_rt::test]
async fn every_journaled_tick_reaches_the_stream_and_the_key_views() {
    let mut keys = RedisKeys::new();
    let prefix = keys.prefix.clone();
    let p = prefix.clone();
    let t = spawn_app(5.0, move |s| {
        s.redis.enabled = true;
        s.redis.key_prefix = p;
    })
    .await;
    t.wait_for_ticks(20).await;
    let journaled = t.drain_and_publish_all().await;

    let stream = format!("{prefix}ticks:raw");
    let entries: redis::streams::StreamRangeReply = keys.conn.xrange_all(&stream).unwrap();
    assert_eq!(entries.ids.len() as u64, journaled, "one entry per tick");
    let date = today().format("%Y-%m-%d").to_string();
    let mut keys_seen = BTreeSet::new();
    let mut last: HashMap<String, String> = HashMap::new();
    for e in &entries.ids {
        let get = |k: &str| -> String { e.get(k).unwrap_or_else(|| panic!("field {k}")) };
        let packet: Vec<u8> = e.get("packet").expect("packet");
        let tick = decode_packet(&packet).expect("the packet decodes");
        assert_eq!(get("token"), tick.instrument_token.to_string());
        assert_eq!(get("date"), date);
        let data: serde_json::Value = serde_json::from_str(&get("data")).unwrap();
        assert_eq!(data["instrument_token"], tick.instrument_token);
        assert_eq!(data["tradingsymbol"], get("symbol"));
        assert!(
            !get("symbol").is_empty(),
            "every planned token has a symbol"
        );
        let (socket, seq): (i16, i64) =
            (get("socket").parse().unwrap(), get("seq").parse().unwrap());
        assert!(keys_seen.insert((socket, seq)), "no entry twice");
        // The same row the journal path stores.
        let row = NewTick::new(today(), socket, seq, get("recv_us").parse().unwrap(), &tick);
        assert_eq!(row.instrument_token, i64::from(tick.instrument_token));
        last.insert(get("symbol"), exact_price(tick.last_price, tick.segment()));
    }
    let stored: BTreeSet<(i16, i64)> = {
        use diesel::prelude::*;
        use tickvault::storage::schema::daily_ticks::dsl;
        tickvault::on_backend!(t.store().conn(), c => dsl::daily_ticks
            .select((dsl::socket, dsl::seq))
            .load::<(i16, i64)>(c))
        .unwrap()
        .into_iter()
        .collect()
    };
    assert_eq!(
        keys_seen, stored,
        "the stream carries exactly the stored rows' keys"
    );

    let symbols: BTreeSet<String> = keys
        .conn
        .smembers(format!("{prefix}symbols:{date}"))
        .unwrap();
    assert_eq!(symbols, last.keys().cloned().collect());
    for (symbol, price) in &last {
        let latest = format!("{prefix}latest:{symbol}");
        let view: HashMap<String, String> = keys.conn.hgetall(&latest).unwrap();
        assert_eq!(
            view.get("last_price"),
            Some(price),
            "{symbol}: the last tick's price"
        );
        let ttl: i64 = keys.conn.ttl(&latest).unwrap();
        assert!(ttl > 0 && ttl <= 86_400, "{symbol}: TTL {ttl}");
    }
    t.sim.stop().await;
}
