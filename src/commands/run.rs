//! `tickvault run [--now] [--role all|ingest|store]`.
//!
//! Without `--now`, the service follows the NSE calendar (the scheduler): each trading day it
//! logs in, resolves the instruments, connects, closes and runs the end of day, and sleeps
//! through holidays and weekends, until SIGINT or SIGTERM; then it drains and exits 0. With
//! `--now` it records today at once until stopped (ad-hoc runs, the demo).

use std::process::ExitCode;

use anyhow::anyhow;

use super::{Failure, require_apps, service_failure};
use crate::pipeline::Ending;
use crate::service::{Service, ServiceOptions};
use crate::settings::{Role, Settings};

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
    let options = ServiceOptions {
        role: args.role,
        skip_corrupt: args.skip_corrupt,
        now: args.now,
    };
    let settings = settings.clone();
    actix_rt::System::new().block_on(async move {
        let service = Service::build(&settings, crate::clock::system(), options)
            .await
            .map_err(service_failure)?;
        let stop = async {
            if let Err(e) = crate::signals::wait_for_stop().await {
                tracing::error!(error = %e, "cannot listen for signals; stopping");
            }
        };
        match service
            .run_until_stopped(stop)
            .await
            .map_err(service_failure)?
        {
            Ending::Requested { rows } => {
                tracing::info!(rows, "stopped cleanly");
                Ok(ExitCode::SUCCESS)
            }
            Ending::Escalated(why) => Err(Failure::Software(anyhow!("escalated: {why}"))),
        }
    })
}
