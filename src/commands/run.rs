//! `tickvault run [--now] [--role all|ingest|store]`.
//!
//! Without `--now`, the service follows the NSE calendar (the scheduler): each trading day it
//! logs in, resolves the instruments, connects, closes and runs the end of day, and sleeps
//! through holidays and weekends, until SIGINT or SIGTERM; then it drains and exits 0. With
//! `--now` it records today at once until stopped (ad-hoc runs, the demo).

use std::process::ExitCode;

use anyhow::anyhow;
use chrono::Utc;

use super::{Failure, require_apps, start_failure};
use crate::calendar::ist_date;
use crate::commands::sim::wait_for_stop;
use crate::settings::Settings;
use crate::startup::{self, Ending, Role};

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
        crate::systemd::ready();
        crate::systemd::spawn(app.board.clone());
        tracing::info!(role = args.role.as_str(), date = %date, sockets = app.plan.sockets.len(), instruments = app.plan.instruments.len(), "recording");
        let stop = async {
            if let Err(e) = wait_for_stop().await {
                tracing::error!(error = %e, "cannot listen for signals; stopping");
            }
            crate::systemd::stopping();
        };
        match app.run_until(stop).await {
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
    use std::time::Duration;

    use actix::Actor;

    use crate::actors::day::DayRunner;
    use crate::actors::day::handlers::StopDay;
    use crate::actors::scheduler::handlers::StopScheduler;
    use crate::actors::scheduler::{Scheduler, Timetable};
    use crate::status::StatusBoard;

    let settings = settings.clone();
    let (role, skip_corrupt) = (args.role, args.skip_corrupt);
    actix_rt::System::new().block_on(async move {
        let board = StatusBoard::new();
        let clock = crate::clock::system();
        let status_path = settings.paths.data_dir.join("status.json");
        // First: SIGUSR1's default action would end the process.
        let (b, p) = (board.clone(), status_path.clone());
        crate::startup::on_sigusr1(move || b.dump(&p));
        // Ready once the database and the data directory open (each day's pipeline opens its
        // own connections at the connect).
        check_storage(&settings, role).await?;
        crate::systemd::ready();
        crate::systemd::spawn(board.clone());
        let (escalate, mut escalations) = tokio::sync::mpsc::unbounded_channel();
        let runner = DayRunner::new(
            settings.clone(),
            clock.clone(),
            board.clone(),
            role,
            skip_corrupt,
            escalate,
        )
        .start();
        let schedule = &settings.schedule;
        tracing::info!(role = role.as_str(), calendar = %schedule.holidays_origin, "following the trading calendar");
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
