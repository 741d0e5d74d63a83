//! Messages and streams of the socket actor.

use std::time::Instant;

use actix::prelude::*;

pub use crate::actors::children::ShutdownSocket;
use awc::error::WsProtocolError;
use awc::ws::{Frame, Message as WsMessage};
use chrono::Utc;

use super::{Failure, Socket};
use crate::actors::journal::handlers::Append;
use crate::capture::RecordKind;
use crate::kite::{ServerText, parse_message};

impl Handler<ShutdownSocket> for Socket {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: ShutdownSocket, _ctx: &mut Self::Context) -> Self::Result {
        let connected = self.sink.is_some();
        self.shut_down();
        if !connected {
            return Box::pin(async {});
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.closed.push(tx);
        Box::pin(async move {
            let _ = actix_rt::time::timeout(msg.wait, rx).await;
        })
    }
}

impl Socket {
    fn notify_closed(&mut self) {
        // Frames that arrived between the shutdown and the close are counted: the board's
        // final figures are the journal's.
        self.report_status();
        for tx in self.closed.drain(..) {
            let _ = tx.send(());
        }
    }
}

impl Socket {
    /// The journal first: try a bounded send; if its mailbox is full, count it and send anyway
    /// (the record of truth is never dropped).
    fn journal(&mut self, kind: RecordKind, payload: actix_web::web::Bytes) {
        let msg = Append {
            socket: self.plan.number as i16,
            recv_time_us: u64::try_from(Utc::now().timestamp_micros()).unwrap_or(0),
            kind,
            payload,
        };
        if let Err(SendError::Full(msg)) = self.journal.try_send(msg) {
            self.counters.journal_overflow += 1;
            if self.counters.journal_overflow.is_power_of_two() {
                tracing::warn!(socket = %self.name(), overflows = self.counters.journal_overflow, "the journal is behind; frames queue in memory");
            }
            self.journal.do_send(msg);
        }
    }
}

impl StreamHandler<Result<Frame, WsProtocolError>> for Socket {
    fn handle(&mut self, item: Result<Frame, WsProtocolError>, ctx: &mut Self::Context) {
        let frame = match item {
            Ok(frame) => frame,
            Err(e) => return self.fail(Failure::Network(e.to_string()), ctx),
        };
        if matches!(frame, Frame::Binary(_) | Frame::Text(_)) {
            self.frame_arrived(Utc::now().timestamp_micros());
        } else {
            self.last_frame = Instant::now();
        }
        match frame {
            Frame::Binary(bytes) => {
                self.counters.frames += 1;
                let len = bytes.len();
                // Parse a view before the bytes move into the journal message (no copy).
                let decoded = if len > 1 {
                    Some(parse_message(&bytes).map(|m| m.packets().len()))
                } else {
                    None
                };
                self.journal(RecordKind::Binary, bytes);
                match decoded {
                    Some(Ok(n)) => self.counters.ticks += n as u64,
                    Some(Err(e)) => {
                        self.counters.malformed += 1;
                        tracing::warn!(socket = %self.name(), error = %e, bytes = len, "malformed message (kept in the journal)");
                    }
                    None => {}
                }
            }
            Frame::Text(bytes) => {
                self.counters.frames += 1;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.journal(RecordKind::Text, bytes);
                match ServerText::parse(&text) {
                    Ok(ServerText::Error(message)) => {
                        tracing::warn!(socket = %self.name(), message, "error from Kite")
                    }
                    Ok(other) => {
                        tracing::debug!(socket = %self.name(), kind = other.kind(), "text message")
                    }
                    Err(e) => {
                        tracing::warn!(socket = %self.name(), error = %e, "unreadable text message")
                    }
                }
            }
            Frame::Ping(bytes) => {
                if let Some(sink) = &mut self.sink {
                    let _ = sink.write(WsMessage::Pong(bytes));
                }
            }
            Frame::Close(reason) => {
                if self.shutting_down {
                    self.sink = None;
                    self.notify_closed();
                    return;
                }
                tracing::info!(socket = %self.name(), ?reason, "close frame from the server");
                self.fail(Failure::RemoteClosed, ctx);
            }
            Frame::Pong(_) | Frame::Continuation(_) => {}
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        if self.shutting_down {
            self.sink = None;
            self.notify_closed();
        } else {
            self.fail(Failure::RemoteClosed, ctx);
        }
    }
}

impl actix::io::WriteHandler<WsProtocolError> for Socket {
    fn error(&mut self, err: WsProtocolError, ctx: &mut Self::Context) -> Running {
        self.fail(Failure::Network(err.to_string()), ctx);
        Running::Stop
    }

    /// The write half closed: after a shutdown that is expected; otherwise the connection is gone.
    fn finished(&mut self, ctx: &mut Self::Context) {
        if !self.shutting_down {
            self.fail(
                Failure::Network("the connection's write half closed".into()),
                ctx,
            );
        }
    }
}
