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
