//! The journal actor's lifecycle: flush and fsync timers.

use std::time::Instant;

use actix::prelude::*;
use serde_json::json;

use super::Journal;
use crate::actors::sink::Catchup;
use crate::status::State;

impl Journal {
    /// Its counters in its status entry (from the start, so a report never lacks them).
    fn report_status(&self) {
        self.status.set_all([
            (
                "failing_sockets",
                json!(self.failing.keys().collect::<Vec<_>>()),
            ),
            ("bytes", json!(self.bytes)),
            ("records", json!(self.records)),
            ("failed_appends", json!(self.failed_appends)),
            ("publish_dropped", json!(self.publish_dropped)),
        ]);
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

impl Actor for Journal {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Frames arrive in bursts: a large mailbox, but never a silent drop (see socket).
        ctx.set_mailbox_capacity(65_536);
        self.status.set_state(State::Running);
        self.report_status();
        ctx.run_interval(self.flush_every, |act, ctx| act.flush_and_notify(ctx));
        ctx.run_interval(self.fsync_every, |act, _| {
            let now = Instant::now();
            for (socket, (_, w)) in &mut act.writers {
                if let Err(e) = w.sync_if_due(now) {
                    tracing::error!(socket, error = %e, "cannot fsync the journal");
                }
            }
        });
    }

    fn stopping(&mut self, _ctx: &mut Self::Context) -> Running {
        for (socket, (_, w)) in &mut self.writers {
            if let Err(e) = w.sync() {
                tracing::error!(socket, error = %e, "cannot sync the journal at stop");
            }
        }
        self.status.set_state(State::Stopped);
        Running::Stop
    }
}
