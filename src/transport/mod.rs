//! Transports start an interpreter command somewhere and hand back its stdio
//! as plain blocking pipes. Everything above this module (bootstrap, frames,
//! sessions) is the same for `local:` and ssh.

mod control;
mod local;
mod ssh;

use std::fs::File;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::error::Result;
use crate::target::{ConnectOptions, Target};

pub use control::{control_dir, disconnect};
pub use ssh::stop_owned_masters;

/// A command for a transport to start: its words, the program first. A
/// local spawn takes them as they are; over ssh they become one shell line
/// in which every word survives any login shell (see [`Argv::shell_line`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Argv(pub Vec<String>);

impl Argv {
    /// The words as one line for the remote login shell: plain words as
    /// they are, anything else (an empty word, stage 0) single-quoted. The
    /// words must hold no single quote (the caller checks its own).
    pub fn shell_line(&self) -> String {
        let plain =
            |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./+-=:@%,".contains(&b));
        let words: Vec<String> = self.0.iter().map(|w| if plain(w) { w.clone() } else { format!("'{w}'") }).collect();
        words.join(" ")
    }
}

/// The running interpreter's stdio and a handle on its life.
pub(crate) struct Channel {
    pub stdin: File,
    pub stdout: File,
    pub stderr: StderrTail,
    pub process: Process,
}

/// The remote process, as far as the transport can see it.
pub(crate) enum Process {
    Local(std::process::Child),
    Ssh(Box<ssh::RemoteProcess>),
    /// No process of ours: a channel over pipes someone else serves (the
    /// session's unit tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Unowned,
}

impl Process {
    /// The exit status, waiting at most `limit` for it.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<i32> {
        match self {
            Process::Local(child) => {
                let deadline = std::time::Instant::now() + limit;
                // A pidfd becomes readable when the process exits: no
                // polling interval to wait out (the server exits within a
                // millisecond of its input closing). Sleeps where there is
                // none (Linux before 5.3).
                let pidfd = rustix::process::Pid::from_raw(child.id() as i32)
                    .and_then(|pid| rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok());
                loop {
                    match child.try_wait() {
                        Ok(Some(status)) => return exit_code(status),
                        Ok(None) if std::time::Instant::now() < deadline => match &pidfd {
                            // (At the deadline it errs; the loop ends there anyway.)
                            Some(fd) => drop(crate::bootstrap::wait_readable(fd, deadline)),
                            None => std::thread::sleep(Duration::from_millis(5)),
                        },
                        _ => return None,
                    }
                }
            }
            Process::Ssh(remote) => remote.wait_timeout(limit),
            Process::Unowned => None,
        }
    }

    /// Called when the session ends: drop a non-reused ssh master.
    pub fn finish(&mut self) {
        if let Process::Ssh(remote) = self {
            remote.finish();
        }
    }
}

/// The versioned interpreters (`python3.12`, `python3.9`, ...) on the
/// target's PATH, newest first: tried when there is no `python3`.
pub(crate) fn versioned_pythons(target: &Target) -> Vec<String> {
    let listing = match target {
        Target::Local => std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path)
                    .filter_map(|dir| std::fs::read_dir(dir).ok())
                    .flat_map(|entries| entries.flatten().map(|e| e.path().display().to_string()))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        // POSIX sh on every Unix; single quotes pass through any login shell.
        Target::Ssh(ssh) => ssh::capture(
            ssh,
            r#"sh -c 'IFS=:; for d in $PATH; do for p in "$d"/python3.[0-9]*; do [ -x "$p" ] && echo "$p"; done; done'"#,
        ),
    };
    newest_first(&listing)
}

/// Interpreter paths named exactly `python3.N`, newest N first, the first
/// on PATH for each N.
fn newest_first(listing: &str) -> Vec<String> {
    let mut found: Vec<(u32, String)> = Vec::new();
    for path in listing.lines().map(str::trim) {
        let name = path.rsplit('/').next().unwrap_or(path);
        let Some(minor) = name.strip_prefix("python3.").and_then(|m| m.parse::<u32>().ok()) else { continue };
        if !found.iter().any(|(m, _)| *m == minor) {
            found.push((minor, path.to_string()));
        }
    }
    found.sort_by_key(|(minor, _)| std::cmp::Reverse(*minor));
    found.into_iter().map(|(_, path)| path).collect()
}

/// The status of a process killed by a signal whose number is unknown (the
/// ssh mux protocol does not carry it).
pub(crate) const KILLED_BY_SIGNAL: i32 = -1;

/// A 1 MiB pipe buffer (Linux; elsewhere a no-op): bulk bytes then move in
/// fewer, larger reads and writes.
pub(crate) fn widen_pipe(pipe: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own; failure leaves it unchanged.
    unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
}

#[cfg(test)]
mod tests {
    use super::Argv;

    #[test]
    fn shell_lines_quote_what_is_not_plain() {
        let argv = Argv(vec!["sudo".into(), "-p".into(), "".into(), "python3".into(), "-c".into(), "a;b".into()]);
        assert_eq!(argv.shell_line(), "sudo -p '' python3 -c 'a;b'");
    }

    #[test]
    fn versioned_interpreters_sort_newest_first() {
        let listing = "/usr/bin/python3.9\n/usr/bin/python3.11-config\n/opt/py/python3.12\n/usr/bin/python3.12\n/usr/bin/python3.11\n";
        assert_eq!(super::newest_first(listing), ["/opt/py/python3.12", "/usr/bin/python3.11", "/usr/bin/python3.9"]);
    }
}

fn exit_code(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|s| 128 + s))
}

/// Starts `argv` on the target; `Ok(None)` when a local program does not
/// exist (over ssh, the remote shell says so on stderr).
pub(crate) fn open(target: &Target, options: &ConnectOptions, argv: &Argv) -> Result<Option<Channel>> {
    match target {
        Target::Local => local::open(argv),
        Target::Ssh(ssh) => ssh::open(ssh, options, &argv.shell_line()).map(Some),
    }
}

/// The last few KiB of the remote process's stderr, collected by a thread:
/// before the server takes over fd 2 this is where "command not found" and
/// tracebacks of a broken interpreter go.
#[derive(Clone, Default)]
pub(crate) struct StderrTail(Arc<(Mutex<TailState>, Condvar)>);

/// The kept bytes, and whether the stream has ended.
type TailState = (Vec<u8>, bool);

const TAIL: usize = 8192;

impl StderrTail {
    pub fn collect(mut pipe: impl Read + Send + 'static) -> StderrTail {
        let tail = StderrTail::default();
        let sink = tail.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = pipe.read(&mut buf).unwrap_or(0);
                let (lock, done) = &*sink.0;
                let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
                if n == 0 {
                    state.1 = true;
                    done.notify_all();
                    return;
                }
                state.0.extend_from_slice(&buf[..n]);
                if state.0.len() > TAIL {
                    let cut = state.0.len() - TAIL;
                    state.0.drain(..cut);
                }
            }
        });
        tail
    }

    /// The text so far, after waiting up to `limit` for the stream to end
    /// (when the process is known to have exited, its last words follow).
    pub fn text(&self, limit: Duration) -> String {
        let (lock, done) = &*self.0;
        let state = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (state, _) = done.wait_timeout_while(state, limit, |s| !s.1).unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&state.0).into_owned()
    }
}
