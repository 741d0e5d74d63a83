//! TLS: the publisher reaches a `rediss://` server whose certificate chains to `redis.ca_file`
//! (and refuses one it cannot verify); the Kite client speaks https and checks certificates.
//! The certificates are made by `openssl` for each test; the servers are the real
//! `redis-server` (TLS build) and `openssl s_server`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Commands;

use crate::helpers::{detail, free_port, spawn_app};

/// A private CA and a server certificate for 127.0.0.1 that it signed.
pub(crate) struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    pub(crate) fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=tickvault test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(d.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ]);
        Certs { dir }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A child process killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `redis-server` with TLS only, on its own port.
fn tls_redis(certs: &Certs, port: u16) -> Server {
    let p = |n: &str| certs.path(n).display().to_string();
    let child = Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
        ])
        .args([
            "--tls-cert-file",
            &p("server.pem"),
            "--tls-key-file",
            &p("server.key"),
        ])
        .args([
            "--tls-ca-cert-file",
            &p("ca.pem"),
            "--tls-auth-clients",
            "no",
        ])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server");
    wait_listening(port);
    Server(child)
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[actix_rt::test]
async fn the_publisher_reaches_a_tls_redis_through_its_ca_file() {
    let certs = Certs::new();
    let port = free_port();
    let _server = tls_redis(&certs, port);
    let url = format!("rediss://127.0.0.1:{port}/0");
    let ca = read(&certs.path("ca.pem"));
    let (u, c) = (url.clone(), ca.clone());
    let t = spawn_app(5.0, move |s| {
        s.redis.enabled = true;
        s.redis.url = u;
        s.redis.ca_pem = Some(c);
    })
    .await;
    t.wait_for_ticks(10).await;
    let journaled = t.drain_and_publish_all().await;
    assert!(journaled >= 10);

    let mut check = t.settings.redis.clone();
    check.url = url;
    check.ca_pem = Some(ca);
    let mut conn = check.client().unwrap().get_connection().unwrap();
    let len: u64 = conn.xlen("ticks:raw").unwrap();
    assert_eq!(len, journaled, "every tick crossed the TLS connection");

    // A plain connection to the TLS port is refused: the traffic really is TLS.
    let plain = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
    assert!(
        plain
            .get_connection_with_timeout(Duration::from_secs(2))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_err()
    );
}

#[actix_rt::test]
async fn a_redis_certificate_nobody_vouches_for_is_refused() {
    let certs = Certs::new();
    let port = free_port();
    let _server = tls_redis(&certs, port);
    let t = spawn_app(5.0, move |s| {
        s.redis.enabled = true;
        s.redis.url = format!("rediss://127.0.0.1:{port}/0");
        s.redis.ca_pem = None; // the private CA is not trusted
    })
    .await;
    t.wait_for(
        "the publisher reports the refused certificate",
        Duration::from_secs(20),
        |b| {
            b.named("publisher")
                .and_then(|s| s.last_error)
                .is_some_and(|e| e.to_lowercase().contains("certificate"))
        },
    )
    .await;
    t.wait_for_ticks(5).await; // recording goes on without Redis
    assert_eq!(detail(&t.app.board, "publisher", "published"), 0);
    let connected = t
        .app
        .board
        .named("publisher")
        .and_then(|s| s.fields().get("connected").cloned());
    assert_eq!(connected, Some(serde_json::Value::Bool(false)));
}

#[actix_rt::test]
async fn the_kite_client_speaks_https_and_checks_the_certificate() {
    let certs = Certs::new();
    let port = free_port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(certs.path("server.pem"))
        .arg("-key")
        .arg(certs.path("server.key"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let _server = Server(child);
    wait_listening(port);
    let root = format!("https://127.0.0.1:{port}");
    let client = tickvault::kite::client::KiteClient::new(&root, &root, Duration::from_secs(5));
    let err = client
        .login(
            &crate::helpers::default_credentials(),
            crate::helpers::unix_now(),
        )
        .await
        .expect_err("a certificate from an unknown CA is refused");
    let text = format!("{err:#}").to_lowercase();
    assert!(
        text.contains("certificate") || text.contains("unknownissuer"),
        "the error names the certificate: {text}"
    );
}

/// A MariaDB of the test's own on `port`, serving TLS with `certs` (and plaintext to clients
/// that do not ask), with a user `tv`/`tv` that must use TLS and a database `tv`. The data
/// directory lives in the returned temporary directory.
#[cfg(feature = "mysql")]
fn tls_mariadb(certs: &Certs, port: u16) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).display().to_string();
    let p = |n: &str| certs.path(n).display().to_string();
    let install = Command::new("mariadb-install-db")
        .args(["--no-defaults", "--auth-root-authentication-method=normal"])
        .args(["--skip-test-db", "--user=root"])
        .arg(format!("--datadir={}", d("data")))
        .output()
        .expect("mariadb-install-db");
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let child = Command::new("/usr/sbin/mariadbd")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", d("data")))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--socket={}", d("sock")))
        .arg(format!("--pid-file={}", d("pid")))
        .arg(format!("--log-error={}", d("error.log")))
        .args(["--user=root", "--skip-log-bin", "--local-infile=1"])
        .arg(format!("--ssl-ca={}", p("ca.pem")))
        .arg(format!("--ssl-cert={}", p("server.pem")))
        .arg(format!("--ssl-key={}", p("server.key")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mariadbd");
    let server = Server(child);
    wait_listening(port);
    let setup = Command::new("mariadb")
        .args(["--no-defaults", "-u", "root", "-S", &d("sock"), "-e"])
        .arg(
            "CREATE USER 'tv'@'%' IDENTIFIED BY 'tv' REQUIRE SSL; CREATE DATABASE tv; \
             GRANT ALL ON tv.* TO 'tv'@'%';",
        )
        .output()
        .expect("mariadb");
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    (server, dir)
}

/// Opens the store of `url` with `[storage] ssl_mode` and `ssl_ca` as the service would (the
/// settings must load: an error here is the connection's), on a thread, within 30 s (a refusal
/// must not hang).
#[cfg(feature = "mysql")]
fn open_with_tls(url: &str, mode: &str, ca: &Path) -> Result<tickvault::storage::Store, String> {
    let config = format!(
        "[storage]\nurl = \"{url}\"\nssl_mode = \"{mode}\"\nssl_ca = \"{}\"\n",
        ca.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tickvault.toml");
    std::fs::write(&path, config).unwrap();
    let sources = tickvault::settings::Sources {
        file: Some(&path),
        ..Default::default()
    };
    let settings = tickvault::settings::Settings::load(&sources).expect("the settings load");
    let url = settings.storage.parsed_url().expect("a MySQL URL");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(tickvault::storage::Store::open(&url).map_err(|e| e.to_string()));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the connection answers (or fails) within 30 s")
}

#[cfg(feature = "mysql")]
#[test]
fn the_database_over_tls_is_verified_and_an_unknown_ca_or_a_plaintext_server_is_refused() {
    use diesel::prelude::*;
    use tickvault::storage::Db;
    let (certs, stranger) = (Certs::new(), Certs::new());
    let port = free_port();
    let (_server, _dir) = tls_mariadb(&certs, port);
    let url = format!("mysql://tv:tv@127.0.0.1:{port}/tv");

    // Verified against the CA that signed the server's certificate: the store opens (its
    // migrations run), the session is encrypted, and the bulk path (LOAD DATA over its own
    // connections) stores a batch; the user may only connect with TLS, so every connection
    // the batch used had it.
    let mut store = open_with_tls(&url, "verify_ca", &certs.path("ca.pem")).expect("verified");
    #[derive(QueryableByName)]
    struct Cipher {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[diesel(column_name = Value)]
        value: String,
    }
    let Db::Mysql(c) = store.conn() else {
        panic!("a MySQL store")
    };
    let cipher: Vec<Cipher> = diesel::sql_query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .load(c)
        .unwrap();
    assert!(!cipher[0].value.is_empty(), "an encrypted session");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let mut tick = tickvault::kite::Tick::new(tickvault::kite::PacketKind::Full, 256_265);
    tick.last_price = 2_600_000;
    let rows: Vec<_> = (0..5_000)
        .map(|i| {
            tickvault::storage::models::NewTick::new(day, 1, i, 1_795_600_000_000_000 + i, &tick)
        })
        .collect();
    let position = tickvault::storage::models::Position::new(
        day,
        tickvault::capture::JournalKey::new(1, 0),
        1_000,
    );
    let stored = tickvault::storage::commit_batch(&mut store, &rows, &[position]).expect("a batch");
    assert_eq!(stored, 5_000);

    // A certificate from a CA it was not told of: refused, promptly.
    let refused = open_with_tls(&url, "verify_ca", &stranger.path("ca.pem")).err();
    assert!(refused.is_some(), "an unknown CA is refused");

    // TLS required of a server that has none (the shared MariaDB of the tests is plaintext).
    let shared = crate::helpers::mysql_server();
    let plain = open_with_tls(
        &format!("{shared}/mysql"),
        "required",
        &certs.path("ca.pem"),
    );
    assert!(
        plain.is_err(),
        "a plaintext-only server is refused when TLS is required"
    );

    // The settings: an unknown mode and a missing CA file exit 78 naming the key.
    for (env, value, key) in [
        (
            "TICKVAULT__STORAGE__SSL_MODE",
            "verify-please",
            "storage.ssl_mode",
        ),
        (
            "TICKVAULT__STORAGE__SSL_CA",
            "/nonexistent/ca.pem",
            "storage.ssl_ca",
        ),
    ] {
        let (code, text) = crate::helpers::config_with(&[
            ("TICKVAULT__STORAGE__URL", std::ffi::OsStr::new(&url)),
            (env, std::ffi::OsStr::new(value)),
        ]);
        assert_eq!(code, Some(78), "{text}");
        assert!(text.contains(key), "{text}");
    }
}
