#!/usr/bin/env python3
"""The official Python client's tick parser on the same input as `cargo bench --bench codec`.

Decodes messages of 50 full-mode packets with kiteconnect 5.2.2's `KiteTicker._parse_binary`
and prints ticks per second, so docs/performance.md can put the two side by side.

    python3 -m venv /tmp/kc && /tmp/kc/bin/pip install kiteconnect==5.2.2
    /tmp/kc/bin/python benches/python_parser.py
"""
import struct
import time

from kiteconnect import KiteTicker


def full_packet(i):
    """The same 50 ticks benches/codec.rs builds (NFO options around 24,000)."""
    px = 2_400_000 + i * 5
    fields = [
        (10_000 + i) * 256 + 2, px, 75 * (1 + i % 4), px - 120, 1_000_000 + i * 975,
        500_000 + i, 600_000 + i, px - 500, px + 900, px - 1500, px - 300,
        1_763_700_000 + i, 3_000_000 + i, 3_100_000, 2_900_000, 1_763_700_001 + i,
    ]
    body = struct.pack(">16I", *fields)
    for l in range(5):
        body += struct.pack(">IIHH", 75 * (l + 1), px - 5 * (l + 1), l + 1, 0)
    for l in range(5):
        body += struct.pack(">IIHH", 150 * (l + 1), px + 5 * (l + 1), l + 2, 0)
    assert len(body) == 184
    return struct.pack(">H", 184) + body


def main():
    frame = struct.pack(">H", 50) + b"".join(full_packet(i) for i in range(50))
    ticker = KiteTicker("bench_api_key", "bench_access_token")
    assert len(ticker._parse_binary(frame)) == 50
    best = 0.0
    for _ in range(5):
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < 1.0:
            n += len(ticker._parse_binary(frame))
        best = max(best, n / (time.perf_counter() - start))
    print(f"kiteconnect 5.2.2 _parse_binary: {best:,.0f} full-mode ticks/s (best of 5 one-second runs)")


if __name__ == "__main__":
    main()
