//! One job on one host: connect, send the request, pass its events on, and
//! say how it ended. The same code path serves `pushy exec HOST` and each
//! host of `pushy exec H1,H2,...`, so every flag (`--timeout`, `--test`,
//! `-v`, `--raw`, `--json`) means the same for one host and for many.

use std::io::{IsTerminal, Read};
use std::sync::Arc;
use std::time::Duration;

use pushy::fleet::Deadline;
use pushy::value::Encoded;
use pushy::{ConnectOptions, Event, RemoteError, Reply, Request, Session, Target, Value};

use crate::interrupt::CtrlC;
use crate::plan::{Job, StdinSource};

/// One copy of stdin, read by every host's forwarder.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// How a job ended on its host. The value is as it arrived ([`Encoded`]),
/// which one host prints without building its tree, or decoded (see
/// [`Outcome::decoded`]).
pub enum Outcome<V = Value> {
    /// A value (and its truth, with `--test`).
    Value(V, Option<bool>),
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

impl Outcome<Encoded> {
    /// The same outcome with its value decoded.
    pub fn decoded(self) -> pushy::Result<Outcome<Value>> {
        Ok(match self {
            Outcome::Value(value, truth) => Outcome::Value(value.decode()?, truth),
            Outcome::NoValue => Outcome::NoValue,
            Outcome::Streamed => Outcome::Streamed,
            Outcome::Raised(e) => Outcome::Raised(e),
            Outcome::Exit(code) => Outcome::Exit(code),
            Outcome::TimedOut(limit, hung_up) => Outcome::TimedOut(limit, hung_up),
            Outcome::Interrupted(e) => Outcome::Interrupted(e),
        })
    }
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
) -> pushy::Result<Outcome<Encoded>> {
    let mut session = Session::connect_with(target, connect)?;
    if let Some(ctrl_c) = ctrl_c {
        ctrl_c.attach(session.interrupter());
    }
    let deadline = job.timeout.map(|limit| Deadline::start(session.interrupter(), limit));
    let reply = run_on(&mut session, job, ctrl_c, events);
    if let Some(hung_up) = deadline.and_then(Deadline::stop) {
        let _ = session.close();
        return Ok(Outcome::TimedOut(job.timeout.unwrap_or_default(), hung_up));
    }
    let outcome = reply?;
    session.close()?;
    Ok(outcome)
}

/// Runs `job` on a ready session (one host of a fleet, where the
/// [`pushy::Fleet`] connects, keeps the time and closes).
pub fn run_on(
    session: &mut Session,
    job: &Job,
    ctrl_c: Option<&CtrlC>,
    events: &mut dyn FnMut(Event<'_>) -> pushy::Result<()>,
) -> pushy::Result<Outcome<Encoded>> {
    if job.verbose {
        describe(session);
    }
    session.serve_modules(Arc::clone(&job.modules))?;
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
        file_bytes: job.file_bytes,
        // The value is printed, not kept: no tree (see `exec`).
        undecoded: true,
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
    Ok(match reply? {
        Reply::Encoded(value, truth) => Outcome::Value(value, truth),
        // (`undecoded` makes every value come encoded.)
        Reply::Value(..) => {
            return Err(pushy::Error::new(pushy::ErrorKind::Protocol, "a decoded value, not asked for"))
        }
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
    })
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
