//! The unattended web login (PROTOCOL.md §4.2): `/connect/login` → `/api/login` →
//! `/api/twofa` → `/connect/finish` → `/session/token`, with a cookie jar of its own.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{Credentials, KiteClient, KiteError, Session, Step, envelope, protocol, transport};
use crate::kite::login::{session_checksum, totp, totp_code};

impl KiteClient {
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

/// Pulls `name=value` out of a URL's query string.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
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
