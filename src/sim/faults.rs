//! Fault injection and introspection under `/sim/` (JSON over HTTP; see docs/simulator.md).

use std::time::Duration;

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use super::http::query_param;
use super::state::{Control, SimState, lock};

fn not_found(id: u64) -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "error": format!("no open connection {id}") }))
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": message }))
}

/// `GET /sim/connections`: every open WebSocket.
pub async fn connections(state: Data<SimState>) -> HttpResponse {
    let conns = lock(&state.connections);
    let list: Vec<Value> = conns
        .iter()
        .map(|(id, c)| {
            json!({
                "id": id,
                "api_key": c.api_key,
                "opened_at": crate::calendar::ist_rfc3339(c.opened_at),
                "subscribed": c.tokens.len(),
                "tokens": c.tokens.keys().collect::<Vec<_>>(),
                "modes": c.tokens.iter().map(|(t, m)| (t.to_string(), json!(m.as_str()))).collect::<Map<_, _>>(),
                "frames_sent": c.frames_sent,
                "ticks_sent": c.ticks_sent,
            })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

fn control(state: &SimState, id: u64, command: Control) -> HttpResponse {
    let conns = lock(&state.connections);
    match conns.get(&id) {
        Some(c) if c.control.send(command).is_ok() => {
            HttpResponse::Ok().json(json!({ "status": "ok", "id": id }))
        }
        _ => not_found(id),
    }
}

/// `POST /sim/connections/{id}/drop`: abrupt TCP close, no close frame.
pub async fn drop_connection(state: Data<SimState>, id: Path<u64>) -> HttpResponse {
    control(&state, *id, Control::Drop)
}

/// `POST /sim/connections/{id}/stall?seconds=N`: nothing sent, TCP kept open, for N seconds.
pub async fn stall_connection(
    req: HttpRequest,
    state: Data<SimState>,
    id: Path<u64>,
) -> HttpResponse {
    let seconds = query_param(&req, "seconds").unwrap_or_else(|| "10".into());
    match seconds.parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => {
            control(&state, *id, Control::Stall(Duration::from_secs_f64(s)))
        }
        _ => bad_request("`seconds` must be a number from 0 to 3600"),
    }
}

/// `POST /sim/connections/{id}/garbage`: one malformed binary message.
pub async fn garbage(state: Data<SimState>, id: Path<u64>) -> HttpResponse {
    control(&state, *id, Control::Garbage)
}

/// `POST /sim/tokens/expire`: every access token stops working (open sockets keep streaming).
pub async fn expire_tokens(state: Data<SimState>) -> HttpResponse {
    let mut auth = lock(&state.auth);
    let mut expired = 0;
    for t in auth.access_tokens.values_mut().filter(|t| t.valid) {
        t.valid = false;
        expired += 1;
    }
    tracing::info!(expired, "expired every access token (fault)");
    HttpResponse::Ok().json(json!({ "expired": expired }))
}

/// `POST /sim/instruments/truncate?bytes=B&times=N`: the next N instruments dumps are cut after
/// B bytes (default: 2 dumps, 100,000 bytes).
pub async fn truncate_dump(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    let number = |name: &str, default: usize| {
        query_param(&req, name).map_or(Ok(default), |v| v.parse::<usize>())
    };
    match (number("bytes", 100_000), number("times", 2)) {
        (Ok(bytes), Ok(times)) if times > 0 => {
            *lock(&state.dump_truncation) = Some((times as u32, bytes));
            HttpResponse::Ok().json(json!({ "truncate_bytes": bytes, "times": times }))
        }
        _ => bad_request("`bytes` and `times` must be whole numbers, `times` at least 1"),
    }
}

/// `POST /sim/login/fail?times=N`: the next N logins fail at the TOTP step.
pub async fn fail_logins(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    match query_param(&req, "times")
        .unwrap_or_else(|| "1".into())
        .parse::<u32>()
    {
        Ok(n) => {
            lock(&state.auth).fail_next_logins = n;
            HttpResponse::Ok().json(json!({ "fail_next_logins": n }))
        }
        Err(_) => bad_request("`times` must be a whole number"),
    }
}

/// `GET /sim/stats`: ticks sent per token and per connection (closed ones included).
pub async fn stats(state: Data<SimState>) -> HttpResponse {
    let stats = lock(&state.stats);
    let per_token: Map<String, Value> = stats
        .ticks_per_token
        .iter()
        .map(|(t, n)| (t.to_string(), json!(n)))
        .collect();
    let per_connection: Map<String, Value> = stats
        .per_connection
        .iter()
        .map(|(id, s)| (id.to_string(), json!(s)))
        .collect();
    let ticks: u64 = stats.per_connection.values().map(|s| s.ticks_sent).sum();
    let frames: u64 = stats.per_connection.values().map(|s| s.frames_sent).sum();
    HttpResponse::Ok().json(json!({
        "ticks_sent": ticks,
        "frames_sent": frames,
        "per_token": per_token,
        "per_connection": per_connection,
        "sessions_created": stats.sessions_created,
        "dumps_served": stats.dumps_served,
        "profile_checks": stats.profile_checks,
        "instruments": state.universe.instruments.len(),
        "date": state.universe.date.to_string(),
        "clock": state.clock.now_kite(),
    }))
}
