//! `pushy cp`: scp's argument forms (`HOST:REMOTE LOCAL`, `LOCAL HOST:REMOTE`,
//! `-r`, `-p`) over pushy's own connection, with a progress bar on a
//! terminal. Ctrl-C stops the copy cleanly: no temporary file is left and
//! the old target stays as it was.
//!
//! Many hosts (`H1,H2:PATH`, ranges, `@FILE`): an upload goes to each; a
//! download from each lands in `LOCAL/HOST/`, so nothing of one host can
//! overwrite another's. Hosts copy 16 at a time, one line each.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pushy::transfer::{self, Options, Progress, Summary};
use pushy::Session;

use crate::exit_code::ExitCode;
use crate::interrupt::CtrlC;
use crate::plan::CopyPlan;

/// Runs `pushy cp`.
pub fn run(plan: CopyPlan) -> pushy::Result<ExitCode> {
    // Ctrl-C, SIGTERM and SIGHUP cancel the copy (temporary files removed,
    // here and on the host), then pushy dies by that signal; a second one
    // quits at once. Before the copy starts, a signal just ends pushy.
    let ctrl_c = CtrlC::install();
    if plan.many {
        return many_hosts(&plan, &ctrl_c);
    }
    let mut session = Session::connect_with(&plan.targets[0].1, &plan.connect)?;
    let options = Options { recursive: plan.recursive, preserve: plan.preserve };
    let progress = Arc::new(Progress::default());
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let caught = Arc::new(std::sync::atomic::AtomicI32::new(0));
    {
        let (flag, caught) = (Arc::clone(&flag), Arc::clone(&caught));
        ctrl_c.on_signal(move |signal| {
            caught.store(signal, Ordering::SeqCst);
            flag.store(true, Ordering::SeqCst);
        });
    }
    let watcher = {
        let progress = Arc::clone(&progress);
        let flag = Arc::clone(&flag);
        let bar = !plan.quiet && std::io::stderr().is_terminal();
        std::thread::spawn(move || watch(&progress, &flag, bar))
    };
    let result = if plan.download {
        transfer::get(&mut session, &plan.remote, Path::new(&plan.local), options, &progress)
    } else {
        transfer::put(&mut session, Path::new(&plan.local), &plan.remote, options, &progress)
    };
    progress.cancel.store(true, Ordering::SeqCst); // stops the watcher
    watcher.thread().unpark(); // now, not at its next tick
    let _ = watcher.join();
    let interrupted = flag.load(Ordering::SeqCst);
    let _ = session.close();
    match result {
        Ok(summary) => Ok(report(&summary)),
        Err(_) if interrupted => {
            eprintln!("pushy: the copy was interrupted; nothing was left half-written");
            // As the shell expects of a command a signal stopped.
            crate::signals::die(caught.load(Ordering::SeqCst))
        }
        Err(e) => Err(e),
    }
}

/// Hosts copied at once.
const FORKS: usize = 16;

/// The copy on every host: one line each, then the status (255 if a host
/// could not be reached, else 1 if anything was not copied, else 0).
fn many_hosts(plan: &CopyPlan, ctrl_c: &CtrlC) -> pushy::Result<ExitCode> {
    let options = Options { recursive: plan.recursive, preserve: plan.preserve };
    // One cancel for all: Ctrl-C, SIGTERM or SIGHUP stops every copy.
    let progress = Arc::new(Progress::default());
    let caught = Arc::new(std::sync::atomic::AtomicI32::new(0));
    {
        let (progress, caught) = (Arc::clone(&progress), Arc::clone(&caught));
        ctrl_c.on_signal(move |signal| {
            caught.store(signal, Ordering::SeqCst);
            progress.cancel.store(true, Ordering::SeqCst);
        });
    }
    if plan.download {
        std::fs::create_dir_all(&plan.local)
            .map_err(|e| pushy::Error::new(pushy::ErrorKind::Io, format!("cannot make {}: {e}", plan.local)))?;
    }
    let queue = std::sync::Mutex::new(plan.targets.iter().collect::<std::collections::VecDeque<_>>());
    let (unreachable, failed) = (std::sync::atomic::AtomicBool::new(false), std::sync::atomic::AtomicBool::new(false));
    std::thread::scope(|scope| {
        for _ in 0..FORKS.min(plan.targets.len()) {
            scope.spawn(|| loop {
                let Some((label, target)) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else { break };
                let copied =
                    Session::connect_with(target, &plan.connect).map_err(|e| (e, true)).and_then(|mut session| {
                        let result = if plan.download {
                            let dir = Path::new(&plan.local).join(label);
                            std::fs::create_dir_all(&dir)
                                .map_err(|e| {
                                    (pushy::Error::new(pushy::ErrorKind::Io, format!("{}: {e}", dir.display())), false)
                                })
                                .and_then(|()| {
                                    transfer::get(&mut session, &plan.remote, &dir, options, &progress)
                                        .map_err(|e| (e, false))
                                })
                        } else {
                            transfer::put(&mut session, Path::new(&plan.local), &plan.remote, options, &progress)
                                .map_err(|e| (e, false))
                        };
                        let _ = session.close();
                        result
                    });
                let mut err = std::io::stderr().lock();
                match copied {
                    Ok(summary) => {
                        for error in &summary.errors {
                            let _ = writeln!(err, "{label}: not copied: {error}");
                        }
                        if !summary.errors.is_empty() {
                            failed.store(true, Ordering::SeqCst);
                        }
                        drop(err);
                        let line = format!("{label}: {} file(s), {} bytes\n", summary.files, summary.bytes);
                        let _ = crate::output::write_stdout(line.as_bytes());
                    }
                    Err((e, connecting)) => {
                        let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
                        let _ = writeln!(err, "{label}: error: {e}{hint}");
                        let flag = if connecting { &unreachable } else { &failed };
                        flag.store(true, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    if progress.cancel.load(Ordering::SeqCst) {
        eprintln!("pushy: the copy was interrupted; nothing was left half-written");
        crate::signals::die(caught.load(Ordering::SeqCst));
    }
    Ok(if unreachable.load(Ordering::SeqCst) {
        ExitCode::Connection
    } else if failed.load(Ordering::SeqCst) {
        ExitCode::Raised
    } else {
        ExitCode::Success
    })
}

fn report(summary: &Summary) -> ExitCode {
    for error in &summary.errors {
        eprintln!("pushy: not copied: {error}");
    }
    if summary.errors.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Raised
    }
}

/// Turns Ctrl-C into a cancel, and draws the bar: bytes, rate and ETA.
fn watch(progress: &Progress, interrupt: &std::sync::atomic::AtomicBool, bar: bool) {
    let start = Instant::now();
    let mut drawn = false;
    while !progress.cancel.load(Ordering::SeqCst) {
        if interrupt.load(Ordering::SeqCst) {
            progress.cancel.store(true, Ordering::SeqCst);
            break;
        }
        if bar {
            let done = progress.done.load(Ordering::Relaxed);
            let total = progress.total.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64().max(0.001);
            let rate = done as f64 / secs;
            let eta =
                if rate > 0.0 && total > done { format!("{:.0}s", (total - done) as f64 / rate) } else { "-".into() };
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K{} / {}  {}/s  ETA {eta}", size(done), size(total), size(rate as u64));
            let _ = err.flush();
            drawn = true;
        }
        // Parked, not asleep: the end of the copy wakes it at once.
        std::thread::park_timeout(Duration::from_millis(100));
    }
    if drawn {
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
}

fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}
