//! The sink: what the pipeline tells whatever keeps its rows, the persister (roles `all`,
//! `store`) or the ledger (role `ingest`). The journal, the sockets and the coordinator hold
//! [`actix::Recipient`]s of these messages, never the concrete actor.

use std::collections::HashMap;

use actix::prelude::*;

use crate::capture::JournalKey;
use crate::storage::models::{NewGap, NewInstrument};

/// The journal grew: each file this run wrote now reaches this offset.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Catchup {
    /// Journal file → end offset.
    pub ends: HashMap<JournalKey, u64>,
}

/// Reads every journal to its end and commits everything, whatever the batch settings say.
/// Returns the rows committed in total, or the error that stopped it.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, String>")]
pub struct FlushPersister {
    /// The journal files to read (the journal's last report).
    pub files: Vec<JournalKey>,
}

/// An interval in which a socket was not delivering.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RecordGap(pub NewGap);

/// The day's instrument snapshot.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), String>")]
pub struct SaveInstruments(pub Vec<NewInstrument>);
