//! The scheduler's loop: look at the clock, carry out what is due, sleep until the next event
//! (at most `recheck`).

use actix::prelude::*;

use super::Scheduler;
use crate::status::State;

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
        self.step(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Stopped);
    }
}
