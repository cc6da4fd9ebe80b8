//! A finished run ([`Done`]) and the checks a test makes on it.
//!
//! Strict by default, as just's `Test`: when a `Done` is dropped it asserts
//! that pushy exited 0 and wrote nothing on stderr, unless the test declared
//! another ending ([`Done::code`], [`Done::killed_by`], [`Done::exits`]) or
//! checked stderr itself ([`Done::stderr_is`], [`Done::stderr_has`],
//! [`Done::clean_error`], ...; [`Done::any_stderr`] when it truly does not
//! matter). Every failure prints the command, where the test ran it, the
//! exit, stdout and stderr.

use std::cell::Cell;
use std::panic::Location;
use std::time::Duration;

use super::pushy::Control;

/// How GNU time's report starts (see [`super::pushy::Pushy::measuring_memory`]).
pub(super) const PEAK_RSS: &str = "peak resident KiB: ";

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// It died by this signal.
    Signal(i32),
}

/// What the runner hands over when a process has ended.
pub(super) struct Finished {
    pub shown: String,
    pub location: &'static Location<'static>,
    pub exit: Exit,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
    /// The watchdog killed it after this long.
    pub timed_out: Option<Duration>,
    pub control: Control,
}

/// A finished run; checks itself when dropped (see the module doc).
pub struct Done {
    pub stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// From the start until the process exited.
    pub elapsed: Duration,
    exit: Exit,
    timed_out: Option<Duration>,
    shown: String,
    location: &'static Location<'static>,
    /// Kept until the checks are done (a private one is removed then).
    _control: Control,
    /// The test declared how the process ends.
    ending_checked: Cell<bool>,
    /// The test checked (or allowed) stderr.
    stderr_checked: Cell<bool>,
}

impl Done {
    pub(super) fn new(finished: Finished) -> Done {
        Done {
            stdout: finished.stdout,
            stderr: finished.stderr,
            elapsed: finished.elapsed,
            exit: finished.exit,
            timed_out: finished.timed_out,
            shown: finished.shown,
            location: finished.location,
            _control: finished.control,
            ending_checked: Cell::new(false),
            stderr_checked: Cell::new(false),
        }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The stderr text. Reading it checks nothing: a test that inspects it
    /// by hand says so with [`Done::any_stderr`] (or uses the checks below).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The peak resident memory of pushy (and of the children it waited
    /// for) in KiB, of a run [`super::pushy::Pushy::measuring_memory`]:
    /// GNU time's report, the last line of stderr (what pushy wrote comes
    /// before it, and the test checks it, or not, as it pleases).
    #[track_caller]
    pub fn peak_rss_kib(&self) -> u64 {
        let stderr = self.stderr();
        if stderr.starts_with(PEAK_RSS) {
            // The report alone: pushy itself said nothing, which is checked.
            self.stderr_starts_with(PEAK_RSS);
        }
        let report = stderr.rfind(PEAK_RSS).map(|at| &stderr[at + PEAK_RSS.len()..]);
        let kib = report.and_then(|r| r.strip_suffix('\n')).and_then(|n| n.parse().ok());
        kib.unwrap_or_else(|| panic!("stderr does not end with GNU time's report\n{}", self.describe()))
    }

    /// Everything about the run, for a failure message.
    pub fn describe(&self) -> String {
        let killed = match self.timed_out {
            Some(limit) => format!(" (killed by the watchdog after {limit:?}: it hung)"),
            None => String::new(),
        };
        format!(
            "{}\nrun at {}\nexit: {:?}{killed} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.shown,
            self.location,
            self.exit,
            self.elapsed,
            shorten(&self.stdout),
            shorten(&self.stderr)
        )
    }

    // ------------------------------------------------------------ the ending

    /// Asserts how the process ended.
    #[track_caller]
    pub fn exits(&self, want: Exit) -> &Done {
        self.exits_one_of(&[want])
    }

    /// Asserts that the process ended in one of these ways.
    #[track_caller]
    pub fn exits_one_of(&self, want: &[Exit]) -> &Done {
        self.ending_checked.set(true);
        assert!(
            self.timed_out.is_none() && want.contains(&self.exit),
            "expected exit {}\n{}",
            want.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join(" or "),
            self.describe()
        );
        self
    }

    /// Asserts the exit status.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Done {
        self.exits(Exit::Code(code))
    }

    /// Asserts exit status 0 (which a `Done` also checks when dropped).
    #[track_caller]
    pub fn success(&self) -> &Done {
        self.code(0)
    }

    /// Asserts that the process died by `signal`.
    #[track_caller]
    pub fn killed_by(&self, signal: i32) -> &Done {
        self.exits(Exit::Signal(signal))
    }

    // ------------------------------------------------------------ stdout

    #[track_caller]
    pub fn stdout_is(&self, want: &str) -> &Done {
        assert!(self.stdout() == want, "stdout is not {want:?}\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, want: &str) -> &Done {
        assert!(self.stdout().contains(want), "stdout lacks {want:?}\n{}", self.describe());
        self
    }

    // ------------------------------------------------------------ stderr

    #[track_caller]
    pub fn stderr_is(&self, want: &str) -> &Done {
        self.stderr_checked.set(true);
        assert!(self.stderr() == want, "stderr is not {want:?}\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, want: &str) -> &Done {
        self.stderr_checked.set(true);
        assert!(self.stderr().contains(want), "stderr lacks {want:?}\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn stderr_starts_with(&self, want: &str) -> &Done {
        self.stderr_checked.set(true);
        assert!(self.stderr().starts_with(want), "stderr does not start with {want:?}\n{}", self.describe());
        self
    }

    /// Asserts that stderr does not contain `unwanted` (and allows the rest).
    #[track_caller]
    pub fn stderr_lacks(&self, unwanted: &str) -> &Done {
        self.stderr_checked.set(true);
        assert!(!self.stderr().contains(unwanted), "stderr has {unwanted:?}\n{}", self.describe());
        self
    }

    /// The stderr is one error line (plus an optional hint line), never a
    /// panic or a Python traceback from pushy itself.
    #[track_caller]
    pub fn clean_error(&self) -> &Done {
        self.stderr_checked.set(true);
        let err = self.stderr();
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            !lines.is_empty() && lines.len() <= 2 && lines[0].starts_with("pushy: error: "),
            "not a clean one-line error\n{}",
            self.describe()
        );
        assert!(!err.contains("panicked") && !err.contains("Traceback"), "{}", self.describe());
        self
    }

    /// Allows any stderr: the test inspects it by hand (through
    /// [`Done::stderr`]), or it truly does not matter.
    pub fn any_stderr(&self) -> &Done {
        self.stderr_checked.set(true);
        self
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        // A test that already fails says why; a second panic would abort.
        if std::thread::panicking() {
            return;
        }
        if !self.ending_checked.get() && (self.exit != Exit::Code(0) || self.timed_out.is_some()) {
            panic!(
                "exit {:?}, where the test expects 0 (a test that expects another says so: \
                 `.code(N)`, `.killed_by(SIGNAL)`)\n{}",
                self.exit,
                self.describe()
            );
        }
        if !self.stderr_checked.get() && !self.stderr.is_empty() {
            panic!(
                "stderr is not empty, and the test does not check it (`.stderr_is(..)`, `.stderr_has(..)`, \
                 `.clean_error()`, or `.any_stderr()`)\n{}",
                self.describe()
            );
        }
    }
}

/// Output for a failure message: all of it when short, else its start and end.
pub(super) fn shorten(bytes: &[u8]) -> String {
    const KEEP: usize = 4000;
    if bytes.len() <= 2 * KEEP {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    format!(
        "{}\n[... {} bytes ...]\n{}",
        String::from_utf8_lossy(&bytes[..KEEP]),
        bytes.len() - 2 * KEEP,
        String::from_utf8_lossy(&bytes[bytes.len() - KEEP..])
    )
}
