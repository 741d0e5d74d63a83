//! tickvault records every tick of Zerodha Kite Connect's live market feed and keeps it safe.
//!
//! This crate is the library behind the `tickvault` binary; `main.rs` only parses the command
//! line, loads [`settings`], sets up [`telemetry`] and hands over to [`commands`].
//!
//! # Layout
//!
//! | Module | Owns | Talks to |
//! |---|---|---|
//! | [`kite`] | Kite's wire formats and HTTP API: [`kite::tick`] (typed ticks with raw integer prices, segments, divisors), [`kite::codec`] (binary messages ⇄ ticks, validated, allocation-free decode), [`kite::text`] (text messages both ways), [`kite::json`] (a tick's JSON shape with the official client's field names, IST timestamps), [`kite::login`] (session checksum, TOTP), [`kite::client`] (the unattended login and the REST calls, errors as decisions) | Kite or the simulator over HTTP |
//! | [`capture`] | the fixed `KITECAP1` capture/journal file format: [`capture::CaptureReader`] (CRC-checked records, torn-tail detection, resync after corruption) and [`capture::CaptureWriter`] (buffered appends, explicit [`capture::SyncPolicy`]) | the file system |
//! | [`calendar`] | the NSE trading calendar in IST: weekends, holidays and special sessions from `config/holidays/nse.toml` | used by `sim` (expiries), later the scheduler |
//! | [`sim`] | `tickvault sim`, the Kite simulator: [`sim::login`] (web login, sessions), [`sim::rest`] (instruments dump, quotes), [`sim::ws`] (the streaming WebSocket, one task per connection), [`sim::faults`] (`/sim/` fault and introspection API), [`sim::universe`] + [`sim::expiry`] (the day's instruments), [`sim::market`] + [`sim::engine`] (prices and the update clock), [`sim::state`] (what they share) | its clients over HTTP/WebSocket |
//! | [`settings`] | the typed, layered [`settings::Settings`] tree (compiled-in `config/default.toml` → `--config FILE` → `TICKVAULT__…` env), validation naming the key, [`settings::secret`] (inline / `*_file` / systemd credentials, permission checks) | read once by `main` |
//! | [`telemetry`] | the one tracing subscriber: filter (`RUST_LOG` wins), text or JSON to stderr | `main` |
//! | [`cli`] | the clap command line: global `--config`, `--log-format`, and the subcommands | `main` |
//! | [`commands`] | one module per subcommand ([`commands::decode`], [`commands::sim`]) and the exit status of each outcome ([`commands::Failure`]) | everything above |
//!
//! The actor system (auth, instruments, sockets, journal, persister, publisher, scheduler,
//! end-of-day) is built on these modules by the next issues; `docs/architecture.md` shows where
//! each piece fits.

pub mod actors;
pub mod calendar;
pub mod capture;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod kite;
pub mod settings;
pub mod sim;
pub mod startup;
pub mod status;
pub mod storage;
pub mod telemetry;
