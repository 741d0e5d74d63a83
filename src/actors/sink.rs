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
#[rtype(result = "Result<u64, SinkError>")]
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
#[rtype(result = "Result<(), SinkError>")]
pub struct SaveInstruments(pub Vec<NewInstrument>);

/// Why the sink could not keep what it was given. Nothing is lost either way: the rows wait in
/// the journal (or, in the store role, pending in the stream) for the next attempt.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The database refused a batch; `pending` rows wait for the next attempt.
    #[error("the database refused {pending} rows; they wait in the journal")]
    Refused {
        /// Rows not committed.
        pending: usize,
    },
    /// A query failed.
    #[error("the database: {0}")]
    Query(#[from] diesel::result::Error),
    /// A file beside the journal could not be written.
    #[error("cannot write beside the journal: {0}")]
    File(#[from] std::io::Error),
    /// The sink has stopped (its mailbox is closed).
    #[error("the sink has stopped: {0}")]
    Stopped(#[from] actix::MailboxError),
    /// The journal has stopped before reporting how far its files reach.
    #[error("the journal has stopped: {0}")]
    JournalStopped(actix::MailboxError),
}
