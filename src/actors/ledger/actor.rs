//! The ledger's lifecycle (nothing to open: files are written as they come).

use actix::prelude::*;

use super::Ledger;
use crate::status::State;

impl Actor for Ledger {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
        self.report_status();
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Stopped);
    }
}
