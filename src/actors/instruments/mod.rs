//! The instruments actor: downloads the day's dump, keeps a snapshot of it, and resolves the
//! configured universe into a [`crate::plan::SubscriptionPlan`] dealt over the sockets.
//!
//! Messages: [`handlers::Resolve`] (→ the plan). Talks to: Kite (dump, `/quote/ltp` for spot),
//! auth (for a token).

pub mod actor;
pub mod handlers;
