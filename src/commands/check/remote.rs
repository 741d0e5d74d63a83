//! The items `tickvault check` asks a remote for, one function each: the logins (fresh, never
//! cached), the instruments dump and the universe, Redis, the SMTP server and Kite's clock.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;

use super::{Blame, Item};
use crate::actors::instruments::handlers::{ResolveError, fetch_spots};
use crate::kite::client::{KiteClient, KiteError, Refusal, Session};
use crate::plan::{deal, parse_dump, resolve_instruments, spot_keys};
use crate::settings::Settings;

/// Everything that needs the network: Redis, SMTP, each app's login, the instruments dump and
/// the universe, the clock against Kite's.
pub async fn remote(settings: Settings, today: NaiveDate) -> Vec<Item> {
    let mut items = Vec::new();
    if settings.redis.enabled {
        items.push(redis(&settings).await);
    }
    if settings.notify.enabled {
        items.push(smtp(&settings).await);
    }
    let client = KiteClient::new(
        &settings.kite.api_root,
        &settings.kite.login_root,
        settings.kite.timeout(),
    );
    let mut session = None;
    // A fresh login while the service runs may cost it its token (it logs in again by itself).
    let running = crate::pidfile::running(&settings.paths.state_dir).map(|pid| {
        format!(
            "the service is running (pid {pid}); this fresh login may replace its token, and it \
             logs in again by itself if Kite refuses the old one"
        )
    });
    for app in &settings.apps {
        let (item, s) = login(&client, app).await;
        items.push(item.with_notes(running.clone()));
        session = session.or(s);
    }
    items.push(match &session {
        Some(s) => instruments(&settings, &client, s, today).await,
        None => Item::skip("instruments", "no app logged in"),
    });
    items.push(clock(&client).await);
    items
}

async fn redis(settings: &Settings) -> Item {
    let shown = crate::storage::redact(&settings.redis.url);
    let work = async {
        let client = settings.redis.client()?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(5), work).await {
        Ok(Ok(_)) => Item::pass("redis", format!("{shown}: answers PING")),
        Ok(Err(e)) if e.kind() == redis::ErrorKind::AuthenticationFailed => Item::fail(
            "redis",
            "redis_login_refused",
            Blame::Settings,
            format!("{shown}: {e}"),
            "check redis.password (file or credential)",
        ),
        Ok(Err(e)) => Item::fail(
            "redis",
            "redis_unreachable",
            Blame::Remote,
            format!("{shown}: {e}"),
            "start Redis or fix redis.url (or set redis.enabled = false)",
        ),
        Err(_) => Item::fail(
            "redis",
            "redis_unreachable",
            Blame::Remote,
            format!("{shown}: no answer within 5 s"),
            "start Redis or fix redis.url (or set redis.enabled = false)",
        ),
    }
}

async fn smtp(settings: &Settings) -> Item {
    let n = &settings.notify;
    let server = format!("{}:{}", n.smtp_host, n.smtp_port);
    let transport = match crate::actors::notifier::mail::transport(n) {
        Ok(t) => t,
        Err(e) => {
            return Item::fail(
                "smtp",
                "bad_setting",
                Blame::Settings,
                e.to_string(),
                "fix the key named",
            );
        }
    };
    let login = if n.username.is_empty() {
        "no login"
    } else {
        "login accepted"
    };
    match transport.test_connection().await {
        Ok(true) => Item::pass("smtp", format!("{server}: connects, {login}")),
        Ok(false) => Item::fail(
            "smtp",
            "smtp_unreachable",
            Blame::Remote,
            format!("{server}: the connection did not answer NOOP"),
            "check the server",
        ),
        Err(e) if e.is_permanent() => Item::fail(
            "smtp",
            "smtp_login_refused",
            Blame::Settings,
            format!("{server}: {e}"),
            "check notify.username and notify.password (file or credential)",
        ),
        Err(e) => Item::fail(
            "smtp",
            "smtp_unreachable",
            Blame::Remote,
            format!("{server}: {e}"),
            "check notify.smtp_host, notify.smtp_port and notify.security (and notify.ca_file for a private CA)",
        ),
    }
}

/// A fresh login (never the cached token): proves the password, the TOTP seed and the API
/// secret. The token is used for the dump and then dropped.
async fn login(client: &KiteClient, app: &crate::settings::AppSettings) -> (Item, Option<Session>) {
    let item = format!("login.{}", app.name);
    let creds = crate::kite::client::Credentials::from(app);
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let key = |leaf: &str| format!("apps.{}.{leaf}", app.name);
    match client.login(&creds, now).await {
        Ok(session) => (
            Item::pass(
                &item,
                format!(
                    "logged in as {} with the password and TOTP (api_key {})",
                    session.user_id, app.api_key
                ),
            ),
            Some(session),
        ),
        Err(e) => {
            let (problem, blame, fix) = match e.refusal() {
                Some(r @ Refusal::ApiKey) => (
                    r.problem(),
                    Blame::Settings,
                    format!(
                        "check {} (developers.kite.trade lists your apps)",
                        key("api_key")
                    ),
                ),
                Some(r @ Refusal::Password) => (
                    r.problem(),
                    Blame::Settings,
                    format!(
                        "check {} and {} (Zerodha locks an account after repeated failures)",
                        key("user_id"),
                        key("password")
                    ),
                ),
                Some(r @ (Refusal::Totp | Refusal::TotpSecret)) => (
                    r.problem(),
                    Blame::Settings,
                    format!(
                        "check {} is the account's external TOTP seed (the base32 key shown when \
                         TOTP was enabled), and the clock",
                        key("totp_secret")
                    ),
                ),
                Some(r @ Refusal::ApiSecret) => (
                    r.problem(),
                    Blame::Settings,
                    format!("check {}", key("api_secret")),
                ),
                None if matches!(e, KiteError::Transport { .. }) => (
                    "kite_unreachable",
                    Blame::Remote,
                    "check the network (and kite.login_root, kite.api_root)".to_string(),
                ),
                None => (
                    "kite_error",
                    Blame::Remote,
                    "try again later; if it lasts, look at Kite's status page".to_string(),
                ),
            };
            (Item::fail(&item, problem, blame, e.to_string(), fix), None)
        }
    }
}

/// The dump downloads and the universe resolves and fits the sockets.
async fn instruments(
    settings: &Settings,
    client: &KiteClient,
    session: &Session,
    today: NaiveDate,
) -> Item {
    let csv = match client.instruments(session, None).await {
        Ok(csv) => csv,
        Err(e) => {
            return Item::fail(
                "instruments",
                "dump_unavailable",
                Blame::Remote,
                format!("cannot download the instruments dump: {e}"),
                "try again later",
            );
        }
    };
    let dump = match parse_dump(&csv) {
        Ok(d) => d,
        Err(e) => {
            return Item::fail(
                "instruments",
                "dump_malformed",
                Blame::Remote,
                e.to_string(),
                "try again later",
            );
        }
    };
    let universe = &settings.universe;
    let resolved = async {
        let spots = fetch_spots(client, session, &spot_keys(universe, &dump)).await?;
        Ok::<_, ResolveError>(resolve_instruments(universe, &dump, today, &spots)?)
    }
    .await;
    let (planned, unknown) = match resolved {
        Ok(r) => r,
        Err(ResolveError::Plan(e)) => {
            return match e.setting() {
                Some(key) => Item::fail(
                    "instruments",
                    "universe_unresolved",
                    Blame::Settings,
                    e.to_string(),
                    format!("fix `{key}`"),
                ),
                // Kite's fault (a missing quote): not the settings'.
                None => Item::fail(
                    "instruments",
                    "quotes_unavailable",
                    Blame::Remote,
                    e.to_string(),
                    "try again later",
                ),
            };
        }
        Err(e) => {
            return Item::fail(
                "instruments",
                "quotes_unavailable",
                Blame::Remote,
                e.to_string(),
                "try again later",
            );
        }
    };
    let apps: Vec<String> = settings.apps.iter().map(|a| a.name.clone()).collect();
    let available = apps.len() * settings.sockets.per_app;
    let per_socket = settings.sockets.max_instruments;
    let needed = planned.len().div_ceil(per_socket);
    if let Err(e) = deal(&planned, &apps, settings.sockets.per_app, per_socket) {
        let (problem, fix) = match e {
            crate::plan::PlanError::Empty => (
                "universe_empty",
                "name instruments in [universe] that the dump has",
            ),
            _ => (
                "universe_does_not_fit",
                "add an [apps.<name>] table or narrow [universe]",
            ),
        };
        return Item::fail("instruments", problem, Blame::Settings, e.to_string(), fix);
    }
    let mut per_segment: BTreeMap<String, usize> = BTreeMap::new();
    for p in &planned {
        *per_segment
            .entry(format!("{} {}", p.row.segment, p.group))
            .or_default() += 1;
    }
    let counts: Vec<String> = per_segment
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let mut notes = Vec::new();
    if !unknown.is_empty() {
        notes.push(format!(
            "not in the dump, not recorded: {}",
            super::first_of(&unknown, 8, "; ")
        ));
    }
    Item::pass(
        "instruments",
        format!(
            "dump of {} rows; universe {} instruments ({}); sockets needed {needed} of {available} ({per_socket} each)",
            dump.len(),
            planned.len(),
            counts.join(", ")
        ),
    )
    .with_notes(notes)
}

/// The host's clock against Kite's `Date` header: a TOTP code and the calendar need it right.
async fn clock(client: &KiteClient) -> Item {
    match client.server_date().await {
        Ok(d) => {
            let (offset, uncertainty) = d.offset_ms();
            let shown = format!(
                "{:+.1} s from Kite's clock (±{:.1} s)",
                offset as f64 / 1000.0,
                uncertainty as f64 / 1000.0
            );
            if offset.abs() - uncertainty > 1000 {
                Item::fail(
                    "clock",
                    "clock_skew",
                    Blame::Remote,
                    format!("this host is {shown}"),
                    "run time synchronisation (chrony or systemd-timesyncd; on EC2 the Amazon Time Sync Service)",
                )
            } else {
                Item::pass("clock", format!("within a second of Kite's ({shown})"))
            }
        }
        Err(e) => Item::fail(
            "clock",
            "kite_unreachable",
            Blame::Remote,
            format!("cannot read Kite's clock: {e}"),
            "check the network (and kite.api_root)",
        ),
    }
}
