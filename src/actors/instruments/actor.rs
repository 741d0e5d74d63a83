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
