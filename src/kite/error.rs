//! Why a Kite call failed, as decisions: a refused credential ([`KiteError::Refused`], which
//! names it), a rejected token, a rate limit, a transport failure, a response not understood.

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
    pub(super) fn refused_credential(self) -> Option<Refusal> {
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
