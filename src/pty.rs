//! `-t`, the local side of a remote pseudo-terminal: our terminal goes raw
//! (every key, Ctrl-C included, is sent as typed; the remote pty's own
//! settings decide what a key means), and each SIGWINCH sends the new
//! window size. Both end when the guard drops; a signal that ends pushy
//! restores the terminal too (`signals::tidy`).

use std::thread::JoinHandle;

use pushy::{Interrupter, PtySize};
use signal_hook::consts::SIGWINCH;
use signal_hook::iterator::{Handle, Signals};

use crate::terminal;

/// The size and type of our terminal (stdin's), for the remote pty.
pub fn size() -> PtySize {
    let (cols, rows) = match terminal_size::terminal_size_of(std::io::stdin()) {
        Some((terminal_size::Width(w), terminal_size::Height(h))) if w > 0 && h > 0 => (w, h),
        _ => (80, 24),
    };
    let term = std::env::var("TERM").ok().filter(|t| !t.is_empty() && t.len() < 256);
    PtySize { rows, cols, term }
}

/// Our terminal, raw and watched for size changes, until dropped.
pub struct Raw {
    _raw: terminal::Changed,
    winch: Option<(Handle, JoinHandle<()>)>,
}

/// Makes our terminal raw and forwards its size changes to the request
/// that `interrupter` reaches.
pub fn raw(interrupter: Interrupter) -> Raw {
    // SAFETY: cfmakeraw only rewrites the flags of the structure it is given.
    let raw = terminal::change(0, |t| unsafe { libc::cfmakeraw(t) });
    let winch = Signals::new([SIGWINCH]).ok().map(|mut signals| {
        let handle = signals.handle();
        let thread = std::thread::spawn(move || {
            for _ in signals.forever() {
                let size = size();
                let _ = interrupter.resize(size.rows, size.cols);
            }
        });
        (handle, thread)
    });
    Raw { _raw: raw, winch }
}

impl Drop for Raw {
    fn drop(&mut self) {
        if let Some((handle, thread)) = self.winch.take() {
            handle.close();
            let _ = thread.join();
        }
    }
}
