//! The day runner's lifecycle.

use actix::prelude::*;

use super::DayRunner;
use crate::status::State;

impl Actor for DayRunner {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
        let role = self.role.as_str();
        self.status
            .report(|d: &mut crate::status::DayStatus| d.role = role.to_string());
    }
}
