//! Binary WebSocket messages ⇄ [`Tick`]s, exactly as PROTOCOL.md §1.4–§1.8.
//!
//! Decoding is two passes over a borrowed buffer and never allocates: [`parse_message`] walks the
//! length headers and validates every length before anything is read, then [`Packets`] yields
//! the ticks. A malformed message is a [`DecodeError`] naming the byte offset; it never panics
//! and never produces a tick from bytes that were not a whole packet.

use super::tick::{Depth, Level, Ohlc, PacketKind, Tick};

/// The 1-byte message Kite sends when there is nothing else to stream.
pub const HEARTBEAT: [u8; 1] = [0];

/// The most packets one message can carry (the count is a u16).
pub const MAX_PACKETS_PER_MESSAGE: usize = u16::MAX as usize;

/// Why a binary message could not be decoded. Every variant names the byte offset (from the
/// start of the message) at which the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message is empty: not even a heartbeat.
    #[error("empty binary message")]
    Empty,
    /// The message ends before a length or packet it announces.
    #[error("message truncated at byte {offset}: {what} needs {needed} bytes, {available} remain")]
    Truncated {
        /// Where the missing part starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left in the message.
        available: usize,
    },
    /// A packet length that no v3 layout has.
    #[error("unknown packet length {length} at byte {offset} (packet {index})")]
    UnknownPacketLength {
        /// Offset of the packet's length field.
        offset: usize,
        /// Zero-based index of the packet in the message.
        index: usize,
        /// The length found.
        length: usize,
    },
    /// Bytes left over after the announced number of packets.
    #[error("{count} trailing bytes at byte {offset} after {packets} packets")]
    TrailingBytes {
        /// Where the extra bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
        /// The packet count the header announced.
        packets: usize,
    },
}

impl DecodeError {
    /// The byte offset in the message at which the problem was found.
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::Empty => 0,
            DecodeError::Truncated { offset, .. }
            | DecodeError::UnknownPacketLength { offset, .. }
            | DecodeError::TrailingBytes { offset, .. } => *offset,
        }
    }
}

/// Why ticks could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// One message holds at most 65,535 packets.
    #[error("{0} packets do not fit in one message (at most 65535)")]
    TooManyPackets(usize),
}

/// A validated binary message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A 1-byte keep-alive; carries no ticks.
    Heartbeat,
    /// Zero or more packets, all lengths checked.
    Packets(Packets<'a>),
}

impl<'a> Message<'a> {
    /// The packets of this message (none for a heartbeat).
    pub fn packets(&self) -> Packets<'a> {
        match self {
            Message::Heartbeat => Packets {
                buf: &[],
                remaining: 0,
            },
            Message::Packets(p) => *p,
        }
    }
}

/// Iterator over the ticks of a validated message. Cheap to copy; never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packets<'a> {
    /// The unread part of the message, starting at a packet's length field.
    buf: &'a [u8],
    /// Packets not yet yielded.
    remaining: usize,
}

impl Packets<'_> {
    /// Number of packets not yet yielded.
    pub fn remaining(&self) -> usize {
        self.remaining
    }
}

impl Iterator for Packets<'_> {
    type Item = Tick;

    fn next(&mut self) -> Option<Tick> {
        if self.remaining == 0 {
            return None;
        }
        // Lengths were validated by `parse_message`; `get` keeps this total regardless.
        let len = usize::from(u16::from_be_bytes([*self.buf.first()?, *self.buf.get(1)?]));
        let packet = self.buf.get(2..2 + len)?;
        self.buf = self.buf.get(2 + len..)?;
        self.remaining -= 1;
        decode_packet(packet)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Packets<'_> {}

/// Validates a binary message and returns its packets.
///
/// Checks, before reading any field: the packet count fits the buffer, every packet length is
/// one of 8/28/32/44/184 and fits, and no bytes are left over.
pub fn parse_message(buf: &[u8]) -> Result<Message<'_>, DecodeError> {
    match buf.len() {
        0 => return Err(DecodeError::Empty),
        1 => return Ok(Message::Heartbeat),
        _ => {}
    }
    let count = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
    let mut offset = 2;
    for index in 0..count {
        let Some(len_bytes) = buf.get(offset..offset + 2) else {
            return Err(DecodeError::Truncated {
                offset,
                what: if offset == buf.len() {
                    "packet count overruns the message; next packet length"
                } else {
                    "packet length"
                },
                needed: 2,
                available: buf.len() - offset,
            });
        };
        let length = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if PacketKind::from_wire_len(length).is_none() {
            return Err(DecodeError::UnknownPacketLength {
                offset,
                index,
                length,
            });
        }
        offset += 2;
        if buf.len() - offset < length {
            return Err(DecodeError::Truncated {
                offset,
                what: "packet",
                needed: length,
                available: buf.len() - offset,
            });
        }
        offset += length;
    }
    if offset != buf.len() {
        return Err(DecodeError::TrailingBytes {
            offset,
            count: buf.len() - offset,
            packets: count,
        });
    }
    Ok(Message::Packets(Packets {
        buf: &buf[2..],
        remaining: count,
    }))
}

/// Decodes a message and appends its ticks to `out` (reuse `out` to avoid allocating).
/// Returns how many ticks were appended; nothing is appended when the message is malformed.
pub fn decode_into(buf: &[u8], out: &mut Vec<Tick>) -> Result<usize, DecodeError> {
    let packets = parse_message(buf)?.packets();
    let n = packets.len();
    out.extend(packets);
    Ok(n)
}

#[inline(always)]
fn u32_at<const N: usize>(p: &[u8; N], off: usize) -> u32 {
    u32::from_be_bytes([p[off], p[off + 1], p[off + 2], p[off + 3]])
}

#[inline(always)]
fn u16_at<const N: usize>(p: &[u8; N], off: usize) -> u16 {
    u16::from_be_bytes([p[off], p[off + 1]])
}

/// Decodes one packet whose length has been checked. `None` for any other length.
#[inline]
pub fn decode_packet(packet: &[u8]) -> Option<Tick> {
    match packet.len() {
        8 => {
            let p: &[u8; 8] = packet.try_into().ok()?;
            let mut t = Tick::new(PacketKind::Ltp, u32_at(p, 0));
            t.last_price = u32_at(p, 4);
            Some(t)
        }
        28 => {
            let p: &[u8; 28] = packet.try_into().ok()?;
            Some(decode_index(p, PacketKind::IndexQuote))
        }
        32 => {
            let p: &[u8; 32] = packet.try_into().ok()?;
            let mut t = decode_index(p, PacketKind::IndexFull);
            t.exchange_timestamp = u32_at(p, 28);
            Some(t)
        }
        44 => {
            let p: &[u8; 44] = packet.try_into().ok()?;
            Some(decode_quote(p, PacketKind::Quote))
        }
        184 => {
            let p: &[u8; 184] = packet.try_into().ok()?;
            Some(Tick {
                last_trade_time: u32_at(p, 44),
                oi: u32_at(p, 48),
                oi_day_high: u32_at(p, 52),
                oi_day_low: u32_at(p, 56),
                exchange_timestamp: u32_at(p, 60),
                depth: Depth {
                    buy: [
                        level_at(p, 64),
                        level_at(p, 76),
                        level_at(p, 88),
                        level_at(p, 100),
                        level_at(p, 112),
                    ],
                    sell: [
                        level_at(p, 124),
                        level_at(p, 136),
                        level_at(p, 148),
                        level_at(p, 160),
                        level_at(p, 172),
                    ],
                },
                ..decode_quote(p, PacketKind::Full)
            })
        }
        _ => None,
    }
}

#[inline(always)]
fn decode_index<const N: usize>(p: &[u8; N], kind: PacketKind) -> Tick {
    let mut t = Tick::new(kind, u32_at(p, 0));
    t.last_price = u32_at(p, 4);
    t.ohlc = Ohlc {
        high: u32_at(p, 8),
        low: u32_at(p, 12),
        open: u32_at(p, 16),
        close: u32_at(p, 20),
    };
    t.net_change = u32_at(p, 24) as i32;
    t
}

#[inline(always)]
fn decode_quote<const N: usize>(p: &[u8; N], kind: PacketKind) -> Tick {
    Tick {
        last_price: u32_at(p, 4),
        last_traded_quantity: u32_at(p, 8),
        average_traded_price: u32_at(p, 12),
        volume_traded: u32_at(p, 16),
        total_buy_quantity: u32_at(p, 20),
        total_sell_quantity: u32_at(p, 24),
        ohlc: Ohlc {
            open: u32_at(p, 28),
            high: u32_at(p, 32),
            low: u32_at(p, 36),
            close: u32_at(p, 40),
        },
        ..Tick::new(kind, u32_at(p, 0))
    }
}

#[inline(always)]
fn level_at(p: &[u8; 184], off: usize) -> Level {
    Level {
        quantity: u32_at(p, off),
        price: u32_at(p, off + 4),
        orders: u16_at(p, off + 8),
    }
}

/// Appends one message carrying `ticks` to `out`, each in its own layout ([`Tick::kind`]).
/// Fields a layout does not carry are not written; depth padding is zero.
pub fn encode_message(ticks: &[Tick], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let count = u16::try_from(ticks.len()).map_err(|_| EncodeError::TooManyPackets(ticks.len()))?;
    out.reserve(2 + ticks.iter().map(|t| 2 + t.kind.wire_len()).sum::<usize>());
    out.extend_from_slice(&count.to_be_bytes());
    for tick in ticks {
        encode_packet(tick, out);
    }
    Ok(())
}

/// Appends one packet (its u16 length, then the packet) to `out`.
pub fn encode_packet(t: &Tick, out: &mut Vec<u8>) {
    let len = t.kind.wire_len();
    // Every wire length is far below u16::MAX.
    out.extend_from_slice(&(len as u16).to_be_bytes());
    let mut put = |v: u32| out.extend_from_slice(&v.to_be_bytes());
    put(t.instrument_token);
    put(t.last_price);
    match t.kind {
        PacketKind::Ltp => {}
        PacketKind::IndexQuote | PacketKind::IndexFull => {
            put(t.ohlc.high);
            put(t.ohlc.low);
            put(t.ohlc.open);
            put(t.ohlc.close);
            put(t.net_change as u32);
            if t.kind == PacketKind::IndexFull {
                put(t.exchange_timestamp);
            }
        }
        PacketKind::Quote | PacketKind::Full => {
            put(t.last_traded_quantity);
            put(t.average_traded_price);
            put(t.volume_traded);
            put(t.total_buy_quantity);
            put(t.total_sell_quantity);
            put(t.ohlc.open);
            put(t.ohlc.high);
            put(t.ohlc.low);
            put(t.ohlc.close);
            if t.kind == PacketKind::Full {
                put(t.last_trade_time);
                put(t.oi);
                put(t.oi_day_high);
                put(t.oi_day_low);
                put(t.exchange_timestamp);
                for level in t.depth.buy.iter().chain(t.depth.sell.iter()) {
                    out.extend_from_slice(&level.quantity.to_be_bytes());
                    out.extend_from_slice(&level.price.to_be_bytes());
                    out.extend_from_slice(&level.orders.to_be_bytes());
                    out.extend_from_slice(&[0, 0]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kite::tick::Segment;
    use proptest::prelude::*;

    /// INFY full packet from zerodha/kiteconnect-mocks `ticker_full.packet` (2021-07-05).
    fn infy_full() -> Tick {
        let mut t = Tick::new(PacketKind::Full, 408065);
        t.last_price = 158_380;
        t.last_traded_quantity = 20;
        t.average_traded_price = 158_204;
        t.volume_traded = 2_519_064;
        t.total_buy_quantity = 0;
        t.total_sell_quantity = 452_700;
        t.ohlc = Ohlc {
            open: 156_940,
            high: 158_800,
            low: 156_500,
            close: 156_420,
        };
        t.last_trade_time = 1_625_461_887;
        t.exchange_timestamp = 1_625_461_887;
        t.depth.sell[0] = Level {
            quantity: 452_700,
            price: 158_380,
            orders: 1,
        };
        t
    }

    fn frame(ticks: &[Tick]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_message(ticks, &mut out).unwrap();
        out
    }

    #[test]
    fn a_heartbeat_has_no_ticks() {
        assert_eq!(parse_message(&HEARTBEAT), Ok(Message::Heartbeat));
        assert_eq!(parse_message(&HEARTBEAT).unwrap().packets().count(), 0);
        assert_eq!(parse_message(&[]), Err(DecodeError::Empty));
        assert_eq!(parse_message(&[0, 0]).unwrap().packets().count(), 0);
    }

    #[test]
    fn full_packet_fields_sit_at_their_offsets() {
        let bytes = frame(&[infy_full()]);
        assert_eq!(bytes.len(), 2 + 2 + 184);
        assert_eq!(&bytes[..4], &[0, 1, 0, 184]);
        // last price at packet offset 4, first offer's orders (u16) at packet offset 124 + 8.
        assert_eq!(&bytes[8..12], &158_380u32.to_be_bytes());
        assert_eq!(&bytes[4 + 132..4 + 134], &1u16.to_be_bytes());
        let ticks: Vec<Tick> = parse_message(&bytes).unwrap().packets().collect();
        assert_eq!(ticks, vec![infy_full()]);
        assert_eq!(ticks[0].last_price_f64(), 1583.8);
    }

    #[test]
    fn index_packets_read_high_low_open_close() {
        let mut t = Tick::new(PacketKind::IndexFull, 256265);
        t.last_price = 2_400_000;
        t.ohlc = Ohlc {
            open: 1,
            high: 2,
            low: 3,
            close: 4,
        };
        t.net_change = -250;
        t.exchange_timestamp = 1_700_000_000;
        let bytes = frame(&[t]);
        assert_eq!(&bytes[4 + 8..4 + 12], &2u32.to_be_bytes(), "high at 8");
        assert_eq!(&bytes[4 + 16..4 + 20], &1u32.to_be_bytes(), "open at 16");
        let back: Vec<Tick> = parse_message(&bytes).unwrap().packets().collect();
        assert_eq!(back, vec![t]);
        assert!(!back[0].tradable());
        assert_eq!(back[0].segment(), Segment::Indices);
    }

    #[test]
    fn malformed_messages_are_errors_with_offsets() {
        let good = frame(&[infy_full(), Tick::new(PacketKind::Ltp, 256265)]);
        // Cut inside the second packet.
        let err = parse_message(&good[..good.len() - 3]).unwrap_err();
        assert!(
            matches!(err, DecodeError::Truncated { offset: 190, .. }),
            "{err}"
        );
        // Count says 3, only 2 present.
        let mut more = good.clone();
        more[1] = 3;
        let err = parse_message(&more).unwrap_err();
        assert_eq!(err.offset(), good.len());
        assert!(err.to_string().contains("overruns"), "{err}");
        // Unknown length 164 (Kite v1).
        let mut odd = good.clone();
        odd[3] = 164;
        assert_eq!(
            parse_message(&odd),
            Err(DecodeError::UnknownPacketLength {
                offset: 2,
                index: 0,
                length: 164
            })
        );
        // Extra bytes after the last packet.
        let mut long = good.clone();
        long.push(7);
        assert!(matches!(
            parse_message(&long),
            Err(DecodeError::TrailingBytes { count: 1, .. })
        ));
        // Nothing is appended on error.
        let mut out = Vec::new();
        assert!(decode_into(&odd, &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn decode_into_reuses_the_vector() {
        let bytes = frame(&[infy_full(); 50]);
        let mut out = Vec::with_capacity(64);
        let cap = out.capacity();
        for _ in 0..3 {
            out.clear();
            assert_eq!(decode_into(&bytes, &mut out), Ok(50));
        }
        assert_eq!(out.capacity(), cap);
    }

    #[test]
    fn too_many_packets_do_not_encode() {
        let ticks = vec![Tick::new(PacketKind::Ltp, 1); 65_536];
        assert_eq!(
            encode_message(&ticks, &mut Vec::new()),
            Err(EncodeError::TooManyPackets(65_536))
        );
    }

    fn arb_level() -> impl Strategy<Value = Level> {
        (any::<u32>(), any::<u32>(), any::<u16>()).prop_map(|(quantity, price, orders)| Level {
            quantity,
            price,
            orders,
        })
    }

    prop_compose! {
        fn arb_tick()(
            kind in prop::sample::select(PacketKind::ALL.to_vec()),
            token in any::<u32>(),
            a in prop::array::uniform16(any::<u32>()),
            net_change in any::<i32>(),
            buy in prop::array::uniform5(arb_level()),
            sell in prop::array::uniform5(arb_level()),
        ) -> Tick {
            let t = Tick {
                kind,
                instrument_token: token,
                last_price: a[0],
                last_traded_quantity: a[1],
                average_traded_price: a[2],
                volume_traded: a[3],
                total_buy_quantity: a[4],
                total_sell_quantity: a[5],
                ohlc: Ohlc { open: a[6], high: a[7], low: a[8], close: a[9] },
                net_change,
                last_trade_time: a[10],
                oi: a[11],
                oi_day_high: a[12],
                oi_day_low: a[13],
                exchange_timestamp: a[14],
                depth: Depth { buy, sell },
            };
            t.normalized()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn decode_of_encode_is_identity(ticks in prop::collection::vec(arb_tick(), 0..60)) {
            let bytes = frame(&ticks);
            let back: Vec<Tick> = parse_message(&bytes).unwrap().packets().collect();
            prop_assert_eq!(back, ticks);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(message) = parse_message(&bytes) {
                let n = message.packets().len();
                prop_assert_eq!(message.packets().count(), n);
            }
        }

        #[test]
        fn mutated_frames_never_panic_nor_misframe(
            ticks in prop::collection::vec(arb_tick(), 1..8),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut bytes = frame(&ticks);
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            }
            if let Ok(message) = parse_message(&bytes) {
                // A message that validates is exactly covered by its packets.
                let covered: usize = 2 + message.packets().map(|t| 2 + t.kind.wire_len()).sum::<usize>();
                prop_assert!(bytes.len() == 1 || covered == bytes.len());
            }
        }
    }
}
