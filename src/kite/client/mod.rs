//! An HTTP client for Kite: the unattended web login (PROTOCOL.md §4.2) and the REST calls a
//! recorder needs (profile, instruments dump, quotes). Errors are decisions: a rejected
//! password is not retried, a rejected TOTP waits for the next window, a 403 token error means
//! log in again, a transport error means try again.
//!
//! The client must run inside an actix/tokio runtime. Secrets are taken as [`SecretString`] and
//! never appear in errors or logs.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::web::Bytes;
use awc::Client;
use awc::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

mod web_login;

pub use crate::kite::error::{KiteError, Refusal, Step};

/// What the unattended login needs. The secrets stay wrapped.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The app's API key.
    pub api_key: String,
    /// The app's API secret.
    pub api_secret: SecretString,
    /// Zerodha user id.
    pub user_id: String,
    /// Zerodha password.
    pub password: SecretString,
    /// Base32 TOTP seed.
    pub totp_secret: SecretString,
}

/// A Kite Connect session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The app it belongs to.
    pub api_key: String,
    /// The user logged in.
    pub user_id: String,
    /// The access token for REST and the WebSocket.
    pub access_token: SecretString,
    /// `login_time` as Kite sent it (`yyyy-mm-dd hh:mm:ss`, IST).
    pub login_time: String,
}

/// A server's `Date` and when it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerDate {
    /// Local time just before the request.
    pub sent: chrono::DateTime<chrono::Utc>,
    /// Local time just after the answer.
    pub received: chrono::DateTime<chrono::Utc>,
    /// The `Date` header (whole seconds).
    pub server: chrono::DateTime<chrono::Utc>,
}

impl ServerDate {
    /// How far the local clock is ahead of the server's (negative: behind), in milliseconds,
    /// taking the server's moment as the middle of its second and of the round trip; and the
    /// uncertainty of that figure (half the round trip plus half a second).
    pub fn offset_ms(&self) -> (i64, i64) {
        let round_trip = (self.received - self.sent).num_milliseconds().max(0);
        let local_mid = self.sent + chrono::TimeDelta::milliseconds(round_trip / 2);
        let server_mid = self.server + chrono::TimeDelta::milliseconds(500);
        (
            (local_mid - server_mid).num_milliseconds(),
            round_trip / 2 + 500,
        )
    }
}

/// Kite over HTTP.
#[derive(Clone)]
pub struct KiteClient {
    http: Client,
    api_root: String,
    login_root: String,
}

impl std::fmt::Debug for KiteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KiteClient")
            .field("api_root", &self.api_root)
            .field("login_root", &self.login_root)
            .finish()
    }
}

fn transport(step: Step, e: impl std::fmt::Display) -> KiteError {
    KiteError::Transport {
        step,
        message: e.to_string(),
    }
}

fn protocol(step: Step, message: impl Into<String>) -> KiteError {
    KiteError::Protocol {
        step,
        message: message.into(),
    }
}

/// Reads Kite's JSON envelope: `data` on success, [`KiteError::Refused`] or [`KiteError::Api`]
/// on an error body.
fn envelope(step: Step, status: StatusCode, body: &[u8]) -> Result<Value, KiteError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| protocol(step, format!("HTTP {status} with a body that is not JSON")))?;
    if v.get("status").and_then(Value::as_str) == Some("error")
        || v.get("error_type").is_some()
        || !status.is_success()
    {
        let error_type = v
            .get("error_type")
            .and_then(Value::as_str)
            .unwrap_or("GeneralException")
            .to_string();
        let message = v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let status = status.as_u16();
        // A 4xx at a login step refuses a credential; a 5xx there is Kite's own trouble.
        return Err(match step.refused_credential().filter(|_| status < 500) {
            Some(refusal) => KiteError::Refused {
                refusal,
                step,
                status,
                error_type,
                message,
            },
            None => KiteError::Api {
                step,
                status,
                error_type,
                message,
            },
        });
    }
    Ok(v.get("data").cloned().unwrap_or(Value::Null))
}

impl KiteClient {
    /// A client for the REST API at `api_root` and the web login at `login_root` (the same
    /// server for the simulator; `https://api.kite.trade` and `https://kite.zerodha.com` live).
    pub fn new(api_root: &str, login_root: &str, timeout: Duration) -> KiteClient {
        let http = Client::builder()
            .disable_redirects()
            .timeout(timeout)
            .add_default_header(("X-Kite-Version", "3"))
            .add_default_header((
                "User-Agent",
                concat!("tickvault/", env!("CARGO_PKG_VERSION")),
            ))
            .finish();
        KiteClient {
            http,
            api_root: api_root.trim_end_matches('/').to_string(),
            login_root: login_root.trim_end_matches('/').to_string(),
        }
    }

    async fn read<S>(
        step: Step,
        mut response: awc::ClientResponse<S>,
        limit: usize,
    ) -> Result<(StatusCode, Bytes), KiteError>
    where
        S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin,
    {
        let status = response.status();
        let body = response
            .body()
            .limit(limit)
            .await
            .map_err(|e| transport(step, e))?;
        Ok((status, body))
    }

    fn authed(&self, req: awc::ClientRequest, session: &Session) -> awc::ClientRequest {
        req.insert_header((
            "Authorization",
            format!(
                "token {}:{}",
                session.api_key,
                session.access_token.expose_secret()
            ),
        ))
    }

    /// `GET /user/profile`: also the cheapest check that a token still works.
    pub async fn profile(&self, session: &Session) -> Result<Value, KiteError> {
        let step = Step::Profile;
        let req = self.authed(
            self.http.get(format!("{}/user/profile", self.api_root)),
            session,
        );
        let response = req.send().await.map_err(|e| transport(step, e))?;
        let (status, body) = Self::read(step, response, 256 * 1024).await?;
        envelope(step, status, &body)
    }

    /// `GET /instruments` (or `/instruments/{exchange}`): the dump as CSV bytes (gzip is
    /// negotiated and decoded transparently).
    pub async fn instruments(
        &self,
        session: &Session,
        exchange: Option<&str>,
    ) -> Result<Vec<u8>, KiteError> {
        let step = Step::Instruments;
        let url = match exchange {
            Some(e) => format!("{}/instruments/{e}", self.api_root),
            None => format!("{}/instruments", self.api_root),
        };
        let req = self
            .authed(self.http.get(url), session)
            .insert_header(("Accept-Encoding", "gzip"));
        let response = req.send().await.map_err(|e| transport(step, e))?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (status, body) = Self::read(step, response, 256 * 1024 * 1024).await?;
        if !content_type.starts_with("text/csv") {
            return Err(envelope(step, status, &body)
                .err()
                .unwrap_or_else(|| protocol(step, format!("content type {content_type:?}"))));
        }
        Ok(body.to_vec())
    }

    /// The server's clock: the `Date` header of a plain `GET` of the API root (any answer has
    /// one), with the local times just before the request and just after the answer. The header
    /// is to the second.
    pub async fn server_date(&self) -> Result<ServerDate, KiteError> {
        let step = Step::ServerDate;
        let sent = chrono::Utc::now();
        let response = self
            .http
            .get(format!("{}/", self.api_root))
            .send()
            .await
            .map_err(|e| transport(step, e))?;
        let received = chrono::Utc::now();
        let header = response
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| protocol(step, "no Date header"))?;
        let server = chrono::DateTime::parse_from_rfc2822(header)
            .map_err(|e| protocol(step, format!("Date header {header:?}: {e}")))?
            .with_timezone(&chrono::Utc);
        Ok(ServerDate {
            sent,
            received,
            server,
        })
    }

    /// `GET /quote/ltp?i=…`: last prices by `EXCHANGE:SYMBOL` key (unknown keys are absent).
    pub async fn ltp(
        &self,
        session: &Session,
        keys: &[&str],
    ) -> Result<HashMap<String, f64>, KiteError> {
        let step = Step::QuoteLtp;
        let query: Vec<(&str, &str)> = keys.iter().map(|k| ("i", *k)).collect();
        let req = self
            .authed(
                self.http.get(format!("{}/quote/ltp", self.api_root)),
                session,
            )
            .query(&query)
            .map_err(|e| protocol(step, e.to_string()))?;
        let response = req.send().await.map_err(|e| transport(step, e))?;
        let (status, body) = Self::read(step, response, 16 * 1024 * 1024).await?;
        let data = envelope(step, status, &body)?;
        let map = data
            .as_object()
            .ok_or_else(|| protocol(step, "data is not an object"))?;
        Ok(map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.get("last_price")?.as_f64()?)))
            .collect())
    }
}
