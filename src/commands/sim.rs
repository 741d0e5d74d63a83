//! `tickvault sim`: run the Kite simulator until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{NaiveDate, Utc};

use super::Failure;
use crate::calendar::ist_date;
use crate::settings::{Settings, SettingsError};
use crate::sim::{self, SimOptions};

/// Arguments of `tickvault sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address to listen on (default: `sim.listen`, 127.0.0.1:7000; port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,

    /// Seed of the instrument universe and the market model (default: `sim.seed`).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Trading date of the instruments dump and the exchange clock (default: today in IST).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,

    /// Updates per subscribed instrument per second (default: `sim.rate`, 1).
    #[arg(long)]
    pub rate: Option<f64>,

    /// Write every message sent to this capture file (KITECAP1; must not exist yet).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: &SimArgs, settings: &Settings) -> Result<ExitCode, Failure> {
    let mut config = settings.sim.clone();
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0 && rate <= 1000.0) {
            return Err(SettingsError::new("--rate", "must be above 0 and at most 1000").into());
        }
        config.rate = rate;
    }
    let options = SimOptions {
        config,
        date: args.date.unwrap_or_else(|| ist_date(Utc::now())),
        record: args.record.clone(),
    };
    let system = actix_rt::System::new();
    system.block_on(async move {
        let handle = sim::start(options.clone())?;
        print_banner(&handle, &options);
        crate::signals::wait_for_stop()
            .await
            .context("cannot wait for signals")?;
        tracing::info!("stopping the simulator");
        handle.stop().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Prints what to connect to, in one write. A closed stdout (the reader went away) is ignored:
/// the simulator keeps serving.
fn print_banner(handle: &sim::SimHandle, options: &SimOptions) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let c = &options.config;
    // The first line names the URL and the next two the credentials (scripts read them so);
    // every line fits 100 columns.
    let mut text = format!(
        "tickvault sim on {} (WebSocket {}/ws)\n",
        handle.http_url(),
        handle.ws_url(),
    );
    for app in &c.apps {
        let _ = writeln!(
            text,
            "  app:  api_key={} api_secret={} redirect_url={}",
            app.api_key, app.api_secret, app.redirect_url
        );
    }
    for user in &c.users {
        let _ = writeln!(
            text,
            "  user: user_id={} password={} totp_secret={}",
            user.user_id, user.password, user.totp_secret
        );
    }
    let _ = writeln!(
        text,
        "  trading date {}, seed {}, {} instruments, {} updates/s per instrument",
        options.date,
        c.seed,
        handle.state().universe.instruments.len(),
        c.rate
    );
    if let Some(path) = &options.record {
        let _ = writeln!(text, "  recording every message sent to {}", path.display());
    }
    let _ = writeln!(
        text,
        "  faults and stats: {}/sim/connections and /sim/stats (docs/simulator.md)",
        handle.http_url(),
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
