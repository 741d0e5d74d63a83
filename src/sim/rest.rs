//! Market data over REST: the instruments dump (CSV, gzip when asked) and quotes.

use actix_web::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use super::http::{
    auth_header, authorize, input_error, query_pairs, success, token_error, too_many_requests,
};
use super::state::{RateClass, SimState, kite_time, lock};
use crate::kite::{Level, PacketKind, Tick};

/// `GET /instruments`.
pub async fn instruments_all(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    instruments(&req, &state, "")
}

/// `GET /instruments/{exchange}`.
pub async fn instruments_exchange(
    req: HttpRequest,
    state: Data<SimState>,
    exchange: Path<String>,
) -> HttpResponse {
    instruments(&req, &state, &exchange.to_ascii_uppercase())
}

/// The dump is served without credentials (as reported of Kite), but a bad token is refused.
fn instruments(req: &HttpRequest, state: &SimState, exchange: &str) -> HttpResponse {
    let who = match auth_header(req) {
        Some((key, token)) => {
            if state.check_access(&key, &token).is_none() {
                return token_error();
            }
            key
        }
        None => req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    };
    if !state.admit(&who, RateClass::Api) {
        return too_many_requests();
    }
    let (csv, gz) = state.instruments_csv(exchange);
    lock(&state.stats).dumps_served += 1;
    {
        let mut cut = crate::sim::state::lock(&state.dump_truncation);
        if let Some((times, bytes)) = cut.as_mut() {
            let body = csv.slice(..(*bytes).min(csv.len()));
            *times -= 1;
            if *times == 0 {
                *cut = None;
            }
            tracing::info!(
                bytes = body.len(),
                "served a truncated instruments dump (fault)"
            );
            return HttpResponse::Ok()
                .insert_header((CONTENT_TYPE, "text/csv"))
                .body(body);
        }
    }
    let gzip = req
        .headers()
        .get("accept-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = HttpResponse::Ok();
    response.insert_header((CONTENT_TYPE, "text/csv"));
    if gzip {
        response.insert_header((CONTENT_ENCODING, "gzip")).body(gz)
    } else {
        response.body(csv)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum QuoteKind {
    Full,
    Ohlc,
    Ltp,
}

/// `GET /quote?i=EXCHANGE:SYMBOL&i=…` (at most 500).
pub async fn quote(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    quotes(&req, &state, QuoteKind::Full, 500)
}

/// `GET /quote/ohlc` (at most 1000).
pub async fn quote_ohlc(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    quotes(&req, &state, QuoteKind::Ohlc, 1000)
}

/// `GET /quote/ltp` (at most 1000).
pub async fn quote_ltp(req: HttpRequest, state: Data<SimState>) -> HttpResponse {
    quotes(&req, &state, QuoteKind::Ltp, 1000)
}

fn quotes(req: &HttpRequest, state: &SimState, kind: QuoteKind, max: usize) -> HttpResponse {
    if let Err(refusal) = authorize(req, state, RateClass::Quote) {
        return refusal.response();
    }
    let keys: Vec<String> = query_pairs(req)
        .into_iter()
        .filter(|(k, _)| k == "i")
        .map(|(_, v)| v)
        .collect();
    if keys.is_empty() {
        return input_error("No instruments given (`i`).");
    }
    if keys.len() > max {
        return input_error(&format!("Too many instruments: at most {max} per request."));
    }
    let now = state.clock.now_secs();
    let mut data = Map::new();
    let mut market = lock(&state.market);
    for key in keys {
        // Unknown keys are simply absent, as on Kite. Numeric tokens are accepted too.
        let inst = state.universe.by_key(&key).or_else(|| {
            key.parse::<u32>()
                .ok()
                .and_then(|t| state.universe.by_token(t))
        });
        let Some(inst) = inst else { continue };
        let Some(tick) = market.snapshot(inst.token, now) else {
            continue;
        };
        data.insert(key, quote_json(&tick, kind, now));
    }
    success(Value::Object(data))
}

fn quote_json(t: &Tick, kind: QuoteKind, now: i64) -> Value {
    let mut q = json!({
        "instrument_token": t.instrument_token,
        "last_price": t.last_price_f64(),
    });
    if kind == QuoteKind::Ltp {
        return q;
    }
    let ohlc = json!({
        "open": t.scaled(t.ohlc.open),
        "high": t.scaled(t.ohlc.high),
        "low": t.scaled(t.ohlc.low),
        "close": t.scaled(t.ohlc.close),
    });
    let Some(obj) = q.as_object_mut() else {
        return q;
    };
    obj.insert("ohlc".into(), ohlc);
    if kind == QuoteKind::Ohlc {
        return q;
    }
    let levels = |side: &[Level; 5]| -> Value {
        side.iter()
            .map(|l| json!({ "price": t.scaled(l.price), "quantity": l.quantity, "orders": l.orders }))
            .collect()
    };
    let close = t.scaled(t.ohlc.close);
    let ts = |secs: u32| {
        if secs == 0 {
            Value::Null
        } else {
            json!(kite_time(i64::from(secs)))
        }
    };
    let extra = json!({
        "timestamp": kite_time(now),
        "last_trade_time": ts(t.last_trade_time),
        "last_quantity": t.last_traded_quantity,
        "buy_quantity": t.total_buy_quantity,
        "sell_quantity": t.total_sell_quantity,
        "volume": t.volume_traded,
        "average_price": t.scaled(t.average_traded_price),
        "oi": t.oi,
        "oi_day_high": t.oi_day_high,
        "oi_day_low": t.oi_day_low,
        "net_change": if close == 0.0 { 0.0 } else { t.last_price_f64() - close },
        "lower_circuit_limit": (close * 0.8 * 20.0).round() / 20.0,
        "upper_circuit_limit": (close * 1.2 * 20.0).round() / 20.0,
        "depth": if t.kind == PacketKind::Full {
            json!({ "buy": levels(&t.depth.buy), "sell": levels(&t.depth.sell) })
        } else {
            json!({ "buy": [], "sell": [] })
        },
    });
    if let Some(extra) = extra.as_object() {
        obj.extend(extra.clone());
    }
    q
}
