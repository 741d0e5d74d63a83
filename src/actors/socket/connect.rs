//! The socket's connect state machine: get a token, open the WebSocket (a 403 hands the token
//! back to auth, a 429 backs off hard), subscribe; every failure ends the connection through
//! [`Socket::fail`], and the supervisor restarts the actor after its backoff. A clean shutdown
//! closes for good.

use std::time::{Duration, Instant};

use actix::io::SinkWrite;
use actix::prelude::*;
use awc::error::WsClientError;
use awc::ws::{CloseCode, CloseReason, Message as WsMessage};
use chrono::Utc;
use futures_util::StreamExt;
use secrecy::ExposeSecret;

use super::{Failure, Socket, subscription_messages};
use crate::actors::auth::handlers::{GetToken, TokenRejected};
use crate::actors::sink::RecordGap;
use crate::status::State;
use crate::storage::models::NewGap;

/// Now, in microseconds since the epoch (the gaps' unit).
pub(super) fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

impl Socket {
    /// Ends this connection for `failure`: the supervisor restarts the actor.
    pub(crate) fn fail(&mut self, failure: Failure, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        tracing::warn!(socket = %self.name(), cause = failure.cause(), error = %failure, "connection lost");
        if self.down_since.is_none() {
            // Nothing arrived after the last frame: the gap starts there, not when the loss
            // was noticed (a stall is noticed `stall_ms` later).
            let start = self.last_frame_us.take().unwrap_or_else(now_us);
            self.down_since = Some((start, failure.cause()));
        }
        self.failure = Some(failure);
        ctx.stop();
    }

    pub(super) fn connect(&mut self, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        self.status.set_state(State::Starting);
        let auth = self.auth.clone();
        let app = self.plan.app.clone();
        let root = self.ws_root.trim_end_matches('/').to_string();
        let timeout = Duration::from_millis(self.settings.connect_timeout_ms);
        let work = async move {
            let token = auth
                .send(GetToken { app })
                .await
                .map_err(|e| Failure::NoToken(e.to_string()))?
                .map_err(|e| Failure::NoToken(e.to_string()))?;
            let url = format!(
                "{root}/?api_key={}&access_token={}",
                token.api_key,
                token.session.access_token.expose_secret()
            );
            let client = awc::Client::builder().timeout(timeout).finish();
            let connect = client.ws(url).max_frame_size(16 << 20).connect();
            let result = match actix_rt::time::timeout(timeout, connect).await {
                Err(_) => Err(Failure::Network("connect timed out".into())),
                Ok(Ok((_, framed))) => Ok(framed),
                Ok(Err(WsClientError::InvalidResponseStatus(s))) if s.as_u16() == 403 => {
                    Err(Failure::AuthRejected)
                }
                Ok(Err(WsClientError::InvalidResponseStatus(s))) if s.as_u16() == 429 => {
                    Err(Failure::TooManyConnections)
                }
                // The error text of awc never includes the URL (and so never the token).
                Ok(Err(e)) => Err(Failure::Network(e.to_string())),
            };
            Ok::<_, Failure>((token.generation, result))
        };
        work.into_actor(self)
            .map(|result, act, ctx| match result {
                Err(failure) => act.fail(failure, ctx),
                Ok((generation, Err(failure))) => {
                    if failure == Failure::AuthRejected {
                        act.auth.do_send(TokenRejected { app: act.plan.app.clone(), generation });
                    }
                    act.fail(failure, ctx)
                }
                Ok((generation, Ok(framed))) => {
                    if act.shutting_down {
                        return;
                    }
                    act.generation = Some(generation);
                    let (sink, stream) = framed.split();
                    ctx.add_stream(stream);
                    let mut sink = SinkWrite::new(sink, ctx);
                    for text in subscription_messages(&act.plan.tokens, act.settings.subscribe_batch) {
                        if sink.write(WsMessage::Text(text.into())).is_err() {
                            act.fail(Failure::Network("cannot send the subscription".into()), ctx);
                            return;
                        }
                    }
                    act.sink = Some(sink);
                    act.last_frame = Instant::now();
                    act.last_frame_us = None;
                    act.attempt = 0;
                    act.status.set_state(State::Running);
                    // The gap, if any, ends at the first frame of this connection.
                    tracing::info!(socket = %act.name(), instruments = act.plan.tokens.len(), "connected and subscribed");
                    act.report_status();
                }
            })
            .wait(ctx);
    }

    /// Closes the connection cleanly, for good. A gap still open (down, or resuming after a
    /// restart with no frame yet) is recorded up to now.
    pub(crate) fn shut_down(&mut self) {
        self.shutting_down = true;
        if let Some((start_us, cause)) = self.down_since.take() {
            self.gaps.do_send(RecordGap(NewGap {
                trade_date: self.date,
                socket: self.plan.number as i16,
                start_us,
                end_us: now_us().max(start_us),
                cause: cause.to_string(),
                instruments: self.plan.tokens.len() as i32,
            }));
        }
        if let Some(sink) = &mut self.sink {
            let _ = sink.write(WsMessage::Close(Some(CloseReason::from(CloseCode::Normal))));
            sink.close();
        }
        self.status.set_state(State::Stopped);
        self.report_status();
    }
}
