//! The steps of one run, each per chunk of instruments and each rerunnable.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::{NaiveDate, Utc};

use super::retention::delete_old_journals;
use super::{EodError, EodOptions, EodReport, InstrumentRows, Progress, Step, report_path};
use crate::storage::eod::{self as sql, ClearGuard};
use crate::storage::{self, Store};

/// A test's fail point, when the run has one here (`test-hooks`).
#[cfg(feature = "test-hooks")]
fn check(opts: &EodOptions, step: Step, done: usize) -> Result<(), EodError> {
    match opts.fail {
        Some(f) if f.step == step && f.after_chunks == done => Err(EodError::Injected(step)),
        _ => Ok(()),
    }
}

#[cfg(not(feature = "test-hooks"))]
fn check(_opts: &EodOptions, _step: Step, _done: usize) -> Result<(), EodError> {
    Ok(())
}

pub(super) fn steps(
    store: &mut Store,
    data_dir: &Path,
    date: NaiveDate,
    opts: EodOptions,
    (started, started_at): (Instant, chrono::DateTime<Utc>),
    progress: &mut dyn FnMut(Progress),
) -> Result<(EodReport, String), EodError> {
    let db = store.conn();
    sql::index_daily(db)?;
    let high_water = sql::high_water(db, date)?;
    let chunks = sql::plan_chunks(db, date, opts.chunk_rows)?;
    let rows_total: u64 = chunks.iter().map(|c| c.rows).sum();
    let instruments: usize = chunks.iter().map(|c| c.instruments).sum();
    let n = chunks.len();
    let mut report_progress = |step, done, chunks, rows_moved| {
        progress(Progress {
            step,
            done,
            chunks,
            instruments,
            rows_moved,
            rows_total,
        })
    };
    tracing::info!(%date, instruments, chunks = n, rows = rows_total, dedupe = opts.settings.dedupe.as_str(), "end of day: starting");

    let mut removed = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        removed += sql::dedupe_chunk(db, date, *chunk, opts.settings.dedupe)?;
        report_progress(Step::Dedupe, i + 1, n, 0);
        check(&opts, Step::Dedupe, i + 1)?;
    }
    check(&opts, Step::Dedupe, usize::MAX)?;
    tracing::info!(%date, removed, "end of day: dedupe done");

    let mut moved = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        moved += sql::move_chunk(db, date, *chunk)?;
        report_progress(Step::Move, i + 1, n, moved);
        check(&opts, Step::Move, i + 1)?;
    }
    check(&opts, Step::Move, usize::MAX)?;
    tracing::info!(%date, moved, "end of day: move done");

    let mut mismatches = Vec::new();
    let mut verified_rows = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let (bad, rows) = sql::verify_chunk(db, date, *chunk)?;
        mismatches.extend(bad);
        verified_rows += rows;
        report_progress(Step::Verify, i + 1, n, moved);
        check(&opts, Step::Verify, i + 1)?;
    }
    if !mismatches.is_empty() {
        return Err(EodError::Verify(mismatches));
    }
    check(&opts, Step::Verify, usize::MAX)?;

    // Rows that arrived since the run began (a replay, a late batch) were not verified: then
    // each deleted row is looked up in the master first. Otherwise the clear deletes the key
    // ranges up to the run's high-water marks, which hold exactly the verified rows.
    let guard = if sql::daily_rows(db, date)? == verified_rows {
        ClearGuard::Range
    } else {
        tracing::warn!(%date, "end of day: daily rows arrived during the run; the clear deletes only rows the master holds");
        ClearGuard::InMaster
    };
    // The clear walks the table's own key: the run's index would only slow every delete down.
    sql::unindex_daily(db)?;
    let parts = sql::plan_clear(db, date, opts.chunk_rows, &high_water)?;
    for (i, part) in parts.iter().enumerate() {
        sql::clear_part(db, date, *part, guard)?;
        report_progress(Step::Clear, i + 1, parts.len(), moved);
        check(&opts, Step::Clear, i + 1)?;
    }
    let late = sql::daily_rows(db, date)?;
    if late > 0 {
        tracing::warn!(%date, rows = late, "end of day: daily rows arrived after the verification; kept for the next run");
    }
    check(&opts, Step::Clear, usize::MAX)?;

    let per_token = sql::master_rows_per_token(db, date)?;
    let symbols = sql::instrument_symbols(db, date)?;
    let gaps = storage::gaps(db, date)?;
    let removed_rows = sql::removed_rows(db, date)?;
    let symbol = |t: u32| symbols.get(&t).cloned().unwrap_or_default();
    let rows_per_instrument: BTreeMap<u32, u64> = per_token.into_iter().collect();
    let thin_instruments = rows_per_instrument
        .iter()
        .filter(|(_, rows)| **rows < opts.settings.min_rows)
        .map(|(t, rows)| InstrumentRows {
            token: *t,
            tradingsymbol: symbol(*t),
            rows: *rows,
        })
        .collect();
    let silent_instruments = symbols
        .keys()
        .filter(|t| !rows_per_instrument.contains_key(t))
        .map(|t| InstrumentRows {
            token: *t,
            tradingsymbol: symbol(*t),
            rows: 0,
        })
        .collect();
    // A fold from +0.0: an empty f64 sum is -0.0, shown as "-0.0".
    let gap_minutes = gaps
        .iter()
        .map(|g| crate::storage::models::gap_seconds(g.start_us, g.end_us) / 60.0)
        .fold(0.0, |a, b| a + b);
    let journals_deleted = if opts.retention_days > 0 {
        delete_old_journals(store, data_dir, date, opts.retention_days)?
    } else {
        Vec::new()
    };
    let export = opts.export.as_ref().map(|to| to.run(store, date));
    let report = EodReport {
        trade_date: date,
        dedupe: opts.settings.dedupe,
        started_at: crate::calendar::ist_rfc3339(started_at),
        duration_ms: started.elapsed().as_millis() as u64,
        instruments: rows_per_instrument.len(),
        master_rows: rows_per_instrument.values().sum(),
        removed_rows,
        moved_by_this_run: moved,
        rows_per_instrument,
        min_rows: opts.settings.min_rows,
        thin_instruments,
        silent_instruments,
        gaps: gaps.len(),
        gap_minutes: (gap_minutes * 100.0).round() / 100.0,
        journals_deleted,
        database_bytes: store
            .size_bytes()
            .map_err(|e| tracing::warn!(error = %e, "cannot measure the database's size"))
            .ok(),
        export,
    };
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    let path = report_path(data_dir, date);
    crate::files::write_atomically(&path, json.as_bytes()).map_err(|error| EodError::Report {
        path: path.clone(),
        error,
    })?;
    check(&opts, Step::Report, usize::MAX)?;
    tracing::info!(
        %date,
        instruments = report.instruments,
        master_rows = report.master_rows,
        removed_rows = report.removed_rows,
        thin = report.thin_instruments.len(),
        silent = report.silent_instruments.len(),
        gap_minutes = report.gap_minutes,
        duration_ms = report.duration_ms,
        report = %path.display(),
        "end of day: done"
    );
    Ok((report, json))
}
