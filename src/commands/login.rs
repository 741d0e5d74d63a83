//! `tickvault login [--fresh]`: log in to every configured app (or reuse today's cached token;
//! `--fresh` never does) and print when each token expires. The token itself is never printed.

use std::process::ExitCode;

use actix::Actor;
use anyhow::anyhow;

use super::{Failure, require_apps};
use crate::actors::auth::handlers::GetToken;
use crate::actors::auth::{Auth, AuthError};
use crate::settings::{Settings, SettingsError};

/// Arguments of `tickvault login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Log in with the password and TOTP even when today's token is cached (the new token
    /// replaces it): proves the credentials, not the cache.
    #[arg(long)]
    pub fresh: bool,
}

/// Runs the command.
pub fn run(args: &LoginArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    require_apps(settings)?;
    let settings = settings.clone();
    let fresh = args.fresh;
    actix_rt::System::new().block_on(async move {
        let board = crate::status::StatusBoard::new();
        // A person waits: two attempts (a TOTP code at a window's edge gets the next window).
        let mut auth = Auth::from_settings(
            &settings,
            crate::clock::system(),
            board.handle(crate::status::Actor::Auth),
        )
        .attempts(2);
        if fresh {
            auth = auth.fresh();
        }
        let auth = auth.start();
        for app in &settings.apps {
            let token = auth
                .send(GetToken {
                    app: app.name.clone(),
                })
                .await
                .map_err(|e| Failure::Other(anyhow!("{e}")))?
                .map_err(|e| match e {
                    // Kite refused a credential: the settings' to fix, named.
                    AuthError::Rejected { refusal, .. } => Failure::Config(SettingsError::new(
                        format!("apps.{}.{}", app.name, refusal.key()),
                        e.to_string(),
                    )),
                    e => Failure::Unavailable(anyhow!("{e}")),
                })?;
            println!(
                "{}: logged in as {} (api_key {}), token valid until {}",
                app.name,
                token.session.user_id,
                token.api_key,
                crate::calendar::ist_human(token.expires_at)
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
