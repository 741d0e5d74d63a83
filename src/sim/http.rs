//! Kite's HTTP conventions: the JSON envelope, error types, the `Authorization` header, and
//! form and query parsing that accepts what the official clients send.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::state::{RateClass, SimState};

/// `{"status":"success","data":…}` with HTTP 200.
pub fn success(data: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "success", "data": data }))
}

/// `{"status":"error","message":…,"error_type":…,"data":null}` with `status`.
pub fn error(status: StatusCode, error_type: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "status": "error",
        "message": message,
        "error_type": error_type,
        "data": null,
    }))
}

/// 400 InputException.
pub fn input_error(message: &str) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, "InputException", message)
}

/// 403 TokenException with Kite's exact message for a bad or expired token.
pub fn token_error() -> HttpResponse {
    error(
        StatusCode::FORBIDDEN,
        "TokenException",
        "Incorrect `api_key` or `access_token`.",
    )
}

/// 429 for a request over the rate limit.
pub fn too_many_requests() -> HttpResponse {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "NetworkException",
        "Too many requests",
    )
}

/// Parses an `application/x-www-form-urlencoded` body (last value of a repeated key wins).
pub fn form(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The query string as pairs, repeated keys kept (`i=NSE:INFY&i=NSE:TCS`), percent-decoded.
pub fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_str(req.query_string()).unwrap_or_default()
}

/// One query parameter.
pub fn query_param(req: &HttpRequest, key: &str) -> Option<String> {
    query_pairs(req)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// `Authorization: token <api_key>:<access_token>`, split.
pub fn auth_header(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let rest = value.strip_prefix("token ")?;
    let (key, token) = rest.split_once(':')?;
    Some((key.trim().to_string(), token.trim().to_string()))
}

/// An authenticated API caller.
pub struct Caller {
    /// The app.
    pub api_key: String,
    /// The user the token belongs to.
    pub user_id: String,
}

/// Why an API call is refused before it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No usable `Authorization` header (400 InputException).
    MissingCredentials,
    /// An unknown, expired or deleted token (403 TokenException).
    BadToken,
    /// Over the rate limit (429).
    RateLimited,
}

impl Refusal {
    /// Kite's answer for this refusal.
    pub fn response(self) -> HttpResponse {
        match self {
            Refusal::MissingCredentials => input_error("Invalid `api_key` or `access_token`."),
            Refusal::BadToken => token_error(),
            Refusal::RateLimited => too_many_requests(),
        }
    }
}

/// Checks the `Authorization` header and the rate limit of `class`.
pub fn authorize(req: &HttpRequest, state: &SimState, class: RateClass) -> Result<Caller, Refusal> {
    let (api_key, token) = auth_header(req).ok_or(Refusal::MissingCredentials)?;
    let user_id = state
        .check_access(&api_key, &token)
        .ok_or(Refusal::BadToken)?;
    if !state.admit(&api_key, class) {
        return Err(Refusal::RateLimited);
    }
    Ok(Caller { api_key, user_id })
}
