//! Messages of the journal actor.

use std::collections::HashMap;

use actix::prelude::*;

use actix_web::web::Bytes;

use super::Journal;
use crate::actors::publisher::handlers::Publish;
use crate::capture::journal::MAX_OFFSET;
use crate::capture::{JournalKey, RecordKind};

/// A message as received on a socket, to append unparsed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Append {
    /// Socket number.
    pub socket: i16,
    /// Receive time, µs since the epoch (UTC).
    pub recv_time_us: u64,
    /// Binary or text.
    pub kind: RecordKind,
    /// The bytes exactly as received.
    pub payload: Bytes,
}

/// Instruments per socket of the day's plan (the journal's gaps name them).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PlanSizes(pub HashMap<i16, i32>);

impl Handler<PlanSizes> for Journal {
    type Result = ();

    fn handle(&mut self, msg: PlanSizes, _ctx: &mut Self::Context) {
        self.sizes = msg.0;
    }
}

/// Syncs every journal file and returns where each this run wrote ends (shutdown, tests).
#[derive(Debug, Message)]
#[rtype(result = "HashMap<JournalKey, u64>")]
pub struct FlushJournal;

impl Handler<Append> for Journal {
    type Result = ();

    fn handle(&mut self, msg: Append, _ctx: &mut Self::Context) {
        let at_us = msg.recv_time_us as i64;
        // While writes fail, a new file is tried once a second; frames until then are lost.
        if self
            .failing
            .get(&msg.socket)
            .is_some_and(|f| std::time::Instant::now() < f.retry_at)
        {
            self.lost(msg.socket, at_us, None);
            return;
        }
        // Handed to the OS at once (one write per frame): a killed or aborted process loses
        // nothing the journal received; only a power cut can, back to the last fsync.
        let appended = self.writer(msg.socket).and_then(|(generation, w)| {
            let offset = w.append(msg.recv_time_us, msg.kind, &msg.payload)?;
            w.flush()?;
            Ok((generation, offset, w.position()))
        });
        match appended {
            Ok((generation, offset, end)) => {
                self.recovered(msg.socket, at_us);
                self.last_written_us.insert(msg.socket, at_us);
                self.records += 1;
                self.bytes += msg.payload.len() as u64 + 17;
                // The next record could pass the offsets a row key holds: a new generation.
                if end + u64::from(crate::capture::MAX_PAYLOAD) + 64 >= MAX_OFFSET {
                    self.close_generation(msg.socket);
                }
                if let (Some(publisher), RecordKind::Binary) = (&self.publisher, msg.kind) {
                    let publish = Publish {
                        socket: msg.socket,
                        generation,
                        offset,
                        recv_time_us: msg.recv_time_us,
                        payload: msg.payload,
                    };
                    // Never wait on the live view: a full mailbox costs the view a frame.
                    if publisher.try_send(publish).is_err() {
                        self.publish_dropped += 1;
                        if self.publish_dropped.is_power_of_two() {
                            tracing::warn!(
                                dropped = self.publish_dropped,
                                "the publisher is behind; frames left out of the live view"
                            );
                        }
                    }
                }
            }
            Err(e) => {
                // Data at risk: the frame is not in the record of truth (the interval is a
                // gap). The file may end in half a record: the next goes to a new generation.
                self.close_generation(msg.socket);
                self.lost(msg.socket, at_us, Some(e.to_string()));
            }
        }
    }
}

impl Handler<FlushJournal> for Journal {
    type Result = MessageResult<FlushJournal>;

    fn handle(&mut self, _msg: FlushJournal, _ctx: &mut Self::Context) -> Self::Result {
        self.close_failing();
        for (socket, (generation, w)) in &mut self.writers {
            if let Err(e) = w.sync() {
                tracing::error!(socket, error = %e, "cannot sync the journal");
            }
            self.ends
                .insert(JournalKey::new(*socket, *generation), w.position());
        }
        MessageResult(self.ends.clone())
    }
}

crate::actors::children::supervised!(Journal);
