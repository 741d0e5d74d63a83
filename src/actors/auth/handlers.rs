//! Messages of the auth actor.

use std::time::Duration;

use actix::prelude::*;

use super::{Auth, AuthError, Token, next_expiry};
use crate::backoff::Backoff;
use crate::kite::client::{Credentials, Refusal, Session};
use crate::status::State;

/// Asks for a valid access token of `app` (logging in if needed).
#[derive(Debug, Message)]
#[rtype(result = "Result<Token, AuthError>")]
pub struct GetToken {
    /// The app's name.
    pub app: String,
}

/// A socket's upgrade was refused with 403 using token `generation` of `app`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct TokenRejected {
    /// The app.
    pub app: String,
    /// The generation the socket used.
    pub generation: u64,
}

/// The wall clock's Unix time, for TOTP codes: Kite checks them against its own clock, so
/// they never follow the injected [`crate::clock::Clock`] (which decides the token's expiry and
/// the calendar, and which tests set to another day).
fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Seconds until the next 30-second TOTP window opens, plus a second of margin.
fn until_next_totp_window(unix: u64) -> Duration {
    Duration::from_secs(30 - unix % 30 + 1)
}

impl Handler<GetToken> for Auth {
    // Atomic: three sockets asking at once cause one login, not three.
    type Result = AtomicResponse<Self, Result<Token, AuthError>>;

    fn handle(&mut self, msg: GetToken, _ctx: &mut Self::Context) -> Self::Result {
        if let Some(token) = self.current(&msg.app) {
            return AtomicResponse::new(Box::pin(fut::ready(Ok(token))));
        }
        let app = match self.app(&msg.app) {
            Ok(app) => app.clone(),
            Err(e) => return AtomicResponse::new(Box::pin(fut::ready(Err(e)))),
        };
        let cached = if self.use_cache {
            self.read_cache(&app)
        } else {
            None
        };
        let client = self.client();
        let creds = Credentials::from(&app);
        let max_attempts = self.max_attempts;
        let name = app.name.clone();
        self.status.set_state(State::Starting);
        let work = async move {
            if let Some(session) = cached {
                match client.profile(&session).await {
                    Ok(_) => {
                        tracing::info!(app = %name, "reusing the cached access token");
                        return Ok((session, false));
                    }
                    Err(e) => {
                        tracing::info!(app = %name, error = %e, "the cached access token no longer works; logging in")
                    }
                }
            }
            let mut delay = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
            let mut last = String::new();
            let mut totp_refused = false;
            for attempt in 1..=max_attempts {
                let wait = match client.login(&creds, unix_now()).await {
                    Ok(session) => {
                        tracing::info!(app = %name, user_id = %session.user_id, attempt, "logged in");
                        return Ok((session, true));
                    }
                    // A refused TOTP may be a code at a window's edge: the next window's.
                    Err(e) if e.refusal() == Some(Refusal::Totp) => {
                        let wait = until_next_totp_window(unix_now());
                        tracing::warn!(app = %name, attempt, error = %e, wait_s = wait.as_secs(), "TOTP refused; retrying in the next window");
                        totp_refused = true;
                        last = e.to_string();
                        wait
                    }
                    // A refused password, API key or secret stays refused.
                    Err(e) if e.refusal().is_some() => {
                        return Err(AuthError::Rejected {
                            app: name,
                            refusal: e.refusal().unwrap_or(Refusal::Password),
                            reason: e.to_string(),
                        });
                    }
                    Err(e) => {
                        let wait = delay.next_delay();
                        tracing::warn!(app = %name, attempt, error = %e, wait_ms = wait.as_millis() as u64, "login failed; retrying");
                        totp_refused = false;
                        last = e.to_string();
                        wait
                    }
                };
                if attempt < max_attempts {
                    actix_rt::time::sleep(wait).await;
                }
            }
            if totp_refused {
                return Err(AuthError::Rejected {
                    app: name,
                    refusal: Refusal::Totp,
                    reason: last,
                });
            }
            Err(AuthError::Unavailable {
                app: name,
                attempts: max_attempts,
                reason: last,
            })
        };
        let app_name = app.name.clone();
        AtomicResponse::new(Box::pin(work.into_actor(self).map(
            move |result: Result<(Session, bool), AuthError>, act, _ctx| match result {
                Ok((session, fresh)) => {
                    let expires_at = next_expiry(act.clock.now());
                    if fresh {
                        act.write_cache(&app_name, &session, expires_at);
                    }
                    act.generation += 1;
                    let token = Token {
                        api_key: session.api_key.clone(),
                        session,
                        generation: act.generation,
                        expires_at,
                    };
                    act.tokens.insert(app_name, token.clone());
                    act.status.set_state(State::Running);
                    act.report_status();
                    Ok(token)
                }
                Err(e) => {
                    act.status.fail(State::Failed, &e.to_string());
                    tracing::error!(error = %e, "no access token");
                    Err(e)
                }
            },
        )))
    }
}

impl Handler<TokenRejected> for Auth {
    type Result = ();

    fn handle(&mut self, msg: TokenRejected, _ctx: &mut Self::Context) {
        let current = self.tokens.get(&msg.app).map(|t| t.generation);
        if current == Some(msg.generation) {
            tracing::warn!(app = %msg.app, "the access token was rejected; the next request logs in again");
            self.tokens.remove(&msg.app);
            self.forget_cache(&msg.app);
        }
    }
}
