//! One job on many targets: [`Fleet`] connects to each, a number at a time
//! (the fork limit), runs the job on its session under a per-host time
//! limit, and yields each host's result as soon as it is done. One failing
//! host never stops the others. `pushy exec H1,H2,...` is built on it.
//!
//! ```
//! use pushy::{Fleet, Target};
//! let fleet = Fleet::new().target(Target::parse("local:")?).target(Target::parse("local:")?).forks(2);
//! for done in fleet.run(|_, session| session.eval_as::<String>("platform.python_version()")) {
//!     println!("{}: {}", done.host.name, done.result?);
//! }
//! # Ok::<(), pushy::Error>(())
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::session::{Interrupter, Session};
use crate::target::{ConnectOptions, Target};

/// How many hosts run at once unless [`Fleet::forks`] says otherwise (as
/// `pushy exec --forks`).
pub const DEFAULT_FORKS: usize = 16;

/// One host of a fleet.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its place in the order the hosts were added.
    pub index: usize,
    /// Its label (the name given, or the target's).
    pub name: String,
    /// Where it is.
    pub target: Target,
    /// How to connect to it.
    pub options: ConnectOptions,
}

/// How the job went on one host.
#[derive(Debug)]
pub struct HostResult<T> {
    /// The host.
    pub host: Host,
    /// The job's value, or why there is none: the connection failed, the
    /// job failed, or its time ran out ([`ErrorKind::Timeout`]).
    pub result: Result<T>,
    /// From the start of connecting to the end.
    pub elapsed: Duration,
}

type StartHook = Arc<dyn Fn(&Host) + Send + Sync>;

/// Many targets, one job. See the [module](self) documentation.
#[derive(Clone)]
pub struct Fleet {
    hosts: Vec<Host>,
    forks: usize,
    timeout: Option<Duration>,
    options: ConnectOptions,
    on_start: Option<StartHook>,
}

impl Default for Fleet {
    fn default() -> Fleet {
        Fleet::new()
    }
}

impl Fleet {
    /// A fleet of no hosts, [`DEFAULT_FORKS`] at a time, no time limit.
    pub fn new() -> Fleet {
        Fleet {
            hosts: Vec::new(),
            forks: DEFAULT_FORKS,
            timeout: None,
            options: ConnectOptions::default(),
            on_start: None,
        }
    }

    /// A fleet of the targets in a comma-separated list (`web1,web2,local:`).
    ///
    /// ```
    /// let fleet = pushy::Fleet::parse("local:,local:")?;
    /// assert_eq!(fleet.len(), 2);
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn parse(list: &str) -> Result<Fleet> {
        let mut fleet = Fleet::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            fleet = fleet.target(Target::parse(name)?);
        }
        Ok(fleet)
    }

    /// Adds a target, labelled with its name, connected with the fleet's
    /// options (see [`options`](Self::options)).
    pub fn target(self, target: Target) -> Fleet {
        let name = target.display_name();
        let options = self.options.clone();
        self.host(name, target, options)
    }

    /// Adds a target with a label and options of its own.
    ///
    /// ```
    /// use pushy::{ConnectOptions, Fleet, Target};
    /// let python = ConnectOptions { python: Some("python3".into()), ..ConnectOptions::default() };
    /// let fleet = Fleet::new().host("here", Target::Local, python);
    /// assert_eq!(fleet.hosts()[0].name, "here");
    /// ```
    pub fn host(mut self, name: impl Into<String>, target: Target, options: ConnectOptions) -> Fleet {
        let index = self.hosts.len();
        self.hosts.push(Host { index, name: name.into(), target, options });
        self
    }

    /// The connect options for the targets added after this.
    pub fn options(mut self, options: ConnectOptions) -> Fleet {
        self.options = options;
        self
    }

    /// How many hosts run at once (at least 1).
    pub fn forks(mut self, forks: usize) -> Fleet {
        self.forks = forks.max(1);
        self
    }

    /// A time limit for each host's job, counted from its session being
    /// ready (connecting is bounded by [`ConnectOptions::connect_timeout`]).
    /// When it runs out the running code is interrupted, and hung up on 5 s
    /// later if it ignores that; the host's result is then an error of kind
    /// [`ErrorKind::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let fleet = pushy::Fleet::parse("local:")?.timeout(Duration::from_millis(300));
    /// let done = fleet.run(|_, s| s.eval("time.sleep(30)")).next().unwrap();
    /// assert_eq!(done.result.unwrap_err().kind(), pushy::ErrorKind::Timeout);
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Fleet {
        self.timeout = Some(limit);
        self
    }

    /// Called as each host starts (before it connects), on its worker
    /// thread: for progress displays.
    ///
    /// ```
    /// let fleet = pushy::Fleet::parse("local:")?.on_start(|host| eprintln!("{} ...", host.name));
    /// assert!(fleet.run(|_, s| s.eval("1")).all(|done| done.result.is_ok()));
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn on_start(mut self, hook: impl Fn(&Host) + Send + Sync + 'static) -> Fleet {
        self.on_start = Some(Arc::new(hook));
        self
    }

    /// The hosts, in the order added.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// How many hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether there are no hosts.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Runs `job` on each host's session, [`forks`](Self::forks) at a time,
    /// on worker threads; the results come as hosts finish. Each session is
    /// closed after its job.
    ///
    /// Dropping the iterator early skips the hosts not yet started and
    /// waits for those running.
    ///
    /// ```
    /// let fleet = pushy::Fleet::parse("local:,local:,local:")?.forks(2);
    /// let mut pids: Vec<u32> = fleet.run(|_, s| s.eval_as("os.getpid()")).map(|d| d.result.unwrap()).collect();
    /// pids.sort_unstable();
    /// pids.dedup();
    /// assert_eq!(pids.len(), 3); // a session (an interpreter) each
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn run<T, F>(&self, job: F) -> Results<T>
    where
        T: Send + 'static,
        F: Fn(&Host, &mut Session) -> Result<T> + Send + Sync + 'static,
    {
        let queue = Arc::new(Mutex::new(self.hosts.iter().cloned().collect::<VecDeque<_>>()));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let job = Arc::new(job);
        let workers = (0..self.forks.min(self.hosts.len()))
            .map(|_| {
                let (queue, stop, tx, job) = (Arc::clone(&queue), Arc::clone(&stop), tx.clone(), Arc::clone(&job));
                let (on_start, timeout) = (self.on_start.clone(), self.timeout);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let Some(host) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else { break };
                        if let Some(hook) = &on_start {
                            hook(&host);
                        }
                        let started = Instant::now();
                        let result = run_one(&host, &*job, timeout);
                        if tx.send(HostResult { host, result, elapsed: started.elapsed() }).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        Results { rx: Some(rx), workers, stop }
    }
}

/// Connect, run, close: one host.
fn run_one<T>(
    host: &Host,
    job: &(dyn Fn(&Host, &mut Session) -> Result<T> + Send + Sync),
    timeout: Option<Duration>,
) -> Result<T> {
    let mut session = Session::connect_with(&host.target, &host.options)?;
    let deadline = timeout.map(|limit| Deadline::start(session.interrupter(), limit));
    let result = job(host, &mut session);
    if let Some(hung_up) = deadline.and_then(Deadline::stop) {
        let _ = session.close();
        let limit = timeout.unwrap_or_default().as_secs_f64();
        let how = if hung_up { " (the code ignored the interrupt: hung up 5 s later)" } else { "" };
        return Err(Error::new(ErrorKind::Timeout, format!("timed out after {limit} s{how}")));
    }
    let value = result?;
    session.close()?;
    Ok(value)
}

/// The results of [`Fleet::run`], in the order hosts finish.
pub struct Results<T> {
    rx: Option<mpsc::Receiver<HostResult<T>>>,
    workers: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl<T> Results<T> {
    /// A handle that stops the fleet from another thread: hosts not yet
    /// started are skipped, those running finish.
    ///
    /// ```
    /// let fleet = pushy::Fleet::parse("local:,local:,local:")?.forks(1);
    /// let mut results = fleet.run(|_, s| s.eval("1"));
    /// results.canceller().cancel();
    /// assert!(results.count() <= 1); // at most the host already started
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn canceller(&self) -> Canceller {
        Canceller(Arc::clone(&self.stop))
    }
}

/// Stops a running fleet (see [`Results::canceller`]).
#[derive(Clone)]
pub struct Canceller(Arc<AtomicBool>);

impl Canceller {
    /// No more hosts start.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl<T> Iterator for Results<T> {
    type Item = HostResult<T>;

    fn next(&mut self) -> Option<HostResult<T>> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl<T> Drop for Results<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.rx = None; // a worker's next send fails: it stops
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// A time limit on a session's requests: when it runs out, the running
/// code is interrupted; code that ignores that is hung up on 5 s later.
/// What [`Fleet::timeout`] and `pushy exec --timeout` use.
///
/// ```
/// use std::time::Duration;
/// use pushy::{fleet::Deadline, Session, Target};
/// let mut s = Session::connect(&Target::Local)?;
/// let deadline = Deadline::start(s.interrupter(), Duration::from_millis(200));
/// let e = s.eval("time.sleep(30)").unwrap_err();
/// assert_eq!(e.remote().unwrap().type_name, "KeyboardInterrupt");
/// assert_eq!(deadline.stop(), Some(false)); // ran out; the interrupt was enough
/// # Ok::<(), pushy::Error>(())
/// ```
pub struct Deadline {
    stop: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
    hung_up: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Deadline {
    /// Starts the clock for the session `interrupter` belongs to.
    pub fn start(interrupter: Interrupter, limit: Duration) -> Deadline {
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
        Deadline { stop, fired, hung_up, thread }
    }

    /// Stops the clock: `None` if the time had not run out, else whether
    /// it had to hang up.
    pub fn stop(self) -> Option<bool> {
        drop(self.stop);
        let _ = self.thread.join();
        self.fired.load(Ordering::SeqCst).then(|| self.hung_up.load(Ordering::SeqCst))
    }
}
