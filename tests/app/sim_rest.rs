//! The simulator's instruments dump, quotes and rate limits.

use std::collections::HashSet;

use chrono::NaiveDate;
use secrecy::ExposeSecret;

use crate::helpers::{http, kite_client, login, sim_config, spawn_sim, spawn_sim_with};

const HEADER: &str = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange";

#[actix_rt::test]
async fn the_instruments_dump_parses_and_keeps_the_token_invariant() {
    let sim = spawn_sim();
    let session = login(&sim).await;
    let csv = kite_client(&sim).instruments(&session, None).await.unwrap();
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(text.lines().next(), Some(HEADER));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut tokens = HashSet::new();
    let mut rows = 0;
    let mut segments = HashSet::new();
    for record in reader.records() {
        let r = record.unwrap();
        rows += 1;
        let token: u32 = r[0].parse().unwrap();
        let exchange_token: u32 = r[1].parse().unwrap();
        let segment_code = match &r[10] {
            "INDICES" => 9,
            "NSE" => 1,
            "BSE" => 4,
            "NFO-FUT" | "NFO-OPT" => 2,
            other => panic!("unexpected segment {other}"),
        };
        assert_eq!(
            token,
            exchange_token * 256 + segment_code,
            "row {rows}: {:?}",
            r
        );
        assert!(tokens.insert(token), "duplicate token {token}");
        r[4].parse::<f64>().expect("last_price is a float");
        r[6].parse::<f64>().expect("strike is a float, never empty");
        r[8].parse::<u32>().expect("lot_size is an integer");
        if !r[5].is_empty() {
            NaiveDate::parse_from_str(&r[5], "%Y-%m-%d").expect("expiry is a date");
        }
        segments.insert(r[10].to_string());
    }
    assert!(rows > 9_001, "{rows} rows");
    let expected: HashSet<String> = ["NSE", "INDICES", "NFO-FUT", "NFO-OPT"]
        .map(String::from)
        .into();
    assert_eq!(segments, expected);
    assert!(
        text.contains(",SENSEX,SENSEX,")
            && text
                .lines()
                .any(|l| l.starts_with("265,") && l.ends_with(",INDICES,BSE"))
    );
    for must in [
        "256265,1001,NIFTY 50,",
        "260105,1016,NIFTY BANK,",
        "265,1,SENSEX,",
        "408065,1594,INFY,",
    ] {
        assert!(text.contains(must), "{must}");
    }
    // Per exchange.
    let nfo = kite_client(&sim)
        .instruments(&session, Some("NFO"))
        .await
        .unwrap();
    let nfo = String::from_utf8(nfo).unwrap();
    assert!(nfo.lines().skip(1).all(|l| l.ends_with(",NFO")));
    sim.stop().await;
}

#[actix_rt::test]
async fn the_dump_is_text_csv_and_gzipped_when_asked() {
    let sim = spawn_sim();
    let url = format!("{}/instruments/NSE", sim.http_url());
    let gz = http()
        .get(&url)
        .insert_header(("Accept-Encoding", "gzip"))
        .no_decompress()
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers().get("content-type").unwrap(), "text/csv");
    assert_eq!(gz.headers().get("content-encoding").unwrap(), "gzip");
    let plain = http()
        .get(&url)
        .insert_header(("Accept-Encoding", "identity"))
        .no_decompress()
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    sim.stop().await;
}

#[actix_rt::test]
async fn expiries_follow_the_calendar_on_other_dates() {
    // 2026-03-31, the last Tuesday of March, is a holiday: the monthly expires on the 30th.
    let sim = tickvault::sim::start(tickvault::sim::SimOptions {
        config: sim_config(),
        date: NaiveDate::from_ymd_opt(2026, 3, 23).unwrap(),
        record: None,
    })
    .unwrap();
    let session = login(&sim).await;
    let csv = String::from_utf8(
        kite_client(&sim)
            .instruments(&session, Some("NFO"))
            .await
            .unwrap(),
    )
    .unwrap();
    let fut = csv
        .lines()
        .find(|l| l.contains(",NIFTY26MARFUT,"))
        .expect("March future");
    assert!(fut.contains(",2026-03-30,"), "{fut}");
    // This week's weekly is Tuesday the 24th; the next Tuesday's is the monthly's week, so the
    // next weekly is 7 April, written `NIFTY26407<strike>CE`.
    let weekly = |prefix: &str, expiry: &str| {
        csv.lines().any(|l| {
            l.split(',').nth(2).is_some_and(|s| s.starts_with(prefix)) && l.contains(expiry)
        })
    };
    assert!(weekly("NIFTY26324", ",2026-03-24,"));
    assert!(weekly("NIFTY26407", ",2026-04-07,"));
    assert!(
        !weekly("NIFTY26331", ",2026-03-31,"),
        "no contract expires on a holiday"
    );
    sim.stop().await;
}

#[actix_rt::test]
async fn quotes_answer_by_exchange_symbol_and_skip_unknown_keys() {
    let mut config = sim_config();
    config.quote_requests_per_sec = 5;
    let sim = spawn_sim_with(config, None);
    let session = login(&sim).await;
    let ltp = kite_client(&sim)
        .ltp(&session, &["NSE:NIFTY 50", "NSE:INFY", "NSE:NOPE"])
        .await
        .unwrap();
    assert_eq!(ltp.len(), 2, "{ltp:?}");
    assert!(ltp["NSE:NIFTY 50"] > 20_000.0);
    let url = format!("{}/quote?i=NSE%3AINFY", sim.http_url());
    let auth = format!("token sim_api_key:{}", session.access_token.expose_secret());
    let mut r = http()
        .get(&url)
        .insert_header(("Authorization", auth.as_str()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let q = &v["data"]["NSE:INFY"];
    assert_eq!(q["instrument_token"], 408_065);
    for field in [
        "timestamp",
        "last_quantity",
        "buy_quantity",
        "volume",
        "average_price",
        "oi",
        "net_change",
        "ohlc",
        "depth",
    ] {
        assert!(
            !q[field].is_null() || field == "last_trade_time",
            "missing {field}: {q}"
        );
    }
    assert_eq!(q["depth"]["buy"].as_array().unwrap().len(), 5);
    sim.stop().await;
}

#[actix_rt::test]
async fn rate_limits_answer_429() {
    let mut config = sim_config();
    config.api_requests_per_sec = 3;
    let sim = spawn_sim_with(config, None);
    let session = login(&sim).await;
    let client = kite_client(&sim);
    // Quotes: one a second, so a second call right after the first is refused.
    client.ltp(&session, &["NSE:INFY"]).await.unwrap();
    let err = client.ltp(&session, &["NSE:INFY"]).await.unwrap_err();
    assert!(err.is_rate_limited(), "{err}");
    // Everything else: 3 a second here (10 by default); the login used one.
    let mut refused = 0;
    for _ in 0..4 {
        if let Err(e) = client.profile(&session).await {
            assert!(e.is_rate_limited(), "{e}");
            refused += 1;
        }
    }
    assert!(refused >= 2, "{refused} refused");
    sim.stop().await;
}
