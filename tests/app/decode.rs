//! `tickvault decode` against the golden capture, and on damaged captures.

use serde_json::Value;

use crate::helpers::{fixture, run, stderr, tickvault};

/// Converts our RFC 3339 timestamps back to epoch seconds, as the golden file has them.
fn epoch(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| {
        assert!(s.ends_with("+05:30"), "timestamps are in IST: {s}");
        t.timestamp()
    })
}

fn assert_agrees(expected: &Value, got: &Value, path: &str) {
    match expected {
        Value::Object(map) => {
            let got_map = got
                .as_object()
                .unwrap_or_else(|| panic!("{path}: not an object: {got}"));
            for (k, v) in map {
                let g = got_map
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}: no field `{k}`"));
                assert_agrees(v, g, &format!("{path}.{k}"));
            }
        }
        Value::Array(items) => {
            let got_items = got
                .as_array()
                .unwrap_or_else(|| panic!("{path}: not a list"));
            assert_eq!(items.len(), got_items.len(), "{path}: list length");
            for (i, (e, g)) in items.iter().zip(got_items).enumerate() {
                assert_agrees(e, g, &format!("{path}[{i}]"));
            }
        }
        Value::Number(n) if path.ends_with("timestamp") || path.ends_with("last_trade_time") => {
            assert_eq!(n.as_i64(), epoch(got), "{path}");
        }
        Value::Number(n) if n.is_f64() => {
            let (e, g) = (n.as_f64().unwrap(), got.as_f64().unwrap_or(f64::NAN));
            let tolerance = 1e-6 * e.abs().max(f64::MIN_POSITIVE);
            assert!((e - g).abs() <= tolerance, "{path}: expected {e}, got {g}");
        }
        other => assert_eq!(other, got, "{path}"),
    }
}

#[test]
fn decode_of_the_golden_capture_agrees_with_the_official_python_parser() {
    let out = run(tickvault().arg("decode").arg(fixture("golden.kcap")));
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<Value> = std::fs::read_to_string(fixture("golden.expected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), expected.len(), "same number of ticks");
    assert!(expected.len() > 1000);
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_agrees(e, g, &format!("tick {i}"));
        let extra: Vec<&String> = g
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !e.as_object().unwrap().contains_key(*k) && *k != "recv_time")
            .collect();
        assert!(
            extra.is_empty(),
            "tick {i} has fields the official parser has not: {extra:?}"
        );
    }
}

#[test]
fn stats_count_ticks_by_packet_kind() {
    let out = run(tickvault()
        .args(["decode", "--stats"])
        .arg(fixture("golden.kcap")));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let count = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.trim_start().starts_with(name) && l[..22].trim() == name)
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{name}` line in:\n{text}"))
    };
    // What golden.expected.jsonl holds, by mode and packet length.
    assert_eq!(count("ticks"), 1747);
    assert_eq!(count("ltp"), 407);
    assert_eq!(count("index_quote"), 58);
    assert_eq!(count("index_full"), 59);
    assert_eq!(count("quote"), 319);
    assert_eq!(count("full"), 904);
    assert_eq!(count("heartbeats"), 1);
    assert_eq!(count("corrupt records"), 0);
}

fn damaged_copy(edit: impl FnOnce(&mut Vec<u8>)) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.kcap");
    let mut bytes = std::fs::read(fixture("golden.kcap")).unwrap();
    edit(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

#[test]
fn a_corrupt_record_fails_naming_its_offset_unless_skipped() {
    // Flip a payload byte of the first record: its CRC no longer matches.
    let (_dir, path) = damaged_copy(|b| b[8 + 13 + 5] ^= 0x40);
    let out = run(tickvault().arg("decode").arg(&path));
    assert_eq!(out.status.code(), Some(65));
    let err = stderr(&out);
    assert!(err.contains("bad CRC in the record at byte 8"), "{err}");

    let out = run(tickvault().args(["decode", "--skip-corrupt"]).arg(&path));
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = String::from_utf8_lossy(&out.stdout).lines().count();
    let first_record_ticks = 10; // the golden capture's first message holds 10 packets
    assert_eq!(lines, 1747 - first_record_ticks);
    assert!(
        stderr(&out).contains("byte 8"),
        "the skip is reported: {}",
        stderr(&out)
    );
}

#[test]
fn an_undecodable_message_in_a_sound_record_is_reported_and_skipped() {
    // Make the first packet's length field 164 (Kite v1) and fix up the record's CRC, so the
    // capture is sound but the message is not: a frame the service keeps on purpose.
    let (_dir, path) = damaged_copy(|b| {
        let len = u32::from_be_bytes(b[17..21].try_into().unwrap()) as usize;
        b[21 + 2..21 + 4].copy_from_slice(&164u16.to_be_bytes());
        let crc = crc32fast::hash(&b[21..21 + len]);
        b[21 + len..21 + len + 4].copy_from_slice(&crc.to_be_bytes());
    });
    let whole = run(tickvault().arg("decode").arg(fixture("golden.kcap")));
    let out = run(tickvault().arg("decode").arg(&path));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("byte 23 of the file"), "names where: {err}");
    let lines = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).lines().count();
    assert!(
        lines(&out) > 0 && lines(&out) < lines(&whole),
        "every other tick is printed"
    );
    let stats = run(tickvault().args(["decode", "--stats"]).arg(&path));
    assert_eq!(stats.status.code(), Some(0));
    let text = String::from_utf8_lossy(&stats.stdout).into_owned();
    let count = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    assert_eq!(
        (count("undecodable messages"), count("corrupt records")),
        (1, 0)
    );
}

#[test]
fn a_torn_final_record_is_reported_but_not_an_error() {
    let (_dir, path) = damaged_copy(|b| {
        let n = b.len();
        b.truncate(n - 7);
    });
    let out = run(tickvault().args(["decode", "--stats"]).arg(&path));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("torn record at byte"));
    assert!(
        stderr(&out).contains("ends inside a record"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_file_that_is_not_a_capture_is_refused() {
    let out = run(tickvault()
        .arg("decode")
        .arg(fixture("golden.expected.jsonl")));
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).contains("bad magic at byte 0"),
        "{}",
        stderr(&out)
    );
    let out = run(tickvault().args(["decode", "/nonexistent/x.kcap"]));
    assert_eq!(out.status.code(), Some(66));
}
