//! The SMTP side: the transport from `[notify]` and the message of an alert.

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::settings::SettingsError;
use crate::settings::ops::{NotifySettings, SmtpSecurity};

/// The SMTP transport (a connection per mail).
pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Builds the transport: STARTTLS required (or implicit TLS, or none on loopback), the
/// public roots plus `notify.ca_file`, the login when `notify.username` is set.
pub fn transport(s: &NotifySettings) -> Result<Transport, SettingsError> {
    let tls = || -> Result<TlsParameters, SettingsError> {
        let mut b = TlsParameters::builder(s.smtp_host.clone());
        if let Some(pem) = &s.ca_pem {
            let cert = Certificate::from_pem(pem)
                .map_err(|e| SettingsError::new("notify.ca_file", e.to_string()))?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls()
            .map_err(|e| SettingsError::new("notify.smtp_host", e.to_string()))
    };
    let tls = match s.security {
        SmtpSecurity::Starttls => Tls::Required(tls()?),
        SmtpSecurity::Tls => Tls::Wrapper(tls()?),
        SmtpSecurity::None => Tls::None,
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.smtp_host.clone())
        .port(s.smtp_port)
        .tls(tls)
        .timeout(Some(s.timeout));
    if !s.username.is_empty()
        && let Some(password) = &s.password
    {
        b = b.credentials(Credentials::new(
            s.username.clone(),
            password.expose_secret().to_string(),
        ));
    }
    Ok(b.build())
}

/// The mail for an alert: one message to every recipient, plain text.
pub fn message(
    s: &NotifySettings,
    host: &str,
    subject: &str,
    body: String,
) -> Result<Message, lettre::error::Error> {
    let mut b = Message::builder()
        .from(s.from.clone())
        .subject(format!("[tickvault {host}] {subject}"))
        .header(ContentType::TEXT_PLAIN);
    for to in &s.to {
        b = b.to(to.clone());
    }
    b.body(body)
}
