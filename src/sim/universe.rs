//! The simulator's instrument universe for one trading date, deterministic per seed: indices,
//! about 500 NSE equities, futures, and index and stock options, with Kite's symbols, real lot
//! and tick sizes, and `instrument_token = exchange_token * 256 + segment` always.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::expiry::{self, Underlying};
use crate::calendar::TradingCalendar;
use crate::kite::Segment;

/// How the market model prices an instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pricing {
    /// An index: its underlying's level.
    Index,
    /// A stock: its underlying's price.
    Equity,
    /// A future: the underlying carried to expiry.
    Future,
    /// A call (`true`) or put on the underlying at `strike` (rupees).
    Option {
        /// Strike in rupees.
        strike: f64,
        /// Call or put.
        call: bool,
    },
}

/// One row of the instruments dump, plus what the market model needs.
#[derive(Debug, Clone)]
pub struct Instrument {
    /// `exchange_token * 256 + segment`.
    pub token: u32,
    /// The exchange's own token.
    pub exchange_token: u32,
    /// Kite's trading symbol.
    pub tradingsymbol: String,
    /// Company name, index name, or the underlying's root for derivatives.
    pub name: String,
    /// Expiry date of a derivative.
    pub expiry: Option<NaiveDate>,
    /// Strike of an option (0 otherwise).
    pub strike: f64,
    /// Price step in rupees.
    pub tick_size: f64,
    /// Contract size.
    pub lot_size: u32,
    /// `EQ`, `FUT`, `CE` or `PE`.
    pub instrument_type: &'static str,
    /// `INDICES`, `NSE`, `BSE`, `NFO-FUT`, `NFO-OPT`.
    pub segment: &'static str,
    /// `NSE`, `BSE` or `NFO`.
    pub exchange: &'static str,
    /// Index into [`Universe::underlyings`].
    pub underlying: usize,
    /// How it is priced.
    pub pricing: Pricing,
}

impl Instrument {
    /// `EXCHANGE:TRADINGSYMBOL`, the key quotes are asked by.
    pub fn key(&self) -> String {
        format!("{}:{}", self.exchange, self.tradingsymbol)
    }

    /// The price step in wire units.
    pub fn tick_raw(&self) -> u32 {
        let divisor = f64::from(Segment::of_token(self.token).price_divisor());
        ((self.tick_size * divisor).round() as u32).max(1)
    }
}

/// Something whose price moves by itself: an index or a stock.
#[derive(Debug, Clone)]
pub struct UnderlyingSpec {
    /// Index name or stock symbol.
    pub name: String,
    /// Level at the start of the day (the previous close).
    pub spot: f64,
    /// Annualised volatility used for the walk and for option prices.
    pub vol: f64,
}

/// All instruments of a trading date.
#[derive(Debug, Clone)]
pub struct Universe {
    /// The trading date the dump is for.
    pub date: NaiveDate,
    /// Every instrument, in dump order.
    pub instruments: Vec<Instrument>,
    /// What moves.
    pub underlyings: Vec<UnderlyingSpec>,
    by_token: HashMap<u32, usize>,
    by_key: HashMap<String, usize>,
}

/// The dump's header line, exactly (PROTOCOL.md §3.4).
pub use crate::kite::instruments::CSV_HEADER;

/// An index of the universe and, for NSE's F&O indices, its derivatives.
struct IndexSpec {
    symbol: &'static str,
    exchange_token: u32,
    exchange: &'static str,
    level: f64,
    vol: f64,
    derivatives: Option<IndexDerivatives>,
}

/// The indices, at levels of late 2026 (each seed moves them by up to ±2 %).
const INDICES: [IndexSpec; 6] = [
    IndexSpec {
        symbol: "NIFTY 50",
        exchange_token: 1001,
        exchange: "NSE",
        level: 26_050.0,
        vol: 0.13,
        derivatives: Some(IndexDerivatives {
            root: "NIFTY",
            kind: Underlying::Nifty,
            interval: 50.0,
            strikes_each_side: 100,
            lot: 65,
            weeklies: 4,
            monthlies: 3,
        }),
    },
    IndexSpec {
        symbol: "NIFTY BANK",
        exchange_token: 1016,
        exchange: "NSE",
        level: 59_100.0,
        vol: 0.15,
        derivatives: Some(IndexDerivatives {
            root: "BANKNIFTY",
            kind: Underlying::BankNifty,
            interval: 100.0,
            strikes_each_side: 60,
            lot: 30,
            weeklies: 0,
            monthlies: 3,
        }),
    },
    IndexSpec {
        symbol: "NIFTY FIN SERVICE",
        exchange_token: 1007,
        exchange: "NSE",
        level: 27_600.0,
        vol: 0.14,
        derivatives: Some(IndexDerivatives {
            root: "FINNIFTY",
            kind: Underlying::FinNifty,
            interval: 50.0,
            strikes_each_side: 40,
            lot: 60,
            weeklies: 0,
            monthlies: 3,
        }),
    },
    IndexSpec {
        symbol: "NIFTY MID SELECT",
        exchange_token: 1125,
        exchange: "NSE",
        level: 13_650.0,
        vol: 0.17,
        derivatives: Some(IndexDerivatives {
            root: "MIDCPNIFTY",
            kind: Underlying::MidcpNifty,
            interval: 25.0,
            strikes_each_side: 40,
            lot: 120,
            weeklies: 0,
            monthlies: 3,
        }),
    },
    IndexSpec {
        symbol: "SENSEX",
        exchange_token: 1,
        exchange: "BSE",
        level: 85_300.0,
        vol: 0.13,
        derivatives: None,
    },
    IndexSpec {
        symbol: "INDIA VIX",
        exchange_token: 1035,
        exchange: "NSE",
        level: 12.4,
        vol: 0.9,
        derivatives: None,
    },
];

#[derive(Debug, Clone, Copy)]
struct IndexDerivatives {
    root: &'static str,
    kind: Underlying,
    interval: f64,
    strikes_each_side: u32,
    lot: u32,
    weeklies: usize,
    monthlies: usize,
}

/// Well-known NSE equities (symbol, exchange token, name); the rest of the ~500 are generated.
const EQUITIES: &[(&str, u32, &str)] = &[
    ("RELIANCE", 2885, "RELIANCE INDUSTRIES"),
    ("HDFCBANK", 1333, "HDFC BANK"),
    ("ICICIBANK", 4963, "ICICI BANK"),
    ("INFY", 1594, "INFOSYS"),
    ("TCS", 11536, "TATA CONSULTANCY SERV LT"),
    ("BHARTIARTL", 10604, "BHARTI AIRTEL"),
    ("SBIN", 3045, "STATE BANK OF INDIA"),
    ("ITC", 1660, "ITC"),
    ("LT", 11483, "LARSEN & TOUBRO"),
    ("HINDUNILVR", 1394, "HINDUSTAN UNILEVER"),
    ("KOTAKBANK", 1922, "KOTAK MAHINDRA BANK"),
    ("AXISBANK", 5900, "AXIS BANK"),
    ("BAJFINANCE", 317, "BAJAJ FINANCE"),
    ("MARUTI", 10999, "MARUTI SUZUKI INDIA"),
    ("M&M", 2031, "MAHINDRA & MAHINDRA"),
    ("SUNPHARMA", 3351, "SUN PHARMACEUTICAL IND L"),
    ("HCLTECH", 7229, "HCL TECHNOLOGIES"),
    ("NTPC", 11630, "NTPC"),
    ("TITAN", 3506, "TITAN COMPANY"),
    ("ULTRACEMCO", 11532, "ULTRATECH CEMENT"),
    ("ASIANPAINT", 236, "ASIAN PAINTS"),
    ("ONGC", 2475, "OIL AND NATURAL GAS CORP."),
    ("POWERGRID", 14977, "POWER GRID CORP. LTD."),
    ("TATASTEEL", 3499, "TATA STEEL"),
    ("ADANIPORTS", 15083, "ADANI PORT & SEZ"),
    ("ADANIENT", 25, "ADANI ENTERPRISES"),
    ("WIPRO", 3787, "WIPRO"),
    ("JSWSTEEL", 11723, "JSW STEEL"),
    ("COALINDIA", 20374, "COAL INDIA"),
    ("BAJAJFINSV", 16675, "BAJAJ FINSERV"),
    ("NESTLEIND", 17963, "NESTLE INDIA"),
    ("TECHM", 13538, "TECH MAHINDRA"),
    ("GRASIM", 1232, "GRASIM INDUSTRIES"),
    ("HINDALCO", 1363, "HINDALCO INDUSTRIES"),
    ("BAJAJ-AUTO", 16669, "BAJAJ AUTO"),
    ("SBILIFE", 21808, "SBI LIFE INSURANCE CO"),
    ("HDFCLIFE", 467, "HDFC LIFE INS CO"),
    ("DRREDDY", 881, "DR. REDDY S LABORATORIES"),
    ("CIPLA", 694, "CIPLA"),
    ("EICHERMOT", 910, "EICHER MOTORS"),
    ("BRITANNIA", 547, "BRITANNIA INDUSTRIES"),
    ("INDUSINDBK", 5258, "INDUSIND BANK"),
    ("HEROMOTOCO", 1348, "HERO MOTOCORP"),
    ("APOLLOHOSP", 157, "APOLLO HOSPITALS ENTER. L"),
    ("BPCL", 526, "BHARAT PETROLEUM CORP  LT"),
    ("TATACONSUM", 3432, "TATA CONSUMER PRODUCT"),
    ("DIVISLAB", 10940, "DIVI S LABORATORIES"),
    ("SHREECEM", 3103, "SHREE CEMENT"),
    ("UPL", 11287, "UPL"),
    ("DLF", 14732, "DLF"),
    ("VEDL", 3063, "VEDANTA"),
    ("PIDILITIND", 2664, "PIDILITE INDUSTRIES"),
    ("HAVELLS", 9819, "HAVELLS INDIA"),
    ("GODREJCP", 10099, "GODREJ CONSUMER PRODUCTS"),
    ("DABUR", 772, "DABUR INDIA"),
    ("SIEMENS", 3150, "SIEMENS"),
    ("AMBUJACEM", 1270, "AMBUJA CEMENTS"),
    ("BANKBARODA", 4668, "BANK OF BARODA"),
    ("PNB", 10666, "PUNJAB NATIONAL BANK"),
    ("CANBK", 10794, "CANARA BANK"),
    ("TATAPOWER", 3426, "TATA POWER CO"),
    ("GAIL", 4717, "GAIL (INDIA)"),
    ("IOC", 1624, "INDIAN OIL CORP"),
    ("HAL", 2303, "HINDUSTAN AERONAUTICS"),
    ("BEL", 383, "BHARAT ELECTRONICS"),
    ("TRENT", 1964, "TRENT"),
    ("ZYDUSLIFE", 7929, "ZYDUS LIFESCIENCES"),
    ("LUPIN", 10440, "LUPIN"),
    ("AUROPHARMA", 275, "AUROBINDO PHARMA"),
    ("MARICO", 4067, "MARICO"),
    ("BERGEPAINT", 404, "BERGER PAINTS (I)"),
    ("COLPAL", 15141, "COLGATE PALMOLIVE"),
    ("MUTHOOTFIN", 23650, "MUTHOOT FINANCE"),
    ("CHOLAFIN", 685, "CHOLAMANDALAM IN & FIN CO"),
    ("ICICIGI", 21770, "ICICI LOMBARD GIC"),
    ("NAUKRI", 13751, "INFO EDGE (I)"),
    ("LTIM", 17818, "LTIMINDTREE"),
    ("PERSISTENT", 18365, "PERSISTENT SYSTEMS"),
    ("MPHASIS", 4503, "MPHASIS"),
    ("COFORGE", 11543, "COFORGE"),
    // The rest of NSE's NIFTY 200 (ind_nifty200list.csv, July 2026), so its constituent list
    // resolves here; their exchange tokens are the simulator's own.
    ("360ONE", 50001, "360 ONE WAM"),
    ("ABB", 50002, "ABB INDIA"),
    ("APLAPOLLO", 50003, "APL APOLLO TUBES"),
    ("AUBANK", 50004, "AU SMALL FINANCE BANK"),
    ("ADANIENSOL", 50005, "ADANI ENERGY SOLUTIONS"),
    ("ADANIGREEN", 50006, "ADANI GREEN ENERGY"),
    ("ADANIPOWER", 50007, "ADANI POWER"),
    ("ATGL", 50008, "ADANI TOTAL GAS"),
    ("ABCAPITAL", 50009, "ADITYA BIRLA CAPITAL"),
    ("ALKEM", 50010, "ALKEM LABORATORIES"),
    ("ASHOKLEY", 50011, "ASHOK LEYLAND"),
    ("ASTRAL", 50012, "ASTRAL"),
    ("DMART", 50013, "AVENUE SUPERMARTS"),
    ("BSE", 50014, "BSE"),
    ("BAJAJHLDNG", 50015, "BAJAJ HOLDINGS & INVESTMENT"),
    ("BANKINDIA", 50016, "BANK OF INDIA"),
    ("BDL", 50017, "BHARAT DYNAMICS"),
    ("BHARATFORG", 50018, "BHARAT FORGE"),
    ("BHEL", 50019, "BHARAT HEAVY ELECTRICALS"),
    ("GROWW", 50020, "BILLIONBRAINS GARAGE VENTURES"),
    ("BIOCON", 50021, "BIOCON"),
    ("BLUESTARCO", 50022, "BLUE STAR"),
    ("BOSCHLTD", 50023, "BOSCH"),
    ("CGPOWER", 50024, "CG POWER AND INDUSTRIAL SOLUTIONS"),
    ("COCHINSHIP", 50025, "COCHIN SHIPYARD"),
    ("CONCOR", 50026, "CONTAINER CORPORATION OF INDIA"),
    ("COROMANDEL", 50027, "COROMANDEL INTERNATIONAL"),
    ("CUMMINSIND", 50028, "CUMMINS INDIA"),
    ("DIXON", 50029, "DIXON TECHNOLOGIES (INDIA)"),
    ("ETERNAL", 50030, "ETERNAL"),
    ("EXIDEIND", 50031, "EXIDE INDUSTRIES"),
    ("NYKAA", 50032, "FSN E-COMMERCE VENTURES"),
    ("FEDERALBNK", 50033, "FEDERAL BANK"),
    ("FORTIS", 50034, "FORTIS HEALTHCARE"),
    ("GVT&D", 50035, "GE VERNOVA T&D INDIA"),
    ("GMRAIRPORT", 50036, "GMR AIRPORTS"),
    ("GLENMARK", 50037, "GLENMARK PHARMACEUTICALS"),
    ("GODFRYPHLP", 50038, "GODFREY PHILLIPS INDIA"),
    ("GODREJPROP", 50039, "GODREJ PROPERTIES"),
    ("HDFCAMC", 50040, "HDFC ASSET MANAGEMENT COMPANY"),
    ("HINDPETRO", 50041, "HINDUSTAN PETROLEUM CORPORATION"),
    ("HINDZINC", 50042, "HINDUSTAN ZINC"),
    ("POWERINDIA", 50043, "HITACHI ENERGY INDIA"),
    ("HUDCO", 50044, "HOUSING & URBAN DEVELOPMENT CORPORATION"),
    ("HYUNDAI", 50045, "HYUNDAI MOTOR INDIA"),
    (
        "ICICIAMC",
        50046,
        "ICICI PRUDENTIAL ASSET MANAGEMENT COMPANY",
    ),
    ("IDFCFIRSTB", 50047, "IDFC FIRST BANK"),
    ("INDIANB", 50048, "INDIAN BANK"),
    ("INDHOTEL", 50049, "INDIAN HOTELS CO."),
    (
        "IRCTC",
        50050,
        "INDIAN RAILWAY CATERING AND TOURISM CORPORATION",
    ),
    ("IRFC", 50051, "INDIAN RAILWAY FINANCE CORPORATION"),
    ("IREDA", 50052, "INDIAN RENEWABLE ENERGY DEVELOPMENT AGENCY"),
    ("INDUSTOWER", 50053, "INDUS TOWERS"),
    ("INDIGO", 50054, "INTERGLOBE AVIATION"),
    ("JSWENERGY", 50055, "JSW ENERGY"),
    ("JINDALSTEL", 50056, "JINDAL STEEL"),
    ("JIOFIN", 50057, "JIO FINANCIAL SERVICES"),
    ("JUBLFOOD", 50058, "JUBILANT FOODWORKS"),
    ("KEI", 50059, "KEI INDUSTRIES"),
    ("KPITTECH", 50060, "KPIT TECHNOLOGIES"),
    ("KALYANKJIL", 50061, "KALYAN JEWELLERS INDIA"),
    ("LTF", 50062, "L&T FINANCE"),
    ("LGEINDIA", 50063, "LG ELECTRONICS INDIA"),
    ("LICHSGFIN", 50064, "LIC HOUSING FINANCE"),
    ("LTM", 50065, "LTM"),
    ("LAURUSLABS", 50066, "LAURUS LABS"),
    ("LENSKART", 50067, "LENSKART SOLUTIONS"),
    ("LODHA", 50068, "LODHA DEVELOPERS"),
    ("MRF", 50069, "MRF"),
    ("M&MFIN", 50070, "MAHINDRA & MAHINDRA FINANCIAL SERVICES"),
    ("MANKIND", 50071, "MANKIND PHARMA"),
    ("MFSL", 50072, "MAX FINANCIAL SERVICES"),
    ("MAXHEALTH", 50073, "MAX HEALTHCARE INSTITUTE"),
    ("MAZDOCK", 50074, "MAZAGOAN DOCK SHIPBUILDERS"),
    ("MOTILALOFS", 50075, "MOTILAL OSWAL FINANCIAL SERVICES"),
    ("MCX", 50076, "MULTI COMMODITY EXCHANGE OF INDIA"),
    ("NHPC", 50077, "NHPC"),
    ("NMDC", 50078, "NMDC"),
    ("NATIONALUM", 50079, "NATIONAL ALUMINIUM CO."),
    ("OBEROIRLTY", 50080, "OBEROI REALTY"),
    ("OIL", 50081, "OIL INDIA"),
    ("PAYTM", 50082, "ONE 97 COMMUNICATIONS"),
    ("OFSS", 50083, "ORACLE FINANCIAL SERVICES SOFTWARE"),
    ("POLICYBZR", 50084, "PB FINTECH"),
    ("PIIND", 50085, "PI INDUSTRIES"),
    ("PAGEIND", 50086, "PAGE INDUSTRIES"),
    ("PATANJALI", 50087, "PATANJALI FOODS"),
    ("PHOENIXLTD", 50088, "PHOENIX MILLS"),
    ("POLYCAB", 50089, "POLYCAB INDIA"),
    ("PFC", 50090, "POWER FINANCE CORPORATION"),
    ("PREMIERENE", 50091, "PREMIER ENERGIES"),
    ("PRESTIGE", 50092, "PRESTIGE ESTATES PROJECTS"),
    ("RECLTD", 50093, "REC"),
    ("RADICO", 50094, "RADICO KHAITAN"),
    ("RVNL", 50095, "RAIL VIKAS NIGAM"),
    ("SBICARD", 50096, "SBI CARDS AND PAYMENT SERVICES"),
    ("SRF", 50097, "SRF"),
    ("MOTHERSON", 50098, "SAMVARDHANA MOTHERSON INTERNATIONAL"),
    ("SHRIRAMFIN", 50099, "SHRIRAM FINANCE"),
    ("ENRIN", 50100, "SIEMENS ENERGY INDIA"),
    ("SOLARINDS", 50101, "SOLAR INDUSTRIES INDIA"),
    ("SAIL", 50102, "STEEL AUTHORITY OF INDIA"),
    ("SUPREMEIND", 50103, "SUPREME INDUSTRIES"),
    ("SUZLON", 50104, "SUZLON ENERGY"),
    ("SWIGGY", 50105, "SWIGGY"),
    ("TVSMOTOR", 50106, "TVS MOTOR COMPANY"),
    ("TATACAP", 50107, "TATA CAPITAL"),
    ("TATACOMM", 50108, "TATA COMMUNICATIONS"),
    ("TATAELXSI", 50109, "TATA ELXSI"),
    ("TATAINVEST", 50110, "TATA INVESTMENT CORPORATION"),
    ("TMCV", 50111, "TATA MOTORS"),
    ("TMPV", 50112, "TATA MOTORS PASSENGER VEHICLES"),
    ("TORNTPHARM", 50113, "TORRENT PHARMACEUTICALS"),
    ("TIINDIA", 50114, "TUBE INVESTMENTS OF INDIA"),
    ("UNIONBANK", 50115, "UNION BANK OF INDIA"),
    ("UNITDSPR", 50116, "UNITED SPIRITS"),
    ("VBL", 50117, "VARUN BEVERAGES"),
    ("VMM", 50118, "VISHAL MEGA MART"),
    ("IDEA", 50119, "VODAFONE IDEA"),
    ("VOLTAS", 50120, "VOLTAS"),
    ("WAAREEENER", 50121, "WAAREE ENERGIES"),
    ("YESBANK", 50122, "YES BANK"),
];

/// How many stocks have derivatives (the first ones of the equity list).
const FNO_STOCKS: usize = 150;
/// Equities in the dump.
const EQUITY_COUNT: usize = 500;
/// Futures months listed.
const FUTURE_MONTHS: usize = 3;
/// Stock option expiries listed (monthly).
const STOCK_OPTION_MONTHS: usize = 2;
/// Stock option strikes each side of the money.
const STOCK_STRIKES_EACH_SIDE: u32 = 10;

/// Strike interval NSE uses for a stock at `price`.
fn stock_strike_interval(price: f64) -> f64 {
    match price {
        p if p < 100.0 => 1.0,
        p if p < 250.0 => 2.5,
        p if p < 500.0 => 5.0,
        p if p < 1000.0 => 10.0,
        p if p < 2500.0 => 20.0,
        p if p < 5000.0 => 50.0,
        _ => 100.0,
    }
}

/// A lot worth about ₹6 lakh, rounded to a multiple of 25 (at least 25).
fn stock_lot(price: f64) -> u32 {
    let lots = (600_000.0 / price / 25.0).round().max(1.0);
    lots as u32 * 25
}

struct Builder {
    instruments: Vec<Instrument>,
    nfo_token: u32,
}

impl Builder {
    fn push(&mut self, mut i: Instrument, segment_code: u32) {
        i.token = i.exchange_token * 256 + segment_code;
        self.instruments.push(i);
    }

    fn next_nfo(&mut self) -> u32 {
        self.nfo_token += 1;
        self.nfo_token
    }
}

impl Universe {
    /// The universe of `date` for `seed`. Expiries follow `cal`.
    pub fn generate(date: NaiveDate, seed: u64, cal: &TradingCalendar) -> Universe {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut underlyings = Vec::new();
        let mut b = Builder {
            instruments: Vec::with_capacity(20_000),
            nfo_token: 35_000,
        };
        // Indices and their derivatives.
        let mut index_derivatives = Vec::new();
        for IndexSpec {
            symbol,
            exchange_token,
            exchange,
            level,
            vol,
            derivatives,
        } in INDICES
        {
            let spot = round_to(level * (1.0 + (rng.f64() - 0.5) * 0.04), 0.05);
            let underlying = underlyings.len();
            underlyings.push(UnderlyingSpec {
                name: symbol.to_string(),
                spot,
                vol,
            });
            b.push(
                Instrument {
                    token: 0,
                    exchange_token,
                    tradingsymbol: symbol.to_string(),
                    name: symbol.to_string(),
                    expiry: None,
                    strike: 0.0,
                    tick_size: 0.05,
                    lot_size: 0,
                    instrument_type: "EQ",
                    segment: "INDICES",
                    exchange,
                    underlying,
                    pricing: Pricing::Index,
                },
                9,
            );
            if let Some(d) = derivatives {
                index_derivatives.push((underlying, d));
            }
        }
        // Equities.
        for n in 0..EQUITY_COUNT {
            let (symbol, exchange_token, name) = match EQUITIES.get(n) {
                Some((s, t, name)) => (s.to_string(), *t, name.to_string()),
                None => (
                    format!("SIMSTK{n:03}"),
                    30_000 + n as u32,
                    format!("SIMULATED STOCK {n:03}"),
                ),
            };
            let price = round_to(
                (80f64.ln() + rng.f64() * (4000f64.ln() - 80f64.ln())).exp(),
                0.05,
            );
            let underlying = underlyings.len();
            underlyings.push(UnderlyingSpec {
                name: symbol.clone(),
                spot: price,
                vol: 0.2 + rng.f64() * 0.2,
            });
            b.push(
                Instrument {
                    token: 0,
                    exchange_token,
                    tradingsymbol: symbol,
                    name,
                    expiry: None,
                    strike: 0.0,
                    tick_size: if price < 250.0 { 0.01 } else { 0.05 },
                    lot_size: 1,
                    instrument_type: "EQ",
                    segment: "NSE",
                    exchange: "NSE",
                    underlying,
                    pricing: Pricing::Equity,
                },
                1,
            );
        }
        // Index futures and options.
        for (underlying, d) in index_derivatives {
            let spot = underlyings[underlying].spot;
            for expiry in expiry::monthly_expiries(d.kind, date, FUTURE_MONTHS, cal) {
                let t = b.next_nfo();
                b.push(future(t, d.root, expiry, d.lot, underlying), 2);
            }
            let atm = (spot / d.interval).round() * d.interval;
            let weekly = expiry::weekly_expiries(d.kind, date, d.weeklies, cal);
            let monthly = expiry::monthly_expiries(d.kind, date, d.monthlies, cal);
            let mut expiries: Vec<(NaiveDate, bool)> = weekly
                .into_iter()
                .map(|e| (e, true))
                .chain(monthly.into_iter().map(|e| (e, false)))
                .collect();
            expiries.sort();
            for (expiry, is_weekly) in expiries {
                for k in -(d.strikes_each_side as i64)..=d.strikes_each_side as i64 {
                    let strike = atm + k as f64 * d.interval;
                    for call in [true, false] {
                        let t = b.next_nfo();
                        b.push(
                            option(
                                t, d.root, expiry, is_weekly, strike, call, d.lot, underlying,
                            ),
                            2,
                        );
                    }
                }
            }
        }
        // Stock futures and options, for the first FNO_STOCKS equities.
        let stocks: Vec<(usize, String, f64)> = (0..FNO_STOCKS)
            .map(|n| {
                let u = INDICES.len() + n;
                (u, underlyings[u].name.clone(), underlyings[u].spot)
            })
            .collect();
        let stock_months = expiry::monthly_expiries(Underlying::Stock, date, FUTURE_MONTHS, cal);
        for (underlying, root, price) in stocks {
            let lot = stock_lot(price);
            for expiry in &stock_months {
                let t = b.next_nfo();
                b.push(future(t, &root, *expiry, lot, underlying), 2);
            }
            let interval = stock_strike_interval(price);
            let atm = (price / interval).round() * interval;
            for expiry in stock_months.iter().take(STOCK_OPTION_MONTHS) {
                for k in -(STOCK_STRIKES_EACH_SIDE as i64)..=STOCK_STRIKES_EACH_SIDE as i64 {
                    let strike = atm + k as f64 * interval;
                    if strike <= 0.0 {
                        continue;
                    }
                    for call in [true, false] {
                        let t = b.next_nfo();
                        b.push(
                            option(t, &root, *expiry, false, strike, call, lot, underlying),
                            2,
                        );
                    }
                }
            }
        }
        let instruments = b.instruments;
        let by_token = instruments
            .iter()
            .enumerate()
            .map(|(i, x)| (x.token, i))
            .collect();
        let by_key = instruments
            .iter()
            .enumerate()
            .map(|(i, x)| (x.key(), i))
            .collect();
        Universe {
            date,
            instruments,
            underlyings,
            by_token,
            by_key,
        }
    }

    /// The instrument with this token.
    pub fn by_token(&self, token: u32) -> Option<&Instrument> {
        self.by_token.get(&token).map(|i| &self.instruments[*i])
    }

    /// The instrument with this `EXCHANGE:TRADINGSYMBOL` key.
    pub fn by_key(&self, key: &str) -> Option<&Instrument> {
        self.by_key.get(key).map(|i| &self.instruments[*i])
    }

    /// The instruments dump as CSV, for all exchanges or one, with the exact header.
    pub fn csv(&self, exchange: Option<&str>, last_prices: impl Fn(&Instrument) -> f64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.instruments.len() * 80);
        out.extend_from_slice(CSV_HEADER.as_bytes());
        out.push(b'\n');
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        for i in self
            .instruments
            .iter()
            .filter(|i| exchange.is_none_or(|e| e == i.exchange))
        {
            let expiry = i.expiry.map(|e| e.to_string()).unwrap_or_default();
            // A csv writer into a Vec cannot fail.
            let _ = w.write_record([
                i.token.to_string().as_str(),
                i.exchange_token.to_string().as_str(),
                i.tradingsymbol.as_str(),
                i.name.as_str(),
                float_text(last_prices(i)).as_str(),
                expiry.as_str(),
                float_text(i.strike).as_str(),
                float_text(i.tick_size).as_str(),
                i.lot_size.to_string().as_str(),
                i.instrument_type,
                i.segment,
                i.exchange,
            ]);
        }
        w.into_inner().unwrap_or_default()
    }
}

/// A float as Python's `str(float)` writes it: `0.0`, `2528.4`, `0.05`.
fn float_text(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').to_string()
    }
}

fn round_to(v: f64, step: f64) -> f64 {
    ((v / step).round() * step * 100.0).round() / 100.0
}

fn future(
    exchange_token: u32,
    root: &str,
    expiry: NaiveDate,
    lot: u32,
    underlying: usize,
) -> Instrument {
    Instrument {
        token: 0,
        exchange_token,
        tradingsymbol: expiry::future_symbol(root, expiry),
        name: root.to_string(),
        expiry: Some(expiry),
        strike: 0.0,
        tick_size: 0.1,
        lot_size: lot,
        instrument_type: "FUT",
        segment: "NFO-FUT",
        exchange: "NFO",
        underlying,
        pricing: Pricing::Future,
    }
}

#[allow(clippy::too_many_arguments)]
fn option(
    exchange_token: u32,
    root: &str,
    expiry: NaiveDate,
    weekly: bool,
    strike: f64,
    call: bool,
    lot: u32,
    underlying: usize,
) -> Instrument {
    let right = if call { "CE" } else { "PE" };
    let tradingsymbol = if weekly {
        expiry::weekly_option_symbol(root, expiry, strike, right)
    } else {
        expiry::monthly_option_symbol(root, expiry, strike, right)
    };
    Instrument {
        token: 0,
        exchange_token,
        tradingsymbol,
        name: root.to_string(),
        expiry: Some(expiry),
        strike,
        tick_size: 0.05,
        lot_size: lot,
        instrument_type: right,
        segment: "NFO-OPT",
        exchange: "NFO",
        underlying,
        pricing: Pricing::Option { strike, call },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn universe() -> Universe {
        Universe::generate(
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            7,
            &TradingCalendar::nse(),
        )
    }

    #[test]
    fn tokens_are_unique_and_follow_the_invariant() {
        let u = universe();
        assert!(
            u.instruments.len() > 9_001,
            "room for the 3 × 3000 benchmark: {}",
            u.instruments.len()
        );
        let mut seen = HashSet::new();
        let mut keys = HashSet::new();
        for i in &u.instruments {
            assert!(seen.insert(i.token), "duplicate token {}", i.token);
            assert!(keys.insert(i.key()), "duplicate symbol {}", i.key());
            let seg = match i.segment {
                "INDICES" => 9,
                "NSE" => 1,
                "BSE" => 4,
                _ => 2,
            };
            assert_eq!(i.token, i.exchange_token * 256 + seg, "{}", i.tradingsymbol);
        }
        assert_eq!(u.by_key("NSE:NIFTY 50").map(|i| i.token), Some(256_265));
        assert_eq!(u.by_key("NSE:NIFTY BANK").map(|i| i.token), Some(260_105));
        assert_eq!(u.by_key("BSE:SENSEX").map(|i| i.token), Some(265));
        assert_eq!(u.by_key("NSE:INFY").map(|i| i.token), Some(408_065));
    }

    #[test]
    fn the_same_seed_gives_the_same_dump() {
        let a = universe();
        let b = universe();
        assert_eq!(a.csv(None, |_| 0.0), b.csv(None, |_| 0.0));
        let other = Universe::generate(a.date, 8, &TradingCalendar::nse());
        assert_ne!(a.underlyings[0].spot, other.underlyings[0].spot);
    }

    #[test]
    fn derivatives_have_kite_symbols_and_expiries() {
        let u = universe();
        // The November monthly moved from Tuesday 24th (a holiday) to Monday 23rd.
        let fut = u.by_key("NFO:NIFTY26NOVFUT").expect("current-month future");
        assert_eq!(fut.expiry, NaiveDate::from_ymd_opt(2026, 11, 23));
        assert_eq!(fut.lot_size, 65);
        let weekly = u
            .instruments
            .iter()
            .find(|i| i.tradingsymbol.starts_with("NIFTY26D01") && i.instrument_type == "CE")
            .expect("a weekly for 1 December");
        assert_eq!(weekly.expiry, NaiveDate::from_ymd_opt(2026, 12, 1));
        assert!(u.instruments.iter().any(|i| i.tradingsymbol.starts_with("BANKNIFTY26DEC") && i.instrument_type == "PE"));
        assert!(
            !u.instruments.iter().any(|i| i
                .tradingsymbol
                .strip_prefix("BANKNIFTY26D")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))),
            "no BANKNIFTY weeklies"
        );
    }

    #[test]
    fn csv_has_the_exact_header_and_twelve_columns() {
        let u = universe();
        let csv = String::from_utf8(u.csv(Some("NSE"), |i| {
            if i.pricing == Pricing::Index {
                0.0
            } else {
                123.45
            }
        }))
        .unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(CSV_HEADER));
        let nifty = csv.lines().find(|l| l.starts_with("256265,")).unwrap();
        assert_eq!(
            nifty,
            "256265,1001,NIFTY 50,NIFTY 50,0.0,,0.0,0.05,0,EQ,INDICES,NSE"
        );
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        for row in reader.records() {
            let row = row.unwrap();
            assert_eq!(row.len(), 12);
            assert_eq!(&row[11], "NSE");
            row[8].parse::<u32>().expect("integer lot size");
        }
    }
}
