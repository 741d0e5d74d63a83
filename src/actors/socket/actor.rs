//! The socket's lifecycle: connect in `started` (after the backoff its last failure deserves),
//! reset and count the restart in `restarting`. The state machine is in `connect.rs`, the
//! liveness in `liveness.rs`.

use std::time::Duration;

use actix::prelude::*;

use super::{Failure, Socket, backoff};
use crate::actors::children::ChildRestarted;
use crate::status::State;

impl Actor for Socket {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.shutting_down {
            return;
        }
        // Liveness and status, once a second.
        ctx.run_interval(Duration::from_secs(1), |act, ctx| act.check_liveness(ctx));
        let delay = match (&self.failure, self.started_once) {
            (Some(failure), true) => backoff(failure, self.attempt, &self.settings, self.rng.f64()),
            _ => Duration::ZERO,
        };
        self.started_once = true;
        if delay.is_zero() {
            self.connect(ctx);
        } else {
            self.status.set_state(State::Backoff);
            ctx.run_later(delay, |act, ctx| act.connect(ctx));
        }
    }
}

impl actix::Supervised for Socket {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.sink = None;
        if self.shutting_down {
            return;
        }
        self.attempt += 1;
        let cause = self.failure.as_ref().map_or("unknown", Failure::cause);
        *self.counters.reconnects_by_cause.entry(cause).or_default() += 1;
        if let Some(f) = &self.failure {
            self.status.fail(State::Backoff, &f.to_string());
        }
        self.status.restarted();
        self.coordinator
            .do_send(ChildRestarted { name: self.name() });
        self.report_status();
    }
}
