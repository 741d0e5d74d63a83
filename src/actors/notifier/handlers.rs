//! The notifier's messages.

use actix::prelude::*;

use super::limit::Decision;
use super::{Alert, Notifier, mail};

/// Resolves once no mail is being sent (the service is stopping: an escalation's mail should
/// get out). Callers bound the wait.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DrainMail;

impl Handler<Alert> for Notifier {
    type Result = ();

    fn handle(&mut self, alert: Alert, ctx: &mut Self::Context) {
        self.raise(alert, ctx);
    }
}

impl Handler<DrainMail> for Notifier {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: DrainMail, _ctx: &mut Self::Context) -> Self::Result {
        if self.in_flight == 0 {
            return Box::pin(async {});
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.drained.push(tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Notifier {
    /// Logs the alert and mails it when the limit allows; the mail is sent beside the mailbox.
    pub(crate) fn raise(&mut self, alert: Alert, ctx: &mut Context<Self>) {
        tracing::warn!(alert = alert.kind.as_str(), about = %alert.about, subject = %alert.subject, "alert");
        let now = self.clock.now();
        self.status.report(|n: &mut crate::status::NotifierStatus| {
            n.last_alert = Some(alert.kind.as_str().to_string());
            n.last_alert_at = Some(now);
        });
        let Some(transport) = self.transport.clone() else {
            return;
        };
        let key = alert.key();
        let decided_at = self.clock.now();
        let decision = self.limiter.decide(alert.kind, &key, decided_at);
        // Held or not, the counts survive a restart.
        self.limiter.save(&self.state_path);
        let held_back = match decision {
            Decision::Hold => {
                self.suppressed += 1;
                self.report_status();
                tracing::info!(
                    alert = alert.kind.as_str(),
                    "alert mail held back by the rate limit"
                );
                return;
            }
            Decision::Send { held_back } => held_back,
        };
        let mut body = alert.body;
        if held_back > 0 {
            body.push_str(&format!(
                "\n\n({held_back} more alert(s) like this were held back by the rate limit.)\n"
            ));
        }
        let message = match mail::message(&self.settings, &self.host, &alert.subject, body) {
            Ok(m) => m,
            Err(e) => {
                self.failed += 1;
                self.status
                    .fail(crate::status::State::Running, &format!("mail: {e}"));
                self.report_status();
                return;
            }
        };
        self.in_flight += 1;
        self.report_status();
        let timeout = self.settings.timeout;
        let kind = alert.kind;
        let send = async move {
            use lettre::AsyncTransport;
            match tokio::time::timeout(timeout, transport.send(message)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
            }
        };
        // Sent beside the actor, not on its context: a restart of the notifier loses no mail
        // in flight, and the outcome comes back as a message.
        let me = ctx.address();
        actix_rt::spawn(async move {
            let result = send.await;
            me.do_send(MailDone {
                kind,
                key,
                held_back,
                decided_at,
                result,
            });
        });
    }
}

/// How a mail sent beside the actor ended.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct MailDone {
    kind: super::AlertKind,
    key: String,
    held_back: u32,
    decided_at: chrono::DateTime<chrono::Utc>,
    result: Result<(), String>,
}

impl Handler<MailDone> for Notifier {
    type Result = ();

    fn handle(&mut self, msg: MailDone, _ctx: &mut Self::Context) {
        let MailDone {
            kind,
            key,
            held_back,
            decided_at,
            result,
        } = msg;
        self.in_flight = self.in_flight.saturating_sub(1);
        match result {
            Ok(()) => {
                self.sent += 1;
                tracing::info!(alert = kind.as_str(), "alert mailed");
            }
            Err(e) => {
                self.failed += 1;
                // Not sent: the next of its kind may go at once and tells of this one.
                self.limiter.not_sent(&key, held_back, decided_at);
                self.limiter.save(&self.state_path);
                tracing::error!(alert = kind.as_str(), error = %e, "cannot mail an alert");
                self.status
                    .fail(crate::status::State::Running, &format!("mail: {e}"));
            }
        }
        self.report_status();
        if self.in_flight == 0 {
            for tx in self.drained.drain(..) {
                let _ = tx.send(());
            }
        }
    }
}
