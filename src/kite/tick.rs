//! Typed ticks as they arrive on the wire, with raw integer prices.
//!
//! A [`Tick`] keeps every price exactly as the exchange sent it (an integer in the segment's
//! smallest unit) so that nothing is lost between the socket and the database; scaled `f64`
//! values are derived on demand with the segment's divisor (PROTOCOL.md §1.8).

/// Streaming mode of a packet, inferred only from the packet's length (PROTOCOL.md §1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Last traded price only.
    Ltp,
    /// Quote without depth (and, for tradables, without OI and timestamps).
    Quote,
    /// Everything, including five levels of depth for tradables.
    Full,
}

impl Mode {
    /// The name Kite uses on the wire and the official clients use in their dicts.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Ltp => "ltp",
            Mode::Quote => "quote",
            Mode::Full => "full",
        }
    }

    /// Parses `ltp`, `quote` or `full`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "ltp" => Some(Mode::Ltp),
            "quote" => Some(Mode::Quote),
            "full" => Some(Mode::Full),
            _ => None,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The five packet layouts of Kite v3; the length alone decides which one a packet has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PacketKind {
    /// 8 bytes: token and last price (any segment).
    Ltp,
    /// 28 bytes: index quote (last, high, low, open, close, change).
    IndexQuote,
    /// 32 bytes: index quote plus exchange timestamp.
    IndexFull,
    /// 44 bytes: tradable quote.
    Quote,
    /// 184 bytes: tradable quote, timestamps, OI and 5+5 levels of depth.
    Full,
}

impl PacketKind {
    /// Every kind, in order of length.
    pub const ALL: [PacketKind; 5] = [
        PacketKind::Ltp,
        PacketKind::IndexQuote,
        PacketKind::IndexFull,
        PacketKind::Quote,
        PacketKind::Full,
    ];

    /// Length of this packet on the wire, in bytes.
    pub const fn wire_len(self) -> usize {
        match self {
            PacketKind::Ltp => 8,
            PacketKind::IndexQuote => 28,
            PacketKind::IndexFull => 32,
            PacketKind::Quote => 44,
            PacketKind::Full => 184,
        }
    }

    /// The kind a packet of `len` bytes has, if any.
    pub const fn from_wire_len(len: usize) -> Option<PacketKind> {
        match len {
            8 => Some(PacketKind::Ltp),
            28 => Some(PacketKind::IndexQuote),
            32 => Some(PacketKind::IndexFull),
            44 => Some(PacketKind::Quote),
            184 => Some(PacketKind::Full),
            _ => None,
        }
    }

    /// The mode the official clients report for this kind.
    pub const fn mode(self) -> Mode {
        match self {
            PacketKind::Ltp => Mode::Ltp,
            PacketKind::IndexQuote | PacketKind::Quote => Mode::Quote,
            PacketKind::IndexFull | PacketKind::Full => Mode::Full,
        }
    }

    /// The kind Kite sends for an instrument of `segment` streamed in `mode`.
    pub const fn for_mode(segment: Segment, mode: Mode) -> PacketKind {
        let index = matches!(segment, Segment::Indices);
        match (mode, index) {
            (Mode::Ltp, _) => PacketKind::Ltp,
            (Mode::Quote, true) => PacketKind::IndexQuote,
            (Mode::Full, true) => PacketKind::IndexFull,
            (Mode::Quote, false) => PacketKind::Quote,
            (Mode::Full, false) => PacketKind::Full,
        }
    }

    /// A short stable name, used in statistics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            PacketKind::Ltp => "ltp",
            PacketKind::IndexQuote => "index_quote",
            PacketKind::IndexFull => "index_full",
            PacketKind::Quote => "quote",
            PacketKind::Full => "full",
        }
    }
}

/// Exchange segment, the low byte of an instrument token (PROTOCOL.md §1.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// NSE cash market (1).
    Nse,
    /// NSE futures and options (2).
    Nfo,
    /// NSE currency derivatives (3), prices in 1e-7.
    Cds,
    /// BSE cash market (4).
    Bse,
    /// BSE futures and options (5).
    Bfo,
    /// BSE currency derivatives (6), prices in 1e-4.
    Bcd,
    /// MCX commodities (7).
    Mcx,
    /// MCX-SX (8).
    Mcxsx,
    /// NSE and BSE indices (9): not tradable, own packet layouts.
    Indices,
    /// NSE commodities (12), prices in 1e-4 as in the Python client 5.2.2.
    Nco,
    /// Any other code; prices in 1e-2.
    Other(u8),
}

impl Segment {
    /// The segment of an instrument token.
    pub const fn of_token(token: u32) -> Segment {
        Segment::from_code((token & 0xff) as u8)
    }

    /// The segment with this numeric code.
    pub const fn from_code(code: u8) -> Segment {
        match code {
            1 => Segment::Nse,
            2 => Segment::Nfo,
            3 => Segment::Cds,
            4 => Segment::Bse,
            5 => Segment::Bfo,
            6 => Segment::Bcd,
            7 => Segment::Mcx,
            8 => Segment::Mcxsx,
            9 => Segment::Indices,
            12 => Segment::Nco,
            other => Segment::Other(other),
        }
    }

    /// The numeric code (the token's low byte).
    pub const fn code(self) -> u8 {
        match self {
            Segment::Nse => 1,
            Segment::Nfo => 2,
            Segment::Cds => 3,
            Segment::Bse => 4,
            Segment::Bfo => 5,
            Segment::Bcd => 6,
            Segment::Mcx => 7,
            Segment::Mcxsx => 8,
            Segment::Indices => 9,
            Segment::Nco => 12,
            Segment::Other(code) => code,
        }
    }

    /// What a wire price is divided by to get rupees (or the contract's unit).
    pub const fn price_divisor(self) -> u32 {
        match self {
            Segment::Cds => 10_000_000,
            Segment::Bcd | Segment::Nco => 10_000,
            _ => 100,
        }
    }

    /// Number of decimal places a wire price carries in this segment.
    pub const fn price_decimals(self) -> u32 {
        match self {
            Segment::Cds => 7,
            Segment::Bcd | Segment::Nco => 4,
            _ => 2,
        }
    }

    /// Whether instruments of this segment can be traded (indices cannot).
    pub const fn tradable(self) -> bool {
        !matches!(self, Segment::Indices)
    }
}

/// Open, high, low and close, as raw wire prices. `close` is the previous session's close.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ohlc {
    /// Day's open.
    pub open: u32,
    /// Day's high.
    pub high: u32,
    /// Day's low.
    pub low: u32,
    /// Previous session's close.
    pub close: u32,
}

/// One level of market depth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Level {
    /// Quantity at this price.
    pub quantity: u32,
    /// Raw wire price.
    pub price: u32,
    /// Number of orders (u16 on the wire).
    pub orders: u16,
}

/// Five bid levels and five offer levels (full tradable packets only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Depth {
    /// Bids, best first.
    pub buy: [Level; 5],
    /// Offers, best first.
    pub sell: [Level; 5],
}

/// One decoded packet. Fields the packet's layout does not carry are zero.
///
/// Prices are raw integers; use [`Tick::scaled`] (or the `*_f64` helpers) for rupees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tick {
    /// Which of the five layouts the packet had.
    pub kind: PacketKind,
    /// Instrument token (`exchange_token * 256 + segment`).
    pub instrument_token: u32,
    /// Last traded price (raw).
    pub last_price: u32,
    /// Last traded quantity (quote/full tradables).
    pub last_traded_quantity: u32,
    /// Volume-weighted average price (raw; quote/full tradables).
    pub average_traded_price: u32,
    /// Volume traded today (quote/full tradables).
    pub volume_traded: u32,
    /// Total pending buy quantity (quote/full tradables).
    pub total_buy_quantity: u32,
    /// Total pending sell quantity (quote/full tradables).
    pub total_sell_quantity: u32,
    /// OHLC (quote/full of any kind).
    pub ohlc: Ohlc,
    /// The index packets' own signed "price change" field at offset 24 (raw, units undocumented).
    pub net_change: i32,
    /// Last trade time, Unix seconds (full tradables; 0 when absent).
    pub last_trade_time: u32,
    /// Open interest (full tradables).
    pub oi: u32,
    /// Day's high open interest (full tradables).
    pub oi_day_high: u32,
    /// Day's low open interest (full tradables).
    pub oi_day_low: u32,
    /// Exchange timestamp, Unix seconds (full packets; 0 when absent).
    pub exchange_timestamp: u32,
    /// Market depth (full tradables).
    pub depth: Depth,
}

impl Tick {
    /// A tick of `kind` for `instrument_token` with every other field zero.
    pub const fn new(kind: PacketKind, instrument_token: u32) -> Tick {
        const ZERO_LEVEL: Level = Level {
            quantity: 0,
            price: 0,
            orders: 0,
        };
        Tick {
            kind,
            instrument_token,
            last_price: 0,
            last_traded_quantity: 0,
            average_traded_price: 0,
            volume_traded: 0,
            total_buy_quantity: 0,
            total_sell_quantity: 0,
            ohlc: Ohlc {
                open: 0,
                high: 0,
                low: 0,
                close: 0,
            },
            net_change: 0,
            last_trade_time: 0,
            oi: 0,
            oi_day_high: 0,
            oi_day_low: 0,
            exchange_timestamp: 0,
            depth: Depth {
                buy: [ZERO_LEVEL; 5],
                sell: [ZERO_LEVEL; 5],
            },
        }
    }

    /// The instrument's segment.
    pub const fn segment(&self) -> Segment {
        Segment::of_token(self.instrument_token)
    }

    /// The mode the packet was streamed in.
    pub const fn mode(&self) -> Mode {
        self.kind.mode()
    }

    /// Whether the instrument is tradable (not an index).
    pub const fn tradable(&self) -> bool {
        self.segment().tradable()
    }

    /// A raw wire price of this tick's segment as a float, exactly as the official clients
    /// compute it (`raw / divisor` in double precision).
    pub fn scaled(&self, raw: u32) -> f64 {
        f64::from(raw) / f64::from(self.segment().price_divisor())
    }

    /// Last price as a float.
    pub fn last_price_f64(&self) -> f64 {
        self.scaled(self.last_price)
    }

    /// Percentage change of the last price against the previous close, computed as the official
    /// Python and JS clients do; 0 when the close is 0 or the packet has no OHLC.
    pub fn change_percent(&self) -> f64 {
        if self.ohlc.close == 0 {
            return 0.0;
        }
        let last = self.last_price_f64();
        let close = self.scaled(self.ohlc.close);
        (last - close) * 100.0 / close
    }

    /// This tick with every field its layout does not carry set to zero: exactly what survives
    /// an encode/decode round trip.
    pub fn normalized(&self) -> Tick {
        let mut t = Tick::new(self.kind, self.instrument_token);
        t.last_price = self.last_price;
        match self.kind {
            PacketKind::Ltp => {}
            PacketKind::IndexQuote | PacketKind::IndexFull => {
                t.ohlc = self.ohlc;
                t.net_change = self.net_change;
                if self.kind == PacketKind::IndexFull {
                    t.exchange_timestamp = self.exchange_timestamp;
                }
            }
            PacketKind::Quote | PacketKind::Full => {
                t.last_traded_quantity = self.last_traded_quantity;
                t.average_traded_price = self.average_traded_price;
                t.volume_traded = self.volume_traded;
                t.total_buy_quantity = self.total_buy_quantity;
                t.total_sell_quantity = self.total_sell_quantity;
                t.ohlc = self.ohlc;
                if self.kind == PacketKind::Full {
                    t.last_trade_time = self.last_trade_time;
                    t.oi = self.oi;
                    t.oi_day_high = self.oi_day_high;
                    t.oi_day_low = self.oi_day_low;
                    t.exchange_timestamp = self.exchange_timestamp;
                    t.depth = self.depth;
                }
            }
        }
        t
    }
}

/// Formats a raw wire price as an exact decimal string with the segment's number of decimals
/// (`2528.40`, `83.1234567`), with no floating-point rounding.
pub fn exact_price(raw: u32, segment: Segment) -> String {
    let decimals = segment.price_decimals() as usize;
    let divisor = segment.price_divisor();
    format!(
        "{}.{:0width$}",
        raw / divisor,
        raw % divisor,
        width = decimals
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_the_token_low_byte() {
        assert_eq!(Segment::of_token(256265), Segment::Indices);
        assert_eq!(Segment::of_token(408065), Segment::Nse);
        assert_eq!(Segment::of_token(53253383), Segment::Mcx);
        assert_eq!(Segment::of_token(0x0300), Segment::Other(0));
        assert_eq!(Segment::of_token(0x0c), Segment::Nco);
        for code in 0..=255u8 {
            assert_eq!(Segment::from_code(code).code(), code);
        }
    }

    #[test]
    fn divisors_match_the_protocol() {
        assert_eq!(Segment::Cds.price_divisor(), 10_000_000);
        assert_eq!(Segment::Bcd.price_divisor(), 10_000);
        assert_eq!(Segment::Nco.price_divisor(), 10_000);
        assert_eq!(Segment::Nse.price_divisor(), 100);
        assert_eq!(Segment::Other(200).price_divisor(), 100);
        assert!(!Segment::Indices.tradable());
        assert!(Segment::Nfo.tradable());
    }

    #[test]
    fn exact_prices_keep_every_decimal() {
        assert_eq!(exact_price(252840, Segment::Nfo), "2528.40");
        assert_eq!(exact_price(5, Segment::Nse), "0.05");
        assert_eq!(exact_price(831_234_567, Segment::Cds), "83.1234567");
        assert_eq!(exact_price(u32::MAX, Segment::Bcd), "429496.7295");
    }

    #[test]
    fn change_is_zero_without_a_close() {
        let mut t = Tick::new(PacketKind::Quote, 408065);
        t.last_price = 150000;
        assert_eq!(t.change_percent(), 0.0);
        t.ohlc.close = 100000;
        assert!((t.change_percent() - 50.0).abs() < 1e-12);
    }

    #[test]
    fn kinds_round_trip_through_their_length() {
        for kind in PacketKind::ALL {
            assert_eq!(PacketKind::from_wire_len(kind.wire_len()), Some(kind));
        }
        assert_eq!(PacketKind::from_wire_len(164), None);
        assert_eq!(
            PacketKind::for_mode(Segment::Indices, Mode::Full),
            PacketKind::IndexFull
        );
        assert_eq!(
            PacketKind::for_mode(Segment::Nfo, Mode::Quote),
            PacketKind::Quote
        );
    }
}
