//! `tickvault run [--now] [--role all|ingest|store]`.
//!
//! Without `--now`, the service follows the NSE calendar (the scheduler): each trading day it
//! logs in, resolves the instruments, connects, closes and runs the end of day, and sleeps
//! through holidays and weekends, until SIGINT or SIGTERM; then it drains and exits 0. With
//! `--now` it records today at once until stopped (ad-hoc runs, the demo).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use chrono::Utc;

use super::{Failure, require_apps, start_failure};
use crate::actors::notifier::handlers::DrainMail;
use crate::actors::notifier::{Alert, AlertKind, Notifier};
use crate::calendar::ist_date;
use crate::commands::sim::wait_for_stop;
use crate::http::Endpoint;
use crate::pidfile::PidFile;
use crate::settings::Settings;
use crate::startup::{self, Ending, Role};
use crate::status::StatusBoard;

/// Arguments of `tickvault run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Connect at once and record today until stopped, ignoring the calendar. Without it, the
    /// service follows the NSE calendar and the `[schedule]` times (docs/operations.md).
    #[arg(long)]
    pub now: bool,
    /// Crash recovery skips damaged journal records (each is logged) instead of stopping with
    /// an error naming the file and offset.
    #[arg(long)]
    pub skip_corrupt: bool,
    /// What this process does: `all` (sockets, journal, database, and Redis when
    /// `redis.enabled`), `ingest` (sockets, journal and the Redis stream; no database) or
    /// `store` (the Redis stream into the database through the consumer group `redis.group`;
    /// no sockets). See docs/redis.md.
    #[arg(long, value_enum, default_value_t = Role::All)]
    pub role: Role,
}

/// Runs the command.
pub fn run(args: &RunArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    if args.role != Role::Store {
        require_apps(settings)?;
    }
    // Before anything else (the pid file, the journals): one service per directory.
    let _lock = super::lock_dirs(settings, &format!("run --role {}", args.role.as_str()))?;
    if !args.now {
        return run_scheduled(args, settings);
    }
    let date = ist_date(Utc::now());
    let settings = settings.clone();
    actix_rt::System::new().block_on(async move {
        let options = startup::StartOptions {
            skip_corrupt: args.skip_corrupt,
            role: args.role,
            ..Default::default()
        };
        let app = startup::start_with(&settings, date, crate::clock::system(), options)
            .await
            .map_err(start_failure)?;
        let ops = Ops::start(&settings, app.board.clone())?;
        tracing::info!(role = args.role.as_str(), date = %date, sockets = app.plan.sockets.len(), instruments = app.plan.instruments.len(), "recording");
        ops.ready(&settings, args.role, "recording today now (--now)");
        let stop = async {
            if let Err(e) = wait_for_stop().await {
                tracing::error!(error = %e, "cannot listen for signals; stopping");
            }
            crate::systemd::stopping();
        };
        let ending = app.run_until(stop).await;
        let escalated = match &ending {
            Ok(Ending::Escalated(why)) => Some(why.as_str()),
            _ => None,
        };
        ops.stop(escalated).await;
        match ending {
            Ok(Ending::Requested { rows }) => {
                tracing::info!(rows, "stopped cleanly");
                Ok(ExitCode::SUCCESS)
            }
            Ok(Ending::Escalated(why)) => Err(Failure::Software(anyhow!("escalated: {why}"))),
            Err(e) => Err(Failure::Unavailable(anyhow!("could not drain: {e}"))),
        }
    })
}

/// The calendar-driven service: the scheduler and the day runner on one status board.
fn run_scheduled(args: &RunArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    use actix::Actor;

    use crate::actors::day::DayRunner;
    use crate::actors::day::handlers::StopDay;
    use crate::actors::scheduler::handlers::StopScheduler;
    use crate::actors::scheduler::{Scheduler, Timetable};

    let settings = settings.clone();
    let (role, skip_corrupt) = (args.role, args.skip_corrupt);
    actix_rt::System::new().block_on(async move {
        let board = StatusBoard::new();
        let clock = crate::clock::system();
        let status_path = settings.paths.data_dir.join("status.json");
        // First: SIGUSR1's default action would end the process.
        let (b, p) = (board.clone(), status_path.clone());
        crate::startup::on_sigusr1(move || b.dump(&p));
        let schedule = &settings.schedule;
        tracing::info!(role = role.as_str(), calendar = %schedule.holidays_origin, "following the trading calendar");
        // The endpoint and the pid file first (`/readyz` says "starting" meanwhile); ready once
        // the database and the data directory open (each day's pipeline opens its own
        // connections at the connect).
        let ops = Ops::start(&settings, board.clone())?;
        check_storage(&settings, role).await?;
        let (escalate, mut escalations) = tokio::sync::mpsc::unbounded_channel();
        let runner = DayRunner::new(
            settings.clone(),
            clock.clone(),
            board.clone(),
            role,
            skip_corrupt,
            escalate,
        )
        .with_notifier(ops.notifier.clone().recipient())
        .start();
        let scheduler = Scheduler::new(
            Timetable {
                calendar: schedule.calendar.clone(),
                times: schedule.times,
            },
            schedule.holidays_file.clone(),
            clock,
            runner.clone().recipient(),
            Duration::from_secs(schedule.recheck_secs),
            board.handle("scheduler"),
        )
        .start();
        ops.ready(&settings, role, "following the trading calendar");
        let escalated = tokio::select! {
            stopped = wait_for_stop() => {
                if let Err(e) = stopped {
                    tracing::error!(error = %e, "cannot listen for signals; stopping");
                }
                None
            }
            why = escalations.recv() => why,
        };
        crate::systemd::stopping();
        let _ = scheduler.send(StopScheduler).await;
        let drained = runner.send(StopDay).await.map_err(|e| e.to_string()).and_then(|r| r);
        board.dump(&status_path);
        ops.stop(escalated.as_deref()).await;
        match (escalated, drained) {
            (Some(why), _) => Err(Failure::Software(anyhow!("escalated: {why}"))),
            (None, Ok(rows)) => {
                tracing::info!(rows, "stopped cleanly");
                Ok(ExitCode::SUCCESS)
            }
            (None, Err(e)) => Err(Failure::Unavailable(anyhow!("could not drain: {e}"))),
        }
    })
}

/// Opens the database (migrations included) and creates the data directory, off the event
/// loop: what `READY=1` promises.
async fn check_storage(settings: &Settings, role: Role) -> Result<(), Failure> {
    std::fs::create_dir_all(&settings.paths.data_dir).map_err(|e| {
        Failure::Unavailable(anyhow!(
            "cannot create {}: {e}",
            settings.paths.data_dir.display()
        ))
    })?;
    if role == Role::Ingest {
        return Ok(());
    }
    let url = settings.storage.parsed_url()?;
    tokio::task::spawn_blocking(move || crate::storage::Store::open(&url).map(drop))
        .await
        .map_err(|e| Failure::Other(anyhow!("{e}")))?
        .map_err(|e| Failure::Unavailable(anyhow!("{e}")))
}

/// What every `run` process has beside the pipeline: the notifier, the HTTP endpoint and the
/// pid file.
struct Ops {
    notifier: actix::Addr<Notifier>,
    endpoint: Option<Endpoint>,
    ready: Arc<AtomicBool>,
    _pid: Option<PidFile>,
    board: Arc<StatusBoard>,
}

impl Ops {
    /// Starts the notifier and the endpoint and writes the pid file. A bad `[notify]` exits
    /// 78.
    fn start(settings: &Settings, board: Arc<StatusBoard>) -> Result<Ops, Failure> {
        use actix::Actor;
        let clock = crate::clock::system();
        let notifier = Notifier::new(settings, clock.clone(), board.clone())?.start();
        let ready = Arc::new(AtomicBool::new(false));
        // Recording matters more than the endpoint: one that cannot listen (the port taken) is
        // logged and shown in the status, and the service goes on.
        let endpoint = if settings.http.enabled {
            let listen = settings.http.listen;
            let status = board.handle("http");
            match Endpoint::start(listen, board.clone(), ready.clone(), clock) {
                Ok(endpoint) => {
                    status.set("listen", serde_json::json!(endpoint.addr.to_string()));
                    status.set_state(crate::status::State::Running);
                    Some(endpoint)
                }
                Err(e) => {
                    tracing::error!(%listen, error = %e, "http.listen: cannot listen; going on without the HTTP endpoint");
                    status.set("listen", serde_json::json!(listen.to_string()));
                    status.fail(
                        crate::status::State::Stopped,
                        &format!("cannot listen on {listen}: {e}"),
                    );
                    None
                }
            }
        } else {
            None
        };
        let state_dir = &settings.paths.state_dir;
        let pid = std::fs::create_dir_all(state_dir)
            .and_then(|()| PidFile::create(state_dir))
            .map_err(|e| {
                tracing::warn!(dir = %state_dir.display(), error = %e, "cannot write the pid file; `tickvault status` will not refresh the report");
            })
            .ok();
        Ok(Ops {
            notifier,
            endpoint,
            ready,
            _pid: pid,
            board,
        })
    }

    /// Storage is open: `READY=1`, `/readyz` may say yes, the status goes to systemd, and the
    /// "service started" alert.
    fn ready(&self, settings: &Settings, role: Role, mode: &str) {
        self.ready.store(true, Ordering::Release);
        crate::systemd::ready();
        crate::systemd::spawn(self.board.clone());
        let http = self
            .endpoint
            .as_ref()
            .map_or_else(|| "off".to_string(), |e| e.addr.to_string());
        tracing::info!(%http, pid = std::process::id(), "ready");
        self.notifier.do_send(Alert {
            kind: AlertKind::Started,
            about: role.as_str().to_string(),
            subject: format!("started ({} role)", role.as_str()),
            body: format!(
                "tickvault {} started on {} in the {} role, {mode}.\n\nData: {}\nHTTP endpoint: {http}\n\n\
                 A start you did not expect is a restart: see `journalctl -u tickvault` for the \
                 reason, and `systemctl status tickvault`.\n",
                env!("CARGO_PKG_VERSION"),
                crate::settings::host_name(),
                role.as_str(),
                settings.paths.data_dir.display(),
            ),
        });
    }

    /// The service is stopping: an escalation's alert, the mails in flight (up to 10 s), the
    /// endpoint; the pid file goes when this is dropped.
    async fn stop(self, escalated: Option<&str>) {
        if let Some(why) = escalated {
            self.notifier.do_send(Alert {
                kind: AlertKind::Escalation,
                about: "pipeline".into(),
                subject: "escalated: the service exits for systemd to restart it".into(),
                body: format!(
                    "The pipeline gave up: {why}\n\nWhat was received is in the journal and \
                     was committed before the exit. systemd restarts the service (exit 70); the \
                     socket gaps are in the day's gap ledger.\n"
                ),
            });
        }
        let drain = self.notifier.send(DrainMail);
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("alert mails still in flight at exit");
        }
        if let Some(endpoint) = self.endpoint {
            endpoint.stop().await;
        }
    }
}
