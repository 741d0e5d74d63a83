//! What the coordinator and its children tell each other: a child restarted (counted against
//! the restart intensity), and "close and stay down" at the ordered shutdown. The coordinator
//! holds [`actix::Recipient`]s of these, never a child's concrete type.

use actix::prelude::*;

/// A child restarted.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ChildRestarted {
    /// Its name.
    pub name: String,
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
