//! The streaming WebSocket (PROTOCOL.md §1): 403 at the upgrade for a bad token, 429 for a
//! connection over the per-key limit, subscribe/unsubscribe/mode parsed as real JSON, a snapshot
//! after each subscribe or mode, then ticks of subscribed tokens only in the mode asked, a
//! 1-byte heartbeat when idle, pings answered, and the faults of the `/sim` API.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseReason, Session};
use chrono::Utc;
use tokio::sync::{broadcast, mpsc};

use super::http::{error, query_param};
use super::state::{Connection, ConnectionStats, Control, SimState, lock};
use crate::capture::RecordKind;
use crate::kite::{ClientRequest, Mode, PacketKind, ServerText, Tick, encode_message};

/// `GET /ws` or `GET /` with an upgrade: authenticate, admit, and stream.
pub async fn upgrade(req: HttpRequest, body: Payload, state: Data<SimState>) -> HttpResponse {
    let (Some(api_key), Some(token)) = (
        query_param(&req, "api_key"),
        query_param(&req, "access_token"),
    ) else {
        return HttpResponse::Forbidden().body("Forbidden");
    };
    if state.check_access(&api_key, &token).is_none() {
        return HttpResponse::Forbidden().body("Forbidden");
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let (id, response) = {
        let mut conns = lock(&state.connections);
        let open = conns.values().filter(|c| c.api_key == api_key).count();
        if open >= state.config.max_connections_per_key {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "NetworkException",
                "Maximum WebSocket connections per API key reached.",
            );
        }
        let (response, session, stream) = match actix_ws::handle(&req, body) {
            Ok(parts) => parts,
            Err(e) => return HttpResponse::from_error(e),
        };
        let id = state.next_connection_id();
        conns.insert(
            id,
            Connection {
                api_key: api_key.clone(),
                opened_at: Utc::now(),
                tokens: BTreeMap::new(),
                frames_sent: 0,
                ticks_sent: 0,
                control: tx,
            },
        );
        lock(&state.stats).per_connection.insert(
            id,
            ConnectionStats {
                api_key: api_key.clone(),
                open: true,
                ..ConnectionStats::default()
            },
        );
        let feed = state.feed.subscribe();
        let stream = stream
            .max_frame_size(4 * 1024 * 1024)
            .aggregate_continuations()
            .max_continuation_size(4 * 1024 * 1024);
        let conn = Conn {
            id,
            state: state.clone().into_inner(),
            session,
            modes: BTreeMap::new(),
            slots: HashMap::new(),
            last_sent: Instant::now(),
        };
        actix_web::rt::spawn(conn.run(stream, feed, rx));
        (id, response)
    };
    tracing::info!(connection = id, api_key, "websocket opened");
    response
}

/// One open connection's task.
struct Conn {
    id: u64,
    state: Arc<SimState>,
    session: Session,
    /// Subscribed tokens and their modes (mirrored into the shared registry).
    modes: BTreeMap<u32, Mode>,
    /// How many subscription slots each token takes: duplicates count toward the limit (their
    /// data is delivered once), as on Kite.
    slots: HashMap<u32, usize>,
    last_sent: Instant,
}

enum Flow {
    Continue,
    /// End the connection: `Some` answers or sends a close frame first, `None` drops it.
    Stop(Option<Option<CloseReason>>),
}

impl Conn {
    async fn run(
        mut self,
        mut stream: AggregatedMessageStream,
        mut feed: broadcast::Receiver<Arc<Vec<Tick>>>,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let heartbeat = self.state.config.heartbeat;
        let check_every = (heartbeat / 10).max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval(check_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // While stalled nothing is read or sent, but fault commands are still obeyed.
        let mut stalled_until: Option<tokio::time::Instant> = None;
        let close = loop {
            let stalled = stalled_until.is_some();
            let stall_end = stalled_until.unwrap_or_else(tokio::time::Instant::now);
            let flow = tokio::select! {
                // While stalled, what the client sends is ignored (no pongs either), but a client
                // that hangs up is noticed, as the kernel would tell any server.
                message = stream.recv() => match message {
                    Some(Ok(_)) if stalled => Flow::Continue,
                    Some(Ok(message)) => self.on_client(message).await,
                    _ => Flow::Stop(None),
                },
                batch = feed.recv(), if !stalled => match batch {
                    Ok(batch) => self.on_batch(&batch).await,
                    // A slow reader misses updates, as on Kite (no queueing).
                    Err(broadcast::error::RecvError::Lagged(_)) => Flow::Continue,
                    Err(broadcast::error::RecvError::Closed) => Flow::Stop(None),
                },
                _ = ticker.tick(), if !stalled => {
                    if self.last_sent.elapsed() + check_every >= heartbeat {
                        self.send_binary(vec![0], 0).await
                    } else {
                        Flow::Continue
                    }
                }
                _ = tokio::time::sleep_until(stall_end), if stalled => {
                    stalled_until = None;
                    // Updates from before the stall are stale: skip them.
                    feed = feed.resubscribe();
                    self.last_sent = Instant::now().checked_sub(heartbeat).unwrap_or_else(Instant::now);
                    Flow::Continue
                }
                command = control.recv() => match command {
                    Some(Control::Drop) | None => {
                        tracing::info!(connection = self.id, "dropping the connection (fault)");
                        Flow::Stop(None)
                    }
                    Some(Control::Close) => Flow::Stop(Some(None)),
                    Some(Control::Stall(d)) => {
                        tracing::info!(connection = self.id, seconds = d.as_secs_f64(), "stalling (fault)");
                        stalled_until = Some(tokio::time::Instant::now() + d);
                        Flow::Continue
                    }
                    Some(Control::Garbage) if !stalled => {
                        // Announces two packets, carries one of an unknown length.
                        let garbage = vec![0, 2, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9];
                        self.send_binary(garbage, 0).await
                    }
                    Some(Control::Garbage) => Flow::Continue,
                },
            };
            if let Flow::Stop(close) = flow {
                break close;
            }
        };
        self.unregister();
        match close {
            Some(reason) => {
                let _ = self.session.close(reason).await;
            }
            // Dropping the session and the stream ends the response: the TCP connection closes
            // without a close frame.
            None => drop(stream),
        }
    }

    fn unregister(&self) {
        lock(&self.state.connections).remove(&self.id);
        if let Some(s) = lock(&self.state.stats).per_connection.get_mut(&self.id) {
            s.open = false;
        }
        tracing::info!(connection = self.id, "websocket closed");
    }

    async fn on_client(&mut self, message: AggregatedMessage) -> Flow {
        match message {
            AggregatedMessage::Text(text) => self.on_request(&text).await,
            AggregatedMessage::Ping(bytes) => match self.session.pong(&bytes).await {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Stop(None),
            },
            // Answer the close handshake, as Kite does.
            AggregatedMessage::Close(reason) => Flow::Stop(Some(reason)),
            _ => Flow::Continue,
        }
    }

    async fn on_request(&mut self, text: &str) -> Flow {
        let request = match ClientRequest::parse(text) {
            Ok(r) => r,
            Err(e) => {
                return self
                    .send_text(ServerText::Error(format!("Invalid message: {e}")))
                    .await;
            }
        };
        let default_mode = self.state.config.default_mode;
        let limit = self.state.config.max_instruments_per_connection;
        let mut snapshot = Vec::new();
        let mut ignored = 0usize;
        match request {
            ClientRequest::Subscribe(tokens) => {
                let mut used: usize = self.slots.values().sum();
                for token in tokens {
                    if used >= limit {
                        ignored += 1;
                        continue;
                    }
                    used += 1;
                    *self.slots.entry(token).or_default() += 1;
                    self.modes.entry(token).or_insert(default_mode);
                    snapshot.push(token);
                }
                snapshot.sort_unstable();
                snapshot.dedup();
            }
            ClientRequest::Unsubscribe(tokens) => {
                for token in tokens {
                    self.modes.remove(&token);
                    self.slots.remove(&token);
                }
            }
            ClientRequest::Mode(mode, tokens) => {
                for token in tokens {
                    if let Some(m) = self.modes.get_mut(&token) {
                        *m = mode;
                        snapshot.push(token);
                    }
                }
            }
        }
        if let Some(c) = lock(&self.state.connections).get_mut(&self.id) {
            c.tokens = self.modes.clone();
        }
        if ignored > 0 {
            let message = format!(
                "Subscription limit of {limit} instruments per connection exceeded: {ignored} instruments ignored."
            );
            if let Flow::Stop(close) = self.send_text(ServerText::Error(message)).await {
                return Flow::Stop(close);
            }
        }
        if snapshot.is_empty() {
            return Flow::Continue;
        }
        let now = self.state.clock.now_secs();
        let ticks: Vec<Tick> = {
            let mut market = lock(&self.state.market);
            snapshot
                .iter()
                .filter_map(|t| market.snapshot(*t, now))
                .collect()
        };
        self.send_ticks(ticks.iter()).await
    }

    async fn on_batch(&mut self, batch: &[Tick]) -> Flow {
        if self.modes.is_empty() {
            return Flow::Continue;
        }
        self.send_ticks(batch.iter()).await
    }

    /// Sends `ticks` in each token's mode, in messages of at most the configured packet count.
    async fn send_ticks<'a>(&mut self, ticks: impl Iterator<Item = &'a Tick>) -> Flow {
        let max = self.state.config.max_packets_per_message;
        let mut chunk: Vec<Tick> = Vec::new();
        for tick in ticks {
            let Some(mode) = self.modes.get(&tick.instrument_token) else {
                continue;
            };
            let mut t = *tick;
            t.kind = PacketKind::for_mode(t.segment(), *mode);
            chunk.push(t.normalized());
            if chunk.len() == max {
                if let stop @ Flow::Stop(_) = self.flush_ticks(&chunk).await {
                    return stop;
                }
                chunk.clear();
            }
        }
        if chunk.is_empty() {
            Flow::Continue
        } else {
            self.flush_ticks(&chunk).await
        }
    }

    async fn flush_ticks(&mut self, ticks: &[Tick]) -> Flow {
        let mut bytes = Vec::with_capacity(2 + ticks.len() * 186);
        if encode_message(ticks, &mut bytes).is_err() {
            return Flow::Continue;
        }
        let flow = self.send_binary(bytes, ticks.len() as u64).await;
        if let Flow::Continue = flow {
            let mut stats = lock(&self.state.stats);
            for t in ticks {
                *stats.ticks_per_token.entry(t.instrument_token).or_default() += 1;
            }
        }
        flow
    }

    async fn send_binary(&mut self, bytes: Vec<u8>, ticks: u64) -> Flow {
        let bytes = Bytes::from(bytes);
        match self.session.binary(bytes.clone()).await {
            Ok(()) => {
                self.state.record(RecordKind::Binary, &bytes);
                self.sent(ticks);
                Flow::Continue
            }
            Err(_) => Flow::Stop(None),
        }
    }

    async fn send_text(&mut self, message: ServerText) -> Flow {
        let text = message.to_json();
        match self.session.text(text.clone()).await {
            Ok(()) => {
                self.state.record(RecordKind::Text, text.as_bytes());
                self.sent(0);
                Flow::Continue
            }
            Err(_) => Flow::Stop(None),
        }
    }

    fn sent(&mut self, ticks: u64) {
        self.last_sent = Instant::now();
        if let Some(c) = lock(&self.state.connections).get_mut(&self.id) {
            c.frames_sent += 1;
            c.ticks_sent += ticks;
        }
        if let Some(s) = lock(&self.state.stats).per_connection.get_mut(&self.id) {
            s.frames_sent += 1;
            s.ticks_sent += ticks;
        }
    }
}
