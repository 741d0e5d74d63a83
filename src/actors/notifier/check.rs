//! The notifier's periodic look at the board (every `notify.check_secs`).

use actix::prelude::*;
use serde_json::json;

use super::Notifier;

impl Notifier {
    pub(super) fn check(&mut self, ctx: &mut Context<Self>) {
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
