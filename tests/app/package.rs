//! The Debian package (`cargo deb`, `[package.metadata.deb]` in Cargo.toml) holds what
//! docs/operations.md promises: the binary, the unit (installed, neither enabled nor started),
//! the commented settings and the holiday calendar as conffiles, the docs and the examples,
//! `Depends` computed from the binary, and maintainer scripts that create the user and the
//! directories and never delete recorded data.
//!
//! The package is made by `cargo deb --no-build` around the `tickvault` binary this test binary
//! was built with, copied into a private target directory under CARGO_TARGET_TMPDIR. A release
//! build per test run would take minutes; this takes seconds, packages the binary the other
//! tests run (target/debug/tickvault is only read), and everything else in the package — the
//! metadata, assets, conffiles, maintainer scripts with cargo-deb's systemd snippets, and the
//! `$auto` dependencies dpkg-shlibdeps reads from the binary — is what `cargo deb` makes for a
//! release. Only the optimisation level differs.
//!
//! The maintainer scripts are checked as text, with `sh -n`, and run with every command they
//! call replaced by a stub that only logs: nothing on this machine is changed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const EXAMPLE: &str = "config/debian/tickvault.toml";
const GENERATOR: &str = "config/debian/make-example-config.sh";

fn root() -> &'static Path {
    Path::new(ROOT)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

// --- the commented settings: config/debian/tickvault.toml ---------------------------------------

/// The example with its `#key = value` and `#[section]` lines uncommented (explanations and
/// examples are `# ...` and stay comments).
fn uncommented(example: &str) -> String {
    example
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c != ' ' && c != '#') => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_packaged_settings_are_the_defaults_commented_out() {
    let out = ok(Command::new("sh").arg(GENERATOR).current_dir(root()));
    let committed = fs::read_to_string(root().join(EXAMPLE)).unwrap();
    assert!(
        text(&out) == committed,
        "{EXAMPLE} is not what {GENERATOR} makes from config/default.toml; run\n  \
         {GENERATOR} > {EXAMPLE}"
    );

    let example: toml::Table = toml::from_str(&committed).expect("the example parses");
    assert!(
        example.is_empty(),
        "untouched, the example must change nothing, but it sets {example:?}"
    );

    let defaults: toml::Table =
        toml::from_str(include_str!("../../config/default.toml")).expect("defaults parse");
    let every: toml::Table =
        toml::from_str(&uncommented(&committed)).expect("the uncommented example parses");
    assert_eq!(
        every, defaults,
        "uncommenting every setting of the example gives the defaults"
    );
}

// --- the package --------------------------------------------------------------------------------

/// `cargo deb` and `dpkg-deb` are here, or the test is skipped on request; `false` to skip.
fn deb_tools_present() -> bool {
    if std::env::var_os("TICKVAULT_TEST_NO_DEB").is_some_and(|v| v == "1") {
        eprintln!("TICKVAULT_TEST_NO_DEB=1: not building the Debian package");
        return false;
    }
    let works = |cmd: &mut Command| cmd.output().is_ok_and(|o| o.status.success());
    assert!(
        works(cargo().args(["deb", "--version"])),
        "`cargo deb --version` fails: cargo-deb is not installed. tests/run installs it \
         (`cargo install --locked cargo-deb`, and dpkg-dev with apt); set \
         TICKVAULT_TEST_NO_DEB=1 to skip this test"
    );
    assert!(
        works(Command::new("dpkg-deb").arg("--version"))
            && works(Command::new("dpkg-shlibdeps").arg("--version")),
        "dpkg-deb or dpkg-shlibdeps is missing: tests/run installs dpkg-dev; set \
         TICKVAULT_TEST_NO_DEB=1 to skip this test"
    );
    true
}

/// Builds the package around the tested binary; returns the .deb (inside `dir`).
fn build_package(dir: &Path) -> PathBuf {
    // cargo-deb takes the binary from <target dir>/release/ (the asset `target/release/tickvault`).
    let release = dir.join("release");
    fs::create_dir_all(&release).unwrap();
    fs::copy(env!("CARGO_BIN_EXE_tickvault"), release.join("tickvault")).unwrap();
    let deb = dir.join("tickvault.deb");
    ok(cargo()
        .args(["deb", "--no-build", "--strip", "--fast", "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .arg("--output")
        .arg(&deb)
        .env("CARGO_TARGET_DIR", dir)
        .env("CARGO_NET_OFFLINE", "true")
        .current_dir(root()));
    deb
}

/// `dpkg-deb -c`: path (`./usr/bin/tickvault`) → (mode string, owner/group).
fn listing(deb: &Path) -> BTreeMap<String, (String, String)> {
    let out = ok(Command::new("dpkg-deb").arg("-c").arg(deb));
    text(&out)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert!(f.len() >= 6, "unexpected dpkg-deb -c line: {line}");
            (f[5..].join(" "), (f[0].to_owned(), f[1].to_owned()))
        })
        .collect()
}

/// The value of a control field (single line).
fn field<'a>(control: &'a str, name: &str) -> &'a str {
    control
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {name} in the control file:\n{control}"))
}

/// The regular files directly inside a directory of the repository, by name.
fn files_in(dir: &str, ext: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_debian_package_installs_what_the_operations_guide_promises() {
    if !deb_tools_present() {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("package-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let deb = build_package(dir.path());

    // Files, modes, owners.
    let files = listing(&deb);
    let mode = |path: &str| -> &str {
        &files
            .get(path)
            .unwrap_or_else(|| panic!("the package lacks {path}; it has {:#?}", files.keys()))
            .0
    };
    assert_eq!(mode("./usr/bin/tickvault"), "-rwxr-xr-x");
    let mut readable = vec![
        "./usr/lib/systemd/system/tickvault.service".to_owned(),
        "./etc/tickvault/tickvault.toml".to_owned(),
        "./etc/tickvault/nse.toml".to_owned(),
        "./usr/share/doc/tickvault/copyright".to_owned(),
        "./usr/share/doc/tickvault/README.md".to_owned(),
        "./usr/share/doc/tickvault/grafana-dashboard.json".to_owned(),
    ];
    readable.extend(
        files_in("docs", Some("md"))
            .iter()
            .map(|f| format!("./usr/share/doc/tickvault/{f}")),
    );
    let examples = files_in("config/examples", None);
    assert!(
        !examples.is_empty(),
        "config/examples/ is empty (cargo-deb refuses an empty glob)"
    );
    readable.extend(
        examples
            .iter()
            .map(|f| format!("./usr/share/doc/tickvault/examples/{f}")),
    );
    for path in &readable {
        assert_eq!(mode(path), "-rw-r--r--", "{path}");
    }
    for (path, (_, owner)) in &files {
        assert!(
            owner == "root/root" || owner == "0/0",
            "{path} belongs to {owner}"
        );
        assert!(
            !path.starts_with("./var/"),
            "{path}: data directories are made by the postinst, so that a purge keeps them"
        );
    }

    // Control fields and maintainer scripts.
    let control_dir = dir.path().join("control");
    ok(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(&control_dir));
    let read = |name: &str| {
        fs::read_to_string(control_dir.join(name)).unwrap_or_else(|e| panic!("control {name}: {e}"))
    };
    let control = read("control");
    assert_eq!(field(&control, "Package"), "tickvault");
    assert_eq!(field(&control, "Section"), "net");
    assert_eq!(field(&control, "Priority"), "optional");
    let words = control.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        control.contains("\n .\n")
            && words.contains("Removing or purging it never deletes recorded data."),
        "the long description:\n{control}"
    );
    let depends: Vec<&str> = field(&control, "Depends").split(", ").collect();
    let depends_on = |pkg: &str| {
        depends
            .iter()
            .any(|d| d.split_whitespace().next() == Some(pkg))
    };
    assert!(depends_on("adduser"), "Depends: {depends:?}");
    assert!(
        depends_on("libc6"),
        "Depends lacks libc6 from $auto: {depends:?}"
    );
    assert_eq!(
        depends_on("libmariadb3"),
        cfg!(feature = "mysql"),
        "libmariadb3 is a dependency exactly when the binary links it (the mysql feature): \
         {depends:?}"
    );

    let conffiles = read("conffiles");
    for conffile in ["/etc/tickvault/tickvault.toml", "/etc/tickvault/nse.toml"] {
        assert!(
            conffiles.lines().any(|l| l == conffile),
            "conffiles: {conffiles}"
        );
    }

    for script in ["postinst", "prerm", "postrm"] {
        let body = read(script);
        assert!(
            body.starts_with("#!/bin/sh\n"),
            "{script} is not a POSIX sh script"
        );
        assert!(body.lines().any(|l| l == "set -e"), "{script} lacks set -e");
        assert!(
            !body.contains("#DEBHELPER#"),
            "{script}: #DEBHELPER# was not replaced"
        );
        ok(Command::new("sh").arg("-n").arg(control_dir.join(script)));
        // No data is ever deleted.
        assert!(
            !body
                .lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("rm ")),
            "{script} removes files:\n{body}"
        );
    }

    let postinst = read("postinst");
    for needle in [
        "adduser --system --group",
        "--home /var/lib/tickvault",
        "--shell /usr/sbin/nologin tickvault",
        "install -d -o tickvault -g tickvault -m 0750 \"$dir\"",
        "for dir in /var/lib/tickvault /var/lib/tickvault/data; do",
        "install -d -o root -g root -m 0700 /etc/tickvault/credentials",
        // cargo-deb's snippets for `enable = false`, `start = false`: the unit's state is
        // tracked, it is enabled again only if the operator had enabled it before.
        "if deb-systemd-helper debian-installed tickvault.service; then",
    ] {
        assert!(
            postinst.contains(needle),
            "the postinst lacks `{needle}`:\n{postinst}"
        );
    }
    assert!(
        postinst.find("adduser").unwrap() < postinst.find("deb-systemd-helper").unwrap(),
        "the user exists before the unit is touched"
    );
    assert!(
        !postinst.contains("was-enabled defaults to true"),
        "the postinst enables the unit on installation:\n{postinst}"
    );
    for line in postinst
        .lines()
        .filter(|l| l.contains("deb-systemd-invoke"))
    {
        assert!(
            line.contains("try-restart"),
            "the postinst may only restart a running unit after an upgrade, not `{line}`"
        );
    }
    let postrm = read("postrm");
    assert!(
        postrm.contains("Recorded data is kept: /var/lib/tickvault"),
        "the purge message:\n{postrm}"
    );

    exercise_scripts(&control_dir);

    // The files themselves.
    let tree = dir.path().join("root");
    ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree));
    assert_eq!(
        fs::read_to_string(tree.join("etc/tickvault/tickvault.toml")).unwrap(),
        fs::read_to_string(root().join(EXAMPLE)).unwrap()
    );
    let unit = fs::read_to_string(tree.join("usr/lib/systemd/system/tickvault.service")).unwrap();
    assert_eq!(
        unit,
        include_str!("../../config/systemd/tickvault.service"),
        "the packaged unit is config/systemd/tickvault.service"
    );
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let binary = exec.split_whitespace().next().unwrap();
    assert_eq!(binary, "/usr/bin/tickvault");
    let out = ok(Command::new(tree.join(binary.trim_start_matches('/'))).arg("--version"));
    assert!(text(&out).starts_with("tickvault "), "{}", text(&out));
}

/// Runs the postinst and postrm with every command they call replaced by a logging stub (PATH
/// holds only the stubs, so nothing real runs), and returns the calls.
fn run_script(control_dir: &Path, script: &str, args: &[&str], user_exists: bool) -> Vec<String> {
    let stubs = control_dir.join("stubs");
    let log = control_dir.join("calls.log");
    fs::create_dir_all(&stubs).unwrap();
    let _ = fs::remove_file(&log);
    for name in [
        "adduser",
        "addgroup",
        "useradd",
        "getent",
        "install",
        "chown",
        "chmod",
        "mkdir",
        "rm",
        "deb-systemd-helper",
        "deb-systemd-invoke",
        "systemctl",
        "systemd-tmpfiles",
    ] {
        // getent answers for the user; deb-systemd-helper says "not installed, not enabled".
        let status = match name {
            "getent" if !user_exists => 2,
            "deb-systemd-helper" => 1,
            _ => 0,
        };
        let path = stubs.join(name);
        fs::write(
            &path,
            format!("#!/bin/sh\necho \"{name} $*\" >> \"$CALLS\"\nexit {status}\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = ok(Command::new("/bin/sh")
        .arg(control_dir.join(script))
        .args(args)
        .env_clear()
        .env("PATH", &stubs)
        .env("CALLS", &log));
    eprintln!("{script} {args:?}: {}", text(&out));
    fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn exercise_scripts(control_dir: &Path) {
    let never = |calls: &[String]| {
        for call in calls {
            assert!(
                !call.starts_with("deb-systemd-helper enable")
                    && !call.starts_with("deb-systemd-invoke start")
                    && !call.starts_with("systemctl enable")
                    && !call.starts_with("systemctl start")
                    && !call.starts_with("rm"),
                "`{call}`"
            );
        }
    };

    // A first installation: the user, the missing directories, nothing enabled or started.
    let calls = run_script(control_dir, "postinst", &["configure"], false);
    never(&calls);
    assert!(
        calls.contains(
            &"adduser --system --group --quiet --home /var/lib/tickvault --no-create-home \
              --shell /usr/sbin/nologin tickvault"
                .to_owned()
        ),
        "{calls:#?}"
    );
    for dir in ["/var/lib/tickvault", "/var/lib/tickvault/data"] {
        // The script leaves existing directories alone; this machine may have them.
        let call = format!("install -d -o tickvault -g tickvault -m 0750 {dir}");
        assert_eq!(
            calls.contains(&call),
            !Path::new(dir).is_dir(),
            "{calls:#?}"
        );
    }
    let call = "install -d -o root -g root -m 0700 /etc/tickvault/credentials".to_owned();
    assert_eq!(
        calls.contains(&call),
        !Path::new("/etc/tickvault/credentials").is_dir()
    );

    // An upgrade or reinstallation: the user exists and is kept; a running unit is restarted.
    let calls = run_script(control_dir, "postinst", &["configure", "0.0.1-1"], true);
    never(&calls);
    assert!(
        !calls.iter().any(|c| c.starts_with("adduser")),
        "{calls:#?}"
    );

    // Removal and purge keep everything recorded.
    never(&run_script(
        control_dir,
        "prerm",
        &["upgrade", "0.0.2-1"],
        true,
    ));
    never(&run_script(control_dir, "prerm", &["remove"], true));
    for action in ["remove", "purge"] {
        never(&run_script(control_dir, "postrm", &[action], true));
    }
}
