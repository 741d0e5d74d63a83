//! The journal actor's lifecycle: flush and fsync timers.

use std::time::Instant;

use actix::prelude::*;

use super::Journal;
use crate::status::State;

impl Actor for Journal {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Frames arrive in bursts: a large mailbox, but never a silent drop (see socket).
        ctx.set_mailbox_capacity(65_536);
        self.status.set_state(State::Running);
        self.report_status();
        ctx.run_interval(self.flush_every, |act, ctx| act.flush_and_notify(ctx));
        ctx.run_interval(self.fsync_every, |act, _| {
            let now = Instant::now();
            for (socket, (_, w)) in &mut act.writers {
                if let Err(e) = w.sync_if_due(now) {
                    tracing::error!(socket, error = %e, "cannot fsync the journal");
                }
            }
        });
    }

    fn stopping(&mut self, _ctx: &mut Self::Context) -> Running {
        for (socket, (_, w)) in &mut self.writers {
            if let Err(e) = w.sync() {
                tracing::error!(socket, error = %e, "cannot sync the journal at stop");
            }
        }
        self.status.set_state(State::Stopped);
        Running::Stop
    }
}
