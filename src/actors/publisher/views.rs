//! What one batch of ticks writes to Redis, as one pipeline (`docs/redis.md`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use redis::{Cmd, Pipeline};

use super::Pending;
use crate::kite::json::TickJson;
use crate::kite::{PacketKind, encode_packet, exact_price};
use crate::settings::redis::RedisSettings;
use crate::stream::fields;

/// A view key and when its TTL was last set.
#[derive(Debug)]
struct Key {
    name: String,
    ttl_set: Option<Instant>,
}

impl Key {
    fn new(name: String) -> Key {
        Key {
            name,
            ttl_set: None,
        }
    }

    /// Adds `EXPIRE` when the key is new or its TTL was set more than a quarter of it ago.
    fn refresh_ttl(&mut self, pipe: &mut Pipeline, ttl: Duration, now: Instant) {
        if self
            .ttl_set
            .is_none_or(|at| now.duration_since(at) >= ttl / 4)
        {
            pipe.cmd("EXPIRE")
                .arg(&self.name)
                .arg(ttl.as_secs())
                .ignore();
            self.ttl_set = Some(now);
        }
    }
}

/// One instrument's keys, built once (not per tick).
#[derive(Debug)]
struct Symbol {
    name: String,
    latest: Key,
    ticks: Key,
    depth: Key,
    /// The last batch that touched it (its key views' TTLs are checked once per batch).
    batch: u64,
}

/// The key names of one trading date and what the pipeline remembers between batches.
#[derive(Debug)]
pub struct Views {
    stream: String,
    date: String,
    symbols_set: Key,
    symbols: HashMap<u32, Symbol>,
    batch: u64,
}

impl Views {
    /// The keys of `date` under `settings`' prefix; no symbols yet.
    pub fn new(settings: &RedisSettings, date: NaiveDate) -> Views {
        let date = date.format("%Y-%m-%d").to_string();
        Views {
            stream: settings.stream_key(),
            symbols_set: Key::new(settings.key(&format!("symbols:{date}"))),
            date,
            symbols: HashMap::new(),
            batch: 0,
        }
    }

    /// Sets the token → trading symbol map (from the subscription plan).
    pub fn set_symbols(&mut self, settings: &RedisSettings, symbols: HashMap<u32, String>) {
        let date = &self.date;
        self.symbols = symbols
            .into_iter()
            .map(|(token, name)| {
                let symbol = Symbol {
                    latest: Key::new(settings.key(&format!("latest:{name}"))),
                    ticks: Key::new(settings.key(&format!("ticks:{name}:{date}"))),
                    depth: Key::new(settings.key(&format!("depth:{name}:{date}"))),
                    name,
                    batch: 0,
                };
                (token, symbol)
            })
            .collect();
    }

    /// Forgets when TTLs were set: after Redis was lost, the keys (and TTLs) may be gone.
    pub fn forget_ttls(&mut self) {
        self.symbols_set.ttl_set = None;
        for s in self.symbols.values_mut() {
            for key in [&mut s.latest, &mut s.ticks, &mut s.depth] {
                key.ttl_set = None;
            }
        }
    }

    /// Builds the pipeline for `batch`. Each view key gets `EXPIRE` when it is new or its TTL
    /// was set more than a quarter of the TTL ago.
    pub fn pipeline(
        &mut self,
        settings: &RedisSettings,
        batch: &[Pending],
        now: Instant,
    ) -> Pipeline {
        self.batch += 1;
        let ttl = Duration::from_secs(settings.ttl_secs);
        let mut pipe = Pipeline::with_capacity(batch.len() * 2 + 2);
        let mut json = Vec::with_capacity(1024);
        let mut packet = Vec::with_capacity(200);
        // Tokens with a symbol, once each, in order of first tick.
        let mut seen: Vec<u32> = Vec::new();
        for p in batch {
            let t = &p.tick;
            let mut symbol = self.symbols.get_mut(&t.instrument_token);
            let name = symbol.as_ref().map_or("", |s| s.name.as_str());
            json.clear();
            let view = TickJson {
                tick: t,
                recv_time_us: Some(p.recv_time_us),
                tradingsymbol: Some(name),
            };
            if let Err(e) = serde_json::to_writer(&mut json, &view) {
                // Cannot happen for a decoded tick; if it did, the view skips it, the record has it.
                tracing::warn!(error = %e, token = t.instrument_token, "cannot serialise a tick for Redis");
                continue;
            }
            packet.clear();
            encode_packet(t, &mut packet);
            // 21 arguments; the JSON and the packet are most of the bytes.
            let mut xadd =
                Cmd::with_capacity(21, json.len() + packet.len() + self.stream.len() + 160);
            xadd.arg("XADD")
                .arg(&self.stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(settings.stream_maxlen)
                .arg("*")
                .arg(fields::TOKEN)
                .arg(t.instrument_token)
                .arg(fields::SYMBOL)
                .arg(name)
                .arg(fields::DATA)
                .arg(&json[..])
                .arg(fields::SOCKET)
                .arg(p.socket)
                .arg(fields::SEQ)
                .arg(p.seq)
                .arg(fields::RECV_US)
                .arg(p.recv_time_us)
                .arg(fields::DATE)
                .arg(&self.date)
                .arg(fields::PACKET)
                .arg(&packet[2..]); // without the u16 length that frames it in a message
            pipe.add_command(xadd).ignore();
            let Some(symbol) = symbol.as_mut() else {
                continue;
            };
            let segment = t.segment();
            let price = |raw: u32| exact_price(raw, segment);
            let mut hset = Cmd::with_capacity(18, symbol.latest.name.len() + 200);
            hset.arg("HSET")
                .arg(&symbol.latest.name)
                .arg("last_price")
                .arg(price(t.last_price));
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
            if matches!(t.kind, PacketKind::Full | PacketKind::IndexFull)
                && t.exchange_timestamp != 0
            {
                hset.arg("exchange_timestamp").arg(t.exchange_timestamp);
            }
            pipe.add_command(hset).ignore();
            let history = settings.history_zsets && t.exchange_timestamp != 0;
            if history {
                pipe.cmd("ZADD")
                    .arg(&symbol.ticks.name)
                    .arg(t.exchange_timestamp)
                    .arg(&json[..])
                    .ignore();
                if t.kind == PacketKind::Full {
                    let member = serde_json::json!({
                        "recv_time_us": p.recv_time_us,
                        "depth": crate::kite::json::depth_value(t),
                    });
                    pipe.cmd("ZADD")
                        .arg(&symbol.depth.name)
                        .arg(t.exchange_timestamp)
                        .arg(member.to_string())
                        .ignore();
                }
            }
            // Each EXPIRE follows the command that creates its key.
            if symbol.batch != self.batch {
                symbol.batch = self.batch;
                seen.push(t.instrument_token);
                symbol.latest.refresh_ttl(&mut pipe, ttl, now);
            }
            if history {
                symbol.ticks.refresh_ttl(&mut pipe, ttl, now);
                if t.kind == PacketKind::Full {
                    symbol.depth.refresh_ttl(&mut pipe, ttl, now);
                }
            }
        }
        if !seen.is_empty() {
            let mut sadd = Cmd::with_capacity(seen.len() + 2, seen.len() * 24);
            sadd.arg("SADD").arg(&self.symbols_set.name);
            for token in &seen {
                if let Some(s) = self.symbols.get(token) {
                    sadd.arg(&s.name);
                }
            }
            pipe.add_command(sadd).ignore();
            self.symbols_set.refresh_ttl(&mut pipe, ttl, now);
        }
        pipe
    }
}
