//! The day runner's messages.

use actix::prelude::*;

use super::DayRunner;
use crate::actors::auth::handlers::GetToken;
use crate::actors::notifier::Alert;
use crate::actors::notifier::report::{eod_alert, eod_failed_alert};
use crate::actors::scheduler::Event;
use crate::actors::scheduler::handlers::{DayEvent, EventError, Outcome};
use crate::pipeline::StartOptions;
use crate::service::control::{Control, DayError, open_day};
use crate::settings::Role;

use super::{close_offline, database_growth};
use crate::actors::eod::report_status;
use crate::actors::sink::SinkError;
use crate::pipeline::CloseError;

/// Drains the running day, if any (the service is stopping): sockets close, the journal
/// syncs, the persister commits. No end of day (the scheduler runs it at the close).
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, SinkError>")]
pub struct StopDay;

/// Opens `date`'s pipeline now (`run --now`): what the connect event does, answered as data.
#[derive(Debug, Message)]
#[rtype(result = "Result<DayOpened, DayError>")]
pub struct OpenDay {
    /// The trading date.
    pub date: chrono::NaiveDate,
}

/// What an opened day records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayOpened {
    /// Instruments subscribed.
    pub instruments: usize,
    /// Sockets connecting.
    pub sockets: usize,
}

impl DayOpened {
    fn of(app: &crate::pipeline::App) -> DayOpened {
        DayOpened {
            instruments: app.plan.instruments.len(),
            sockets: app.plan.sockets.len(),
        }
    }
}

/// What a connect did.
enum Opened {
    /// The day was open already.
    Already(DayOpened),
    /// The day opened.
    Now(DayOpened),
}

impl Handler<OpenDay> for DayRunner {
    type Result = AtomicResponse<Self, Result<DayOpened, DayError>>;

    fn handle(&mut self, msg: OpenDay, _ctx: &mut Self::Context) -> Self::Result {
        AtomicResponse::new(Box::pin(self.open(msg.date).map(|res, _, _| match res? {
            Opened::Now(opened) | Opened::Already(opened) => Ok(opened),
        })))
    }
}

impl DayRunner {
    /// Opens `date`'s pipeline with the kept plan (draining a previous day still running),
    /// and forwards its escalations to the service.
    fn open(
        &mut self,
        date: chrono::NaiveDate,
    ) -> ResponseActFuture<Self, Result<Opened, DayError>> {
        if let Some(app) = self.app.as_ref().filter(|a| a.date == date) {
            return Box::pin(actix::fut::ready(Ok(Opened::Already(DayOpened::of(app)))));
        }
        let (settings, board) = (self.settings.clone(), self.board.clone());
        // The `test-hooks` build's options have a field more.
        #[allow(clippy::needless_update)]
        let options = StartOptions {
            skip_corrupt: self.skip_corrupt,
            role: self.role,
            ..Default::default()
        };
        let control = self.control.clone();
        // Kept until the day opens: a failed connect's retry uses it again (one dump a day).
        let plan = self.plan.clone();
        // A previous day still running (its close never came): drain it first.
        let stale = self.app.take();
        Box::pin(
            async move {
                if let Some(old) = stale {
                    tracing::warn!(date = %old.date, "a previous day was still recording; draining it (run `tickvault eod --date` for it)");
                    if let Err(e) = old.shutdown().await {
                        tracing::error!(error = %e, "draining the previous day failed");
                    }
                    old.close();
                }
                open_day(control.as_ref(), &settings, date, plan, board, options).await
            }
            .into_actor(self)
            .map(move |res, act, ctx| {
                let mut app = res?;
                let opened = DayOpened::of(&app);
                // A restart storm in the day's pipeline ends the service (systemd restarts
                // it): forwarded as it happens.
                if let Some(mut rx) = app.take_escalations() {
                    let escalate = act.escalate.clone();
                    let forward = async move {
                        if let Some(why) = rx.recv().await {
                            let _ = escalate.send(why);
                        }
                    };
                    ctx.spawn(forward.into_actor(act));
                }
                act.app = Some(app);
                act.plan = None;
                Ok(Opened::Now(opened))
            }),
        )
    }

    /// The service's control actors; the capture roles always have them.
    fn control(&self) -> Result<Control, DayError> {
        self.control.clone().ok_or_else(|| {
            DayError::Internal(format!(
                "the {} role's runner has no auth actor",
                self.role.as_str()
            ))
        })
    }
}

impl Handler<DayEvent> for DayRunner {
    // Atomic: a stop (or the next event) waits until a connect or a close has finished.
    type Result = AtomicResponse<Self, Result<Outcome, EventError>>;

    fn handle(&mut self, msg: DayEvent, _ctx: &mut Self::Context) -> Self::Result {
        let date = msg.date;
        self.status
            .report(|d: &mut crate::status::DayStatus| d.date = Some(date));
        let work = match (msg.event, self.role) {
            (Event::Login, Role::Store) => skipped("no login in the store role"),
            (Event::Instruments, Role::Store) => skipped("no instruments in the store role"),
            (Event::Login, _) => self.login(),
            (Event::Instruments, _) => self.instruments(date),
            (Event::Connect, _) => self.connect(date),
            (Event::Close, Role::Ingest) if self.app.is_none() => {
                skipped("nothing to close (the ingest role has no database)")
            }
            (Event::Close, _) => self.close(date),
        };
        AtomicResponse::new(Box::pin(
            work.map(|res, _, _| res.map_err(EventError::from)),
        ))
    }
}

type Work = ResponseActFuture<DayRunner, Result<Outcome, DayError>>;

fn skipped(why: &'static str) -> Work {
    Box::pin(actix::fut::ready(Ok(Outcome::Skipped { why })))
}

impl DayRunner {
    /// A token for every app, through the service's auth actor.
    fn login(&mut self) -> Work {
        let control = self.control();
        let apps: Vec<String> = self.settings.apps.iter().map(|a| a.name.clone()).collect();
        Box::pin(
            async move {
                let auth = control?.auth;
                let mut expiry: Option<chrono::DateTime<chrono::Utc>> = None;
                for app in &apps {
                    let token =
                        auth.send(GetToken { app: app.clone() })
                            .await?
                            .map_err(|error| DayError::Login {
                                app: app.clone(),
                                error,
                            })?;
                    expiry = Some(expiry.map_or(token.expires_at, |t| t.min(token.expires_at)));
                }
                let token_expires_at = expiry.ok_or_else(|| {
                    DayError::Internal("no API app to log in (settings: [apps.<name>])".into())
                })?;
                Ok(Outcome::LoggedIn {
                    apps: apps.len(),
                    token_expires_at,
                })
            }
            .into_actor(self),
        )
    }

    /// The day's plan, kept for the connect: the day's dump is downloaded once.
    fn instruments(&mut self, date: chrono::NaiveDate) -> Work {
        let control = self.control();
        Box::pin(
            async move { control?.resolve(date).await }
                .into_actor(self)
                .map(|res, act, _ctx| {
                    let plan = res?;
                    let outcome = Outcome::Resolved {
                        instruments: plan.instruments.len(),
                        sockets: plan.sockets.len(),
                    };
                    act.plan = Some(plan);
                    Ok(outcome)
                }),
        )
    }

    /// Opens the day's pipeline (once).
    fn connect(&mut self, date: chrono::NaiveDate) -> Work {
        Box::pin(self.open(date).map(|res, _, _| {
            Ok(match res? {
                Opened::Already(_) => Outcome::AlreadyConnected,
                Opened::Now(o) => Outcome::Connected {
                    instruments: o.instruments,
                    sockets: o.sockets,
                },
            })
        }))
    }

    /// Drains the day and runs its end of day (from the journals when no pipeline runs); the
    /// summary, or the failure, is mailed.
    fn close(&mut self, date: chrono::NaiveDate) -> Work {
        let app = self.app.take();
        let (settings, skip_corrupt) = (self.settings.clone(), self.skip_corrupt);
        // The eod actor writes this entry too: a handle that leaves it as it is.
        let eod_status = self.board.existing_handle(crate::status::Actor::Eod);
        Box::pin(
            async move {
                let outcome = match app {
                    Some(app) => close_running(app, date).await?,
                    None => {
                        let s = settings.clone();
                        let report = tokio::task::spawn_blocking(move || {
                            close_offline(&s, date, skip_corrupt)
                        })
                        .await
                        .map_err(|e| DayError::Internal(e.to_string()))?;
                        match &report {
                            Ok(Some(r)) => report_status(&eod_status, date, Ok(r)),
                            Err(e) => report_status(&eod_status, date, Err(e)),
                            Ok(None) => {}
                        }
                        match report? {
                            None => Outcome::AlreadyClosed,
                            Some(report) => Outcome::Closed {
                                rows: None,
                                report: Box::new(report),
                            },
                        }
                    }
                };
                let alert = match &outcome {
                    Outcome::Closed { report, .. } => {
                        let growth = database_growth(&settings, report);
                        Some(eod_alert(report, growth.as_ref()))
                    }
                    _ => None,
                };
                Ok((outcome, alert))
            }
            .into_actor(self)
            .map(
                move |res: Result<(Outcome, Option<Alert>), DayError>, act, _ctx| {
                    // The summary, or the failure (the daily rows are kept): either way a human
                    // hears of it.
                    let alert = match &res {
                        Ok((_, alert)) => alert.clone(),
                        Err(e) => Some(eod_failed_alert(date, &e.to_string())),
                    };
                    if let (Some(alert), Some(notifier)) = (alert, &act.notifier) {
                        notifier.do_send(alert);
                    }
                    res.map(|(outcome, _)| outcome)
                },
            ),
        )
    }
}

/// Drains a running day, runs its end of day (not in the ingest role) and stops its threads.
async fn close_running(
    app: crate::pipeline::App,
    date: chrono::NaiveDate,
) -> Result<Outcome, DayError> {
    let drained = app.shutdown().await;
    let eod = if app.role == Role::Ingest {
        Ok(None)
    } else {
        app.run_eod(date).await.map(Some)
    };
    app.close();
    let rows = drained.map_err(CloseError::from)?;
    Ok(match eod? {
        Some(report) => Outcome::Closed {
            rows: Some(rows),
            report: Box::new(report),
        },
        None => Outcome::Journaled { rows },
    })
}

impl Handler<StopDay> for DayRunner {
    type Result = ResponseFuture<Result<u64, SinkError>>;

    fn handle(&mut self, _msg: StopDay, _ctx: &mut Self::Context) -> Self::Result {
        let app = self.app.take();
        Box::pin(async move {
            match app {
                Some(app) => {
                    let rows = app.shutdown().await;
                    app.close();
                    rows
                }
                None => Ok(0),
            }
        })
    }
}

/// A restart of one of the service's supervised actors (auth, instruments, the scheduler):
/// counted with the sockets' intensity rule; a storm escalates (the service drains and exits
/// for systemd to restart it), as a day's restart storm does.
impl Handler<crate::actors::children::ChildRestarted> for DayRunner {
    type Result = ();

    fn handle(&mut self, msg: crate::actors::children::ChildRestarted, _ctx: &mut Self::Context) {
        if self
            .intensity
            .exceeded(&msg.name, std::time::Instant::now())
            && !self.escalated
        {
            self.escalated = true;
            let why = self.intensity.why(&msg.name);
            tracing::error!(child = %msg.name, "{why}; escalating: draining and exiting for systemd to restart the process");
            self.status.fail(crate::status::State::Failed, &why);
            let _ = self.escalate.send(why);
        }
    }
}
