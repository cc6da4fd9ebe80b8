//! The Python side: the pushed server's own test suite, its version floor, and lint.
//!
//! `bootstrap/test_server.py` unit-tests `bootstrap/server.py` and drives it end
//! to end over frames, started the way the client starts it; here it runs as
//! part of `cargo test`. The files that reach remote hosts (`server.py`,
//! `extras.py` and `stage0.py`) must stay within Python 3.6, the oldest interpreter pushy
//! supports: `ast.parse(feature_version=(3, 6))` checks the syntax everywhere,
//! and vermin, which also knows when each library function appeared, checks the
//! rest where it is installed. CI installs it (`.ci/run`), so there a missing
//! vermin is a failure rather than a silently skipped check.
//!
//! pyflakes lints every Python file on its own: `server.py` and `extras.py`
//! are separate modules with an explicit interface, so a name one uses that
//! only the other defines is an error here, not a surprise on a host. It is
//! required: without it the test fails and says how to install it.

use std::fs::File;
use std::io::{Read, Seek};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The files pushed to remote hosts, relative to the repository root.
const PUSHED: [&str; 3] = ["bootstrap/server.py", "bootstrap/extras.py", "bootstrap/stage0.py"];

/// The pushed program's Python files and their unit tests, each linted on its own.
const LINTED: [&str; 4] =
    ["bootstrap/server.py", "bootstrap/extras.py", "bootstrap/stage0.py", "bootstrap/test_server.py"];

/// The oldest Python the pushed files must run on, as (major, minor).
const FLOOR: (u32, u32) = (3, 6);

/// What a finished command did.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    command: String,
}

impl Run {
    fn describe(&self) -> String {
        format!("{}: {}\n--- stdout\n{}--- stderr\n{}", self.command, self.status, self.stdout, self.stderr)
    }
}

/// Runs `cmd` in the repository root with no stdin, killing it after `timeout`:
/// a wedged child fails the test instead of hanging `cargo test`. Output goes
/// to temporary files, so a chatty child can never block on a full pipe.
fn run(cmd: &mut Command, timeout: Duration) -> Run {
    let command = format!("{cmd:?}");
    let mut stdout = tempfile::tempfile().expect("cannot make a temporary file");
    let mut stderr = tempfile::tempfile().expect("cannot make a temporary file");
    let mut child = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().expect("cannot clone a file handle"))
        .stderr(stderr.try_clone().expect("cannot clone a file handle"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("cannot wait for a child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command} did not finish within {timeout:?}\n--- stdout\n{}--- stderr\n{}",
                contents(&mut stdout),
                contents(&mut stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run { status, stdout: contents(&mut stdout), stderr: contents(&mut stderr), command }
}

/// Everything written to an output file.
fn contents(file: &mut File) -> String {
    let mut bytes = Vec::new();
    file.rewind().and_then(|_| file.read_to_end(&mut bytes)).expect("cannot read back a temporary file");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn python_server_unit_and_end_to_end_tests_pass() {
    let done = run(
        Command::new("python3")
            .args(["-m", "unittest", "discover", "-v", "-s", "bootstrap", "-p", "test_*.py"])
            // No __pycache__ left in bootstrap/ by a test run.
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        Duration::from_secs(120),
    );
    assert!(done.status.success(), "the Python tests failed\n{}", done.describe());
}

#[test]
fn python_syntax_of_pushed_files_is_3_6() {
    // feature_version makes the parser refuse syntax newer than the floor
    // (walrus, positional-only parameters, match, ...). Needs Python 3.8+ to run.
    let script = "import ast, sys\n\
                  minor = int(sys.argv[1])\n\
                  for path in sys.argv[2:]:\n    \
                      with open(path, encoding='utf-8') as f:\n        \
                          ast.parse(f.read(), path, feature_version=(3, minor))\n";
    let done =
        run(Command::new("python3").args(["-c", script, &FLOOR.1.to_string()]).args(PUSHED), Duration::from_secs(60));
    assert!(done.status.success(), "not Python {}.{} syntax\n{}", FLOOR.0, FLOOR.1, done.describe());
}

#[test]
fn python_version_floor_of_pushed_files_per_vermin() {
    let have_vermin = match Command::new("vermin").arg("--version").stdin(Stdio::null()).output() {
        Ok(out) => out.status.success(), // a pyenv shim without it exits 127
        Err(_) => false,
    };
    assert!(
        have_vermin,
        "vermin is not installed, and this test needs it: `python3 -m pip install vermin` (`bash .ci/run` does)"
    );
    let target = format!("-t={}.{}-", FLOOR.0, FLOOR.1);
    // --no-config-file: no vermin.ini or setup.cfg found up the tree may
    // change the verdict. Lines marked `# novm` in server.py are deliberate
    // (guarded by the running version) and are skipped by vermin itself.
    let done = run(
        Command::new("vermin").args(["--no-config-file", "--no-tips", "--violations", &target]).args(PUSHED),
        Duration::from_secs(120),
    );
    assert!(done.status.success(), "the pushed Python needs more than {}.{}\n{}", FLOOR.0, FLOOR.1, done.describe());
    // Belt and braces: the verdict line itself, where this vermin prints it.
    if let Some(minimum) = minimum_python3(&done.stdout) {
        assert!(minimum <= FLOOR, "vermin says the minimum is {minimum:?}\n{}", done.describe());
    }
}

#[test]
fn python_files_pass_pyflakes_each_on_its_own() {
    // `python3 -m pyflakes`: the interpreter the other tests use, whose
    // grammar pyflakes parses with (a console script may belong to another).
    let probe = run(Command::new("python3").args(["-m", "pyflakes", "--version"]), Duration::from_secs(60));
    assert!(
        probe.status.success(),
        "pyflakes is not installed for python3, and the Python files must be linted: \
         install it with `python3 -m pip install pyflakes` (`.ci/run` does)\n{}",
        probe.describe()
    );
    // One file per run, so that each is checked alone (pyflakes does so
    // anyway, and says which file a finding is in).
    let failures: Vec<String> = LINTED
        .iter()
        .map(|file| run(Command::new("python3").args(["-m", "pyflakes", file]), Duration::from_secs(60)))
        .filter(|done| !done.status.success())
        .map(|done| done.describe())
        .collect();
    assert!(failures.is_empty(), "pyflakes found problems\n{}", failures.join("\n"));
}

/// The Python 3 version in vermin's "Minimum required versions: ..." line.
fn minimum_python3(output: &str) -> Option<(u32, u32)> {
    let line = output.lines().find_map(|l| l.strip_prefix("Minimum required versions:"))?;
    line.split(',').find_map(|v| {
        let (major, minor) = v.trim().trim_start_matches(['~', '!']).split_once('.')?;
        let version = (major.parse().ok()?, minor.parse().ok()?);
        (version.0 == 3).then_some(version)
    })
}

#[test]
fn python_vermin_verdict_is_parsed() {
    assert_eq!(
        minimum_python3("Detecting...\nMinimum required versions: 3.6\nIncompatible versions: 2.x\n"),
        Some((3, 6))
    );
    assert_eq!(minimum_python3("Minimum required versions: ~2, 3.11\n"), Some((3, 11)));
    assert_eq!(minimum_python3("nothing to see\n"), None);
}
