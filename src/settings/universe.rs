//! `[universe]`: what to record (indices, equities from a list or a constituent CSV, futures,
//! option chains and stock options around the spot), checked and resolved to [`Universe`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::SettingsError;
use super::pipeline::mode;
use crate::kite::Mode;

/// How many strikes of an option chain to record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StrikeWindow {
    /// Every strike in the dump.
    All,
    /// This many strikes each side of the one nearest to spot.
    AroundAtm(u32),
    /// Strikes within this percentage of spot.
    Percent(f64),
}

impl StrikeWindow {
    /// Parses `all`, `N` (strikes each side of ATM) or `X%`.
    pub fn parse(s: &str) -> Option<StrikeWindow> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Some(StrikeWindow::All);
        }
        if let Some(p) = s.strip_suffix('%') {
            return p
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| *p > 0.0)
                .map(StrikeWindow::Percent);
        }
        s.parse().ok().map(StrikeWindow::AroundAtm)
    }
}

/// `[universe.options.<underlying>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptionChain {
    /// The underlying's quote key, for spot (`NSE:NIFTY 50`); needed unless `strikes = "all"`.
    #[serde(default)]
    pub spot: Option<String>,
    /// Nearest weekly expiries to record.
    pub weeklies: usize,
    /// Nearest monthly expiries to record.
    pub monthlies: usize,
    /// `all`, `N` strikes each side of ATM, or `X%` of spot.
    pub strikes: String,
}

/// An option chain to record.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionChain {
    /// Underlying name as in the dump's `name` column (`NIFTY`).
    pub underlying: String,
    /// Spot quote key (`None` when every strike is recorded).
    pub spot: Option<String>,
    /// Weekly expiries.
    pub weeklies: usize,
    /// Monthly expiries.
    pub monthlies: usize,
    /// Strike window.
    pub strikes: StrikeWindow,
}

/// `[universe.stock_options] underlyings`: a list of NSE symbols, or `"all"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RawStockList {
    /// `"all"`.
    Word(String),
    /// `["RELIANCE", "M&M", …]`.
    List(Vec<String>),
}

/// `[universe.stock_options]`: the option chains of stocks, one table for all of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStockOptions {
    /// NSE symbols (`["RELIANCE", "M&M"]`) or `"all"` (every stock the dump has options of).
    pub underlyings: RawStockList,
    /// Nearest monthly expiries to record (stock options have no weeklies).
    pub monthlies: usize,
    /// `all`, `N` strikes each side of the one nearest to the stock's price, or `X%`.
    pub strikes: String,
}

/// Which stocks' options to record.
#[derive(Debug, Clone, PartialEq)]
pub enum StockSet {
    /// Every stock the dump has options of.
    All,
    /// These NSE symbols.
    List(Vec<String>),
}

/// Option chains of stocks, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct StockOptions {
    /// Which stocks.
    pub underlyings: StockSet,
    /// Monthly expiries each.
    pub monthlies: usize,
    /// Strike window around each stock's price (`NSE:SYMBOL`).
    pub strikes: StrikeWindow,
}

/// A file of equity symbols (`universe.equities_file`), as read.
#[derive(Debug, Clone, PartialEq)]
pub struct EquityList {
    /// The file as configured.
    pub path: String,
    /// Its symbols, in file order.
    pub symbols: Vec<String>,
}

/// Reads the symbols of an equities file: NSE's index constituent CSVs as published (a header
/// row with a `Symbol` column, e.g. `ind_nifty200list.csv`), or a plain list (one symbol a line,
/// or the first column; `#` starts a comment). A file with no symbol in it is an error.
pub fn read_equity_list(path: &str) -> Result<EquityList, SettingsError> {
    let key = "universe.equities_file";
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::new(key, format!("cannot read {path}: {e}")))?;
    let text = text.trim_start_matches('\u{feff}');
    let lines = || {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    };
    let header: Vec<String> = lines()
        .next()
        .map(|l| {
            l.split(',')
                .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let mut symbols = Vec::new();
    if let Some(column) = header.iter().position(|c| c == "symbol") {
        let body: String = lines().collect::<Vec<_>>().join("\n");
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(body.as_bytes());
        for (n, record) in reader.records().enumerate() {
            let record = record
                .map_err(|e| SettingsError::new(key, format!("{path}: row {}: {e}", n + 2)))?;
            if let Some(symbol) = record.get(column).map(str::trim).filter(|s| !s.is_empty()) {
                symbols.push(symbol.to_ascii_uppercase());
            }
        }
    } else {
        for line in lines() {
            let line = line.split('#').next().unwrap_or("");
            let symbol = line
                .split(',')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            if !symbol.is_empty() && !symbol.eq_ignore_ascii_case("symbol") {
                symbols.push(symbol.to_ascii_uppercase());
            }
        }
    }
    if symbols.is_empty() {
        return Err(SettingsError::new(
            key,
            format!("{path} lists no symbol (one a line, or a CSV with a `Symbol` column)"),
        ));
    }
    Ok(EquityList {
        path: path.to_string(),
        symbols,
    })
}

/// `[universe]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUniverse {
    /// Indices by `EXCHANGE:TRADINGSYMBOL`.
    pub indices: Vec<String>,
    /// Their mode.
    pub index_mode: String,
    /// NSE equity symbols.
    pub equities: Vec<String>,
    /// A file of more symbols (one a line, or the first column of a CSV); empty for none.
    pub equities_file: String,
    /// Their mode.
    pub equity_mode: String,
    /// Underlyings whose futures to record (`NIFTY`, `RELIANCE`).
    pub future_underlyings: Vec<String>,
    /// Nearest expiries of each.
    pub future_months: usize,
    /// Their mode.
    pub future_mode: String,
    /// Mode of options.
    pub option_mode: String,
    /// Option chains by underlying.
    #[serde(default)]
    pub options: BTreeMap<String, RawOptionChain>,
    /// Option chains of stocks by list.
    #[serde(default)]
    pub stock_options: Option<RawStockOptions>,
    /// `never` or `on_restart`: whether a restart the same day resolves the universe again.
    pub recenter: String,
}

/// Whether a restart re-resolves the day's universe (re-centring the strike windows on the
/// spot of the moment) or records the plan made at the day's first start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recenter {
    /// The day's first plan holds all day.
    Never,
    /// Each start resolves again (the day's snapshot keeps every instrument planned).
    OnRestart,
}

/// The universe to record, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Universe {
    /// Indices.
    pub indices: Vec<String>,
    /// Index mode.
    pub index_mode: Mode,
    /// Equities named in the settings.
    pub equities: Vec<String>,
    /// Equities from `equities_file`.
    pub equities_file: Option<EquityList>,
    /// Equity mode.
    pub equity_mode: Mode,
    /// Future underlyings.
    pub future_underlyings: Vec<String>,
    /// Expiries each.
    pub future_months: usize,
    /// Future mode.
    pub future_mode: Mode,
    /// Option chains.
    pub options: Vec<OptionChain>,
    /// Option chains of stocks.
    pub stock_options: Option<StockOptions>,
    /// Whether a restart resolves again.
    pub recenter: Recenter,
    /// Option mode.
    pub option_mode: Mode,
}

impl RawUniverse {
    /// Checks modes and windows, reads the equities file.
    pub fn validate(&self) -> Result<Universe, SettingsError> {
        let equities_file = if self.equities_file.is_empty() {
            None
        } else {
            Some(read_equity_list(&self.equities_file)?)
        };
        let stock_options = self
            .stock_options
            .as_ref()
            .map(RawStockOptions::validate)
            .transpose()?;
        let mut options = Vec::new();
        for (name, chain) in &self.options {
            let key = format!("universe.options.{name}");
            let strikes = StrikeWindow::parse(&chain.strikes).ok_or_else(|| {
                SettingsError::new(
                    format!("{key}.strikes"),
                    format!(
                        "`{}` is not `all`, a number of strikes, or a percentage like `5%`",
                        chain.strikes
                    ),
                )
            })?;
            if strikes != StrikeWindow::All && chain.spot.is_none() {
                return Err(SettingsError::new(
                    format!("{key}.spot"),
                    format!(
                        "is missing: a strike window of `{}` needs the underlying's quote key, e.g. `NSE:NIFTY 50`",
                        chain.strikes
                    ),
                ));
            }
            options.push(OptionChain {
                underlying: name.to_ascii_uppercase(),
                spot: chain.spot.clone(),
                weeklies: chain.weeklies,
                monthlies: chain.monthlies,
                strikes,
            });
        }
        Ok(Universe {
            indices: self.indices.clone(),
            index_mode: mode("universe.index_mode", &self.index_mode)?,
            equities: self.equities.clone(),
            equities_file,
            equity_mode: mode("universe.equity_mode", &self.equity_mode)?,
            future_underlyings: self
                .future_underlyings
                .iter()
                .map(|u| u.to_ascii_uppercase())
                .collect(),
            future_months: self.future_months,
            future_mode: mode("universe.future_mode", &self.future_mode)?,
            options,
            stock_options,
            recenter: match self.recenter.as_str() {
                "never" => Recenter::Never,
                "on_restart" => Recenter::OnRestart,
                other => {
                    return Err(SettingsError::new(
                        "universe.recenter",
                        format!("expected `never` or `on_restart`, found `{other}`"),
                    ));
                }
            },
            option_mode: mode("universe.option_mode", &self.option_mode)?,
        })
    }
}

impl RawStockOptions {
    pub(super) fn validate(&self) -> Result<StockOptions, SettingsError> {
        let key = |k: &str| format!("universe.stock_options.{k}");
        let underlyings = match &self.underlyings {
            RawStockList::Word(w) if w.eq_ignore_ascii_case("all") => StockSet::All,
            RawStockList::Word(w) => {
                return Err(SettingsError::new(
                    key("underlyings"),
                    format!("expected \"all\" or a list of NSE symbols, found `{w}`"),
                ));
            }
            RawStockList::List(list) => {
                let symbols: Vec<String> = list
                    .iter()
                    .map(|s| s.trim().to_ascii_uppercase())
                    .filter(|s| !s.is_empty())
                    .collect();
                if symbols.is_empty() {
                    return Err(SettingsError::new(
                        key("underlyings"),
                        "name at least one NSE symbol, or \"all\"",
                    ));
                }
                StockSet::List(symbols)
            }
        };
        if self.monthlies == 0 {
            return Err(SettingsError::new(key("monthlies"), "must be at least 1"));
        }
        let strikes = StrikeWindow::parse(&self.strikes).ok_or_else(|| {
            SettingsError::new(
                key("strikes"),
                format!(
                    "`{}` is not `all`, a number of strikes, or a percentage like `5%`",
                    self.strikes
                ),
            )
        })?;
        Ok(StockOptions {
            underlyings,
            monthlies: self.monthlies,
            strikes,
        })
    }
}
