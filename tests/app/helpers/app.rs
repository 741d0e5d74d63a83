//! The service against the simulator (`spawn_app`), and polling the status board.

use std::time::{Duration, Instant};

use tickvault::pipeline::App;
use tickvault::settings::Settings;
use tickvault::sim::SimHandle;
use tickvault::status::StatusBoard;
use tickvault::storage::{StorageUrl, Store};

use super::{
    Backend, TestMysql, app_settings, database_for, get_json, journal_ticks, spawn_sim_today, today,
};

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

/// A detail of an actor's status as a number.
pub fn detail(board: &StatusBoard, actor: &str, key: &str) -> u64 {
    board
        .named(actor)
        .and_then(|s| s.fields().get(key).and_then(serde_json::Value::as_u64))
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
