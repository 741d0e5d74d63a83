//! `tickvault instruments [--date D]`: resolve the universe and print the plan (counts per
//! socket, per kind and per expiry, and names the dump lacks).

use std::process::ExitCode;

use actix::Actor;
use anyhow::anyhow;
use chrono::{NaiveDate, Utc};

use super::{Failure, require_apps};
use crate::actors::auth::Auth;
use crate::actors::instruments::actor::Instruments;
use crate::actors::instruments::handlers::{Resolve, ResolveError};
use crate::calendar::ist_date;
use crate::settings::{Settings, SettingsError};

/// Arguments of `tickvault instruments`.
#[derive(Debug, clap::Args)]
pub struct InstrumentsArgs {
    /// Trading date to resolve for (default: today in IST).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,
}

/// Runs the command.
pub fn run(args: &InstrumentsArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    require_apps(settings)?;
    let settings = settings.clone();
    let date = args.date.unwrap_or_else(|| ist_date(Utc::now()));
    actix_rt::System::new().block_on(async move {
        let board = crate::status::StatusBoard::new();
        let auth =
            Auth::from_settings(&settings, crate::clock::system(), board.handle("auth")).start();
        let instruments =
            Instruments::from_settings(&settings, auth, board.handle("instruments")).start();
        match instruments
            .send(Resolve { date })
            .await
            .map_err(|e| Failure::Other(anyhow!("{e}")))?
        {
            Ok(plan) => {
                print!("{}", plan.summary());
                Ok(ExitCode::SUCCESS)
            }
            Err(ResolveError::Plan(e)) => match e.setting() {
                Some(key) => Err(SettingsError::new(key, e.to_string()).into()),
                None => Err(Failure::Unavailable(anyhow!("{e}"))),
            },
            Err(e) => Err(Failure::Unavailable(anyhow!("{e}"))),
        }
    })
}
