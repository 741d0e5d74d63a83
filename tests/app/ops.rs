//! Operations: the HTTP endpoint (`/healthz`, `/readyz`, `/status`, `/metrics` checked with a
//! Prometheus parser), SIGUSR1 and `/status` agreeing, `tickvault status` refreshing the report
//! through the pid file, and alert mails through a real SMTP server (aiosmtpd on loopback,
//! STARTTLS required, a login) started by each test.

use std::ffi::OsStr;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::Value;
use tickvault::actors::notifier::handlers::DrainMail;
use tickvault::actors::notifier::{Alert, AlertKind, Notifier};
use tickvault::actors::scheduler::Event;
use tickvault::actors::scheduler::handlers::DayEvent;
use tickvault::http::Endpoint;
use tickvault::service::day::DayRunner;
use tickvault::settings::Role;
use tickvault::settings::ops::{NotifySettings, SmtpSecurity};
use tickvault::status::StatusBoard;

use crate::helpers::{
    app_settings, detail, free_port, python, signal, spawn_app, spawn_sim_today, tickvault, today,
};
use crate::tls::Certs;

// --- the SMTP server --------------------------------------------------------------------------

/// `tests/python/smtp_sink.py`: aiosmtpd with STARTTLS (required) and one login; each mail it
/// takes comes out of `mails`.
pub(crate) struct Smtp {
    child: Child,
    pub(crate) port: u16,
    mails: tokio::sync::mpsc::UnboundedReceiver<Value>,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) const SMTP_USER: &str = "tickvault";
pub(crate) const SMTP_PASSWORD: &str = "smtp-secret-for-tests";

impl Smtp {
    pub(crate) async fn start(certs: &Certs) -> Smtp {
        let port = free_port();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/smtp_sink.py");
        let mut child = Command::new(python())
            .arg(script)
            .args(["--port", &port.to_string(), "--user", SMTP_USER])
            .args(["--password", SMTP_PASSWORD])
            .arg("--cert")
            .arg(certs.path("server.pem"))
            .arg("--key")
            .arg(certs.path("server.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the test virtualenv's python (tests/run creates it)");
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (tx, mails) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line == "READY" {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), ready_rx)
            .await
            .expect("aiosmtpd starts (is aiosmtpd in the test virtualenv?)")
            .unwrap();
        Smtp { child, port, mails }
    }

    /// The next mail whose data contains `needle` (others are skipped).
    async fn mail_containing(&mut self, needle: &str) -> Value {
        let wait = async {
            loop {
                let mail = self.mails.recv().await.expect("the SMTP server is running");
                if mail["data"].as_str().unwrap_or("").contains(needle) {
                    return mail;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .unwrap_or_else(|_| panic!("no mail containing {needle:?}"))
    }

    fn settings(&self, certs: &Certs) -> NotifySettings {
        NotifySettings {
            enabled: true,
            smtp_host: "127.0.0.1".into(),
            smtp_port: self.port,
            security: SmtpSecurity::Starttls,
            username: SMTP_USER.into(),
            password: Some(SMTP_PASSWORD.into()),
            ca_pem: Some(std::fs::read(certs.path("ca.pem")).unwrap()),
            from: "tickvault <tickvault@example.test>".parse().unwrap(),
            to: vec![
                "Ops <ops@example.test>".parse().unwrap(),
                "quant@example.test".parse().unwrap(),
            ],
            timeout: Duration::from_secs(20),
            min_interval: Duration::from_secs(1800),
            max_per_hour: 20,
            check: Duration::from_secs(3600),
            restart_storm: 5,
            storm_window: Duration::from_secs(600),
            silent: Duration::from_secs(3600),
            disk_free_min_bytes: 0,
        }
    }
}

/// A notifier on a board of its own.
fn start_notifier(settings: &tickvault::settings::Settings) -> (Arc<StatusBoard>, Addr<Notifier>) {
    let board = StatusBoard::new();
    let notifier = Notifier::new(settings, tickvault::clock::system(), board.clone())
        .unwrap()
        .start();
    (board, notifier)
}

fn alert(kind: AlertKind, about: &str) -> Alert {
    Alert {
        kind,
        about: about.into(),
        subject: format!("test alert {about}"),
        body: format!("body of {about}\n"),
    }
}

#[actix_rt::test]
async fn the_end_of_day_summary_arrives_by_mail_over_starttls() {
    let certs = Certs::new();
    let mut smtp = Smtp::start(&certs).await;
    let sim = spawn_sim_today(Some(5.0));
    let dir = tempfile::tempdir().unwrap();
    let mut settings = app_settings(&sim, dir.path());
    settings.notify = smtp.settings(&certs);
    let (board, notifier) = start_notifier(&settings);
    let (escalate, _escalations) = tokio::sync::mpsc::unbounded_channel();
    let control =
        tickvault::service::control::Control::start(&settings, tickvault::clock::system(), &board);
    let runner = DayRunner::new(
        settings.clone(),
        Some(control),
        board.clone(),
        Role::All,
        false,
        escalate,
    )
    .with_notifier(notifier.clone().recipient())
    .start();
    for event in [Event::Login, Event::Instruments, Event::Connect] {
        runner
            .send(DayEvent {
                event,
                date: today(),
            })
            .await
            .unwrap()
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while detail(&board, "socket-1", "ticks") < 5 {
        assert!(std::time::Instant::now() < deadline, "no ticks");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    runner
        .send(DayEvent {
            event: Event::Close,
            date: today(),
        })
        .await
        .unwrap()
        .unwrap();

    let mail = smtp
        .mail_containing(&format!("end of day {}", today()))
        .await;
    assert_eq!(mail["tls"], true, "sent only after STARTTLS");
    assert_eq!(mail["login"], SMTP_USER);
    assert_eq!(mail["from"], "tickvault@example.test");
    assert_eq!(
        mail["to"],
        serde_json::json!(["ops@example.test", "quant@example.test"]),
        "one mail, every recipient"
    );
    let data = mail["data"].as_str().unwrap();
    assert!(data.contains("Subject: [tickvault "), "{data}");
    for part in [
        "rows of",
        "instruments in the master store",
        "No tick at all:",
        "Fewer than",
        "Gaps:",
        "Database:",
        "Disk free:",
    ] {
        assert!(data.contains(part), "{part:?} in the mail:\n{data}");
    }
    assert!(!data.contains(SMTP_PASSWORD), "no secret in the mail");
    notifier.send(DrainMail).await.unwrap();
    assert_eq!(detail(&board, "notifier", "sent"), 1);
    assert_eq!(detail(&board, "notifier", "failed"), 0);
    let eod = board.named("eod").unwrap();
    assert_eq!(eod.fields()["result"], "ok", "{eod:?}");
}

#[actix_rt::test]
async fn alert_mails_are_rate_limited_and_a_dead_server_blocks_nothing() {
    let certs = Certs::new();
    let mut smtp = Smtp::start(&certs).await;
    let dir = tempfile::tempdir().unwrap();
    let sim = spawn_sim_today(None);
    let mut settings = app_settings(&sim, dir.path());
    settings.notify = smtp.settings(&certs);
    let (board, notifier) = start_notifier(&settings);
    for _ in 0..3 {
        notifier.do_send(alert(AlertKind::SocketSilent, "socket-2"));
    }
    notifier.send(DrainMail).await.unwrap();
    assert_eq!(detail(&board, "notifier", "sent"), 1);
    assert_eq!(detail(&board, "notifier", "suppressed"), 2);
    notifier.do_send(alert(AlertKind::SocketSilent, "socket-3"));
    notifier.send(DrainMail).await.unwrap();
    let first = smtp.mail_containing("test alert").await;
    assert!(first["data"].as_str().unwrap().contains("socket-2"));
    let second = smtp.mail_containing("test alert").await;
    assert!(second["data"].as_str().unwrap().contains("socket-3"));
    assert!(smtp.mails.try_recv().is_err(), "the repeats were held back");

    // The rate limit survives a restart: a new notifier on the same data directory holds the
    // repeat too.
    let again = Notifier::new(&settings, tickvault::clock::system(), StatusBoard::new())
        .unwrap()
        .start();
    again.do_send(alert(AlertKind::SocketSilent, "socket-2"));
    again.send(DrainMail).await.unwrap();
    assert!(smtp.mails.try_recv().is_err(), "held back after a restart");

    // Nobody listening: the mail fails, is counted and logged, and the notifier still answers.
    let mut dead = settings.clone();
    dead.notify.smtp_port = free_port();
    dead.paths.data_dir = dir.path().join("other");
    let (board, notifier) = start_notifier(&dead);
    notifier.do_send(alert(AlertKind::Escalation, "pipeline"));
    tokio::time::timeout(Duration::from_secs(30), notifier.send(DrainMail))
        .await
        .expect("a failed mail ends")
        .unwrap();
    assert_eq!(detail(&board, "notifier", "failed"), 1);
    let status = board.named("notifier").unwrap();
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or("")
            .starts_with("mail:"),
        "{status:?}"
    );
    assert!(
        !format!("{status:?}").contains(SMTP_PASSWORD),
        "no secret in the status"
    );
}

// --- the HTTP endpoint ------------------------------------------------------------------------

async fn get(url: &str) -> (u16, String) {
    let mut res = crate::helpers::http().get(url).send().await.unwrap();
    let body = res.body().limit(1 << 24).await.unwrap();
    (
        res.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Parses `/metrics` with a Prometheus parser; every sample line must be understood.
fn parse_metrics(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let sample_lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count();
    let buckets = text.lines().filter(|l| l.contains("_bucket{")).count();
    let histograms = scrape
        .samples
        .iter()
        .filter(|s| matches!(s.value, prometheus_parse::Value::Histogram(_)))
        .count();
    assert_eq!(
        scrape.samples.len() - histograms + buckets,
        sample_lines,
        "every sample line parses:\n{text}"
    );
    for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(scrape.docs.contains_key(name), "HELP for {name}");
    }
    scrape
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.last().map_or(0.0, |c| c.count),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

#[actix_rt::test]
async fn metrics_while_recording_parse_and_carry_the_pipeline() {
    let app = spawn_app(20.0, |_| {}).await;
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let endpoint = Endpoint::start(
        "127.0.0.1:0".parse().unwrap(),
        None,
        app.app.board.clone(),
        ready,
        tickvault::clock::system(),
    )
    .unwrap();
    let base = format!("http://{}", endpoint.addr);
    app.wait_for_ticks(50).await;
    app.wait_for("50 committed rows", Duration::from_secs(20), |b| {
        detail(b, "persister", "committed_rows") >= 50
    })
    .await;
    let (code, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    let m = parse_metrics(&text);
    // OpenMetrics counters: the family is typed without its `_total`, the samples carry it.
    for family in [
        "tickvault_socket_ticks",
        "tickvault_persister_committed_rows",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} counter\n")),
            "{family} in\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"));
    for socket in ["socket-1", "socket-2", "socket-3"] {
        let ticks = value(&m, "tickvault_socket_ticks_total", &[("socket", socket)]);
        assert!(ticks.is_some_and(|t| t > 0.0), "{socket} ticks in\n{text}");
        // Frames carry many ticks each (and heartbeats none).
        assert!(
            value(&m, "tickvault_socket_frames_total", &[("socket", socket)])
                .is_some_and(|f| f > 0.0)
        );
        assert!(
            value(
                &m,
                "tickvault_socket_last_frame_age_seconds",
                &[("socket", socket)]
            )
            .is_some()
        );
    }
    assert!(value(&m, "tickvault_persister_commit_seconds", &[]).is_some_and(|n| n > 0.0));
    assert!(value(&m, "tickvault_persister_batch_rows", &[]).is_some_and(|n| n > 0.0));
    assert!(value(&m, "tickvault_persister_committed_rows_total", &[]).is_some_and(|n| n >= 50.0));
    assert!(value(&m, "tickvault_journal_bytes", &[]).is_some_and(|n| n > 0.0));
    assert!(value(&m, "tickvault_queue_depth", &[("queue", "persister")]).is_some());
    let expiry = value(&m, "tickvault_token_expiry_seconds", &[("app", "sim")]);
    assert!(
        expiry.is_some_and(|s| s > 0.0 && s <= 86_400.0),
        "token expiry {expiry:?} in\n{text}"
    );
    assert_eq!(value(&m, "tickvault_up", &[]), Some(1.0));
    assert_eq!(
        value(
            &m,
            "tickvault_actor_state",
            &[("actor", "persister"), ("state", "running")]
        ),
        Some(1.0)
    );

    let (code, body) = get(&format!("{base}/healthz")).await;
    assert_eq!((code, body.contains("ok")), (200, true), "{body}");
    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(code, 200, "{body}");
    let status: Value = serde_json::from_str(&get(&format!("{base}/status")).await.1).unwrap();
    assert!(status["actors"].as_array().unwrap().len() >= 8);

    // A socket down during the day: not ready, and the reason names it.
    app.app
        .board
        .existing_handle(tickvault::status::Actor::Socket(2))
        .fail(tickvault::status::State::Backoff, "remote closed");
    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("socket-2 is backing off: remote closed"),
        "{body}"
    );
    endpoint.stop().await;
}

/// The calendar-driven service on a closed day, with the endpoint on its own port.
#[actix_rt::test]
async fn sigusr1_and_the_status_endpoint_agree_and_status_refreshes_through_the_pid_file() {
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (cfg, _) = crate::run_cli::closed_today(
        &sim,
        dir.path(),
        &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let mut child = tickvault()
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    // Ready: the pid file is written once the endpoint listens.
    let ready_line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("ready"))
        .expect("the service says it is ready");
    std::thread::spawn(move || lines.for_each(drop));
    assert!(ready_line.contains(&port.to_string()), "{ready_line}");
    let pid_file = dir.path().join("state/tickvault.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        child.id().to_string()
    );
    let base = format!("http://127.0.0.1:{port}");

    // `tickvault status` asks the service (SIGUSR1 through the pid file) for a fresh report.
    let status_cmd = || {
        let out = tickvault()
            .args(["status", "--json", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("generated_at");
        for a in v["actors"].as_array_mut().unwrap() {
            // Refreshed by the notifier's own look; the rest of the board is still.
            a.as_object_mut().unwrap().remove("disk_free_bytes");
        }
        v
    };
    let mut agreed = false;
    for _ in 0..3 {
        let by_signal = status_cmd();
        assert!(by_signal["generated_at"].is_string());
        let by_http: Value = serde_json::from_str(&get(&format!("{base}/status")).await.1).unwrap();
        if strip(by_signal.clone()) == strip(by_http.clone()) {
            agreed = true;
            let names: Vec<&str> = by_http["actors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap())
                .collect();
            for want in ["scheduler", "notifier", "http"] {
                assert!(names.contains(&want), "{want} in {names:?}");
            }
            break;
        }
    }
    assert!(agreed, "SIGUSR1's report and /status agree");

    let (code, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    let m = parse_metrics(&text);
    assert_eq!(
        value(&m, "tickvault_scheduler_idle", &[]),
        Some(1.0),
        "{text}"
    );
    let next_login = value(
        &m,
        "tickvault_scheduler_next_event_timestamp_seconds",
        &[("event", "login")],
    );
    assert!(next_login.is_some_and(|t| t > chrono::Utc::now().timestamp() as f64));
    assert_eq!(value(&m, "tickvault_persister_batch_rows", &[]), Some(0.0));
    assert!(value(&m, "tickvault_disk_free_bytes", &[]).is_some_and(|b| b > 0.0));
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(code, 200, "idle by the calendar is ready: {body}");

    signal(child.id(), "TERM");
    assert!(child.wait().unwrap().success());
    assert!(!pid_file.exists(), "the pid file goes with the process");
    // Without the service, `tickvault status` shows the last report and says so.
    let out = tickvault()
        .args(["status", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("scheduler"), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not running"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `GET url` with `Authorization: <authorization>` when given; the status code.
async fn get_with(url: &str, authorization: Option<&str>) -> u16 {
    let mut request = crate::helpers::http().get(url);
    if let Some(value) = authorization {
        request = request.insert_header(("Authorization", value));
    }
    request.send().await.unwrap().status().as_u16()
}

#[actix_rt::test]
async fn beyond_loopback_the_endpoint_needs_its_token_and_refuses_to_start_without_one() {
    // Listening on every address with a token: the probes stay open, the rest need the token.
    let token = "s3cret-token-for-the-test";
    let endpoint = Endpoint::start(
        "0.0.0.0:0".parse().unwrap(),
        Some(secrecy::SecretString::from(token.to_string())),
        StatusBoard::new(),
        Arc::new(std::sync::atomic::AtomicBool::new(true)),
        tickvault::clock::system(),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", endpoint.addr.port());
    let bearer = format!("Bearer {token}");
    for path in ["/status", "/metrics", "/"] {
        assert_eq!(
            get_with(&format!("{base}{path}"), None).await,
            401,
            "{path}"
        );
        assert_eq!(
            get_with(&format!("{base}{path}"), Some("Bearer not-it")).await,
            401,
            "{path}"
        );
        assert_eq!(
            get_with(&format!("{base}{path}"), Some(token)).await,
            401,
            "{path}: the scheme is part of it"
        );
    }
    assert_eq!(
        get_with(&format!("{base}/status"), Some(&bearer)).await,
        200
    );
    assert_eq!(
        get_with(&format!("{base}/metrics"), Some(&bearer)).await,
        200
    );
    assert_eq!(get_with(&format!("{base}/healthz"), None).await, 200);
    assert_ne!(get_with(&format!("{base}/readyz"), None).await, 401);
    endpoint.stop().await;

    // Beyond loopback without a token, or with an empty one, the settings are refused (exit
    // 78, naming the key); with a token file (owner-only, as every secret file) or an inline
    // token they load, and the value is never shown.
    let listen: (&str, &OsStr) = ("TICKVAULT__HTTP__LISTEN", OsStr::new("0.0.0.0:9187"));
    let (code, text) = crate::helpers::config_with(&[listen]);
    assert_eq!(code, Some(78), "{text}");
    assert!(text.contains("http.token_file"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("http-token");
    for (content, want) in [("\n", Some(78)), (token, Some(0))] {
        std::fs::write(&file, content).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let (code, text) = crate::helpers::config_with(&[
            listen,
            ("TICKVAULT__HTTP__TOKEN_FILE", file.as_os_str()),
        ]);
        assert_eq!(code, want, "{content:?}: {text}");
        assert!(!text.contains(token), "{text}");
    }
    let (code, text) =
        crate::helpers::config_with(&[listen, ("TICKVAULT__HTTP__TOKEN", OsStr::new(token))]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        !text.contains(token),
        "an inline token is hidden too: {text}"
    );
}

/// A status report at `at` whose socket-1 has `ticks` ticks and socket-2 is backing off.
fn watched_report(at: &str, ticks: u64) -> String {
    serde_json::json!({
        "generated_at": at,
        "actors": [
            {"name": "socket-1", "state": "running", "subscribed": 3000, "ticks": ticks,
             "last_frame_age_ms": 30, "reconnects_by_cause": {}},
            {"name": "socket-2", "state": "backoff", "subscribed": 3000, "ticks": 0,
             "last_frame_age_ms": null, "reconnects_by_cause": {"remote_closed": 1}},
            {"name": "persister", "state": "running", "committed_rows": 777, "lag_ms": 5,
             "queued": 0},
        ],
    })
    .to_string()
}

#[test]
fn status_watch_redraws_the_report_with_ticks_per_second_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let report = data.join("status.json");
    std::fs::write(&report, watched_report("2026-11-28T04:00:00.000Z", 1_000)).unwrap();
    let mut child = tickvault()
        .args(["status", "--watch"])
        .env("TICKVAULT__PATHS__DATA_DIR", &data)
        .env("TICKVAULT__PATHS__STATE_DIR", dir.path().join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Screens, as the piped output separates them (a blank line after each).
    let (tx, rx) = std::sync::mpsc::channel::<Vec<String>>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut screen = Vec::new();
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if l.is_empty() {
                if tx.send(std::mem::take(&mut screen)).is_err() {
                    return;
                }
            } else {
                screen.push(l);
            }
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(10)).expect("a screen");
    let first = next();
    assert!(first.iter().all(|l| l.chars().count() <= 100), "{first:#?}");
    let socket = |screen: &[String], name: &str| {
        screen
            .iter()
            .find(|l| l.get(2..).is_some_and(|l| l.starts_with(name)))
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {screen:#?}"))
    };
    assert!(
        socket(&first, "socket-2").starts_with('!'),
        "backing off is marked"
    );
    assert!(socket(&first, "socket-2").contains("remote_closed 1"));
    assert!(first.iter().any(|l| l.contains("777 rows")), "{first:#?}");
    // A newer report, 2 s and 9,000 ticks later: the next screens show 4,500 ticks/s.
    std::fs::write(&report, watched_report("2026-11-28T04:00:02.000Z", 10_000)).unwrap();
    let rate = (0..5)
        .map(|_| next())
        .find(|s| socket(s, "socket-1").contains(" 4,500 "));
    assert!(rate.is_some(), "the rate from the two reports");
    child.kill().unwrap();
    child.wait().unwrap();
}
