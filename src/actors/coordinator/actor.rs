//! The coordinator's lifecycle.

use actix::prelude::*;

use super::Coordinator;
use crate::status::State;

impl Actor for Coordinator {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
    }
}
