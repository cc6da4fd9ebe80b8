//! Signals while pushy runs, handled by one thread for the whole process.
//!
//! Ctrl-C while remote code runs is forwarded to the remote interpreter as
//! an interrupt frame (KeyboardInterrupt there, the session lives on); a
//! second one before the call ends gives up at once. A front end that has
//! something to tidy first (`pushy cp` and its temporary files) takes the
//! first SIGINT, SIGTERM or SIGHUP itself through [`CtrlC::on_signal`].
//! Anything else ends pushy through [`crate::signals::die`]: masters it owns
//! are stopped, the terminal restored, and it dies by the same signal.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use pushy::Interrupter;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::signals::die;

/// A front end's own response to a signal.
type Hook = Box<dyn Fn(i32) + Send>;

/// Routes signals to the running request, or to a front end's hook.
#[derive(Clone, Default)]
pub struct CtrlC {
    target: Arc<Mutex<Option<Interrupter>>>,
    hook: Arc<Mutex<Option<Hook>>>,
    presses: Arc<AtomicU32>,
    fired: Arc<AtomicBool>,
    /// A local pager has the terminal: Ctrl-C is its key (less uses it to
    /// stop a search), not a reason to interrupt the call or die.
    paging: Arc<AtomicBool>,
}

impl CtrlC {
    /// The process's handler, its thread started on the first call. Before a
    /// session exists, a signal tidies up and kills pushy by that signal.
    pub fn install() -> CtrlC {
        static GLOBAL: OnceLock<CtrlC> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let ctrl = CtrlC::default();
                let shared = ctrl.clone();
                if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) {
                    std::thread::spawn(move || {
                        for signal in signals.forever() {
                            shared.handle(signal);
                        }
                    });
                }
                ctrl
            })
            .clone()
    }

    fn handle(&self, signal: i32) {
        if signal == SIGINT && self.paging.load(Ordering::SeqCst) {
            return;
        }
        let presses = self.presses.fetch_add(1, Ordering::SeqCst) + 1;
        if signal == SIGINT {
            self.fired.store(true, Ordering::SeqCst);
        }
        if presses == 1 {
            if let Some(hook) = self.hook.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                hook(signal);
                return;
            }
        }
        if signal != SIGINT {
            die(signal);
        }
        let target = self.target.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match target {
            Some(interrupter) if presses == 1 && interrupter.interrupt().is_ok() => {}
            _ => {
                eprintln!();
                die(SIGINT);
            }
        }
    }

    /// From now on Ctrl-C interrupts requests of this session.
    pub fn attach(&self, interrupter: Interrupter) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = Some(interrupter);
    }

    /// The first signal goes to `hook` instead (a second one still ends
    /// pushy at once).
    pub fn on_signal(&self, hook: impl Fn(i32) + Send + 'static) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(hook));
    }

    /// Interrupts the running request now, as a first Ctrl-C would (the
    /// line editor read Ctrl-C as a key, not a signal).
    pub fn interrupt(&self) {
        let target = self.target.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(interrupter) = target {
            self.presses.fetch_add(1, Ordering::SeqCst);
            self.fired.store(true, Ordering::SeqCst);
            let _ = interrupter.interrupt();
        }
    }

    /// Runs a local pager: Ctrl-C meanwhile is the pager's.
    pub fn paging<R>(&self, pager: impl FnOnce() -> R) -> R {
        self.paging.store(true, Ordering::SeqCst);
        let result = pager();
        self.paging.store(false, Ordering::SeqCst);
        result
    }

    /// A new request starts: count presses afresh.
    pub fn reset(&self) {
        self.presses.store(0, Ordering::SeqCst);
        self.fired.store(false, Ordering::SeqCst);
    }

    /// Whether Ctrl-C was pressed since the last reset.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}
