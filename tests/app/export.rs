//! Issue 18, part 1: `tickvault export` writes a date's ticks as Parquet (read back here with
//! the parquet crate's Arrow reader) or CSV, exactly the rows the database holds, from the
//! daily table before the end of day and from the master after it, and replaces a date's
//! directory whole.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type, TimestampMicrosecondType};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tickvault::export::{DateExport, ExportOptions, Filter, Format, export_date};
use tickvault::storage::export::Source;

use crate::helpers::{Backend, TestApp, service_config, spawn_app_on, stderr, tickvault, today};

/// (token, received µs, last price ×100) of a row.
type Seen = (i64, i64, i128);

/// Rows per instrument, and every row as [`Seen`], in file order.
fn read_parquet(path: &std::path::Path) -> (HashMap<i64, u64>, Vec<Seen>) {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = reader.schema().clone();
    assert_eq!(
        schema.field_with_name("received_at").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("Asia/Kolkata".into())),
        "timestamps carry the IST zone"
    );
    assert_eq!(
        schema.field_with_name("last_price").unwrap().data_type(),
        &DataType::Decimal128(18, 2),
        "exact prices (paise: the test universe has no currency)"
    );
    let mut per_token = HashMap::new();
    let mut rows = Vec::new();
    for batch in reader.build().unwrap() {
        let batch = batch.unwrap();
        let token = batch
            .column_by_name("instrument_token")
            .unwrap()
            .as_primitive::<Int64Type>();
        let recv = batch
            .column_by_name("received_at")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let price = batch
            .column_by_name("last_price")
            .unwrap()
            .as_primitive::<Decimal128Type>();
        for i in 0..batch.num_rows() {
            *per_token.entry(token.value(i)).or_insert(0) += 1;
            rows.push((token.value(i), recv.value(i), price.value(i)));
        }
    }
    (per_token, rows)
}

/// Rows per instrument in the daily table, and (token, received µs) → last price ×100.
fn stored(t: &TestApp) -> (HashMap<i64, u64>, HashMap<(i64, i64), i128>) {
    use diesel::prelude::*;
    use tickvault::storage::schema::daily_ticks::dsl;
    let rows: Vec<(i64, i64, i64, i32)> =
        tickvault::on_backend!(t.store().conn(), c => dsl::daily_ticks
        .filter(dsl::trade_date.eq(today()))
        .select((dsl::instrument_token, dsl::recv_time_us, dsl::last_price, dsl::price_divisor))
        .load(c))
        .unwrap();
    let mut per_token = HashMap::new();
    let mut prices = HashMap::new();
    for (token, recv, price, divisor) in rows {
        *per_token.entry(token).or_insert(0) += 1;
        prices.insert((token, recv), i128::from(price) * 100 / i128::from(divisor));
    }
    (per_token, prices)
}

fn export(t: &TestApp, out: &std::path::Path, options: &ExportOptions) -> DateExport {
    export_date(
        &mut t.store(),
        today(),
        out,
        options,
        &mut |_: u64, _: u64| {},
    )
    .expect("exports")
}

async fn the_export_is_exactly_the_database_on(backend: Backend) {
    let t = spawn_app_on(backend, 20.0, |_| {}).await;
    t.wait_for_ticks(20).await;
    t.app.shutdown().await.expect("drains");
    let out = tempfile::tempdir().unwrap();

    // Parquet from the daily table: every row, by instrument then time.
    let done = export(&t, out.path(), &ExportOptions::default());
    assert_eq!(done.source, Source::Daily);
    let done_rows = done.rows;
    assert_eq!(
        done.file,
        out.path()
            .join(format!("date={}", today()))
            .join("part-0.parquet")
    );
    let (per_token, rows) = read_parquet(&done.file);
    let (want, prices) = stored(&t);
    assert_eq!(per_token, want, "rows per instrument == the database's");
    assert_eq!(done.rows, rows.len() as u64);
    let tokens: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert!(tokens.is_sorted(), "by instrument");
    for (token, recv, price) in &rows {
        assert_eq!(
            prices.get(&(*token, *recv)),
            Some(price),
            "the stored price, exact"
        );
    }

    // A filter, and CSV (gzip) of the same date: the header and one line per row.
    let symbol_of: HashMap<i64, String> = {
        let snapshot = tickvault::storage::export::snapshot(t.store().conn(), today()).unwrap();
        snapshot
            .into_iter()
            .map(|(tok, _, sym, _, _)| (tok, sym))
            .collect()
    };
    let (token, n) = want
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(t, n)| (*t, *n))
        .unwrap();
    let options = ExportOptions {
        format: Format::Csv,
        gzip: true,
        filter: Filter {
            symbols: vec![symbol_of[&token].clone()],
            ..Default::default()
        },
        ..Default::default()
    };
    let csv_out = tempfile::tempdir().unwrap();
    let done = export(&t, csv_out.path(), &options);
    assert_eq!((done.rows, done.instruments), (n, 1));
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&done.file).unwrap()),
        &mut text,
    )
    .unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, tickvault::export::columns::names());
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[0], token.to_string());
    assert!(
        first[5].ends_with("+05:30"),
        "received_at in IST: {}",
        first[5]
    );
    assert_eq!(lines.count() as u64, n - 1);

    // Bars: every tick in exactly one bar, bars on the minute, prices inside their range.
    let bars_out = tempfile::tempdir().unwrap();
    let options_1m = ExportOptions {
        bars: Some(tickvault::bars::Interval::M1),
        ..Default::default()
    };
    let bars = export(&t, bars_out.path(), &options_1m);
    assert_eq!(bars.rows, done_rows, "every tick read");
    let file = std::fs::File::open(&bars.file).unwrap();
    let mut ticks_per_token: HashMap<i64, u64> = HashMap::new();
    let mut bars_seen = 0u64;
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let batch = batch.unwrap();
        let col = |name: &str| batch.column_by_name(name).unwrap().clone();
        let token = col("instrument_token");
        let token = token.as_primitive::<Int64Type>();
        let ticks = col("ticks");
        let ticks = ticks.as_primitive::<Int64Type>();
        let start = col("bar_start");
        let start = start.as_primitive::<TimestampMicrosecondType>();
        let (open, high, low, close) = (col("open"), col("high"), col("low"), col("close"));
        let (open, high, low, close) = (
            open.as_primitive::<Decimal128Type>(),
            high.as_primitive::<Decimal128Type>(),
            low.as_primitive::<Decimal128Type>(),
            close.as_primitive::<Decimal128Type>(),
        );
        for i in 0..batch.num_rows() {
            *ticks_per_token.entry(token.value(i)).or_insert(0) += ticks.value(i) as u64;
            assert_eq!(start.value(i) % 60_000_000, 0, "a bar starts on the minute");
            assert!(low.value(i) <= open.value(i).min(close.value(i)));
            assert!(high.value(i) >= open.value(i).max(close.value(i)));
            bars_seen += 1;
        }
    }
    assert_eq!(ticks_per_token, want, "each tick in one bar");
    assert_eq!(bars_seen, bars.written);
    // The same bars as CSV: the header, a line per bar, and the tick counts again.
    let csv_bars = tempfile::tempdir().unwrap();
    let as_csv = export(
        &t,
        csv_bars.path(),
        &ExportOptions {
            format: Format::Csv,
            ..options_1m.clone()
        },
    );
    let text = std::fs::read_to_string(&as_csv.file).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, tickvault::export::bar_columns::names());
    let ticks_at = header.iter().position(|h| *h == "ticks").unwrap();
    let mut from_csv: HashMap<i64, u64> = HashMap::new();
    let mut lines_seen = 0u64;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        *from_csv.entry(cells[0].parse().unwrap()).or_insert(0) +=
            cells[ticks_at].parse::<u64>().unwrap();
        assert!(
            cells[4].ends_with("+05:30"),
            "bar_start in IST: {}",
            cells[4]
        );
        lines_seen += 1;
    }
    assert_eq!(from_csv, want);
    assert_eq!(lines_seen, bars.written);

    // After the end of day: from the master, and a re-export replaces the directory whole.
    let report = t.app.run_eod(today()).await.expect("the end of day");
    assert!(report.master_rows > 0);
    std::fs::write(done.dir.join("stale"), b"from before").unwrap();
    let again = export(&t, csv_out.path(), &options);
    assert_eq!(again.source, Source::Master);
    // The master's rows (the end of day's dedupe may have removed repeats).
    let master: HashMap<i64, i64> =
        tickvault::storage::export::counts(t.store().conn(), Source::Master, today())
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(again.rows, master[&token] as u64);
    let names: Vec<String> = std::fs::read_dir(csv_out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        [format!("date={}", today())],
        "nothing aside is left"
    );
    assert!(
        !again.dir.join("stale").exists(),
        "the old directory is gone"
    );

    // On three workers with row groups of at most 7 rows (so many chunks, finished out of
    // order and appended in order): the same rows in the same order as on one worker, in
    // Parquet and, every column compared, in CSV.
    let one = ExportOptions {
        workers: 1,
        ..Default::default()
    };
    let many = ExportOptions {
        workers: 3,
        group_rows: 7,
        ..Default::default()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (by_one, by_many) = (export(&t, a.path(), &one), export(&t, b.path(), &many));
    assert_eq!(by_one.rows, by_many.rows);
    assert_eq!(read_parquet(&by_one.file), read_parquet(&by_many.file));
    let groups = |path: &std::path::Path| {
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
            .unwrap()
            .metadata()
            .num_row_groups()
    };
    assert_eq!(groups(&by_one.file), 1, "a small day is one row group");
    assert!(
        groups(&by_many.file) >= 2,
        "{} row groups for {} rows",
        groups(&by_many.file),
        by_many.rows
    );
    let csv = |options: &ExportOptions| ExportOptions {
        format: Format::Csv,
        ..options.clone()
    };
    let (c, d) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (text_one, text_many) = (
        std::fs::read(export(&t, c.path(), &csv(&one)).file).unwrap(),
        std::fs::read(export(&t, d.path(), &csv(&many)).file).unwrap(),
    );
    assert!(text_one.len() > 1000);
    assert!(
        text_one == text_many,
        "the CSV files are byte for byte the same"
    );
    t.sim.stop().await;
}

#[actix_rt::test]
async fn the_export_is_exactly_the_database_on_sqlite() {
    the_export_is_exactly_the_database_on(Backend::Sqlite).await;
}

#[cfg(feature = "mysql")]
#[actix_rt::test]
async fn the_export_is_exactly_the_database_on_mariadb() {
    the_export_is_exactly_the_database_on(Backend::Mysql).await;
}

/// The command: a line per date naming the source, 64 for a date with nothing stored.
#[actix_rt::test]
async fn the_export_command_says_where_each_date_came_from() {
    let t = crate::helpers::spawn_app(20.0, |_| {}).await;
    t.wait_for_ticks(10).await;
    t.app.shutdown().await.expect("drains");
    let cfg = service_config(&t.sim, t._dir.path(), "");
    let out = t._dir.path().join("export");
    let date = today().to_string();
    let run = |args: &[&str]| {
        tickvault()
            .args(["export", "--config"])
            .arg(&cfg)
            .args(args)
            .output()
            .unwrap()
    };
    let done = run(&["--date", &date, "--out", out.to_str().unwrap()]);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        stdout.starts_with(&format!("{date}  from the daily")),
        "{stdout}"
    );
    assert!(
        out.join(format!("date={date}"))
            .join("part-0.parquet")
            .is_file()
    );
    let nothing = run(&["--date", "2001-01-01", "--out", out.to_str().unwrap()]);
    assert_eq!(nothing.status.code(), Some(64), "{}", stderr(&nothing));
    t.sim.stop().await;
}

/// Issue 18, part 4: the export read back by the tools people use (pyarrow, polars, duckdb,
/// pandas, from the tests' virtualenv): rows per instrument equal the database's, sampled
/// prices equal the stored ones, and the timestamps carry the IST zone.
#[actix_rt::test]
async fn pyarrow_polars_duckdb_and_pandas_read_the_export() {
    let t = crate::helpers::spawn_app(20.0, |_| {}).await;
    t.wait_for_ticks(20).await;
    t.app.shutdown().await.expect("drains");
    let out = tempfile::tempdir().unwrap();
    let done = export(&t, out.path(), &ExportOptions::default());
    let (want, prices) = stored(&t);
    let sample: Vec<(i64, i64)> = prices.keys().take(20).copied().collect();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_export.py");
    let mut cmd = std::process::Command::new(crate::helpers::python());
    cmd.arg(script)
        .arg(out.path())
        .arg(today().to_string())
        .arg(serde_json::to_string(&sample).unwrap());
    let result = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let seen: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let want: serde_json::Value = want
        .iter()
        .map(|(token, n)| (token.to_string(), serde_json::json!(n)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    for tool in ["pyarrow", "polars", "duckdb", "pandas"] {
        assert_eq!(seen[tool]["counts"], want, "{tool}: rows per instrument");
    }
    assert_eq!(seen["pyarrow"]["zone"], "Asia/Kolkata");
    assert_eq!(seen["polars"]["zone"], "Asia/Kolkata");
    assert_eq!(seen["pandas"]["zone"], "Asia/Kolkata");
    assert_eq!(seen["duckdb"]["zone"], "TIMESTAMP WITH TIME ZONE");
    let polars_prices = seen["polars"]["prices"].as_object().unwrap();
    assert_eq!(
        polars_prices.len(),
        sample.len(),
        "every sampled tick found"
    );
    for (token, recv) in &sample {
        let cents = prices[&(*token, *recv)];
        let text = polars_prices[&format!("{token}:{recv}")]
            .as_str()
            .unwrap()
            .to_string();
        let value: f64 = text.parse().unwrap();
        assert!(
            (value * 100.0 - cents as f64).abs() < 1e-6,
            "{token}: {text} vs {cents}"
        );
    }
    assert!(done.rows > 0);
    t.sim.stop().await;
}

/// The blocks of fenced code of `lang` in data-model.md's "Getting the data out".
fn documented(lang: &str) -> Vec<String> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/data-model.md"),
    )
    .unwrap();
    let section = &text[text.find("## Getting the data out").expect("the section")..];
    let section = section[3..]
        .find("\n## ")
        .map_or(section, |end| &section[..end + 3]);
    section
        .split(&format!("```{lang}\n"))
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_string())
        .collect()
}

/// Every command and snippet of data-model.md's "Getting the data out", run against a
/// recorded day (its dates moved to today).
#[actix_rt::test]
async fn the_docs_export_commands_and_snippets_run() {
    let t = crate::helpers::spawn_app(20.0, |_| {}).await;
    t.wait_for_ticks(20).await;
    t.app.shutdown().await.expect("drains");
    let cfg = service_config(&t.sim, t._dir.path(), "");
    let (day, first) = (
        today().to_string(),
        (today() - chrono::Days::new(25)).to_string(),
    );
    let commands: Vec<String> = documented("sh")
        .iter()
        .flat_map(|b| b.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| l.starts_with("tickvault export"))
        .collect();
    assert_eq!(commands.len(), 4, "{commands:?}");
    for line in &commands {
        let line = line
            .replace("2026-11-27", &day)
            .replace("2026-11-02", &first);
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        let out = tickvault()
            .args(&args)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{line}\n{}", stderr(&out));
    }
    let data = t.settings.paths.data_dir.join("export");
    assert!(
        data.join("ticks")
            .join(format!("date={day}"))
            .join("part-0.parquet")
            .is_file()
    );
    assert!(
        data.join("bars_1m")
            .join(format!("date={day}"))
            .join("part-0.parquet")
            .is_file()
    );
    // README's snippet too (indented in a list item).
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let readme: String = readme
        .split("```python\n")
        .nth(1)
        .expect("README's snippet")
        .split("```")
        .next()
        .unwrap()
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    let snippet = documented("python").concat() + &readme;
    let snippet = snippet
        .replace(
            "data/export/ticks",
            &data.join("ticks").display().to_string(),
        )
        .replace("2026-11-27", &day);
    let out = std::process::Command::new(crate::helpers::python())
        .args(["-c", &snippet])
        .output()
        .unwrap();
    assert!(out.status.success(), "{snippet}\n{}", stderr(&out));
    t.sim.stop().await;
}
