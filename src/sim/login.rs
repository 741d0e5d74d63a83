//! Kite's web login and session endpoints (PROTOCOL.md §4.2 and §3.3):
//! `/connect/login` → `/api/login` → `/api/twofa` → `/connect/finish` → `/session/token`.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::http::{authorize, error, form, input_error, query_param, success, token_error};
use super::state::{
    AccessToken, LoginSession, RateClass, RequestToken, SimState, lock, random_token,
};
use crate::kite::login::{session_checksum, totp};

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((LOCATION, location))
        .finish()
}

/// `GET /connect/login?v=3&api_key=…[&sess_id=…][&redirect_params=…]`.
///
/// Without `sess_id`: 302 to the same page with a new `sess_id` and a `kf_session` cookie (or,
/// for a browser already logged in, straight on to `/connect/finish`). With it: the login page.
pub async fn connect_login(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    let Some(api_key) = query_param(&req, "api_key").filter(|k| state.app(k).is_some()) else {
        return input_error("Invalid `api_key`.");
    };
    if let Some(sess_id) = query_param(&req, "sess_id") {
        if !lock(&state.auth).login_sessions.contains_key(&sess_id) {
            return input_error("Invalid session. Please restart the login flow.");
        }
        return HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(format!(
                "<!doctype html><title>Kite - Zerodha (simulated)</title>\
                 <p>tickvault sim login for app {api_key}. POST /api/login, then /api/twofa.</p>"
            ));
    }
    let sess_id = random_token(32);
    let logged_in = req
        .cookie("enctoken")
        .is_some_and(|c| lock(&state.auth).web_sessions.contains_key(c.value()));
    lock(&state.auth).login_sessions.insert(
        sess_id.clone(),
        LoginSession {
            api_key: api_key.clone(),
            redirect_params: query_param(&req, "redirect_params"),
        },
    );
    let next = if logged_in {
        format!("/connect/finish?api_key={api_key}&sess_id={sess_id}&v=3")
    } else {
        format!("/connect/login?api_key={api_key}&sess_id={sess_id}&v=3")
    };
    HttpResponse::Found()
        .insert_header((LOCATION, next))
        .cookie(
            Cookie::build("kf_session", random_token(32))
                .path("/")
                .http_only(true)
                .finish(),
        )
        .finish()
}

/// `POST /api/login` (form `user_id`, `password`).
pub async fn api_login(body: Bytes, state: Data<SimState>) -> HttpResponse {
    let f = form(&body);
    let (Some(user_id), Some(password)) = (f.get("user_id"), f.get("password")) else {
        return input_error("`user_id` and `password` are required.");
    };
    let Some(user) = state.user(user_id).filter(|u| &u.password == password) else {
        return error(
            StatusCode::FORBIDDEN,
            "UserException",
            "Invalid `user_id` or `password`.",
        );
    };
    let request_id = random_token(40);
    lock(&state.auth)
        .pending_twofa
        .insert(request_id.clone(), user.user_id.clone());
    success(json!({
        "user_id": user.user_id,
        "request_id": request_id,
        "twofa_type": "totp",
        "twofa_types": ["totp"],
        "twofa_status": "active",
        "profile": {
            "user_name": user.user_name,
            "user_shortname": short_name(&user.user_name),
            "avatar_url": null,
        },
    }))
}

fn short_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

/// `POST /api/twofa` (form `user_id`, `request_id`, `twofa_value`, `twofa_type`): checks a real
/// RFC 6238 TOTP (SHA-1, 6 digits, 30 s, ±1 step) and sets the web session cookies.
pub async fn api_twofa(body: Bytes, state: Data<SimState>) -> HttpResponse {
    let f = form(&body);
    let (Some(user_id), Some(request_id), Some(value)) =
        (f.get("user_id"), f.get("request_id"), f.get("twofa_value"))
    else {
        return input_error("`user_id`, `request_id` and `twofa_value` are required.");
    };
    if f.get("twofa_type")
        .is_some_and(|t| t != "totp" && t != "app_code")
    {
        return input_error("Invalid `twofa_type`.");
    }
    let twofa_error = |m: &str| error(StatusCode::FORBIDDEN, "TwoFAException", m);
    let mut auth = lock(&state.auth);
    if auth.pending_twofa.get(request_id) != Some(user_id) {
        return twofa_error("Invalid request. Please log in again.");
    }
    if auth.fail_next_logins > 0 {
        auth.fail_next_logins -= 1;
        tracing::info!(
            user_id,
            left = auth.fail_next_logins,
            "failing a login at TOTP on purpose"
        );
        return twofa_error("Invalid TOTP.");
    }
    let Some(user) = state.user(user_id) else {
        return twofa_error("Invalid request. Please log in again.");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let valid = totp(&user.totp_secret).is_ok_and(|t| t.check(value.trim(), now).is_some());
    if !valid {
        return twofa_error("Invalid TOTP.");
    }
    auth.pending_twofa.remove(request_id);
    let enctoken = random_token(64);
    auth.web_sessions
        .insert(enctoken.clone(), user.user_id.clone());
    let cookie = |name: &'static str, value: String| Cookie::build(name, value).path("/").finish();
    HttpResponse::Ok()
        .cookie(cookie("enctoken", enctoken))
        .cookie(cookie("public_token", random_token(32)))
        .cookie(cookie("kf_session", random_token(32)))
        .cookie(cookie("user_id", user.user_id.clone()))
        .json(json!({ "status": "success", "data": { "profile": {} } }))
}

/// `GET /connect/finish?api_key=…&sess_id=…`: with a logged-in browser, 302 to the app's
/// redirect URL carrying a fresh single-use `request_token`; otherwise back to the login page.
pub async fn connect_finish(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    let (Some(api_key), Some(sess_id)) =
        (query_param(&req, "api_key"), query_param(&req, "sess_id"))
    else {
        return input_error("`api_key` and `sess_id` are required.");
    };
    let Some(app) = state.app(&api_key) else {
        return input_error("Invalid `api_key`.");
    };
    let mut auth = lock(&state.auth);
    let Some(session) = auth
        .login_sessions
        .get(&sess_id)
        .filter(|s| s.api_key == api_key)
        .cloned()
    else {
        return input_error("Invalid session. Please restart the login flow.");
    };
    let user_id = req
        .cookie("enctoken")
        .and_then(|c| auth.web_sessions.get(c.value()).cloned());
    let Some(user_id) = user_id else {
        return redirect(&format!(
            "/connect/login?api_key={api_key}&sess_id={sess_id}&v=3"
        ));
    };
    auth.login_sessions.remove(&sess_id);
    let request_token = random_token(32);
    auth.request_tokens.insert(
        request_token.clone(),
        RequestToken {
            api_key,
            user_id,
            issued: std::time::Instant::now(),
        },
    );
    let separator = if app.redirect_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let mut location = format!(
        "{}{separator}action=login&type=login&status=success&request_token={request_token}",
        app.redirect_url
    );
    if let Some(params) = session.redirect_params.filter(|p| !p.is_empty()) {
        location.push('&');
        location.push_str(&params);
    }
    redirect(&location)
}

/// `POST /session/token` (form `api_key`, `request_token`, `checksum`).
pub async fn session_token(body: Bytes, state: Data<SimState>) -> HttpResponse {
    let f = form(&body);
    let (Some(api_key), Some(request_token), Some(checksum)) =
        (f.get("api_key"), f.get("request_token"), f.get("checksum"))
    else {
        return input_error("`api_key`, `request_token` and `checksum` are required.");
    };
    if !state.admit(api_key, RateClass::Api) {
        return super::http::too_many_requests();
    }
    let Some(app) = state.app(api_key) else {
        return error(
            StatusCode::FORBIDDEN,
            "TokenException",
            "Invalid `api_key`.",
        );
    };
    if session_checksum(api_key, request_token, &app.api_secret) != checksum.to_ascii_lowercase() {
        return error(
            StatusCode::FORBIDDEN,
            "TokenException",
            "Invalid `checksum`.",
        );
    }
    let mut auth = lock(&state.auth);
    // Single use: the token is gone whether or not it is still fresh.
    let issued = auth.request_tokens.remove(request_token);
    let Some(rt) = issued.filter(|rt| {
        rt.api_key == *api_key && rt.issued.elapsed() <= state.config.request_token_ttl
    }) else {
        return error(
            StatusCode::FORBIDDEN,
            "TokenException",
            "Token is invalid or has expired.",
        );
    };
    let Some(user) = state.user(&rt.user_id) else {
        return token_error();
    };
    let access_token = random_token(32);
    auth.access_tokens.insert(
        access_token.clone(),
        AccessToken {
            api_key: api_key.clone(),
            user_id: user.user_id.clone(),
            valid: true,
        },
    );
    let enctoken = auth
        .web_sessions
        .iter()
        .find(|(_, u)| **u == user.user_id)
        .map(|(e, _)| e.clone())
        .unwrap_or_default();
    drop(auth);
    lock(&state.stats).sessions_created += 1;
    let mut data = profile_json(user);
    if let Some(obj) = data.as_object_mut() {
        obj.insert("api_key".into(), json!(api_key));
        obj.insert("access_token".into(), json!(access_token));
        obj.insert("public_token".into(), json!(random_token(32)));
        obj.insert("enctoken".into(), json!(enctoken));
        obj.insert("refresh_token".into(), json!(""));
        obj.insert("silo".into(), json!(""));
        obj.insert("login_time".into(), json!(state.clock.now_kite()));
    }
    success(data)
}

/// `DELETE /session/token?api_key=…&access_token=…`: the token stops working.
pub async fn delete_session(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    let (Some(api_key), Some(token)) = (
        query_param(&req, "api_key"),
        query_param(&req, "access_token"),
    ) else {
        return input_error("`api_key` and `access_token` are required.");
    };
    let mut auth = lock(&state.auth);
    match auth
        .access_tokens
        .get_mut(&token)
        .filter(|t| t.api_key == api_key && t.valid)
    {
        Some(t) => {
            t.valid = false;
            success(json!(true))
        }
        None => token_error(),
    }
}

fn profile_json(user: &crate::settings::sim::SimUser) -> serde_json::Value {
    json!({
        "user_id": user.user_id,
        "user_type": "individual",
        "email": user.email,
        "user_name": user.user_name,
        "user_shortname": short_name(&user.user_name),
        "broker": "ZERODHA",
        "exchanges": ["NSE", "NFO", "BSE", "BFO", "CDS", "BCD", "MCX", "MF"],
        "products": ["CNC", "NRML", "MIS", "BO", "CO"],
        "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
        "avatar_url": null,
        "meta": { "demat_consent": "physical" },
    })
}

/// `GET /user/profile`.
pub async fn profile(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    match authorize(&req, &state, RateClass::Api) {
        Ok(caller) => match state.user(&caller.user_id) {
            Some(user) => {
                lock(&state.stats).profile_checks += 1;
                success(profile_json(user))
            }
            None => token_error(),
        },
        Err(refusal) => refusal.response(),
    }
}
