//! `tickvault sim`: a Kite Connect simulator faithful enough that the official clients cannot
//! tell it from Kite (PROTOCOL.md §5). It serves, on one port:
//!
//! - the web login (`/connect/login`, `/api/login`, `/api/twofa`, `/connect/finish`) with real
//!   TOTP checks, and the session endpoints (`/session/token`, `/user/profile`) — [`login`];
//! - the instruments dump and quotes — [`rest`], over a generated [`universe`] priced by a
//!   deterministic [`market`] model moved by the [`engine`];
//! - the streaming WebSocket at `/ws` and `/` — [`ws`];
//! - fault injection and introspection under `/sim/` — [`faults`].
//!
//! [`start`] runs it inside the current actix system and returns a [`SimHandle`] with the bound
//! address, so tests and `tickvault demo` can run it in-process on port 0.

pub mod engine;
pub mod expiry;
pub mod faults;
pub mod http;
pub mod login;
pub mod market;
pub mod rest;
pub mod state;
pub mod universe;
pub mod ws;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::web::{self, Data};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use anyhow::Context;
use chrono::NaiveDate;
use tokio::sync::watch;

pub use crate::settings::sim::{SimConfig, SimSettings};
pub use state::SimState;

use crate::capture::{CaptureWriter, SyncPolicy};

/// What to run.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Settings (`[sim]`), already validated; `listen` is where to bind.
    pub config: SimConfig,
    /// The trading date of the universe and the clock.
    pub date: NaiveDate,
    /// Record every message sent to this capture file.
    pub record: Option<PathBuf>,
}

/// A running simulator.
pub struct SimHandle {
    addr: SocketAddr,
    server: ServerHandle,
    stop_engine: watch::Sender<bool>,
    state: Arc<SimState>,
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, the root to give `KiteConnect(root=…)` and the login client.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://HOST:PORT`, the root to give `KiteTicker(root=…)`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The shared state, for in-process inspection.
    pub fn state(&self) -> &Arc<SimState> {
        &self.state
    }

    /// Closes every WebSocket cleanly, stops the server and syncs the recording.
    pub async fn stop(self) {
        for c in state::lock(&self.state.connections).values() {
            let _ = c.control.send(state::Control::Close);
        }
        let _ = self.stop_engine.send(true);
        self.server.stop(true).await;
        self.state.sync_recording();
    }
}

/// Starts the simulator on the current actix system.
pub fn start(options: SimOptions) -> anyhow::Result<SimHandle> {
    let recorder = match &options.record {
        Some(path) => Some(
            CaptureWriter::create(path, SyncPolicy::Manual)
                .with_context(|| format!("cannot create the recording {}", path.display()))?,
        ),
        None => None,
    };
    let listener = TcpListener::bind(options.config.listen)
        .with_context(|| format!("cannot listen on {}", options.config.listen))?;
    let addr = listener.local_addr()?;
    let state = Arc::new(SimState::new(options.config, options.date, recorder));
    let data = Data::from(state.clone());
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(2)
        .listen(listener)?
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let (stop_engine, stopped) = watch::channel(false);
    actix_web::rt::spawn(engine::run(state.clone(), stopped));
    Ok(SimHandle {
        addr,
        server: handle,
        stop_engine,
        state,
    })
}

/// Every route of the simulator.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/connect/login", web::get().to(login::connect_login))
        .route("/connect/finish", web::get().to(login::connect_finish))
        .route("/api/login", web::post().to(login::api_login))
        .route("/api/twofa", web::post().to(login::api_twofa))
        .route("/session/token", web::post().to(login::session_token))
        .route("/session/token", web::delete().to(login::delete_session))
        .route("/user/profile", web::get().to(login::profile))
        .route("/instruments", web::get().to(rest::instruments_all))
        .route(
            "/instruments/{exchange}",
            web::get().to(rest::instruments_exchange),
        )
        .route("/quote", web::get().to(rest::quote))
        .route("/quote/ltp", web::get().to(rest::quote_ltp))
        .route("/quote/ohlc", web::get().to(rest::quote_ohlc))
        .route("/ws", web::get().to(ws::upgrade))
        .route("/", web::get().to(root))
        .route("/sim/connections", web::get().to(faults::connections))
        .route(
            "/sim/connections/{id}/drop",
            web::post().to(faults::drop_connection),
        )
        .route(
            "/sim/connections/{id}/stall",
            web::post().to(faults::stall_connection),
        )
        .route(
            "/sim/connections/{id}/garbage",
            web::post().to(faults::garbage),
        )
        .route("/sim/tokens/expire", web::post().to(faults::expire_tokens))
        .route("/sim/login/fail", web::post().to(faults::fail_logins))
        .route(
            "/sim/instruments/truncate",
            web::post().to(faults::truncate_dump),
        )
        .route("/sim/stats", web::get().to(faults::stats))
        .default_service(web::to(|| async {
            http::error(
                actix_web::http::StatusCode::NOT_FOUND,
                "GeneralException",
                "Route not found",
            )
        }));
}

/// `GET /`: the WebSocket when it is an upgrade request (the official clients connect here),
/// otherwise a line saying what this is.
async fn root(req: HttpRequest, body: web::Payload, state: Data<SimState>) -> HttpResponse {
    let upgrade = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        ws::upgrade(req, body, state).await
    } else {
        HttpResponse::Ok()
            .content_type("text/plain")
            .body("tickvault sim: a Kite Connect simulator\n")
    }
}
