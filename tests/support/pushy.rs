//! Running the real `pushy` binary in tests, strictly by default:
//! `pushy().args(["exec", "local:", "6 * 7"]).run().stdout_is("42\n")`.
//!
//! [`Pushy`] builds the command: pushy's arguments, its environment,
//! directory, stdin, and a control directory of its own (so tests never
//! share ssh masters by accident), in a clean colour environment. Then:
//!
//! - [`Pushy::run`] runs it to the end and gives a [`Done`], which checks
//!   itself when dropped: exit status 0 and an empty stderr, unless the test
//!   declared another ending (`.code(1)`, `.killed_by(SIGINT)`) or checked
//!   stderr (`.stderr_has(..)`, `.clean_error()`, ...). A test cannot forget
//!   to check.
//! - [`Pushy::spawn`] starts it and keeps it running ([`Running`]): the test
//!   reads its stdout lines, signals it, then waits for the same [`Done`].
//! - [`Pushy::pty`] starts it on a pseudo-terminal ([`Pty`], rexpect), with
//!   the same environment and control directory.
//!
//! Every process is killed by a watchdog after its timeout (60 s unless
//! [`Pushy::timeout`] says otherwise): a hang is a failure, not a stall.
//! Failures print the command, the exit status, stdout and stderr.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use super::done::{Done, Exit};
use super::needs;
pub use super::pty::Pty;
pub use super::running::Running;
use super::sshd::sshd;

/// How long a process may run before the watchdog kills it.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_pushy");

/// A pushy command being built.
pub struct Pushy {
    args: Vec<OsString>,
    /// A command line that pushy runs under (`strace ...`, `sh -c SCRIPT`),
    /// with pushy's path and arguments appended.
    under: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    pub(super) stdin: Option<Vec<u8>>,
    pub(super) stdout: Option<File>,
    pub(super) process_group: bool,
    pub(super) timeout: Duration,
    pub(super) control: Control,
}

/// The control directory (`PUSHY_CONTROL_DIR`) of a run.
pub enum Control {
    /// A private temporary one, removed when the run is dropped.
    Own(tempfile::TempDir),
    /// One the test made, to look into or to share between runs.
    Given(PathBuf),
}

impl Control {
    pub fn path(&self) -> &Path {
        match self {
            Control::Own(dir) => dir.path(),
            Control::Given(path) => path,
        }
    }
}

/// A private (0700) temporary directory, as pushy wants its control directory.
pub fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("pushy-ctl-").tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    dir
}

/// A new `pushy` command with its own control directory.
pub fn pushy() -> Pushy {
    Pushy {
        args: Vec::new(),
        under: Vec::new(),
        envs: Vec::new(),
        current_dir: None,
        stdin: None,
        stdout: None,
        process_group: false,
        timeout: DEFAULT_TIMEOUT,
        control: Control::Own(private_dir()),
    }
}

/// `pushy exec local: CODE`, run.
#[track_caller]
pub fn exec_local(code: &str) -> Done {
    pushy().args(["exec", "local:", code]).run()
}

/// `pushy exec -F CONFIG HOST CODE` against the loopback sshd, run.
#[track_caller]
pub fn exec_ssh(host: &str, code: &str) -> Done {
    pushy().args(["exec"]).ssh(host).arg(code).run()
}

impl Pushy {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Pushy {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Pushy {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    /// Adds `-F CONFIG HOST` for the loopback sshd.
    pub fn ssh(self, host: &str) -> Pushy {
        let config = sshd().config.clone();
        self.arg("-F").arg(config).arg(host)
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Pushy {
        self.envs.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs pushy in `dir` (the directory a `local:` interpreter starts in).
    pub fn current_dir(mut self, dir: &Path) -> Pushy {
        self.current_dir = Some(dir.to_path_buf());
        self
    }

    /// Bytes for pushy's stdin (by default it is `/dev/null`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Pushy {
        self.stdin = Some(bytes.into());
        self
    }

    /// Sends stdout to `file` (say `/dev/full`) instead of collecting it.
    pub fn stdout_to(mut self, file: File) -> Pushy {
        self.stdout = Some(file);
        self
    }

    /// Uses `dir` as the control directory instead of a private one: the
    /// test can look into it, and runs given the same one share masters.
    pub fn control_dir(mut self, dir: impl AsRef<Path>) -> Pushy {
        self.control = Control::Given(dir.as_ref().to_path_buf());
        self
    }

    /// Runs pushy under another command: `under(["strace", "-f"])` runs
    /// `strace -f PUSHY ARGS...`, and `under(["sh", "-c", SCRIPT])` runs
    /// SCRIPT with pushy's path as `$0` and its arguments as `$@`. The status
    /// and output of a run are then the outer command's.
    pub fn under<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, command: I) -> Pushy {
        self.under = command.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// Runs pushy under GNU time, for [`Done::peak_rss_kib`]. (A `wait4` in
    /// the test process cannot measure it: a child's peak counts the memory
    /// of the process that spawned it, here the whole test binary.)
    pub fn measuring_memory(self) -> Pushy {
        let time = needs::program("time", "time").into_os_string();
        let format = format!("{}%M", super::done::PEAK_RSS);
        self.under([time, "-f".into(), format.into()])
    }

    /// Starts the process as the leader of a process group of its own, for
    /// [`Running::signal_group`] (what a terminal's Ctrl-C does).
    pub fn process_group(mut self) -> Pushy {
        self.process_group = true;
        self
    }

    /// How long the process may run before the watchdog kills it (and the
    /// test fails): 60 s unless set.
    pub fn timeout(mut self, limit: Duration) -> Pushy {
        self.timeout = limit;
        self
    }

    /// Runs to completion; the [`Done`] checks itself when dropped.
    #[track_caller]
    pub fn run(self) -> Done {
        let location = Location::caller();
        self.spawn_at(location).wait_at(location)
    }

    /// Starts the process and keeps it running: the test reads its output,
    /// signals it, and then waits for it ([`Running::wait`]).
    #[track_caller]
    pub fn spawn(self) -> Running {
        self.spawn_at(Location::caller())
    }

    fn spawn_at(self, location: &'static Location<'static>) -> Running {
        Running::start(self, location)
    }

    /// Starts pushy on a pseudo-terminal (stdin, stdout and stderr), for the
    /// REPL and prompts. rexpect times out each expectation after 30 s.
    #[track_caller]
    pub fn pty(self) -> Pty {
        assert!(
            self.stdin.is_none() && self.stdout.is_none() && !self.process_group,
            "a pty run has the terminal as stdin and stdout"
        );
        Pty::start(self)
    }

    /// The command line, for failure messages.
    pub(super) fn shown(&self) -> String {
        let mut words: Vec<String> = self.under.iter().map(|w| format!("{w:?}")).collect();
        words.push("pushy".to_string());
        words.extend(self.args.iter().map(|w| format!("{w:?}")));
        words.join(" ")
    }

    /// The `std` command: pushy (under its wrapper, if any) with the test
    /// environment. Stdio is the caller's business.
    pub(super) fn command(&self) -> Command {
        let mut command = match self.under.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(BIN);
                command
            }
            None => Command::new(BIN),
        };
        command.args(&self.args);
        command.env("PUSHY_CONTROL_DIR", self.control.path()).env_remove("NO_COLOR").env_remove("PUSHY_PYTHON");
        command.env("XDG_CACHE_HOME", code_cache()).env_remove("PUSHY_NO_CODE_CACHE");
        command.envs(self.envs.iter().map(|(key, value)| (key, value)));
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        command
    }
}

/// One cache directory for the whole test process, as a user has one: the
/// first run on each target fills pushy's code cache, later runs start from
/// it, so both ways of starting are exercised (never the user's own cache).
pub fn code_cache() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("pushy-test-cache.").tempdir().expect("a temporary directory");
        dir.keep()
    })
}
