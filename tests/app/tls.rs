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
