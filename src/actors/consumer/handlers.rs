//! Messages of the consumer.

use actix::prelude::*;

use super::Consumer;

/// Stops reading: the batch in flight is committed and acknowledged first (or left pending if
/// the database refuses it). Answers once the loop has ended.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopConsumer;

impl Handler<StopConsumer> for Consumer {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: StopConsumer, _ctx: &mut Self::Context) -> Self::Result {
        self.stop.send_replace(true);
        let mut done = self.done.subscribe();
        Box::pin(async move {
            let _ = done.wait_for(|d| *d).await;
        })
    }
}
