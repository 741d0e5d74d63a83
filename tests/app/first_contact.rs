//! The first hour with tickvault: the default build needs no MySQL client library, the example
//! configurations load and resolve against the simulator, `tickvault check` names what is
//! wrong, `tickvault config` never shows a secret, `login --fresh` proves the credentials, the
//! command line reads in the order people use it, and timestamps are IST everywhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use actix::Actor;
use chrono::Datelike;
use serde_json::Value;
use tickvault::actors::auth::Auth;
use tickvault::actors::instruments::Instruments;
use tickvault::actors::instruments::handlers::Resolve;
use tickvault::plan::{Planned, SubscriptionPlan};
use tickvault::settings::{Settings, Sources};
use tickvault::sim::SimHandle;

use crate::helpers::{free_port, spawn_sim_today, stderr, tickvault, today};
use crate::ops::{SMTP_PASSWORD, SMTP_USER, Smtp};
use crate::tls::Certs;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Every string in `v` that is a timestamp is RFC 3339 in IST to the millisecond.
pub fn assert_ist_millis(v: &Value) {
    match v {
        Value::String(s) => {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                assert_eq!(t.offset().local_minus_utc(), 19_800, "not IST: {s}");
                let fraction = s.split_once('.').map(|(_, f)| f.len() - "+05:30".len());
                assert_eq!(fraction, Some(3), "not to the millisecond: {s}");
            }
        }
        Value::Array(items) => items.iter().for_each(assert_ist_millis),
        Value::Object(map) => map.values().for_each(assert_ist_millis),
        _ => {}
    }
}

/// Runs a command off the test's runtime thread (the simulator serves on it).
async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("the command runs"))
        .await
        .unwrap()
}

// --- the default build ----------------------------------------------------------------------

/// `cargo tree` of the normal and build dependencies with `features` (`None`: the defaults).
fn dependency_tree(features: Option<&str>) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "tree",
        "--locked",
        "--offline",
        "-e",
        "normal,build",
        "--prefix",
        "none",
    ]);
    if let Some(f) = features {
        cmd.args(["--features", f]);
    }
    let out = cmd.output().expect("cargo tree");
    assert!(out.status.success(), "cargo tree: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_default_build_does_not_depend_on_the_mysql_client_library() {
    let has = |tree: &str, name: &str| tree.lines().any(|l| l.starts_with(&format!("{name} v")));
    let default = dependency_tree(None);
    assert!(has(&default, "libsqlite3-sys"), "SQLite is in: {default}");
    assert!(!has(&default, "mysqlclient-sys"), "{default}");
    let with_mysql = dependency_tree(Some("mysql"));
    assert!(has(&with_mysql, "mysqlclient-sys"), "the feature brings it");
}

/// The binary built with the default features: `TICKVAULT_DEFAULT_BIN` (tests/run builds it
/// beside the test build), else built here into a target directory of its own.
fn default_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TICKVAULT_DEFAULT_BIN") {
        return PathBuf::from(path);
    }
    let target = repo("target/default-features");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--locked", "--bin", "tickvault", "--target-dir"])
        .arg(&target)
        .output()
        .expect("cargo build");
    assert!(out.status.success(), "{}", stderr(&out));
    target.join("debug/tickvault")
}

fn linked_libraries(binary: &Path) -> String {
    let out = Command::new("ldd").arg(binary).output().expect("ldd");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_default_build_links_no_mariadb_and_refuses_a_mysql_url_naming_the_feature() {
    let binary = default_binary();
    let libs = linked_libraries(&binary);
    assert!(libs.contains("libc.so"), "ldd works: {libs}");
    assert!(
        !libs.contains("libmariadb") && !libs.contains("libmysqlclient"),
        "{libs}"
    );
    if cfg!(feature = "mysql") {
        let full = linked_libraries(Path::new(env!("CARGO_BIN_EXE_tickvault")));
        assert!(
            full.contains("libmariadb"),
            "the mysql build links it: {full}"
        );
    }
    let out = Command::new(&binary)
        .arg("instruments")
        .env("TICKVAULT__STORAGE__URL", "mysql://tv@127.0.0.1:3306/ticks")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("`storage.url`"), "{err}");
    assert!(err.contains("--features mysql"), "{err}");
    assert!(err.contains("libmariadb-dev"), "{err}");
}

// --- the example configurations ----------------------------------------------------------------

/// The simulator's credentials as systemd credentials of app `main` (and the other secrets the
/// examples name), in a directory of their own.
fn credentials(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let creds = dir.join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    for (name, value) in [
        ("apps.main.api_secret", "sim_api_secret"),
        ("apps.main.password", "sim-password"),
        ("apps.main.totp_secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
        ("storage.password", "db-password-for-tests"),
        ("notify.password", "smtp-password-for-tests"),
    ] {
        let path = creds.join(name);
        std::fs::write(&path, value).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    creds
}

/// What an operator changes to run an example here: the simulator's app id, Kite's roots at the
/// simulator, the paths under `dir`, NSE's list from beside the examples.
fn example_overrides(sim: Option<&SimHandle>, dir: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        ("TICKVAULT__APPS__MAIN__API_KEY", "sim_api_key".to_string()),
        ("TICKVAULT__APPS__MAIN__USER_ID", "SIM001".to_string()),
        (
            "TICKVAULT__PATHS__DATA_DIR",
            dir.join("data").display().to_string(),
        ),
        (
            "TICKVAULT__PATHS__STATE_DIR",
            dir.join("state").display().to_string(),
        ),
    ];
    if let Some(sim) = sim {
        env.push(("TICKVAULT__KITE__API_ROOT", sim.http_url()));
        env.push(("TICKVAULT__KITE__LOGIN_ROOT", sim.http_url()));
        env.push(("TICKVAULT__KITE__WS_ROOT", sim.ws_url()));
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// An example as an operator would run it here. With a simulator, the database is a SQLite file
/// under `dir` (the universe is what is resolved; the MySQL URL is loaded in its own test).
fn load_example(name: &str, sim: Option<&SimHandle>, dir: &Path) -> Settings {
    let file = repo(&format!("config/examples/{name}"));
    let mut env = example_overrides(sim, dir);
    if name == "options-desk.toml" {
        // NSE's list, from beside the examples rather than /etc/tickvault.
        env.push((
            "TICKVAULT__UNIVERSE__EQUITIES_FILE".into(),
            repo("config/examples/ind_nifty200list.csv")
                .display()
                .to_string(),
        ));
    }
    if sim.is_some() {
        env.push((
            "TICKVAULT__STORAGE__URL".into(),
            format!("sqlite://{}", dir.join("ticks.db").display()),
        ));
    }
    Settings::load(&Sources {
        preset: None,
        file: Some(&file),
        env: env.into_iter().collect(),
        credentials_dir: Some(credentials(dir)),
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn both_example_configurations_load() {
    let dir = tempfile::tempdir().unwrap();
    let stream = load_example("stream-to-sqlite.toml", None, dir.path());
    assert!(stream.redis.enabled);
    assert!(stream.storage.url.starts_with("sqlite://"));
    assert!(
        stream.warnings.iter().any(|w| w.key == "storage.password"),
        "the MySQL password the test's credentials hold is a leftover here, not a refusal"
    );
    if cfg!(feature = "mysql") {
        let desk = load_example("options-desk.toml", None, dir.path());
        assert!(desk.storage.url.starts_with("mysql://tickvault:"));
        assert!(desk.notify.enabled && desk.notify.password.is_some());
        let list = desk.universe.equities_file.as_ref().unwrap();
        assert_eq!(
            list.symbols.len(),
            200,
            "NSE's list read by its Symbol column"
        );
        assert!(
            list.symbols.iter().any(|s| s == "M&M") && list.symbols.iter().any(|s| s == "GVT&D")
        );
        assert!(desk.warnings.is_empty(), "{:?}", desk.warnings);
    }
}

/// The plan `settings` resolve to against the simulator.
async fn resolve(settings: &Settings) -> SubscriptionPlan {
    let board = tickvault::status::StatusBoard::new();
    let auth = Auth::from_settings(
        settings,
        tickvault::clock::system(),
        board.handle(tickvault::status::Actor::Auth),
    )
    .start();
    let instruments = Instruments::from_settings(
        settings,
        auth,
        board.handle(tickvault::status::Actor::Instruments),
    )
    .start();
    instruments
        .send(Resolve { date: today() })
        .await
        .unwrap()
        .expect("the universe resolves")
}

/// Option expiries and strike counts per underlying: name → [(expiry, strikes)].
fn chains(
    plan: &SubscriptionPlan,
) -> std::collections::BTreeMap<String, Vec<(chrono::NaiveDate, usize)>> {
    let mut out: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<chrono::NaiveDate, (usize, usize)>,
    > = Default::default();
    for p in plan.instruments.iter().filter(|p| p.group == "option") {
        let e = out
            .entry(p.row.name.clone())
            .or_default()
            .entry(p.row.expiry.unwrap())
            .or_default();
        match p.row.instrument_type.as_str() {
            "CE" => e.0 += 1,
            _ => e.1 += 1,
        }
    }
    out.into_iter()
        .map(|(name, expiries)| {
            let list = expiries
                .into_iter()
                .map(|(d, (calls, puts))| {
                    assert_eq!(calls, puts, "{name} {d}: a put for every call");
                    (d, calls)
                })
                .collect();
            (name, list)
        })
        .collect()
}

#[actix_rt::test]
async fn the_options_desk_resolves_to_its_chains_and_the_stream_example_to_its_universe() {
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    let desk = load_example("options-desk.toml", Some(&sim), dir.path());
    let plan = resolve(&desk).await;
    let group =
        |g: &str| -> Vec<&Planned> { plan.instruments.iter().filter(|p| p.group == g).collect() };
    assert_eq!(group("index").len(), 6);
    assert_eq!(
        group("equity").len(),
        200,
        "every NIFTY 200 symbol: {:?}",
        plan.unknown
    );
    assert!(plan.unknown.is_empty(), "{:?}", plan.unknown);

    // The dump's own expiries: the nearest weekly and monthly of NIFTY, BANKNIFTY's monthly.
    let dump = tickvault::sim::universe::Universe::generate(
        today(),
        1,
        &tickvault::calendar::TradingCalendar::nse(),
    );
    let expiries = |name: &str| -> std::collections::BTreeSet<chrono::NaiveDate> {
        dump.instruments
            .iter()
            .filter(|i| i.name == name && i.instrument_type == "CE")
            .filter_map(|i| i.expiry)
            .filter(|e| *e >= today())
            .collect()
    };
    let monthly_of = |set: &std::collections::BTreeSet<chrono::NaiveDate>| {
        let mut last = std::collections::BTreeMap::new();
        for e in set {
            last.insert((e.year(), e.month()), *e);
        }
        last.into_values()
            .collect::<std::collections::BTreeSet<_>>()
    };
    let nifty = expiries("NIFTY");
    let nifty_monthly = *monthly_of(&nifty).iter().next().unwrap();
    let nifty_weekly = *nifty
        .iter()
        .find(|e| !monthly_of(&nifty).contains(e))
        .unwrap();
    let bank_monthly = *monthly_of(&expiries("BANKNIFTY")).iter().next().unwrap();
    let mut want_nifty = vec![(nifty_weekly, 41), (nifty_monthly, 41)];
    want_nifty.sort();

    let chains = chains(&plan);
    assert_eq!(chains["NIFTY"], want_nifty);
    assert_eq!(chains["BANKNIFTY"], vec![(bank_monthly, 41)]);
    for stock in ["RELIANCE", "HDFCBANK", "ICICIBANK", "INFY", "M&M"] {
        let c = &chains[stock];
        assert_eq!(c.len(), 1, "{stock}: the nearest monthly only");
        assert_eq!(c[0].1, 21, "{stock}: 10 strikes each side of its price");
    }
    assert_eq!(chains.len(), 7, "no other chain: {:?}", chains.keys());
    let futures: Vec<(String, chrono::NaiveDate)> = group("future")
        .iter()
        .map(|p| (p.row.name.clone(), p.row.expiry.unwrap()))
        .collect();
    assert_eq!(
        futures.len(),
        2,
        "the current month's future of each: {futures:?}"
    );

    let stream = load_example("stream-to-sqlite.toml", Some(&sim), dir.path());
    let plan = resolve(&stream).await;
    assert_eq!(group_len(&plan, "equity"), 15);
    assert_eq!(group_len(&plan, "index"), 4);
    let chains = self::chains(&plan);
    assert_eq!(
        chains["NIFTY"],
        vec![(nifty_weekly, 21)],
        "the nearest weekly, 10 each side"
    );
    sim.stop().await;
}

fn group_len(plan: &SubscriptionPlan, group: &str) -> usize {
    plan.instruments.iter().filter(|p| p.group == group).count()
}

#[test]
fn an_equities_file_that_resolves_nothing_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("mine.csv");
    std::fs::write(
        &list,
        "Company Name,Industry,Symbol,Series,ISIN Code\nNo Such Ltd.,X,NOSUCH,EQ,INE000000000\n",
    )
    .unwrap();
    let universe = {
        let mut u = Settings::load(&Sources::default()).unwrap().universe;
        u.equities_file = Some(
            tickvault::settings::universe::read_equity_list(&list.display().to_string()).unwrap(),
        );
        u
    };
    let dump = tickvault::sim::universe::Universe::generate(
        today(),
        1,
        &tickvault::calendar::TradingCalendar::nse(),
    );
    let rows = tickvault::plan::parse_dump(&dump.csv(None, |_| 100.0)).unwrap();
    let spots = std::collections::HashMap::from([("NSE:NIFTY 50".to_string(), 26_000.0)]);
    let err = tickvault::plan::resolve_instruments(&universe, &rows, today(), &spots).unwrap_err();
    assert_eq!(err.setting(), Some("universe.equities_file"));
    assert!(err.to_string().contains("mine.csv"), "{err}");

    // A file with no symbol at all stops at start-up, naming the key.
    std::fs::write(&list, "# nothing yet\n\n").unwrap();
    let out = tickvault()
        .arg("config")
        .env("TICKVAULT__UNIVERSE__EQUITIES_FILE", &list)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("universe.equities_file"),
        "{}",
        stderr(&out)
    );
}

// --- tickvault check ---------------------------------------------------------------------------

/// A holiday file covering this year and the next (so the checks pass in December too).
fn holidays_through_next_year(dir: &Path) -> PathBuf {
    let next = today().year() + 1;
    let text = format!(
        "{}\n[{next}]\n\"{next}-01-26\" = \"Republic Day\"\n",
        tickvault::calendar::NSE_HOLIDAYS_TOML
    );
    let path = dir.join("nse.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A settings file for `check` against `sim`: SQLite under `dir`, the small universe, the
/// holiday file through next year; `extra` appended.
fn check_config(sim: &SimHandle, dir: &Path, extra: &str) -> PathBuf {
    let holidays = holidays_through_next_year(dir);
    crate::helpers::service_config(
        sim,
        dir,
        &format!(
            "[schedule]\nholidays_file = \"{}\"\n{extra}",
            holidays.display()
        ),
    )
}

async fn check(config: &Path, args: &[&str]) -> (i32, Value, String) {
    check_env(config, args, &[]).await
}

async fn check_env(config: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    let mut cmd = tickvault();
    cmd.args(["check", "--json", "--config"])
        .arg(config)
        .args(args)
        .envs(env.iter().copied());
    let out = output(cmd).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("check --json prints JSON ({e}): {text}\n{}", stderr(&out)));
    (
        out.status.code().unwrap_or(-1),
        report,
        text + &stderr(&out),
    )
}

/// `item`'s status and problem in a check report.
fn item<'a>(report: &'a Value, name: &str) -> (&'a str, &'a str) {
    let item = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == name)
        .unwrap_or_else(|| panic!("no item {name}: {report}"));
    (
        item["status"].as_str().unwrap(),
        item["problem"].as_str().unwrap_or(""),
    )
}

#[actix_rt::test]
async fn check_passes_every_item_against_the_simulator_redis_and_an_smtp_server() {
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::new();
    let smtp = Smtp::start(&certs).await;
    let config = check_config(
        &sim,
        dir.path(),
        &format!(
            "[redis]\nenabled = true\nurl = \"redis://127.0.0.1:6379/0\"\n[notify]\nenabled = true\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nusername = \"{SMTP_USER}\"\npassword = \"{SMTP_PASSWORD}\"\nca_file = \"{}\"\nto = [\"ops@example.test\"]\ndisk_free_min_gib = 0\n",
            smtp.port,
            certs.path("ca.pem").display()
        ),
    );
    let (code, report, text) = check(&config, &[]).await;
    assert_eq!(code, 0, "{text}");
    assert_eq!(report["ok"], true);
    let names: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "settings",
            "data_dir",
            "state_dir",
            "holidays",
            "database",
            "redis",
            "smtp",
            "login.sim",
            "instruments",
            "clock"
        ]
    );
    for name in names {
        assert_eq!(item(&report, name).0, "pass", "{name}: {text}");
    }
    for secret in ["sim-password", "sim_api_secret", "JBSWY3DP", SMTP_PASSWORD] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // The check changed nothing: no database file, no token cache.
    assert!(!dir.path().join("ticks.db").exists());
    assert!(!dir.path().join("state/tokens").exists());

    // The human form: a line per item, none over 100 columns.
    let mut cmd = tickvault();
    cmd.args(["check", "--config"]).arg(&config);
    let out = output(cmd).await;
    let human = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{human}");
    assert_eq!(
        human.lines().filter(|l| l.starts_with('✔')).count(),
        10,
        "{human}"
    );
    assert!(human.lines().all(|l| l.chars().count() <= 100), "{human}");
    sim.stop().await;
}

/// Runs `check` with `extra` settings and `env` overrides; returns the exit status and report.
async fn check_with(extra: &str, env: &[(&str, &str)]) -> (i32, Value, String) {
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    let config = check_config(&sim, dir.path(), extra);
    let result = check_env(&config, &[], env).await;
    sim.stop().await;
    result
}

#[actix_rt::test]
async fn check_names_a_wrong_password() {
    let (code, report, text) = check_with(
        "",
        &[("TICKVAULT__APPS__SIM__PASSWORD", "not-the-password")],
    )
    .await;
    assert_eq!(
        item(&report, "login.sim"),
        ("fail", "password_refused"),
        "{text}"
    );
    assert_eq!(item(&report, "instruments").0, "skip");
    assert_eq!(code, 78);
    assert!(!text.contains("not-the-password"), "{text}");
}

#[actix_rt::test]
async fn check_names_a_wrong_totp_secret() {
    let (code, report, text) = check_with(
        "",
        &[(
            "TICKVAULT__APPS__SIM__TOTP_SECRET",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        )],
    )
    .await;
    assert_eq!(
        item(&report, "login.sim"),
        ("fail", "totp_refused"),
        "{text}"
    );
    assert_eq!(code, 78);
    assert!(!text.contains("GEZDGNBV"), "{text}");
}

#[actix_rt::test]
async fn check_names_a_database_that_refuses() {
    let dir = tempfile::tempdir().unwrap();
    // A file that is not a SQLite database.
    let db = dir.path().join("text.db");
    std::fs::write(
        &db,
        "this is not a SQLite database, not even close; it is text\n".repeat(100),
    )
    .unwrap();
    let url = format!("sqlite://{}", db.display());
    let (code, report, text) = check_with("", &[("TICKVAULT__STORAGE__URL", &url)]).await;
    assert_eq!(
        item(&report, "database"),
        ("fail", "database_unusable"),
        "{text}"
    );
    assert_eq!(code, 78);
    if cfg!(feature = "mysql") {
        // A MariaDB server that is not there.
        let port = free_port();
        let url = format!("mysql://tv:pw@127.0.0.1:{port}/ticks");
        let (code, report, text) = check_with("", &[("TICKVAULT__STORAGE__URL", &url)]).await;
        assert_eq!(
            item(&report, "database"),
            ("fail", "database_unreachable"),
            "{text}"
        );
        assert_eq!(code, 69);
        assert!(!text.contains("tv:pw"), "{text}");
        // The test server, with a password it refuses: the settings' to fix.
        let server = std::env::var("TICKVAULT_TEST_MYSQL")
            .unwrap_or_else(|_| "mysql://tickvault_test:tickvault_test@127.0.0.1:3306".into());
        let host = server
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or("127.0.0.1:3306");
        let url = format!("mysql://tickvault_test:wrong-password@{host}/tickvault_test_none");
        let (code, report, text) = check_with("", &[("TICKVAULT__STORAGE__URL", &url)]).await;
        assert_eq!(
            item(&report, "database"),
            ("fail", "database_login_refused"),
            "{text}"
        );
        assert_eq!(code, 78);
        assert!(!text.contains("wrong-password"), "{text}");
    }
}

#[actix_rt::test]
async fn check_names_redis_down() {
    let port = free_port();
    let (code, report, text) = check_with(
        &format!("[redis]\nenabled = true\nurl = \"redis://127.0.0.1:{port}/0\"\n"),
        &[],
    )
    .await;
    assert_eq!(
        item(&report, "redis"),
        ("fail", "redis_unreachable"),
        "{text}"
    );
    assert_eq!(code, 69, "a server down is not a settings error");
}

#[actix_rt::test]
async fn check_names_next_years_holidays_missing_in_december() {
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    // This year's list only (the compiled-in file's current year).
    let year = today().year();
    let path = dir.path().join("nse.toml");
    std::fs::write(
        &path,
        format!("[{year}]\n\"{year}-01-26\" = \"Republic Day\"\n"),
    )
    .unwrap();
    let config = crate::helpers::service_config(
        &sim,
        dir.path(),
        &format!("[schedule]\nholidays_file = \"{}\"\n", path.display()),
    );
    let november = format!("{year}-11-30");
    let december = format!("{year}-12-01");
    let (_, report, text) = check(&config, &["--as-of", &november]).await;
    assert_eq!(item(&report, "holidays").0, "pass", "{text}");
    let (code, report, text) = check(&config, &["--as-of", &december]).await;
    assert_eq!(
        item(&report, "holidays"),
        ("fail", "holidays_missing_next_year"),
        "{text}"
    );
    assert_eq!(code, 78);
    sim.stop().await;
}

#[test]
fn check_reports_settings_that_do_not_load_as_an_item() {
    let out = tickvault()
        .args(["check", "--json"])
        .env("TICKVAULT__SOCKETS__PER_APP", "7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(item(&report, "settings"), ("fail", "invalid_setting"));
}

// --- login --fresh ---------------------------------------------------------------------------

#[actix_rt::test]
async fn login_fresh_tries_the_password_even_with_a_cached_token() {
    let sim = spawn_sim_today(None);
    let dir = tempfile::tempdir().unwrap();
    let good = crate::helpers::service_config(&sim, dir.path(), "");
    let mut cmd = tickvault();
    cmd.args(["login", "--config"]).arg(&good);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.path().join("state/tokens/sim.json").exists());

    let wrong = |fresh: bool| {
        let mut cmd = tickvault();
        cmd.arg("login")
            .args(fresh.then_some("--fresh"))
            .arg("--config")
            .arg(&good);
        cmd.env("TICKVAULT__APPS__SIM__PASSWORD", "not-the-password");
        cmd
    };
    let cached = output(wrong(false)).await;
    assert_eq!(
        cached.status.code(),
        Some(0),
        "today's token is reused: {}",
        stderr(&cached)
    );
    let fresh = output(wrong(true)).await;
    assert_eq!(fresh.status.code(), Some(78), "{}", stderr(&fresh));
    assert!(
        stderr(&fresh).contains("`apps.sim.password`"),
        "{}",
        stderr(&fresh)
    );
    assert!(!stderr(&fresh).contains("not-the-password"));
    // A refused API secret is named as such, at once (no retries).
    let mut cmd = tickvault();
    cmd.args(["login", "--fresh", "--config"]).arg(&good);
    cmd.env("TICKVAULT__APPS__SIM__API_SECRET", "not-the-secret");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`apps.sim.api_secret`"),
        "{}",
        stderr(&out)
    );
    sim.stop().await;
}

// --- tickvault config --------------------------------------------------------------------------

/// The secrets `config` must never show, by settings key.
const SECRETS: [(&str, &str); 6] = [
    ("apps.main.api_secret", "api-secret-VALUE-1"),
    ("apps.main.password", "password-VALUE-2"),
    ("apps.main.totp_secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
    ("storage.password", "db-password-VALUE-4"),
    ("redis.password", "redis-password-VALUE-5"),
    ("notify.password", "smtp-password-VALUE-6"),
];

#[test]
fn config_never_prints_a_secret_however_it_is_given() {
    use std::os::unix::fs::PermissionsExt;
    let storage = if cfg!(feature = "mysql") {
        "mysql://tv@127.0.0.1:3306/ticks"
    } else {
        "sqlite://ticks.db"
    };
    // Inline in the file or in a TICKVAULT__ variable, a `*_file` key, a systemd credential.
    for way in ["inline", "environment", "file", "credential"] {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        let mut env: Vec<(String, String)> = Vec::new();
        let mut lines: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        lines.insert(
            "apps.main",
            vec!["api_key = \"k\"".into(), "user_id = \"AB1234\"".into()],
        );
        lines.insert("storage", vec![format!("url = \"{storage}\"")]);
        lines.insert(
            "notify",
            [
                "enabled = true",
                "smtp_host = \"smtp.example.com\"",
                "username = \"u\"",
                "to = [\"a@example.com\"]",
            ]
            .map(String::from)
            .to_vec(),
        );
        for (key, value) in SECRETS {
            let (table, leaf) = key.rsplit_once('.').unwrap();
            match way {
                "inline" => lines
                    .entry(table)
                    .or_default()
                    .push(format!("{leaf} = \"{value}\"")),
                "environment" => env.push((
                    format!("TICKVAULT__{}", key.replace('.', "__").to_uppercase()),
                    value.to_string(),
                )),
                "file" => {
                    let path = dir.path().join(key);
                    std::fs::write(&path, value).unwrap();
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                        .unwrap();
                    lines
                        .entry(table)
                        .or_default()
                        .push(format!("{leaf}_file = \"{}\"", path.display()));
                }
                _ => {
                    let path = creds.join(key);
                    std::fs::write(&path, value).unwrap();
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                        .unwrap();
                }
            }
        }
        let mut toml = String::new();
        for (table, keys) in lines {
            toml += &format!("[{table}]\n{}\n", keys.join("\n"));
        }
        let file = dir.path().join("t.toml");
        std::fs::write(&file, &toml).unwrap();
        let out = tickvault()
            .args(["config", "--config"])
            .arg(&file)
            .env("CREDENTIALS_DIRECTORY", &creds)
            .envs(env)
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{way}: {text}");
        for (_, value) in SECRETS {
            assert!(!text.contains(value), "{way}: {value} printed:\n{text}");
        }
        let body: String = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let shown: toml::Table = body
            .parse()
            .unwrap_or_else(|e| panic!("{way}: TOML ({e}):\n{body}"));
        for (key, _) in SECRETS {
            let (table, leaf) = key.rsplit_once('.').unwrap();
            let mut t = &shown;
            for part in table.split('.') {
                t = t[part].as_table().unwrap();
            }
            let value = t[leaf].as_str().unwrap();
            let expected = match way {
                "inline" | "environment" => "<set: inline>".to_string(),
                "file" => format!("<set: file {}>", dir.path().join(key).display()),
                _ => format!("<set: credential {key}>"),
            };
            assert_eq!(value, expected, "{way} {key}");
        }
    }
}

#[test]
fn config_hides_the_value_of_any_key_it_does_not_know() {
    // Misspelt secret keys (in the file, in a variable, in an array of tables), a password in
    // the database URL, the simulator's own secrets: none of their values is printed.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        "[apps.main]\napi_key = \"k\"\nuser_id = \"AB1234\"\npasswrod = \"typo-VALUE-1\"\n\
         pin = 918273\n[storage]\nurl = \"mysql://tv:url-VALUE-2@db:3306/ticks\"\n\
         [[extra]]\npassword = \"array-VALUE-3\"\n[sim.users.default]\npassword = \"sim-VALUE-4\"\n",
    )
    .unwrap();
    let out = tickvault()
        .args(["config", "--config"])
        .arg(&file)
        .env("TICKVAULT__NOTIFY__SMTP_PASWORD", "env-VALUE-5")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(
        out.status.code(),
        Some(78),
        "unknown keys do not validate: {text}"
    );
    for value in [
        "typo-VALUE-1",
        "918273",
        "url-VALUE-2",
        "array-VALUE-3",
        "sim-VALUE-4",
        "env-VALUE-5",
    ] {
        assert!(!text.contains(value), "{value} printed:\n{text}");
    }
    let body: String = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let shown: toml::Table = body.parse().unwrap();
    let hidden = tickvault::settings::show::HIDDEN;
    assert_eq!(shown["apps"]["main"]["passwrod"].as_str(), Some(hidden));
    assert_eq!(shown["notify"]["smtp_pasword"].as_str(), Some(hidden));
    assert_eq!(shown["extra"].as_str(), Some(hidden));
    assert_eq!(
        shown["storage"]["password"].as_str(),
        Some("<set: in storage.url>")
    );
    assert_eq!(
        shown["sim"]["users"]["default"]["password"].as_str(),
        Some("<set: inline>")
    );
}

// --- the command line --------------------------------------------------------------------------

#[test]
fn help_lists_the_commands_in_the_order_people_use_them() {
    let out = tickvault().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in help.lines() {
        assert!(line.chars().count() <= 100, "{line}");
    }
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        [
            "run",
            "status",
            "check",
            "eod",
            "replay",
            "export",
            "login",
            "instruments",
            "config",
            "decode",
            "sim",
            "demo",
            "help"
        ]
    );
}

#[test]
fn demo_lines_fit_a_hundred_columns() {
    let dir = tempfile::tempdir().unwrap();
    let out = tickvault()
        .args(["demo", "--duration", "4s"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("nothing lost"), "{text}");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
}
