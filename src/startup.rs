//! The composition root: wires the whole actor graph from [`Settings`] and returns an [`App`]
//! handle exposing what callers need (the plan, the status board, a stop trigger).
//!
//! Start order ([`Role::All`]): storage (fail fast), persister (own thread), the end-of-day
//! actor (own thread), crash recovery from the journals, publisher (own arbiter, when Redis is
//! on), journal (own arbiter), auth, instruments (resolve the plan; save the snapshot),
//! coordinator, then one supervised socket per planned connection. [`Role::Ingest`] puts the
//! ledger where the persister was (no database) and always publishes; [`Role::Store`] starts
//! the persister, the end-of-day actor, the stream consumer (own arbiter) and the coordinator
//! only. Stop order: see [`crate::actors::coordinator`].

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use chrono::NaiveDate;
use tokio::sync::mpsc;

use crate::actors::auth::Auth;
use crate::actors::consumer::Consumer;
use crate::actors::coordinator::Coordinator;
use crate::actors::coordinator::handlers::{Attach, DumpStatus, Shutdown};
use crate::actors::eod::handlers::RunEod;
use crate::actors::eod::{Eod, EodReport};
use crate::actors::instruments::SubscriptionPlan;
use crate::actors::instruments::actor::Instruments;
use crate::actors::instruments::handlers::{Resolve, ResolveError};
use crate::actors::journal::Journal;
use crate::actors::journal::handlers::{FlushJournal, PlanSizes};
use crate::actors::ledger::Ledger;
use crate::actors::persister::Persister;
use crate::actors::persister::handlers::{
    Catchup, FlushPersister, RecordGap, Recover, SaveInstruments,
};
use crate::actors::publisher::Publisher;
use crate::actors::publisher::handlers::{PublishInstruments, SetSymbols};
use crate::actors::socket::Socket;
use crate::clock::SharedClock;
use crate::recovery::RecoveryError;
use crate::settings::Settings;
use crate::status::StatusBoard;
use crate::storage::models::NewInstrument;
use crate::storage::{StorageError, Store};

/// Why the service could not start; each maps to an exit status.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database cannot be opened or migrated.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The universe does not resolve or does not fit (a configuration problem).
    #[error("cannot build the subscription plan: {0}")]
    Plan(ResolveError),
    /// Crash recovery from the journal failed (a damaged journal, or the database refused).
    #[error("crash recovery: {0}")]
    Recovery(#[from] RecoveryError),
    /// The actor system failed.
    #[error("{0}")]
    Internal(String),
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

/// A running service.
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
    escalations: Option<mpsc::UnboundedReceiver<String>>,
    /// The threads of the journal, the publisher and the consumer (stopped by [`App::close`]).
    arbiters: Vec<Arbiter>,
}

/// What a process does (`tickvault run --role`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Sockets → journal → database (and Redis when `redis.enabled`).
    #[default]
    All,
    /// Sockets → journal → Redis stream; no database (the journal is this host's record).
    Ingest,
    /// Redis stream (consumer group) → database; no sockets.
    Store,
}

impl Role {
    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Ingest => "ingest",
            Role::Store => "store",
        }
    }
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
    pub stop_before_ack: bool,
}

/// Starts everything with default [`StartOptions`]; call inside an actix system.
pub async fn start(
    settings: &Settings,
    date: NaiveDate,
    clock: SharedClock,
) -> Result<App, StartError> {
    start_with(settings, date, clock, StartOptions::default()).await
}

/// Where the pipeline's rows go: the persister (roles `all`, `store`) or the ledger (`ingest`).
struct Sink {
    catchup: Recipient<Catchup>,
    gaps: Recipient<RecordGap>,
    instruments: Recipient<SaveInstruments>,
    flush: Recipient<FlushPersister>,
}

/// The database side: the persister on its own thread and the end-of-day actor on another.
fn start_database(
    settings: &Settings,
    date: NaiveDate,
    board: &Arc<StatusBoard>,
) -> Result<(Addr<Persister>, Addr<Eod>), StartError> {
    let data_dir = settings.paths.data_dir.clone();
    let url = settings
        .storage
        .parsed_url()
        .map_err(|e| StartError::Internal(e.to_string()))?;
    let store = Store::open(&url)?;
    let persister_status = board.handle("persister");
    let cell = Arc::new(Mutex::new(Some(store)));
    let (batch_rows, batch_every) = (
        settings.storage.batch_rows,
        Duration::from_millis(settings.storage.batch_ms),
    );
    let dir = data_dir.clone();
    let persister = SyncArbiter::start(1, move || {
        let store = cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        // One thread: the factory runs once. A restart after a panic has no store left; panics
        // abort the process in release builds.
        let store = store.unwrap_or_else(|| panic!("the persister's store was already taken"));
        Persister::new(
            store,
            dir.clone(),
            date,
            batch_rows,
            batch_every,
            persister_status.clone(),
        )
    });

    let (eod_settings, retention) = (settings.eod, settings.journal.retention_days);
    let status = board.handle("eod");
    let eod = SyncArbiter::start(1, move || {
        Eod::new(
            url.clone(),
            data_dir.clone(),
            eod_settings,
            retention,
            status.clone(),
        )
    });
    Ok((persister, eod))
}

/// Starts everything the role needs; call inside an actix system. Before any socket connects,
/// the persister replays what the journals hold beyond its committed positions (crash
/// recovery).
pub async fn start_with(
    settings: &Settings,
    date: NaiveDate,
    clock: SharedClock,
    options: StartOptions,
) -> Result<App, StartError> {
    start_inner(settings, date, clock, options, StatusBoard::new(), true).await
}

/// Starts one trading day's pipeline on the service's status board (the calendar-driven
/// service, which owns SIGUSR1 and keeps the board across days). Stop it with
/// [`App::shutdown`] then [`App::close`].
pub async fn start_on_board(
    settings: &Settings,
    date: NaiveDate,
    clock: SharedClock,
    options: StartOptions,
    board: Arc<StatusBoard>,
) -> Result<App, StartError> {
    start_inner(settings, date, clock, options, board, false).await
}

async fn start_inner(
    settings: &Settings,
    date: NaiveDate,
    clock: SharedClock,
    options: StartOptions,
    board: Arc<StatusBoard>,
    sigusr1: bool,
) -> Result<App, StartError> {
    let mut arbiters = Vec::new();
    let data_dir = settings.paths.data_dir.clone();
    let role = options.role;
    let (escalate, escalations) = mpsc::unbounded_channel();
    let status_path = data_dir.join("status.json");
    let (restart_limit, restart_period) = (
        settings.sockets.restart_limit,
        Duration::from_secs(settings.sockets.restart_period_secs),
    );

    let (sink, eod, persister) = match role {
        Role::All | Role::Store => {
            let (persister, eod) = start_database(settings, date, &board)?;
            let sink = Sink {
                catchup: persister.clone().recipient(),
                gaps: persister.clone().recipient(),
                instruments: persister.clone().recipient(),
                flush: persister.clone().recipient(),
            };
            (sink, Some(eod), Some(persister))
        }
        Role::Ingest => {
            let ledger = Ledger::new(data_dir.clone(), date, board.handle("ledger")).start();
            let sink = Sink {
                catchup: ledger.clone().recipient(),
                gaps: ledger.clone().recipient(),
                instruments: ledger.clone().recipient(),
                flush: ledger.recipient(),
            };
            (sink, None, None)
        }
    };

    if role == Role::Store {
        let Some(persister) = persister else {
            return Err(StartError::Internal(
                "the store role has no persister".into(),
            ));
        };
        let (redis, status) = (settings.redis.clone(), board.handle("consumer"));
        let snapshots = persister.clone().recipient();
        let rows = persister.recipient();
        let stop_before_ack = options.stop_before_ack;
        let arbiter = Arbiter::new();
        let consumer = Consumer::start_in_arbiter(&arbiter.handle(), move |_| {
            let c = Consumer::new(redis, rows, snapshots, status);
            if stop_before_ack {
                c.stopping_before_the_first_ack()
            } else {
                c
            }
        });
        let coordinator = Coordinator::new(
            board.clone(),
            status_path,
            None,
            Some(consumer),
            sink.flush.clone(),
            restart_limit,
            restart_period,
            escalate,
        )
        .start();
        arbiters.push(arbiter);
        if sigusr1 {
            listen_for_sigusr1(coordinator.clone());
        }
        return Ok(App {
            role,
            plan: SubscriptionPlan {
                date,
                instruments: Vec::new(),
                sockets: Vec::new(),
                unknown: Vec::new(),
            },
            board,
            date,
            data_dir,
            coordinator,
            flush: sink.flush,
            journal: None,
            eod,
            escalations: Some(escalations),
            arbiters,
        });
    }

    let mut floors = HashMap::new();
    if let Some(persister) = &persister {
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

    // The live view, on its own thread: JSON and Redis I/O never share the sockets' loop. The
    // ingest role publishes whatever `redis.enabled` says: the stream is its only output.
    let publisher = (settings.redis.enabled || role == Role::Ingest).then(|| {
        let (redis, status) = (settings.redis.clone(), board.handle("publisher"));
        let arbiter = Arbiter::new();
        let publisher = Publisher::start_in_arbiter(&arbiter.handle(), move |_| {
            Publisher::new(redis, date, status)
        });
        arbiters.push(arbiter);
        publisher
    });

    let journal_status = board.handle("journal");
    let journal_settings = settings.journal.clone();
    let (jdir, catchup, journal_gaps) = (data_dir.clone(), sink.catchup.clone(), sink.gaps.clone());
    let to_publisher = publisher.clone().map(Addr::recipient);
    let journal_arbiter = Arbiter::new();
    let journal = Journal::start_in_arbiter(&journal_arbiter.handle(), move |_| {
        Journal::new(
            jdir,
            date,
            &journal_settings,
            floors,
            catchup,
            to_publisher,
            journal_gaps,
            journal_status,
        )
    });

    let auth = Auth::from_settings(settings, clock, board.handle("auth")).start();

    let instruments =
        Instruments::from_settings(settings, auth.clone(), board.handle("instruments")).start();
    let plan = instruments
        .send(Resolve { date })
        .await
        .map_err(|e| StartError::Internal(e.to_string()))?
        .map_err(StartError::Plan)?;
    tracing::info!(
        role = role.as_str(),
        instruments = plan.instruments.len(),
        sockets = plan.sockets.len(),
        unknown = plan.unknown.len(),
        "subscription plan ready"
    );
    if let Some(publisher) = &publisher {
        publisher.do_send(SetSymbols(
            plan.instruments
                .iter()
                .map(|p| (p.row.instrument_token, p.row.tradingsymbol.clone()))
                .collect(),
        ));
    }
    let rows: Vec<NewInstrument> = plan
        .instruments
        .iter()
        .map(|p| NewInstrument {
            trade_date: date,
            instrument_token: i64::from(p.row.instrument_token),
            tradingsymbol: p.row.tradingsymbol.clone(),
            name: p.row.name.clone(),
            expiry: p.row.expiry,
            strike: p.row.strike,
            instrument_type: p.row.instrument_type.clone(),
            segment: p.row.segment.clone(),
            exchange: p.row.exchange.clone(),
            lot_size: p.row.lot_size,
            tick_size: p.row.tick_size,
            socket: plan.socket_of(p.row.instrument_token).map(|s| s as i16),
            mode: Some(p.mode.as_str().to_string()),
        })
        .collect();
    // The stores learn the symbols through Redis (their databases have no other source).
    if let Some(publisher) = &publisher {
        publisher.do_send(PublishInstruments(rows.clone()));
    }
    if let Err(e) = sink
        .instruments
        .send(SaveInstruments(rows))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
    {
        tracing::error!(error = %e, "cannot save the instrument snapshot");
    }

    let coordinator = Coordinator::new(
        board.clone(),
        status_path,
        Some(journal.clone()),
        None,
        sink.flush.clone(),
        restart_limit,
        restart_period,
        escalate,
    )
    .start();

    journal.do_send(PlanSizes(
        plan.sockets
            .iter()
            .map(|s| (s.number as i16, s.tokens.len() as i32))
            .collect(),
    ));
    // Every socket's hole since an earlier run of the day is a gap: from that run's last frame
    // to this run's first, a stop when it ended cleanly, else a crash.
    let journal_dir = crate::capture::journal::journal_dir(&data_dir, date);
    let cause = if crate::capture::journal::take_stopped_mark(&journal_dir) {
        "stopped"
    } else {
        "crashed"
    };
    // A last frame outside the day (a damaged file's stray record) is no start for a gap.
    let day_start_us = date
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(crate::calendar::IST).single())
        .map_or(0, |t| t.timestamp_micros()) as u64;
    let now_us = chrono::Utc::now().timestamp_micros().max(0) as u64;
    let mut sockets = Vec::with_capacity(plan.sockets.len());
    for socket_plan in &plan.sockets {
        let resume = crate::capture::journal::previous_frame(
            &journal_dir,
            socket_plan.number as i16,
            day_start_us..=now_us,
        );
        let socket = Socket::new(
            socket_plan.clone(),
            settings.sockets.clone(),
            settings.kite.ws_root.clone(),
            date,
            auth.clone(),
            journal.clone().recipient(),
            sink.gaps.clone(),
            coordinator.clone().recipient(),
            board.handle(&socket_plan.name()),
        )
        .resuming(resume.map(|at| (at as i64, cause)));
        sockets.push(Supervisor::start(move |_| socket));
    }
    coordinator.do_send(Attach { sockets });
    arbiters.push(journal_arbiter);
    if sigusr1 {
        listen_for_sigusr1(coordinator.clone());
    }
    Ok(App {
        role,
        plan,
        board,
        date,
        data_dir,
        coordinator,
        flush: sink.flush,
        journal: Some(journal),
        eod,
        escalations: Some(escalations),
        arbiters,
    })
}

/// SIGUSR1 → the status report (`coordinator`'s board, log and `status.json`).
fn listen_for_sigusr1(coordinator: Addr<Coordinator>) {
    on_sigusr1(move || coordinator.do_send(DumpStatus));
}

/// Runs `action` on every SIGUSR1 (on the current actix system). Install it early: SIGUSR1's
/// default action ends the process.
pub fn on_sigusr1(action: impl Fn() + 'static) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::user_defined1()) {
        Ok(mut usr1) => {
            actix_rt::spawn(async move {
                while usr1.recv().await.is_some() {
                    action();
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot listen for SIGUSR1; status dumps are off"),
    }
}

impl App {
    /// Runs until `stop` resolves or a child escalates, then drains in order.
    pub async fn run_until(mut self, stop: impl Future<Output = ()>) -> Result<Ending, String> {
        let mut escalations = self.escalations.take();
        let escalation = async {
            match escalations.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let escalated = tokio::select! {
            _ = stop => None,
            why = escalation => why,
        };
        let drained = self.shutdown().await;
        match escalated {
            Some(why) => {
                if let Err(e) = drained {
                    tracing::error!(error = %e, "draining after the escalation failed");
                }
                Ok(Ending::Escalated(why))
            }
            None => drained.map(|rows| Ending::Requested { rows }),
        }
    }

    /// Drains: sockets close, the journal syncs, the persister commits everything. The
    /// journals are then marked stopped, so the next start records the hole as a stop.
    pub async fn shutdown(&self) -> Result<u64, String> {
        let drained = self
            .coordinator
            .send(Shutdown)
            .await
            .map_err(|e| e.to_string())?;
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
    pub async fn run_eod(&self, date: NaiveDate) -> Result<EodReport, String> {
        let Some(eod) = &self.eod else {
            return Err("the ingest role has no database: run the end of day on the store".into());
        };
        let files: Vec<_> = match &self.journal {
            Some(journal) => journal
                .send(FlushJournal)
                .await
                .map_err(|e| e.to_string())?
                .keys()
                .copied()
                .collect(),
            None => Vec::new(),
        };
        self.flush
            .send(FlushPersister { files })
            .await
            .map_err(|e| e.to_string())??;
        eod.send(RunEod { date }).await.map_err(|e| e.to_string())?
    }

    /// The channel of the children's escalations (restart storms), for a caller that runs
    /// the app itself rather than through [`App::run_until`]. Once only; `None` after.
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

    /// Writes the status report now (what SIGUSR1 does).
    pub async fn dump_status(&self) {
        let _ = self.coordinator.send(DumpStatus).await;
    }

    /// Where the status report is written.
    pub fn status_path(&self) -> PathBuf {
        self.data_dir.join("status.json")
    }
}
