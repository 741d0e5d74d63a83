//! What one batch of ticks writes to Redis, as one pipeline (`docs/redis.md`).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use redis::Pipeline;

use super::Pending;
use crate::kite::json::TickJson;
use crate::kite::{PacketKind, encode_packet, exact_price};
use crate::settings::redis::RedisSettings;

/// The stream entry's field names (a contract with readers and the store role).
pub mod fields {
    /// Instrument token.
    pub const TOKEN: &str = "token";
    /// Trading symbol.
    pub const SYMBOL: &str = "symbol";
    /// The tick as `tickvault decode` prints it, plus `tradingsymbol`.
    pub const DATA: &str = "data";
    /// Receiving socket.
    pub const SOCKET: &str = "socket";
    /// Row key within the socket and date.
    pub const SEQ: &str = "seq";
    /// Receive time, µs since the epoch (UTC).
    pub const RECV_US: &str = "recv_us";
    /// Trading date, `YYYY-MM-DD`.
    pub const DATE: &str = "date";
    /// The raw Kite packet (binary), from which the store rebuilds the exact row.
    pub const PACKET: &str = "packet";
}

/// Builds the pipeline for `batch`. `expiries` remembers when each view key's TTL was last set;
/// a key gets `EXPIRE` when it is new or its TTL was set more than a quarter of the TTL ago.
pub fn pipeline(
    settings: &RedisSettings,
    date: &str,
    symbols: &HashMap<u32, std::sync::Arc<str>>,
    batch: &[Pending],
    expiries: &mut HashMap<String, Instant>,
    now: Instant,
) -> Pipeline {
    let mut pipe = redis::pipe();
    let stream = settings.stream_key();
    let mut json = Vec::with_capacity(1024);
    let mut packet = Vec::with_capacity(200);
    let mut seen = BTreeSet::new();
    let mut touched: Vec<String> = Vec::new();
    for p in batch {
        let t = &p.tick;
        let symbol: &str = symbols.get(&t.instrument_token).map(|s| &**s).unwrap_or("");
        json.clear();
        let view = TickJson {
            tick: t,
            recv_time_us: Some(p.recv_time_us),
            tradingsymbol: Some(symbol),
        };
        if let Err(e) = serde_json::to_writer(&mut json, &view) {
            // Cannot happen for a decoded tick; if it did, the view skips it, the record has it.
            tracing::warn!(error = %e, token = t.instrument_token, "cannot serialise a tick for Redis");
            continue;
        }
        packet.clear();
        encode_packet(t, &mut packet);
        pipe.cmd("XADD")
            .arg(&stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(settings.stream_maxlen)
            .arg("*")
            .arg(fields::TOKEN)
            .arg(t.instrument_token)
            .arg(fields::SYMBOL)
            .arg(symbol)
            .arg(fields::DATA)
            .arg(&json[..])
            .arg(fields::SOCKET)
            .arg(p.socket)
            .arg(fields::SEQ)
            .arg(p.seq)
            .arg(fields::RECV_US)
            .arg(p.recv_time_us)
            .arg(fields::DATE)
            .arg(date)
            .arg(fields::PACKET)
            .arg(&packet[2..]) // without the u16 length that frames it in a message
            .ignore();
        if symbol.is_empty() {
            continue;
        }
        let latest = settings.key(&format!("latest:{symbol}"));
        let segment = t.segment();
        let price = |raw: u32| exact_price(raw, segment);
        let mut hset = redis::cmd("HSET");
        hset.arg(&latest).arg("last_price").arg(price(t.last_price));
        if matches!(t.kind, PacketKind::Quote | PacketKind::Full) {
            hset.arg("volume")
                .arg(t.volume_traded)
                .arg("total_buy_qty")
                .arg(t.total_buy_quantity)
                .arg("total_sell_qty")
                .arg(t.total_sell_quantity);
        }
        if t.kind == PacketKind::Full {
            hset.arg("oi")
                .arg(t.oi)
                .arg("bid")
                .arg(price(t.depth.buy[0].price))
                .arg("ask")
                .arg(price(t.depth.sell[0].price));
        }
        if matches!(t.kind, PacketKind::Full | PacketKind::IndexFull) && t.exchange_timestamp != 0 {
            hset.arg("exchange_timestamp").arg(t.exchange_timestamp);
        }
        pipe.add_command(hset).ignore();
        if settings.history_zsets && t.exchange_timestamp != 0 {
            let ticks = settings.key(&format!("ticks:{symbol}:{date}"));
            pipe.cmd("ZADD")
                .arg(&ticks)
                .arg(t.exchange_timestamp)
                .arg(&json[..])
                .ignore();
            touched.push(ticks);
            if t.kind == PacketKind::Full {
                let depth = settings.key(&format!("depth:{symbol}:{date}"));
                let member = serde_json::json!({
                    "recv_time_us": p.recv_time_us,
                    "depth": crate::kite::json::depth_value(t),
                });
                pipe.cmd("ZADD")
                    .arg(&depth)
                    .arg(t.exchange_timestamp)
                    .arg(member.to_string())
                    .ignore();
                touched.push(depth);
            }
        }
        if seen.insert(symbol) {
            touched.push(latest);
        }
    }
    if !seen.is_empty() {
        let set = settings.key(&format!("symbols:{date}"));
        pipe.cmd("SADD")
            .arg(&set)
            .arg(seen.into_iter().collect::<Vec<_>>())
            .ignore();
        touched.push(set);
    }
    let ttl = Duration::from_secs(settings.ttl_secs);
    for key in touched {
        let due = expiries
            .get(&key)
            .is_none_or(|at| now.duration_since(*at) >= ttl / 4);
        if due {
            pipe.cmd("EXPIRE").arg(&key).arg(settings.ttl_secs).ignore();
            expiries.insert(key, now);
        }
    }
    pipe
}
