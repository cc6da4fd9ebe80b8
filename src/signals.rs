//! Dying by a signal as the shell expects: tidy up, then die by the same
//! signal, so a calling shell (a `for` loop, `xargs`, `make`) sees a death by
//! SIGINT, SIGTERM or SIGHUP and stops, as fd's `exit_codes.rs` does.
//!
//! Tidying up means what a signal would otherwise leave behind: the ssh
//! masters this process owns (`--no-reuse`) are stopped at once rather than
//! left to idle out, and a terminal whose echo pushy turned off (the sudo
//! password prompt, a REPL call) or made raw (`-t`) gets it back. Temporary files are the business of the
//! front end that made them (`pushy cp` cancels its copy, then calls [`die`]).

use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::SIGINT;

/// Set while a signal is ending pushy: tidying up (stopping a master) makes
/// the main thread's session fail, and it must not exit with that failure's
/// status before the signal thread dies by the signal.
static DYING: AtomicBool = AtomicBool::new(false);

/// Tidies up and dies by `signal`. Never returns.
pub fn die(signal: i32) -> ! {
    DYING.store(true, Ordering::SeqCst);
    tidy();
    // The default action, whatever pushy inherited (a background job starts
    // with SIGINT ignored), then the signal again: death by it.
    // SAFETY: resetting a disposition and raising a signal; both are plain
    // system calls with no memory handed over.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}

/// Called before pushy exits normally: if a signal is ending it, wait for
/// that instead (a moment at most).
pub fn let_a_signal_finish() {
    if DYING.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

/// What must not outlive pushy when a signal ends it.
pub fn tidy() {
    crate::password::restore_terminal();
    crate::terminal::restore();
    pushy::stop_owned_masters();
}

/// The end of a run that Ctrl-C stopped: die by SIGINT (after the front end
/// has closed its sessions).
pub fn interrupted() -> ! {
    die(SIGINT)
}
