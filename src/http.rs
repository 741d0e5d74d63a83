//! The HTTP endpoint (actix-web; `[http] listen`, `127.0.0.1:9187` by default):
//!
//! - `GET /healthz`: 200 while no actor has given up, else 503 naming them (liveness);
//! - `GET /readyz`: 200 once storage is open and, while a day is recording, every socket is
//!   connected and the persister is committing; else 503 with the reasons (readiness);
//! - `GET /status`: the status report, the same JSON SIGUSR1 writes to `status.json`;
//! - `GET /metrics`: the Prometheus text format ([`crate::metrics`]).
//!
//! With a token configured (`http.token_file`; required when `listen` is not a loopback
//! address) every request but `/healthz` and `/readyz` (left open for load balancers and
//! systemd-style probes: they say only "ok" or which part is down) must carry
//! `Authorization: Bearer <token>`; any other answers 401.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::clock::SharedClock;
use crate::status::{Actor, ActorStatus, Entries, State, StatusBoard};

/// What the handlers read.
#[derive(Clone)]
struct Shared {
    board: Arc<StatusBoard>,
    ready: Arc<AtomicBool>,
    clock: SharedClock,
    /// The bearer token requests must carry, if any.
    token: Option<Arc<SecretString>>,
}

/// The paths served without the token.
const OPEN: [&str; 2] = ["/healthz", "/readyz"];

/// Whether `header` (an `Authorization` value) carries `token`, compared in constant time.
fn carries(header: Option<&str>, token: &SecretString) -> bool {
    use subtle::ConstantTimeEq;
    header
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|given| {
            bool::from(
                given
                    .trim()
                    .as_bytes()
                    .ct_eq(token.expose_secret().as_bytes()),
            )
        })
}

/// Lets a request through when it needs no token or carries it; else 401.
async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let token = req
        .app_data::<web::Data<Shared>>()
        .and_then(|s| s.token.clone());
    if let Some(token) = token
        && !OPEN.contains(&req.path())
    {
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !carries(header, &token) {
            let response = HttpResponse::Unauthorized()
                .insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"))
                .json(json!({"error": "a bearer token is required (http.token_file)"}));
            return Ok(req.into_response(response));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// A running endpoint.
pub struct Endpoint {
    /// The address it listens on (the port is chosen by the system when configured as 0).
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
}

impl Endpoint {
    /// Starts the endpoint on `listen` (one worker thread; signals are left to the service).
    /// `ready` turns true once storage is open (what `/readyz` waits for first).
    pub fn start(
        listen: SocketAddr,
        token: Option<SecretString>,
        board: Arc<StatusBoard>,
        ready: Arc<AtomicBool>,
        clock: SharedClock,
    ) -> std::io::Result<Endpoint> {
        let shared = Shared {
            board,
            ready,
            clock,
            token: token.map(Arc::new),
        };
        let guarded = shared.token.is_some();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .wrap(from_fn(guard))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .route("/status", web::get().to(status))
                .route("/metrics", web::get().to(metrics))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(listen)?;
        let addr = server.addrs().first().copied().unwrap_or(listen);
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        if !addr.ip().is_loopback() && !guarded {
            tracing::warn!(%addr, "the HTTP endpoint listens beyond loopback and has no token");
        }
        Ok(Endpoint { addr, handle })
    }

    /// Stops accepting and ends the worker.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

async fn healthz(s: web::Data<Shared>) -> HttpResponse {
    let failed: Vec<String> = s
        .board
        .snapshot()
        .actors
        .into_iter()
        .filter(|a| a.state == State::Failed)
        .map(|a| a.name)
        .collect();
    if failed.is_empty() {
        HttpResponse::Ok().json(json!({ "status": "ok" }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "failing", "failed": failed }))
    }
}

async fn readyz(s: web::Data<Shared>) -> HttpResponse {
    let reasons = not_ready(&s.board.snapshot(), s.ready.load(Ordering::Acquire));
    if reasons.is_empty() {
        HttpResponse::Ok().json(json!({ "ready": true }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "ready": false, "reasons": reasons }))
    }
}

async fn status(s: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(s.board.to_json(s.clock.now()))
}

async fn metrics(s: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(crate::metrics::render(&s.board, s.clock.now()))
}

/// Why the service is not ready (empty: it is). `storage_open`: storage has been opened.
///
/// A day is recording when the scheduler's next event is the close, or always without a
/// scheduler (`run --now`); then every socket and the persister (or the store role's consumer)
/// must be up. A scheduled event being retried is not ready. Idle by the calendar is ready.
pub fn not_ready(actors: &[ActorStatus], storage_open: bool) -> Vec<String> {
    let mut reasons = Vec::new();
    if !storage_open {
        reasons.push("starting: storage is not open yet".to_string());
    }
    for a in actors.iter().filter(|a| a.state == State::Failed) {
        reasons.push(format!(
            "{} has failed: {}",
            a.name,
            a.last_error.as_deref().unwrap_or("no error recorded")
        ));
    }
    // A scheduled event failing (login, instruments, connect): the day is not recording.
    if let Some((s, figures)) = actors
        .scheduler()
        .filter(|(a, _)| a.state == State::Backoff)
    {
        let event = figures
            .last_event
            .as_ref()
            .map_or("event", |l| l.event.as_str());
        reasons.push(format!(
            "the scheduled {event} is being retried: {}",
            s.last_error.as_deref().unwrap_or("no error recorded")
        ));
    }
    if actors.day_recording() {
        for a in actors.iter().filter(|a| {
            matches!(
                a.actor,
                Actor::Socket(_) | Actor::Persister | Actor::Consumer | Actor::Journal
            ) && matches!(a.state, State::Starting | State::Backoff)
        }) {
            let state = match a.state {
                State::Backoff => "backing off",
                other => other.as_str(),
            };
            reasons.push(match &a.last_error {
                Some(e) => format!("{} is {state}: {e}", a.name),
                None => format!("{} is {state}", a.name),
            });
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn actor(name: &str, state: State, details: serde_json::Value) -> ActorStatus {
        let mut a = crate::status::sample(name, state, details);
        a.last_error = (state == State::Backoff).then(|| "refused".to_string());
        a
    }

    #[test]
    fn readiness_follows_storage_the_day_and_the_scheduler() {
        let idle = actor("scheduler", State::Running, json!({"next_event": "login"}));
        let down = actor("socket-1", State::Backoff, json!({}));
        assert_eq!(
            not_ready(std::slice::from_ref(&idle), false),
            ["starting: storage is not open yet"]
        );
        assert!(
            not_ready(&[idle.clone(), down.clone()], true).is_empty(),
            "idle by the calendar: yesterday's sockets do not count"
        );
        let recording = actor("scheduler", State::Running, json!({"next_event": "close"}));
        assert_eq!(
            not_ready(&[recording, down.clone()], true),
            ["socket-1 is backing off: refused"]
        );
        let retrying = actor(
            "scheduler",
            State::Backoff,
            json!({"next_event": "login", "last_event": "login: failed: refused"}),
        );
        assert_eq!(
            not_ready(&[retrying], true),
            ["the scheduled login is being retried: refused"]
        );
        // `run --now` (no scheduler): always recording; the store role's consumer counts.
        let consumer = actor("consumer", State::Starting, json!({}));
        assert_eq!(not_ready(&[consumer], true), ["consumer is starting"]);
        let journal = actor("journal", State::Backoff, json!({}));
        assert_eq!(
            not_ready(&[journal], true),
            ["journal is backing off: refused"]
        );
        let failed = actor("eod", State::Failed, json!({}));
        assert_eq!(
            not_ready(&[failed], true),
            ["eod has failed: no error recorded"]
        );
    }
}
