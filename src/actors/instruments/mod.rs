//! The instruments actor: downloads the day's dump, keeps a snapshot of it, and resolves the
//! configured universe into a [`SubscriptionPlan`] dealt over the sockets.
//!
//! Messages: [`handlers::Resolve`] (→ the plan). Talks to: Kite (dump, `/quote/ltp` for spot),
//! auth (for a token).
//!
//! Resolution is pure ([`resolve_instruments`], [`deal`]) so it is tested on generated dumps. Weekly vs monthly is read
//! from the dump's `expiry` column: the last expiry of an underlying in a calendar month is its
//! monthly. No weekday arithmetic.

pub mod actor;
pub mod handlers;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};

use crate::kite::Mode;
use crate::settings::pipeline::{OptionChain, StockSet, StrikeWindow, Universe};

/// One row of the instruments dump.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DumpRow {
    /// Token.
    pub instrument_token: u32,
    /// Trading symbol.
    pub tradingsymbol: String,
    /// Name (the underlying for derivatives).
    pub name: String,
    /// Expiry.
    pub expiry: Option<NaiveDate>,
    /// Strike.
    pub strike: f64,
    /// Tick size.
    pub tick_size: f64,
    /// Lot size.
    pub lot_size: i32,
    /// EQ, FUT, CE, PE.
    pub instrument_type: String,
    /// Segment.
    pub segment: String,
    /// Exchange.
    pub exchange: String,
}

/// Why a dump or a universe could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The dump is not the 12-column CSV.
    #[error("the instruments dump is malformed: {0}")]
    BadDump(String),
    /// More instruments than the apps' sockets can carry.
    #[error(
        "the universe has {instruments} instruments but {apps} app(s) × {per_app} sockets × {per_socket} instruments = {capacity} fit; add an API app or narrow the universe"
    )]
    TooMany {
        /// Instruments resolved.
        instruments: usize,
        /// Apps configured.
        apps: usize,
        /// Sockets per app.
        per_app: usize,
        /// Instruments per socket.
        per_socket: usize,
        /// What fits.
        capacity: usize,
    },
    /// Nothing to record.
    #[error("the universe resolves to no instruments")]
    Empty,
    /// No API app configured.
    #[error("no API app is configured ([apps.<name>])")]
    NoApps,
    /// An option chain needs its spot and the quote was not available.
    #[error("no spot price for {0}: cannot place its strike window")]
    NoSpot(String),
    /// Not one symbol of an equities file is in the dump: the wrong file, or the wrong column.
    #[error("none of the {symbols} symbols of {path} is an NSE equity in the instruments dump")]
    EquitiesFileResolvesNothing {
        /// The file.
        path: String,
        /// How many symbols it lists.
        symbols: usize,
    },
}

impl PlanError {
    /// The setting to fix when the plan is the settings' fault (`None`: the dump's fault).
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            PlanError::BadDump(_) | PlanError::NoSpot(_) => None,
            PlanError::EquitiesFileResolvesNothing { .. } => Some("universe.equities_file"),
            PlanError::NoApps => Some("apps"),
            PlanError::TooMany { .. } | PlanError::Empty => Some("universe"),
        }
    }
}

/// Parses the dump's CSV (header checked).
pub fn parse_dump(csv_bytes: &[u8]) -> Result<Vec<DumpRow>, PlanError> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let header = reader
        .headers()
        .map_err(|e| PlanError::BadDump(e.to_string()))?
        .clone();
    let want = crate::sim::universe::CSV_HEADER
        .split(',')
        .collect::<Vec<_>>();
    if header.iter().collect::<Vec<_>>() != want {
        return Err(PlanError::BadDump(format!(
            "unexpected header {:?}",
            header.iter().collect::<Vec<_>>()
        )));
    }
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let r = record.map_err(|e| PlanError::BadDump(format!("row {}: {e}", n + 2)))?;
        let bad = |what: &str| PlanError::BadDump(format!("row {}: bad {what}", n + 2));
        rows.push(DumpRow {
            instrument_token: r[0].parse().map_err(|_| bad("instrument_token"))?,
            tradingsymbol: r[2].to_string(),
            name: r[3].to_string(),
            expiry: if r[5].is_empty() {
                None
            } else {
                Some(NaiveDate::parse_from_str(&r[5], "%Y-%m-%d").map_err(|_| bad("expiry"))?)
            },
            strike: r[6].parse().map_err(|_| bad("strike"))?,
            tick_size: r[7].parse().map_err(|_| bad("tick_size"))?,
            lot_size: r[8].parse().map_err(|_| bad("lot_size"))?,
            instrument_type: r[9].to_string(),
            segment: r[10].to_string(),
            exchange: r[11].to_string(),
        });
    }
    Ok(rows)
}

/// Removes duplicate rows from a dump, deterministically: of rows with one token the first is
/// kept; of rows with one `EXCHANGE:TRADINGSYMBOL` and different tokens, the lowest token.
/// Returns what was dropped, by name (a duplicated future used to take its next month's place
/// in the plan).
pub fn dedupe_dump(rows: &mut Vec<DumpRow>) -> Vec<String> {
    let mut dropped = Vec::new();
    let mut tokens = std::collections::HashSet::new();
    rows.retain(|r| {
        let first = tokens.insert(r.instrument_token);
        if !first {
            dropped.push(format!(
                "{}:{} (token {} listed twice)",
                r.exchange, r.tradingsymbol, r.instrument_token
            ));
        }
        first
    });
    let mut by_key: HashMap<(String, String), u32> = HashMap::new();
    for r in rows.iter() {
        let key = (r.exchange.clone(), r.tradingsymbol.clone());
        let lowest = by_key.entry(key).or_insert(r.instrument_token);
        *lowest = (*lowest).min(r.instrument_token);
    }
    rows.retain(|r| {
        let keep =
            by_key.get(&(r.exchange.clone(), r.tradingsymbol.clone())) == Some(&r.instrument_token);
        if !keep {
            dropped.push(format!(
                "{}:{} (token {} dropped for a lower token of the same symbol)",
                r.exchange, r.tradingsymbol, r.instrument_token
            ));
        }
        keep
    });
    dropped
}

/// The day's instruments as first resolved, kept beside the journal (`plan.json`): a restart
/// the same day records the same instruments (the strike windows are not re-centred on a spot
/// that moved) unless `universe.recenter = "on_restart"`, or the universe settings changed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedPlan {
    /// What the universe settings were (their digest).
    pub universe: String,
    /// The instruments, in resolution order: the dump row, the mode, the group.
    pub instruments: Vec<(DumpRow, String, String)>,
    /// Names the dump lacked.
    pub unknown: Vec<String>,
}

impl SavedPlan {
    /// The digest of `universe` a saved plan is checked against.
    pub fn digest(universe: &Universe) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(format!("{universe:?}").as_bytes()))
    }

    /// A plan to save.
    pub fn new(universe: &Universe, planned: &[Planned], unknown: &[String]) -> SavedPlan {
        SavedPlan {
            universe: Self::digest(universe),
            instruments: planned
                .iter()
                .map(|p| {
                    (
                        p.row.clone(),
                        p.mode.as_str().to_string(),
                        p.group.to_string(),
                    )
                })
                .collect(),
            unknown: unknown.to_vec(),
        }
    }

    /// The instruments again (`None` if the file holds a mode or group this build does not
    /// know).
    pub fn planned(&self) -> Option<Vec<Planned>> {
        self.instruments
            .iter()
            .map(|(row, mode, group)| {
                let group = match group.as_str() {
                    "index" => "index",
                    "equity" => "equity",
                    "future" => "future",
                    "option" => "option",
                    _ => return None,
                };
                Some(Planned {
                    row: row.clone(),
                    mode: Mode::parse(mode)?,
                    group,
                })
            })
            .collect()
    }

    /// `<journal dir of date>/plan.json`.
    pub fn path(data_dir: &std::path::Path, date: NaiveDate) -> std::path::PathBuf {
        crate::capture::journal::journal_dir(data_dir, date).join("plan.json")
    }

    /// The plan saved for `date`, if it was made for `universe`.
    pub fn load(
        data_dir: &std::path::Path,
        date: NaiveDate,
        universe: &Universe,
    ) -> Option<SavedPlan> {
        let text = std::fs::read(Self::path(data_dir, date)).ok()?;
        let saved: SavedPlan = serde_json::from_slice(&text).ok()?;
        (saved.universe == Self::digest(universe)).then_some(saved)
    }

    /// Keeps it for the rest of the day.
    pub fn save(&self, data_dir: &std::path::Path, date: NaiveDate) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::files::write_atomically(&Self::path(data_dir, date), &json)
    }
}

/// An instrument to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The dump row.
    pub row: DumpRow,
    /// The mode to stream it in.
    pub mode: Mode,
    /// `index`, `equity`, `future` or `option`.
    pub group: &'static str,
}

/// One connection's share of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketPlan {
    /// 1, 2, … (the socket is named `socket-N`).
    pub number: u16,
    /// The API app it connects as.
    pub app: String,
    /// Tokens and modes.
    pub tokens: Vec<(u32, Mode)>,
}

impl SocketPlan {
    /// `socket-N`.
    pub fn name(&self) -> String {
        format!("socket-{}", self.number)
    }
}

/// The day's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionPlan {
    /// Trading date.
    pub date: NaiveDate,
    /// Every instrument, in resolution order.
    pub instruments: Vec<Planned>,
    /// Connections.
    pub sockets: Vec<SocketPlan>,
    /// Names in the universe the dump does not have.
    pub unknown: Vec<String>,
}

impl SubscriptionPlan {
    /// The socket an instrument is on.
    pub fn socket_of(&self, token: u32) -> Option<u16> {
        self.sockets
            .iter()
            .find(|s| s.tokens.iter().any(|(t, _)| *t == token))
            .map(|s| s.number)
    }

    /// A human summary: counts per socket, per group and per expiry.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "plan for {}: {} instruments on {} sockets\n",
            self.date,
            self.instruments.len(),
            self.sockets.len()
        );
        for s in &self.sockets {
            out += &format!(
                "  {} (app {}): {} instruments\n",
                s.name(),
                s.app,
                s.tokens.len()
            );
        }
        let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
        let mut expiries: BTreeMap<(String, NaiveDate, &str), usize> = BTreeMap::new();
        for p in &self.instruments {
            *groups.entry(p.group).or_default() += 1;
            if let Some(e) = p.row.expiry {
                *expiries
                    .entry((p.row.name.clone(), e, p.group))
                    .or_default() += 1;
            }
        }
        for (g, n) in groups {
            out += &format!("  {g}: {n}\n");
        }
        for ((name, e, g), n) in expiries {
            out += &format!("  {name} {e} {g}: {n}\n");
        }
        for u in &self.unknown {
            out += &format!("  not in the dump: {u}\n");
        }
        out
    }
}

/// The expiries of `rows` whose dates are the last of their calendar month.
fn monthly_expiries(expiries: &BTreeSet<NaiveDate>) -> BTreeSet<NaiveDate> {
    let mut last: BTreeMap<(i32, u32), NaiveDate> = BTreeMap::new();
    for e in expiries {
        last.insert((e.year(), e.month()), *e);
    }
    last.into_values().collect()
}

/// The strikes to keep of a chain for `spot`.
fn window(strikes: &BTreeSet<i64>, spot: Option<f64>, w: StrikeWindow) -> Option<BTreeSet<i64>> {
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

/// Deals `instruments` over the sockets of `apps` (at most `per_app` each, `per_socket`
/// instruments each), using every socket allowed so that one socket's failure touches as few
/// instruments as possible.
pub fn deal(
    instruments: &[Planned],
    apps: &[String],
    per_app: usize,
    per_socket: usize,
) -> Result<Vec<SocketPlan>, PlanError> {
    if apps.is_empty() {
        return Err(PlanError::NoApps);
    }
    if instruments.is_empty() {
        return Err(PlanError::Empty);
    }
    let capacity = apps.len() * per_app * per_socket;
    if instruments.len() > capacity {
        return Err(PlanError::TooMany {
            instruments: instruments.len(),
            apps: apps.len(),
            per_app,
            per_socket,
            capacity,
        });
    }
    let sockets = (apps.len() * per_app).min(instruments.len());
    let mut plans: Vec<SocketPlan> = (0..sockets)
        .map(|i| SocketPlan {
            number: i as u16 + 1,
            // Socket i belongs to app i / per_app: app 1's sockets first.
            app: apps[i / per_app].clone(),
            tokens: Vec::new(),
        })
        .collect();
    for (i, p) in instruments.iter().enumerate() {
        plans[i % sockets]
            .tokens
            .push((p.row.instrument_token, p.mode));
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::TradingCalendar;
    use crate::settings::pipeline::OptionChain;
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
            recenter: crate::settings::pipeline::Recenter::Never,
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
        use crate::settings::pipeline::StockOptions;
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
}
