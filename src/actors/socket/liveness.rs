//! The socket's liveness: frames end a gap, silence longer than `stall_ms` is a stall, and the
//! counters go to its status entry once a second.

use std::time::{Duration, Instant};

use actix::prelude::*;

use super::{Failure, Socket};
use crate::actors::sink::RecordGap;
use crate::status::SocketStatus;
use crate::storage::models::NewGap;

impl Socket {
    /// A frame arrived at `at_us`: it ends the gap the socket was in, if any.
    pub(crate) fn frame_arrived(&mut self, at_us: i64) {
        self.last_frame = Instant::now();
        self.last_frame_us = Some(at_us);
        if let Some((start_us, cause)) = self.down_since.take() {
            self.gaps.do_send(RecordGap(NewGap {
                trade_date: self.date,
                socket: self.plan.number as i16,
                start_us,
                end_us: at_us.max(start_us),
                cause: cause.to_string(),
                instruments: self.plan.tokens.len() as i32,
            }));
        }
    }

    /// Once a second: the status, and a stall when nothing (heartbeats included) arrived for
    /// `stall_ms`.
    pub(super) fn check_liveness(&mut self, ctx: &mut Context<Self>) {
        self.report_status();
        if self.sink.is_some()
            && self.last_frame.elapsed() > Duration::from_millis(self.settings.stall_ms)
        {
            self.fail(Failure::Stalled(self.settings.stall_ms), ctx);
        }
    }

    /// Copies the counters into the status board.
    pub(crate) fn report_status(&self) {
        let connected = self.sink.is_some();
        let c = &self.counters;
        self.status.report(|s: &mut SocketStatus| {
            s.app.clone_from(&self.plan.app);
            s.subscribed = if connected { self.plan.tokens.len() } else { 0 };
            s.first_token = self.plan.tokens.first().map(|(t, _)| *t);
            s.frames = c.frames;
            s.ticks = c.ticks;
            s.malformed = c.malformed;
            s.journal_overflow = c.journal_overflow;
            s.last_frame_age_ms = connected.then(|| self.last_frame.elapsed().as_millis() as u64);
            s.reconnects_by_cause = c
                .reconnects_by_cause
                .iter()
                .map(|(cause, n)| (cause.to_string(), *n))
                .collect();
        });
    }
}
