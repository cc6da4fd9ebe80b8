//! What the front ends need to know about the terminal: colour per stream
//! and the width to wrap at.

use std::io::IsTerminal;

use crate::cli::ColorChoice;

/// Whether to colour a stream, decided for that stream alone.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// Colour for stdout.
pub fn stdout_color(choice: ColorChoice) -> bool {
    use_color(choice, std::io::stdout().is_terminal())
}

/// Colour for stderr.
pub fn stderr_color(choice: ColorChoice) -> bool {
    use_color(choice, std::io::stderr().is_terminal())
}

/// The width to wrap values at: the terminal's, `$COLUMNS`, or 80.
pub fn width() -> usize {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(std::io::stdout()) {
        return usize::from(w).max(20);
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|w| *w >= 20).unwrap_or(80)
}

/// The terminal settings a [`Changed`] guard replaced, for [`restore`]: a
/// signal that ends pushy must not leave the terminal without echo or raw.
static SAVED: std::sync::Mutex<Option<(i32, libc::termios)>> = std::sync::Mutex::new(None);

/// Terminal settings changed until dropped (then put back as found).
pub struct Changed {
    saved: Option<(i32, libc::termios)>,
}

/// Changes the settings of the terminal on `fd` with `how`; nothing if
/// `fd` is not a terminal.
pub fn change(fd: i32, how: impl FnOnce(&mut libc::termios)) -> Changed {
    // SAFETY: termios calls on a descriptor the caller holds open; the
    // structure is written whole by tcgetattr before it is read.
    unsafe {
        let mut saved: libc::termios = std::mem::zeroed();
        if libc::isatty(fd) != 1 || libc::tcgetattr(fd, &mut saved) != 0 {
            return Changed { saved: None };
        }
        let mut changed = saved;
        how(&mut changed);
        *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some((fd, saved));
        if libc::tcsetattr(fd, libc::TCSANOW, &changed) != 0 {
            SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
            return Changed { saved: None };
        }
        Changed { saved: Some((fd, saved)) }
    }
}

impl Drop for Changed {
    fn drop(&mut self) {
        if let Some((fd, saved)) = self.saved.take() {
            // SAFETY: restores settings tcgetattr read from this descriptor.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
            SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }
}

/// Puts back what a live [`Changed`] changed (the signal path: it never
/// waits on a lock).
pub fn restore() {
    if let Ok(mut saved) = SAVED.try_lock() {
        if let Some((fd, termios)) = saved.take() {
            // SAFETY: restores settings tcgetattr read from this descriptor.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &termios) };
        }
    }
}
