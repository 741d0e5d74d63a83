//! The actor system. One folder per actor: `mod.rs` (state, error enum, pure helpers),
//! `actor.rs` (lifecycle only: `started`, `stopped`, `restarting`), `handlers.rs` (one
//! `impl Handler<M>` per message, messages beside the actor that receives them), and a file per
//! part of its work where it has one (the socket's `connect.rs` and `liveness.rs`, the
//! publisher's `send.rs`, the journal's `flush.rs`, the scheduler's `run.rs`). The contracts
//! several actors share are `children` and `sink`. See `docs/architecture.md` for the graph.

pub mod auth;
pub mod children;
pub mod consumer;
pub mod coordinator;
pub mod eod;
pub mod instruments;
pub mod journal;
pub mod ledger;
pub mod notifier;
pub mod persister;
pub mod publisher;
pub mod scheduler;
pub mod sink;
pub mod socket;
