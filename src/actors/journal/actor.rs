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

/// A journal that stopped on a failure it could not absorb restarts alone: every file it was
/// writing is closed (its end kept for the sink), the next frame of each socket opens a new
/// generation, and the frames waiting in its mailbox are kept. Counted by the coordinator.
impl actix::Supervised for Journal {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        let sockets: Vec<i16> = self.writers.keys().copied().collect();
        for socket in sockets {
            self.close_generation(socket);
        }
        self.catchup_in_flight = false;
        tracing::warn!("the journal restarts; each socket's next frame opens a new generation");
        self.restarts.restarted();
    }
}
