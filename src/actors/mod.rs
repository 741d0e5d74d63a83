//! The actor system. One folder per actor: `mod.rs` (state, error enum, pure helpers),
//! `actor.rs` (lifecycle), `handlers.rs` (one `impl Handler<M>` per message, messages beside
//! the actor that receives them). See `docs/architecture.md` for the graph.

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
