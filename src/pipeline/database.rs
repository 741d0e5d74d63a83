//! The database side of a day: the persister on its own thread and the end-of-day actor on
//! another.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use chrono::NaiveDate;

use super::StartError;
use crate::actors::eod::Eod;
use crate::actors::persister::Persister;
use crate::settings::Settings;
use crate::status::StatusBoard;
use crate::storage::Store;

/// Opens the store (migrations included; fail fast) and starts the persister and the
/// end-of-day actor, each on a thread of its own.
pub(super) fn start(
    settings: &Settings,
    date: NaiveDate,
    board: &Arc<StatusBoard>,
) -> Result<(Addr<Persister>, Addr<Eod>), StartError> {
    let data_dir = settings.paths.data_dir.clone();
    let url = settings
        .storage
        .parsed_url()
        .map_err(|e| StartError::Internal(e.to_string()))?;
    let store = Store::open(&url)?;
    let persister_status = board.handle(crate::status::Actor::Persister);
    let cell = Arc::new(Mutex::new(Some(store)));
    let (batch_rows, batch_every) = (
        settings.storage.batch_rows,
        Duration::from_millis(settings.storage.batch_ms),
    );
    let dir = data_dir.clone();
    let persister = SyncArbiter::start(1, move || {
        let store = cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        // One thread: the factory runs once. A restart after a panic has no store left; panics
        // abort the process in release builds.
        let store = store.unwrap_or_else(|| panic!("the persister's store was already taken"));
        Persister::new(
            store,
            dir.clone(),
            date,
            batch_rows,
            batch_every,
            persister_status.clone(),
        )
    });

    let (eod_settings, retention) = (settings.eod, settings.journal.retention_days);
    let status = board.handle(crate::status::Actor::Eod);
    let eod = SyncArbiter::start(1, move || {
        Eod::new(
            url.clone(),
            data_dir.clone(),
            eod_settings,
            retention,
            status.clone(),
        )
    });
    Ok((persister, eod))
}
