//! The scheduler's loop: read the clock, pick the next event, sleep until it (at most
//! `recheck_secs`), dispatch it to the runner and retry a failure with backoff.

use actix::prelude::*;
use chrono::{DateTime, Utc};

use super::handlers::DayEvent;
use super::{Event, Scheduler};
use crate::status::State;

impl Scheduler {
    /// Carries out the due event, or sleeps until it is due.
    pub(super) fn step(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        if self.busy || self.halted {
            return;
        }
        let now = self.clock.now();
        if self.session.is_none() {
            self.choose(now);
        }
        if self.session.is_some() && self.next.is_none() {
            self.advance();
        }
        let Some(session) = self.session.clone() else {
            tracing::error!("no trading session in the coming year: check the holiday file");
            self.status
                .fail(State::Failed, "no trading session in the coming year");
            self.sleep(ctx, now, now + chrono::TimeDelta::days(1));
            return;
        };
        let Some(mut event) = self.next else {
            return;
        };
        let close = session.at(Event::Close);
        if event != Event::Close && now >= close {
            tracing::warn!(date = %session.date, missed = event.as_str(), "the session closed before it could start; closing the day");
            event = Event::Close;
            self.next = Some(Event::Close);
            self.retry_at = None;
        }
        if event == Event::Connect && self.token_expires_at.is_some_and(|t| t <= now) {
            tracing::info!("the token expired (06:00 IST); logging in again before connecting");
            event = Event::Login;
            self.next = Some(Event::Login);
        }
        if let Some(at) = self.retry_at
            && now < at
        {
            self.sleep(ctx, now, at.min(close));
            return;
        }
        let due = session.at(event);
        if now < due {
            self.sleep(ctx, now, due);
            return;
        }
        self.dispatch(ctx, event, session.date);
    }

    pub(super) fn sleep(
        &mut self,
        ctx: &mut Context<Self>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) {
        self.report_status(now);
        let wait = (until - now).to_std().unwrap_or_default().min(self.recheck);
        self.timer = Some(ctx.run_later(wait, |act, ctx| act.step(ctx)));
    }

    pub(super) fn dispatch(
        &mut self,
        ctx: &mut Context<Self>,
        event: Event,
        date: chrono::NaiveDate,
    ) {
        self.busy = true;
        self.report_status(self.clock.now());
        tracing::info!(date = %date, event = event.as_str(), "scheduled event");
        let sent = self.runner.send(DayEvent { event, date });
        ctx.spawn(sent.into_actor(self).map(move |res, act, ctx| {
            act.busy = false;
            let res = res
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            match res {
                Ok(outcome) => {
                    tracing::info!(date = %date, event = event.as_str(), detail = %outcome, "done");
                    if let Some(t) = outcome.token_expires_at() {
                        act.token_expires_at = Some(t);
                    }
                    act.last = Some((event, outcome.to_string()));
                    act.retry.reset();
                    act.retry_at = None;
                    act.next = event.next();
                    act.status.set_state(State::Running);
                }
                Err(e) if event == Event::Close => {
                    tracing::error!(date = %date, error = %e, "closing the day failed (see the end-of-day report); going on to the next session");
                    act.failures += 1;
                    act.last = Some((event, format!("failed: {e}")));
                    act.next = None;
                    act.status.fail(State::Running, &e);
                }
                Err(e) => {
                    act.failures += 1;
                    let wait = act.retry.next_delay();
                    act.retry_at = Some(
                        act.clock.now()
                            + chrono::TimeDelta::from_std(wait).unwrap_or_default(),
                    );
                    tracing::warn!(date = %date, event = event.as_str(), error = %e, retry_in_s = wait.as_secs(), "scheduled event failed; retrying");
                    act.last = Some((event, format!("failed: {e}")));
                    act.status.fail(State::Backoff, &e);
                }
            }
            // An event that ends after the stop does not bring the scheduler back.
            if act.halted {
                act.status.set_state(State::Stopped);
            }
            act.step(ctx);
        }));
    }
}
