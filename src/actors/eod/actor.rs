//! The end-of-day actor's lifecycle (a `SyncArbiter` actor: its database work never touches the
//! event loop).

use actix::prelude::*;

use super::Eod;
use crate::status::State;

impl Actor for Eod {
    type Context = SyncContext<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Stopped);
    }
}
