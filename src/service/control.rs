//! The service's long-lived control actors, wired in this one place: one auth actor (the
//! day's token, in memory) and one instruments actor (the day's plan), and how a day's
//! pipeline is opened from them.

use std::sync::Arc;

use actix::prelude::*;
use chrono::NaiveDate;

use crate::actors::auth::{Auth, AuthError};
use crate::actors::children::{ChildRestarted, Supervise};
use crate::actors::instruments::Instruments;
use crate::actors::instruments::handlers::{Resolve, ResolveError};
use crate::clock::SharedClock;
use crate::pipeline::{App, DayInputs, StartError, StartOptions};
use crate::plan::SubscriptionPlan;
use crate::settings::{Role, Settings};
use crate::status::StatusBoard;

/// Why a day's step failed: each variant is a decision for its caller (an exit status, a
/// retry, an alert).
#[derive(Debug, thiserror::Error)]
pub enum DayError {
    /// Kite refused or failed a login.
    #[error("{app}: {error}")]
    Login {
        /// The API app.
        app: String,
        /// Why.
        error: AuthError,
    },
    /// The day's plan could not be resolved (Kite, or the universe's settings).
    #[error("cannot build the subscription plan: {0}")]
    Plan(#[from] ResolveError),
    /// The pipeline could not start (storage, crash recovery).
    #[error(transparent)]
    Start(#[from] StartError),
    /// The close failed: the drain, the replay or the end of day (the daily rows are kept).
    #[error(transparent)]
    Close(#[from] crate::pipeline::CloseError),
    /// The actor system failed (a mailbox closed).
    #[error("{0}")]
    Internal(String),
}

impl From<MailboxError> for DayError {
    fn from(e: MailboxError) -> Self {
        DayError::Internal(e.to_string())
    }
}

/// The service's auth and instruments actors.
#[derive(Clone)]
pub struct Control {
    /// The one auth actor: every login, and every socket's token.
    pub auth: Addr<Auth>,
    /// The one instruments actor: every resolution of a day's plan.
    pub instruments: Addr<Instruments>,
}

impl Control {
    /// Starts both on `board`.
    pub fn start(settings: &Settings, clock: SharedClock, board: &Arc<StatusBoard>) -> Control {
        let auth = Auth::from_settings(settings, clock, board.handle(crate::status::Actor::Auth));
        let auth = Supervisor::start(move |_| auth);
        let instruments = Instruments::from_settings(
            settings,
            auth.clone(),
            board.handle(crate::status::Actor::Instruments),
        );
        let instruments = Supervisor::start(move |_| instruments);
        Control { auth, instruments }
    }

    /// Their restarts are counted by `counter` (the service's day runner).
    pub fn count_restarts_with(&self, counter: &Recipient<ChildRestarted>) {
        self.auth.do_send(Supervise(counter.clone()));
        self.instruments.do_send(Supervise(counter.clone()));
    }

    /// Resolves the plan for `date` (downloading the dump and the quotes, or reusing the
    /// day's saved plan: `universe.recenter`).
    pub async fn resolve(&self, date: NaiveDate) -> Result<SubscriptionPlan, DayError> {
        Ok(self.instruments.send(Resolve { date }).await??)
    }
}

/// Opens `date`'s pipeline on `board` with `plan` (resolved through `control` when not given).
/// The database side and crash recovery come first: they never wait on Kite. The store role
/// has no plan and needs no control actors; the capture roles need them.
pub async fn open_day(
    control: Option<&Control>,
    settings: &Settings,
    date: NaiveDate,
    plan: Option<SubscriptionPlan>,
    board: Arc<StatusBoard>,
    options: StartOptions,
) -> Result<App, DayError> {
    let control = match (options.role, control) {
        (Role::Store, _) => None,
        (_, Some(control)) => Some(control),
        (role, None) => {
            return Err(DayError::Internal(format!(
                "the {} role needs the service's auth actor",
                role.as_str()
            )));
        }
    };
    let prepared = crate::pipeline::prepare(settings, date, board, options).await?;
    let inputs = match control {
        None => DayInputs {
            plan: SubscriptionPlan::empty(date),
            auth: None,
        },
        Some(control) => DayInputs {
            plan: match plan.filter(|p| p.date == date) {
                Some(plan) => plan,
                None => control.resolve(date).await?,
            },
            auth: Some(control.auth.clone()),
        },
    };
    Ok(prepared.start(settings, inputs).await?)
}

/// One day's pipeline without the service around it (the demo, tests): its own board, auth
/// and instruments actors. Call inside an actix system.
pub async fn start_day(
    settings: &Settings,
    date: NaiveDate,
    clock: SharedClock,
    options: StartOptions,
) -> Result<App, DayError> {
    let board = StatusBoard::new();
    let control = (options.role != Role::Store).then(|| Control::start(settings, clock, &board));
    let app = open_day(control.as_ref(), settings, date, None, board, options).await?;
    // Without a service around it, the day's coordinator counts their restarts too.
    if let Some(control) = &control {
        control.count_restarts_with(&app.restart_counter());
    }
    Ok(app)
}
