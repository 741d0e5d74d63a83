//! Shared helpers: running the built binary, and locating fixtures.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A `tickvault` command with a clean environment: no `TICKVAULT__*`, `RUST_LOG` or systemd
/// variables leak in from the machine running the tests.
pub fn tickvault() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickvault"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TICKVAULT") || key == "RUST_LOG" || key == "CREDENTIALS_DIRECTORY" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs a command to completion.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the tickvault binary runs")
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// --- the simulator, in-process ---------------------------------------------------------------

use std::time::{Duration, Instant};

use awc::ws::{Frame, Message};
use chrono::NaiveDate;
use futures_util::{SinkExt, StreamExt};
use secrecy::SecretString;
use tickvault::kite::client::{Credentials, KiteClient, Session};
use tickvault::settings::{Settings, Sources};
use tickvault::sim::{self, SimConfig, SimHandle, SimOptions};

/// The simulator's settings from the compiled-in defaults, on a free port.
pub fn sim_config() -> SimConfig {
    let mut config = Settings::load(&Sources::default())
        .expect("defaults load")
        .sim;
    config.listen = "127.0.0.1:0".parse().unwrap();
    config
}

/// A trading date whose expiries the tests know (a Friday; the November monthly moved to Monday
/// the 23rd because Tuesday the 24th is a holiday).
pub fn test_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// Starts a simulator with `config` (call inside `#[actix_rt::test]`).
pub fn spawn_sim_with(config: SimConfig, record: Option<std::path::PathBuf>) -> SimHandle {
    sim::start(SimOptions {
        config,
        date: test_date(),
        record,
    })
    .expect("the simulator starts")
}

/// Starts a simulator with the default settings.
pub fn spawn_sim() -> SimHandle {
    spawn_sim_with(sim_config(), None)
}

/// The simulator's default app and user.
pub fn default_credentials() -> Credentials {
    Credentials {
        api_key: "sim_api_key".into(),
        api_secret: SecretString::from("sim_api_secret"),
        user_id: "SIM001".into(),
        password: SecretString::from("sim-password"),
        totp_secret: SecretString::from("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    }
}

/// A client for the simulator.
pub fn kite_client(sim: &SimHandle) -> KiteClient {
    KiteClient::new(&sim.http_url(), &sim.http_url(), Duration::from_secs(10))
}

/// Unix time now, for TOTP codes.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Logs in with the default credentials.
pub async fn login(sim: &SimHandle) -> Session {
    kite_client(sim)
        .login(&default_credentials(), unix_now())
        .await
        .expect("login succeeds")
}

/// A plain HTTP client for the simulator's `/sim` API and raw requests.
pub fn http() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(10))
        .finish()
}

/// `GET` a JSON document.
pub async fn get_json(url: &str) -> serde_json::Value {
    let mut r = http().get(url).send().await.expect("request");
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    r.json().limit(64 << 20).await.expect("json")
}

/// `POST` and return the JSON answer.
pub async fn post_json(url: &str) -> serde_json::Value {
    let mut r = http().post(url).send().await.expect("request");
    assert!(r.status().is_success(), "POST {url}: {}", r.status());
    r.json().await.expect("json")
}

/// A WebSocket client of the simulator's feed.
pub struct Ws {
    framed: actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
}

/// What arrived on the socket.
#[derive(Debug)]
pub enum Received {
    /// A binary message.
    Binary(Vec<u8>),
    /// A text message.
    Text(String),
    /// A close frame.
    Close,
    /// The connection ended without a close frame.
    Ended,
    /// Nothing within the wait.
    Timeout,
}

impl Ws {
    /// Opens `ws://…/ws?api_key=…&access_token=…`; the error is the upgrade's HTTP status.
    pub async fn connect(sim: &SimHandle, api_key: &str, token: &str) -> Result<Ws, u16> {
        let url = format!("{}/ws?api_key={api_key}&access_token={token}", sim.ws_url());
        match awc::Client::new()
            .ws(url)
            .max_frame_size(16 << 20)
            .connect()
            .await
        {
            Ok((_, framed)) => Ok(Ws { framed }),
            Err(awc::error::WsClientError::InvalidResponseStatus(s)) => Err(s.as_u16()),
            Err(e) => panic!("websocket connect failed: {e}"),
        }
    }

    /// Connects with a session's token.
    pub async fn open(sim: &SimHandle, session: &Session) -> Ws {
        use secrecy::ExposeSecret;
        Ws::connect(sim, &session.api_key, session.access_token.expose_secret())
            .await
            .expect("upgrade accepted")
    }

    /// Sends a text message.
    pub async fn send(&mut self, text: &str) {
        self.framed
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("send");
    }

    /// Starts the close handshake.
    pub async fn close(&mut self) {
        self.framed
            .send(Message::Close(None))
            .await
            .expect("send close");
    }

    /// The next data message, answering nothing else; `Timeout` if none within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Received {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.framed.next()).await {
                Err(_) => return Received::Timeout,
                Ok(None) | Ok(Some(Err(_))) => return Received::Ended,
                Ok(Some(Ok(Frame::Binary(b)))) => return Received::Binary(b.to_vec()),
                Ok(Some(Ok(Frame::Text(t)))) => {
                    return Received::Text(String::from_utf8_lossy(&t).into_owned());
                }
                Ok(Some(Ok(Frame::Close(_)))) => return Received::Close,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Every tick that arrives within `wait` (text messages are returned too).
    pub async fn ticks_for(&mut self, wait: Duration) -> (Vec<tickvault::kite::Tick>, Vec<String>) {
        let deadline = Instant::now() + wait;
        let mut ticks = Vec::new();
        let mut texts = Vec::new();
        loop {
            match self
                .next(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Received::Binary(b) => {
                    tickvault::kite::decode_into(&b, &mut ticks)
                        .expect("the simulator sends valid frames");
                }
                Received::Text(t) => texts.push(t),
                _ => return (ticks, texts),
            }
        }
    }
}
