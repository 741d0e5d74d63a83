//! The items `tickvault check` looks at, one function each. None changes anything the service
//! relies on: logins are fresh and their tokens are not cached, directories are not created,
//! a SQLite file is not created and no migration is applied.

use std::path::Path;

use chrono::{Datelike, NaiveDate};

use super::{Blame, Item};
use crate::actors::notifier::watch::{free_bytes, human_bytes};
use crate::settings::{Settings, Sources};
use crate::storage::{self, StorageError, StorageUrl};

/// The settings as loaded: their layers, and any warning.
pub fn settings(settings: &Settings, sources: &Sources<'_>) -> Item {
    let mut layers = vec!["defaults".to_string()];
    if let Some(file) = sources.file {
        layers.push(file.display().to_string());
    }
    let env = sources
        .env
        .keys()
        .filter(|k| k.starts_with("TICKVAULT__"))
        .count();
    if env > 0 {
        layers.push(format!("{env} TICKVAULT__ variable(s)"));
    }
    let apps = settings.apps.len();
    let item = Item::pass(
        "settings",
        format!("loaded from {}; {apps} API app(s)", layers.join(" + ")),
    )
    .with_notes(settings.warnings.iter().map(|w| format!("warning: {w}")));
    if apps == 0 {
        return Item::fail(
            "settings",
            "no_apps",
            Blame::Settings,
            "no API app is configured",
            "add an [apps.<name>] table with api_key, user_id and the three secrets",
        );
    }
    item
}

/// Whether this process runs as root (then writability says little about the service user).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether this process may write in `dir`, or create it (its nearest existing parent takes a
/// file): `writable` or `not there yet; created at start`.
fn writable(dir: &Path) -> std::io::Result<&'static str> {
    if dir.is_dir() {
        return tempfile::NamedTempFile::new_in(dir).map(|_| "writable");
    }
    let parent = dir
        .ancestors()
        .skip(1)
        .find(|p| !p.as_os_str().is_empty() && p.is_dir())
        .unwrap_or(Path::new("."));
    tempfile::NamedTempFile::new_in(parent).map(|_| "not there yet; created at start")
}

/// The data and state directories: writable (or creatable at the first start), free space.
pub fn directories(settings: &Settings) -> Vec<Item> {
    // The alert's threshold, when alerts are on.
    let min_free = if settings.notify.enabled {
        settings.notify.disk_free_min_bytes
    } else {
        0
    };
    [
        ("data_dir", &settings.paths.data_dir),
        ("state_dir", &settings.paths.state_dir),
    ]
    .into_iter()
    .map(|(name, dir)| {
        let key = format!("paths.{name}");
        let writable = writable(dir);
        let free = free_bytes(dir);
        let free_text = free.map_or("free space unknown".to_string(), |b| {
            format!("{} free", human_bytes(b))
        });
        let root_note = running_as_root().then(|| {
            "run as the service's user (sudo -u tickvault tickvault check) to test its \
             permissions rather than root's"
                .to_string()
        });
        match writable {
            Err(e) => Item::fail(
                name,
                "not_writable",
                Blame::Settings,
                format!("{}: cannot write: {e}", dir.display()),
                format!(
                    "create it for the service's user (install -d -o tickvault -m 0750 {}) or change `{key}`",
                    dir.display()
                ),
            ),
            Ok(_) if min_free > 0 && free.is_some_and(|f| f < min_free) => Item::fail(
                name,
                "disk_low",
                Blame::Remote,
                format!(
                    "{}: {free_text}, below notify.disk_free_min_gib ({})",
                    dir.display(),
                    human_bytes(min_free)
                ),
                "free space on its file system, or move it to a larger one",
            ),
            Ok(state) => Item::pass(name, format!("{}: {state}, {free_text}", dir.display()))
                .with_notes(root_note),
        }
    })
    .collect()
}

/// The holiday list covers this year and, from 1 December, next year.
pub fn holidays(settings: &Settings, today: NaiveDate) -> Item {
    let origin = &settings.schedule.holidays_origin;
    let calendar = &settings.schedule.calendar;
    let year = today.year();
    let fix = |y: i32| {
        format!(
            "add NSE's {y} holidays (its circular, published in December) to a copy of \
             config/holidays/nse.toml and point schedule.holidays_file at it"
        )
    };
    if !calendar.covers_year(year) {
        return Item::fail(
            "holidays",
            "holidays_missing_this_year",
            Blame::Settings,
            format!("{origin} lists no holiday in {year}"),
            fix(year),
        );
    }
    if today.month() == 12 && !calendar.covers_year(year + 1) {
        return Item::fail(
            "holidays",
            "holidays_missing_next_year",
            Blame::Settings,
            format!(
                "{origin} lists no holiday in {}; from 1 January every weekday counts as a trading day",
                year + 1
            ),
            fix(year + 1),
        );
    }
    let next = if calendar.covers_year(year + 1) {
        format!(" and {}", year + 1)
    } else {
        String::new()
    };
    Item::pass("holidays", format!("{origin} covers {year}{next}"))
}

/// The database opens and its migrations are this build's.
pub fn database(settings: &Settings) -> Item {
    let url = match settings.storage.parsed_url() {
        Ok(url) => url,
        Err(e) => {
            return Item::fail(
                "database",
                "bad_url",
                Blame::Settings,
                e.problem.clone(),
                "fix storage.url",
            );
        }
    };
    match storage::inspect(&url) {
        Ok(state) if !state.unknown.is_empty() => Item::fail(
            "database",
            "schema_newer",
            Blame::Settings,
            format!(
                "{url}: has migrations this tickvault does not know ({}): a newer version wrote it",
                state.unknown.join(", ")
            ),
            "run the tickvault that wrote it (or a newer one)",
        ),
        Ok(state) if !state.exists => {
            let dir = match &url {
                StorageUrl::Sqlite(p) => p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf(),
                StorageUrl::Mysql(_) => std::path::PathBuf::from("."),
            };
            match writable(&dir) {
                Ok(_) => Item::pass(
                    "database",
                    format!(
                        "{url}: not there yet; the first start creates it ({} migrations)",
                        state.pending
                    ),
                ),
                Err(e) => Item::fail(
                    "database",
                    "database_unusable",
                    Blame::Settings,
                    format!("{url}: cannot be created in {}: {e}", dir.display()),
                    "point storage.url at a directory the service may write (an absolute path, \
                     or one relative to the unit's WorkingDirectory)",
                ),
            }
        }
        Ok(state) if state.pending > 0 => Item::pass(
            "database",
            format!(
                "{url}: opens; {} migration(s) applied, {} pending (the next start applies them)",
                state.applied, state.pending
            ),
        ),
        Ok(state) => Item::pass(
            "database",
            format!(
                "{url}: opens; schema current ({} migrations)",
                state.applied
            ),
        ),
        Err(e @ StorageError::Unavailable(_)) => {
            let text = e.to_string();
            if matches!(url, StorageUrl::Sqlite(_)) {
                Item::fail(
                    "database",
                    "database_unusable",
                    Blame::Settings,
                    text,
                    "point storage.url at a SQLite file the service may write (or a new path)",
                )
            } else if text.contains("Access denied") {
                Item::fail(
                    "database",
                    "database_login_refused",
                    Blame::Settings,
                    text,
                    "check the user in storage.url and storage.password (file or credential), and the user's GRANTs",
                )
            } else {
                Item::fail(
                    "database",
                    "database_unreachable",
                    Blame::Remote,
                    text,
                    "start the database server, or fix the host, port or path in storage.url",
                )
            }
        }
        Err(e) => Item::fail(
            "database",
            "database_error",
            Blame::Remote,
            e.to_string(),
            "look at the database server's log; the service cannot start on this database",
        ),
    }
}
