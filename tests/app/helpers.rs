//! Shared helpers: running the built binary, and locating fixtures.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A `tickvault` command with a clean environment: no `TICKVAULT__*`, `RUST_LOG` or systemd
/// variables leak in from the machine running the tests. `TICKVAULT_TEST_BIN` runs another
/// build instead of this one (a release build, or an older one to see a test fail before a fix).
pub fn tickvault() -> Command {
    clean(std::env::var_os("TICKVAULT_TEST_BIN"))
}

/// [`tickvault`], of the release build that the quick start builds when `TICKVAULT_RELEASE_BIN`
/// names it (tests/run does: default features, `panic = "abort"`). The recovery and fault
/// suites run it: the service as it runs in production.
pub fn tickvault_release() -> Command {
    clean(
        std::env::var_os("TICKVAULT_RELEASE_BIN")
            .or_else(|| std::env::var_os("TICKVAULT_TEST_BIN")),
    )
}

fn clean(bin: Option<std::ffi::OsString>) -> Command {
    let bin = bin
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tickvault")));
    let mut cmd = Command::new(bin);
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

/// Starts a simulator of today's universe (what the service records), at `rate` updates/s when
/// given.
pub fn spawn_sim_today(rate: Option<f64>) -> SimHandle {
    let mut config = sim_config();
    if let Some(rate) = rate {
        config.rate = rate;
    }
    sim::start(SimOptions {
        config,
        date: today(),
        record: None,
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

    /// Decodes into `ticks` everything that arrives before the next heartbeat. After an
    /// unsubscribe, that is everything the server sent before it (messages arrive in order).
    pub async fn ticks_until_heartbeat(&mut self, ticks: &mut Vec<tickvault::kite::Tick>) {
        loop {
            match self.next(Duration::from_secs(3)).await {
                Received::Binary(b) if b.len() == 1 => return,
                Received::Binary(b) => {
                    tickvault::kite::decode_into(&b, ticks)
                        .expect("the simulator sends valid frames");
                }
                other => panic!("expected ticks then a heartbeat, got {other:?}"),
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

// --- the service against the simulator ---------------------------------------------------------

use tickvault::pipeline::App;
use tickvault::settings::AppSettings;
use tickvault::status::StatusBoard;
use tickvault::storage::{StorageUrl, Store};

/// Today in IST: the service records "today", so the simulator serves today's universe.
pub fn today() -> NaiveDate {
    tickvault::calendar::ist_date(chrono::Utc::now())
}

/// Settings for the service, pointed at `sim`, with everything under `dir`: the simulator's
/// default app and a small universe (2 indices, 10 stocks, the NIFTY future) over 3 sockets.
pub fn app_settings(sim: &SimHandle, dir: &std::path::Path) -> Settings {
    let mut s = Settings::load(&Sources::default()).expect("defaults load");
    s.paths.data_dir = dir.join("data");
    s.paths.state_dir = dir.join("state");
    s.storage.url = format!("sqlite://{}", dir.join("ticks.db").display());
    s.kite.api_root = sim.http_url();
    s.kite.login_root = sim.http_url();
    s.kite.ws_root = sim.ws_url();
    s.journal.flush_ms = 50;
    s.apps = vec![AppSettings {
        name: "sim".into(),
        api_key: "sim_api_key".into(),
        api_secret: SecretString::from("sim_api_secret"),
        user_id: "SIM001".into(),
        password: SecretString::from("sim-password"),
        totp_secret: SecretString::from("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    }];
    s.universe.indices = vec!["NSE:NIFTY 50".into(), "NSE:NIFTY BANK".into()];
    s.universe.equities = [
        "RELIANCE",
        "HDFCBANK",
        "ICICIBANK",
        "INFY",
        "TCS",
        "BHARTIARTL",
        "SBIN",
        "ITC",
        "LT",
        "HINDUNILVR",
    ]
    .map(String::from)
    .to_vec();
    s.universe.future_underlyings = vec!["NIFTY".into()];
    s.universe.future_months = 1;
    s.universe.options = Vec::new();
    s
}

/// Ticks in every journal file under `dir` (0 when it does not exist yet; a torn final record of
/// a file being written is not counted).
pub fn journal_ticks(dir: &std::path::Path) -> u64 {
    use tickvault::capture::{CaptureReader, Next, RecordKind};
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("kcap") {
            continue;
        }
        let Ok(mut r) = CaptureReader::new(std::fs::File::open(&path).unwrap()) else {
            continue;
        };
        let mut buf = Vec::new();
        while let Ok(Next::Record(h)) = r.next_into(&mut buf) {
            if h.kind == RecordKind::Binary && buf.len() > 1 {
                total += tickvault::kite::parse_message(&buf)
                    .map(|m| m.packets().len() as u64)
                    .unwrap_or(0);
            }
        }
    }
    total
}

/// A settings file for `tickvault run` against `sim`, everything under `dir` (SQLite at
/// `dir/ticks.db`), the small test universe; `extra` is appended (more tables, or keys of the
/// last one).
pub fn service_config(
    sim: &tickvault::sim::SimHandle,
    dir: &std::path::Path,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join("tickvault.toml");
    let text = format!(
        r#"
[paths]
data_dir = "{data}"
state_dir = "{state}"
[storage]
url = "sqlite://{db}"
[kite]
api_root = "{http}"
login_root = "{http}"
ws_root = "{ws}"
[journal]
flush_ms = 50
[apps.sim]
api_key = "sim_api_key"
user_id = "SIM001"
api_secret = "sim_api_secret"
password = "sim-password"
totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
[universe]
indices = ["NSE:NIFTY 50", "NSE:NIFTY BANK"]
equities = ["RELIANCE", "INFY", "TCS", "SBIN"]
future_underlyings = ["NIFTY"]
future_months = 1
{endpoint}
{extra}
"#,
        data = dir.join("data").display(),
        state = dir.join("state").display(),
        db = dir.join("ticks.db").display(),
        http = sim.http_url(),
        ws = sim.ws_url(),
        // Tests run side by side: the endpoint on a free port unless the test chooses one.
        endpoint = if extra.contains("[http]") {
            ""
        } else {
            "[http]\nlisten = \"127.0.0.1:0\""
        },
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test virtualenv's python (`tests/run` creates it: kiteconnect, aiosmtpd).
pub fn python() -> PathBuf {
    let path = std::env::var_os("TICKVAULT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyvenv/bin/python")
        });
    assert!(
        path.exists(),
        "{} is missing: run tests/run, which creates the virtualenv from tests/python/requirements.txt",
        path.display()
    );
    path
}

/// Sends `sig` (`TERM`, `KILL`, `USR1`) to `pid`.
pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

// --- MariaDB -----------------------------------------------------------------------------------

/// A MariaDB server of the test's own (its own data directory and port), for tests that stop
/// and restart the database. Root needs no password (`--skip-grant-tables`); loopback only.
#[cfg(feature = "mysql")]
pub struct OwnMariadb {
    /// `mysql://root@127.0.0.1:PORT/tv`.
    pub url: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
    options: Vec<String>,
}

#[cfg(feature = "mysql")]
impl OwnMariadb {
    /// Initialises a data directory and starts the server on a free port, with database `tv`.
    pub fn start() -> OwnMariadb {
        OwnMariadb::start_with(&[])
    }

    /// [`OwnMariadb::start`] with more server options (`--local-infile=0`, …).
    pub fn start_with(options: &[&str]) -> OwnMariadb {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let out = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .arg(format!("--datadir={}", data.display()))
            .output()
            .expect("mariadb-install-db (tests/run installs mariadb-server)");
        assert!(out.status.success(), "{}", stderr(&out));
        let port = free_port();
        let mut server = OwnMariadb {
            url: format!("mysql://root@127.0.0.1:{port}/tv"),
            port,
            dir,
            child: None,
            options: options.iter().map(|o| o.to_string()).collect(),
        };
        server.restart();
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        diesel::mysql::MysqlConnection::establish(&format!("mysql://root@127.0.0.1:{port}/mysql"))
            .unwrap()
            .batch_execute("CREATE DATABASE tv")
            .unwrap();
        server
    }

    /// Starts the server (again) on the same data directory and port; returns once it answers.
    pub fn restart(&mut self) {
        let d = self.dir.path();
        let child = Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", d.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", d.join("error.log").display()))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=32M",
                "--skip-log-bin",
            ])
            .args(&self.options)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mariadbd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            use diesel::prelude::*;
            if diesel::mysql::MysqlConnection::establish(&format!(
                "mysql://root@127.0.0.1:{}/mysql",
                self.port
            ))
            .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not answer: {}",
                std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

#[cfg(feature = "mysql")]
impl Drop for OwnMariadb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The test account's server URL, without a database (tests/run creates the account).
#[cfg(feature = "mysql")]
pub fn mysql_server() -> String {
    std::env::var("TICKVAULT_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://tickvault_test:tickvault_test@127.0.0.1:3306".into())
}

/// A fresh MariaDB database for one test, dropped when the value is.
#[cfg(feature = "mysql")]
pub struct TestMysql {
    /// `mysql://…/tickvault_test_…`.
    pub url: String,
    name: String,
}

#[cfg(feature = "mysql")]
impl TestMysql {
    /// Creates `tickvault_test_<random>` on the server of [`mysql_server`].
    pub fn create() -> TestMysql {
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        let server = mysql_server();
        let name = format!("tickvault_test_{:016x}", fastrand::u64(..));
        let mut admin =
            diesel::mysql::MysqlConnection::establish(&format!("{server}/information_schema"))
                .unwrap_or_else(|e| {
                    panic!("MariaDB at {server} (run tests/run to set it up): {e}")
                });
        admin
            .batch_execute(&format!("CREATE DATABASE `{name}`"))
            .expect("CREATE DATABASE");
        TestMysql {
            url: format!("{server}/{name}"),
            name,
        }
    }
}

/// Built without the `mysql` feature there is no MariaDB database to make.
#[cfg(not(feature = "mysql"))]
pub enum TestMysql {}

/// A fresh MariaDB database when `backend` asks for one.
pub fn database_for(backend: Backend) -> Option<TestMysql> {
    match backend {
        Backend::Sqlite => None,
        #[cfg(feature = "mysql")]
        Backend::Mysql => Some(TestMysql::create()),
    }
}

impl TestMysql {
    /// Its URL.
    pub fn url(&self) -> &str {
        #[cfg(feature = "mysql")]
        return &self.url;
        #[cfg(not(feature = "mysql"))]
        match *self {}
    }
}

#[cfg(feature = "mysql")]
impl Drop for TestMysql {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        if let Ok(mut admin) = diesel::mysql::MysqlConnection::establish(&format!(
            "{}/information_schema",
            mysql_server()
        )) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
        }
    }
}

/// A store on `backend` (its files or database live as long as the guard).
pub struct TestStore {
    /// The store.
    pub store: Store,
    /// Its URL (with the password).
    pub url: String,
    /// The test's directory.
    pub dir: tempfile::TempDir,
    _mysql: Option<TestMysql>,
}

pub fn test_store(backend: Backend) -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let mysql = database_for(backend);
    let url = match &mysql {
        Some(db) => db.url().to_string(),
        None => format!("sqlite://{}", dir.path().join("t.db").display()),
    };
    let store =
        tickvault::storage::Store::open(&tickvault::storage::StorageUrl::parse(&url).unwrap())
            .unwrap();
    TestStore {
        store,
        url,
        dir,
        _mysql: mysql,
    }
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's directory.
    Sqlite,
    /// A fresh database on the MariaDB server.
    #[cfg(feature = "mysql")]
    Mysql,
}

/// The simulator and the service running against it.
pub struct TestApp {
    /// The simulator.
    pub sim: SimHandle,
    /// The service.
    pub app: App,
    /// The settings it runs with.
    pub settings: Settings,
    /// Its files.
    pub _dir: tempfile::TempDir,
    /// Its MariaDB database, if it uses one.
    pub _mysql: Option<TestMysql>,
}

/// Starts a simulator (today's universe, `rate` updates/s) and the service against it on
/// SQLite; `tweak` adjusts the service's settings first.
pub async fn spawn_app(rate: f64, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(Backend::Sqlite, rate, tweak).await
}

/// [`spawn_app`] on the given backend.
pub async fn spawn_app_on(
    backend: Backend,
    rate: f64,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_with(backend, rate, Default::default(), tweak).await
}

/// [`spawn_app_on`] with start options (a role).
pub async fn spawn_app_with(
    backend: Backend,
    rate: f64,
    options: tickvault::pipeline::StartOptions,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let sim = spawn_sim_today(Some(rate));
    let dir = tempfile::tempdir().unwrap();
    let mut settings = app_settings(&sim, dir.path());
    let mysql = database_for(backend);
    if let Some(db) = &mysql {
        settings.storage.url = db.url().to_string();
    }
    tweak(&mut settings);
    let app = tickvault::service::control::start_day(
        &settings,
        today(),
        tickvault::clock::system(),
        options,
    )
    .await
    .expect("the service starts");
    TestApp {
        sim,
        app,
        settings,
        _dir: dir,
        _mysql: mysql,
    }
}

// --- Redis -------------------------------------------------------------------------------------

/// A key prefix of the test's own on the shared Redis (127.0.0.1:6379); every key under it is
/// deleted when dropped.
pub struct RedisKeys {
    /// A connection to the server.
    pub conn: redis::Connection,
    /// `tickvault_test:<random>:`.
    pub prefix: String,
}

impl RedisKeys {
    /// A fresh prefix on the shared server.
    pub fn new() -> RedisKeys {
        let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
        RedisKeys {
            conn: client
                .get_connection()
                .expect("Redis on 127.0.0.1:6379 (tests/run starts it)"),
            prefix: format!("tickvault_test:{:016x}:", fastrand::u64(..)),
        }
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        use redis::Commands;
        let keys: Vec<String> = self
            .conn
            .scan_match(format!("{}*", self.prefix))
            .map(|it| it.filter_map(Result::ok).collect())
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = self.conn.del(keys);
        }
    }
}

/// A Redis server of the test's own (its own port, no persistence), for tests that stop it.
pub struct OwnRedis {
    /// `redis://127.0.0.1:PORT/0`.
    pub url: String,
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// Starts a server on a free port; returns once it answers.
    pub fn start() -> OwnRedis {
        let port = free_port();
        let mut r = OwnRedis {
            url: format!("redis://127.0.0.1:{port}/0"),
            port,
            child: None,
        };
        r.restart();
        r
    }

    /// Starts the server (again) on the same port.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (tests/run installs it)");
        self.child = Some(child);
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while client
            .get_connection()
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL: a crash) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A detail of an actor's status as a number.
pub fn detail(board: &StatusBoard, actor: &str, key: &str) -> u64 {
    board
        .get(actor)
        .and_then(|s| s.details.get(key).and_then(serde_json::Value::as_u64))
        .unwrap_or(0)
}

impl TestApp {
    /// Waits (polling the status board) until `cond` holds; panics after `timeout`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&StatusBoard) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !cond(&self.app.board) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {}",
                self.app.board.to_json(chrono::Utc::now())
            );
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every socket has received at least `ticks` ticks.
    pub async fn wait_for_ticks(&self, ticks: u64) {
        let sockets: Vec<String> = self.app.plan.sockets.iter().map(|s| s.name()).collect();
        self.wait_for(
            &format!("{ticks} ticks on every socket"),
            Duration::from_secs(20),
            |b| sockets.iter().all(|s| detail(b, s, "ticks") >= ticks),
        )
        .await;
    }

    /// The simulator connection carrying socket `n`'s instruments.
    pub async fn sim_connection_of(&self, n: usize) -> u64 {
        let token = self.app.plan.sockets[n - 1].tokens[0].0;
        let conns = get_json(&format!("{}/sim/connections", self.sim.http_url())).await;
        conns
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["tokens"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t.as_u64() == Some(u64::from(token)))
            })
            .and_then(|c| c["id"].as_u64())
            .unwrap_or_else(|| panic!("no simulator connection for socket-{n}: {conns}"))
    }

    /// Ticks in the service's journal of today.
    pub fn journaled(&self) -> u64 {
        journal_ticks(&tickvault::capture::journal::journal_dir(
            &self.settings.paths.data_dir,
            today(),
        ))
    }

    /// Drains the service, then waits until the publisher has published every journaled tick
    /// with none dropped; returns how many.
    pub async fn drain_and_publish_all(&self) -> u64 {
        self.app.shutdown().await.expect("drains");
        let journaled = self.journaled();
        self.wait_for(
            "every journaled tick published",
            Duration::from_secs(20),
            |b| detail(b, "publisher", "published") >= journaled,
        )
        .await;
        assert_eq!(detail(&self.app.board, "publisher", "dropped"), 0);
        journaled
    }

    /// Opens the service's database.
    pub fn store(&self) -> Store {
        Store::open(&StorageUrl::parse(&self.settings.storage.url).unwrap()).unwrap()
    }

    /// Ticks the simulator sent, per token.
    pub async fn sent_per_token(&self) -> std::collections::HashMap<u32, u64> {
        let stats = get_json(&format!("{}/sim/stats", self.sim.http_url())).await;
        stats["per_token"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap()))
            .collect()
    }
}
