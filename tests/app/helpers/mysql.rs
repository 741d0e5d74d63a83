//! MariaDB: a server of the test's own, and a fresh database per test; the test store on
//! either backend.

// Most of this file needs the `mysql` feature.
#![cfg_attr(not(feature = "mysql"), allow(unused_imports))]

use std::process::Command;
use std::time::{Duration, Instant};

use tickvault::storage::Store;

use super::{free_port, stderr};

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
