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

/// An auth actor stopped by a failure it cannot absorb restarts alone: the HTTP client is made
/// again on the next login; the day's tokens (valid until 06:00 IST) are kept, so no socket
/// logs in again.
impl actix::Supervised for Auth {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.client = None;
        self.restarts.restarted();
    }
}

crate::actors::children::supervised!(Auth);
