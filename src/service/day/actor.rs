//! The day runner's lifecycle.

use actix::prelude::*;

use super::DayRunner;
use crate::status::State;

impl Actor for DayRunner {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
        self.status
            .set("role", serde_json::json!(self.role.as_str()));
    }
}
