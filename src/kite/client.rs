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

use super::login::{session_checksum, totp, totp_code};

/// Why a Kite call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KiteError {
    /// Kite answered with its error envelope.
    #[error("{step}: HTTP {status} {error_type}: {message}")]
    Api {
        /// Which call.
        step: Step,
        /// HTTP status.
        status: u16,
        /// `error_type` (TokenException, InputException, TwoFAException, …).
        error_type: String,
        /// `message`.
        message: String,
    },
    /// Kite refused a credential at a login step (a 4xx): retrying will not help (except a
    /// TOTP code at a window's edge), the settings must change.
    #[error("{step}: HTTP {status} {error_type}: {message}")]
    Refused {
        /// Which credential.
        refusal: Refusal,
        /// Which call.
        step: Step,
        /// HTTP status.
        status: u16,
        /// `error_type` (`UserException`, `TwoFAException`, `TokenException`, …).
        error_type: String,
        /// `message`.
        message: String,
    },
    /// The request did not complete (connection refused, timeout, reset).
    #[error("{step}: {message}")]
    Transport {
        /// Which call.
        step: Step,
        /// What happened.
        message: String,
    },
    /// Kite answered something this client does not understand.
    #[error("{step}: unexpected response: {message}")]
    Protocol {
        /// Which call.
        step: Step,
        /// What was wrong.
        message: String,
    },
    /// The configured TOTP secret cannot produce codes.
    #[error("the TOTP secret is unusable: {0}")]
    BadTotpSecret(String),
}

/// The call an error comes from; a refusal at a login step names the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `GET /connect/login` (the API key).
    ConnectLogin,
    /// `POST /api/login` (user id and password).
    Login,
    /// `POST /api/twofa` (the TOTP code).
    Twofa,
    /// `GET /connect/finish` (the redirect with the request token).
    ConnectFinish,
    /// `POST /session/token` (the checksum: the API secret).
    SessionToken,
    /// `GET /user/profile` (a token checked).
    Profile,
    /// `GET /instruments`.
    Instruments,
    /// `GET /quote/ltp`.
    QuoteLtp,
    /// `GET /` for the server's `Date` header (the clock check).
    ServerDate,
}

impl Step {
    /// The credential a login step checks.
    fn refused_credential(self) -> Option<Refusal> {
        match self {
            Step::ConnectLogin => Some(Refusal::ApiKey),
            Step::Login => Some(Refusal::Password),
            Step::Twofa => Some(Refusal::Totp),
            Step::SessionToken => Some(Refusal::ApiSecret),
            _ => None,
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::ConnectLogin => "connect/login",
            Step::Login => "login",
            Step::Twofa => "twofa",
            Step::ConnectFinish => "connect/finish",
            Step::SessionToken => "session/token",
            Step::Profile => "user/profile",
            Step::Instruments => "instruments",
            Step::QuoteLtp => "quote/ltp",
            Step::ServerDate => "server date",
        })
    }
}

/// Which credential Kite refused: retrying will not help, the settings must change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `/connect/login` refused the API key.
    ApiKey,
    /// `/api/login` refused the user id or password.
    Password,
    /// `/api/twofa` refused the TOTP code (a wrong seed, or a clock far off).
    Totp,
    /// The TOTP seed cannot make codes.
    TotpSecret,
    /// `/session/token` refused the checksum: the API secret.
    ApiSecret,
}

impl Refusal {
    /// The `[apps.<name>]` key to check.
    pub fn key(self) -> &'static str {
        match self {
            Refusal::ApiKey => "api_key",
            Refusal::Password => "password",
            Refusal::Totp | Refusal::TotpSecret => "totp_secret",
            Refusal::ApiSecret => "api_secret",
        }
    }

    /// A stable name for reports (`password_refused`, …).
    pub fn problem(self) -> &'static str {
        match self {
            Refusal::ApiKey => "api_key_refused",
            Refusal::Password => "password_refused",
            Refusal::Totp => "totp_refused",
            Refusal::TotpSecret => "totp_secret_unusable",
            Refusal::ApiSecret => "api_secret_refused",
        }
    }
}

impl KiteError {
    /// The credential Kite refused, if that is what this error is (a 4xx at a login step).
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            KiteError::Refused { refusal, .. } => Some(*refusal),
            KiteError::BadTotpSecret(_) => Some(Refusal::TotpSecret),
            _ => None,
        }
    }

    /// HTTP 403 with `TokenException`: the access token is expired or was invalidated.
    pub fn is_token_rejected(&self) -> bool {
        matches!(self, KiteError::Api { status: 403, error_type, .. } if error_type == "TokenException")
    }

    /// The TOTP step refused the code: wait for the next 30-second window and try again.
    pub fn is_totp_rejected(&self) -> bool {
        matches!(
            self,
            KiteError::Refused {
                refusal: Refusal::Totp,
                ..
            }
        )
    }

    /// HTTP 429.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, KiteError::Api { status: 429, .. })
    }
}

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

/// A cookie jar of one login.
#[derive(Default)]
struct Cookies(HashMap<String, String>);

impl Cookies {
    fn take(&mut self, response: &awc::ClientResponse<impl Sized>) {
        for value in response.headers().get_all("set-cookie") {
            if let Ok(text) = value.to_str()
                && let Some((name, rest)) = text.split_once('=')
            {
                let value = rest.split(';').next().unwrap_or("");
                self.0.insert(name.trim().to_string(), value.to_string());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
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

/// Pulls `name=value` out of a URL's query string.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
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

    /// The unattended login: `/connect/login` → `/api/login` → `/api/twofa` (TOTP for
    /// `unix_now`) → `/connect/finish` → `/session/token`.
    pub async fn login(&self, creds: &Credentials, unix_now: u64) -> Result<Session, KiteError> {
        let request_token = self.request_token(creds, unix_now).await?;
        self.create_session(creds, &request_token).await
    }

    /// The web part of the login, up to the redirect that carries the request token.
    pub async fn request_token(
        &self,
        creds: &Credentials,
        unix_now: u64,
    ) -> Result<String, KiteError> {
        let mut jar = Cookies::default();
        // 0: start the login; remember sess_id and the cookies.
        let step = Step::ConnectLogin;
        let url = format!(
            "{}/connect/login?v=3&api_key={}",
            self.login_root, creds.api_key
        );
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| transport(step, e))?;
        jar.take(&response);
        let location = redirect_target(&response).ok_or_else(|| match response.status() {
            s if s.is_success() => protocol(step, "no redirect with a sess_id"),
            s => protocol(step, format!("HTTP {s}")),
        });
        let location = match location {
            Ok(l) => l,
            Err(e) => {
                let (status, body) = Self::read(step, response, 64 * 1024).await?;
                return Err(envelope(step, status, &body).err().unwrap_or(e));
            }
        };
        let sess_id = query_value(&location, "sess_id")
            .ok_or_else(|| protocol(step, "no sess_id in the redirect"))?;

        // 1: user id and password.
        let step = Step::Login;
        let response = self
            .http
            .post(format!("{}/api/login", self.login_root))
            .insert_header(("Cookie", jar.header()))
            .send_form(&[
                ("user_id", creds.user_id.as_str()),
                ("password", creds.password.expose_secret()),
            ])
            .await
            .map_err(|e| transport(step, e))?;
        jar.take(&response);
        let (status, body) = Self::read(step, response, 64 * 1024).await?;
        let data = envelope(step, status, &body)?;
        let request_id = data
            .get("request_id")
            .and_then(Value::as_str)
            .ok_or_else(|| protocol(step, "no request_id"))?
            .to_string();
        let twofa_type = data
            .get("twofa_type")
            .and_then(Value::as_str)
            .unwrap_or("totp")
            .to_string();

        // 2: the TOTP.
        let step = Step::Twofa;
        let totp = totp(creds.totp_secret.expose_secret())
            .map_err(|e| KiteError::BadTotpSecret(e.to_string()))?;
        let code = totp_code(&totp, unix_now);
        let response = self
            .http
            .post(format!("{}/api/twofa", self.login_root))
            .insert_header(("Cookie", jar.header()))
            .send_form(&[
                ("user_id", creds.user_id.as_str()),
                ("request_id", request_id.as_str()),
                ("twofa_value", code.as_str()),
                ("twofa_type", twofa_type.as_str()),
            ])
            .await
            .map_err(|e| transport(step, e))?;
        jar.take(&response);
        let (status, body) = Self::read(step, response, 64 * 1024).await?;
        envelope(step, status, &body)?;

        // 3: finish; the redirect carries the request token.
        let step = Step::ConnectFinish;
        let url = format!(
            "{}/connect/finish?v=3&api_key={}&sess_id={sess_id}",
            self.login_root, creds.api_key
        );
        let response = self
            .http
            .get(&url)
            .insert_header(("Cookie", jar.header()))
            .send()
            .await
            .map_err(|e| transport(step, e))?;
        let location = redirect_target(&response).ok_or_else(|| {
            protocol(
                step,
                format!("HTTP {} without a redirect", response.status()),
            )
        })?;
        query_value(&location, "request_token").ok_or_else(|| {
            protocol(
                step,
                "the redirect has no request_token (login not completed)",
            )
        })
    }

    /// `POST /session/token`: exchanges a request token for an access token.
    pub async fn create_session(
        &self,
        creds: &Credentials,
        request_token: &str,
    ) -> Result<Session, KiteError> {
        let step = Step::SessionToken;
        let checksum = session_checksum(
            &creds.api_key,
            request_token,
            creds.api_secret.expose_secret(),
        );
        let response = self
            .http
            .post(format!("{}/session/token", self.api_root))
            .send_form(&[
                ("api_key", creds.api_key.as_str()),
                ("request_token", request_token),
                ("checksum", checksum.as_str()),
            ])
            .await
            .map_err(|e| transport(step, e))?;
        let (status, body) = Self::read(step, response, 256 * 1024).await?;
        let data = envelope(step, status, &body)?;
        let field = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_string);
        Ok(Session {
            api_key: creds.api_key.clone(),
            user_id: field("user_id").ok_or_else(|| protocol(step, "no user_id"))?,
            access_token: SecretString::from(
                field("access_token").ok_or_else(|| protocol(step, "no access_token"))?,
            ),
            login_time: field("login_time").ok_or_else(|| protocol(step, "no login_time"))?,
        })
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

fn redirect_target(response: &awc::ClientResponse<impl Sized>) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    response
        .headers()
        .get("location")?
        .to_str()
        .ok()
        .map(str::to_string)
}
