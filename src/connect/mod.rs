//! Connecting: from a target and options to a ready [`Session`].
//!
//! This is where starting an interpreter can go wrong, so it holds the
//! decisions about it: which interpreter to try (`python3`, the newest
//! `python3.X` on PATH, `python`, or `--python`), going through sudo (first
//! without a password; when a rule wants one, again with it on sudo's stdin,
//! see [`sudo`]), and what a failed start means (no such interpreter: try
//! the next; a sudo refusal; anything else: one line with what to do). The
//! transport below it only starts a command; the session above it only
//! talks frames.

mod cache;
mod sudo;

use std::time::Duration;

use crate::bootstrap::{self, Compiled, Handshake, Launch, Sudo};
use crate::error::{Error, ErrorKind, Result};
use crate::session::Session;
use crate::target::{ConnectOptions, Target};
use crate::transport::{self, Channel};

/// Starts the server on `target` and waits until it is ready.
pub(crate) fn connect(target: &Target, options: &ConnectOptions) -> Result<Session> {
    let name = target.display_name();
    let candidates = bootstrap::candidates(options.python.as_deref());
    for python in &candidates {
        bootstrap::check_interpreter(python)?;
    }
    let mut tried = Vec::new();
    let mut candidates: std::collections::VecDeque<String> = candidates.into();
    let mut discovered = options.python.is_some();
    while let Some(python) = candidates.pop_front() {
        if python == "python" && !discovered {
            // No python3: the newest python3.X on PATH comes before `python`.
            discovered = true;
            let versioned = transport::versioned_pythons(target);
            if !versioned.is_empty() {
                candidates.push_front(python);
                for (i, found) in versioned.into_iter().enumerate() {
                    candidates.insert(i, found);
                }
                continue;
            }
        }
        let slot = cache::Slot::new(target, &python, options.become_user.as_deref());
        // (An entry kept raw is local:'s alone, a compressed one an ssh
        // host's: one that does not match was not written by this pushy.)
        let local = matches!(target, Target::Local);
        let mut compiled = slot.as_ref().and_then(cache::Slot::load).filter(|c| c.raw == local);
        let mut started = start(target, options, &python, &name, compiled.as_ref());
        let ran_and_ended = match &started {
            Ok(Started::Missing) => true,
            Err(e) => matches!(e.kind(), ErrorKind::Disconnected | ErrorKind::Protocol),
            Ok(Started::Ready(..)) => false,
        };
        if compiled.is_some() && ran_and_ended {
            // The interpreter ran and ended before pushy started: the entry
            // is stale (another bytecode format) or spoilt. Forget it, and
            // start from source. (Not when ssh could not connect: that would
            // only wait twice.)
            slot.as_ref().map(cache::Slot::remove);
            compiled = None;
            started = start(target, options, &python, &name, None);
        }
        match started? {
            Started::Ready(channel, leftover) => {
                let mut session = Session::ready(channel, leftover, name)?;
                if let (Some(slot), None) = (&slot, &compiled) {
                    fill(slot, &mut session, local);
                }
                return Ok(session);
            }
            Started::Missing => tried.push(python),
        }
    }
    let message = match &options.python {
        Some(python) => format!("no Python 3 at {python} on {name}"),
        None => format!("no Python 3 on {name} (tried {})", tried.join(", ")),
    };
    Err(Error::new(ErrorKind::NoPython, message).with_hint("pass --python PATH to name a Python 3 interpreter"))
}

/// Asks a session started from source for its compiled program, and keeps
/// it for the next start (see [`cache`]); `raw` (uncompressed) for an
/// interpreter on this machine.
fn fill(slot: &cache::Slot, session: &mut Session, raw: bool) {
    let magic = session.info().magic.clone();
    if Compiled::valid_magic(&magic) {
        if let Ok(Some(blob)) = session.program_blob(cache::MAX_ENTRY, raw) {
            slot.store(&magic, &blob, raw);
        }
    }
}

/// How starting one interpreter went, when it did not fail outright.
enum Started {
    /// The server is up: its channel, and the bytes after the ready marker.
    Ready(Channel, Vec<u8>),
    /// There is no such interpreter there: try the next.
    Missing,
}

/// Starts `python` (through sudo if asked), pushes the server, and waits
/// for the ready marker.
fn start(
    target: &Target,
    options: &ConnectOptions,
    python: &str,
    name: &str,
    compiled: Option<&Compiled>,
) -> Result<Started> {
    let sudo = options.become_user.as_deref().map(|user| (user, Sudo::NonInteractive));
    let mut launch = Launch { python, become_user: sudo, compiled };
    let Some(mut channel) = transport::open(target, options, &launch.command()?)? else {
        return Ok(Started::Missing);
    };
    let mut handshake = bootstrap::start(&mut channel.stdin, &mut channel.stdout, launch.payload())?;
    if let (Handshake::Ended { .. }, Some(user)) = (&handshake, options.become_user.as_deref()) {
        let stderr = channel.stderr.text(Duration::from_millis(500));
        if stderr.contains("password is required") {
            // A rule that wants a password: ask (once per run), then start
            // again with sudo reading it from stdin.
            channel.process.finish();
            launch.become_user = Some((user, Sudo::Password));
            channel = sudo::start_with_password(target, options, &launch, name)?;
            handshake = bootstrap::start(&mut channel.stdin, &mut channel.stdout, launch.payload())?;
        }
    }
    match handshake {
        Handshake::Ready { leftover } => Ok(Started::Ready(channel, leftover)),
        Handshake::Ended { junk } => {
            let status = channel.process.wait_timeout(Duration::from_secs(5));
            let stderr = channel.stderr.text(Duration::from_millis(500));
            channel.process.finish();
            if let Some(error) = sudo::failure(&stderr, name, options) {
                return Err(error);
            }
            if bootstrap::is_missing(status, &stderr) {
                return Ok(Started::Missing);
            }
            Err(start_failure(target, python, status, &stderr, &junk))
        }
    }
}

/// A start that failed for a reason pushy cannot name: the interpreter's
/// last words, and a command the user can paste to see it for themselves.
fn start_failure(target: &Target, python: &str, status: Option<i32>, stderr: &str, junk: &[u8]) -> Error {
    let name = target.display_name();
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).map(str::trim);
    let mut message = match status {
        Some(code) => format!("{python} on {name} exited with status {code} before pushy started"),
        None => format!("{python} on {name} did not start pushy"),
    };
    if let Some(last) = last {
        message.push_str(&format!(": {last}"));
    } else if !junk.is_empty() {
        let text = String::from_utf8_lossy(junk);
        let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        message.push_str(&format!("; the remote shell printed: {line}"));
    }
    // A command the user can paste to see the failure for themselves.
    let check = match target {
        Target::Local => format!("{python} -c 1"),
        Target::Ssh(ssh) => {
            let mut words = vec!["ssh".to_string()];
            words.extend(ssh.ssh_args().iter().map(|w| crate::target::shell_word(w)));
            words.push(crate::target::shell_word(&ssh.destination));
            words.push(format!("{python} -c 1"));
            words.join(" ")
        }
    };
    Error::new(ErrorKind::Disconnected, message).with_hint(format!("check that `{check}` works"))
}
