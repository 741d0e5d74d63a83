//! What the coordinator and its children tell each other: a child restarted (counted against
//! the restart intensity), and "close and stay down" at the ordered shutdown. The coordinator
//! holds [`actix::Recipient`]s of these, never a child's concrete type.
//!
//! Every long-lived actor runs under a supervisor (an actix `Supervisor`, or a `SyncArbiter`
//! whose factory makes the next one): a failure it cannot absorb stops it, and it restarts
//! alone. [`Restarts`] is how a child reports that: a line in its status entry and a
//! [`ChildRestarted`] to whoever counts restarts against the [`Intensity`] rule (the day's
//! coordinator for the pipeline's actors, the service's day runner for auth, instruments and
//! the scheduler).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::status::StatusHandle;

/// A child restarted.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ChildRestarted {
    /// Its name.
    pub name: String,
}

/// How a supervised child reports a restart: its status entry counts it, and the counter of
/// restarts hears of it once it exists (it is often made after the child).
#[derive(Clone)]
pub struct Restarts {
    status: StatusHandle,
    counter: Arc<OnceLock<Recipient<ChildRestarted>>>,
}

impl Restarts {
    /// Restarts reported into `status`'s entry.
    pub fn new(status: &StatusHandle) -> Restarts {
        Restarts {
            status: status.clone(),
            counter: Arc::new(OnceLock::new()),
        }
    }

    /// From now on each restart is also told to `counter` (the first one given stays).
    pub fn count_with(&self, counter: Recipient<ChildRestarted>) {
        let _ = self.counter.set(counter);
    }

    /// The child restarted.
    pub fn restarted(&self) {
        self.status.restarted();
        let name = self.status.actor().name();
        tracing::warn!(actor = %name, "restarted by its supervisor");
        if let Some(counter) = self.counter.get() {
            counter.do_send(ChildRestarted { name });
        }
    }
}

/// The restart intensity rule: more than `limit` restarts of one child within `period` is a
/// storm, and the process escalates (exits for systemd to restart it).
#[derive(Debug)]
pub struct Intensity {
    limit: u32,
    period: Duration,
    seen: HashMap<String, VecDeque<Instant>>,
}

impl Intensity {
    /// The rule: at most `limit` restarts per child within `period`.
    pub fn new(limit: u32, period: Duration) -> Intensity {
        Intensity {
            limit,
            period,
            seen: HashMap::new(),
        }
    }

    /// Counts a restart of `name` at `now`; true when it exceeds the limit.
    pub fn exceeded(&mut self, name: &str, now: Instant) -> bool {
        let window = self.seen.entry(name.to_string()).or_default();
        window.push_back(now);
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.period)
        {
            window.pop_front();
        }
        window.len() as u32 > self.limit
    }

    /// Why it escalates, for `name`.
    pub fn why(&self, name: &str) -> String {
        format!(
            "{name} restarted more than {} times in {} s",
            self.limit,
            self.period.as_secs()
        )
    }
}

/// Closes the connection cleanly and stays down; answers once the connection has ended (or
/// after `wait`), so that everything it received is in the journal.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ShutdownSocket {
    /// How long to wait for the close handshake.
    pub wait: std::time::Duration,
}

/// Tells a supervised child where to report its restarts (the coordinator, which is made after
/// the child it stops in order).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Supervise(pub Recipient<ChildRestarted>);

/// Tests (`test-hooks`): the child stops as a failure it cannot absorb would stop it; its
/// supervisor restarts it.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Crash;

/// A supervised child's two handlers: [`Supervise`] (where its restarts are counted, into its
/// `restarts: Restarts` field) and, for tests, [`Crash`] (it stops as a failure it cannot absorb
/// would stop it).
macro_rules! supervised {
    ($ty:ty) => {
        impl actix::Handler<$crate::actors::children::Supervise> for $ty {
            type Result = ();

            fn handle(
                &mut self,
                msg: $crate::actors::children::Supervise,
                _ctx: &mut Self::Context,
            ) {
                self.restarts.count_with(msg.0);
            }
        }

        #[cfg(feature = "test-hooks")]
        impl actix::Handler<$crate::actors::children::Crash> for $ty {
            type Result = ();

            fn handle(&mut self, _msg: $crate::actors::children::Crash, ctx: &mut Self::Context) {
                tracing::warn!(actor = stringify!($ty), "stopping as a test asked");
                actix::ActorContext::stop(ctx);
            }
        }
    };
}
pub(crate) use supervised;
