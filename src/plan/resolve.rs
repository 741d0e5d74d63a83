//! The universe against the dump: indices, equities, futures and option chains around the
//! spot.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};

use super::{DumpRow, PlanError, Planned};
use crate::kite::Mode;
use crate::settings::universe::{OptionChain, StockSet, StrikeWindow, Universe};

/// The expiries of `rows` whose dates are the last of their calendar month.
fn monthly_expiries(expiries: &BTreeSet<NaiveDate>) -> BTreeSet<NaiveDate> {
    let mut last: BTreeMap<(i32, u32), NaiveDate> = BTreeMap::new();
    for e in expiries {
        last.insert((e.year(), e.month()), *e);
    }
    last.into_values().collect()
}

/// The strikes to keep of a chain for `spot`.
pub(super) fn window(
    strikes: &BTreeSet<i64>,
    spot: Option<f64>,
    w: StrikeWindow,
) -> Option<BTreeSet<i64>> {
    // Strikes are keyed in paise so they compare exactly.
    match w {
        StrikeWindow::All => Some(strikes.clone()),
        StrikeWindow::AroundAtm(k) => {
            let spot = (spot? * 100.0).round() as i64;
            let list: Vec<i64> = strikes.iter().copied().collect();
            let atm = list
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| (*s - spot).abs())?
                .0;
            let lo = atm.saturating_sub(k as usize);
            let hi = (atm + k as usize).min(list.len().saturating_sub(1));
            Some(list[lo..=hi].iter().copied().collect())
        }
        StrikeWindow::Percent(p) => {
            let spot = spot? * 100.0;
            let (lo, hi) = (spot * (1.0 - p / 100.0), spot * (1.0 + p / 100.0));
            Some(
                strikes
                    .iter()
                    .copied()
                    .filter(|s| (*s as f64) >= lo && (*s as f64) <= hi)
                    .collect(),
            )
        }
    }
}

/// Resolves the universe against the dump. `spots` maps a chain's spot key to its price.
pub fn resolve_instruments(
    universe: &Universe,
    dump: &[DumpRow],
    date: NaiveDate,
    spots: &HashMap<String, f64>,
) -> Result<(Vec<Planned>, Vec<String>), PlanError> {
    let by_key: HashMap<String, &DumpRow> = dump
        .iter()
        .map(|r| (format!("{}:{}", r.exchange, r.tradingsymbol), r))
        .collect();
    let mut planned = Vec::new();
    let mut unknown = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |row: &DumpRow, mode: Mode, group: &'static str, planned: &mut Vec<Planned>| {
        if seen.insert(row.instrument_token) {
            planned.push(Planned {
                row: row.clone(),
                mode,
                group,
            });
        }
    };
    for key in &universe.indices {
        match by_key.get(key).filter(|r| r.segment == "INDICES") {
            Some(row) => push(row, universe.index_mode, "index", &mut planned),
            None => unknown.push(format!("index {key}")),
        }
    }
    let equity = |symbol: &str| {
        let key = if symbol.contains(':') {
            symbol.to_string()
        } else {
            format!("NSE:{symbol}")
        };
        by_key
            .get(&key)
            .copied()
            .filter(|r| r.instrument_type == "EQ" && r.segment != "INDICES")
    };
    for symbol in &universe.equities {
        match equity(symbol) {
            Some(row) => push(row, universe.equity_mode, "equity", &mut planned),
            None => unknown.push(format!("equity {symbol}")),
        }
    }
    if let Some(list) = &universe.equities_file {
        let mut found = 0;
        for symbol in &list.symbols {
            match equity(symbol) {
                Some(row) => {
                    found += 1;
                    push(row, universe.equity_mode, "equity", &mut planned);
                }
                None => unknown.push(format!("equity {symbol} ({})", list.path)),
            }
        }
        if found == 0 {
            return Err(PlanError::EquitiesFileResolvesNothing {
                path: list.path.clone(),
                symbols: list.symbols.len(),
            });
        }
    }
    for underlying in &universe.future_underlyings {
        let mut futures: Vec<&DumpRow> = dump
            .iter()
            .filter(|r| {
                r.instrument_type == "FUT"
                    && r.name == *underlying
                    && r.expiry.is_some_and(|e| e >= date)
            })
            .collect();
        if futures.is_empty() {
            unknown.push(format!("futures of {underlying}"));
        }
        futures.sort_by_key(|r| r.expiry);
        for row in futures.into_iter().take(universe.future_months) {
            push(row, universe.future_mode, "future", &mut planned);
        }
    }
    let stock_chains = stock_chains(universe, dump, &mut unknown);
    for (chain, stock) in universe
        .options
        .iter()
        .map(|c| (c, false))
        .chain(stock_chains.iter().map(|c| (c, true)))
    {
        let resolved = resolve_chain(
            chain,
            dump,
            date,
            spots,
            universe.option_mode,
            &mut planned,
            &mut unknown,
            &mut push,
        );
        match resolved {
            // One stock without a quote (of ~150 with "all") costs its chain, not the day.
            Err(PlanError::NoSpot(_)) if stock => {
                unknown.push(format!("stock options of {} (no price)", chain.underlying));
            }
            other => other?,
        }
    }
    Ok((planned, unknown))
}

/// The option chains of `[universe.stock_options]`: one per stock, spot from `NSE:SYMBOL`.
/// Listed stocks without options in the dump are reported in `unknown`.
fn stock_chains(
    universe: &Universe,
    dump: &[DumpRow],
    unknown: &mut Vec<String>,
) -> Vec<OptionChain> {
    let Some(stocks) = &universe.stock_options else {
        return Vec::new();
    };
    let optionable = optionable_stocks(dump);
    let symbols: Vec<String> = match &stocks.underlyings {
        StockSet::All => optionable.into_iter().collect(),
        StockSet::List(list) => list
            .iter()
            .filter(|s| {
                let known = optionable.contains(s.as_str());
                if !known {
                    unknown.push(format!("stock options of {s}"));
                }
                known
            })
            .cloned()
            .collect(),
    };
    symbols
        .into_iter()
        .map(|symbol| OptionChain {
            spot: Some(format!("NSE:{symbol}")),
            underlying: symbol,
            weeklies: 0,
            monthlies: stocks.monthlies,
            strikes: stocks.strikes,
        })
        .collect()
}

/// Stocks the dump has options of: an options `name` that is also an NSE equity's symbol
/// (index options are named after the index root, which no equity is).
fn optionable_stocks(dump: &[DumpRow]) -> BTreeSet<String> {
    let equities: BTreeSet<&str> = dump
        .iter()
        .filter(|r| r.exchange == "NSE" && r.instrument_type == "EQ" && r.segment != "INDICES")
        .map(|r| r.tradingsymbol.as_str())
        .collect();
    dump.iter()
        .filter(|r| matches!(r.instrument_type.as_str(), "CE" | "PE"))
        .filter(|r| equities.contains(r.name.as_str()))
        .map(|r| r.name.clone())
        .collect()
}

/// The quote keys whose prices place the strike windows: each chain's spot, and each stock's
/// for `[universe.stock_options]` (known only once the dump is read).
pub fn spot_keys(universe: &Universe, dump: &[DumpRow]) -> Vec<String> {
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for chain in &universe.options {
        if chain.strikes != StrikeWindow::All {
            keys.extend(chain.spot.clone());
        }
    }
    if universe
        .stock_options
        .as_ref()
        .is_some_and(|s| s.strikes != StrikeWindow::All)
    {
        let mut ignored = Vec::new();
        for chain in stock_chains(universe, dump, &mut ignored) {
            keys.extend(chain.spot);
        }
    }
    keys.into_iter().collect()
}

#[allow(clippy::too_many_arguments)]
fn resolve_chain(
    chain: &OptionChain,
    dump: &[DumpRow],
    date: NaiveDate,
    spots: &HashMap<String, f64>,
    mode: Mode,
    planned: &mut Vec<Planned>,
    unknown: &mut Vec<String>,
    push: &mut impl FnMut(&DumpRow, Mode, &'static str, &mut Vec<Planned>),
) -> Result<(), PlanError> {
    let options: Vec<&DumpRow> = dump
        .iter()
        .filter(|r| {
            matches!(r.instrument_type.as_str(), "CE" | "PE")
                && r.name == chain.underlying
                && r.expiry.is_some_and(|e| e >= date)
        })
        .collect();
    if options.is_empty() {
        unknown.push(format!("options of {}", chain.underlying));
        return Ok(());
    }
    let expiries: BTreeSet<NaiveDate> = options.iter().filter_map(|r| r.expiry).collect();
    let monthly = monthly_expiries(&expiries);
    let chosen: BTreeSet<NaiveDate> = expiries
        .iter()
        .filter(|e| !monthly.contains(e))
        .take(chain.weeklies)
        .chain(monthly.iter().take(chain.monthlies))
        .copied()
        .collect();
    let spot = chain.spot.as_ref().and_then(|k| spots.get(k)).copied();
    if spot.is_none() && chain.strikes != StrikeWindow::All {
        return Err(PlanError::NoSpot(
            chain
                .spot
                .clone()
                .unwrap_or_else(|| chain.underlying.clone()),
        ));
    }
    for expiry in chosen {
        let rows: Vec<&&DumpRow> = options
            .iter()
            .filter(|r| r.expiry == Some(expiry))
            .collect();
        let strikes: BTreeSet<i64> = rows
            .iter()
            .map(|r| (r.strike * 100.0).round() as i64)
            .collect();
        let keep = window(&strikes, spot, chain.strikes).unwrap_or_default();
        for row in rows {
            if keep.contains(&((row.strike * 100.0).round() as i64)) {
                push(row, mode, "option", planned);
            }
        }
    }
    Ok(())
}
