//! Journals past their retention, deleted once their own end of day is done.

use std::path::Path;

use chrono::NaiveDate;

use super::EodError;
use crate::storage::Store;
use crate::storage::eod as sql;

/// Deletes `<data_dir>/journal/D` for dates D more than `days` before `date` whose own end of
/// day is done (their rows are in the master). Returns the dates deleted.
pub(super) fn delete_old_journals(
    store: &mut Store,
    data_dir: &Path,
    date: NaiveDate,
    days: u32,
) -> Result<Vec<String>, EodError> {
    let root = data_dir.join("journal");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(Vec::new());
    };
    let cutoff = date - chrono::Duration::days(i64::from(days));
    let mut old: Vec<NaiveDate> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<NaiveDate>().ok())
        .filter(|d| *d < cutoff)
        .collect();
    old.sort();
    let mut deleted = Vec::new();
    for d in old {
        let done = sql::run_statuses(store.conn(), d)?
            .iter()
            .any(|s| s == "done");
        if !done {
            tracing::warn!(date = %d, "journal past retention kept: its end of day never completed");
            continue;
        }
        let dir = root.join(d.to_string());
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => deleted.push(d.to_string()),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot delete an old journal")
            }
        }
    }
    Ok(deleted)
}
