//! Messages of the coordinator.

use std::time::{Duration, Instant};

use actix::prelude::*;

use super::Coordinator;
use crate::actors::children::{ChildRestarted, ShutdownSocket};
use crate::actors::consumer::handlers::StopConsumer;
use crate::actors::journal::handlers::FlushJournal;
use crate::actors::sink::{FlushPersister, SinkError};
use crate::status::CoordinatorStatus;
use crate::status::State;

/// The sockets, once started.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Attach {
    /// Their addresses.
    pub sockets: Vec<Recipient<ShutdownSocket>>,
}

/// Drain and stop, in order. Answers with the rows committed in total.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, SinkError>")]
pub struct Shutdown;

impl Handler<Attach> for Coordinator {
    type Result = ();

    fn handle(&mut self, msg: Attach, _ctx: &mut Self::Context) {
        self.sockets = msg.sockets;
        // What it stops in order: the sockets, the journal (or the consumer), the sink.
        let children = self.sockets.len()
            + usize::from(self.journal.is_some())
            + usize::from(self.consumer.is_some())
            + 1;
        self.status
            .report(|c: &mut CoordinatorStatus| c.children = Some(children));
    }
}

impl Handler<ChildRestarted> for Coordinator {
    type Result = ();

    fn handle(&mut self, msg: ChildRestarted, _ctx: &mut Self::Context) {
        if self.intensity.exceeded(&msg.name, Instant::now()) && !self.escalated {
            self.escalated = true;
            let why = self.intensity.why(&msg.name);
            tracing::error!(child = %msg.name, "{why}; escalating: draining and exiting for systemd to restart the process");
            self.status.fail(State::Failed, &why);
            let _ = self.escalate.send(why);
        }
    }
}

impl Handler<Shutdown> for Coordinator {
    type Result = ResponseActFuture<Self, Result<u64, SinkError>>;

    fn handle(&mut self, _msg: Shutdown, _ctx: &mut Self::Context) -> Self::Result {
        tracing::info!("shutting down: sockets first, then the journal, then the persister");
        let sockets = self.sockets.clone();
        let journal = self.journal.clone();
        let consumer = self.consumer.clone();
        let persister = self.persister.clone();
        let work = async move {
            let closing: Vec<_> = sockets
                .iter()
                .map(|s| {
                    s.send(ShutdownSocket {
                        wait: Duration::from_secs(3),
                    })
                })
                .collect();
            for c in closing {
                let _ = c.await;
            }
            if let Some(consumer) = consumer {
                let _ = consumer.send(StopConsumer).await;
            }
            let ends = match journal {
                Some(journal) => journal
                    .send(FlushJournal)
                    .await
                    .map_err(SinkError::JournalStopped)?,
                None => Default::default(),
            };
            let mut files: Vec<_> = ends.keys().copied().collect();
            files.sort_unstable();
            persister.send(FlushPersister { files }).await?
        };
        Box::pin(work.into_actor(self).map(|result, act, _ctx| {
            act.status.set_state(State::Stopped);
            act.board.dump(&act.status_path);
            result
        }))
    }
}
