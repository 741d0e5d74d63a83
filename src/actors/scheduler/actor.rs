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

/// A scheduler stopped by a failure it cannot absorb restarts alone and looks at the clock
/// again: an event that was running when it stopped is sent again (the day runner's events are
/// idempotent: a day already connected stays connected, one already closed stays closed).
impl actix::Supervised for Scheduler {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.busy = false;
        self.timer = None;
        self.restarts.restarted();
    }
}

crate::actors::children::supervised!(Scheduler);
