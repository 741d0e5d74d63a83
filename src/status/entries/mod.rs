//! What each actor reports: one `Serialize` struct per kind of entry, the contract between the
//! actors that write the board and everything that reads it (readiness, the watchdog, the alert
//! rules, `/metrics`, the demo). A field renamed here is renamed for every reader at compile
//! time; the names serialized are `status.json`'s, fixed (tools read them).
//!
//! Timestamps are kept as UTC and written as IST RFC 3339, as everywhere in the reports.

mod control;
mod data;
mod ist;

use serde::Serialize;

pub use control::*;
pub use data::*;

/// Who an entry belongs to. The order is the report's: coordinator, auth, instruments, the
/// sockets by number, journal, persister, publisher, scheduler, end of day, then the rest by
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Actor {
    /// `coordinator`.
    Coordinator,
    /// `auth`.
    Auth,
    /// `instruments`.
    Instruments,
    /// `socket-N`.
    Socket(u16),
    /// `journal`.
    Journal,
    /// `persister`.
    Persister,
    /// `publisher`.
    Publisher,
    /// `scheduler`.
    Scheduler,
    /// `eod`.
    Eod,
    /// `consumer` (the store role).
    Consumer,
    /// `day` (the day runner).
    Day,
    /// `http` (the endpoint).
    Http,
    /// `ledger` (the ingest role's sink).
    Ledger,
    /// `notifier`.
    Notifier,
}

impl Actor {
    /// The entry's fixed name (`socket-2`, `persister`, …).
    pub fn name(self) -> String {
        self.to_string()
    }

    fn fixed_name(self) -> &'static str {
        match self {
            Actor::Coordinator => "coordinator",
            Actor::Auth => "auth",
            Actor::Instruments => "instruments",
            Actor::Socket(_) => "socket",
            Actor::Journal => "journal",
            Actor::Persister => "persister",
            Actor::Publisher => "publisher",
            Actor::Scheduler => "scheduler",
            Actor::Eod => "eod",
            Actor::Consumer => "consumer",
            Actor::Day => "day",
            Actor::Http => "http",
            Actor::Ledger => "ledger",
            Actor::Notifier => "notifier",
        }
    }

    const NAMED: [Actor; 13] = [
        Actor::Coordinator,
        Actor::Auth,
        Actor::Instruments,
        Actor::Journal,
        Actor::Persister,
        Actor::Publisher,
        Actor::Scheduler,
        Actor::Eod,
        Actor::Consumer,
        Actor::Day,
        Actor::Http,
        Actor::Ledger,
        Actor::Notifier,
    ];
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Socket(n) => write!(f, "socket-{n}"),
            other => f.write_str(other.fixed_name()),
        }
    }
}

/// A name no status entry has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no status entry is called {0}")]
pub struct UnknownActor(pub String);

impl std::str::FromStr for Actor {
    type Err = UnknownActor;

    /// An entry's name back to its actor (`socket-3` → `Socket(3)`).
    fn from_str(s: &str) -> Result<Actor, UnknownActor> {
        let unknown = || UnknownActor(s.to_string());
        if let Some(n) = s.strip_prefix("socket-") {
            return n.parse().map(Actor::Socket).map_err(|_| unknown());
        }
        Actor::NAMED
            .into_iter()
            .find(|a| a.fixed_name() == s)
            .ok_or_else(unknown)
    }
}

/// What an entry holds beyond its state: the kind's own figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum Details {
    Coordinator(CoordinatorStatus),
    Auth(AuthStatus),
    Instruments(InstrumentsStatus),
    Socket(SocketStatus),
    Journal(JournalStatus),
    Persister(PersisterStatus),
    Publisher(PublisherStatus),
    Scheduler(SchedulerStatus),
    Eod(EodStatus),
    Consumer(ConsumerStatus),
    Day(DayStatus),
    Http(HttpStatus),
    Ledger(LedgerStatus),
    Notifier(NotifierStatus),
}

impl Details {
    /// The empty figures of `actor`'s kind.
    pub fn of(actor: Actor) -> Details {
        match actor {
            Actor::Coordinator => Details::Coordinator(Default::default()),
            Actor::Auth => Details::Auth(Default::default()),
            Actor::Instruments => Details::Instruments(Default::default()),
            Actor::Socket(_) => Details::Socket(Default::default()),
            Actor::Journal => Details::Journal(Default::default()),
            Actor::Persister => Details::Persister(Default::default()),
            Actor::Publisher => Details::Publisher(Default::default()),
            Actor::Scheduler => Details::Scheduler(Default::default()),
            Actor::Eod => Details::Eod(Default::default()),
            Actor::Consumer => Details::Consumer(Default::default()),
            Actor::Day => Details::Day(Default::default()),
            Actor::Http => Details::Http(Default::default()),
            Actor::Ledger => Details::Ledger(Default::default()),
            Actor::Notifier => Details::Notifier(Default::default()),
        }
    }
}

/// A kind of figures: what [`super::StatusHandle::report`] writes and
/// [`super::ActorStatus::details`] reads.
pub trait Report: Default + Serialize + Sized {
    /// These figures in `d`, when `d` is of this kind.
    fn of(d: &Details) -> Option<&Self>;
    /// The same, to change.
    fn of_mut(d: &mut Details) -> Option<&mut Self>;
    /// Wrapped as details.
    fn wrap(self) -> Details;
}

/// `Report` for each kind: the enum's variant in and out (a match per kind, written once).
macro_rules! report {
    ($($variant:ident => $ty:ty),* $(,)?) => {$(
        impl Report for $ty {
            fn of(d: &Details) -> Option<&Self> {
                match d {
                    Details::$variant(s) => Some(s),
                    _ => None,
                }
            }
            fn of_mut(d: &mut Details) -> Option<&mut Self> {
                match d {
                    Details::$variant(s) => Some(s),
                    _ => None,
                }
            }
            fn wrap(self) -> Details {
                Details::$variant(self)
            }
        }
    )*};
}

report! {
    Coordinator => CoordinatorStatus,
    Auth => AuthStatus,
    Instruments => InstrumentsStatus,
    Socket => SocketStatus,
    Journal => JournalStatus,
    Persister => PersisterStatus,
    Publisher => PublisherStatus,
    Scheduler => SchedulerStatus,
    Eod => EodStatus,
    Consumer => ConsumerStatus,
    Day => DayStatus,
    Http => HttpStatus,
    Ledger => LedgerStatus,
    Notifier => NotifierStatus,
}
