//! The journal's timers: hand buffered frames to the OS and tell the sink how far each file
//! reaches (at most one catch-up in flight), and its counters in the status.

use actix::prelude::*;

use super::Journal;
use crate::actors::sink::Catchup;
use crate::status::JournalStatus;

impl Journal {
    /// Its counters in its status entry (from the start, so a report never lacks them).
    pub(super) fn report_status(&self) {
        let mut failing: Vec<i16> = self.failing.keys().copied().collect();
        failing.sort_unstable();
        self.status.report(|j: &mut JournalStatus| {
            j.failing_sockets = failing;
            j.bytes = self.bytes;
            j.records = self.records;
            j.failed_appends = self.failed_appends;
            j.publish_dropped = self.publish_dropped;
        });
    }

    /// Hands buffered frames to the OS and tells the persister how far each file reaches.
    pub(super) fn flush_and_notify(&mut self, ctx: &mut Context<Self>) {
        for (socket, (generation, w)) in &mut self.writers {
            // Appends flush each frame (their errors are counted there); this is a no-op.
            if let Err(e) = w.flush() {
                tracing::debug!(socket, error = %e, "cannot flush the journal");
            }
            self.ends.insert(
                crate::capture::JournalKey::new(*socket, *generation),
                w.position(),
            );
        }
        let ends = self.ends.clone();
        self.log_failing();
        self.report_status();
        if self.catchup_in_flight
            || ends
                .iter()
                .all(|(s, end)| self.notified.get(s) == Some(end))
        {
            return;
        }
        self.catchup_in_flight = true;
        self.notified = ends.clone();
        self.persister
            .send(Catchup { ends })
            .into_actor(self)
            .map(|_, act, _| act.catchup_in_flight = false)
            .spawn(ctx);
    }
}
