//! The shipped unit file passes `systemd-analyze verify` (skipped, saying so, where the tool is
//! missing) and keeps the settings the operations guide relies on.

use std::process::Command;

const UNIT: &str = include_str!("../../config/systemd/tickvault.service");

#[test]
fn the_unit_file_keeps_its_promises() {
    for line in [
        "Type=notify",
        "WatchdogSec=30",
        "Restart=on-failure",
        "RestartSec=5",
        "StartLimitIntervalSec=600",
        "StartLimitBurst=5",
        "UMask=0077",
        "StateDirectory=tickvault",
        "LogsDirectory=tickvault",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "MemoryDenyWriteExecute=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "LoadCredential=apps.main.password:/etc/tickvault/credentials/apps.main.password",
        "StateDirectoryMode=0750",
        "WorkingDirectory=/var/lib/tickvault",
        "ExecStart=/usr/bin/tickvault run --config /etc/tickvault/tickvault.toml",
    ] {
        assert!(UNIT.lines().any(|l| l == line), "the unit lacks `{line}`");
    }
}

#[test]
fn systemd_analyze_verifies_the_unit_file() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed here: skipping the verification");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The unit points at the installed binary; verify checks that ExecStart exists.
    let unit = UNIT.replace("/usr/bin/tickvault", env!("CARGO_BIN_EXE_tickvault"));
    let path = dir.path().join("tickvault.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("tickvault.service"),
        "systemd-analyze verify: {stderr}"
    );
}
