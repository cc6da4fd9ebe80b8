//! Ctrl-C while remote code runs: the first one is forwarded to the remote
//! interpreter as an interrupt frame (KeyboardInterrupt there, the session
//! lives on); a second one before the call ends gives up at once.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use pushy::Interrupter;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Routes SIGINT to the running request.
#[derive(Clone, Default)]
pub struct CtrlC {
    target: Arc<Mutex<Option<Interrupter>>>,
    presses: Arc<AtomicU32>,
    fired: Arc<AtomicBool>,
}

impl CtrlC {
    /// Installs the handler thread. Before a session exists, Ctrl-C exits 130.
    pub fn install() -> CtrlC {
        let ctrl = CtrlC::default();
        let shared = ctrl.clone();
        if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) {
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    if signal == SIGTERM {
                        std::process::exit(143);
                    }
                    shared.fired.store(true, Ordering::SeqCst);
                    let presses = shared.presses.fetch_add(1, Ordering::SeqCst) + 1;
                    let target = shared.target.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    match target {
                        Some(interrupter) if presses == 1 => {
                            if interrupter.interrupt().is_err() {
                                std::process::exit(130);
                            }
                        }
                        _ => {
                            eprintln!();
                            std::process::exit(130);
                        }
                    }
                }
            });
        }
        ctrl
    }

    /// From now on Ctrl-C interrupts requests of this session.
    pub fn attach(&self, interrupter: Interrupter) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = Some(interrupter);
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
