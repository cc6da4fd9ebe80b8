//! The checked-in completions and man page match what the binary renders,
//! and the man page renders without warnings.

use std::process::Command;

const REGENERATE: &str = "run `cargo run -- --generate bash > completions/pushy.bash`, \
`--generate zsh > completions/_pushy`, `--generate fish > completions/pushy.fish`, `--generate man > man/pushy.1`";

fn generate(kind: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pushy")).args(["--generate", kind]).output().unwrap();
    assert!(out.status.success(), "--generate {kind} failed");
    String::from_utf8(out.stdout).unwrap()
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
    let groff = Command::new("groff").args(["-man", "-t", "-ww", "-z", &path]).output();
    match groff {
        Ok(out) => assert!(
            out.status.success() && out.stderr.is_empty(),
            "groff warns:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => assert!(std::env::var_os("CI").is_none(), "groff is missing (CI installs it)"),
    }
    let man =
        Command::new("man").args(["--warnings", "-l", &path]).env("MANWIDTH", "80").env("MANPAGER", "cat").output();
    if let Ok(out) = man {
        assert!(out.stderr.is_empty(), "man warns:\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn help_shows_examples_and_version_is_there() {
    let help = Command::new(env!("CARGO_BIN_EXE_pushy")).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success() && text.contains("Examples:") && text.contains("pushy exec local:"), "{text}");
    let version = Command::new(env!("CARGO_BIN_EXE_pushy")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("pushy {}", env!("CARGO_PKG_VERSION")));
}
