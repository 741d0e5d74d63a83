//! The socket actor: one instance per planned WebSocket connection (`socket-1`, `socket-2`, …),
//! each supervised and restarting on its own.
//!
//! A connection is a small state machine: get a token from auth, connect (with a timeout),
//! subscribe the whole plan in batches and set the modes, then read. Every received message goes
//! to the journal first, unparsed; then it is decoded to count ticks (a malformed message is
//! counted and logged, and the socket carries on). Liveness: any frame, heartbeats included,
//! resets the stall timer; silence for `stall_ms` means the connection is dead. The socket never
//! does database or Redis I/O, and its failures never touch the other sockets.
//!
//! Failures are decisions ([`Failure`]): a 403 at the upgrade asks auth for a new token, a 429
//! backs off hard, a network error or a drop backs off exponentially with jitter (1 s → 60 s).
//! Each interval without delivery goes into the gap ledger.
//!
//! Messages: [`handlers::ShutdownSocket`]. Talks to: auth, the journal, the persister (gaps),
//! the coordinator (restarts).

pub mod actor;
mod connect;
pub mod handlers;
mod liveness;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actix::io::SinkWrite;
use actix::prelude::*;
use actix_codec::Framed;
use awc::BoxedSocket;
use awc::ws::{Codec, Message as WsMessage};
use chrono::NaiveDate;
use futures_util::stream::SplitSink;

use crate::actors::auth::Auth;
use crate::actors::children::ChildRestarted;
use crate::actors::journal::handlers::Append;
use crate::actors::sink::RecordGap;
use crate::kite::{ClientRequest, Mode};
use crate::plan::SocketPlan;
use crate::settings::pipeline::SocketSettings;
use crate::status::StatusHandle;

/// Why a connection ended or could not be made; each is a decision about what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// HTTP 403 at the upgrade: the token is dead; get a new one.
    #[error("the upgrade was refused with 403 (token rejected)")]
    AuthRejected,
    /// HTTP 429 at the upgrade: too many connections for the key; back off hard.
    #[error("the upgrade was refused with 429 (too many connections)")]
    TooManyConnections,
    /// No token could be had.
    #[error("no access token: {0}")]
    NoToken(String),
    /// The server closed the connection (with or without a close frame).
    #[error("the server closed the connection")]
    RemoteClosed,
    /// Nothing arrived for the stall timeout.
    #[error("no frame for {0} ms")]
    Stalled(u64),
    /// Connect failed or the connection broke (refused, reset, timeout, protocol error).
    #[error("network: {0}")]
    Network(String),
}

impl Failure {
    /// The key this failure is counted under in `reconnects_by_cause`.
    pub fn cause(&self) -> &'static str {
        match self {
            Failure::AuthRejected => "auth_rejected",
            Failure::TooManyConnections => "too_many_connections",
            Failure::NoToken(_) => "no_token",
            Failure::RemoteClosed => "remote_closed",
            Failure::Stalled(_) => "stalled",
            Failure::Network(_) => "network",
        }
    }
}

/// The delay before reconnect attempt `attempt` (1-based) after `failure`: exponential from
/// `initial` to `max` with ±20 % jitter; after a 429, `rate_limited`; after a rejected token,
/// short (auth logs in again first).
pub fn backoff(failure: &Failure, attempt: u32, s: &SocketSettings, jitter: f64) -> Duration {
    let base = match failure {
        Failure::TooManyConnections => return Duration::from_millis(s.rate_limited_backoff_ms),
        Failure::AuthRejected if attempt <= 1 => Duration::from_millis(s.backoff_initial_ms / 4),
        _ => crate::backoff::Backoff::new(
            Duration::from_millis(s.backoff_initial_ms),
            Duration::from_millis(s.backoff_max_ms),
        )
        .nth(attempt),
    };
    crate::backoff::jittered(base, 0.2, jitter)
}

/// The subscribe and mode messages for a plan, in batches of `batch` tokens.
pub fn subscription_messages(tokens: &[(u32, Mode)], batch: usize) -> Vec<String> {
    let batch = batch.max(1);
    let all: Vec<u32> = tokens.iter().map(|(t, _)| *t).collect();
    let mut out: Vec<String> = all
        .chunks(batch)
        .map(|c| ClientRequest::Subscribe(c.to_vec()).to_json())
        .collect();
    let mut by_mode: BTreeMap<Mode, Vec<u32>> = BTreeMap::new();
    for (t, m) in tokens {
        by_mode.entry(*m).or_default().push(*t);
    }
    for (mode, list) in by_mode {
        out.extend(
            list.chunks(batch)
                .map(|c| ClientRequest::Mode(mode, c.to_vec()).to_json()),
        );
    }
    out
}

type WsSink = SinkWrite<WsMessage, SplitSink<Framed<BoxedSocket, Codec>, WsMessage>>;

/// Counters shown in status.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// Messages received.
    pub frames: u64,
    /// Ticks decoded.
    pub ticks: u64,
    /// Messages that did not decode.
    pub malformed: u64,
    /// Journal appends that found its mailbox full (sent anyway, never dropped).
    pub journal_overflow: u64,
    /// Reconnects by cause.
    pub reconnects_by_cause: BTreeMap<&'static str, u64>,
}

/// The socket actor's state. It survives restarts (the supervisor reuses it).
pub struct Socket {
    pub(crate) plan: SocketPlan,
    pub(crate) settings: SocketSettings,
    pub(crate) ws_root: String,
    pub(crate) date: NaiveDate,
    pub(crate) auth: Addr<Auth>,
    pub(crate) journal: Recipient<Append>,
    pub(crate) gaps: Recipient<RecordGap>,
    pub(crate) coordinator: Recipient<ChildRestarted>,
    pub(crate) status: StatusHandle,
    pub(crate) sink: Option<WsSink>,
    /// The token generation in use (reported back on a 403).
    pub(crate) generation: Option<u64>,
    pub(crate) last_frame: Instant,
    /// When the last frame of this connection arrived (µs since the epoch): a gap starts there.
    pub(crate) last_frame_us: Option<i64>,
    /// Consecutive failed attempts (reset once subscribed).
    pub(crate) attempt: u32,
    /// Why the last connection ended.
    pub(crate) failure: Option<Failure>,
    /// Since when (µs) the socket has not been delivering, and why.
    pub(crate) down_since: Option<(i64, &'static str)>,
    pub(crate) started_once: bool,
    pub(crate) shutting_down: bool,
    pub(crate) counters: Counters,
    pub(crate) rng: fastrand::Rng,
    /// Told when the connection has ended after a shutdown.
    pub(crate) closed: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Socket {
    /// A socket for `plan`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: SocketPlan,
        settings: SocketSettings,
        ws_root: String,
        date: NaiveDate,
        auth: Addr<Auth>,
        journal: Recipient<Append>,
        gaps: Recipient<RecordGap>,
        coordinator: Recipient<ChildRestarted>,
        status: StatusHandle,
    ) -> Socket {
        Socket {
            plan,
            settings,
            ws_root,
            date,
            auth,
            journal,
            gaps,
            coordinator,
            status,
            sink: None,
            generation: None,
            last_frame: Instant::now(),
            last_frame_us: None,
            attempt: 0,
            failure: None,
            down_since: None,
            started_once: false,
            shutting_down: false,
            counters: Counters::default(),
            rng: fastrand::Rng::new(),
            closed: Vec::new(),
        }
    }

    /// Starts in a gap that began at `since` (µs) for `cause`: an earlier run's last frame
    /// (`stopped` or `crashed`). The first frame ends it.
    pub fn resuming(mut self, since: Option<(i64, &'static str)>) -> Socket {
        self.down_since = since;
        self
    }

    /// `socket-N`.
    pub fn name(&self) -> String {
        self.plan.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SocketSettings {
        SocketSettings {
            per_app: 3,
            max_instruments: 3000,
            stall_ms: 5000,
            backoff_initial_ms: 1000,
            backoff_max_ms: 60_000,
            rate_limited_backoff_ms: 30_000,
            subscribe_batch: 2,
            connect_timeout_ms: 10_000,
            restart_limit: 10,
            restart_period_secs: 60,
        }
    }

    #[test]
    fn backoff_grows_to_the_cap_and_429_waits_long() {
        let s = settings();
        let net = Failure::Network("reset".into());
        let ms = |a| backoff(&net, a, &s, 0.5).as_millis();
        assert_eq!(
            (ms(1), ms(2), ms(3), ms(7), ms(20)),
            (1000, 2000, 4000, 60_000, 60_000)
        );
        assert_eq!(backoff(&net, 1, &s, 0.0).as_millis(), 800);
        assert_eq!(backoff(&net, 1, &s, 1.0).as_millis(), 1200);
        assert_eq!(
            backoff(&Failure::TooManyConnections, 1, &s, 0.9).as_millis(),
            30_000
        );
        assert_eq!(backoff(&Failure::AuthRejected, 1, &s, 0.5).as_millis(), 250);
    }

    #[test]
    fn subscriptions_go_in_batches_then_modes_by_group() {
        let msgs = subscription_messages(&[(1, Mode::Full), (2, Mode::Ltp), (3, Mode::Full)], 2);
        assert_eq!(
            msgs,
            vec![
                r#"{"a":"subscribe","v":[1,2]}"#,
                r#"{"a":"subscribe","v":[3]}"#,
                r#"{"a":"mode","v":["ltp",[2]]}"#,
                r#"{"a":"mode","v":["full",[1,3]]}"#,
            ]
        );
    }
}
