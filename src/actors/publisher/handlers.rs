//! The publisher's messages.

use std::collections::HashMap;

use actix::prelude::*;
use actix_web::web::Bytes;

use super::{Pending, Publisher};
use crate::capture::row_seq;
use crate::kite::parse_message;

/// A binary frame the journal has just stored at `offset` of `socket`'s file.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Publish {
    /// The socket.
    pub socket: i16,
    /// The journal file's generation and the record's offset in it (rows are keyed by them).
    pub generation: u16,
    /// The record's offset.
    pub offset: u64,
    /// When it was received (µs, UTC).
    pub recv_time_us: u64,
    /// The frame.
    pub payload: Bytes,
}

/// The day's instrument snapshot (this start's plan), for the stores (`instruments:{date}`).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct PublishInstruments(pub Vec<crate::storage::models::NewInstrument>);

impl Handler<PublishInstruments> for Publisher {
    type Result = ();

    fn handle(&mut self, msg: PublishInstruments, ctx: &mut Self::Context) {
        self.snapshot
            .extend(msg.0.into_iter().map(|r| (r.instrument_token, r)));
        self.snapshot_unsent = true;
        self.send_snapshot(ctx);
    }
}

/// The day's token → trading symbol map (from the subscription plan).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct SetSymbols(pub HashMap<u32, String>);

impl Handler<Publish> for Publisher {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) {
        // A malformed frame stays in the journal; there is nothing to publish.
        let Ok(message) = parse_message(&msg.payload) else {
            return;
        };
        self.enqueue(message.packets().enumerate().map(|(i, tick)| Pending {
            socket: msg.socket,
            seq: row_seq(msg.generation, msg.offset, i),
            recv_time_us: msg.recv_time_us,
            tick,
        }));
        self.flush(ctx);
    }
}

impl Handler<SetSymbols> for Publisher {
    type Result = ();

    fn handle(&mut self, msg: SetSymbols, _ctx: &mut Self::Context) {
        self.views.set_symbols(&self.settings, msg.0);
    }
}

/// `XINFO GROUPS` → unread entries per group (`lag`, Redis 7; else `pending` is the floor).
pub fn group_lags(groups: &[redis::Value]) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for g in groups {
        let fields: HashMap<String, redis::Value> = match redis::from_redis_value_ref(g) {
            Ok(f) => f,
            Err(_) => continue,
        };
        let Some(name) = fields
            .get("name")
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
        else {
            continue;
        };
        let num = |k: &str| {
            fields
                .get(k)
                .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok())
        };
        if let Some(lag) = num("lag").or_else(|| num("pending")) {
            out.insert(name, lag);
        }
    }
    out
}
