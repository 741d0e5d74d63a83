//! Messages of the instruments actor.

use std::collections::HashMap;

use actix::prelude::*;
use chrono::NaiveDate;

use super::Instruments;
use crate::actors::auth::AuthError;
use crate::actors::auth::handlers::GetToken;
use crate::kite::client::{KiteClient, KiteError, Session};
use crate::plan::{
    PlanError, SavedPlan, SubscriptionPlan, deal, dedupe_dump, parse_dump, resolve_instruments,
    spot_keys,
};
use crate::settings::universe::Recenter;
use crate::status::InstrumentsStatus;
use crate::status::State;

/// Downloads the dump for `date` and resolves the plan.
#[derive(Debug, Message)]
#[rtype(result = "Result<SubscriptionPlan, ResolveError>")]
pub struct Resolve {
    /// The trading date.
    pub date: NaiveDate,
}

/// Why no plan; a start-up error for the operator.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// No token (a refused credential, or Kite unreachable).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The auth actor has stopped.
    #[error("the auth actor has stopped: {0}")]
    AuthStopped(String),
    /// Kite failed.
    #[error("cannot fetch {what}: {error}")]
    Kite {
        /// Which call.
        what: &'static str,
        /// The error.
        error: KiteError,
    },
    /// The universe does not resolve or does not fit.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Keys per `/quote/ltp` request (Kite takes up to 1000).
pub const LTP_KEYS_PER_REQUEST: usize = 500;

/// The last prices of `keys`, in requests of [`LTP_KEYS_PER_REQUEST`]. Quotes are limited to
/// one request a second per app: a quick restart (or the next chunk) can meet the limit, so a
/// 429 waits a second and tries again (five times).
pub async fn fetch_spots(
    client: &KiteClient,
    session: &Session,
    keys: &[String],
) -> Result<HashMap<String, f64>, ResolveError> {
    let mut spots = HashMap::new();
    for chunk in keys.chunks(LTP_KEYS_PER_REQUEST) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let mut attempt = 1;
        loop {
            match client.ltp(session, &refs).await {
                Err(e) if e.is_rate_limited() && attempt < 5 => {
                    attempt += 1;
                    actix_rt::time::sleep(std::time::Duration::from_millis(1100)).await;
                }
                other => {
                    spots.extend(other.map_err(|error| ResolveError::Kite {
                        what: "spot prices",
                        error,
                    })?);
                    break;
                }
            }
        }
    }
    Ok(spots)
}

impl Handler<Resolve> for Instruments {
    type Result = ResponseActFuture<Self, Result<SubscriptionPlan, ResolveError>>;

    fn handle(&mut self, msg: Resolve, _ctx: &mut Self::Context) -> Self::Result {
        let client = self
            .client
            .get_or_insert_with(|| KiteClient::new(&self.api_root, &self.api_root, self.timeout))
            .clone();
        let auth = self.auth.clone();
        let app = self.apps.first().cloned().unwrap_or_default();
        let universe = self.universe.clone();
        let snapshot = self
            .data_dir
            .join("instruments")
            .join(format!("{}.csv", msg.date));
        let data_dir = self.data_dir.clone();
        // The day's first plan holds all day unless the settings say otherwise (or changed).
        let saved = match universe.recenter {
            Recenter::Never => SavedPlan::load(&data_dir, msg.date, &universe),
            Recenter::OnRestart => None,
        };
        let work = async move {
            if let Some(planned) = saved.as_ref().and_then(SavedPlan::planned) {
                let unknown = saved.map(|s| s.unknown).unwrap_or_default();
                tracing::info!(
                    instruments = planned.len(),
                    "the day's plan as first resolved (universe.recenter = never)"
                );
                return Ok::<_, ResolveError>((planned, unknown, None, Vec::new(), "saved"));
            }
            let token = auth
                .send(GetToken { app })
                .await
                .map_err(|e| ResolveError::AuthStopped(e.to_string()))??;
            let csv = client
                .instruments(&token.session, None)
                .await
                .map_err(|error| ResolveError::Kite {
                    what: "the instruments dump",
                    error,
                })?;
            if let Some(dir) = snapshot.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(&snapshot, &csv) {
                tracing::warn!(path = %snapshot.display(), error = %e, "cannot keep the dump snapshot");
            }
            let mut dump = parse_dump(&csv).map_err(PlanError::from)?;
            let duplicates = dedupe_dump(&mut dump);
            let spots = fetch_spots(&client, &token.session, &spot_keys(&universe, &dump)).await?;
            let (planned, unknown) = resolve_instruments(&universe, &dump, msg.date, &spots)?;
            if let Err(e) = SavedPlan::new(&universe, &planned, &unknown).save(&data_dir, msg.date)
            {
                tracing::warn!(error = %e, "cannot keep the day's plan; a restart resolves again");
            }
            Ok((planned, unknown, Some(dump.len()), duplicates, "resolved"))
        };
        Box::pin(work.into_actor(self).map(move |result, act, _ctx| {
            let (planned, unknown, dump_rows, duplicates, source) = match result {
                Ok(r) => r,
                Err(e) => {
                    // The scheduler retries (with --now the process exits): not `failed`, which
                    // would stop the systemd watchdog over a retry.
                    act.status.fail(State::Backoff, &e.to_string());
                    return Err(e);
                }
            };
            for name in &unknown {
                tracing::warn!(name, "not in the instruments dump; not recorded");
            }
            for name in &duplicates {
                tracing::warn!(name, "a duplicate row in the instruments dump; left out");
            }
            let sockets = deal(
                &planned,
                &act.apps,
                act.sockets.per_app,
                act.sockets.max_instruments,
            )
            .inspect_err(|e| {
                act.status.fail(State::Backoff, &e.to_string());
            })?;
            act.status.report(|s: &mut InstrumentsStatus| {
                s.plan = Some(source.to_string());
                s.duplicates.clone_from(&duplicates);
                s.dump_rows = dump_rows;
                s.instruments = planned.len();
                s.sockets = sockets.len();
                s.unknown.clone_from(&unknown);
            });
            act.status.set_state(State::Running);
            Ok(SubscriptionPlan {
                date: msg.date,
                instruments: planned,
                sockets,
                unknown,
            })
        }))
    }
}
