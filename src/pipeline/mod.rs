//! A trading day's pipeline: wires the actors of one [`Role`] for one date from what the
//! service already has (the date, its status board, then the resolved plan and its auth actor)
//! and returns an [`App`] handle (drain, end of day, close). Two halves: [`prepare`] (the
//! database side and crash recovery, which never wait on Kite) and [`Prepared::start`]. It
//! starts nothing that exists already: the long-lived parts (board, auth, instruments,
//! scheduler, endpoint) are the service's ([`crate::service`]).
//!
//! Start order ([`Role::All`]): storage (fail fast), persister (own thread), the end-of-day
//! actor (own thread), crash recovery from the journals, publisher (own arbiter, when Redis is
//! on), journal (own arbiter), the instrument snapshot, coordinator, then one supervised socket
//! per planned connection. [`Role::Ingest`] puts the ledger where the persister was (no
//! database) and always publishes; [`Role::Store`] starts the persister, the end-of-day actor,
//! the stream consumer (own arbiter) and the coordinator only. Stop order: see
//! [`crate::actors::coordinator`].

mod database;
mod roles;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::NaiveDate;
use tokio::sync::mpsc;

use crate::actors::auth::Auth;
use crate::actors::consumer::Consumer;
use crate::actors::coordinator::Coordinator;
use crate::actors::coordinator::handlers::Shutdown;
use crate::actors::eod::Eod;
use crate::actors::eod::handlers::RunEod;
use crate::actors::journal::Journal;
use crate::actors::journal::handlers::FlushJournal;
use crate::actors::ledger::Ledger;
use crate::actors::persister::handlers::Recover;
use crate::actors::sink::{Catchup, FlushPersister, RecordGap, SaveInstruments, SinkError};
use crate::eod::{EodError, EodReport};
use crate::plan::SubscriptionPlan;
use crate::recovery::RecoveryError;

use crate::actors::children::Restarts;
use crate::settings::{Role, Settings};
use crate::status::StatusBoard;
use crate::storage::StorageError;

/// Why a day's pipeline could not start; each maps to an exit status.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database cannot be opened or migrated.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Crash recovery from the journal failed (a damaged journal, or the database refused).
    #[error("crash recovery: {0}")]
    Recovery(#[from] RecoveryError),
    /// The actor system failed.
    #[error("{0}")]
    Internal(String),
}

/// Why a day's end of day did not run through.
#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    /// The ingest role keeps no database.
    #[error("the ingest role has no database: run the end of day on the store")]
    NoDatabase,
    /// The drain before it did not commit everything (the rows wait in the journal).
    #[error("the drain before the end of day: {0}")]
    Drain(#[from] SinkError),
    /// The end of day failed (see its variants: run again, or look at a mismatch).
    #[error(transparent)]
    Eod(#[from] EodError),
    /// The journals could not be replayed before it (a close without a running pipeline).
    #[error("replaying the journals: {0}")]
    Replay(#[from] RecoveryError),
    /// The end-of-day actor has stopped.
    #[error("the end of day has stopped: {0}")]
    Stopped(MailboxError),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Stopped on request (SIGINT/SIGTERM, or the caller's trigger) after draining.
    Requested {
        /// Rows committed by the persister in this run.
        rows: u64,
    },
    /// A child restarted too often: drained, and the process should exit non-zero.
    Escalated(String),
}

/// What the service hands a day's pipeline once it is prepared.
pub struct DayInputs {
    /// The day's resolved plan (empty in the store role).
    pub plan: SubscriptionPlan,
    /// The service's one auth actor, which the sockets ask for tokens (none in the store role).
    pub auth: Option<Addr<Auth>>,
}

/// A day's pipeline with its database side started and the journals recovered: what can be
/// done before Kite is asked anything (crash recovery never waits on a login).
pub struct Prepared {
    date: NaiveDate,
    board: Arc<StatusBoard>,
    options: StartOptions,
    persister: Option<Addr<crate::actors::persister::Persister>>,
    /// The highest journal generation of each socket the database holds rows of.
    floors: HashMap<i16, u16>,
    wiring: Wiring,
}

/// A running day.
pub struct App {
    /// The day's plan.
    pub plan: SubscriptionPlan,
    /// Every actor's state.
    pub board: Arc<StatusBoard>,
    /// The trading date.
    pub date: NaiveDate,
    /// Where data goes.
    pub data_dir: PathBuf,
    /// What this process does.
    pub role: Role,
    coordinator: Addr<Coordinator>,
    /// The persister, or the ledger in the ingest role.
    flush: Recipient<FlushPersister>,
    journal: Option<Addr<Journal>>,
    /// None in the ingest role (no database).
    eod: Option<Addr<Eod>>,
    /// The other supervised children, kept for the `test-hooks` `App::crash`.
    #[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
    children: Children,
    escalations: Option<mpsc::UnboundedReceiver<String>>,
    /// The threads of the journal, the publisher and the consumer (stopped by [`App::close`]).
    arbiters: Vec<Arbiter>,
}

/// A day's supervised children besides the journal and the end of day (which [`App`] uses);
/// only the `test-hooks` `App::crash` reads them.
#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
struct Children {
    persister: Option<Addr<crate::actors::persister::Persister>>,
    publisher: Option<Addr<crate::actors::publisher::Publisher>>,
    consumer: Option<Addr<Consumer>>,
    ledger: Option<Addr<Ledger>>,
}

/// Choices made on the command line rather than in settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions {
    /// Crash recovery skips damaged journal records instead of stopping.
    pub skip_corrupt: bool,
    /// What this process does.
    pub role: Role,
    /// Tests: the store role's consumer stops after its first commit without acknowledging
    /// it (a store killed between the two).
    #[cfg(feature = "test-hooks")]
    pub stop_before_ack: bool,
}

/// Where the pipeline's rows go: the persister (roles `all`, `store`) or the ledger (`ingest`).
struct Sink {
    catchup: Recipient<Catchup>,
    gaps: Recipient<RecordGap>,
    instruments: Recipient<SaveInstruments>,
    flush: Recipient<FlushPersister>,
}

impl Sink {
    fn of<A>(actor: &Addr<A>) -> Sink
    where
        A: Actor
            + Handler<Catchup>
            + Handler<RecordGap>
            + Handler<SaveInstruments>
            + Handler<FlushPersister>,
        A::Context: actix::dev::ToEnvelope<A, Catchup>
            + actix::dev::ToEnvelope<A, RecordGap>
            + actix::dev::ToEnvelope<A, SaveInstruments>
            + actix::dev::ToEnvelope<A, FlushPersister>,
    {
        Sink {
            catchup: actor.clone().recipient(),
            gaps: actor.clone().recipient(),
            instruments: actor.clone().recipient(),
            flush: actor.clone().recipient(),
        }
    }
}

/// What every role's wiring shares: the sink, the end-of-day actor, the escalation channel
/// and the threads started so far.
struct Wiring {
    sink: Sink,
    eod: Option<Addr<Eod>>,
    escalate: mpsc::UnboundedSender<String>,
    escalations: mpsc::UnboundedReceiver<String>,
    arbiters: Vec<Arbiter>,
    /// The supervised children's restarts, told the coordinator once it exists.
    restarts: Vec<Restarts>,
    persister: Option<Addr<crate::actors::persister::Persister>>,
    publisher: Option<Addr<crate::actors::publisher::Publisher>>,
    consumer: Option<Addr<Consumer>>,
    ledger: Option<Addr<Ledger>>,
}

impl Wiring {
    fn coordinator(
        &self,
        settings: &Settings,
        board: &Arc<StatusBoard>,
        journal: Option<Addr<Journal>>,
        consumer: Option<Addr<Consumer>>,
    ) -> Addr<Coordinator> {
        let coordinator = Coordinator::new(
            board.clone(),
            settings.paths.data_dir.join("status.json"),
            journal,
            consumer,
            self.sink.flush.clone(),
            settings.sockets.restart_limit,
            Duration::from_secs(settings.sockets.restart_period_secs),
            self.escalate.clone(),
        )
        .start();
        for restarts in &self.restarts {
            restarts.count_with(coordinator.clone().recipient());
        }
        coordinator
    }

    fn app(
        self,
        settings: &Settings,
        role: Role,
        plan: SubscriptionPlan,
        board: Arc<StatusBoard>,
        coordinator: Addr<Coordinator>,
        journal: Option<Addr<Journal>>,
    ) -> App {
        App {
            date: plan.date,
            plan,
            board,
            data_dir: settings.paths.data_dir.clone(),
            role,
            coordinator,
            flush: self.sink.flush,
            journal,
            eod: self.eod,
            children: Children {
                persister: self.persister,
                publisher: self.publisher,
                consumer: self.consumer,
                ledger: self.ledger,
            },
            escalations: Some(self.escalations),
            arbiters: self.arbiters,
        }
    }
}

/// Starts `date`'s database side for `options.role` on `board` (the persister and the
/// end-of-day actor, or the ingest role's ledger) and, in the capture roles, replays what the
/// journals hold beyond the committed positions (crash recovery), before any socket exists.
/// Call inside an actix system.
pub async fn prepare(
    settings: &Settings,
    date: NaiveDate,
    board: Arc<StatusBoard>,
    options: StartOptions,
) -> Result<Prepared, StartError> {
    let (escalate, escalations) = mpsc::unbounded_channel();
    let mut restarts = Vec::new();
    let mut ledger_addr = None;
    let (sink, eod, persister) = match options.role {
        Role::All | Role::Store => {
            let started = database::start(settings, date, &board)?;
            restarts.extend(started.restarts);
            let (persister, eod) = (started.persister, started.eod);
            (Sink::of(&persister), Some(eod), Some(persister))
        }
        Role::Ingest => {
            let ledger = Ledger::new(
                settings.paths.data_dir.clone(),
                date,
                board.handle(crate::status::Actor::Ledger),
            );
            restarts.push(ledger.restarts.clone());
            let ledger = Supervisor::start(move |_| ledger);
            ledger_addr = Some(ledger.clone());
            (Sink::of(&ledger), None, None)
        }
    };
    let mut floors = HashMap::new();
    if let (Some(persister), Role::All) = (&persister, options.role) {
        let recovered = persister
            .send(Recover {
                skip_corrupt: options.skip_corrupt,
            })
            .await
            .map_err(|e| StartError::Internal(e.to_string()))??;
        for file in &recovered.files {
            if file.to > file.from || file.torn_bytes > 0 {
                tracing::info!(socket = file.socket, generation = file.generation, path = %file.path.display(), from = file.from, to = file.to, rows = file.inserted, torn_bytes = file.torn_bytes, corrupt_skipped = file.corrupt_skipped, "recovered from the journal");
            }
        }
        floors = recovered.floors;
    }
    Ok(Prepared {
        date,
        board,
        options,
        persister: persister.clone(),
        floors,
        wiring: Wiring {
            sink,
            eod,
            escalate,
            escalations,
            arbiters: Vec::new(),
            restarts,
            persister,
            publisher: None,
            consumer: None,
            ledger: ledger_addr,
        },
    })
}

impl Prepared {
    /// Starts the rest of the day's pipeline with what the service hands it: the plan's
    /// sockets (asking `auth` for tokens) or, in the store role, the stream consumer.
    pub async fn start(self, settings: &Settings, inputs: DayInputs) -> Result<App, StartError> {
        match (self.options.role, self.persister.clone()) {
            (Role::Store, Some(persister)) => Ok(roles::store(settings, self, persister)),
            (Role::Store, None) => Err(StartError::Internal(
                "the store role has no persister".into(),
            )),
            _ => roles::capture(settings, self, inputs).await,
        }
    }
}

impl App {
    /// Drains: sockets close, the journal syncs, the persister commits everything. The
    /// journals are then marked stopped, so the next start records the hole as a stop.
    pub async fn shutdown(&self) -> Result<u64, SinkError> {
        let drained = self.coordinator.send(Shutdown).await?;
        // Only a drain that went through is a clean stop.
        if self.journal.is_some() && drained.is_ok() {
            let dir = crate::capture::journal::journal_dir(&self.data_dir, self.date);
            if dir.is_dir()
                && let Err(e) = crate::capture::journal::mark_stopped(&dir)
            {
                tracing::warn!(error = %e, "cannot mark the journals stopped; the next start calls the hole a crash");
            }
        }
        drained
    }

    /// The end of day for `date`: commits everything journaled so far, then moves the date to
    /// the master ([`crate::actors::eod`]). Call it after the sockets have stopped: rows that
    /// arrive during the run stay in the daily table for a second run of the date (which
    /// verifies against the counts the first one recorded).
    pub async fn run_eod(&self, date: NaiveDate) -> Result<EodReport, CloseError> {
        let Some(eod) = &self.eod else {
            return Err(CloseError::NoDatabase);
        };
        let files: Vec<_> = match &self.journal {
            Some(journal) => journal
                .send(FlushJournal)
                .await
                .map_err(SinkError::JournalStopped)?
                .keys()
                .copied()
                .collect(),
            None => Vec::new(),
        };
        self.flush
            .send(FlushPersister { files })
            .await
            .map_err(SinkError::from)??;
        Ok(eod
            .send(RunEod { date })
            .await
            .map_err(CloseError::Stopped)??)
    }

    /// The channel of the children's escalations (restart storms), for a caller that runs
    /// the app itself (the day runner forwards them to the service). Once only; `None` after.
    pub fn take_escalations(&mut self) -> Option<mpsc::UnboundedReceiver<String>> {
        self.escalations.take()
    }

    /// Stops the threads this day's app started (after [`App::shutdown`]); the persister's
    /// and the end of day's threads end when the last address to them goes with `self`.
    pub fn close(self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }

    /// Tests (`test-hooks`): stops `actor` (the journal, the persister, the publisher, the end
    /// of day, the store role's consumer or the ingest role's ledger) as a failure it cannot absorb would; its supervisor restarts it. False when
    /// this day has no such actor.
    #[cfg(feature = "test-hooks")]
    pub fn crash(&self, actor: crate::status::Actor) -> bool {
        use crate::actors::children::Crash;
        use crate::status::Actor;
        match actor {
            Actor::Journal => self.journal.as_ref().map(|a| a.do_send(Crash)).is_some(),
            Actor::Persister => self
                .children
                .persister
                .as_ref()
                .map(|a| a.do_send(Crash))
                .is_some(),
            Actor::Publisher => self
                .children
                .publisher
                .as_ref()
                .map(|a| a.do_send(Crash))
                .is_some(),
            Actor::Eod => self.eod.as_ref().map(|a| a.do_send(Crash)).is_some(),
            Actor::Consumer => self
                .children
                .consumer
                .as_ref()
                .map(|a| a.do_send(Crash))
                .is_some(),
            Actor::Ledger => self
                .children
                .ledger
                .as_ref()
                .map(|a| a.do_send(Crash))
                .is_some(),
            _ => false,
        }
    }

    /// Where restarts are counted against the restart intensity (the day's coordinator).
    pub fn restart_counter(&self) -> Recipient<crate::actors::children::ChildRestarted> {
        self.coordinator.clone().recipient()
    }

    /// Where the status report is written.
    pub fn status_path(&self) -> PathBuf {
        self.data_dir.join("status.json")
    }
}
