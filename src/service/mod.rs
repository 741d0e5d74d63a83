//! The composition root: the long-lived process. [`Service::build`] starts the status board,
//! the notifier, the HTTP endpoint, the pid file, the one auth and instruments pair
//! ([`control`]), the day runner ([`day`]) and, following the calendar, the scheduler;
//! [`Service::run_until_stopped`] waits for the stop (or a day's escalation) and drains. Each
//! trading day's pipeline ([`crate::pipeline`]) is opened by the runner with what the service
//! already has: the date, the plan, the auth actor and the board.

pub mod control;
pub mod day;
pub mod ops;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::mpsc;

use crate::actors::children::{ChildRestarted, Supervise};
use crate::actors::scheduler::handlers::StopScheduler;
use crate::actors::scheduler::{Scheduler, Timetable};
use crate::actors::sink::SinkError;
use crate::clock::SharedClock;
use crate::pipeline::Ending;
use crate::settings::{Role, Settings, SettingsError};
use crate::status::StatusBoard;
use control::{Control, DayError};
use day::DayRunner;
use day::handlers::{OpenDay, StopDay};
use ops::Ops;

/// How the service runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceOptions {
    /// What this process does.
    pub role: Role,
    /// Crash recovery skips damaged journal records instead of stopping.
    pub skip_corrupt: bool,
    /// Record today at once until stopped, ignoring the calendar (`run --now`); otherwise the
    /// scheduler follows the NSE calendar.
    pub now: bool,
}

/// Why the service could not start or stop cleanly; each maps to an exit status.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A setting is wrong (exit 78).
    #[error(transparent)]
    Config(#[from] SettingsError),
    /// The data directory cannot be created (exit 69).
    #[error("cannot create {path}: {error}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The database cannot be opened (exit 69).
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// A blocking task failed.
    #[error("{0}")]
    Internal(String),
    /// Today's pipeline could not open (`run --now`).
    #[error(transparent)]
    Day(#[from] DayError),
    /// The drain at the stop failed (exit 69); the rows wait in the journal.
    #[error("could not drain: {0}")]
    Drain(#[from] SinkError),
}

/// The running service.
pub struct Service {
    board: Arc<StatusBoard>,
    status_path: PathBuf,
    ops: Ops,
    runner: Addr<DayRunner>,
    scheduler: Option<Addr<Scheduler>>,
    /// The service's auth and instruments pair (also the runner's), for the `test-hooks`
    /// `Service::crash`.
    #[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
    control: Option<Control>,
    escalations: mpsc::UnboundedReceiver<String>,
}

impl Service {
    /// Starts everything long-lived; with [`ServiceOptions::now`] also today's pipeline. The
    /// service is ready (`READY=1`, `/readyz`) once the database and the data directory open
    /// (and, with `now`, once today's pipeline records). Call inside an actix system.
    pub async fn build(
        settings: &Settings,
        clock: SharedClock,
        options: ServiceOptions,
    ) -> Result<Service, ServiceError> {
        let board = StatusBoard::new();
        let status_path = settings.paths.data_dir.join("status.json");
        // First: SIGUSR1's default action would end the process.
        let (b, p) = (board.clone(), status_path.clone());
        crate::signals::on_sigusr1(move || b.dump(&p));
        let role = options.role.as_str();
        if !options.now {
            let origin = &settings.schedule.holidays_origin;
            tracing::info!(role, calendar = %origin, "following the trading calendar");
        }
        // The endpoint and the pid file first (`/readyz` says "starting" meanwhile).
        let ops = Ops::start(settings, board.clone(), clock.clone())?;
        // With --now the day's own start opens the database (READY=1 waits for it): once.
        let open_db = options.role != Role::Ingest && !options.now;
        check_storage(settings, open_db).await?;
        let control =
            (options.role != Role::Store).then(|| Control::start(settings, clock.clone(), &board));
        let (escalate, escalations) = mpsc::unbounded_channel();
        let runner = DayRunner::new(
            settings.clone(),
            control.clone(),
            board.clone(),
            options.role,
            options.skip_corrupt,
            escalate,
        )
        .with_notifier(ops.notifier.clone().recipient())
        .start();
        let restarts: Recipient<ChildRestarted> = runner.clone().recipient();
        if let Some(control) = &control {
            control.count_restarts_with(&restarts);
        }
        ops.notifier.do_send(Supervise(restarts.clone()));
        let scheduler = if options.now {
            let date = crate::calendar::ist_date(clock.now());
            let opened = match runner.send(OpenDay { date }).await.map_err(DayError::from) {
                Ok(Ok(opened)) => opened,
                Ok(Err(e)) | Err(e) => {
                    // The endpoint and the mails in flight end cleanly before the exit.
                    ops.stop(None).await;
                    return Err(e.into());
                }
            };
            tracing::info!(role, %date, sockets = opened.sockets, instruments = opened.instruments, "recording");
            ops.ready(settings, options.role, "recording today now (--now)");
            None
        } else {
            let schedule = &settings.schedule;
            let scheduler = Scheduler::new(
                Timetable {
                    calendar: schedule.calendar.clone(),
                    times: schedule.times,
                },
                schedule.holidays_file.clone(),
                clock,
                runner.clone().recipient(),
                Duration::from_secs(schedule.recheck_secs),
                board.handle(crate::status::Actor::Scheduler),
            );
            let scheduler = Supervisor::start(move |_| scheduler);
            scheduler.do_send(Supervise(restarts));
            ops.ready(settings, options.role, "following the trading calendar");
            Some(scheduler)
        };
        Ok(Service {
            board,
            status_path,
            ops,
            runner,
            scheduler,
            control,
            escalations,
        })
    }

    /// Every actor's state.
    pub fn board(&self) -> &Arc<StatusBoard> {
        &self.board
    }

    /// Tests (`test-hooks`): stops `actor` (auth, instruments, the scheduler or the notifier) as a failure it
    /// cannot absorb would; its supervisor restarts it. False when the service has no such
    /// actor.
    #[cfg(feature = "test-hooks")]
    pub fn crash(&self, actor: crate::status::Actor) -> bool {
        use crate::actors::children::Crash;
        use crate::status::Actor;
        match actor {
            Actor::Auth => self
                .control
                .as_ref()
                .map(|c| c.auth.do_send(Crash))
                .is_some(),
            Actor::Instruments => self
                .control
                .as_ref()
                .map(|c| c.instruments.do_send(Crash))
                .is_some(),
            Actor::Scheduler => self.scheduler.as_ref().map(|s| s.do_send(Crash)).is_some(),
            Actor::Notifier => {
                self.ops.notifier.do_send(Crash);
                true
            }
            _ => false,
        }
    }

    /// Where the HTTP endpoint listens, when it does.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.ops.endpoint.as_ref().map(|e| e.addr)
    }

    /// Runs until `stop` resolves or a day escalates (a restart storm), then stops the
    /// scheduler, drains the running day, writes the status report and stops the endpoint.
    pub async fn run_until_stopped(
        mut self,
        stop: impl Future<Output = ()>,
    ) -> Result<Ending, ServiceError> {
        let escalated = tokio::select! {
            () = stop => None,
            why = self.escalations.recv() => why,
        };
        crate::systemd::stopping();
        if let Some(scheduler) = &self.scheduler {
            let _ = scheduler.send(StopScheduler).await;
        }
        let drained = self
            .runner
            .send(StopDay)
            .await
            .map_err(SinkError::from)
            .and_then(|r| r);
        self.board.dump(&self.status_path);
        self.ops.stop(escalated.as_deref()).await;
        match (escalated, drained) {
            (Some(why), drained) => {
                if let Err(e) = drained {
                    tracing::error!(error = %e, "draining after the escalation failed");
                }
                Ok(Ending::Escalated(why))
            }
            (None, Ok(rows)) => Ok(Ending::Requested { rows }),
            (None, Err(e)) => Err(ServiceError::Drain(e)),
        }
    }
}

/// Creates the data directory and, with `open_db`, opens the database (migrations included)
/// off the event loop: what `READY=1` promises.
async fn check_storage(settings: &Settings, open_db: bool) -> Result<(), ServiceError> {
    std::fs::create_dir_all(&settings.paths.data_dir).map_err(|error| ServiceError::DataDir {
        path: settings.paths.data_dir.clone(),
        error,
    })?;
    if !open_db {
        return Ok(());
    }
    let url = settings.storage.parsed_url()?;
    tokio::task::spawn_blocking(move || crate::storage::Store::open(&url).map(drop))
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
    Ok(())
}
