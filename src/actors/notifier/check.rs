//! The notifier's periodic look at the board (every `notify.check_secs`).

use actix::prelude::*;

use super::Notifier;

impl Notifier {
    pub(super) fn check(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now();
        let mut alerts = self.watch.look(&self.board.snapshot(), now);
        let (free, disk) = self.watch.disk(now);
        self.status
            .report(|n: &mut crate::status::NotifierStatus| n.disk_free_bytes = free);
        alerts.extend(disk);
        alerts.extend(self.watch.holidays(now));
        for alert in alerts {
            self.raise(alert, ctx);
        }
    }
}
