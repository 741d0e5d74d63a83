//! The persister's messages, as the ledger answers them.

use actix::prelude::*;

use super::Ledger;
use crate::actors::sink::{Catchup, FlushPersister, RecordGap, SaveInstruments, SinkError};

impl Handler<Catchup> for Ledger {
    type Result = ();

    fn handle(&mut self, msg: Catchup, _ctx: &mut Self::Context) {
        self.ends.extend(msg.ends);
        self.report_status();
    }
}

impl Handler<FlushPersister> for Ledger {
    type Result = Result<u64, SinkError>;

    /// Nothing to commit: the journal is the record.
    fn handle(&mut self, _msg: FlushPersister, _ctx: &mut Self::Context) -> Self::Result {
        Ok(0)
    }
}

impl Handler<RecordGap> for Ledger {
    type Result = ();

    fn handle(&mut self, msg: RecordGap, _ctx: &mut Self::Context) {
        if let Err(e) = self.append_gap(&msg.0) {
            tracing::error!(error = %e, gap = ?msg.0, "cannot record a gap");
        }
        self.report_status();
    }
}

impl Handler<SaveInstruments> for Ledger {
    type Result = Result<(), SinkError>;

    fn handle(&mut self, msg: SaveInstruments, _ctx: &mut Self::Context) -> Self::Result {
        Ok(self.save_instruments(&msg.0)?)
    }
}
