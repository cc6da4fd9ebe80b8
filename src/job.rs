//! One job on one host: connect, send the request, pass its events on, and
//! say how it ended. The same code path serves `pushy exec HOST` and each
//! host of `pushy exec H1,H2,...`, so every flag (`--timeout`, `--test`,
//! `-v`, `--raw`, `--json`) means the same for one host and for many.

use std::io::{IsTerminal, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use pushy::{ConnectOptions, Event, Interrupter, RemoteError, Reply, Request, Session, Target, Value};

use crate::interrupt::CtrlC;
use crate::plan::{Job, StdinSource};

/// One copy of stdin, read by every host's forwarder.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// How a job ended on its host.
pub enum Outcome {
    /// A value (and its truth, with `--test`).
    Value(Value, Option<bool>),
    /// Statements only: no value.
    NoValue,
    /// A result streamed as events (items, or bytes), all passed on.
    Streamed,
    /// The code raised.
    Raised(RemoteError),
    /// The code called `sys.exit(n)`.
    Exit(i32),
    /// `--timeout` ran out: the code was interrupted, or (`true`) it ignored
    /// that and was hung up on 5 s later.
    TimedOut(Duration, bool),
    /// Ctrl-C stopped the code (its KeyboardInterrupt traceback).
    Interrupted(RemoteError),
}

/// Runs `job` on `target`; `events` gets the request's output and streamed
/// items as they come. With `ctrl_c`, Ctrl-C interrupts the remote code
/// (one host in the foreground).
pub fn run_job(
    target: &Target,
    connect: &ConnectOptions,
    job: &Job,
    ctrl_c: Option<&CtrlC>,
    events: &mut dyn FnMut(Event<'_>) -> pushy::Result<()>,
) -> pushy::Result<Outcome> {
    let mut session = Session::connect_with(target, connect)?;
    if job.verbose {
        describe(&session);
    }
    if let Some(ctrl_c) = ctrl_c {
        ctrl_c.attach(session.interrupter());
    }
    let timer = job.timeout.map(|limit| Timer::start(session.interrupter(), limit));
    // `-t`: our terminal raw for the call's length (the guard), its keys the
    // remote pty's.
    let raw = job.tty.then(|| crate::pty::raw(session.interrupter(), false));
    let request = Request {
        file: &job.file,
        mode: job.mode,
        argv: job.argv.clone(),
        stream: true,
        truth: job.test,
        text_forms: job.text_forms,
        stream_bytes: job.stream_bytes,
        pty: job.tty.then(crate::pty::size),
        // Lines read from our terminal on demand (see `exec`); `help()`
        // pages when stdout is a terminal too.
        terminal: matches!(job.stdin, StdinSource::Terminal),
        pager: matches!(job.stdin, StdinSource::Terminal) && std::io::stdout().is_terminal(),
        stdin: match &job.stdin {
            _ if job.tty => Some(Box::new(std::io::stdin()) as Box<dyn Read + Send>),
            StdinSource::Nothing | StdinSource::Terminal => None,
            StdinSource::Forwarded => Some(Box::new(std::io::stdin()) as Box<dyn Read + Send>),
            StdinSource::Copied(bytes) => Some(Box::new(std::io::Cursor::new(SharedBytes(Arc::clone(bytes))))),
        },
        ..Request::new(&job.code)
    };
    let reply = session.request(request, events);
    drop(raw);
    if let Some(hung_up) = timer.and_then(Timer::stop) {
        let _ = session.close();
        return Ok(Outcome::TimedOut(job.timeout.unwrap_or_default(), hung_up));
    }
    let outcome = match reply? {
        Reply::Value(value, truth) => Outcome::Value(value, truth),
        // (`Incomplete` answers only `if_complete`, which a job never asks.)
        Reply::NoValue | Reply::Incomplete => Outcome::NoValue,
        Reply::StreamEnd(_) | Reply::BytesStreamed(_) => Outcome::Streamed,
        Reply::Exit(code) => Outcome::Exit(code),
        // (Under -t, Ctrl-C is a key the remote pty turned into an interrupt.)
        Reply::Raised(error)
            if error.type_name == "KeyboardInterrupt" && (job.tty || ctrl_c.is_some_and(CtrlC::fired)) =>
        {
            Outcome::Interrupted(error)
        }
        Reply::Raised(error) => Outcome::Raised(error),
    };
    session.close()?;
    Ok(outcome)
}

/// `-v`: which interpreter runs where, as whom.
pub fn describe(session: &Session) {
    let info = session.info();
    eprintln!(
        "pushy: {} runs Python {} ({}) as {} on {}",
        session.name(),
        info.python,
        info.executable,
        info.user,
        info.host
    );
}

/// `--timeout` for one session: when the time is up, the running code is
/// interrupted; code that ignores that is hung up on 5 s later. Stopped
/// when the job ends first.
struct Timer {
    stop: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
    hung_up: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Timer {
    fn start(interrupter: Interrupter, limit: Duration) -> Timer {
        let (stop, stopped) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let hung_up = Arc::new(AtomicBool::new(false));
        let (fired_flag, hung_up_flag) = (Arc::clone(&fired), Arc::clone(&hung_up));
        let thread = std::thread::spawn(move || {
            if stopped.recv_timeout(limit) != Err(mpsc::RecvTimeoutError::Timeout) {
                return; // the job ended in time
            }
            fired_flag.store(true, Ordering::SeqCst);
            let _ = interrupter.interrupt();
            if stopped.recv_timeout(Duration::from_secs(5)) == Err(mpsc::RecvTimeoutError::Timeout) {
                hung_up_flag.store(true, Ordering::SeqCst);
                interrupter.hang_up();
            }
        });
        Timer { stop, fired, hung_up, thread }
    }

    /// Stops the timer: `None` if it had not fired, else whether it had to
    /// hang up.
    fn stop(self) -> Option<bool> {
        drop(self.stop);
        let _ = self.thread.join();
        self.fired.load(Ordering::SeqCst).then(|| self.hung_up.load(Ordering::SeqCst))
    }
}
