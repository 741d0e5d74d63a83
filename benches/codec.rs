//! Decode throughput of the Kite wire codec: `cargo bench --bench codec`.
//!
//! The target (issue 2, docs/performance.md): at least 10 million full-mode ticks per second on
//! one core, decoding messages of 50 full packets, as the feed sends them during market hours.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickvault::kite::{Level, Ohlc, PacketKind, Tick, decode_into, encode_message, parse_message};

/// 50 distinct, realistic full-mode ticks (NFO options around 24,000).
fn full_ticks() -> Vec<Tick> {
    (0..50u32)
        .map(|i| {
            let mut t = Tick::new(PacketKind::Full, (10_000 + i) * 256 + 2);
            let px = 2_400_000 + i * 5;
            t.last_price = px;
            t.last_traded_quantity = 75 * (1 + i % 4);
            t.average_traded_price = px - 120;
            t.volume_traded = 1_000_000 + i * 975;
            t.total_buy_quantity = 500_000 + i;
            t.total_sell_quantity = 600_000 + i;
            t.ohlc = Ohlc {
                open: px - 500,
                high: px + 900,
                low: px - 1500,
                close: px - 300,
            };
            t.last_trade_time = 1_763_700_000 + i;
            t.oi = 3_000_000 + i;
            t.oi_day_high = 3_100_000;
            t.oi_day_low = 2_900_000;
            t.exchange_timestamp = 1_763_700_001 + i;
            for l in 0..5u32 {
                t.depth.buy[l as usize] = Level {
                    quantity: 75 * (l + 1),
                    price: px - 5 * (l + 1),
                    orders: (l + 1) as u16,
                };
                t.depth.sell[l as usize] = Level {
                    quantity: 150 * (l + 1),
                    price: px + 5 * (l + 1),
                    orders: (l + 2) as u16,
                };
            }
            t
        })
        .collect()
}

fn codec(c: &mut Criterion) {
    let ticks = full_ticks();
    let mut frame = Vec::new();
    encode_message(&ticks, &mut frame).expect("50 packets fit");

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(ticks.len() as u64));

    group.bench_function("decode_full_50/iterate", |b| {
        b.iter(|| {
            let message = parse_message(black_box(&frame)).expect("valid");
            let mut sum = 0u64;
            for t in message.packets() {
                sum = sum
                    .wrapping_add(u64::from(t.last_price))
                    .wrapping_add(u64::from(t.depth.sell[4].price));
            }
            sum
        })
    });

    let mut out: Vec<Tick> = Vec::with_capacity(64);
    group.bench_function("decode_full_50/into_vec", |b| {
        b.iter(|| {
            out.clear();
            decode_into(black_box(&frame), &mut out).expect("valid");
            out.len()
        })
    });

    let mut buf = Vec::with_capacity(frame.len());
    group.bench_function("encode_full_50", |b| {
        b.iter(|| {
            buf.clear();
            encode_message(black_box(&ticks), &mut buf).expect("fits");
            buf.len()
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
