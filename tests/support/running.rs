//! The one process runner of the tests: a started pushy ([`Running`]), its
//! output collected as it comes, a watchdog, and the wait that ends in a
//! [`Done`].
//!
//! The watchdog never signals a stranger. It kills the process only while
//! the process is unreaped (its pid cannot be reused then): the waiting side
//! notices the exit without reaping (`waitid(WNOWAIT)`), tells the watchdog
//! through a channel, joins it, and only then reaps it.

use std::io::{Read, Write};
use std::panic::Location;
use std::process::Stdio;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::done::{Done, Exit};
use super::pushy::{Control, Pushy};

/// How long stdout and stderr may stay open after the process exited (a
/// process it left behind may hold them) before the test fails.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// How often the waiting side looks whether the process exited.
const POLL: Duration = Duration::from_millis(5);

/// A started process, killed and reaped when dropped. Wait for it with
/// [`Running::wait`] or [`Running::wait_within`].
pub struct Running {
    pid: libc::pid_t,
    group: bool,
    shown: String,
    location: &'static Location<'static>,
    started: Instant,
    stdout: Arc<Stream>,
    stderr: Arc<Stream>,
    /// How far [`Running::line`] has read stdout.
    cursor: usize,
    readers: Vec<JoinHandle<()>>,
    watchdog: Option<Watchdog>,
    timeout: Duration,
    reaped: bool,
    control: Option<Control>,
}

/// What a process wrote on one pipe so far.
struct Stream {
    state: Mutex<StreamState>,
    changed: Condvar,
}

#[derive(Default)]
struct StreamState {
    bytes: Vec<u8>,
    closed: bool,
}

/// A thread that kills the process after its timeout, unless told first
/// that it exited. Returns whether it killed.
struct Watchdog {
    exited: mpsc::Sender<()>,
    thread: JoinHandle<bool>,
}

impl Running {
    pub(super) fn start(mut pushy: Pushy, location: &'static Location<'static>) -> Running {
        let shown = pushy.shown();
        let mut command = pushy.command();
        command.stdin(if pushy.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        command.stdout(match pushy.stdout.take() {
            Some(file) => Stdio::from(file),
            None => Stdio::piped(),
        });
        command.stderr(Stdio::piped());
        if pushy.process_group {
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
        }
        let started = Instant::now();
        // Reaped by `reap` with waitpid, never through `Child`: std would not
        // know, and its kill() could then signal a reused pid.
        #[allow(clippy::zombie_processes)]
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {shown}: {e} (at {location})"));
        let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
        let mut readers = Vec::new();
        if let Some(bytes) = pushy.stdin.take() {
            let mut pipe = child.stdin.take().expect("piped");
            // A process that stops reading early is its own business.
            readers.push(thread::spawn(move || drop(pipe.write_all(&bytes))));
        }
        let stdout = Stream::new();
        match child.stdout.take() {
            Some(pipe) => readers.push(stdout.collect(pipe)),
            None => stdout.close(),
        }
        let stderr = Stream::new();
        readers.push(stderr.collect(child.stderr.take().expect("piped")));
        let watchdog = Watchdog::start(pid, pushy.process_group, pushy.timeout);
        Running {
            pid,
            group: pushy.process_group,
            shown,
            location,
            started,
            stdout,
            stderr,
            cursor: 0,
            readers,
            watchdog: Some(watchdog),
            timeout: pushy.timeout,
            reaped: false,
            control: Some(pushy.control),
        }
    }

    /// What stdout has brought past what was read, once that is at least
    /// `n` bytes, within `limit`: output that has come so far and no more.
    #[track_caller]
    pub fn bytes(&mut self, n: usize, limit: Duration) -> Vec<u8> {
        let what = format!("{n} bytes");
        self.take(limit, &what, |unread| (unread.len() >= n).then_some((unread.len(), unread.len())))
    }

    /// The next line of stdout (without its newline), within `limit`.
    #[track_caller]
    pub fn line(&mut self, limit: Duration) -> String {
        let line =
            self.take(limit, "a line", |unread| unread.iter().position(|b| *b == b'\n').map(|end| (end, end + 1)));
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Waits within `limit` until `found` sees what it wants in the unread
    /// stdout: (how many bytes to return, how many to consume). Fails the
    /// test, showing what came, if stdout ends or the time runs out first.
    #[track_caller]
    fn take(&mut self, limit: Duration, what: &str, found: impl Fn(&[u8]) -> Option<(usize, usize)>) -> Vec<u8> {
        let deadline = Instant::now() + limit;
        let mut state = self.stdout.state.lock().unwrap();
        loop {
            if let Some((len, consumed)) = found(&state.bytes[self.cursor..]) {
                let taken = state.bytes[self.cursor..self.cursor + len].to_vec();
                self.cursor += consumed;
                return taken;
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                let why = if state.closed { "stdout ended" } else { "nothing more" };
                let rest = String::from_utf8_lossy(&state.bytes[self.cursor..]).into_owned();
                drop(state);
                panic!("{why} within {limit:?} instead of {what} (after {rest:?})\n{}", self.describe());
            }
            state = self.stdout.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        assert!(!self.reaped);
        // SAFETY: kill has no memory preconditions; the pid is our unreaped
        // child, so it cannot belong to anyone else.
        unsafe { libc::kill(self.pid, signal) };
    }

    /// Sends `signal` to the process group it leads ([`Pushy::process_group`]).
    pub fn signal_group(&self, signal: i32) {
        assert!(self.group && !self.reaped, "signal_group needs .process_group()");
        // SAFETY: as in `signal`; the group is named after our unreaped child.
        unsafe { libc::killpg(self.pid, signal) };
    }

    /// Waits for the process to end (at most its timeout, when the watchdog
    /// kills it).
    #[track_caller]
    pub fn wait(self) -> Done {
        self.wait_at(Location::caller())
    }

    pub(super) fn wait_at(self, location: &'static Location<'static>) -> Done {
        let limit = self.timeout + Duration::from_secs(10);
        self.wait_within_at(limit, location)
    }

    /// Waits for the process to end; fails if it still runs after `limit`.
    #[track_caller]
    pub fn wait_within(self, limit: Duration) -> Done {
        self.wait_within_at(limit, Location::caller())
    }

    fn wait_within_at(mut self, limit: Duration, location: &'static Location<'static>) -> Done {
        let deadline = Instant::now() + limit;
        while !self.exited() {
            if Instant::now() >= deadline {
                panic!("still running after {limit:?} (waited at {location})\n{}", self.describe());
            }
            thread::sleep(POLL);
        }
        let elapsed = self.started.elapsed();
        let (exit, timed_out) = self.reap();
        let stdout = self.stdout.drained(DRAIN_LIMIT);
        let stderr = self.stderr.drained(DRAIN_LIMIT);
        let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
            panic!("stdout or stderr stayed open {DRAIN_LIMIT:?} after the process ended\n{}", self.describe());
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Done::new(super::done::Finished {
            shown: std::mem::take(&mut self.shown),
            location: self.location,
            exit,
            stdout,
            stderr,
            elapsed,
            timed_out: timed_out.then_some(self.timeout),
            control: self.control.take().expect("waited for once"),
        })
    }

    /// Whether the process has exited; it stays unreaped (a zombie).
    fn exited(&self) -> bool {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        // SAFETY: waitid on our own child with a valid out-pointer; WNOWAIT
        // leaves it unreaped.
        let done = unsafe { libc::waitid(libc::P_PID, self.pid as libc::id_t, &mut info, flags) };
        assert_eq!(done, 0, "waitid: {}", std::io::Error::last_os_error());
        // SAFETY: waitid filled in si_pid (0 when the child still runs).
        unsafe { info.si_pid() != 0 }
    }

    /// Stops the watchdog, then reaps the exited process: its exit, and
    /// whether the watchdog had killed it.
    fn reap(&mut self) -> (Exit, bool) {
        let timed_out = self.watchdog.take().is_some_and(Watchdog::stop);
        let mut status = 0;
        // SAFETY: waitpid on our own exited child, with a valid out-pointer.
        let reaped = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        assert_eq!(reaped, self.pid, "waitpid: {}", std::io::Error::last_os_error());
        self.reaped = true;
        let exit = if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(libc::WEXITSTATUS(status))
        };
        (exit, timed_out)
    }

    /// The command and what it wrote so far, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "{}\nstarted at {}, running for {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.shown,
            self.location,
            self.started.elapsed(),
            super::done::shorten(&self.stdout.snapshot()),
            super::done::shorten(&self.stderr.snapshot()),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // The test failed (or forgot to wait): end the process, then reap it.
        // SAFETY: our unreaped child (or the group it leads).
        unsafe {
            if self.group {
                libc::killpg(self.pid, libc::SIGKILL);
            } else {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
        while !self.exited() {
            thread::sleep(POLL);
        }
        self.reap();
        if !thread::panicking() {
            panic!("a process the test started was never waited for\n{}", self.describe());
        }
    }
}

impl Stream {
    fn new() -> Arc<Stream> {
        Arc::new(Stream { state: Mutex::new(StreamState::default()), changed: Condvar::new() })
    }

    /// Reads `pipe` to its end, in a thread.
    fn collect(self: &Arc<Stream>, mut pipe: impl Read + Send + 'static) -> JoinHandle<()> {
        let stream = Arc::clone(self);
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        stream.state.lock().unwrap().bytes.extend_from_slice(&buf[..n]);
                        stream.changed.notify_all();
                    }
                }
            }
            stream.close();
        })
    }

    fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.changed.notify_all();
    }

    fn snapshot(&self) -> Vec<u8> {
        self.state.lock().unwrap().bytes.clone()
    }

    /// Everything, once the pipe is closed; `None` if it stays open `limit`.
    fn drained(&self, limit: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + limit;
        let mut state = self.state.lock().unwrap();
        while !state.closed {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
        Some(std::mem::take(&mut state.bytes))
    }
}

impl Watchdog {
    fn start(pid: libc::pid_t, group: bool, timeout: Duration) -> Watchdog {
        let (exited, told) = mpsc::channel::<()>();
        let thread = thread::spawn(move || match told.recv_timeout(timeout) {
            Err(RecvTimeoutError::Timeout) => {
                // SAFETY: kill has no memory preconditions, and the pid is
                // still our child's: it is reaped only after this thread
                // has been joined.
                unsafe {
                    if group {
                        libc::killpg(pid, libc::SIGKILL);
                    } else {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
                true
            }
            Ok(()) | Err(RecvTimeoutError::Disconnected) => false,
        });
        Watchdog { exited, thread }
    }

    /// Tells the watchdog that the process exited and waits for it to end;
    /// true if it had killed the process.
    fn stop(self) -> bool {
        let _ = self.exited.send(());
        self.thread.join().expect("the watchdog panicked")
    }
}
