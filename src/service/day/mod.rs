//! The day runner: carries out the scheduler's events for the calendar-driven service
//! (`tickvault run` without `--now`).
//!
//! - **login**: a token for every API app through the service's one auth actor (kept in
//!   memory and cached for the day on disk; Kite flushes it at 06:00 IST), answering with its
//!   expiry;
//! - **instruments**: resolves the day's universe from the instruments dump and keeps the plan;
//! - **connect**: opens the day's pipeline ([`crate::pipeline::prepare`]) on the service's status
//!   board with the kept plan and the service's auth actor (resolving the plan first when the
//!   instruments event did not run);
//! - **close**: closes the sockets, drains the journal and the persister, runs the end of day,
//!   then stops the day's threads. With no pipeline running (the service started after the
//!   close) it replays the day's journals into the database and runs the end of day directly.
//!
//! The store role has no sockets: login and instruments are skipped, connect starts the
//! consumer. The ingest role has no database: close only drains.
//!
//! Messages: [`crate::actors::scheduler::handlers::DayEvent`], [`handlers::OpenDay`]
//! (`run --now`), [`handlers::StopDay`], [`crate::actors::children::ChildRestarted`] (the
//! service's supervised actors). Talks to: the service's [`Control`] (auth,
//! instruments), the day's [`crate::pipeline::App`].

pub mod actor;
pub mod handlers;

use std::sync::Arc;

use actix::Recipient;
use chrono::NaiveDate;
use tokio::sync::mpsc;

use super::control::Control;
use crate::actors::children::Intensity;
use crate::actors::notifier::Alert;
use crate::actors::notifier::report::{Growth, record_growth};
use crate::eod::{EodError, EodOptions, EodReport, run_eod};
use crate::pipeline::{App, CloseError};
use crate::plan::SubscriptionPlan;
use crate::settings::{Role, Settings};
use crate::status::{StatusBoard, StatusHandle};
use crate::storage::Store;

/// The day runner actor.
pub struct DayRunner {
    settings: Settings,
    board: Arc<StatusBoard>,
    role: Role,
    skip_corrupt: bool,
    /// The service's auth and instruments actors (none in the store role).
    control: Option<Control>,
    /// The plan the instruments event resolved, kept for the connect.
    plan: Option<SubscriptionPlan>,
    /// The running day's pipeline.
    app: Option<App>,
    /// A day's escalation (restart storm) goes to the service, which drains and exits.
    escalate: mpsc::UnboundedSender<String>,
    /// Where the end-of-day summary goes (the notifier), if anywhere.
    notifier: Option<Recipient<Alert>>,
    status: StatusHandle,
    /// Restarts of the service's own supervised actors (auth, instruments, scheduler),
    /// counted with the sockets' rule; a storm escalates as a day's does.
    intensity: Intensity,
    escalated: bool,
}

impl DayRunner {
    /// A runner for `role`, reporting on `board`, logging in and resolving through `control`
    /// (which the store role does not need).
    pub fn new(
        settings: Settings,
        control: Option<Control>,
        board: Arc<StatusBoard>,
        role: Role,
        skip_corrupt: bool,
        escalate: mpsc::UnboundedSender<String>,
    ) -> DayRunner {
        let status = board.handle(crate::status::Actor::Day);
        let intensity = Intensity::new(
            settings.sockets.restart_limit,
            std::time::Duration::from_secs(settings.sockets.restart_period_secs),
        );
        DayRunner {
            settings,
            board,
            role,
            skip_corrupt,
            control,
            plan: None,
            app: None,
            escalate,
            intensity,
            escalated: false,
            notifier: None,
            status,
        }
    }

    /// Sends each end of day's summary (with the database's growth) to `notifier`.
    pub fn with_notifier(mut self, notifier: Recipient<Alert>) -> DayRunner {
        self.notifier = Some(notifier);
        self
    }
}

/// The database's growth after `report`'s end of day (its size recorded for the next day's
/// figures); `None` when the end of day could not measure the size. Blocking (small files).
pub fn database_growth(settings: &Settings, report: &EodReport) -> Option<Growth> {
    let bytes = report.database_bytes?;
    let file = match settings.storage.parsed_url() {
        Ok(crate::storage::StorageUrl::Sqlite(path)) => Some(path),
        _ => None,
    };
    Some(record_growth(
        &settings.paths.data_dir,
        report.trade_date,
        bytes,
        file.as_deref(),
    ))
}

/// The end of day without a running pipeline: what the journals hold beyond the committed
/// positions goes to the database first (as at start-up), then the end of day. `None` when
/// the date's end of day is done and nothing came since (a restart after the close: no second
/// run, no second mail). Blocking.
pub fn close_offline(
    settings: &Settings,
    date: NaiveDate,
    skip_corrupt: bool,
) -> Result<Option<EodReport>, CloseError> {
    let url = crate::storage::StorageUrl::parse(&settings.storage.url).map_err(EodError::Open)?;
    let mut store = Store::open(&url).map_err(EodError::Open)?;
    let data_dir = &settings.paths.data_dir;
    crate::recovery::recover(
        &mut store,
        data_dir,
        date,
        skip_corrupt,
        settings.storage.batch_rows,
    )?;
    if crate::storage::eod::done_and_nothing_new(store.conn(), date).map_err(EodError::from)? {
        tracing::info!(%date, "the end of day is done and nothing came since; not run again");
        return Ok(None);
    }
    let opts = EodOptions::new(settings.eod, settings.journal.retention_days).exporting(settings);
    Ok(Some(run_eod(
        &mut store,
        data_dir,
        date,
        opts,
        &mut |_| {},
    )?))
}
