//! The day runner's messages.

use actix::prelude::*;

use super::{DayRunner, close_offline, database_growth, eod_summary};
use crate::actors::auth::Auth;
use crate::actors::auth::handlers::GetToken;
use crate::actors::instruments::actor::Instruments;
use crate::actors::instruments::handlers::Resolve;
use crate::actors::notifier::Alert;
use crate::actors::notifier::report::{eod_alert, eod_failed_alert};
use crate::actors::scheduler::Event;
use crate::actors::scheduler::handlers::{DayEvent, Outcome};
use crate::startup::{Role, StartOptions, start_on_board};

/// Drains the running day, if any (the service is stopping): sockets close, the journal
/// syncs, the persister commits. No end of day (the scheduler runs it at the close).
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, String>")]
pub struct StopDay;

impl DayRunner {
    fn auth(&mut self) -> Addr<Auth> {
        if let Some(a) = &self.auth {
            return a.clone();
        }
        let auth = Auth::from_settings(
            &self.settings,
            self.clock.clone(),
            self.board.handle("auth"),
        )
        .start();
        self.auth = Some(auth.clone());
        auth
    }
}

impl Handler<DayEvent> for DayRunner {
    // Atomic: a stop (or the next event) waits until a connect or a close has finished.
    type Result = AtomicResponse<Self, Result<Outcome, String>>;

    fn handle(&mut self, msg: DayEvent, _ctx: &mut Self::Context) -> Self::Result {
        AtomicResponse::new(self.carry_out(msg))
    }
}

impl DayRunner {
    fn carry_out(&mut self, msg: DayEvent) -> ResponseActFuture<Self, Result<Outcome, String>> {
        let date = msg.date;
        self.status.set("date", serde_json::json!(date.to_string()));
        match msg.event {
            Event::Login if self.role == Role::Store => ready_ok("no login in the store role"),
            Event::Instruments if self.role == Role::Store => {
                ready_ok("no instruments in the store role")
            }
            Event::Login => {
                let auth = self.auth();
                let apps: Vec<String> = self.settings.apps.iter().map(|a| a.name.clone()).collect();
                Box::pin(
                    async move {
                        let mut expiry: Option<chrono::DateTime<chrono::Utc>> = None;
                        for app in &apps {
                            let token = auth
                                .send(GetToken { app: app.clone() })
                                .await
                                .map_err(|e| e.to_string())?
                                .map_err(|e| format!("{app}: {e}"))?;
                            expiry =
                                Some(expiry.map_or(token.expires_at, |t| t.min(token.expires_at)));
                        }
                        Ok(Outcome {
                            detail: format!("{} app(s) logged in", apps.len()),
                            token_expires_at: expiry,
                        })
                    }
                    .into_actor(self),
                )
            }
            Event::Instruments => {
                let auth = self.auth();
                let instruments = Instruments::from_settings(
                    &self.settings,
                    auth,
                    self.board.handle("instruments"),
                )
                .start();
                Box::pin(
                    async move {
                        let plan = instruments
                            .send(Resolve { date })
                            .await
                            .map_err(|e| e.to_string())?
                            .map_err(|e| e.to_string())?;
                        Ok(Outcome {
                            detail: format!(
                                "{} instruments on {} sockets",
                                plan.instruments.len(),
                                plan.sockets.len()
                            ),
                            token_expires_at: None,
                        })
                    }
                    .into_actor(self),
                )
            }
            Event::Connect => {
                if self.app.as_ref().is_some_and(|a| a.date == date) {
                    return ready_ok("already connected");
                }
                let (settings, clock, board) = (
                    self.settings.clone(),
                    self.clock.clone(),
                    self.board.clone(),
                );
                let options = StartOptions {
                    skip_corrupt: self.skip_corrupt,
                    role: self.role,
                    ..Default::default()
                };
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
                        start_on_board(&settings, date, clock, options, board).await
                    }
                    .into_actor(self)
                        .map(move |res, act, ctx| {
                            let mut app = res.map_err(|e| e.to_string())?;
                            let detail = format!(
                                "recording {} instruments on {} sockets",
                                app.plan.instruments.len(),
                                app.plan.sockets.len()
                            );
                            // A restart storm in the day's pipeline ends the service (systemd
                            // restarts it): forwarded as it happens.
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
                            Ok(Outcome {
                                detail,
                                token_expires_at: None,
                            })
                        }),
                )
            }
            Event::Close if self.app.is_none() && self.role == Role::Ingest => {
                ready_ok("nothing to close (the ingest role has no database)")
            }
            Event::Close => {
                let app = self.app.take();
                let (settings, skip_corrupt) = (self.settings.clone(), self.skip_corrupt);
                // The eod actor writes this entry too: a handle that leaves it as it is.
                let eod_status = self.board.existing_handle("eod");
                Box::pin(
                    async move {
                        let (detail, report) = match app {
                            Some(app) => {
                                let drained = app.shutdown().await;
                                let eod = if app.role == Role::Ingest {
                                    Ok(None)
                                } else {
                                    app.run_eod(date).await.map(Some)
                                };
                                app.close();
                                let rows = drained?;
                                match eod? {
                                    Some(report) => (format!("{rows} rows committed; {}", eod_summary(&report)), Some(report)),
                                    None => return Ok((format!("{rows} ticks journaled (ingest role: the store runs the end of day)"), None)),
                                }
                            }
                            None => {
                                let s = settings.clone();
                                let report = tokio::task::spawn_blocking(move || {
                                    close_offline(&s, date, skip_corrupt)
                                })
                                .await
                                .map_err(|e| e.to_string())?;
                                let report = match report {
                                    Ok(None) => {
                                        return Ok((
                                            format!("end of day {date} already done; nothing new"),
                                            None,
                                        ));
                                    }
                                    Ok(Some(r)) => Ok(r),
                                    Err(e) => Err(e),
                                };
                                crate::actors::eod::report_status(
                                    &eod_status,
                                    date,
                                    &report.as_ref().map_err(Clone::clone),
                                );
                                let report = report?;
                                (eod_summary(&report), Some(report))
                            }
                        };
                        let growth = report.as_ref().and_then(|r| database_growth(&settings, r));
                        Ok((detail, report.map(|r| eod_alert(&r, growth.as_ref()))))
                    }
                    .into_actor(self)
                    .map(move |res: Result<(String, Option<Alert>), String>, act, _ctx| {
                        // The summary, or the failure (the daily rows are kept): either way a
                        // human hears of it.
                        let alert = match &res {
                            Ok((_, alert)) => alert.clone(),
                            Err(e) => Some(eod_failed_alert(date, e)),
                        };
                        if let (Some(alert), Some(notifier)) = (alert, &act.notifier) {
                            notifier.do_send(alert);
                        }
                        res.map(|(detail, _)| Outcome {
                            detail,
                            token_expires_at: None,
                        })
                    }),
                )
            }
        }
    }
}

impl Handler<StopDay> for DayRunner {
    type Result = ResponseFuture<Result<u64, String>>;

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

fn ready_ok(detail: &str) -> ResponseActFuture<DayRunner, Result<Outcome, String>> {
    let outcome = Outcome {
        detail: detail.to_string(),
        token_expires_at: None,
    };
    Box::pin(actix::fut::ready(Ok(outcome)))
}
