//! Asking for sudo's password on the local terminal: no echo, once per run
//! (all hosts of a multi-host run share the answer), never stored anywhere
//! but in this process's memory.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::sync::Mutex;

/// The answer, once given. `Some(None)`: asked, but no terminal.
static ANSWER: Mutex<Option<Option<String>>> = Mutex::new(None);

/// The terminal's settings while the prompt has echo off: a signal that
/// ends pushy then restores them (see `signals::tidy`).
static SAVED: Mutex<Option<(i32, libc::termios)>> = Mutex::new(None);

/// Puts the terminal back as the prompt found it, if the prompt is up.
pub fn restore_terminal() {
    // try_lock: the signal path must never wait on a lock.
    if let Ok(mut saved) = SAVED.try_lock() {
        if let Some((fd, termios)) = saved.take() {
            // SAFETY: restores settings read by tcgetattr from this descriptor.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &termios) };
        }
    }
}

/// How many hosts this run connects to: the prompt says where the answer goes.
static HOSTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// Records how many hosts the password would be sent to.
pub fn set_hosts(count: usize) {
    HOSTS.store(count, std::sync::atomic::Ordering::Relaxed);
}

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
        *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some((fd, t));
        let mut quiet = t;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        libc::tcsetattr(fd, libc::TCSANOW, &quiet);
        t
    };
    let mut out = &tty;
    let prompt = match HOSTS.load(std::sync::atomic::Ordering::Relaxed) {
        0 | 1 => "[pushy] sudo password: ".to_string(),
        n => format!("[pushy] (the same for all {n} hosts) sudo password: "),
    };
    let _ = out.write_all(prompt.as_bytes());
    let _ = out.flush();
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    // SAFETY: restores the settings read above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    read.ok()?;
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Some(line)
}
