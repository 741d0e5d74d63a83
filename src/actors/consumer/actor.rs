//! The consumer's lifecycle: the read loop runs as one future on the actor's arbiter; the
//! status is refreshed every second.

use std::time::Duration;

use actix::prelude::*;

use super::{Consumer, Loop};
use crate::status::State;

impl Actor for Consumer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.status.set_state(State::Starting);
        self.report_status();
        let run = Loop {
            stream: self.settings.stream_key(),
            settings: self.settings.clone(),
            name: self.name.clone(),
            persister: self.persister.clone(),
            snapshots: self.snapshots.clone(),
            dates: Default::default(),
            snapshot_checked: None,
            status: self.status.clone(),
            counters: self.counters.clone(),
            stop: self.stop.subscribe(),
            stop_before_ack: self.stop_before_ack,
        }
        .run();
        ctx.spawn(run.into_actor(self).map(|(), act, _| {
            act.status.set_state(State::Stopped);
            act.report_status();
            act.done.send_replace(true);
        }));
        ctx.run_interval(Duration::from_secs(1), |act, _| act.report_status());
    }
}

/// A consumer stopped by a failure it cannot absorb restarts alone: its read loop starts again
/// with its own pending entries (read, not yet acknowledged: their rows may be committed, and
/// rows are keyed by journal position, so nothing doubles).
impl actix::Supervised for Consumer {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.counters
            .in_flight
            .store(0, std::sync::atomic::Ordering::Relaxed);
        self.restarts.restarted();
    }
}

crate::actors::children::supervised!(Consumer);
