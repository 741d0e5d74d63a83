//! `tickvault check [--json] [--as-of DATE]`: what an operator runs before enabling the unit,
//! and a support engineer runs first. It loads the settings as `run` would, then checks every
//! outside thing the service depends on and prints a line per item, ✔ or ✘ with the reason and
//! the fix (`items`). Exit 0 when every item passes; 78 when a failure is the settings' to fix
//! (a refused password, a universe that does not resolve, a holiday list to update); else 69 (a
//! server that does not answer).

mod items;
mod remote;

use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use super::{Failure, exit};
use crate::calendar::ist_date;
use crate::settings::{Settings, SettingsError, Sources};

/// Arguments of `tickvault check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// One JSON document instead of lines: `{"ok", "exit", "items": [{"item", "status",
    /// "problem", "detail", "fix", "notes"}]}`.
    #[arg(long)]
    pub json: bool,
    /// Check as if today (IST) were this date: the holiday list's years, the expiries the
    /// universe resolves to.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
}

/// How an item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// ✔
    Pass,
    /// ✘
    Fail,
    /// Not checked because an item it needs failed (–).
    Skip,
}

/// Whose a failure is to fix: the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The settings (or what they point at): 78.
    Settings,
    /// A server or the host: 69.
    Remote,
}

/// One checked item.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `settings`, `data_dir`, `state_dir`, `holidays`, `database`, `redis`, `smtp`,
    /// `login.<app>`, `instruments`, `clock`.
    pub item: String,
    /// How it ended.
    pub status: Status,
    /// A stable code for a failure (`password_refused`, `database_unreachable`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<&'static str>,
    /// What was found.
    pub detail: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// More lines worth reading (warnings, names the dump lacks).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip)]
    blame: Option<Blame>,
}

impl Item {
    fn pass(item: impl Into<String>, detail: impl Into<String>) -> Item {
        Item {
            item: item.into(),
            status: Status::Pass,
            problem: None,
            detail: detail.into(),
            fix: None,
            notes: Vec::new(),
            blame: None,
        }
    }

    fn fail(
        item: impl Into<String>,
        problem: &'static str,
        blame: Blame,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Item {
        Item {
            item: item.into(),
            status: Status::Fail,
            problem: Some(problem),
            detail: detail.into(),
            fix: Some(fix.into()),
            notes: Vec::new(),
            blame: Some(blame),
        }
    }

    fn skip(item: impl Into<String>, why: impl Into<String>) -> Item {
        Item {
            item: item.into(),
            status: Status::Skip,
            problem: None,
            detail: why.into(),
            fix: None,
            notes: Vec::new(),
            blame: None,
        }
    }

    fn with_notes(mut self, notes: impl IntoIterator<Item = String>) -> Item {
        self.notes.extend(notes);
        self
    }
}

/// The report: every item and the exit status they add up to.
#[derive(Debug, Serialize)]
struct Report<'a> {
    ok: bool,
    exit: u8,
    items: &'a [Item],
}

/// The exit status of a set of items.
fn exit_status(items: &[Item]) -> u8 {
    let blames: Vec<Blame> = items.iter().filter_map(|i| i.blame).collect();
    if blames.contains(&Blame::Settings) {
        exit::CONFIG
    } else if blames.is_empty() {
        exit::OK
    } else {
        exit::UNAVAILABLE
    }
}

/// Runs the command.
pub fn run(
    args: &CheckArgs,
    settings: &Settings,
    sources: &Sources<'_>,
) -> Result<ExitCode, Failure> {
    let today = args.as_of.unwrap_or_else(|| ist_date(Utc::now()));
    let settings = settings.clone();
    let mut list = vec![items::settings(&settings, sources)];
    list.extend(items::directories(&settings));
    list.push(items::holidays(&settings, today));
    list.push(items::database(&settings));
    let remote = actix_rt::System::new().block_on(remote::remote(settings, today));
    list.extend(remote);
    Ok(print(args, &list))
}

/// The settings did not load: one ✘ item, exit 78.
pub fn settings_failed(args: &CheckArgs, e: &SettingsError) -> ExitCode {
    let item = Item::fail(
        "settings",
        "invalid_setting",
        Blame::Settings,
        e.to_string(),
        format!(
            "fix `{}`; `tickvault config` shows the merged settings and where each came from",
            e.key
        ),
    );
    print(args, &[item])
}

fn print(args: &CheckArgs, items: &[Item]) -> ExitCode {
    let code = exit_status(items);
    if args.json {
        let report = Report {
            ok: code == exit::OK,
            exit: code,
            items,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", human(items));
    }
    ExitCode::from(code)
}

/// Width of the item column (wider when an app's name needs it).
const NAME: usize = 16;
/// Human output fits this many columns.
const COLUMNS: usize = 100;

/// The items as lines of at most [`COLUMNS`] characters: `✔ name  detail`, then the fix and
/// notes indented under the detail.
fn human(items: &[Item]) -> String {
    let name_width = items
        .iter()
        .map(|i| i.item.chars().count() + 1)
        .max()
        .unwrap_or(0)
        .clamp(NAME, 40);
    let mut out = String::new();
    for i in items {
        let mark = match i.status {
            Status::Pass => '✔',
            Status::Fail => '✘',
            Status::Skip => '–',
        };
        let indent = " ".repeat(name_width + 3);
        let mut first = true;
        let mut lines = |text: &str, out: &mut String| {
            for line in wrap(text, COLUMNS - name_width - 3) {
                if first {
                    out.push_str(&format!("{mark} {:<name_width$} {line}\n", i.item));
                    first = false;
                } else {
                    out.push_str(&format!("{indent}{line}\n"));
                }
            }
        };
        lines(&i.detail, &mut out);
        if let Some(fix) = &i.fix {
            lines(&format!("fix: {fix}"), &mut out);
        }
        for note in &i.notes {
            lines(&format!("· {note}"), &mut out);
        }
    }
    let failed = items.iter().filter(|i| i.status == Status::Fail).count();
    out.push_str(&match failed {
        0 => "all checks passed\n".to_string(),
        n => format!("{n} check(s) failed\n"),
    });
    out
}

/// The first `max` of `names` joined by `sep`, then `and N more` when there are more.
pub fn first_of(names: &[String], max: usize, sep: &str) -> String {
    let mut text = names
        .iter()
        .take(max)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(sep);
    if names.len() > max {
        text += &format!("{sep}and {} more", names.len() - max);
    }
    text
}

/// Greedy word wrap at `width` characters (a word longer than that is cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let words = text.split_whitespace().flat_map(|word| {
        let chars: Vec<char> = word.chars().collect();
        chars
            .chunks(width)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
    });
    for word in words {
        let word = word.as_str();
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_status_is_the_worst_blame() {
        let pass = Item::pass("a", "fine");
        let remote = Item::fail("b", "x", Blame::Remote, "down", "start it");
        let config = Item::fail("c", "y", Blame::Settings, "wrong", "fix it");
        assert_eq!(exit_status(std::slice::from_ref(&pass)), 0);
        assert_eq!(exit_status(&[pass.clone(), remote.clone()]), 69);
        assert_eq!(exit_status(&[remote, config, pass]), 78);
    }

    #[test]
    fn human_lines_fit_a_hundred_columns() {
        let long = format!("{} {}", "word ".repeat(60), "x".repeat(250));
        let item =
            Item::fail("login.main", "p", Blame::Settings, &long, &long).with_notes([long.clone()]);
        let named = Item::pass("login.an_app_with_a_long_name", &long);
        let text = human(&[item, named]);
        assert!(text.lines().count() > 3);
        assert!(text.lines().all(|l| l.chars().count() <= COLUMNS), "{text}");
    }
}
