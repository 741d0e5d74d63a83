//! The status board: every actor reports its state here, and SIGUSR1 (or `tickvault status`)
//! turns it into one log line per actor and `<data_dir>/status.json`.
//!
//! It is a shared registry rather than a message round-trip so that a wedged actor still shows
//! its last known state. Actors update only their own entry through a [`StatusHandle`].

pub mod entries;
pub mod histogram;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

pub use entries::*;
use histogram::{BATCH_ROWS, COMMIT_SECONDS};
use prometheus_client::metrics::histogram::Histogram;

/// Lifecycle states (fixed names: tools read them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Starting or connecting.
    Starting,
    /// Working.
    Running,
    /// Waiting to retry after a failure.
    Backoff,
    /// Stopped on purpose.
    Stopped,
    /// Given up.
    Failed,
}

impl State {
    /// Every state.
    pub const ALL: [State; 5] = [
        State::Starting,
        State::Running,
        State::Backoff,
        State::Stopped,
        State::Failed,
    ];

    /// The fixed name (as in `status.json`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
}

/// One actor's entry.
#[derive(Debug, Clone)]
pub struct ActorStatus {
    /// Whose it is.
    pub actor: Actor,
    /// `socket-1`, `persister`, … (the actor's fixed name).
    pub name: String,
    /// Current state.
    pub state: State,
    /// Restarts so far.
    pub restarts: u32,
    /// Last error, if any (never a secret).
    pub last_error: Option<String>,
    /// When the state last changed.
    pub since: DateTime<Utc>,
    /// The kind's own figures (empty until the actor first reports them).
    pub details: Details,
    /// Whether the actor has reported its figures yet: before, `status.json` shows none and
    /// typed readers find none (as when the entry had no keys).
    pub reported: bool,
}

impl ActorStatus {
    /// A new entry for `actor`, starting, with empty figures.
    pub fn new(actor: Actor) -> ActorStatus {
        ActorStatus {
            actor,
            name: actor.name(),
            state: State::Starting,
            restarts: 0,
            last_error: None,
            since: Utc::now(),
            details: Details::of(actor),
            reported: false,
        }
    }

    /// The figures, when they are of kind `T` and reported.
    pub fn details<T: Report>(&self) -> Option<&T> {
        T::of(&self.details).filter(|_| self.reported)
    }

    /// The figures as they appear in `status.json` (beside the common fields).
    pub fn fields(&self) -> Map<String, Value> {
        if !self.reported {
            return Map::new();
        }
        match serde_json::to_value(&self.details) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

/// An entry made by hand, for tests of what reads the board: `details` as in `status.json`.
#[cfg(test)]
pub(crate) fn sample(name: &str, state: State, details: Value) -> ActorStatus {
    fn of<T: Report + serde::de::DeserializeOwned>(v: Value) -> Details {
        serde_json::from_value::<T>(v).expect("figures").wrap()
    }
    let actor: Actor = name.parse().expect("an entry's name");
    let mut entry = ActorStatus::new(actor);
    entry.state = state;
    entry.reported = true;
    entry.details = match actor {
        Actor::Coordinator => of::<CoordinatorStatus>(details),
        Actor::Auth => of::<AuthStatus>(details),
        Actor::Instruments => of::<InstrumentsStatus>(details),
        Actor::Socket(_) => of::<SocketStatus>(details),
        Actor::Journal => of::<JournalStatus>(details),
        Actor::Persister => of::<PersisterStatus>(details),
        Actor::Publisher => of::<PublisherStatus>(details),
        Actor::Scheduler => of::<SchedulerStatus>(details),
        Actor::Eod => of::<EodStatus>(details),
        Actor::Consumer => of::<ConsumerStatus>(details),
        Actor::Day => of::<DayStatus>(details),
        Actor::Http => of::<HttpStatus>(details),
        Actor::Ledger => of::<LedgerStatus>(details),
        Actor::Notifier => of::<NotifierStatus>(details),
    };
    entry
}

/// One look at the board: every entry in the report's order (a slice of entries, with the
/// typed lookups of [`Entries`]).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every entry.
    pub actors: Vec<ActorStatus>,
}

impl std::ops::Deref for Snapshot {
    type Target = [ActorStatus];

    fn deref(&self) -> &[ActorStatus] {
        &self.actors
    }
}

/// Typed lookups over entries (a [`Snapshot`], or entries made by hand in tests).
pub trait Entries {
    /// The entry of `actor`.
    fn entry(&self, actor: Actor) -> Option<&ActorStatus>;

    /// The sockets' entries and figures, by number.
    fn sockets(&self) -> impl Iterator<Item = (&ActorStatus, &SocketStatus)>;

    /// The figures of `actor`, when it has an entry.
    fn details<T: Report>(&self, actor: Actor) -> Option<&T> {
        self.entry(actor).and_then(ActorStatus::details)
    }

    /// The scheduler's entry and figures, when there is one.
    fn scheduler(&self) -> Option<(&ActorStatus, &SchedulerStatus)> {
        let a = self.entry(Actor::Scheduler)?;
        Some((a, a.details()?))
    }

    /// Whether a trading day is being recorded: the scheduler's next event is the close;
    /// without a scheduler (`run --now`), always.
    fn day_recording(&self) -> bool {
        self.scheduler().is_none_or(|(_, s)| s.recording())
    }
}

impl Entries for [ActorStatus] {
    fn entry(&self, actor: Actor) -> Option<&ActorStatus> {
        self.iter().find(|a| a.actor == actor)
    }

    fn sockets(&self) -> impl Iterator<Item = (&ActorStatus, &SocketStatus)> {
        self.iter()
            .filter(|a| matches!(a.actor, Actor::Socket(_)))
            .filter_map(|a| Some((a, a.details::<SocketStatus>()?)))
    }
}

/// The histograms kept on the board (`/metrics`); handles observe into them.
#[derive(Debug, Clone)]
pub struct Histograms {
    /// Rows per committed batch.
    pub batch_rows: Histogram,
    /// Seconds to commit one batch.
    pub commit_seconds: Histogram,
}

impl Default for Histograms {
    fn default() -> Histograms {
        Histograms {
            batch_rows: Histogram::new(BATCH_ROWS.buckets.iter().copied()),
            commit_seconds: Histogram::new(COMMIT_SECONDS.buckets.iter().copied()),
        }
    }
}

/// All entries.
#[derive(Debug, Default)]
pub struct StatusBoard {
    entries: Mutex<BTreeMap<Actor, ActorStatus>>,
    histograms: Histograms,
}

impl StatusBoard {
    /// A new, empty board.
    pub fn new() -> Arc<StatusBoard> {
        Arc::new(StatusBoard::default())
    }

    /// A handle on `actor`'s entry that leaves an existing entry as it is (created as
    /// starting when there is none): for reporting into an entry another part also writes.
    pub fn existing_handle(self: &Arc<Self>, actor: Actor) -> StatusHandle {
        let handle = StatusHandle {
            board: self.clone(),
            actor,
        };
        handle.update(|_| {});
        handle
    }

    /// A handle for `actor`, registered as starting.
    pub fn handle(self: &Arc<Self>, actor: Actor) -> StatusHandle {
        let handle = StatusHandle {
            board: self.clone(),
            actor,
        };
        handle.update(|s| s.state = State::Starting);
        handle
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<Actor, ActorStatus>) -> R) -> R {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut entries)
    }

    /// The histograms (`/metrics`).
    pub fn histograms(&self) -> &Histograms {
        &self.histograms
    }

    /// A copy of one entry.
    pub fn get(&self, actor: Actor) -> Option<ActorStatus> {
        self.with(|e| e.get(&actor).cloned())
    }

    /// A copy of the entry called `name` (`socket-2`, `persister`, …).
    pub fn named(&self, name: &str) -> Option<ActorStatus> {
        self.get(name.parse().ok()?)
    }

    /// Every entry, in the report's order ([`Actor`]'s).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            actors: self.with(|e| e.values().cloned().collect()),
        }
    }

    /// The status report as JSON: `generated_at` and an `actors` array.
    pub fn to_json(&self, now: DateTime<Utc>) -> Value {
        let actors: Vec<Value> = self
            .snapshot()
            .actors
            .into_iter()
            .map(|s| {
                let mut obj = Map::new();
                obj.insert("name".into(), json!(s.name));
                obj.insert("state".into(), json!(s.state));
                obj.insert("restarts".into(), json!(s.restarts));
                obj.insert("last_error".into(), json!(s.last_error));
                obj.insert("since".into(), json!(crate::calendar::ist_rfc3339(s.since)));
                obj.extend(s.fields());
                Value::Object(obj)
            })
            .collect();
        json!({ "generated_at": crate::calendar::ist_rfc3339(now), "actors": actors })
    }

    /// Writes the report to `path` atomically (a temporary file renamed over it).
    pub fn write_json(&self, path: &Path, now: DateTime<Utc>) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json(now))?;
        crate::files::write_atomically(path, text.as_bytes())
    }

    /// The status report: one log line per actor and `path` rewritten (what SIGUSR1 does);
    /// a file that cannot be written is logged, never fatal.
    pub fn dump(&self, path: &Path) {
        self.log();
        if let Err(e) = self.write_json(path, Utc::now()) {
            tracing::error!(path = %path.display(), error = %e, "cannot write the status report");
        }
    }

    /// One INFO line per actor.
    pub fn log(&self) {
        for s in self.snapshot().actors {
            let details = Value::Object(s.fields());
            tracing::info!(
                actor = %s.name,
                state = ?s.state,
                restarts = s.restarts,
                last_error = s.last_error.as_deref().unwrap_or(""),
                details = %details,
                "status"
            );
        }
    }
}

/// An actor's handle on its own entry.
#[derive(Debug, Clone)]
pub struct StatusHandle {
    board: Arc<StatusBoard>,
    actor: Actor,
}

impl StatusHandle {
    /// Whose entry it is.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    fn update(&self, f: impl FnOnce(&mut ActorStatus)) {
        self.board.with(|e| {
            let entry = e
                .entry(self.actor)
                .or_insert_with(|| ActorStatus::new(self.actor));
            f(entry)
        })
    }

    /// Moves to `state` (the `since` time changes only when the state does).
    pub fn set_state(&self, state: State) {
        self.update(|s| {
            if s.state != state {
                s.state = state;
                s.since = Utc::now();
            }
        });
    }

    /// Records an error and moves to `state`.
    pub fn fail(&self, state: State, error: &str) {
        self.update(|s| {
            s.last_error = Some(error.to_string());
            if s.state != state {
                s.state = state;
                s.since = Utc::now();
            }
        });
    }

    /// Counts a restart.
    pub fn restarted(&self) {
        self.update(|s| s.restarts += 1);
    }

    /// Changes the entry's figures (of the kind its actor reports: a socket's
    /// [`SocketStatus`], …).
    pub fn report<T: Report>(&self, f: impl FnOnce(&mut T)) {
        self.update(|s| {
            if T::of(&s.details).is_none() {
                debug_assert!(false, "{} reports figures of another kind", s.name);
                s.details = T::default().wrap();
            }
            if let Some(figures) = T::of_mut(&mut s.details) {
                f(figures);
                s.reported = true;
            }
        });
    }

    /// Counts `value` in one of the board's [`Histograms`].
    pub fn observe(&self, histogram: impl FnOnce(&Histograms) -> &Histogram, value: f64) {
        histogram(&self.board.histograms).observe(value);
    }

    /// The current entry.
    pub fn get(&self) -> Option<ActorStatus> {
        self.board.get(self.actor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_lists_actors_in_order_with_their_fields() {
        let board = StatusBoard::new();
        let p = board.handle(Actor::Persister);
        let s2 = board.handle(Actor::Socket(2));
        let s10 = board.handle(Actor::Socket(10));
        board.handle(Actor::Coordinator).set_state(State::Running);
        s2.fail(State::Backoff, "remote closed");
        s2.restarted();
        s10.report(|s: &mut SocketStatus| s.ticks = 5);
        p.report(|s: &mut PersisterStatus| {
            s.committed_rows = 10;
            s.lag_ms = 3;
        });
        let v = board.to_json(Utc::now());
        let names: Vec<&str> = v["actors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["coordinator", "socket-2", "socket-10", "persister"]);
        assert_eq!(v["actors"][1]["state"], "backoff");
        assert_eq!(v["actors"][1]["restarts"], 1);
        assert_eq!(v["actors"][1]["last_error"], "remote closed");
        assert_eq!(v["actors"][2]["ticks"], 5);
        assert_eq!(v["actors"][3]["committed_rows"], 10);
        assert_eq!(v["actors"][3]["last_commit_at"], Value::Null);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        board.write_json(&path, Utc::now()).unwrap();
        let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["actors"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn an_entry_has_no_figures_until_its_actor_reports_them() {
        let board = StatusBoard::new();
        let instruments = board.handle(Actor::Instruments);
        let entry = board.get(Actor::Instruments).unwrap();
        assert!(entry.fields().is_empty(), "{:?}", entry.fields());
        assert!(entry.details::<InstrumentsStatus>().is_none());
        instruments.report(|i: &mut InstrumentsStatus| i.instruments = 13);
        let entry = board.get(Actor::Instruments).unwrap();
        assert_eq!(entry.fields()["instruments"], 13);
        assert_eq!(entry.fields()["plan"], Value::Null);
        assert_eq!(
            entry.details::<InstrumentsStatus>().map(|i| i.instruments),
            Some(13)
        );
    }

    #[test]
    fn names_and_actors_round_trip() {
        for a in [
            Actor::Socket(12),
            Actor::Eod,
            Actor::Notifier,
            Actor::Coordinator,
        ] {
            assert_eq!(a.name().parse::<Actor>(), Ok(a));
        }
        assert!("socket-x".parse::<Actor>().is_err());
        assert!("nobody".parse::<Actor>().is_err());
    }

    #[test]
    fn the_end_of_day_entry_is_empty_before_a_run_and_keeps_nulls_after_a_failure() {
        let board = StatusBoard::new();
        board.handle(Actor::Eod);
        let fields = board.get(Actor::Eod).unwrap().fields();
        assert!(fields.is_empty(), "{fields:?}");
        board.handle(Actor::Eod).report(|e: &mut EodStatus| {
            e.outcome = Some(EodOutcome {
                result: "failed".into(),
                ..Default::default()
            });
        });
        let fields = board.get(Actor::Eod).unwrap().fields();
        assert_eq!(fields["result"], "failed");
        assert_eq!(fields["master_rows"], Value::Null);
    }

    #[test]
    fn the_last_event_is_one_string_on_the_wire() {
        let s = SchedulerStatus {
            last_event: Some(LastEvent {
                event: "login".into(),
                result: "failed: refused".into(),
            }),
            ..Default::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["last_event"], "login: failed: refused");
        let back: SchedulerStatus = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}
