//! The database side of a day: the persister on its own thread and the end-of-day actor on
//! another.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use chrono::NaiveDate;

use super::StartError;
use crate::actors::children::Restarts;
use crate::actors::eod::Eod;
use crate::actors::persister::Persister;
use crate::backoff::Backoff;
use crate::settings::Settings;
use crate::status::{Actor, State, StatusBoard, StatusHandle};
use crate::storage::{StorageUrl, Store};

/// Opens the store (migrations included; fail fast) and starts the persister and the
/// end-of-day actor, each on a thread of its own. Each thread's `SyncArbiter` is its
/// supervisor: an actor that stops is made again by the factory, which counts the restart
/// (the first call is the start) and, for the persister, opens the database again (the new
/// one reads its committed positions and catches up from the journal; nothing is lost).
pub(super) fn start(
    settings: &Settings,
    date: NaiveDate,
    board: &Arc<StatusBoard>,
) -> Result<Started, StartError> {
    let data_dir = settings.paths.data_dir.clone();
    let url = settings
        .storage
        .parsed_url()
        .map_err(|e| StartError::Internal(e.to_string()))?;
    let store = Store::open(&url)?;
    let persister_status = board.handle(Actor::Persister);
    let persister_restarts = Restarts::new(&persister_status);
    let cell = Arc::new(Mutex::new(Some(store)));
    let (batch_rows, batch_every) = (
        settings.storage.batch_rows,
        Duration::from_millis(settings.storage.batch_ms),
    );
    let (dir, reopen_url, restarts) = (data_dir.clone(), url.clone(), persister_restarts.clone());
    let persister = SyncArbiter::start(1, move || {
        let first = cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let (store, restarted) = match first {
            Some(store) => (store, false),
            None => {
                restarts.restarted();
                (reopen(&reopen_url, &persister_status), true)
            }
        };
        let persister = Persister::new(
            store,
            dir.clone(),
            date,
            batch_rows,
            batch_every,
            persister_status.clone(),
            restarts.clone(),
        );
        if restarted {
            persister.carry_on()
        } else {
            persister
        }
    });

    let (eod_settings, retention) = (settings.eod, settings.journal.retention_days);
    let status = board.handle(Actor::Eod);
    let eod_restarts = Restarts::new(&status);
    let (restarts, started) = (eod_restarts.clone(), AtomicBool::new(false));
    let export = crate::eod::AfterEod::from_settings(settings);
    let eod = SyncArbiter::start(1, move || {
        if started.swap(true, Ordering::Relaxed) {
            restarts.restarted();
        }
        Eod::new(
            url.clone(),
            data_dir.clone(),
            eod_settings,
            retention,
            status.clone(),
            restarts.clone(),
        )
        .exporting(export.clone())
    });
    Ok(Started {
        persister,
        eod,
        restarts: [persister_restarts, eod_restarts],
    })
}

/// The database side's actors, and how their restarts are reported.
pub(super) struct Started {
    pub(super) persister: Addr<Persister>,
    pub(super) eod: Addr<Eod>,
    /// The persister's and the end of day's: told the coordinator once it exists.
    pub(super) restarts: [Restarts; 2],
}

/// How long a restarted persister tries to open the database before the process gives up.
const REOPEN_FOR: Duration = Duration::from_secs(60);

/// The database again, for a restarted persister: tried on the persister's own thread (its
/// mailbox keeps what arrives meanwhile; the journal keeps the ticks) for [`REOPEN_FOR`]. Past
/// that the process exits with the escalation's status (70): the drain itself needs a
/// persister, and every tick is in the journal, which crash recovery stores at the next start.
fn reopen(url: &StorageUrl, status: &StatusHandle) -> Store {
    let give_up = std::time::Instant::now() + REOPEN_FOR;
    let mut wait = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    loop {
        match Store::open(url) {
            Ok(store) => return store,
            Err(e) if std::time::Instant::now() >= give_up => {
                tracing::error!(error = %e, "the restarted persister could not open the database for {} s; exiting for systemd to restart the service (the journal keeps every tick)", REOPEN_FOR.as_secs());
                std::process::exit(70);
            }
            Err(e) => {
                tracing::error!(error = %e, "the restarted persister cannot open the database; retrying");
                status.fail(State::Backoff, &format!("reopening the database: {e}"));
                std::thread::sleep(wait.next_delay());
            }
        }
    }
}
