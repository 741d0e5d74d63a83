//! tickvault records every tick of Zerodha Kite Connect's live market feed and keeps it safe.
//!
//! This crate is the library behind the `tickvault` binary; `main.rs` only parses the command
//! line, loads [`settings`], sets up [`telemetry`] and hands over to [`commands`].
//!
//! # Layout
//!
//! | Module | Owns | Talks to |
//! |---|---|---|
//! | [`kite`] | Kite's wire formats and HTTP API: [`kite::tick`] (typed ticks with raw integer prices, segments, divisors), [`kite::codec`] (binary messages ⇄ ticks, validated, allocation-free decode), [`kite::text`] (text messages both ways), [`kite::json`] (a tick's JSON shape with the official client's field names, IST timestamps), [`kite::login`] (session checksum, TOTP), [`kite::client`] (the unattended login and the REST calls, errors as decisions) | Kite (https/wss, rustls with the public roots) or the simulator over HTTP |
//! | [`capture`] | the fixed `KITECAP1` capture/journal file format: [`capture::CaptureReader`] (CRC-checked records, torn-tail detection, resync after corruption) and [`capture::CaptureWriter`] (buffered appends, explicit [`capture::SyncPolicy`]); [`capture::journal`]: the journal's files (one generation per run, never appended to after), [`capture::JournalKey`], [`capture::row_seq`] (a row's key names its file), the last frame of a file, the clean-stop mark | the file system |
//! | [`calendar`] | the NSE trading calendar in IST: weekends, holidays and special sessions from `config/holidays/nse.toml` | used by `sim` (expiries) and the scheduler |
//! | [`sim`] | `tickvault sim`, the Kite simulator: [`sim::login`] (web login, sessions), [`sim::rest`] (instruments dump, quotes), [`sim::ws`] (the streaming WebSocket, one task per connection), [`sim::faults`] (`/sim/` fault and introspection API), [`sim::universe`] + [`sim::expiry`] (the day's instruments), [`sim::market`] + [`sim::engine`] (prices and the update clock), [`sim::state`] (what they share) | its clients over HTTP/WebSocket |
//! | [`storage`] | Diesel on SQLite (compiled in) or MySQL/MariaDB (the `mysql` cargo feature, which links the system client library) ([`storage::Db`], chosen by the URL; each query compiled for every backend built in through [`on_backend!`]; [`storage::inspect`] compares a database's migrations without applying them): [`storage::schema`], [`storage::models`] (`New…` insert structs), query functions taking `&mut` a [`storage::Db`] (gaps, instrument snapshot, positions), the batch commit through each backend's fast path (`storage::bulk`: bound statements on SQLite, `LOAD DATA LOCAL INFILE` on MySQL), [`storage::eod`] (the end of day's chunked dedupe/move/verify/clear and run records); embedded per-backend migrations | the database |
//! | [`recovery`] | journal records → daily rows: start-up crash recovery from the committed positions, `tickvault replay`, shared with the persister | the journal files, storage |
//! | [`actors`] | the actor system: [`actors::coordinator`] (children, restart intensity, SIGUSR1 status, ordered shutdown), [`actors::auth`] (unattended login, token cache), [`actors::instruments`] (dump → [`actors::instruments::SubscriptionPlan`]), [`actors::socket`] (one supervised actor per WebSocket), [`actors::journal`] (raw frames → capture files, a new generation per run and after a failed write; lost frames are gaps, the journal unready while it cannot write), [`actors::publisher`] (journaled ticks → the Redis stream and key views, bounded buffer, never blocking; its own thread), [`actors::persister`] (journal → daily table, on its own thread; crash recovery before the sockets start; a deleted SQLite file rebuilt from the journals; gaps and the snapshot kept beside the journal too; in the store role, stream rows answered after commit), [`actors::consumer`] (the store role: the Redis stream's consumer group → persister → `XACK` after commit, `XAUTOCLAIM` of dead stores' entries), [`actors::ledger`] (the ingest role's stand-in for the persister: gaps and the instrument snapshot beside the journal, no database), [`actors::eod`] (the end of day: dedupe, move to the master, verify, clear, report, retention; on its own thread, a connection of its own for each run), [`actors::scheduler`] (the NSE calendar in IST through an injected clock: login, instruments, connect, close at the `[schedule]` times, catch-up, retries, the token's 06:00 expiry; its pure [`actors::scheduler::timetable`]), [`actors::day`] (the calendar-driven service's runner: carries out each event, one day's [`startup::App`] at a time), [`actors::notifier`] (alert mails over SMTP: sent alerts and ones found by watching the board, rate limited across restarts, never blocking) | each other by typed messages |
//! | [`startup`] | the composition root: wires the graph for a [`startup::Role`] (`all`, `ingest`, `store`) from `Settings`, returns an [`startup::App`] handle (plan, status board, drain, end of day, close); [`startup::start_on_board`] runs one day on the calendar-driven service's board; [`startup::on_sigusr1`] | `commands::run`, `commands::demo`, tests |
//! | [`status`] | the status board every actor reports to (and its histograms); `status.json` (`StatusBoard::dump`: the SIGUSR1 report) | coordinator, `tickvault status`, `http` |
//! | [`http`] | the actix-web endpoint: `/healthz`, `/readyz`, `/status` (the board's JSON), `/metrics` | `commands::run` |
//! | [`metrics`] | the board in the Prometheus text format | `http` |
//! | [`pidfile`] | `<state_dir>/tickvault.pid`: written by `run`, used by `tickvault status` to ask for a fresh report (SIGUSR1) | `commands::run`, `commands::status` |
//! | [`files`] | `write_atomically` (temporary file renamed over the old): reports, status, state files | actors, commands |
//! | [`lock`] | one tickvault per directory: an exclusive lock on the state and data directories for `run`, `eod`, `replay`, `demo` (a second one exits 75 naming the holder) | `commands` |
//! | [`clock`] | time as an input (`Clock`: system, manual, and tokio-time clocks) | auth, scheduler |
//! | [`settings`] | the typed, layered [`settings::Settings`] tree (compiled-in `config/default.toml` → preset → `--config FILE` → `TICKVAULT__…` env), validation naming the key, [`settings::secret`] (inline / `*_file` / systemd credentials, permission checks), [`settings::pipeline`] (paths, Kite, storage, journal, sockets, universe), [`settings::redis`] (the live view and the stream between roles), [`settings::schedule`] (the calendar's times), [`settings::ops`] (`[http]`, `[notify]`), [`settings::show`] (the merged tree with each secret replaced by its source, for `tickvault config`); warnings (a secret nothing uses) are kept in `Settings::warnings` and logged once logging is up | read once by `main` |
//! | [`systemd`] | the service manager (`Type=notify`): `READY=1`, `STATUS=` every 10 s, `WATCHDOG=1` only while the pipeline makes progress (judged from the status board) or is idle by the calendar, `STOPPING=1`; `config/systemd/tickvault.service` | `commands::run` |
//! | [`telemetry`] | the one tracing subscriber: filter (`RUST_LOG` wins), text or JSON to stderr | `main` |
//! | [`cli`] | the clap command line: global `--config`, `--log-format`, and the subcommands | `main` |
//! | [`commands`] | one module per subcommand (`run`, `status`, `check`, `eod`, `replay`, `login`, `instruments`, `config`, `decode`, `sim`, `demo`) and the exit status of each outcome ([`commands::Failure`]); `check` is a folder: the command and its report, and `check::items` (one function per thing checked) | everything above |
//!

pub mod actors;
pub mod calendar;
pub mod capture;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod files;
pub mod http;
pub mod kite;
pub mod lock;
pub mod metrics;
pub mod pidfile;
pub mod recovery;
pub mod settings;
pub mod sim;
pub mod startup;
pub mod status;
pub mod storage;
pub mod systemd;
pub mod telemetry;
