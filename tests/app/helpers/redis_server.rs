//! Redis: a key prefix of the test's own on the shared server, and a server of the test's own.

use std::process::Command;
use std::time::{Duration, Instant};

use super::free_port;

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
