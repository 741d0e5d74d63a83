//! The auth actor's lifecycle.

use actix::{Actor, Context};

use super::Auth;
use crate::status::State;

impl Actor for Auth {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Stopped);
    }
}
