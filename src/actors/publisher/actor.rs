//! The publisher's lifecycle: connect at the start, flush and watch the lag on timers, a last
//! flush at the stop (the Redis side is in `send.rs`).

use std::time::Duration;

use actix::prelude::*;

use super::Publisher;
use crate::status::State;

/// How often the consumer groups' lag is read.
const LAG_EVERY: Duration = Duration::from_secs(5);

impl Actor for Publisher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Frames queue in the mailbox only while this thread is busy; the buffer takes the rest.
        ctx.set_mailbox_capacity(4096);
        self.status.set_state(State::Starting);
        self.report_status();
        self.connect(ctx);
        ctx.run_interval(LAG_EVERY, |act, ctx| act.check_lag(ctx));
        ctx.run_interval(Duration::from_secs(1), |act, _| act.report_status());
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if !self.buffer.is_empty() {
            tracing::warn!(
                unpublished = self.buffer.len(),
                "stopping with ticks not yet in Redis (the journal and the database have them)"
            );
        }
        self.status.set_state(State::Stopped);
        self.report_status();
    }
}

/// A publisher stopped by a failure it cannot absorb restarts alone with its buffer: the
/// batches sent and not answered go back to its front, in order, with the failed ones (at least
/// once: one may have reached Redis, and the stores key rows by journal position), and the
/// connection is made again.
impl actix::Supervised for Publisher {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        let unanswered = std::mem::take(&mut self.sent);
        self.failed.extend(unanswered);
        self.requeue_failed();
        self.in_flight = 0;
        self.busy = false;
        self.conn = None;
        // A new connection, not Redis coming back: not counted as a reconnect.
        self.up = false;
        self.was_up = false;
        self.views.forget_ttls();
        self.restarts.restarted();
    }
}

crate::actors::children::supervised!(Publisher);
