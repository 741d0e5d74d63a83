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
/// again; the mails being sent go on beside it (their outcome reaches the restarted one), and
/// what it has told and its rate limit are kept.
impl actix::Supervised for Notifier {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.restarts.restarted();
    }
}

crate::actors::children::supervised!(Notifier);
