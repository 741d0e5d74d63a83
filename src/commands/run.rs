//! `tickvault run --now [--role all|ingest|store]`: record until SIGINT or SIGTERM, then drain
//! and exit 0.

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
    /// Connect at once and record until stopped (the calendar-driven run, which logs in, connects
    /// and stops by the NSE timetable, arrives with the scheduler).
    #[arg(long, required = true)]
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
        tracing::info!(role = args.role.as_str(), date = %date, sockets = app.plan.sockets.len(), instruments = app.plan.instruments.len(), "recording");
        let stop = async {
            if let Err(e) = wait_for_stop().await {
                tracing::error!(error = %e, "cannot listen for signals; stopping");
            }
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
