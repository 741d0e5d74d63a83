//! `tickvault instruments [--date D]`: resolve the universe and print the plan (counts per
//! socket, per kind and per expiry, and names the dump lacks).

use std::process::ExitCode;

use anyhow::anyhow;
use chrono::{NaiveDate, Utc};

use super::{Failure, require_apps};
use crate::actors::instruments::handlers::ResolveError;
use crate::calendar::ist_date;
use crate::service::control::{Control, DayError};
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
        let control = Control::start(&settings, crate::clock::system(), &board);
        match control.resolve(date).await {
            Ok(plan) => {
                print!("{}", plan.summary());
                Ok(ExitCode::SUCCESS)
            }
            Err(DayError::Plan(ResolveError::Plan(e))) => match e.setting() {
                Some(key) => Err(SettingsError::new(key, e.to_string()).into()),
                None => Err(Failure::Unavailable(anyhow!("{e}"))),
            },
            Err(e @ DayError::Internal(_)) => Err(Failure::Other(anyhow!("{e}"))),
            Err(e) => Err(Failure::Unavailable(anyhow!("{e}"))),
        }
    })
}
