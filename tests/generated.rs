//! The checked-in completions and man page match what the binary renders,
//! and the man page renders without warnings.

use std::process::Command;

use crate::support::needs;
use crate::support::pushy::pushy;

const REGENERATE: &str = "run `cargo run -- --generate bash > completions/pushy.bash`, \
`--generate zsh > completions/_pushy`, `--generate fish > completions/pushy.fish`, `--generate man > man/pushy.1`";

fn generate(kind: &str) -> String {
    pushy().args(["--generate", kind]).run().success().stdout()
}

#[test]
fn checked_in_files_are_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (kind, path) in [
        ("bash", "completions/pushy.bash"),
        ("zsh", "completions/_pushy"),
        ("fish", "completions/pushy.fish"),
        ("man", "man/pushy.1"),
    ] {
        let checked_in = std::fs::read_to_string(format!("{root}/{path}")).unwrap_or_default();
        assert!(checked_in == generate(kind), "{path} is stale; regenerate: {REGENERATE}");
    }
}

#[test]
fn the_man_page_renders_cleanly_and_covers_the_contract() {
    let page = generate("man");
    for needle in [
        "EXIT STATUS",
        "255",
        "124",
        "JSON",
        "$bytes",
        "NO_COLOR",
        "PUSHY_CONTROL_DIR",
        "history",
        "local:",
        "PUSHY EXEC",
        "\\-\\-raw",
    ] {
        assert!(page.contains(needle), "the man page lacks {needle:?}");
    }
    let path = format!("{}/man/pushy.1", env!("CARGO_MANIFEST_DIR"));
    let groff =
        Command::new(needs::program("groff", "groff")).args(["-man", "-t", "-ww", "-z", &path]).output().unwrap();
    assert!(
        groff.status.success() && groff.stderr.is_empty(),
        "groff warns:\n{}",
        String::from_utf8_lossy(&groff.stderr)
    );
    let man = Command::new(needs::program("man", "man-db"))
        .args(["--warnings", "-l", &path])
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    assert!(man.stderr.is_empty(), "man warns:\n{}", String::from_utf8_lossy(&man.stderr));
}

#[test]
fn help_shows_examples_and_version_is_there() {
    pushy().arg("--help").run().stdout_has("Examples:").stdout_has("pushy exec local:");
    pushy().arg("--version").run().stdout_is(&format!("pushy {}\n", env!("CARGO_PKG_VERSION")));
}

/// Runs `script` in `shell` with the built pushy first on PATH, and an
/// empty home of its own (no ssh config or known_hosts of the tester's;
/// fish writes its config there).
fn in_shell(shell: &str, script: &str, home: &std::path::Path) -> String {
    let shell = needs::program(shell, shell);
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_pushy")).parent().unwrap().to_path_buf();
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    let out = Command::new(shell)
        .args(["-c", script])
        .env("PATH", std::env::join_paths(paths).unwrap())
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn completions_offer_hosts_from_the_ssh_config_and_the_inventory() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = crate::support::pushy::private_dir();
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(&inventory, "[web]\nweb[01:02]\n[db]\ndb1\n").unwrap();
    let config = dir.path().join("ssh_config");
    std::fs::write(&config, "Host bastion web-jump *.internal\n  User me\n").unwrap();
    let (inv, cfg) = (inventory.display().to_string(), config.display().to_string());
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    // bash, which had no host completion.
    let bash = in_shell(
        "bash",
        &format!(
            "source {root}/completions/pushy.bash; COMP_WORDS=(pushy exec -F {cfg} --inventory {inv} we); \
             COMP_CWORD=6; _pushy_with_hosts; echo \"${{COMPREPLY[*]}}\""
        ),
        &home,
    );
    assert_eq!(bash.trim(), "web-jump web web01 web02");
    let bash = in_shell("bash", &format!("source {root}/completions/pushy.bash; COMP_WORDS=(pushy lo); COMP_CWORD=1; _pushy_with_hosts; echo \"${{COMPREPLY[*]}}\""), &home);
    assert_eq!(bash.trim(), "local:");
    // fish.
    let fish = in_shell(
        "fish",
        &format!("source {root}/completions/pushy.fish; complete -C 'pushy exec -F {cfg} --inventory {inv} d'"),
        &home,
    );
    assert_eq!(fish.lines().collect::<Vec<_>>(), ["db", "db1"], "{fish}");
    // What the scripts ask pushy for.
    let names = pushy().args(["--complete-hosts", "-F", &cfg, "--inventory", &inv]).env("HOME", &home).run();
    names.success().stdout_is("local:\nbastion\nweb-jump\ndb\nweb\nweb01\nweb02\ndb1\n");
}
