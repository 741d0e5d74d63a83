//! The coordinator: the top of the actor graph. It watches the children's restarts and
//! escalates a restart storm (more than `restart_limit` restarts of one child within
//! `restart_period_secs`: log an error, drain, exit non-zero so systemd restarts the process),
//! and runs the shutdown in order: sockets close first
//! (in the store role: the stream consumer stops after its batch in flight), then the journal
//! syncs, then the persister (in the ingest role: the ledger) commits everything.
//!
//! Messages: [`handlers::Attach`], [`crate::actors::children::ChildRestarted`],
//! [`handlers::Shutdown`]. SIGUSR1's report is the service's ([`crate::service`]).

pub mod actor;
pub mod handlers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::{Addr, Recipient};
use tokio::sync::mpsc;

use crate::actors::children::{Intensity, ShutdownSocket};
use crate::actors::consumer::Consumer;
use crate::actors::journal::Journal;
use crate::actors::sink::FlushPersister;
use crate::status::{StatusBoard, StatusHandle};

/// The coordinator's state.
pub struct Coordinator {
    pub(crate) board: Arc<StatusBoard>,
    pub(crate) status: StatusHandle,
    pub(crate) status_path: PathBuf,
    pub(crate) sockets: Vec<Recipient<ShutdownSocket>>,
    /// None in the store role (no sockets, no journal).
    pub(crate) journal: Option<Addr<Journal>>,
    /// The store role's stream consumer.
    pub(crate) consumer: Option<Addr<Consumer>>,
    /// The persister (or, in the ingest role, the ledger): flushed last.
    pub(crate) persister: Recipient<FlushPersister>,
    pub(crate) intensity: Intensity,
    /// Where an escalation is reported (the runner drains and exits non-zero).
    pub(crate) escalate: mpsc::UnboundedSender<String>,
    pub(crate) escalated: bool,
}

impl Coordinator {
    /// A coordinator over the journal and persister (sockets attach later).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        board: Arc<StatusBoard>,
        status_path: PathBuf,
        journal: Option<Addr<Journal>>,
        consumer: Option<Addr<Consumer>>,
        persister: Recipient<FlushPersister>,
        restart_limit: u32,
        restart_period: Duration,
        escalate: mpsc::UnboundedSender<String>,
    ) -> Coordinator {
        Coordinator {
            status: board.handle(crate::status::Actor::Coordinator),
            board,
            status_path,
            sockets: Vec::new(),
            journal,
            consumer,
            persister,
            intensity: Intensity::new(restart_limit, restart_period),
            escalate,
            escalated: false,
        }
    }
}
