//! The status board: every actor reports its state here, and SIGUSR1 (or `tickvault status`)
//! turns it into one log line per actor and `<data_dir>/status.json`.
//!
//! It is a shared registry rather than a message round-trip so that a wedged actor still shows
//! its last known state. Actors update only their own entry through a [`StatusHandle`].

pub mod histogram;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use histogram::{Histogram, HistogramSpec};

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
    /// `socket-1`, `persister`, …
    pub name: String,
    /// Current state.
    pub state: State,
    /// Restarts so far.
    pub restarts: u32,
    /// Last error, if any (never a secret).
    pub last_error: Option<String>,
    /// When the state last changed.
    pub since: DateTime<Utc>,
    /// Kind-specific fields (`ticks`, `committed_rows`, …).
    pub details: Map<String, Value>,
}

impl ActorStatus {
    /// A detail as a number (absent, null or not a number: `None`).
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.details.get(key).and_then(Value::as_f64)
    }

    /// A detail as a count (absent or not a count: 0).
    pub fn count(&self, key: &str) -> u64 {
        self.details.get(key).and_then(Value::as_u64).unwrap_or(0)
    }

    /// A detail as text.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.details.get(key).and_then(Value::as_str)
    }
}

/// An entry made by hand, for tests of what reads the board.
#[cfg(test)]
pub(crate) fn sample(name: &str, state: State, details: Value) -> ActorStatus {
    ActorStatus {
        name: name.into(),
        state,
        restarts: 0,
        last_error: None,
        since: Utc::now(),
        details: details.as_object().cloned().unwrap_or_default(),
    }
}

/// Whether a trading day is being recorded, judged from a board snapshot: the scheduler's next
/// event is the close; without a scheduler (`run --now`), always.
pub fn day_recording(actors: &[ActorStatus]) -> bool {
    actors
        .iter()
        .find(|a| a.name == "scheduler")
        .is_none_or(|s| s.text("next_event") == Some("close"))
}

/// All entries.
#[derive(Debug, Default)]
pub struct StatusBoard {
    entries: Mutex<BTreeMap<String, ActorStatus>>,
    histograms: Mutex<BTreeMap<&'static str, Histogram>>,
}

impl StatusBoard {
    /// A new, empty board.
    pub fn new() -> Arc<StatusBoard> {
        Arc::new(StatusBoard::default())
    }

    /// A handle on the entry `name` that leaves an existing entry as it is (created as
    /// starting when there is none): for reporting into an entry another part also writes.
    pub fn existing_handle(self: &Arc<Self>, name: &str) -> StatusHandle {
        let handle = StatusHandle {
            board: self.clone(),
            name: name.to_string(),
        };
        handle.update(|_| {});
        handle
    }

    /// A handle for the actor called `name`, registered as starting.
    pub fn handle(self: &Arc<Self>, name: &str) -> StatusHandle {
        let handle = StatusHandle {
            board: self.clone(),
            name: name.to_string(),
        };
        handle.update(|s| s.state = State::Starting);
        handle
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<String, ActorStatus>) -> R) -> R {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut entries)
    }

    /// A copy of the histograms (`/metrics`).
    pub fn histograms(&self) -> BTreeMap<&'static str, Histogram> {
        self.histograms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A copy of one entry.
    pub fn get(&self, name: &str) -> Option<ActorStatus> {
        self.with(|e| e.get(name).cloned())
    }

    /// Every entry, in a stable order: coordinator, auth, instruments, sockets, then the rest.
    pub fn snapshot(&self) -> Vec<ActorStatus> {
        let mut all: Vec<ActorStatus> = self.with(|e| e.values().cloned().collect());
        let rank = |n: &str| match n {
            "coordinator" => (0, 0),
            "auth" => (1, 0),
            "instruments" => (2, 0),
            s if s.starts_with("socket-") => (3, s[7..].parse::<u32>().unwrap_or(0)),
            "journal" => (4, 0),
            "persister" => (5, 0),
            "publisher" => (6, 0),
            "scheduler" => (7, 0),
            "eod" => (8, 0),
            _ => (9, 0),
        };
        all.sort_by_key(|s| (rank(&s.name), s.name.clone()));
        all
    }

    /// The status report as JSON: `generated_at` and an `actors` array.
    pub fn to_json(&self, now: DateTime<Utc>) -> Value {
        let actors: Vec<Value> = self
            .snapshot()
            .into_iter()
            .map(|s| {
                let mut obj = Map::new();
                obj.insert("name".into(), json!(s.name));
                obj.insert("state".into(), json!(s.state));
                obj.insert("restarts".into(), json!(s.restarts));
                obj.insert("last_error".into(), json!(s.last_error));
                obj.insert("since".into(), json!(crate::calendar::ist_rfc3339(s.since)));
                obj.extend(s.details);
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
        for s in self.snapshot() {
            let details = Value::Object(s.details);
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
    name: String,
}

impl StatusHandle {
    /// The actor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn update(&self, f: impl FnOnce(&mut ActorStatus)) {
        self.board.with(|e| {
            let entry = e.entry(self.name.clone()).or_insert_with(|| ActorStatus {
                name: self.name.clone(),
                state: State::Starting,
                restarts: 0,
                last_error: None,
                since: Utc::now(),
                details: Map::new(),
            });
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

    /// Sets a kind-specific field.
    pub fn set(&self, key: &str, value: Value) {
        self.update(|s| {
            s.details.insert(key.to_string(), value);
        });
    }

    /// Sets several fields at once.
    pub fn set_all(&self, fields: impl IntoIterator<Item = (&'static str, Value)>) {
        self.update(|s| {
            for (k, v) in fields {
                s.details.insert(k.to_string(), v);
            }
        });
    }

    /// Counts `value` in the histogram `spec` (created on first use).
    pub fn observe(&self, spec: &'static HistogramSpec, value: f64) {
        self.board
            .histograms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(spec.name)
            .or_insert_with(|| Histogram::new(spec.buckets))
            .observe(value);
    }

    /// The current entry.
    pub fn get(&self) -> Option<ActorStatus> {
        self.board.get(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_lists_actors_in_order_with_their_fields() {
        let board = StatusBoard::new();
        let p = board.handle("persister");
        let s2 = board.handle("socket-2");
        let s10 = board.handle("socket-10");
        board.handle("coordinator").set_state(State::Running);
        s2.fail(State::Backoff, "remote closed");
        s2.restarted();
        s10.set("ticks", json!(5));
        p.set_all([("committed_rows", json!(10)), ("lag_ms", json!(3))]);
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
        assert_eq!(v["actors"][3]["committed_rows"], 10);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        board.write_json(&path, Utc::now()).unwrap();
        let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["actors"].as_array().unwrap().len(), 4);
    }
}
