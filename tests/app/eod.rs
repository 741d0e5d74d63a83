//! The end of day and replay on both backends, on hand-built data: dedupe modes, a run killed
//! between (and inside) each step and run again, retention, and replaying a journal twice.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
#[cfg(feature = "test-hooks")]
use tickvault::eod::FailPoint;
use tickvault::eod::{EodError, EodOptions, EodReport, Step, run_eod};
use tickvault::kite::{Level, PacketKind, Tick};
use tickvault::on_backend;
use tickvault::settings::pipeline::EodSettings;
use tickvault::storage::eod::{Dedupe, run_statuses};
use tickvault::storage::models::{NewGap, NewInstrument, NewTick};
use tickvault::storage::schema::{daily_ticks, ticks};
use tickvault::storage::{self, StorageUrl, Store};

use crate::helpers::{Backend, TestStore, fixture, run, stderr, test_store, tickvault};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn full(token: u32, exchange_time: u32, price: u32, volume: u32) -> Tick {
    let mut t = Tick::new(PacketKind::Full, token);
    t.last_price = price;
    t.exchange_timestamp = exchange_time;
    t.last_trade_time = exchange_time;
    t.volume_traded = volume;
    t.depth.buy[0] = Level {
        quantity: 10,
        price: price - 5,
        orders: 1,
    };
    t
}

/// Rows for three instruments over a few seconds, with known duplicates:
/// - 408065: 6 ticks in seconds 100..=102 (2 per second), the tick at 101 sent twice more (a
///   resent snapshot: exact duplicates) → exact keeps 6, per_second keeps 3;
/// - 738561: 4 ticks, one second each, no duplicate;
/// - 256265 (ltp mode, no exchange time): 3 identical ticks → exact keeps 3, per_second keeps
///   one per receive second.
fn sample_rows() -> Vec<NewTick> {
    let mut rows = Vec::new();
    let mut seq = 0;
    let mut push = |rows: &mut Vec<NewTick>, socket: i16, recv: i64, t: &Tick| {
        seq += 1;
        rows.push(NewTick::new(day(), socket, seq << 16, recv, t));
    };
    let a = [
        full(408_065, 100, 1000, 1),
        full(408_065, 100, 1005, 2),
        full(408_065, 101, 1010, 3),
        full(408_065, 101, 1015, 4),
        full(408_065, 102, 1020, 5),
        full(408_065, 102, 1025, 6),
    ];
    for (i, t) in a.iter().enumerate() {
        push(&mut rows, 1, 100_000_000 + i as i64 * 400_000, t);
    }
    // The tick of second 101 again, twice, on another socket (a resent snapshot).
    push(&mut rows, 2, 103_000_000, &a[3]);
    push(&mut rows, 2, 103_500_000, &a[3]);
    for s in 0..4 {
        push(
            &mut rows,
            1,
            100_000_000 + s * 1_000_000,
            &full(738_561, 100 + s as u32, 2000 + s as u32, 10 + s as u32),
        );
    }
    let mut ltp = Tick::new(PacketKind::Ltp, 256_265);
    ltp.last_price = 2_614_570;
    for r in [100_000_000, 100_300_000, 101_200_000] {
        push(&mut rows, 3, r, &ltp);
    }
    rows
}

fn load(store: &mut Store, rows: &[NewTick]) {
    storage::commit_batch(store, rows, &[]).unwrap();
    let instrument = |token: i64, symbol: &str| NewInstrument {
        trade_date: day(),
        instrument_token: token,
        tradingsymbol: symbol.into(),
        name: symbol.into(),
        expiry: None,
        strike: 0.0,
        instrument_type: "EQ".into(),
        segment: "NSE".into(),
        exchange: "NSE".into(),
        lot_size: 1,
        tick_size: 0.05,
        socket: Some(1),
        mode: Some("full".into()),
    };
    storage::save_instruments(
        store.conn(),
        day(),
        &[
            instrument(408_065, "NIFTY26NOVFUT"),
            instrument(738_561, "RELIANCE"),
            instrument(256_265, "NIFTY 50"),
            instrument(5_633, "SILENT"),
        ],
    )
    .unwrap();
    storage::record_gap(
        store.conn(),
        &NewGap {
            trade_date: day(),
            socket: 2,
            start_us: 0,
            end_us: 90_000_000,
            cause: "remote_closed".into(),
            instruments: 3000,
        },
    )
    .unwrap();
}

/// The end of day of `day()` on `t`, with `dedupe`, no fail point.
fn eod_of(t: &mut TestStore, dedupe: Dedupe) -> Result<EodReport, EodError> {
    run_eod(
        &mut t.store,
        t.dir.path(),
        day(),
        options(dedupe),
        &mut |_| {},
    )
}

fn options(dedupe: Dedupe) -> EodOptions {
    let mut opts = EodOptions::new(
        EodSettings {
            dedupe,
            min_rows: 5,
        },
        0,
    );
    // Small chunks: the three instruments are three chunks, so a kill can land inside a step.
    opts.chunk_rows = 5;
    opts
}

/// The master's rows of the date: (token, socket, seq, last_price, recv_time_us).
fn master(store: &mut Store) -> Vec<(i64, i16, i64, i64, i64)> {
    on_backend!(store.conn(), c => ticks::table
        .filter(ticks::trade_date.eq(day()))
        .order((ticks::instrument_token, ticks::socket, ticks::seq))
        .select((ticks::instrument_token, ticks::socket, ticks::seq, ticks::last_price, ticks::recv_time_us))
        .load(c))
    .unwrap()
}

fn daily_count(store: &mut Store) -> i64 {
    on_backend!(store.conn(), c => daily_ticks::table.count().get_result(c)).unwrap()
}

fn per_token(rows: &[(i64, i16, i64, i64, i64)]) -> BTreeMap<i64, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.0).or_default() += 1;
    }
    m
}

fn dedupe_modes_on(backend: Backend) {
    let expected = [
        (Dedupe::Exact, [(256_265, 3), (408_065, 6), (738_561, 4)], 2),
        (
            Dedupe::PerSecond,
            [(256_265, 2), (408_065, 3), (738_561, 4)],
            6,
        ),
        (Dedupe::None, [(256_265, 3), (408_065, 8), (738_561, 4)], 0),
    ];
    for (mode, counts, removed) in expected {
        let mut t = test_store(backend);
        load(&mut t.store, &sample_rows());
        let report = eod_of(&mut t, mode).unwrap();
        let rows = master(&mut t.store);
        assert_eq!(
            per_token(&rows),
            BTreeMap::from(counts),
            "{mode:?} on {backend:?}"
        );
        assert_eq!(report.removed_rows, removed, "{mode:?}");
        assert_eq!(report.master_rows as usize, rows.len());
        assert_eq!(daily_count(&mut t.store), 0, "the daily rows are cleared");
        if mode == Dedupe::PerSecond {
            // The last tick of each second survives: prices 1005, 1015 (the resent copies of it
            // arrived later, so the last of second 101 is a copy), 1025.
            let prices: Vec<i64> = rows
                .iter()
                .filter(|r| r.0 == 408_065)
                .map(|r| r.3)
                .collect();
            assert_eq!(prices.len(), 3);
            assert!(prices.contains(&1005) && prices.contains(&1015) && prices.contains(&1025));
        }
        // The report: thin instruments (< 5 rows), the silent one, the gap.
        assert_eq!(
            report
                .silent_instruments
                .iter()
                .map(|i| i.tradingsymbol.as_str())
                .collect::<Vec<_>>(),
            ["SILENT"]
        );
        assert!(
            report
                .thin_instruments
                .iter()
                .any(|i| i.tradingsymbol == "RELIANCE" && i.rows == 4)
        );
        assert_eq!((report.gaps, report.gap_minutes), (1, 1.5));
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(t.dir.path().join("eod/2026-11-20.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["master_rows"], report.master_rows);
        assert_eq!(json["dedupe"], mode.as_str());
        assert_eq!(run_statuses(t.store.conn(), day()).unwrap(), ["done"]);
    }
}

#[test]
fn dedupe_modes_keep_what_they_promise_on_sqlite() {
    dedupe_modes_on(Backend::Sqlite);
}

#[cfg(feature = "mysql")]
#[test]
fn dedupe_modes_keep_what_they_promise_on_mariadb() {
    dedupe_modes_on(Backend::Mysql);
}

#[cfg(feature = "test-hooks")]
fn killed_at_every_step_on(backend: Backend) {
    let rows = sample_rows();
    let mut reference = test_store(backend);
    load(&mut reference.store, &rows);
    let want_report = eod_of(&mut reference, Dedupe::Exact).unwrap();
    let want = master(&mut reference.store);
    drop(reference);

    let mut points = Vec::new();
    for step in Step::ALL {
        points.push(FailPoint {
            step,
            after_chunks: 1,
        });
        points.push(FailPoint {
            step,
            after_chunks: usize::MAX,
        });
    }
    for point in points {
        // Report has no chunk loop: only its end is a fail point.
        if point.step == Step::Report && point.after_chunks == 1 {
            continue;
        }
        let mut t = test_store(backend);
        load(&mut t.store, &rows);
        let killed = run_eod(
            &mut t.store,
            t.dir.path(),
            day(),
            EodOptions {
                fail: Some(point),
                ..options(Dedupe::Exact)
            },
            &mut |_| {},
        );
        assert!(
            matches!(killed, Err(EodError::Injected(s)) if s == point.step),
            "{point:?}: {killed:?}"
        );
        let report =
            eod_of(&mut t, Dedupe::Exact).unwrap_or_else(|e| panic!("rerun after {point:?}: {e}"));
        assert_eq!(
            master(&mut t.store),
            want,
            "master after a kill at {point:?} on {backend:?}"
        );
        assert_eq!(daily_count(&mut t.store), 0);
        assert_eq!(
            (
                report.master_rows,
                report.removed_rows,
                &report.rows_per_instrument
            ),
            (
                want_report.master_rows,
                want_report.removed_rows,
                &want_report.rows_per_instrument
            ),
            "{point:?}"
        );
        assert_eq!(
            run_statuses(t.store.conn(), day()).unwrap(),
            ["interrupted", "done"]
        );
        // And once more after it finished: nothing changes.
        eod_of(&mut t, Dedupe::Exact).unwrap();
        assert_eq!(master(&mut t.store), want);
    }
}

#[cfg(feature = "test-hooks")]
#[test]
fn an_eod_killed_between_or_inside_any_step_finishes_the_same_on_sqlite() {
    killed_at_every_step_on(Backend::Sqlite);
}

#[cfg(all(feature = "mysql", feature = "test-hooks"))]
#[test]
fn an_eod_killed_between_or_inside_any_step_finishes_the_same_on_mariadb() {
    killed_at_every_step_on(Backend::Mysql);
}

#[test]
fn retention_deletes_old_journals_only_once_their_day_is_in_the_master() {
    let mut t = test_store(Backend::Sqlite);
    let journal = t.dir.path().join("journal");
    for d in ["2026-10-01", "2026-10-02", "2026-11-19", "2026-11-20"] {
        std::fs::create_dir_all(journal.join(d)).unwrap();
        std::fs::write(journal.join(d).join("socket-1.kcap"), b"KITECAP1").unwrap();
    }
    // 2026-10-01 was closed; 2026-10-02 never was.
    let old = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    run_eod(
        &mut t.store,
        t.dir.path(),
        old,
        options(Dedupe::Exact),
        &mut |_| {},
    )
    .unwrap();
    load(&mut t.store, &sample_rows());
    let mut opts = options(Dedupe::Exact);
    opts.retention_days = 30;
    let report = run_eod(&mut t.store, t.dir.path(), day(), opts, &mut |_| {}).unwrap();
    assert_eq!(report.journals_deleted, ["2026-10-01"]);
    assert!(!journal.join("2026-10-01").exists());
    for kept in ["2026-10-02", "2026-11-19", "2026-11-20"] {
        assert!(journal.join(kept).exists(), "{kept} kept");
    }
}

fn replay_twice_on(backend: Backend) {
    let t = test_store(backend);
    let captures = t.dir.path().join("captures");
    std::fs::create_dir_all(&captures).unwrap();
    std::fs::copy(fixture("golden.kcap"), captures.join("golden.kcap")).unwrap();
    let config = t.dir.path().join("tickvault.toml");
    std::fs::write(
        &config,
        format!(
            "[paths]\ndata_dir = \"{}\"\n[storage]\nurl = \"{}\"\n",
            t.dir.path().join("data").display(),
            t.url
        ),
    )
    .unwrap();
    let replay = || {
        run(tickvault()
            .arg("--config")
            .arg(&config)
            .args(["replay", "--date", "2026-11-20", "--from-journal"])
            .arg(&captures))
    };
    let first = replay();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    let expected = std::fs::read_to_string(fixture("golden.expected.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"instrument_token\""))
        .count();
    assert!(
        out.contains(&format!("{expected} rows inserted, 0 already stored")),
        "{out}"
    );
    assert!(
        !out.contains("tickvault_test:tickvault_test"),
        "no password: {out}"
    );
    let second = replay();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let out = String::from_utf8_lossy(&second.stdout).into_owned();
    assert!(
        out.contains(&format!("0 rows inserted, {expected} already stored")),
        "{out}"
    );
    let mut store = Store::open(&StorageUrl::parse(&t.url).unwrap()).unwrap();
    let stored: u64 = storage::rows_per_token(store.conn(), day())
        .unwrap()
        .values()
        .sum();
    assert_eq!(stored as usize, expected);
}

#[test]
fn replaying_a_journal_twice_inserts_nothing_the_second_time_on_sqlite() {
    replay_twice_on(Backend::Sqlite);
}

#[cfg(feature = "mysql")]
#[test]
fn replaying_a_journal_twice_inserts_nothing_the_second_time_on_mariadb() {
    replay_twice_on(Backend::Mysql);
}

#[test]
fn a_master_that_does_not_match_the_daily_rows_stops_the_eod_before_anything_is_cleared() {
    let mut t = test_store(Backend::Sqlite);
    let rows = sample_rows();
    load(&mut t.store, &rows);
    // A stray master row for one instrument of the date, not from its daily rows.
    let seq = rows[0].seq;
    on_backend!(t.store.conn(), c => {
        diesel::sql_query(format!("INSERT INTO ticks SELECT * FROM daily_ticks WHERE seq = {seq}"))
            .execute(c)
            .unwrap();
        diesel::update(ticks::table.filter(ticks::seq.eq(seq)))
            .set(ticks::seq.eq(999_i64 << 16))
            .execute(c)
    })
    .unwrap();
    let before = daily_count(&mut t.store);
    let err = eod_of(&mut t, Dedupe::None).unwrap_err();
    assert!(
        matches!(&err, EodError::Verify(m) if m.len() == 1 && m[0].token == 408_065 && m[0].master == m[0].daily + 1),
        "{err}"
    );
    assert_eq!(daily_count(&mut t.store), before, "nothing cleared");
    assert_eq!(run_statuses(t.store.conn(), day()).unwrap(), ["failed"]);
}

/// Runs the end of day once on `rows[..split]`, then again after `rows[split..]` arrived late
/// (a journal replayed after the first run), then once more after every row was replayed.
fn second_run_on(backend: Backend) {
    let rows = sample_rows();
    let (early, late) = rows.split_at(7);
    let mut t = test_store(backend);
    load(&mut t.store, early);
    let eod = |t: &mut TestStore| eod_of(t, Dedupe::None);
    let first = eod(&mut t).unwrap();
    assert_eq!(first.master_rows, 7);
    storage::commit_batch(&mut t.store, late, &[]).unwrap();
    let second = eod(&mut t).unwrap_or_else(|e| panic!("second run on {backend:?}: {e}"));
    assert_eq!(second.master_rows as usize, rows.len());
    assert_eq!(second.moved_by_this_run as usize, late.len());
    assert_eq!(daily_count(&mut t.store), 0);
    // Every row again (`tickvault replay` of the whole day): nothing new, nothing doubled.
    storage::commit_batch(&mut t.store, &rows, &[]).unwrap();
    let third = eod(&mut t).unwrap_or_else(|e| panic!("third run on {backend:?}: {e}"));
    assert_eq!(
        (third.master_rows as usize, third.moved_by_this_run),
        (rows.len(), 0)
    );
    assert_eq!(master(&mut t.store).len(), rows.len());
    assert_eq!(daily_count(&mut t.store), 0);
    assert_eq!(
        run_statuses(t.store.conn(), day()).unwrap(),
        ["done", "done", "done"]
    );
}

#[test]
fn a_second_eod_of_a_date_moves_rows_that_arrived_after_the_first_on_sqlite() {
    second_run_on(Backend::Sqlite);
}

#[cfg(feature = "mysql")]
#[test]
fn a_second_eod_of_a_date_moves_rows_that_arrived_after_the_first_on_mariadb() {
    second_run_on(Backend::Mysql);
}

#[test]
fn a_stray_master_row_after_a_finished_run_stops_the_next_one() {
    let mut t = test_store(Backend::Sqlite);
    let rows = sample_rows();
    let (early, late) = rows.split_at(7);
    load(&mut t.store, early);
    eod_of(&mut t, Dedupe::None).unwrap();
    // A master row of the date that no daily row accounts for (a copy under another key).
    let columns = NewTick::COLUMNS.join(", ");
    let copy = columns.replace("seq", &format!("seq + {}", 999_i64 << 16));
    let seq = early[0].seq;
    on_backend!(t.store.conn(), c => diesel::sql_query(format!(
        "INSERT INTO ticks ({columns}) SELECT {copy} FROM ticks WHERE seq = {seq}"
    ))
    .execute(c))
    .unwrap();
    storage::commit_batch(&mut t.store, late, &[]).unwrap();
    let err = eod_of(&mut t, Dedupe::None).unwrap_err();
    assert!(
        matches!(&err, EodError::Verify(m) if m.iter().any(|m| m.token == 408_065 && m.master == m.verified + m.daily + 1)),
        "{err}"
    );
    assert_eq!(
        daily_count(&mut t.store),
        late.len() as i64,
        "nothing cleared"
    );
}

fn exact_dedupe_keeps_instruments_apart_on(backend: Backend) {
    // Two instruments with the very same market fields at the same exchange second, each sent
    // twice: exact dedupe removes each one's copy, never one instrument's tick for the other's.
    let mut rows = Vec::new();
    for (i, token) in [408_065, 738_561, 408_065, 738_561].into_iter().enumerate() {
        let t = full(token, 100, 1000, 7);
        rows.push(NewTick::new(
            day(),
            1,
            (i as i64 + 1) << 16,
            100_000_000 + i as i64,
            &t,
        ));
    }
    let mut t = test_store(backend);
    load(&mut t.store, &rows);
    let report = eod_of(&mut t, Dedupe::Exact).unwrap();
    assert_eq!(
        report.rows_per_instrument,
        BTreeMap::from([(408_065, 1), (738_561, 1)]),
        "{backend:?}"
    );
    assert_eq!(report.removed_rows, 2);
}

#[test]
fn exact_dedupe_never_merges_two_instruments_on_sqlite() {
    exact_dedupe_keeps_instruments_apart_on(Backend::Sqlite);
}

#[cfg(feature = "mysql")]
#[test]
fn exact_dedupe_never_merges_two_instruments_on_mariadb() {
    exact_dedupe_keeps_instruments_apart_on(Backend::Mysql);
}

#[test]
fn rows_arriving_during_the_run_are_kept_for_the_next_one() {
    let mut t = test_store(Backend::Sqlite);
    let rows = sample_rows();
    let (early, late) = rows.split_at(7);
    load(&mut t.store, early);
    // A second writer (a replay of older journal records) adds rows while the run verifies:
    // keys below the run's high-water mark, for an instrument already verified.
    let mut writer = Store::open(&StorageUrl::parse(&t.url).unwrap()).unwrap();
    let mut sent = false;
    let report = run_eod(
        &mut t.store,
        t.dir.path(),
        day(),
        options(Dedupe::None),
        &mut |p| {
            if p.step == Step::Verify && p.done == 1 && !sent {
                let mut stray: Vec<NewTick> = late.to_vec();
                for r in &mut stray {
                    r.seq = -r.seq; // below every key of the day
                }
                storage::commit_batch(&mut writer, &stray, &[]).unwrap();
                sent = true;
            }
        },
    )
    .unwrap();
    assert!(sent);
    assert_eq!(report.master_rows, 7, "the run moved what it verified");
    assert_eq!(
        daily_count(&mut t.store),
        late.len() as i64,
        "the late rows were not cleared"
    );
    let second = eod_of(&mut t, Dedupe::None).unwrap();
    assert_eq!(second.master_rows as usize, rows.len());
    assert_eq!(daily_count(&mut t.store), 0);
}
