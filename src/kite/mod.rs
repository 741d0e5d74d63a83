//! Kite Connect's wire formats: binary tick messages, text messages, and the JSON shape of a tick.
//!
//! Everything here is pure (no I/O) and follows `../shared/kite/PROTOCOL.md` §1.
//!
//! ```
//! use tickvault::kite::{PacketKind, Tick, encode_message, parse_message};
//!
//! let mut tick = Tick::new(PacketKind::Ltp, 256265); // NIFTY 50
//! tick.last_price = 2_412_350;
//! let mut frame = Vec::new();
//! encode_message(&[tick], &mut frame).unwrap();
//! let ticks: Vec<Tick> = parse_message(&frame).unwrap().packets().collect();
//! assert_eq!(ticks[0].last_price_f64(), 24123.5);
//! assert!(!ticks[0].tradable());
//! ```

pub mod client;
pub mod codec;
pub mod error;
pub mod instruments;
pub mod json;
pub mod login;
pub mod text;
pub mod tick;

pub use codec::{
    DecodeError, EncodeError, HEARTBEAT, Message, Packets, decode_into, decode_packet,
    encode_message, encode_packet, parse_message,
};
pub use json::TickJson;
pub use text::{ClientRequest, ServerText, TextError};
pub use tick::{Depth, Level, Mode, Ohlc, PacketKind, Segment, Tick, exact_price};
