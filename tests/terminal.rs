//! Remote code and the user's terminal, through a real pty (rexpect) over
//! the loopback sshd: `input()`, `getpass` and `pdb` read from it while a
//! REPL call runs, `help()` pages through the local `$PAGER`. Keys are sent
//! as people type them, with no pause between.

use std::path::Path;

use crate::support::pushy::{pushy, Pty};
use crate::support::sshd::sshd;

pub(crate) const PROMPT: &str = "pushy-test>>> ";

/// pushy started with the pty's echo on, as a terminal has it (rexpect
/// turns it off), so a test sees what a terminal would show.
const ECHO_ON: [&str; 3] = ["sh", "-c", "stty echo && exec \"$0\" \"$@\""];

pub(crate) struct Term {
    pub(crate) pty: Pty,
    _data: tempfile::TempDir,
}

pub(crate) fn repl_with(envs: &[(&str, &str)]) -> Term {
    repl_with_all(&[], envs)
}

fn repl_with_args(args: &[&str]) -> Term {
    repl_with_all(args, &[])
}

fn repl_with_all(args: &[&str], envs: &[(&str, &str)]) -> Term {
    let data = tempfile::tempdir().unwrap();
    let mut command = pushy()
        .args(args)
        .ssh(sshd().host())
        .env("XDG_DATA_HOME", data.path())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    for (key, value) in envs {
        command = command.env(key, value);
    }
    let mut pty = command.under(ECHO_ON).pty();
    pty.exp_string("Python 3.").expect("banner names the Python version");
    pty.exp_string(PROMPT).expect("first prompt");
    Term { pty, _data: data }
}

pub(crate) fn repl() -> Term {
    repl_with(&[])
}

impl Term {
    pub(crate) fn keys(&mut self, text: &str) {
        self.pty.send(text).unwrap();
        self.pty.flush().unwrap();
    }

    /// Waits for `text`; returns what came before it.
    pub(crate) fn expect(&mut self, text: &str) -> String {
        self.pty.exp_string(text).unwrap_or_else(|e| panic!("never saw {text:?}: {e}"))
    }
}

#[test]
fn input_reads_a_line_typed_ahead_and_the_rest_reaches_the_next_prompt() {
    let mut r = repl();
    // The call, its answer and the next line, typed in one go: the answer
    // goes to input(), the line after it to the REPL.
    r.keys("name = input('Name: ')\rAda\rname.upper() + '!'\r");
    r.expect("Name: ");
    let out = r.expect("'ADA!'");
    assert!(!out.contains("EOFError"), "{out:?}");
    r.expect(PROMPT);
    // Asked while the call runs, answered after the prompt shows.
    r.keys("print(int(input('n? ')) * 2)\r");
    r.expect("n? ");
    r.keys("21\r");
    r.expect("42");
    r.expect(PROMPT);
    // Ctrl-D answers the end of input: EOFError, and the session goes on.
    r.keys("input('more? ')\r");
    r.expect("more? ");
    r.pty.send_control('d').unwrap();
    r.expect("EOFError");
    r.expect(PROMPT);
    // Ctrl-C while input() waits: KeyboardInterrupt there, the session lives.
    r.keys("input('wait: ')\r");
    r.expect("wait: ");
    r.pty.send_control('c').unwrap();
    r.expect("KeyboardInterrupt");
    r.expect(PROMPT);
    r.keys("6 * 7\r");
    r.expect("42");
    r.pty.send_control('d').unwrap();
    r.pty.exp_eof().unwrap();
}

#[test]
fn getpass_reads_without_echo_or_warning() {
    let mut r = repl();
    // Typed ahead of the prompt, and typed after it: never shown.
    r.keys("import getpass\rs = getpass.getpass('Secret: ')\rhunter2ahead\r");
    r.expect("Secret: ");
    let out = r.expect(PROMPT);
    r.keys("s[::-1]\r");
    let echoed = r.expect("'daeha2retnuh'");
    let shown = format!("{out}{echoed}");
    assert!(!shown.contains("hunter2ahead"), "the secret was echoed: {shown:?}");
    assert!(!shown.contains("Warning"), "getpass warned: {shown:?}");
    r.expect(PROMPT);
    r.keys("t = getpass.getpass()\r");
    r.expect("Password: ");
    r.keys("swordfish\r");
    let out = r.expect(PROMPT);
    r.keys("len(t), t == 'sword' + 'fish'\r");
    let value = r.expect("(9, True)");
    assert!(!format!("{out}{value}").contains("swordfish"), "the secret was echoed: {out:?}{value:?}");
}

#[test]
fn breakpoint_stops_in_pdb_and_c_continues() {
    let mut r = repl();
    r.keys("def f(x):\r    y = x * 2\r    breakpoint()\r    return y + 1\r\r");
    r.expect(PROMPT);
    // `p y` at the (Pdb) prompt, then `c`, typed without a pause.
    r.keys("f(20)\rp y * 100\rc\r");
    r.expect("(Pdb) ");
    r.expect("4000");
    let out = r.expect("41");
    assert!(!out.contains("EOFError") && !out.contains("BdbQuit"), "{out:?}");
    r.expect(PROMPT);
    r.keys("'after' + ' pdb'\r");
    r.expect("'after pdb'");
}

/// A pager that says how much it got, then waits for a line on the
/// terminal (as a pager waits for `q`); Ctrl-C is its key, as in less.
fn fake_pager(dir: &Path) -> String {
    let path = dir.join("pager.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\ntrap 'echo \"[fake pager: ctrl-c]\"' INT\n\
         lines=$(wc -l)\necho \"[fake pager: $lines lines]\"\n\
         key=\nwhile [ -z \"$key\" ]; do read key </dev/tty || true; done\n\
         echo \"[fake pager quit: $key]\"\n",
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn help_pages_through_the_pager_and_q_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let pager = format!("sh {}", fake_pager(dir.path()));
    let mut r = repl_with(&[("PAGER", &pager)]);
    r.keys("help(os)\r");
    let out = r.expect("[fake pager: ");
    assert!(!out.contains("NAME"), "help printed instead of paging: {out:?}");
    let count = r.expect(" lines]");
    let lines: u64 = count.trim().parse().unwrap_or_else(|e| panic!("{count:?}: {e}"));
    assert!(lines > 500, "the pager got {lines} lines of help(os)");
    r.keys("q\r");
    r.expect("[fake pager quit: q]");
    r.expect(PROMPT);
    r.keys("'back' + '!'\r");
    r.expect("'back!'");
    r.expect(PROMPT);
    // Ctrl-C in the pager is the pager's: pushy neither interrupts the
    // call nor dies, even at the second. (The second comes once the pager
    // has shown the first: sent a microsecond apart, one CI run saw a
    // KeyboardInterrupt escape help(len) once the pager quit; pydoc and
    // Popen.wait each catch and re-raise it in handlers of their own.)
    r.keys("help(len); time.sleep(1); 'after' + ' ctrl-c'\r");
    r.expect(" lines]");
    r.pty.send_control('c').unwrap();
    r.expect("[fake pager: ctrl-c]");
    r.pty.send_control('c').unwrap();
    r.expect("[fake pager: ctrl-c]");
    r.keys("q\r");
    r.expect("[fake pager quit: q]");
    let out = r.expect("'after ctrl-c'");
    assert!(!out.contains("KeyboardInterrupt"), "{out:?}");
    r.expect(PROMPT);
}

#[test]
fn help_pages_through_less() {
    assert!(
        Path::new("/usr/bin/less").exists() || Path::new("/bin/less").exists(),
        "this test pages through less, which is missing: install it (apt-get install less)"
    );
    let mut r = repl_with(&[("PAGER", "less"), ("LINES", "24")]);
    r.keys("help(os)\r");
    // The start of the page, then less waits at its prompt.
    r.expect("NAME");
    r.expect(":");
    r.keys("q");
    r.expect(PROMPT);
    r.keys("'out of ' + 'less'\r");
    r.expect("'out of less'");
}

#[test]
fn piped_input_reads_the_scripts_next_line() {
    // As `python3 < script`: input() takes the line after the call.
    let done = pushy()
        .ssh(sshd().host())
        .stdin("name = input('Name: ')\nada lovelace\nprint(name.title())\nprint(input() * 2)\nab\n")
        .run();
    done.success().stdout_is("Name: Ada Lovelace\nabab\n");
}

/// `pushy exec -t` on a pty of its own.
fn exec_t(code: &str) -> Pty {
    pushy().args(["exec", "-t"]).ssh(sshd().host()).arg(code).env("TERM", "xterm").env("NO_COLOR", "1").pty()
}

/// Gives the pty rexpect made a new window size (the kernel then sends
/// pushy SIGWINCH, as a terminal emulator's resize does).
fn resize(pty: &Pty, rows: u16, cols: u16) {
    use std::os::fd::AsRawFd;
    let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one winsize, which lives across the call.
    let done = unsafe { libc::ioctl(pty.process.pty.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(done, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
}

#[test]
fn exec_t_gives_the_code_a_terminal_that_input_reads() {
    let mut pty =
        exec_t("print('ttys', os.isatty(0), os.isatty(1), os.isatty(2), os.environ.get('TERM')); input('Name? ')");
    pty.exp_string("ttys True True True xterm").expect("fds 0, 1 and 2 on a pty, TERM passed on");
    pty.exp_string("Name? ").expect("input's prompt");
    pty.send("Ada\r").unwrap();
    pty.flush().unwrap();
    // The remote pty echoes what it reads, then the value prints.
    pty.exp_string("Ada").expect("the remote pty's echo");
    pty.exp_string("'Ada'").expect("the value");
    pty.exp_eof().unwrap();
    assert!(cooked(&pty), "pushy left the terminal raw");
}

#[test]
fn exec_t_ctrl_c_interrupts_and_the_terminal_comes_back_cooked() {
    let mut pty = exec_t("print('start' + 'ed', flush=True); time.sleep(30)");
    pty.exp_string("started").unwrap();
    pty.send_control('c').unwrap();
    pty.exp_string("KeyboardInterrupt").expect("Ctrl-C as a key interrupts the code");
    pty.exp_eof().unwrap();
    // As for any Ctrl-C that ends pushy: death by SIGINT, for the shell.
    let status = pty.process.wait().unwrap();
    assert!(
        matches!(status, rexpect::process::wait::WaitStatus::Signaled(_, rexpect::process::signal::SIGINT, _)),
        "exit status after Ctrl-C: {status:?}"
    );
    assert!(cooked(&pty), "pushy left the terminal raw");
}

/// Whether the terminal has line editing and signals, which raw mode turns
/// off (the master reports the slave's settings; rexpect turns echo off
/// itself).
fn cooked(pty: &Pty) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: tcgetattr writes the whole structure before it is read.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(pty.process.pty.as_raw_fd(), &mut t), 0);
        t.c_lflag & libc::ICANON != 0 && t.c_lflag & libc::ISIG != 0 && t.c_oflag & libc::OPOST != 0
    }
}

#[test]
fn exec_t_forwards_window_size_changes() {
    // The code waits (10 s at most) for SIGWINCH, then reports the size.
    let mut pty = exec_t(
        "import signal\n\
         got = []\n\
         signal.signal(signal.SIGWINCH, lambda *a: got.append(1))\n\
         print('resize ' + 'me', flush=True)\n\
         deadline = time.time() + 10\n\
         while not got and time.time() < deadline: time.sleep(0.01)\n\
         size = os.get_terminal_size()\n\
         (size.lines, size.columns, len(got) > 0)",
    );
    pty.exp_string("resize me").unwrap();
    resize(&pty, 33, 111);
    pty.exp_string("(33, 111, True)").expect("the new size and SIGWINCH remotely");
    pty.exp_eof().unwrap();
}

#[test]
fn exec_t_runs_curses_and_a_remote_pager() {
    let mut pty = exec_t(
        "import curses\n\
         def screen(s):\n    s.addstr(2, 3, 'curses ' + 'says hi')\n    s.refresh()\n    return chr(s.getch())\n\
         curses.wrapper(screen)",
    );
    pty.exp_string("curses says hi").expect("curses drew on the remote pty");
    pty.send("x").unwrap();
    pty.flush().unwrap();
    pty.exp_string("'x'").expect("curses read the key raw, without Enter");
    pty.exp_eof().unwrap();
    // pydoc's own pager on the host (less reads its keys from the pty).
    let mut pty = exec_t("help(os); 'after' + ' the pager'");
    pty.exp_string("NAME").expect("the page");
    pty.send("q").unwrap();
    pty.flush().unwrap();
    pty.exp_string("'after the pager'").expect("q quit the remote pager");
    pty.exp_eof().unwrap();
}

#[test]
fn t_without_a_terminal_runs_without_one_and_says_so() {
    let done = pushy().args(["exec", "-t"]).ssh(sshd().host()).arg("os.isatty(0), os.isatty(1)").stdin("").run();
    done.success().stdout_is("(False, False)\n").stderr_has("no pseudo-terminal for the code: stdin is not a terminal");
    let done = pushy().args(["exec", "-t", "local:,local:", "1"]).run();
    done.code(2).clean_error().stderr_has("-t gives one host a terminal");
}

#[test]
fn repl_t_runs_each_input_on_a_remote_pty() {
    let mut r = repl_with_args(&["-t"]);
    r.keys("os.isatty(0), os.isatty(1), os.get_terminal_size().columns > 0\r");
    r.expect("(True, True, True)");
    r.expect(PROMPT);
    // input() reads the pty: the prompt shows, the keys typed after it go
    // to the running input, which the remote pty echoes.
    r.keys("x = input('Na' + 'me? ')\r");
    r.expect("Name? ");
    r.keys("Ada\r");
    r.expect(PROMPT);
    r.keys("x * 2\r");
    r.expect("'AdaAda'");
    r.expect(PROMPT);
    // Ctrl-C is a key, which the remote pty makes an interrupt.
    r.keys("print('sle' + 'eping', flush=True); time.sleep(30)\r");
    r.expect("sleeping");
    r.pty.send_control('c').unwrap();
    r.expect("KeyboardInterrupt");
    r.expect(PROMPT);
    // Between inputs our terminal is the line editor's again.
    r.keys("6 * 7\r");
    r.expect("42");
    r.expect(PROMPT);
    r.pty.send_control('d').unwrap();
    r.pty.exp_eof().unwrap();
    assert!(cooked(&r.pty), "pushy left the terminal raw");
}

#[test]
fn exec_on_a_terminal_reads_lines_from_it_as_the_code_asks() {
    let mut pty = pushy()
        .args(["exec"])
        .ssh(sshd().host())
        .arg("import getpass\nname = input('Na' + 'me? ')\npin = getpass.getpass('P' + 'IN: ')\n(name, len(pin))")
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .under(ECHO_ON)
        .pty();
    pty.exp_string("Name? ").expect("input's prompt");
    // The terminal's own echo shows what is typed for input()...
    pty.send("Ada\r").unwrap();
    pty.flush().unwrap();
    pty.exp_string("Ada").expect("input's answer echoed by the terminal");
    pty.exp_string("PIN: ").expect("getpass's prompt");
    // ...and nothing for getpass.
    pty.send("s3cr3t\r").unwrap();
    pty.flush().unwrap();
    let out = pty.exp_string("('Ada', 6)").expect("the value");
    assert!(!out.contains("s3cr3t"), "the secret was echoed: {out:?}");
    assert!(!out.contains("Warning"), "getpass warned: {out:?}");
    pty.exp_eof().unwrap();
}

#[test]
fn input_on_a_terminal_the_line_editor_cannot_drive() {
    // TERM=dumb (Emacs' shell): the terminal's own line mode reads the line.
    let mut r = repl_with(&[("TERM", "dumb")]);
    r.keys("x = input('Na' + 'me? ')\r");
    r.expect("Name? ");
    r.keys("Ada\r");
    r.expect("Ada");
    r.expect(PROMPT);
    r.keys("x * 2\r");
    r.expect("'AdaAda'");
}

#[test]
fn exec_t_killed_by_sigterm_gives_the_terminal_back() {
    let mut pty = exec_t("print('start' + 'ed', flush=True); time.sleep(30)");
    pty.exp_string("started").unwrap();
    assert!(!cooked(&pty), "the terminal is raw while the code runs");
    pty.process.signal(rexpect::process::signal::SIGTERM).unwrap();
    pty.exp_eof().unwrap();
    assert!(cooked(&pty), "pushy died by SIGTERM and left the terminal raw");
}
