//! Asking for sudo's password on the local terminal: no echo, once per run
//! (all hosts of a multi-host run share the answer), never stored anywhere
//! but in this process's memory.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::sync::Mutex;

/// The answer, once given. `Some(None)`: asked, but no terminal.
static ANSWER: Mutex<Option<Option<String>>> = Mutex::new(None);

/// The password, asking on /dev/tty the first time.
pub fn ask_once() -> Option<String> {
    let mut answer = ANSWER.lock().unwrap_or_else(|e| e.into_inner());
    if answer.is_none() {
        *answer = Some(ask());
    }
    answer.clone().flatten()
}

fn ask() -> Option<String> {
    let tty = OpenOptions::new().read(true).write(true).open("/dev/tty").ok()?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios calls on a descriptor we own; the structure is fully
    // written by tcgetattr before use.
    let saved = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return None;
        }
        let mut quiet = t;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        libc::tcsetattr(fd, libc::TCSANOW, &quiet);
        t
    };
    let mut out = &tty;
    let _ = out.write_all(b"[pushy] sudo password: ");
    let _ = out.flush();
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    // SAFETY: restores the settings read above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    read.ok()?;
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Some(line)
}
