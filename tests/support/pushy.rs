//! Running the real `pushy` binary in tests, fluently:
//! `pushy().args(["exec", "local:", "1"]).run().success().stdout_is("1\n")`.
//!
//! Every run gets its own control directory (so tests never share ssh
//! masters by accident) and a clean colour environment; failures print the
//! command with its status, stdout and stderr.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::sshd::sshd;

/// A pushy command being built.
pub struct Pushy {
    command: Command,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    /// Kept alive for the run: its drop removes the directory.
    _control: tempfile::TempDir,
}

/// A finished run.
pub struct Done {
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
    args: Vec<String>,
}

/// A private (0700) temporary directory, as pushy wants its control directory.
pub fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("pushy-ctl-").tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    dir
}

/// A new `pushy` command with its own control directory.
pub fn pushy() -> Pushy {
    let control = private_dir();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pushy"));
    command.env("PUSHY_CONTROL_DIR", control.path()).env_remove("NO_COLOR").env_remove("PUSHY_PYTHON");
    Pushy { command, args: Vec::new(), stdin: None, _control: control }
}

/// `pushy exec local: CODE`
pub fn exec_local(code: &str) -> Done {
    pushy().args(["exec", "local:", code]).run()
}

/// `pushy exec -F CONFIG HOST CODE` against the loopback sshd.
pub fn exec_ssh(host: &str, code: &str) -> Done {
    pushy().args(["exec"]).ssh(host).arg(code).run()
}

impl Pushy {
    pub fn arg(mut self, arg: impl AsRef<str>) -> Pushy {
        self.args.push(arg.as_ref().to_string());
        self.command.arg(arg.as_ref());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Pushy {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    /// Adds `-F CONFIG HOST` for the loopback sshd.
    pub fn ssh(self, host: &str) -> Pushy {
        let config = sshd().config.display().to_string();
        self.args(["-F", &config, host])
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Pushy {
        self.command.env(key, value);
        self
    }

    /// Runs pushy in `dir` (the directory a `local:` interpreter starts in).
    pub fn current_dir(mut self, dir: &std::path::Path) -> Pushy {
        self.command.current_dir(dir);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Pushy {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs to completion (at most 60 s: a hang is a failure, not a stall).
    pub fn run(mut self) -> Done {
        let start = Instant::now();
        self.command.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.command.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = self.command.spawn().expect("cannot run pushy");
        if let Some(bytes) = self.stdin.take() {
            let mut pipe = child.stdin.take().expect("piped");
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let pid = child.id();
        let watchdog = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(60));
            // SAFETY: kill on a pid we spawned; harmless if it already exited.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        });
        let output = child.wait_with_output().expect("wait for pushy");
        drop(watchdog);
        Done {
            status: output.status.code(),
            stdout: output.stdout,
            stderr: output.stderr,
            elapsed: start.elapsed(),
            args: self.args,
        }
    }
}

impl Done {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn dump(&self) -> String {
        format!(
            "pushy {:?}\nstatus: {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.status,
            self.elapsed,
            self.stdout(),
            self.stderr()
        )
    }

    /// Asserts the exit status.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Done {
        assert_eq!(self.status, Some(code), "unexpected status\n{}", self.dump());
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Done {
        self.code(0)
    }

    #[track_caller]
    pub fn stdout_is(&self, want: &str) -> &Done {
        assert_eq!(self.stdout(), want, "unexpected stdout\n{}", self.dump());
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, want: &str) -> &Done {
        assert!(self.stdout().contains(want), "stdout lacks {want:?}\n{}", self.dump());
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, want: &str) -> &Done {
        assert!(self.stderr().contains(want), "stderr lacks {want:?}\n{}", self.dump());
        self
    }

    /// The stderr is one error line (plus an optional hint line), never a
    /// panic or a Python traceback from pushy itself.
    #[track_caller]
    pub fn clean_error(&self) -> &Done {
        let err = self.stderr();
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            !lines.is_empty() && lines.len() <= 2 && lines[0].starts_with("pushy: error: "),
            "not a clean one-line error\n{}",
            self.dump()
        );
        assert!(!err.contains("panicked") && !err.contains("Traceback"), "{}", self.dump());
        self
    }
}
