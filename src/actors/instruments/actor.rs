//! The instruments actor's lifecycle.

use actix::prelude::*;

use super::Instruments;
use crate::status::State;

impl Actor for Instruments {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
    }
}

/// An instruments actor stopped by a failure it cannot absorb restarts alone; its HTTP client
/// is made again on the next resolution (the day's saved plan is on disk).
impl actix::Supervised for Instruments {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.client = None;
        self.restarts.restarted();
    }
}

crate::actors::children::supervised!(Instruments);
