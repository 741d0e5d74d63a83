//! The fault suite (issue 16): the service as a process against the simulator, through the
//! faults of a deployment's lifecycle — journals cut short or with garbage appended, restarts
//! after a stop or a crash, stalls — each checked on the end state of the whole record:
//!
//! 1. every tick of every journal file is a row under its own key, with its own instrument;
//! 2. per instrument, the rows hold every tick the simulator sent (its own recording) outside
//!    the recorded gaps of the instrument's socket;
//! 3. every hole in a socket's journals longer than 1.5 s is covered by a gap of that socket
//!    with the right cause.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use diesel::prelude::*;
use tickvault::capture::{CaptureReader, Next, RecordKind, row_seq};
use tickvault::sim::{SimHandle, SimOptions};
use tickvault::storage::{self, StorageUrl, Store};

use crate::helpers::{service_config, signal, sim_config, today};
use crate::recovery::{open_connections, run_service, until, wait_streaming};

/// A simulator of today's universe at `rate` updates/s, recording every message it sends.
fn recording_sim(rate: f64, record: &Path) -> SimHandle {
    let mut config = sim_config();
    config.rate = rate;
    tickvault::sim::start(SimOptions {
        config,
        date: today(),
        record: Some(record.to_path_buf()),
    })
    .unwrap()
}

/// One recording environment: the simulator, the service's settings and files.
struct Bench {
    sim: SimHandle,
    dir: tempfile::TempDir,
    cfg: PathBuf,
    runs: u32,
    running: Running,
}

/// The service processes a bench started and has not stopped: killed when the bench is
/// dropped, so a test failing half way leaves no recorder behind.
#[derive(Default)]
struct Running(std::sync::Mutex<Vec<u32>>);

impl Running {
    fn add(&self, pid: u32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    }

    fn remove(&self, pid: u32) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != pid);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for pid in self
            .0
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

impl Bench {
    fn new(extra: &str) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let sim = recording_sim(5.0, &dir.path().join("sim.kcap"));
        let cfg = service_config(&sim, dir.path(), extra);
        Bench {
            sim,
            dir,
            cfg,
            runs: 0,
            running: Running::default(),
        }
    }

    fn journal(&self) -> PathBuf {
        journal_of(self.dir.path())
    }

    fn log(&self, run: u32) -> PathBuf {
        self.dir.path().join(format!("run-{run}.log"))
    }

    /// Starts the service and waits until it streams on all three sockets.
    async fn start(&mut self, args: &[&str]) -> Child {
        self.runs += 1;
        let log = self.log(self.runs);
        let env: Vec<(&str, String)> = Vec::new();
        let child = if args.is_empty() {
            run_service(&self.cfg, &env, &log)
        } else {
            let mut cmd = crate::helpers::tickvault_release();
            cmd.args(["run", "--now"])
                .args(args)
                .arg("--config")
                .arg(&self.cfg)
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap());
            cmd.spawn().unwrap()
        };
        self.running.add(child.id());
        wait_streaming(&self.sim, &log).await;
        child
    }

    /// Lets every socket receive `more` ticks beyond what they have.
    async fn stream(&self, more: u64) {
        let start: u64 = open_connections(&self.sim).await.iter().map(|c| c.1).sum();
        until("more ticks", 30, async || {
            let now: u64 = open_connections(&self.sim).await.iter().map(|c| c.1).sum();
            now >= start + more
        })
        .await;
    }

    /// Starts the service, lets it record `ticks` more ticks, and stops it (SIGTERM, exit 0).
    async fn run_and_stop(&mut self, ticks: u64) {
        let run = self.start(&[]).await;
        self.stream(ticks).await;
        assert_eq!(self.stop(run, "TERM").await, Some(0), "{}", self.logs());
    }

    /// Stops the service with `sig` and waits for it; returns its exit status.
    async fn stop(&self, mut child: Child, sig: &str) -> Option<i32> {
        let pid = child.id();
        signal(pid, sig);
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        self.running.remove(pid);
        // The simulator notices the closed connections.
        until("the connections to close", 20, async || {
            open_connections(&self.sim).await.is_empty()
        })
        .await;
        status.code()
    }

    /// Every run's log.
    fn logs(&self) -> String {
        (1..=self.runs)
            .map(|r| std::fs::read_to_string(self.log(r)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n----\n")
    }

    /// Stops the simulator (its recording is then complete) and checks the whole record;
    /// returns the gaps' causes by socket.
    async fn verify(self, causes: &[&str]) -> HashMap<i16, Vec<String>> {
        self.verify_keeping(causes).await.0
    }

    /// [`Bench::verify`], handing back the test's directory (something is mounted in it).
    async fn verify_keeping(
        self,
        causes: &[&str],
    ) -> (HashMap<i16, Vec<String>>, tempfile::TempDir) {
        let logs = self.logs();
        let Bench { sim, dir, .. } = self;
        sim.stop().await;
        let verdict = check_record(dir.path());
        assert!(
            verdict.problems.is_empty(),
            "{} problem(s) in the record:\n{}\n\nthe service's logs:\n{logs}",
            verdict.problems.len(),
            verdict.problems[..verdict.problems.len().min(20)].join("\n"),
        );
        for (socket, found) in &verdict.causes {
            for cause in found {
                assert!(
                    causes.contains(&cause.as_str()),
                    "socket-{socket}: a gap of cause {cause} (expected one of {causes:?})"
                );
            }
        }
        (verdict.causes, dir)
    }
}

/// What [`check_record`] found.
struct Verdict {
    problems: Vec<String>,
    /// Causes of the gaps that cover journal holes, by socket.
    causes: HashMap<i16, Vec<String>>,
}

/// Gaps tolerate this much around their ends: a frame in flight when a socket died.
const MARGIN_US: i64 = 500_000;

/// The journal directory of today under a test's directory.
fn journal_of(root: &Path) -> PathBuf {
    tickvault::capture::journal::journal_dir(&root.join("data"), today())
}

/// Checks the record of today under `root` (the service's files, `ticks.db`, and the
/// simulator's recording `sim.kcap`).
fn check_record(root: &Path) -> Verdict {
    let date = today();
    let mut problems = Vec::new();
    let url = format!("sqlite://{}", root.join("ticks.db").display());
    let mut store = Store::open(&StorageUrl::parse(&url).unwrap()).unwrap();
    let day_start_us = date
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(tickvault::calendar::IST)
        .unwrap()
        .timestamp_micros();

    // 1. Every journaled tick is a row under its key, with its instrument.
    let mut journaled: HashMap<(i16, i64), u32> = HashMap::new();
    let mut frames: HashMap<i16, Vec<i64>> = HashMap::new();
    for (key, path) in tickvault::recovery::journal_files(&journal_of(root)).unwrap() {
        let mut reader =
            CaptureReader::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()))
                .unwrap();
        let mut payload = Vec::new();
        loop {
            match reader.next_into(&mut payload) {
                Ok(Next::Record(h)) => {
                    // A stray record from outside the day (the garbage test's) is no frame.
                    if (h.recv_time_us as i64) >= day_start_us {
                        frames
                            .entry(key.socket)
                            .or_default()
                            .push(h.recv_time_us as i64);
                    }
                    if h.kind != RecordKind::Binary || payload.len() <= 1 {
                        continue;
                    }
                    let Ok(message) = tickvault::kite::parse_message(&payload) else {
                        continue;
                    };
                    for (i, tick) in message.packets().enumerate() {
                        journaled.insert(
                            (key.socket, row_seq(key.generation, h.offset, i)),
                            tick.instrument_token,
                        );
                    }
                }
                Ok(Next::End) | Ok(Next::Torn(_)) => break,
                Err(_) => {} // damaged records: skipped, as --skip-corrupt does
            }
        }
    }
    use tickvault::storage::schema::daily_ticks::dsl as t;
    let rows: Vec<(i16, i64, i64)> = tickvault::on_backend!(store.conn(), c => t::daily_ticks
        .filter(t::trade_date.eq(date))
        .select((t::socket, t::seq, t::instrument_token))
        .load(c))
    .unwrap();
    let stored: HashMap<(i16, i64), u32> = rows
        .iter()
        .map(|(s, q, tok)| ((*s, *q), *tok as u32))
        .collect();
    for (key, token) in &journaled {
        match stored.get(key) {
            None => problems.push(format!("journaled tick {key:?} of {token} is not stored")),
            Some(t) if t != token => problems.push(format!(
                "row {key:?} holds instrument {t}, the journal {token}"
            )),
            Some(_) => {}
        }
    }

    // 2. Per instrument: every tick sent outside its socket's gaps is stored.
    let gaps = storage::gaps(store.conn(), date).unwrap();
    use tickvault::storage::schema::instruments::dsl as i;
    let sockets: HashMap<u32, i16> = tickvault::on_backend!(store.conn(), c => i::instruments
        .filter(i::trade_date.eq(date))
        .select((i::instrument_token, i::socket))
        .load::<(i64, Option<i16>)>(c))
    .unwrap()
    .into_iter()
    .filter_map(|(tok, s)| Some((tok as u32, s?)))
    .collect();
    let last_frame: HashMap<i16, i64> = frames
        .iter()
        .map(|(s, f)| (*s, f.iter().copied().max().unwrap_or(0)))
        .collect();
    let in_gap = |socket: i16, at: i64| {
        gaps.iter().any(|g| {
            g.socket == socket && g.start_us - MARGIN_US <= at && at <= g.end_us + MARGIN_US
        })
    };
    let mut expected: HashMap<u32, u64> = HashMap::new();
    let mut sent: HashMap<u32, u64> = HashMap::new();
    let record = root.join("sim.kcap");
    let mut reader = CaptureReader::new(std::io::BufReader::new(
        std::fs::File::open(&record).unwrap(),
    ))
    .unwrap();
    let mut payload = Vec::new();
    while let Ok(Next::Record(h)) = reader.next_into(&mut payload) {
        if h.kind != RecordKind::Binary || payload.len() <= 1 {
            continue;
        }
        let Ok(message) = tickvault::kite::parse_message(&payload) else {
            continue;
        };
        let at = h.recv_time_us as i64;
        for tick in message.packets() {
            let token = tick.instrument_token;
            let Some(&socket) = sockets.get(&token) else {
                continue;
            };
            *sent.entry(token).or_default() += 1;
            // Everything the simulator sent up to the socket's last journaled frame (it sends
            // only to subscribed connections, so from the first).
            let recorded = last_frame
                .get(&socket)
                .is_some_and(|l| at <= *l - MARGIN_US);
            if recorded && !in_gap(socket, at) {
                *expected.entry(token).or_default() += 1;
            }
        }
    }
    let mut per_token: HashMap<u32, u64> = HashMap::new();
    for (_, _, tok) in &rows {
        *per_token.entry(*tok as u32).or_default() += 1;
    }
    for (token, want) in &expected {
        let got = per_token.get(token).copied().unwrap_or(0);
        if got < *want {
            problems.push(format!(
                "instrument {token}: {got} rows, but {want} ticks were sent outside gaps"
            ));
        }
        if got > sent[token] {
            problems.push(format!(
                "instrument {token}: {got} rows, more than the {} ticks sent",
                sent[token]
            ));
        }
    }

    // 3. Every journal hole over 1.5 s is a gap of its socket.
    let mut causes: HashMap<i16, Vec<String>> = HashMap::new();
    for (socket, times) in &mut frames {
        times.sort_unstable();
        for pair in times.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b - a <= 1_500_000 {
                continue;
            }
            match gaps.iter().find(|g| {
                g.socket == *socket && g.start_us <= a + MARGIN_US && g.end_us >= b - MARGIN_US
            }) {
                Some(g) => {
                    // For docs/reliability.md (visible with --no-capture).
                    eprintln!(
                        "figure: socket-{socket} hole {:.3} s, gap {:.3} s ({}), starts {:+.3} s from the hole",
                        (b - a) as f64 / 1e6,
                        (g.end_us - g.start_us) as f64 / 1e6,
                        g.cause,
                        (g.start_us - a) as f64 / 1e6
                    );
                    causes.entry(*socket).or_default().push(g.cause.clone())
                }
                None => problems.push(format!(
                    "socket-{socket}: a hole of {:.1} s from {a} to {b} is in no gap ({gaps:?})",
                    (b - a) as f64 / 1e6
                )),
            }
        }
    }
    Verdict { problems, causes }
}

/// The journal files of `socket` in `dir`, oldest first.
fn files_of(dir: &Path, socket: i16) -> Vec<PathBuf> {
    tickvault::recovery::journal_files(dir)
        .unwrap()
        .into_iter()
        .filter(|(k, _)| k.socket == socket)
        .map(|(_, p)| p)
        .collect()
}

#[actix_rt::test]
async fn a_journal_cut_short_after_its_commit_loses_nothing_that_follows() {
    // Finding 1: the state a power cut between a commit and the journal's fsync leaves.
    let mut bench = Bench::new("");
    bench.run_and_stop(300).await;
    let file = &files_of(&bench.journal(), 2)[0];
    let len = std::fs::metadata(file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(len - 30)
        .unwrap();
    bench.run_and_stop(600).await;
    bench.verify(&["stopped"]).await;
}

#[actix_rt::test]
async fn garbage_appended_to_a_journal_skipped_at_start_loses_nothing_that_follows() {
    // Finding 2: the damaged file is skipped with --skip-corrupt; what follows is all stored.
    let mut bench = Bench::new("");
    bench.run_and_stop(300).await;
    // Garbage, then a good record: corruption in the middle, not a torn tail.
    let file = &files_of(&bench.journal(), 1)[0];
    let mut bytes = std::fs::read(file).unwrap();
    bytes.extend((0..5_000u32).map(|i| (i * 7919 % 251) as u8));
    let good = bench.dir.path().join("good.kcap");
    let mut w =
        tickvault::capture::CaptureWriter::create(&good, tickvault::capture::SyncPolicy::Manual)
            .unwrap();
    // A stray record from 1970: no start for a gap.
    w.append(1, RecordKind::Binary, &[0]).unwrap();
    w.flush().unwrap();
    drop(w);
    bytes.extend(&std::fs::read(&good).unwrap()[8..]);
    std::fs::write(file, bytes).unwrap();
    let run = bench.start(&["--skip-corrupt"]).await;
    bench.stream(600).await;
    assert_eq!(bench.stop(run, "TERM").await, Some(0));
    bench.verify(&["stopped"]).await;
}

/// Runs, stops with `sig`, stays down for `down`, runs again: the hole is a gap of `cause`
/// on every socket.
async fn a_restart_is_a_gap(sig: &str, cause: &str) {
    let mut bench = Bench::new("");
    let run = bench.start(&[]).await;
    bench.stream(300).await;
    let expected_status = if sig == "KILL" { None } else { Some(0) };
    assert_eq!(bench.stop(run, sig).await, expected_status);
    // Down long enough to leave a hole the check sees (the fault itself, not a wait).
    actix_rt::time::sleep(Duration::from_millis(2_500)).await;
    bench.run_and_stop(300).await;
    let causes = bench.verify(&[cause]).await;
    let sockets: HashSet<i16> = causes
        .iter()
        .filter(|(_, c)| c.iter().any(|c| c == cause))
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(
        sockets,
        HashSet::from([1, 2, 3]),
        "every socket: {causes:?}"
    );
}

#[actix_rt::test]
async fn a_stop_and_start_is_a_gap_on_every_socket() {
    a_restart_is_a_gap("TERM", "stopped").await;
}

#[actix_rt::test]
async fn a_crash_and_start_is_a_gap_on_every_socket() {
    a_restart_is_a_gap("KILL", "crashed").await;
}

#[actix_rt::test]
async fn a_stall_is_a_gap_from_the_last_frame_received() {
    // Finding 4: the gap starts at the last frame, not when the stall is noticed.
    let mut bench = Bench::new("[sockets]\nstall_ms = 1500\n");
    let run = bench.start(&[]).await;
    bench.stream(200).await;
    let (id, _) = open_connections(&bench.sim).await[1];
    let url = format!(
        "{}/sim/connections/{id}/stall?seconds=4",
        bench.sim.http_url()
    );
    crate::helpers::post_json(&url).await;
    // The stalled connection is dropped by the service and a new one streams.
    until("the stalled socket to reconnect", 30, async || {
        let open = open_connections(&bench.sim).await;
        open.len() == 3 && open.iter().all(|(c, _)| *c != id)
    })
    .await;
    bench.stream(300).await;
    assert_eq!(bench.stop(run, "TERM").await, Some(0));
    let causes = bench.verify(&["stalled"]).await;
    assert!(
        causes.values().flatten().any(|c| c == "stalled"),
        "the stall's hole is a stalled gap: {causes:?}"
    );
}

#[actix_rt::test]
async fn a_second_instance_on_the_same_directories_exits_at_once_naming_the_first() {
    // Finding 7: one service per directory; the second neither writes nor takes the pid file.
    let mut bench = Bench::new("");
    let first = bench.start(&[]).await;
    let pid_file = bench.dir.path().join("state/tickvault.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        first.id().to_string()
    );
    for args in [
        &["run", "--now"][..],
        &["eod"][..],
        &["replay", "--date", "2026-11-20"][..],
    ] {
        let mut cmd = crate::helpers::tickvault_release();
        cmd.args(args).arg("--config").arg(&bench.cfg);
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?}: a second instance kept running on the same directories");
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        let out = child.wait_with_output().unwrap();
        let err = crate::helpers::stderr(&out);
        assert_eq!(out.status.code(), Some(75), "{args:?}: {err}");
        assert!(
            err.contains(&format!("pid {}", first.id())),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        first.id().to_string(),
        "the first service's pid file is untouched"
    );
    bench.stream(200).await;
    assert_eq!(bench.stop(first, "TERM").await, Some(0));
    assert!(!pid_file.exists(), "removed by its own service at exit");
    bench.verify(&[]).await;
}

#[actix_rt::test]
async fn a_truncated_instruments_dump_is_a_remote_fault_not_a_bad_setting() {
    // Finding 10: exit 69 (systemd retries), never 78 (it would not).
    let bench = Bench::new("");
    let url = format!(
        "{}/sim/instruments/truncate?bytes=50000&times=5",
        bench.sim.http_url()
    );
    crate::helpers::post_json(&url).await;
    for command in ["instruments", "run"] {
        let mut cmd = crate::helpers::tickvault_release();
        cmd.arg(command);
        if command == "run" {
            cmd.arg("--now");
        }
        cmd.arg("--config").arg(&bench.cfg);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let err = crate::helpers::stderr(&out);
        assert_eq!(out.status.code(), Some(69), "{command}: {err}");
        assert!(!err.contains("invalid setting"), "{command}: {err}");
    }
    bench.sim.stop().await;
}

/// Runs `tickvault` with `args` (and the bench's settings) to completion, off the runtime.
async fn tickvault_cmd(cfg: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = crate::helpers::tickvault_release();
    cmd.args(args).arg("--config").arg(cfg);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[actix_rt::test]
async fn the_end_of_day_runs_once_refuses_a_date_with_nothing_and_replay_keeps_the_master_whole() {
    // Finding 11.
    let mut bench = Bench::new("");
    bench.run_and_stop(300).await;
    let date = today().to_string();
    let out = tickvault_cmd(&bench.cfg, &["eod", "--date", &date]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::helpers::stderr(&out)
    );
    // Again, with nothing new: not run a second time.
    let out = tickvault_cmd(&bench.cfg, &["eod", "--date", &date]).await;
    assert_eq!(out.status.code(), Some(0));
    let url = format!("sqlite://{}", bench.dir.path().join("ticks.db").display());
    let mut store = Store::open(&StorageUrl::parse(&url).unwrap()).unwrap();
    assert_eq!(
        storage::eod::run_statuses(store.conn(), today()).unwrap(),
        ["done"]
    );
    let master: u64 = storage::eod::master_rows_per_token(store.conn(), today())
        .unwrap()
        .values()
        .sum();
    assert!(master > 0);
    // A replay of the moved date puts nothing back into the daily table.
    let out = tickvault_cmd(&bench.cfg, &["replay", "--date", &date]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::helpers::stderr(&out)
    );
    assert_eq!(storage::eod::daily_rows(store.conn(), today()).unwrap(), 0);
    // A mistyped date: a year ahead, or a Sunday with nothing recorded.
    for day in ["2099-01-01", "2026-11-22"] {
        let out = tickvault_cmd(&bench.cfg, &["eod", "--date", day]).await;
        assert_eq!(
            out.status.code(),
            Some(64),
            "{day}: {}",
            crate::helpers::stderr(&out)
        );
        assert!(crate::helpers::stderr(&out).contains("--force"));
        assert!(
            storage::eod::run_statuses(store.conn(), day.parse().unwrap())
                .unwrap()
                .is_empty()
        );
    }
    let out = tickvault_cmd(&bench.cfg, &["eod", "--date", "2099-01-01", "--force"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::helpers::stderr(&out)
    );
    bench.sim.stop().await;
}

/// A size-limited tmpfs mounted for a test (the fault suite runs as root, as tests/run does),
/// unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill a file system (it needs root, as tests/run has): {}",
            crate::helpers::stderr(&out)
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }

    /// Fills what is left with one file.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

async fn http_get(url: &str) -> (u16, String) {
    let mut r = crate::helpers::http().get(url).send().await.unwrap();
    let body = r.body().await.unwrap();
    (
        r.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[actix_rt::test]
async fn a_full_journal_volume_is_unready_alerting_and_a_gap_not_a_flood_of_logs() {
    // Finding 5: with only the journal's file system full.
    let port = crate::helpers::free_port();
    let mut bench = Bench::new(&format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    let volume = Tmpfs::mount(bench.journal().parent().unwrap(), "4m");
    let run = bench.start(&[]).await;
    bench.stream(200).await;
    let ready = format!("http://127.0.0.1:{port}/readyz");
    assert_eq!(http_get(&ready).await.0, 200);

    let filler = volume.fill();
    let full_since = std::time::Instant::now();
    until("the service to say it is unready", 20, async || {
        let (code, body) = http_get(&ready).await;
        code == 503 && body.contains("journal")
    })
    .await;
    // Frames keep coming and are lost: a few hundred at least.
    bench.stream(500).await;
    // The outage lasts several of the journal's retries (each tries a new file): the duration
    // is the fault being made, not a wait for something.
    let outage = Duration::from_secs(4);
    actix_rt::time::sleep(outage.saturating_sub(full_since.elapsed())).await;
    let status = http_get(&format!("http://127.0.0.1:{port}/status")).await.1;
    let journal = actor_in(&serde_json::from_str(&status).unwrap(), "journal");
    assert_eq!(journal["state"], "backoff", "{journal}");
    // Frames (each carrying many ticks) lost while the disk is full.
    let lost = journal["failed_appends"].as_u64().unwrap();
    assert!(lost >= 5, "{journal}");
    let metrics = http_get(&format!("http://127.0.0.1:{port}/metrics"))
        .await
        .1;
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("tickvault_journal_failed_appends_total "))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok());
    assert!(counted.is_some_and(|v| v >= 5.0), "{metrics}");

    std::fs::remove_file(filler).unwrap();
    until("the service to be ready again", 20, async || {
        http_get(&ready).await.0 == 200
    })
    .await;
    bench.stream(300).await;
    assert_eq!(bench.stop(run, "TERM").await, Some(0));
    let log = bench.logs();
    let lines = log.lines().filter(|l| l.contains("journal")).count();
    eprintln!("figure: {lost} frames lost to a full disk, {lines} log lines about the journal");
    assert!(
        lines < 20,
        "{lost} lost frames logged in {lines} lines, not one each:\n{log}"
    );
    let (_, dir) = bench.verify_keeping(&["journal_write_failed"]).await;
    // The retries took no generation numbers: each socket has the file it had before the
    // disk filled and the one it opened after.
    let journal = journal_of(dir.path());
    let names: std::collections::BTreeSet<String> = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".kcap"))
        .collect();
    let expected: std::collections::BTreeSet<String> = (1..=3)
        .flat_map(|s| [format!("socket-{s}.kcap"), format!("socket-{s}.g1.kcap")])
        .collect();
    assert_eq!(
        names, expected,
        "the journal's files after a {outage:?} outage"
    );
    drop(volume);
    let url = format!("sqlite://{}", dir.path().join("ticks.db").display());
    let mut store = Store::open(&StorageUrl::parse(&url).unwrap()).unwrap();
    let gaps = storage::gaps(store.conn(), today()).unwrap();
    let failed: HashSet<i16> = gaps
        .iter()
        .filter(|g| g.cause == "journal_write_failed" && g.end_us > g.start_us)
        .map(|g| g.socket)
        .collect();
    assert_eq!(
        failed,
        HashSet::from([1, 2, 3]),
        "a gap per socket: {gaps:?}"
    );
}

#[actix_rt::test]
async fn a_deleted_sqlite_database_is_noticed_and_rebuilt_from_the_journals() {
    // Finding 6.
    let mut bench = Bench::new("");
    let run = bench.start(&[]).await;
    bench.stream(300).await;
    let db = bench.dir.path().join("ticks.db");
    // As an operator would: the main file only (its -wal and -shm stay behind).
    std::fs::remove_file(&db).unwrap();
    until("the database to be rebuilt", 30, async || db.exists()).await;
    bench.stream(300).await;
    assert_eq!(bench.stop(run, "TERM").await, Some(0));
    let persister = last_status(&bench, "persister");
    assert_eq!(persister["database_rebuilds"], 1, "{persister}");
    // Every tick journaled before and after the deletion is in the new database, the gaps
    // and the instrument snapshot too.
    let url = format!("sqlite://{}", db.display());
    let mut store = Store::open(&StorageUrl::parse(&url).unwrap()).unwrap();
    let symbols = storage::eod::instrument_symbols(store.conn(), today()).unwrap();
    assert!(!symbols.is_empty(), "the snapshot is restored");
    drop(store);
    bench.verify(&[]).await;
}

/// An actor's entry in the status report the last run left.
fn last_status(bench: &Bench, actor: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(bench.dir.path().join("data/status.json")).unwrap();
    actor_in(&serde_json::from_str(&text).unwrap(), actor)
}

/// An actor's entry in a status report.
fn actor_in(status: &serde_json::Value, actor: &str) -> serde_json::Value {
    status["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == actor)
        .cloned()
        .unwrap_or_else(|| panic!("no {actor} in {status}"))
}

#[actix_rt::test]
async fn a_restart_keeps_the_days_plan_and_every_row_keeps_its_symbol() {
    // Finding 8.
    let mut bench = Bench::new("");
    bench.run_and_stop(200).await;
    assert_eq!(last_status(&bench, "instruments")["plan"], "resolved");
    assert!(journal_of(bench.dir.path()).join("plan.json").exists());

    // The same day, the same settings: the plan as first resolved.
    bench.run_and_stop(200).await;
    assert_eq!(last_status(&bench, "instruments")["plan"], "saved");

    // The universe changed: resolved again; the day's snapshot keeps both plans' instruments.
    let text = std::fs::read_to_string(&bench.cfg).unwrap().replace(
        r#"equities = ["RELIANCE", "INFY", "TCS", "SBIN"]"#,
        r#"equities = ["HDFCBANK", "ICICIBANK", "ITC"]"#,
    );
    std::fs::write(&bench.cfg, text).unwrap();
    bench.run_and_stop(200).await;
    assert_eq!(last_status(&bench, "instruments")["plan"], "resolved");

    let url = format!("sqlite://{}", bench.dir.path().join("ticks.db").display());
    let mut store = Store::open(&StorageUrl::parse(&url).unwrap()).unwrap();
    let symbols = storage::eod::instrument_symbols(store.conn(), today()).unwrap();
    let stored = storage::rows_per_token(store.conn(), today()).unwrap();
    let nameless: Vec<&u32> = stored.keys().filter(|t| !symbols.contains_key(t)).collect();
    assert!(nameless.is_empty(), "rows without a symbol: {nameless:?}");
    for symbol in ["RELIANCE", "HDFCBANK"] {
        assert!(
            symbols.values().any(|s| s == symbol),
            "{symbol} in {symbols:?}"
        );
    }
    drop(store);
    bench.verify(&["stopped"]).await;
}
