//! Kite's instruments dump: the CSV format (its header, which the simulator writes too) and
//! its rows.

use std::collections::HashMap;

use chrono::NaiveDate;

/// The dump's header, column for column.
pub const CSV_HEADER: &str = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange";

/// Why a dump cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DumpError(pub String);

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

/// Parses the dump's CSV (header checked).
pub fn parse_dump(csv_bytes: &[u8]) -> Result<Vec<DumpRow>, DumpError> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let header = reader
        .headers()
        .map_err(|e| DumpError(e.to_string()))?
        .clone();
    let want = CSV_HEADER.split(',').collect::<Vec<_>>();
    if header.iter().collect::<Vec<_>>() != want {
        return Err(DumpError(format!(
            "unexpected header {:?}",
            header.iter().collect::<Vec<_>>()
        )));
    }
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let r = record.map_err(|e| DumpError(format!("row {}: {e}", n + 2)))?;
        let bad = |what: &str| DumpError(format!("row {}: bad {what}", n + 2));
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
