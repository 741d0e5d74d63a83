//! The instruments actor: downloads the day's dump, keeps a snapshot of it, and resolves the
//! configured universe into a [`crate::plan::SubscriptionPlan`] dealt over the sockets.
//!
//! Messages: [`handlers::Resolve`] (→ the plan). Talks to: Kite (dump, `/quote/ltp` for spot),
//! auth (for a token).

pub mod actor;
pub mod handlers;

use std::path::PathBuf;

use actix::prelude::*;

use crate::actors::auth::Auth;
use crate::kite::client::KiteClient;
use crate::settings::pipeline::SocketSettings;
use crate::settings::universe::Universe;
use crate::status::StatusHandle;

/// Resolves the day's universe.
pub struct Instruments {
    /// What to record.
    pub(super) universe: Universe,
    /// Socket limits.
    pub(super) sockets: SocketSettings,
    /// App names, in settings order.
    pub(super) apps: Vec<String>,
    /// Where the dump snapshot is kept.
    pub(super) data_dir: PathBuf,
    /// For tokens.
    pub(super) auth: Addr<Auth>,
    /// Kite's REST root and timeout (the client is made on the actor's thread).
    pub(super) api_root: String,
    pub(super) timeout: std::time::Duration,
    pub(super) client: Option<KiteClient>,
    pub(super) status: StatusHandle,
    pub(super) restarts: crate::actors::children::Restarts,
}

impl Instruments {
    /// An instruments actor for every API app in `settings`, downloading through `auth`.
    pub fn from_settings(
        settings: &crate::settings::Settings,
        auth: Addr<Auth>,
        status: StatusHandle,
    ) -> Self {
        Instruments::new(
            settings.universe.clone(),
            settings.sockets.clone(),
            settings.apps.iter().map(|a| a.name.clone()).collect(),
            settings.paths.data_dir.clone(),
            auth,
            settings.kite.api_root.clone(),
            settings.kite.timeout(),
            status,
        )
    }

    /// An instruments actor.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        universe: Universe,
        sockets: SocketSettings,
        apps: Vec<String>,
        data_dir: PathBuf,
        auth: Addr<Auth>,
        api_root: String,
        timeout: std::time::Duration,
        status: StatusHandle,
    ) -> Self {
        Instruments {
            universe,
            sockets,
            apps,
            data_dir,
            auth,
            api_root,
            timeout,
            client: None,
            restarts: crate::actors::children::Restarts::new(&status),
            status,
        }
    }
}
