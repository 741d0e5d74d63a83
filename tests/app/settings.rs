//! Settings errors end the process with status 78 and one line naming the key.

use std::os::unix::fs::PermissionsExt;

use crate::helpers::{fixture, run, stderr, tickvault};

fn config_file(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("tickvault.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_misspelt_key_exits_78_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_file(&dir, "[log]\nfliter = \"debug\"\n");
    let out = run(tickvault()
        .arg("--config")
        .arg(&path)
        .arg("decode")
        .arg(fixture("golden.kcap")));
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("`log.fliter`"), "{err}");
    assert!(out.stdout.is_empty(), "nothing runs on bad settings");
}

#[test]
fn a_bad_value_from_the_environment_exits_78_naming_the_key() {
    let out = run(tickvault()
        .env("TICKVAULT__LOG__FORMAT", "xml")
        .args(["decode"])
        .arg(fixture("golden.kcap")));
    assert_eq!(out.status.code(), Some(78));
    assert!(stderr(&out).contains("`log.format`"), "{}", stderr(&out));
}

#[test]
fn a_secret_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("password");
    std::fs::write(&secret, "correct horse battery staple\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = config_file(
        &dir,
        &format!(
            "[apps.main]\napi_key = \"k\"\nuser_id = \"AB1234\"\napi_secret = \"s\"\n\
             totp_secret = \"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\"\npassword_file = \"{}\"\n",
            secret.display()
        ),
    );
    let decode = |cmd: &mut std::process::Command| {
        run(cmd
            .arg("--config")
            .arg(&path)
            .arg("decode")
            .arg(fixture("golden.kcap"))
            .arg("--stats"))
    };
    let out = decode(&mut tickvault());
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert!(err.contains("apps.main.password_file"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", secret.display())),
        "{err}"
    );
    assert!(!err.contains("horse"), "the secret never shows: {err}");

    // The fix the message gives works.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = decode(&mut tickvault());
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn secrets_are_read_from_the_systemd_credentials_directory() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    for (name, value) in [
        ("apps.main.api_secret", "s"),
        ("apps.main.password", "p"),
        ("apps.main.totp_secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    ] {
        let p = creds.join(name);
        std::fs::write(&p, value).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    let path = config_file(&dir, "[apps.main]\napi_key = \"k\"\nuser_id = \"AB1234\"\n");
    let with_creds = run(tickvault()
        .env("CREDENTIALS_DIRECTORY", &creds)
        .arg("--config")
        .arg(&path)
        .args(["decode", "--stats"])
        .arg(fixture("golden.kcap")));
    assert!(with_creds.status.success(), "{}", stderr(&with_creds));
    let without = run(tickvault()
        .arg("--config")
        .arg(&path)
        .args(["decode", "--stats"])
        .arg(fixture("golden.kcap")));
    assert_eq!(without.status.code(), Some(78));
    assert!(
        stderr(&without).contains("apps.main.api_secret"),
        "{}",
        stderr(&without)
    );
}

#[test]
fn an_option_chain_with_a_strike_window_needs_its_spot_and_one_with_all_strikes_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let windowed = config_file(
        &dir,
        "[universe.options.reliance]\nweeklies = 0\nmonthlies = 1\nstrikes = \"10\"\n",
    );
    let out = run(tickvault()
        .arg("--config")
        .arg(&windowed)
        .arg("decode")
        .arg(fixture("golden.kcap")));
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("`universe.options.reliance.spot`"),
        "{}",
        stderr(&out)
    );

    let whole = config_file(
        &dir,
        "[universe.options.reliance]\nweeklies = 0\nmonthlies = 1\nstrikes = \"all\"\n",
    );
    let out = run(tickvault()
        .arg("--config")
        .arg(&whole)
        .arg("decode")
        .arg(fixture("golden.kcap")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
