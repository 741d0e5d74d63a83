//! `tickvault login`: log in to every configured app (or reuse today's cached token) and print
//! when each token expires. The token itself is never printed.

use std::process::ExitCode;

use actix::Actor;
use anyhow::anyhow;

use super::{Failure, require_apps};
use crate::actors::auth::Auth;
use crate::actors::auth::handlers::GetToken;
use crate::calendar::IST;
use crate::settings::Settings;

/// Arguments of `tickvault login` (none).
#[derive(Debug, clap::Args)]
pub struct LoginArgs {}

/// Runs the command.
pub fn run(settings: &Settings) -> Result<ExitCode, Failure> {
    require_apps(settings)?;
    let settings = settings.clone();
    actix_rt::System::new().block_on(async move {
        let board = crate::status::StatusBoard::new();
        let auth =
            Auth::from_settings(&settings, crate::clock::system(), board.handle("auth")).start();
        for app in &settings.apps {
            let token = auth
                .send(GetToken {
                    app: app.name.clone(),
                })
                .await
                .map_err(|e| Failure::Other(anyhow!("{e}")))?
                .map_err(|e| Failure::Unavailable(anyhow!("{e}")))?;
            println!(
                "{}: logged in as {} (api_key {}), token valid until {}",
                app.name,
                token.session.user_id,
                token.api_key,
                token
                    .expires_at
                    .with_timezone(&IST)
                    .format("%Y-%m-%d %H:%M %Z")
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
