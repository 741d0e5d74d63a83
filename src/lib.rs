//! tickvault records every tick of Zerodha Kite Connect's live market feed and keeps it safe.
//!
//! This crate is the library behind the `tickvault` binary; `main.rs` only parses the command
//! line, loads [`settings`], sets up [`telemetry`] and hands over to [`commands`].
//!
//! # Layout
//!
//! Listed top down, grouped as entry, control plane, data path, jobs and ground; a module uses
//! only modules listed below it (`tests/app/layout.rs` checks every `crate::` path against this
//! list). docs/architecture.md tells the whole story.
//!
//! Entry and operations:
//! - [`cli`]: the command line's global options.
//! - [`commands`]: one module per subcommand, and the exit status of each outcome.
//! - [`service`]: the composition root, the long-lived process (`run`).
//!   - [`service::day`]: the day runner, carrying out the scheduler's events.
//!   - [`service::control`]: the one auth and instruments pair; opening a day.
//!   - [`service::ops`]: the notifier, the HTTP endpoint and the pid file.
//! - [`pipeline`]: one trading day's actors for a role, wired from what the service hands it.
//! - [`http`]: `/healthz`, `/readyz`, `/status`, `/metrics`; a bearer token beyond loopback.
//! - [`metrics`]: the status board through a prometheus-client registry (OpenMetrics text).
//! - [`systemd`]: `READY=1`, `STATUS=`, the watchdog, `STOPPING=1`.
//! - [`signals`]: SIGINT/SIGTERM stop, SIGUSR1 reports.
//! - [`telemetry`]: the tracing subscriber.
//! - [`sim`]: `tickvault sim`, the Kite simulator.
//!
//! The actors (control plane, data path, operations), each a folder: `mod.rs` its state,
//! `actor.rs` its lifecycle (and `restarting()` under a `Supervisor`; the persister's and the end
//! of day's `SyncArbiter` factories are in [`pipeline`]), `handlers.rs` its messages; every
//! long-lived one restarts alone under a supervisor:
//! - [`actors`]: the actor system.
//!   - [`actors::coordinator`]: children, restart intensity, ordered shutdown.
//!   - [`actors::socket`]: one supervised actor per WebSocket.
//!   - [`actors::journal`]: raw frames → capture files (the record of truth).
//!   - [`actors::publisher`]: journaled ticks → Redis, never blocking.
//!   - [`actors::consumer`]: the store role: the Redis stream → the persister.
//!   - [`actors::persister`]: journal → daily table, crash recovery.
//!   - [`actors::ledger`]: the ingest role's sink: gaps and snapshot beside the journal.
//!   - [`actors::eod`]: runs the end of day on its own thread.
//!   - [`actors::notifier`]: alert mails, rate limited.
//!   - [`actors::instruments`]: downloads the dump, resolves the day's plan.
//!   - [`actors::auth`]: the unattended login and the day's token.
//!   - [`actors::scheduler`]: the NSE calendar's events, on an injected clock.
//!   - [`actors::children`]: supervision: restarts reported and counted, ordered shutdown.
//!   - [`actors::sink`]: what the pipeline tells whatever keeps its rows.
//!
//! Jobs (plain functions, no actors):
//! - [`eod`]: the end of day: dedupe, move to the master, verify, clear, report.
//! - [`recovery`]: journal records → daily rows (crash recovery, `replay`).
//! - [`sidecar`]: the gaps and the instrument snapshot kept beside the journal.
//! - [`plan`]: the universe resolved against the dump and dealt over the sockets.
//! - [`stream`]: the Redis stream's entries between the roles.
//! - [`export`]: a date's ticks as Parquet or CSV files, exact, replaced atomically.
//! - [`bars`]: ticks → one bar per instrument per interval (OHLC, volume, VWAP, depth means).
//!
//! Ground:
//! - [`settings`]: the typed, layered settings tree, validation naming the key.
//! - [`storage`]: Diesel on SQLite or MySQL/MariaDB, the bulk fast paths, the EOD SQL.
//! - [`status`]: the status board every actor reports to, one typed entry per actor.
//! - [`lock`]: one tickvault per directory.
//! - [`pidfile`]: the service's pid file, `<state_dir>/tickvault.pid`.
//! - [`capture`]: the `KITECAP1` journal format and the journal's files.
//! - [`kite`]: Kite's wire formats, the instruments dump, the HTTP API client.
//! - [`backoff`]: the one exponential backoff of every retry loop.
//! - [`files`]: atomic writes.
//! - [`calendar`]: the NSE trading calendar and IST.
//! - [`clock`]: time as an input.

pub mod actors;
pub mod backoff;
pub mod bars;
pub mod calendar;
pub mod capture;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod eod;
pub mod export;
pub mod files;
pub mod http;
pub mod kite;
pub mod lock;
pub mod metrics;
pub mod pidfile;
pub mod pipeline;
pub mod plan;
pub mod recovery;
pub mod service;
pub mod settings;
pub mod sidecar;
pub mod signals;
pub mod sim;
pub mod status;
pub mod storage;
pub mod stream;
pub mod systemd;
pub mod telemetry;
