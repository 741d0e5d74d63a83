//! The merged settings as `tickvault config` shows them: every layer applied, values typed as
//! the defaults type them, and every secret replaced by where it comes from
//! (`<set: inline>`, `<set: file PATH>`, `<set: credential NAME>`, `<unset>`), never its value.
//!
//! Values are shown by allow-list: only keys tickvault knows (those of `config/default.toml`
//! and of the tables named by the operator, such as `[apps.<name>]`). A key it does not know is
//! most likely a typo, and a misspelt `passwrod = "…"` must not be printed: it shows as
//! `<hidden: unknown key>` (the settings check names it).

use std::path::Path;

use toml::{Table, Value};

use super::DEFAULT_TOML;

/// Secrets by table pattern (`*` is any one name) and leaf. Each may also be given as
/// `<leaf>_file` or as the systemd credential `<table>.<leaf>`.
const SECRETS: &[(&str, &str)] = &[
    ("apps.*", "api_secret"),
    ("apps.*", "password"),
    ("apps.*", "totp_secret"),
    ("storage", "password"),
    ("redis", "password"),
    ("notify", "password"),
    ("http", "token"),
    // The simulator's accounts: test fixtures, but secrets in the shape of the real ones.
    ("sim.apps.*", "api_secret"),
    ("sim.users.*", "password"),
    ("sim.users.*", "totp_secret"),
];

/// Keys of tables the operator names (`*` is any name), beyond those in the defaults.
const KNOWN: &[&str] = &[
    "apps.*.api_key",
    "apps.*.user_id",
    "universe.options.*.spot",
    "universe.options.*.weeklies",
    "universe.options.*.monthlies",
    "universe.options.*.strikes",
    "universe.stock_options.underlyings",
    "universe.stock_options.monthlies",
    "universe.stock_options.strikes",
    "sim.apps.*.api_key",
    "sim.apps.*.redirect_url",
    "sim.users.*.user_id",
    "sim.users.*.user_name",
    "sim.users.*.email",
    "redis.ca_file",
    "notify.ca_file",
];

/// What an unknown key's value is shown as.
pub const HIDDEN: &str = "<hidden: unknown key>";

/// `tree` ready to print: typed like the defaults, secrets replaced, URLs without passwords.
pub fn view(mut tree: Table, credentials_dir: Option<&Path>) -> Table {
    let defaults = DEFAULT_TOML.parse::<Table>().unwrap_or_default();
    retype(&mut tree, &defaults);
    for (pattern, leaf) in SECRETS {
        for path in expand(&tree, pattern) {
            mask(&mut tree, &path, leaf, credentials_dir);
        }
    }
    // A MySQL password written into the URL rather than apart from it.
    if let Some(storage) = tree.get_mut("storage").and_then(Value::as_table_mut) {
        let in_url = storage
            .get("url")
            .and_then(Value::as_str)
            .is_some_and(|u| crate::storage::redact(u) != u);
        if in_url && storage.get("password").and_then(Value::as_str) == Some("<unset>") {
            storage.insert(
                "password".into(),
                Value::String("<set: in storage.url>".into()),
            );
        }
    }
    show_known(&mut tree, &mut Vec::new(), &defaults);
    tree
}

/// Whether `path` is a key tickvault knows.
fn known(path: &[String], defaults: &Table) -> bool {
    let mut t = defaults;
    for (i, part) in path.iter().enumerate() {
        match t.get(part) {
            Some(Value::Table(next)) => t = next,
            Some(_) if i == path.len() - 1 => return true,
            _ => break,
        }
    }
    KNOWN.iter().any(|pattern| {
        let parts: Vec<&str> = pattern.split('.').collect();
        parts.len() == path.len() && parts.iter().zip(path).all(|(p, k)| *p == "*" || p == k)
    })
}

/// Replaces every value of an unknown key with [`HIDDEN`] and the password of any URL with
/// `***`; keeps what [`mask`] wrote.
fn show_known(table: &mut Table, path: &mut Vec<String>, defaults: &Table) {
    for (key, value) in table.iter_mut() {
        path.push(key.clone());
        match value {
            Value::Table(t) => show_known(t, path, defaults),
            Value::String(s) if s.starts_with("<set: ") || s == "<unset>" => {}
            _ if !known(path, defaults) => *value = Value::String(HIDDEN.into()),
            Value::String(s) => *s = crate::storage::redact(s),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(s) => *s = crate::storage::redact(s),
                        Value::Table(_) | Value::Array(_) => *item = Value::String(HIDDEN.into()),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        path.pop();
    }
}

/// The tables matching `pattern` (`apps.*` → `apps.main`, `apps.backup`, …), as key paths.
fn expand(tree: &Table, pattern: &str) -> Vec<Vec<String>> {
    let mut paths: Vec<(Vec<String>, &Table)> = vec![(Vec::new(), tree)];
    for part in pattern.split('.') {
        let mut next = Vec::new();
        for (path, table) in paths {
            let children: Vec<(&String, &Value)> = if part == "*" {
                table.iter().collect()
            } else {
                table.get_key_value(part).into_iter().collect()
            };
            for (key, value) in children {
                if let Value::Table(t) = value {
                    let mut p = path.clone();
                    p.push(key.clone());
                    next.push((p, t));
                }
            }
        }
        paths = next;
    }
    paths.into_iter().map(|(p, _)| p).collect()
}

fn table_at<'a>(tree: &'a mut Table, path: &[String]) -> Option<&'a mut Table> {
    let mut t = tree;
    for key in path {
        t = t.get_mut(key)?.as_table_mut()?;
    }
    Some(t)
}

/// Replaces `leaf` (and `leaf_file`) of the table at `path` with where the secret comes from.
fn mask(tree: &mut Table, path: &[String], leaf: &str, credentials_dir: Option<&Path>) {
    let key = format!("{}.{leaf}", path.join("."));
    let Some(table) = table_at(tree, path) else {
        return;
    };
    let file_key = format!("{leaf}_file");
    let inline = table.remove(leaf).is_some();
    let file = table.remove(&file_key);
    let source = if inline {
        "<set: inline>".to_string()
    } else if let Some(file) = file {
        format!(
            "<set: file {}>",
            file.as_str()
                .map_or_else(|| file.to_string(), str::to_string)
        )
    } else if credentials_dir.is_some_and(|d| d.join(&key).exists()) {
        format!("<set: credential {key}>")
    } else {
        "<unset>".to_string()
    };
    table.insert(leaf.to_string(), Value::String(source));
}

/// Environment variables arrive as strings: give each the type its default has, when it
/// parses as one (`TICKVAULT__SIM__SEED=5` shows as `seed = 5`).
fn retype(tree: &mut Table, defaults: &Table) {
    for (key, value) in tree.iter_mut() {
        let Some(default) = defaults.get(key) else {
            continue;
        };
        match (value, default) {
            (Value::Table(t), Value::Table(d)) => retype(t, d),
            (v @ Value::String(_), Value::Integer(_)) => {
                if let Some(n) = v.as_str().and_then(|s| s.trim().parse::<i64>().ok()) {
                    *v = Value::Integer(n);
                }
            }
            (v @ Value::String(_), Value::Float(_)) => {
                if let Some(x) = v.as_str().and_then(|s| s.trim().parse::<f64>().ok()) {
                    *v = Value::Float(x);
                }
            }
            (v @ Value::String(_), Value::Boolean(_)) => {
                if let Some(b) = v.as_str().and_then(|s| s.trim().parse::<bool>().ok()) {
                    *v = Value::Boolean(b);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_show_their_source_and_urls_lose_their_password() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("apps.main.totp_secret"), "x").unwrap();
        let tree: Table = r#"
            [apps.main]
            api_key = "k"
            api_secret = "s3cret-inline"
            password_file = "/etc/tickvault/main.password"
            [storage]
            url = "mysql://tv:hunter2@db:3306/ticks"
            [notify]
            smtp_passwrd = "typo-but-secret"
            pin = 123456
            to = ["ops@example.com"]
            [[redis]]
            password = "in-an-array-of-tables"
            [sim]
            seed = "5"
        "#
        .parse()
        .unwrap();
        let shown = view(tree, Some(dir.path())).to_string();
        for secret in [
            "s3cret-inline",
            "hunter2",
            "typo-but-secret",
            "123456",
            "in-an-array",
        ] {
            assert!(!shown.contains(secret), "{secret} in\n{shown}");
        }
        let tree: Table = shown.parse().unwrap();
        let main = &tree["apps"]["main"];
        assert_eq!(main["api_secret"].as_str(), Some("<set: inline>"));
        assert_eq!(
            main["password"].as_str(),
            Some("<set: file /etc/tickvault/main.password>")
        );
        assert_eq!(
            main["totp_secret"].as_str(),
            Some("<set: credential apps.main.totp_secret>")
        );
        assert!(main.get("password_file").is_none());
        assert_eq!(
            tree["storage"]["password"].as_str(),
            Some("<set: in storage.url>")
        );
        assert_eq!(
            tree["storage"]["url"].as_str(),
            Some("mysql://tv:***@db:3306/ticks")
        );
        assert_eq!(
            tree["sim"]["seed"].as_integer(),
            Some(5),
            "typed as the default"
        );
    }
}
