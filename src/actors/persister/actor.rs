//! The persister's lifecycle (a `SyncArbiter` actor: no timers, driven by the journal).

use actix::prelude::*;

use super::Persister;
use crate::status::State;

impl Actor for Persister {
    type Context = SyncContext<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        match self.load_positions() {
            Ok(()) => self.status.set_state(State::Running),
            Err(e) => self.status.fail(State::Backoff, &e.to_string()),
        }
        self.report_status();
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.commit();
        self.status.set_state(State::Stopped);
    }
}

crate::actors::children::supervised!(Persister);
