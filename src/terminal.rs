//! What the front ends need to know about the terminal: colour per stream
//! and the width to wrap at; its settings changed and put back on every
//! exit; a line read from it for remote code; the pager.

use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

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
    /// This change recorded the settings [`restore`] puts back: the
    /// outermost of nested changes, whose settings are the user's own.
    recorded: bool,
}

/// Changes the settings of the terminal on `fd` with `how`; nothing if
/// `fd` is not a terminal.
pub fn change(fd: i32, how: impl FnOnce(&mut libc::termios)) -> Changed {
    // SAFETY: termios calls on a descriptor the caller holds open; the
    // structure is written whole by tcgetattr before it is read.
    unsafe {
        let mut saved: libc::termios = std::mem::zeroed();
        if libc::isatty(fd) != 1 || libc::tcgetattr(fd, &mut saved) != 0 {
            return Changed { saved: None, recorded: false };
        }
        let mut changed = saved;
        how(&mut changed);
        let recorded = {
            let mut outer = SAVED.lock().unwrap_or_else(|e| e.into_inner());
            outer.is_none() && outer.replace((fd, saved)).is_none()
        };
        let mut this = Changed { saved: Some((fd, saved)), recorded };
        if libc::tcsetattr(fd, libc::TCSANOW, &changed) != 0 {
            this.saved = None;
            this.forget();
        }
        this
    }
}

impl Changed {
    fn forget(&mut self) {
        if std::mem::take(&mut self.recorded) {
            SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }
}

impl Drop for Changed {
    fn drop(&mut self) {
        if let Some((fd, saved)) = self.saved.take() {
            // SAFETY: restores settings tcgetattr read from this descriptor.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
        }
        self.forget();
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

/// Shows `text` through the user's pager: `$PAGER` (run by the shell, as
/// git and man do), else `less`, else `more`, else straight to stdout.
/// Returns when the pager has quit.
pub fn page(text: &[u8]) {
    let configured = std::env::var("PAGER").ok().filter(|p| !p.trim().is_empty());
    let command = match configured {
        Some(pager) => Some(pager),
        None => ["less", "more"].into_iter().find(|p| on_path(p)).map(str::to_string),
    };
    let Some(command) = command else {
        let _ = crate::output::write_stdout(text);
        return;
    };
    let mut child = Command::new("sh");
    child.arg("-c").arg(&command).stdin(Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        // As git: quit if one screen is enough, colours, no screen clearing.
        child.env("LESS", "FRX");
    }
    let mut child = match child.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("pushy: cannot run the pager {command:?}: {e}");
            let _ = crate::output::write_stdout(text);
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A pager that quits early closes its end: not an error.
        let _ = stdin.write_all(text);
    }
    match child.wait() {
        Ok(status) if status.code() == Some(127) => {
            eprintln!("pushy: the pager {command:?} was not found; set PAGER to one that is");
            let _ = crate::output::write_stdout(text);
        }
        _ => {}
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A line typed on our terminal (stdin, in line mode) for remote code that
/// reads one: with its newline, empty at the end of input (Ctrl-D), `None`
/// when `interrupted` says Ctrl-C stopped the call meanwhile. `prompt`
/// (getpass's) goes to stderr; without `echo` nothing typed is shown.
pub fn read_line(prompt: &str, echo: bool, interrupted: &dyn Fn() -> bool) -> Option<Vec<u8>> {
    let prompt: String = prompt.chars().filter(|c| !c.is_control()).take(200).collect();
    if !prompt.is_empty() {
        let _ = std::io::stderr().write_all(prompt.as_bytes());
    }
    let _quiet = (!echo).then(|| {
        change(0, |t| {
            t.c_lflag &= !libc::ECHO;
            t.c_lflag |= libc::ECHONL;
        })
    });
    let mut line = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 }];
        // SAFETY: one valid pollfd for the call's length.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 100) };
        if interrupted() {
            return None;
        }
        if ready <= 0 {
            continue;
        }
        // SAFETY: reads at most buf.len() bytes into buf. In line mode a
        // read ends at a newline: nothing after it is taken.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Some(line);
        }
        line.extend_from_slice(&buf[..n as usize]);
        if n == 0 || line.ends_with(b"\n") {
            return Some(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lflag(fd: i32) -> libc::tcflag_t {
        // SAFETY: tcgetattr fills the structure before it is read.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(fd, &mut t), 0);
            t.c_lflag
        }
    }

    #[test]
    fn a_signal_restores_the_users_settings_under_nested_changes() {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes the two descriptors; the rest may be null.
        let made =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(made, 0);
        let original = lflag(slave);
        assert_ne!(original & libc::ECHO, 0);
        let outer = change(slave, |t| t.c_lflag &= !libc::ECHO);
        let inner = change(slave, |t| t.c_lflag &= !libc::ICANON);
        assert_eq!(lflag(slave) & (libc::ECHO | libc::ICANON), 0);
        drop(inner);
        assert_eq!(lflag(slave) & libc::ECHO, 0, "the inner change put back the outer one's settings");
        // What the signal path does, with the outer change still live.
        restore();
        assert_eq!(lflag(slave), original);
        std::mem::forget(outer);
        // SAFETY: closes the descriptors openpty made.
        unsafe {
            libc::close(slave);
            libc::close(master);
        }
    }
}
