//! Shared helpers, one file per concern; every helper is reachable as `crate::helpers::name`.

mod app;
mod bin;
mod config;
mod mysql;
mod redis_server;
mod sim;
mod ws;

pub use app::*;
pub use bin::*;
pub use config::*;
pub use mysql::*;
pub use redis_server::*;
pub use sim::*;
pub use ws::*;
