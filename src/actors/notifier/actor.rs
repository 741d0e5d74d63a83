//! The notifier's lifecycle: a look at the board every `notify.check_secs`.

use actix::prelude::*;
use serde_json::json;

use super::Notifier;
use crate::status::State;

impl Actor for Notifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.status.set_state(State::Running);
        self.publish();
        self.check(ctx);
        ctx.run_interval(self.settings.check, |act, ctx| act.check(ctx));
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.status.set_state(State::Stopped);
    }
}

impl Notifier {
    fn check(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now();
        let mut alerts = self.watch.look(&self.board.snapshot(), now);
        let (free, disk) = self.watch.disk(now);
        self.status.set("disk_free_bytes", json!(free));
        alerts.extend(disk);
        alerts.extend(self.watch.holidays(now));
        for alert in alerts {
            self.raise(alert, ctx);
        }
    }
}
