//! The notifier: alert mails (lettre over SMTP, STARTTLS by default; `[notify]`).
//!
//! Alerts come two ways: sent by the service (`service started`, an escalation, the end-of-day
//! summary), and found by watching the status board every `notify.check_secs` ([`watch`]):
//! a scheduled event failing after retries, a socket restart storm, a socket silent during
//! market hours, low disk space, next year's holiday list missing after 1 December.
//!
//! Every alert is logged. Mails are rate limited ([`limit`]: the same alert at most once per
//! `min_interval_mins`, all together at most `max_per_hour`; the held-back count goes into the
//! next one), and the limiter's state is kept in `<data_dir>/notify-state.json` so a restart
//! loop cannot become a mail storm. Sending runs beside the mailbox with a timeout: a failed
//! mail is logged and counted, and never blocks anything. docs/operations.md says what each
//! alert means.
//!
//! Messages ([`handlers`]): `Alert`, `DrainMail`.

pub mod actor;
mod check;
pub mod handlers;
pub mod limit;
pub mod mail;
pub mod report;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use actix::Message;

use self::limit::RateLimiter;
use self::watch::Watch;
use crate::clock::SharedClock;
use crate::settings::Settings;
use crate::settings::ops::NotifySettings;
use crate::status::NotifierStatus;
use crate::status::{StatusBoard, StatusHandle};

/// What an alert is about (fixed names: they appear in subjects, logs and docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// The service started (or restarted).
    Started,
    /// A scheduled event (login, instruments, connect) kept failing.
    EventFailed,
    /// One socket restarted many times in a short window.
    RestartStorm,
    /// The pipeline gave up; the process exits for systemd to restart it.
    Escalation,
    /// A socket brought no tick for a while during market hours.
    SocketSilent,
    /// The end of day's summary.
    EodSummary,
    /// Free disk space below `notify.disk_free_min_gib`.
    DiskLow,
    /// After 1 December, the holiday list has no entry for next year.
    HolidaysMissing,
    /// The journal cannot be written (a full disk): frames are being lost.
    JournalFailing,
}

impl AlertKind {
    /// The name used in logs, the status and docs/operations.md.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Started => "started",
            AlertKind::EventFailed => "event_failed",
            AlertKind::RestartStorm => "restart_storm",
            AlertKind::Escalation => "escalation",
            AlertKind::SocketSilent => "socket_silent",
            AlertKind::EodSummary => "eod_summary",
            AlertKind::DiskLow => "disk_low",
            AlertKind::HolidaysMissing => "holidays_missing",
            AlertKind::JournalFailing => "journal_failing",
        }
    }
}

/// One alert: logged, and mailed when the rate limit allows.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Alert {
    /// What it is about.
    pub kind: AlertKind,
    /// What it concerns within the kind (`socket-2`, a date, …): the rate limit is per kind
    /// and subject.
    pub about: String,
    /// The mail's subject (the host name is put before it).
    pub subject: String,
    /// The mail's text.
    pub body: String,
}

impl Alert {
    /// The rate limiter's key.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.about)
    }
}

/// The notifier's state.
pub struct Notifier {
    settings: NotifySettings,
    transport: Option<mail::Transport>,
    clock: SharedClock,
    limiter: RateLimiter,
    state_path: PathBuf,
    board: Arc<StatusBoard>,
    watch: Watch,
    status: StatusHandle,
    host: String,
    sent: u64,
    failed: u64,
    suppressed: u64,
    in_flight: usize,
    drained: Vec<tokio::sync::oneshot::Sender<()>>,
    restarts: crate::actors::children::Restarts,
}

impl Notifier {
    /// A notifier for `settings`, watching `board` (its own entry is `notifier`). Mails go out
    /// only with `notify.enabled`; the transport is built here, so a bad `notify.ca_file`
    /// is found at start-up.
    pub fn new(
        settings: &Settings,
        clock: SharedClock,
        board: Arc<StatusBoard>,
    ) -> Result<Notifier, crate::settings::SettingsError> {
        let notify = settings.notify.clone();
        let transport = if notify.enabled {
            Some(mail::transport(&notify)?)
        } else {
            None
        };
        let state_path = settings.paths.data_dir.join("notify-state.json");
        let limiter = RateLimiter::load(&state_path, &notify);
        let status = board.handle(crate::status::Actor::Notifier);
        status.report(|n: &mut NotifierStatus| {
            n.enabled = notify.enabled;
            n.recipients = notify.to.len();
        });
        let restarts = crate::actors::children::Restarts::new(&status);
        Ok(Notifier {
            watch: Watch::new(settings),
            settings: notify,
            transport,
            clock,
            limiter,
            state_path,
            board,
            status,
            host: crate::settings::host_name(),
            sent: 0,
            failed: 0,
            suppressed: 0,
            in_flight: 0,
            drained: Vec::new(),
            restarts,
        })
    }

    fn report_status(&self) {
        self.status.report(|n: &mut NotifierStatus| {
            n.sent = self.sent;
            n.failed = self.failed;
            n.suppressed = self.suppressed;
            n.in_flight = self.in_flight;
        });
    }
}
