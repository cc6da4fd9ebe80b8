//! Getting the server running on the other end of a fresh channel.
//!
//! The channel runs `PYTHON -c 'STAGE0' LEN`. Stage 0 (`bootstrap/stage0.py`,
//! one line of plain ASCII with no `'`, `\`, `$` or `!`, so every login shell
//! from dash to fish and tcsh passes it through untouched) reads exactly LEN
//! bytes of zlib-compressed server program from fd 0 and execs it. The server
//! then prints [`READY_MARKER`] on its stdout; everything before the marker
//! is noise from the remote shell (a chatty `.bashrc`) and is kept only for
//! error messages. Frames follow the marker.
//!
//! What stage 0 reads is either the program's source or, from the client's
//! code cache (see `connect::cache`), the same program already compiled
//! for this host's interpreter: then the command line carries `mMAGIC`, and
//! stage 0 exits with [`EXIT_STALE_CODE`] before reading anything when the
//! interpreter's magic number is not MAGIC. A compiled program kept for
//! `local:` is not compressed (the word `r`): inflating it took the local
//! interpreter longer than reading the difference from a pipe.

use std::io::{ErrorKind as IoKind, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::transport::Argv;

/// The loader on the interpreter's command line.
pub const STAGE0: &str = include_str!("../bootstrap/stage0.py");

/// The server program, zlib-compressed at build time.
pub const PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/server.py.z"));

/// What the server prints when it has taken over the channel.
pub const READY_MARKER: &[u8] = b"\n<pushy-ready v1>\n";

/// Stage 0's exit status when the interpreter is older than Python 3.6.
pub const EXIT_TOO_OLD: i32 = 96;

/// Stage 0's exit status when cached code was made for another bytecode
/// format (the interpreter was upgraded).
pub const EXIT_STALE_CODE: i32 = 95;

/// How long a started interpreter may take to announce itself.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Interpreters tried in order when the user names none.
pub fn candidates(python: Option<&str>) -> Vec<String> {
    match python {
        Some(p) => vec![p.to_string()],
        None => vec!["python3".to_string(), "python".to_string()],
    }
}

/// How sudo starts the interpreter, when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sudo {
    /// `sudo -n`: works with a NOPASSWD rule, fails at once otherwise.
    NonInteractive,
    /// `sudo -S`: the password comes first on stdin; stage 0 then says
    /// `<pushy-go>` before it reads the program, so no program byte is ever
    /// taken for a password.
    Password,
}

/// What the channel runs: the interpreter, perhaps through sudo.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    /// The interpreter command or path.
    pub python: &'a str,
    /// Run it as this user through sudo.
    pub become_user: Option<(&'a str, Sudo)>,
    /// The program compiled for this interpreter, from the code cache,
    /// instead of its source.
    pub compiled: Option<&'a Compiled>,
}

/// The server program compiled by and for one interpreter.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// importlib's magic number, in hex: the bytecode format.
    pub magic: String,
    /// Marshal data of the program's code object, zlib-compressed unless
    /// `raw`.
    pub blob: Vec<u8>,
    /// Not compressed (kept for `local:`).
    pub raw: bool,
}

impl Compiled {
    /// A magic number passes through a remote shell as one word.
    pub fn valid_magic(magic: &str) -> bool {
        !magic.is_empty() && magic.len() <= 16 && magic.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

/// What stage 0 prints, when asked, before it reads the program.
pub const GO_MARKER: &[u8] = b"<pushy-go>";

impl Launch<'_> {
    /// The command to start, its words checked: the interpreter and the
    /// user each pass through a remote shell as one word.
    pub(crate) fn command(&self) -> Result<Argv> {
        check_interpreter(self.python)?;
        if let Some((user, _)) = self.become_user {
            check_user(user)?;
        }
        if let Some(compiled) = self.compiled {
            if !Compiled::valid_magic(&compiled.magic) {
                return Err(Error::protocol(format!("bad magic number {:?} in the code cache", compiled.magic)));
            }
        }
        Ok(Argv(self.words()))
    }

    /// The words of the command.
    fn words(&self) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        if let Some((user, sudo)) = self.become_user {
            let mode: &[&str] = match sudo {
                Sudo::NonInteractive => &["sudo", "-n"],
                Sudo::Password => &["sudo", "-S", "-p", ""],
            };
            words.extend(mode.iter().map(|w| w.to_string()));
            words.extend(["-u".to_string(), user.to_string(), "--".to_string()]);
        }
        let length = self.payload().len().to_string();
        words.extend([self.python.to_string(), "-c".to_string(), STAGE0.to_string(), length]);
        if matches!(self.become_user, Some((_, Sudo::Password))) {
            words.push("go".to_string());
        }
        if let Some(compiled) = self.compiled {
            words.push(format!("m{}", compiled.magic));
            if compiled.raw {
                words.push("r".to_string());
            }
        }
        words
    }

    /// What stage 0 reads: the compiled program, else the source.
    pub fn payload(&self) -> &[u8] {
        self.compiled.map_or(PROGRAM, |c| &c.blob)
    }
}

/// A user name for `--become` must pass through a remote shell as one word.
pub fn check_user(user: &str) -> Result<()> {
    if one_word(user, "_.-") {
        Ok(())
    } else {
        Err(Error::usage(format!("refusing user {user:?}")).with_hint("--become takes a user name"))
    }
}

/// Not empty, not option-like, and only letters, digits and `extra`: a word
/// every shell passes through as it is.
fn one_word(text: &str, extra: &str) -> bool {
    !text.is_empty() && !text.starts_with('-') && text.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// After `sudo -S` got the password: waits for stage 0's go marker, watching
/// sudo's stderr (`stderr`) for a refusal (`refused`) meanwhile.
pub fn await_go(
    stdout: &mut std::fs::File,
    stderr: impl Fn() -> String,
    refused: impl Fn(&str) -> bool,
) -> Result<std::result::Result<(), String>> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        if find(&seen, GO_MARKER).is_some() {
            return Ok(Ok(()));
        }
        let said = stderr();
        if refused(&said) {
            return Ok(Err(said));
        }
        let step = (Instant::now() + Duration::from_millis(100)).min(deadline);
        if Instant::now() >= deadline {
            return Err(Error::new(ErrorKind::Protocol, "sudo did not start the interpreter within 60 s"));
        }
        match wait_readable(stdout, step) {
            Ok(()) => match stdout.read(&mut buf) {
                Ok(0) => return Ok(Err(stderr())),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            },
            Err(_) if Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
    }
}

/// An interpreter path must pass through a remote shell as one word.
pub fn check_interpreter(python: &str) -> Result<()> {
    if one_word(python, "_./+-") {
        Ok(())
    } else {
        Err(Error::usage(format!("refusing interpreter {python:?}"))
            .with_hint("--python takes a command name or path made of letters, digits and _./+-"))
    }
}

/// What the handshake found.
pub enum Handshake {
    /// The server is up; these bytes arrived after the marker (first frames).
    Ready {
        /// What came after the marker: the first frames.
        leftover: Vec<u8>,
    },
    /// The channel ended before the marker.
    Ended {
        /// What came instead (a shell's error, a login banner).
        junk: Vec<u8>,
    },
}

/// Sends the program (`payload`, see [`Launch::payload`]) and waits for the
/// ready marker.
pub fn start(stdin: &mut impl Write, stdout: &mut std::fs::File, payload: &[u8]) -> Result<Handshake> {
    // A write error here means the remote end already exited (no such
    // interpreter, stale cached code): the status and stderr tell the
    // story, not EPIPE.
    let _ = stdin.write_all(payload).and_then(|_| stdin.flush());
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(at) = find(&seen, READY_MARKER) {
            let leftover = seen.split_off(at + READY_MARKER.len());
            return Ok(Handshake::Ready { leftover });
        }
        wait_readable(stdout, deadline)?;
        match stdout.read(&mut buf) {
            Ok(0) => return Ok(Handshake::Ended { junk: seen }),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Blocks until `file` is readable or the deadline passes (then an error).
pub(crate) fn wait_readable(file: &impl AsRawFd, deadline: Instant) -> Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::new(ErrorKind::Protocol, "the remote interpreter did not start within 60 s")
                .with_hint("check that `ssh HOST python3 -c 1` works, or pass --python"));
        }
        let mut pfd = libc::pollfd { fd: file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 && std::io::Error::last_os_error().kind() != IoKind::Interrupted {
            return Err(std::io::Error::last_os_error().into());
        }
    }
}

/// True when a failed start means "this interpreter does not exist here".
pub fn is_missing(status: Option<i32>, stderr: &str) -> bool {
    status == Some(127)
        || status == Some(EXIT_TOO_OLD)
        || stderr.contains("not found")
        || stderr.contains("No such file")
        || stderr.contains("Unknown command")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage0_survives_every_shell() {
        assert!(STAGE0.is_ascii());
        for bad in ['\'', '\\', '$', '!', '\n', '`'] {
            assert!(!STAGE0.contains(bad), "stage 0 must not contain {bad:?}");
        }
    }

    #[test]
    fn interpreters_are_one_word() {
        let command = |python| Launch { python, become_user: None, compiled: None }.command();
        let line = command("/usr/bin/python3.11").unwrap().shell_line();
        assert!(line.starts_with("/usr/bin/python3.11 -c 'import sys;"), "{line}");
        for bad in ["", "-c", "py thon", "python;id", "$(id)"] {
            assert!(command(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cached_code_is_announced_by_its_magic_and_length() {
        let compiled = Compiled { magic: "a70d0d0a".into(), blob: vec![1, 2, 3], raw: false };
        let launch = Launch { python: "python3", become_user: None, compiled: Some(&compiled) };
        let words = launch.command().unwrap().0;
        assert_eq!(&words[words.len() - 2..], ["3", "ma70d0d0a"]);
        assert_eq!(launch.payload(), [1, 2, 3]);
        let raw = Compiled { raw: true, ..compiled.clone() };
        let words = Launch { compiled: Some(&raw), ..launch }.command().unwrap().0;
        assert_eq!(&words[words.len() - 3..], ["3", "ma70d0d0a", "r"]);
        for bad in ["", "a7 0d", "a7;id", "0123456789abcdef0"] {
            let compiled = Compiled { magic: bad.into(), blob: vec![], raw: false };
            assert!(Launch { compiled: Some(&compiled), ..launch }.command().is_err(), "{bad:?}");
        }
    }
}
