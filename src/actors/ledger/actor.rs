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

/// A ledger stopped by a failure it cannot absorb restarts alone; what it counted is kept (the
/// gaps and snapshot it wrote are on disk).
impl actix::Supervised for Ledger {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.restarts.restarted();
    }
}

crate::actors::children::supervised!(Ledger);
