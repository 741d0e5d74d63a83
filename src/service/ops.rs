//! What every `run` process has beside the pipeline: the notifier, the HTTP endpoint and the
//! pid file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::actors::notifier::handlers::DrainMail;
use crate::actors::notifier::{Alert, AlertKind, Notifier};
use crate::clock::SharedClock;
use crate::http::Endpoint;
use crate::pidfile::PidFile;
use crate::settings::{Role, Settings, SettingsError};
use crate::status::HttpStatus;
use crate::status::StatusBoard;

/// The notifier, the endpoint and the pid file.
pub(super) struct Ops {
    pub(super) notifier: actix::Addr<Notifier>,
    pub(super) endpoint: Option<Endpoint>,
    ready: Arc<AtomicBool>,
    _pid: Option<PidFile>,
    board: Arc<StatusBoard>,
}

impl Ops {
    /// Starts the notifier and the endpoint and writes the pid file. A bad `[notify]` is a
    /// settings error.
    pub(super) fn start(
        settings: &Settings,
        board: Arc<StatusBoard>,
        clock: SharedClock,
    ) -> Result<Ops, SettingsError> {
        let notifier = Notifier::new(settings, clock.clone(), board.clone())?;
        let notifier = actix::Supervisor::start(move |_| notifier);
        let ready = Arc::new(AtomicBool::new(false));
        // Recording matters more than the endpoint: one that cannot listen (the port taken) is
        // logged and shown in the status, and the service goes on.
        let endpoint = if settings.http.enabled {
            let listen = settings.http.listen;
            let status = board.handle(crate::status::Actor::Http);
            match Endpoint::start(
                listen,
                settings.http.token.clone(),
                board.clone(),
                ready.clone(),
                clock,
            ) {
                Ok(endpoint) => {
                    status.report(|h: &mut HttpStatus| h.listen = endpoint.addr.to_string());
                    status.set_state(crate::status::State::Running);
                    Some(endpoint)
                }
                Err(e) => {
                    tracing::error!(%listen, error = %e, "http.listen: cannot listen; going on without the HTTP endpoint");
                    status.report(|h: &mut HttpStatus| h.listen = listen.to_string());
                    status.fail(
                        crate::status::State::Stopped,
                        &format!("cannot listen on {listen}: {e}"),
                    );
                    None
                }
            }
        } else {
            None
        };
        let state_dir = &settings.paths.state_dir;
        let pid = std::fs::create_dir_all(state_dir)
            .and_then(|()| PidFile::create(state_dir))
            .map_err(|e| {
                tracing::warn!(dir = %state_dir.display(), error = %e, "cannot write the pid file; `tickvault status` will not refresh the report");
            })
            .ok();
        Ok(Ops {
            notifier,
            endpoint,
            ready,
            _pid: pid,
            board,
        })
    }

    /// Storage is open: `READY=1`, `/readyz` may say yes, the status goes to systemd, and the
    /// "service started" alert.
    pub(super) fn ready(&self, settings: &Settings, role: Role, mode: &str) {
        self.ready.store(true, Ordering::Release);
        crate::systemd::ready();
        crate::systemd::spawn(self.board.clone());
        let http = self
            .endpoint
            .as_ref()
            .map_or_else(|| "off".to_string(), |e| e.addr.to_string());
        tracing::info!(%http, pid = std::process::id(), "ready");
        self.notifier.do_send(Alert {
            kind: AlertKind::Started,
            about: role.as_str().to_string(),
            subject: format!("started ({} role)", role.as_str()),
            body: format!(
                "tickvault {} started on {} in the {} role, {mode}.\n\nData: {}\nHTTP endpoint: {http}\n\n\
                 A start you did not expect is a restart: see `journalctl -u tickvault` for the \
                 reason, and `systemctl status tickvault`.\n",
                env!("CARGO_PKG_VERSION"),
                crate::settings::host_name(),
                role.as_str(),
                settings.paths.data_dir.display(),
            ),
        });
    }

    /// The service is stopping: an escalation's alert, the mails in flight (up to 10 s), the
    /// endpoint; the pid file goes when this is dropped.
    pub(super) async fn stop(self, escalated: Option<&str>) {
        if let Some(why) = escalated {
            self.notifier.do_send(Alert {
                kind: AlertKind::Escalation,
                about: "pipeline".into(),
                subject: "escalated: the service exits for systemd to restart it".into(),
                body: format!(
                    "The pipeline gave up: {why}\n\nWhat was received is in the journal and \
                     was committed before the exit. systemd restarts the service (exit 70); the \
                     socket gaps are in the day's gap ledger.\n"
                ),
            });
        }
        let drain = self.notifier.send(DrainMail);
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("alert mails still in flight at exit");
        }
        if let Some(endpoint) = self.endpoint {
            endpoint.stop().await;
        }
    }
}
