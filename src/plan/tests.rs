use std::collections::{BTreeSet, HashMap};

use super::resolve::window;
use super::*;
use crate::calendar::TradingCalendar;
use crate::settings::universe::OptionChain;
use crate::settings::universe::{StockSet, StrikeWindow};
use crate::sim::universe::Universe as SimUniverse;

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn dump() -> Vec<DumpRow> {
    let u = SimUniverse::generate(date(), 1, &TradingCalendar::nse());
    parse_dump(&u.csv(None, |_| 0.0)).unwrap()
}

fn universe() -> Universe {
    Universe {
        indices: vec!["NSE:NIFTY 50".into(), "NSE:NO SUCH INDEX".into()],
        index_mode: Mode::Full,
        equities: vec!["INFY".into(), "NOSUCH".into()],
        equities_file: None,
        equity_mode: Mode::Quote,
        future_underlyings: vec!["NIFTY".into()],
        future_months: 2,
        future_mode: Mode::Full,
        options: vec![OptionChain {
            underlying: "NIFTY".into(),
            spot: Some("NSE:NIFTY 50".into()),
            weeklies: 1,
            monthlies: 1,
            strikes: StrikeWindow::AroundAtm(5),
        }],
        stock_options: None,
        recenter: crate::settings::universe::Recenter::Never,
        option_mode: Mode::Full,
    }
}

#[test]
fn the_universe_resolves_with_unknown_names_reported() {
    let spots = HashMap::from([("NSE:NIFTY 50".to_string(), 26_000.0)]);
    let (planned, unknown) = resolve_instruments(&universe(), &dump(), date(), &spots).unwrap();
    assert_eq!(unknown, vec!["index NSE:NO SUCH INDEX", "equity NOSUCH"]);
    let count = |g: &str| planned.iter().filter(|p| p.group == g).count();
    assert_eq!(
        (count("index"), count("equity"), count("future")),
        (1, 1, 2)
    );
    // 2 expiries (the monthly of 23 Nov and the weekly of 1 Dec) × 11 strikes × CE/PE.
    assert_eq!(count("option"), 2 * 11 * 2);
    let expiries: BTreeSet<_> = planned
        .iter()
        .filter(|p| p.group == "option")
        .filter_map(|p| p.row.expiry)
        .collect();
    assert_eq!(
        expiries
            .into_iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        ["2026-11-23", "2026-12-01"]
    );
    let strikes: BTreeSet<i64> = planned
        .iter()
        .filter(|p| p.group == "option")
        .map(|p| p.row.strike as i64)
        .collect();
    assert!(
        strikes.contains(&26_000) && strikes.len() == 11,
        "{strikes:?}"
    );
    assert_eq!(
        planned.iter().find(|p| p.group == "equity").unwrap().mode,
        Mode::Quote
    );
}

#[test]
fn a_chain_without_spot_is_an_error_unless_all_strikes() {
    let err = resolve_instruments(&universe(), &dump(), date(), &HashMap::new()).unwrap_err();
    assert_eq!(err, PlanError::NoSpot("NSE:NIFTY 50".into()));
    let mut all = universe();
    all.options[0].strikes = StrikeWindow::All;
    all.options[0].weeklies = 0;
    let (planned, _) = resolve_instruments(&all, &dump(), date(), &HashMap::new()).unwrap();
    assert_eq!(
        planned.iter().filter(|p| p.group == "option").count(),
        201 * 2
    );
}

#[test]
fn stock_options_resolve_by_list_or_for_every_stock_with_options() {
    use crate::settings::universe::StockOptions;
    let mut u = universe();
    u.indices.clear();
    u.equities.clear();
    u.future_underlyings.clear();
    u.options.clear();
    u.stock_options = Some(StockOptions {
        underlyings: StockSet::List(vec!["M&M".into(), "NOSUCH".into()]),
        monthlies: 1,
        strikes: StrikeWindow::AroundAtm(3),
    });
    let rows = dump();
    assert_eq!(spot_keys(&u, &rows), ["NSE:M&M"]);
    // Spot at the middle of the listed strikes.
    let mut strikes: Vec<f64> = rows
        .iter()
        .filter(|r| r.name == "M&M" && r.instrument_type == "CE")
        .map(|r| r.strike)
        .collect();
    strikes.sort_by(f64::total_cmp);
    let spots = HashMap::from([("NSE:M&M".to_string(), strikes[strikes.len() / 2])]);
    let (none, unknown) = resolve_instruments(&u, &rows, date(), &HashMap::new()).unwrap();
    assert!(none.is_empty());
    assert_eq!(
        unknown,
        ["stock options of NOSUCH", "stock options of M&M (no price)"],
        "a stock without a quote is left out, not the day"
    );
    let (planned, unknown) = resolve_instruments(&u, &rows, date(), &spots).unwrap();
    assert_eq!(unknown, ["stock options of NOSUCH"]);
    assert!(
        planned
            .iter()
            .all(|p| p.row.name == "M&M" && p.group == "option")
    );
    let expiries: BTreeSet<_> = planned.iter().filter_map(|p| p.row.expiry).collect();
    assert_eq!(expiries.len(), 1, "the nearest monthly");
    assert_eq!(planned.len(), 7 * 2, "3 strikes each side, calls and puts");

    u.stock_options = Some(StockOptions {
        underlyings: StockSet::All,
        monthlies: 1,
        strikes: StrikeWindow::All,
    });
    assert!(
        spot_keys(&u, &rows).is_empty(),
        "every strike needs no spot"
    );
    let (planned, _) = resolve_instruments(&u, &rows, date(), &HashMap::new()).unwrap();
    let names: BTreeSet<&str> = planned.iter().map(|p| p.row.name.as_str()).collect();
    assert_eq!(names.len(), 150, "every stock with options, no index");
    assert!(!names.contains("NIFTY"));
}

#[test]
fn duplicate_dump_rows_are_dropped_deterministically_and_named() {
    let mut rows = dump();
    let futures = |rows: &[DumpRow]| -> Vec<u32> {
        let u = Universe {
            indices: vec![],
            equities: vec![],
            options: vec![],
            ..universe()
        };
        let (planned, _) = resolve_instruments(&u, rows, date(), &HashMap::new()).unwrap();
        planned.iter().map(|p| p.row.instrument_token).collect()
    };
    let want = futures(&rows);
    assert_eq!(want.len(), 2, "this month's and next month's");
    // The dump lists this month's future twice, and a symbol under a second token.
    let near = rows
        .iter()
        .find(|r| r.instrument_token == want[0])
        .unwrap()
        .clone();
    rows.insert(0, near.clone());
    let mut alias = near.clone();
    alias.instrument_token = near.instrument_token + 1_000_000;
    rows.push(alias);
    let dropped = dedupe_dump(&mut rows);
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(
        dropped.iter().all(|d| d.contains(&near.tradingsymbol)),
        "{dropped:?}"
    );
    assert_eq!(futures(&rows), want, "both futures stay in the plan");
}

#[test]
fn a_saved_plan_comes_back_as_it_was_and_only_for_its_universe() {
    let dir = tempfile::tempdir().unwrap();
    let spots = HashMap::from([("NSE:NIFTY 50".to_string(), 26_000.0)]);
    let (planned, unknown) = resolve_instruments(&universe(), &dump(), date(), &spots).unwrap();
    SavedPlan::new(&universe(), &planned, &unknown)
        .save(dir.path(), date())
        .unwrap();
    let saved = SavedPlan::load(dir.path(), date(), &universe()).unwrap();
    assert_eq!(saved.planned().unwrap(), planned);
    assert_eq!(saved.unknown, unknown);
    let mut other = universe();
    other.equities.push("TCS".into());
    assert!(
        SavedPlan::load(dir.path(), date(), &other).is_none(),
        "a changed universe resolves again"
    );
}

#[test]
fn percent_windows_keep_strikes_near_spot() {
    let strikes: BTreeSet<i64> = (0..=100).map(|i| (25_000 + i * 50) * 100).collect();
    let kept = window(&strikes, Some(26_000.0), StrikeWindow::Percent(1.0)).unwrap();
    assert_eq!(kept.first().copied(), Some(25_750 * 100));
    assert_eq!(kept.last().copied(), Some(26_250 * 100));
}

#[test]
fn dealing_fills_every_socket_and_refuses_what_does_not_fit() {
    let rows = dump();
    let planned: Vec<Planned> = rows
        .iter()
        .take(9_001)
        .map(|r| Planned {
            row: r.clone(),
            mode: Mode::Full,
            group: "x",
        })
        .collect();
    let err = deal(&planned, &["main".into()], 3, 3000).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the universe has 9001 instruments but 1 app(s) × 3 sockets × 3000 instruments = 9000 fit; add an API app or narrow the universe"
    );
    let plans = deal(&planned, &["a".into(), "b".into()], 3, 3000).unwrap();
    assert_eq!(plans.len(), 6);
    assert_eq!(plans.iter().map(|p| p.tokens.len()).sum::<usize>(), 9_001);
    assert!(plans.iter().all(|p| p.tokens.len() <= 3000));
    assert_eq!((plans[0].app.as_str(), plans[3].app.as_str()), ("a", "b"));
    let few = deal(&planned[..2], &["a".into()], 3, 3000).unwrap();
    assert_eq!(few.len(), 2, "no empty sockets");
}
