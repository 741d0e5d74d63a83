//! The notifier's lifecycle: a look at the board every `notify.check_secs`.

use actix::prelude::*;

use super::Notifier;
use crate::status::State;

impl Actor for Notifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
        self.report_status();
        self.check(ctx);
        ctx.run_interval(self.settings.check, |act, ctx| act.check(ctx));
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Stopped);
    }
}

/// A notifier stopped by a failure it cannot absorb restarts alone and looks at the board
/// again; its rate limit is on disk, and a mail that was being sent is not retried (the alert
/// is raised again while its cause lasts).
impl actix::Supervised for Notifier {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.in_flight = 0;
        self.restarts.restarted();
    }
}

crate::actors::children::supervised!(Notifier);
