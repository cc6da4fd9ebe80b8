//! `-t`, the local side of a remote pseudo-terminal: our terminal goes raw
//! (every key, Ctrl-C included, is sent as typed; the remote pty's own
//! settings decide what a key means), and each SIGWINCH sends the new
//! window size. Both end when the guard drops; a signal that ends pushy
//! restores the terminal too (`signals::tidy`).

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
/// that `interrupter` reaches. With `keep_output`, output processing stays
/// on (a newline still returns the carriage): the REPL prints its own
/// values between the pty's output.
pub fn raw(interrupter: Interrupter, keep_output: bool) -> Raw {
    let raw = terminal::change(0, |t| {
        // SAFETY: cfmakeraw only rewrites the flags of the structure it is given.
        unsafe { libc::cfmakeraw(t) };
        if keep_output {
            t.c_oflag |= libc::OPOST;
        }
    });
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

/// Our stdin's keys for one REPL input, until `stop` is set: the forwarder
/// reading it must not take a key meant for the next prompt, so it waits in
/// poll (a tenth of a second at a time) and reads only while the input
/// runs. Stopped, it reads as the end of input.
pub struct KeysUntil {
    pub stop: Arc<AtomicBool>,
}

impl Read for KeysUntil {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(0);
            }
            let mut fds = [libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 }];
            // SAFETY: one valid pollfd for the call's length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 100) };
            if n > 0 && !self.stop.load(Ordering::SeqCst) {
                // SAFETY: reads at most buf.len() bytes into buf.
                let got = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if got >= 0 {
                    return Ok(got as usize);
                }
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted && e.kind() != std::io::ErrorKind::WouldBlock {
                    return Err(e);
                }
            }
        }
    }
}
