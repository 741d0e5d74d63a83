//! Everything the simulator's handlers share: the clock, the market, login and token state,
//! open connections, counters, the feed channel and the optional recorder.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::{broadcast, mpsc};

use super::market::{Market, ist_epoch};
use super::universe::Universe;
use crate::calendar::IST;
use crate::capture::{CaptureWriter, RecordKind};
use crate::kite::{Mode, Tick};
use crate::settings::sim::{SimApp, SimConfig, SimUser};

/// Locks a mutex, carrying on with the data if a panicking thread poisoned it (the data of
/// these maps stays consistent at every await-free step).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A random token of `len` letters and digits.
pub fn random_token(len: usize) -> String {
    let mut rng = fastrand::Rng::new();
    (0..len).map(|_| rng.alphanumeric()).collect()
}

/// The simulated exchange clock: the trading date at the configured start time, then real time.
#[derive(Debug, Clone)]
pub struct SimClock {
    start_epoch: i64,
    started: Instant,
}

impl SimClock {
    /// A clock reading `date` at `start_time` IST now.
    pub fn new(date: NaiveDate, start_time: chrono::NaiveTime) -> SimClock {
        SimClock {
            start_epoch: ist_epoch(date, start_time),
            started: Instant::now(),
        }
    }

    /// Now, in Unix microseconds.
    pub fn now_micros(&self) -> i64 {
        self.start_epoch * 1_000_000 + self.started.elapsed().as_micros() as i64
    }

    /// Now, in Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.now_micros().div_euclid(1_000_000)
    }

    /// Now as `yyyy-mm-dd hh:mm:ss` IST, Kite's JSON timestamp format.
    pub fn now_kite(&self) -> String {
        kite_time(self.now_secs())
    }
}

/// Unix seconds as `yyyy-mm-dd hh:mm:ss` IST.
pub fn kite_time(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| {
            t.with_timezone(&IST)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// A login in progress (`/connect/login` → `/connect/finish`).
#[derive(Debug, Clone)]
pub struct LoginSession {
    /// The app logging in.
    pub api_key: String,
    /// Echoed back on the redirect.
    pub redirect_params: Option<String>,
}

/// An issued request token.
#[derive(Debug, Clone)]
pub struct RequestToken {
    /// For this app.
    pub api_key: String,
    /// For this user.
    pub user_id: String,
    /// When issued.
    pub issued: Instant,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The app.
    pub api_key: String,
    /// The user.
    pub user_id: String,
    /// False once expired or deleted.
    pub valid: bool,
}

/// Login and token bookkeeping.
#[derive(Debug, Default)]
pub struct AuthState {
    /// `sess_id` → login in progress.
    pub login_sessions: HashMap<String, LoginSession>,
    /// `request_id` → user id, between `/api/login` and `/api/twofa`.
    pub pending_twofa: HashMap<String, String>,
    /// `enctoken` cookie → user id.
    pub web_sessions: HashMap<String, String>,
    /// Unused request tokens.
    pub request_tokens: HashMap<String, RequestToken>,
    /// Access tokens ever issued.
    pub access_tokens: HashMap<String, AccessToken>,
    /// How many more `/api/twofa` calls fail on purpose (fault injection).
    pub fail_next_logins: u32,
}

/// What the fault API asks of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Close the TCP connection at once, without a close frame.
    Drop,
    /// Send nothing (no heartbeat either) and read nothing for this long, keeping TCP open.
    Stall(Duration),
    /// Send one malformed binary message.
    Garbage,
    /// Close cleanly (the simulator is stopping).
    Close,
}

/// An open WebSocket connection.
#[derive(Debug)]
pub struct Connection {
    /// The app it authenticated as.
    pub api_key: String,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// Subscribed tokens and the mode of each.
    pub tokens: BTreeMap<u32, Mode>,
    /// Messages sent (binary and text, heartbeats included).
    pub frames_sent: u64,
    /// Ticks sent.
    pub ticks_sent: u64,
    /// Commands from the fault API.
    pub control: mpsc::UnboundedSender<Control>,
}

/// Counters kept for the life of the simulator (closed connections included).
#[derive(Debug, Default)]
pub struct Stats {
    /// Ticks sent, per token, over every connection.
    pub ticks_per_token: HashMap<u32, u64>,
    /// Per connection id: (api_key, frames, ticks, open).
    pub per_connection: BTreeMap<u64, ConnectionStats>,
    /// Sessions created (`POST /session/token`): completed logins.
    pub sessions_created: u64,
    /// Instruments dumps served (whole or per exchange, truncated ones included).
    pub dumps_served: u64,
    /// `GET /user/profile` calls answered (a cached token being checked).
    pub profile_checks: u64,
}

/// Counters of one connection.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ConnectionStats {
    /// The app.
    pub api_key: String,
    /// Messages sent.
    pub frames_sent: u64,
    /// Ticks sent.
    pub ticks_sent: u64,
    /// Whether it is still open.
    pub open: bool,
}

/// Request classes with their own rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateClass {
    /// `/quote*`.
    Quote,
    /// Everything else.
    Api,
}

/// The shared state.
#[derive(Debug)]
pub struct SimState {
    /// Configuration.
    pub config: SimConfig,
    /// The day's instruments.
    pub universe: Arc<Universe>,
    /// Prices.
    pub market: Mutex<Market>,
    /// Exchange time.
    pub clock: SimClock,
    /// Logins and tokens.
    pub auth: Mutex<AuthState>,
    /// Open connections by id.
    pub connections: Mutex<BTreeMap<u64, Connection>>,
    /// Counters.
    pub stats: Mutex<Stats>,
    /// Each market slice's updated ticks (full state), for the connections to filter.
    pub feed: broadcast::Sender<Arc<Vec<Tick>>>,
    recorder: Option<Mutex<CaptureWriter>>,
    rate_windows: Mutex<HashMap<(String, RateClass), VecDeque<Instant>>>,
    instruments_cache: Mutex<HashMap<String, (Bytes, Bytes)>>,
    /// Fault injection: the next N dumps are cut after this many bytes (a download broken
    /// off, a proxy's truncated body).
    pub dump_truncation: Mutex<Option<(u32, usize)>>,
    next_connection: AtomicU64,
    recording_failed: AtomicBool,
}

impl SimState {
    /// State for a simulator of `date`.
    pub fn new(config: SimConfig, date: NaiveDate, recorder: Option<CaptureWriter>) -> SimState {
        let universe = Arc::new(Universe::generate(
            date,
            config.seed,
            &crate::calendar::TradingCalendar::nse(),
        ));
        let (feed, _) = broadcast::channel(256);
        SimState {
            market: Mutex::new(Market::new(universe.clone(), config.seed)),
            clock: SimClock::new(date, config.start_time),
            universe,
            config,
            auth: Mutex::default(),
            connections: Mutex::default(),
            stats: Mutex::default(),
            feed,
            recorder: recorder.map(Mutex::new),
            rate_windows: Mutex::default(),
            instruments_cache: Mutex::default(),
            dump_truncation: Mutex::default(),
            next_connection: AtomicU64::new(1),
            recording_failed: AtomicBool::new(false),
        }
    }

    /// The app with this API key.
    pub fn app(&self, api_key: &str) -> Option<&SimApp> {
        self.config.apps.iter().find(|a| a.api_key == api_key)
    }

    /// The user with this id.
    pub fn user(&self, user_id: &str) -> Option<&SimUser> {
        self.config.users.iter().find(|u| u.user_id == user_id)
    }

    /// The user an access token belongs to, if the token is valid for `api_key`.
    pub fn check_access(&self, api_key: &str, access_token: &str) -> Option<String> {
        let auth = lock(&self.auth);
        auth.access_tokens
            .get(access_token)
            .filter(|t| t.valid && t.api_key == api_key)
            .map(|t| t.user_id.clone())
    }

    /// Counts a request against its class's limit over the last second (a sliding window);
    /// false, and not counted, when over it.
    pub fn admit(&self, who: &str, class: RateClass) -> bool {
        let limit = match class {
            RateClass::Quote => self.config.quote_requests_per_sec,
            RateClass::Api => self.config.api_requests_per_sec,
        } as usize;
        let now = Instant::now();
        let mut windows = lock(&self.rate_windows);
        let window = windows.entry((who.to_string(), class)).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        if window.len() >= limit {
            return false;
        }
        window.push_back(now);
        true
    }

    /// A fresh connection id.
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// Every token subscribed on any connection.
    pub fn active_tokens(&self) -> Vec<u32> {
        let conns = lock(&self.connections);
        let mut tokens: Vec<u32> = conns
            .values()
            .flat_map(|c| c.tokens.keys().copied())
            .collect();
        tokens.sort_unstable();
        tokens.dedup();
        tokens
    }

    /// Appends a sent message to the recording, if one is being made.
    ///
    /// Appends go to a buffer (flushed when it fills, synced at stop), so a disk flush never
    /// holds up the connections. A failed write is logged once.
    pub fn record(&self, kind: RecordKind, payload: &[u8]) {
        if let Some(rec) = &self.recorder {
            let now = u64::try_from(Utc::now().timestamp_micros()).unwrap_or(0);
            if let Err(e) = lock(rec).append(now, kind, payload)
                && !self.recording_failed.swap(true, Ordering::Relaxed)
            {
                tracing::error!(error = %e, "cannot write the recording; it stops here");
            }
        }
    }

    /// Flushes the recording to disk.
    pub fn sync_recording(&self) {
        if let Some(rec) = &self.recorder
            && let Err(e) = lock(rec).sync()
        {
            tracing::error!(error = %e, "cannot sync the recording");
        }
    }

    /// The instruments CSV (plain and gzipped) for one exchange or all (`""`).
    pub fn instruments_csv(&self, exchange: &str) -> (Bytes, Bytes) {
        let mut cache = lock(&self.instruments_cache);
        if let Some(hit) = cache.get(exchange) {
            return hit.clone();
        }
        let csv = {
            let market = lock(&self.market);
            self.universe
                .csv((!exchange.is_empty()).then_some(exchange), |i| {
                    let tick = i.tick_size;
                    (market.previous_close(i) / tick).round() * tick
                })
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let gz = std::io::Write::write_all(&mut gz, &csv)
            .and_then(|_| gz.finish())
            .unwrap_or_default();
        let entry = (Bytes::from(csv), Bytes::from(gz));
        cache.insert(exchange.to_string(), entry.clone());
        entry
    }
}
