//! The day's plan: the configured universe resolved against Kite's instruments dump
//! ([`resolve_instruments`]), dealt over the sockets ([`deal`]), and kept for the day
//! ([`SavedPlan`]).
//!
//! Pure, so it is tested on generated dumps. Weekly vs monthly is read from the dump's `expiry`
//! column: the last expiry of an underlying in a calendar month is its monthly. No weekday
//! arithmetic.

mod deal;
mod resolve;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::kite::Mode;
pub use crate::kite::instruments::{DumpRow, dedupe_dump, parse_dump};
use crate::settings::universe::Universe;
pub use deal::deal;
pub use resolve::{resolve_instruments, spot_keys};

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

impl From<crate::kite::instruments::DumpError> for PlanError {
    fn from(e: crate::kite::instruments::DumpError) -> Self {
        PlanError::BadDump(e.0)
    }
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
    /// No instruments and no sockets (the store role's day).
    pub fn empty(date: NaiveDate) -> SubscriptionPlan {
        SubscriptionPlan {
            date,
            instruments: Vec::new(),
            sockets: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// The instrument snapshot's rows: what was subscribed, on which socket, in which mode.
    pub fn instrument_rows(&self) -> Vec<crate::storage::models::NewInstrument> {
        self.instruments
            .iter()
            .map(|p| crate::storage::models::NewInstrument {
                trade_date: self.date,
                instrument_token: i64::from(p.row.instrument_token),
                tradingsymbol: p.row.tradingsymbol.clone(),
                name: p.row.name.clone(),
                expiry: p.row.expiry,
                strike: p.row.strike,
                instrument_type: p.row.instrument_type.clone(),
                segment: p.row.segment.clone(),
                exchange: p.row.exchange.clone(),
                lot_size: p.row.lot_size,
                tick_size: p.row.tick_size,
                socket: self.socket_of(p.row.instrument_token).map(|s| s as i16),
                mode: Some(p.mode.as_str().to_string()),
            })
            .collect()
    }

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
