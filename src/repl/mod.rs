//! `pushy HOST`: a Python REPL whose code runs on HOST.
//!
//! It reads like CPython's own: `>>> ` and `... ` prompts, blocks that
//! continue until CPython's `codeop` (asked remotely) says they are complete,
//! `_` for the last value, tracebacks as CPython prints them. On top: tab
//! completion of remote names, persistent history, values pretty-printed and
//! coloured locally, and Ctrl-C that stops the remote call but keeps the
//! session. With stdin not a terminal, the piped lines run as a script.

mod helper;
mod highlight;
mod history;
mod tty;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Write};
use std::rc::Rc;

use pushy::printer::Printer;
use pushy::transfer::{self, Options, Progress};
use pushy::{Error, ErrorKind, Event, Mode, Reply, Request, Session};
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::Editor;

use crate::exit_code::ExitCode;
use crate::interrupt::CtrlC;
use crate::output::{write_stdout, Sink};
use crate::plan;
use helper::RemoteHelper;
use tty::{Keys, Tail};

const HELP: &str = "\
Python code runs on the remote host; values print here.
Modules import themselves on first use: os.listdir(\"/\").
  :help          this text
  :info          the remote interpreter: host, user, Python, pid
  :get REMOTE [LOCAL]   copy a file or directory from the host (default: here)
  :put LOCAL [REMOTE]   copy a file or directory to the host (default: its cwd)
  :reconnect     a new connection and interpreter (names from before are gone)
  :quit          leave (Ctrl-D does too)
  !cmd           run a shell command on the host (its exit status shows if not 0)
  obj?  obj??    signature and docstring of obj; with ??, its source
Ctrl-C stops the running call (the session and its names live on).
Tab completes remote names; Ctrl-R searches the history.";

/// Runs the REPL the plan describes.
pub fn run(plan: plan::Repl) -> pushy::Result<ExitCode> {
    let ctrl_c = CtrlC::install();
    let mut session = Session::connect_with(&plan.target, &plan.connect)?;
    if plan.verbose {
        crate::job::describe(&session);
    }
    session.serve_modules(std::sync::Arc::clone(&plan.modules))?;
    ctrl_c.attach(session.interrupter());
    let repl = Repl {
        session: Rc::new(RefCell::new(session)),
        target: plan.target,
        options: plan.connect,
        modules: plan.modules,
        lost: false,
        printer: plan.printer,
        ctrl_c,
        count: 0,
        raised: false,
        tty: plan.tty,
    };
    repl.start()
}

struct Repl {
    session: Rc<RefCell<Session>>,
    /// Where and how to connect again after a lost connection.
    target: pushy::Target,
    options: pushy::ConnectOptions,
    /// What the host may import from here.
    modules: std::sync::Arc<pushy::LocalModules>,
    /// The connection was lost: the next Enter (or `:reconnect`) reconnects.
    lost: bool,
    printer: Printer,
    ctrl_c: CtrlC,
    count: u64,
    raised: bool,
    /// `-t`: each input runs on a remote pty.
    tty: bool,
}

/// What the loop does after an input.
enum Next {
    Continue,
    /// The input is an open block: read another line.
    More,
    Exit(ExitCode),
}

impl Repl {
    fn start(mut self) -> pushy::Result<ExitCode> {
        let status = if std::io::stdin().is_terminal() { self.interactive()? } else { self.script()? };
        if let Ok(session) = Rc::try_unwrap(self.session) {
            session.into_inner().close()?;
        }
        Ok(status)
    }

    fn banner(&self) -> String {
        let session = self.session.borrow();
        let info = session.info();
        format!(
            "Python {} on {} ({}) as {}, via pushy {}\nType :help for pushy's commands, Ctrl-D to leave.",
            info.python,
            info.host,
            info.platform,
            info.user,
            env!("CARGO_PKG_VERSION")
        )
    }

    /// `host>>> `, or `user@host>>> ` when the code runs as root or as a
    /// `--become` user: where a slip costs most, the prompt says so.
    fn prompt(&self) -> String {
        let session = self.session.borrow();
        let user: String = session.info().user.chars().filter(|c| !c.is_control()).take(64).collect();
        if !user.is_empty() && (user == "root" || self.options.become_user.is_some()) {
            format!("{user}@{}>>> ", session.name())
        } else {
            format!("{}>>> ", session.name())
        }
    }

    fn interactive(&mut self) -> pushy::Result<ExitCode> {
        let config = Config::builder()
            .history_ignore_dups(true)
            .and_then(|c| c.max_history_size(history::MAX_ENTRIES))
            .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?
            .auto_add_history(false)
            .bracketed_paste(true)
            .completion_type(CompletionType::List)
            .build();
        let mut editor: Editor<RemoteHelper, DefaultHistory> = Editor::with_config(config)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot use the terminal: {e}")))?;
        editor.set_helper(Some(RemoteHelper {
            session: Rc::clone(&self.session),
            ctrl_c: self.ctrl_c.clone(),
            // As CPython 3.14: off under NO_COLOR, --color never, or off a terminal.
            syntax: highlight::Syntax::new(self.printer.pretty.color),
            line: std::cell::Cell::new(helper::Line::Code),
        }));
        let history = history::path();
        if let Some(path) = &history {
            let _ = editor.load_history(path);
        }
        println!("{}", self.banner());
        let mut buffer = String::new();
        // Lines of a bracketed paste not yet run: rustyline hands the whole
        // paste over as one text, but it must run line by line, as if typed.
        let mut pasted: VecDeque<String> = VecDeque::new();
        loop {
            let line = match pasted.pop_front() {
                Some(line) => line,
                None => {
                    let prompt = self.prompt();
                    let shown = if buffer.is_empty() { prompt.as_str() } else { "... " };
                    match editor.readline(shown) {
                        Ok(text) => {
                            let mut lines = text.split('\n').map(str::to_string);
                            let first = lines.next().unwrap_or_default();
                            pasted.extend(lines);
                            first
                        }
                        Err(ReadlineError::Interrupted) => {
                            buffer.clear(); // Ctrl-C at the prompt clears the input
                            continue;
                        }
                        Err(ReadlineError::Eof) => return Ok(ExitCode::Success),
                        Err(e) => return Err(Error::new(ErrorKind::Io, format!("cannot read the terminal: {e}"))),
                    }
                }
            };
            if buffer.is_empty() && line.trim_start().starts_with(':') {
                let _ = editor.add_history_entry(line.trim());
                save(&mut editor, history.as_ref());
                match self.meta(line.trim()) {
                    Next::Exit(code) => return Ok(code),
                    Next::Continue | Next::More => continue,
                }
            }
            if let Some((mode, code)) = helper_line(&buffer, &line) {
                let _ = editor.add_history_entry(line.trim());
                save(&mut editor, history.as_ref());
                if self.lost {
                    eprintln!("pushy: not connected: press Enter (or type :reconnect) to reconnect, Ctrl-D to leave");
                    continue;
                }
                match self.run(code, mode, false, Keys::Editor(&mut editor)) {
                    Err(e) if e.kind() == ErrorKind::Disconnected => self.lose(&e),
                    Err(e) => return Err(e),
                    Ok(_) => {}
                }
                continue;
            }
            if buffer.is_empty() && line.trim().is_empty() {
                if self.lost {
                    self.reconnect();
                }
                continue;
            }
            if !buffer.is_empty() {
                buffer.push('\n');
            }
            buffer.push_str(&line);
            if self.lost {
                let _ = editor.add_history_entry(buffer.trim_end());
                save(&mut editor, history.as_ref());
                buffer.clear();
                eprintln!("pushy: not connected: press Enter (or type :reconnect) to reconnect, Ctrl-D to leave");
                continue;
            }
            // One round trip: the server runs the input only if complete.
            let next = match self.eval(&buffer, true, Keys::Editor(&mut editor)) {
                Err(e) if e.kind() == ErrorKind::Disconnected => {
                    // The input stays in the history; the session does not.
                    let _ = editor.add_history_entry(buffer.trim_end());
                    save(&mut editor, history.as_ref());
                    buffer.clear();
                    self.lose(&e);
                    continue;
                }
                other => other?,
            };
            if let Next::More = next {
                continue;
            }
            let _ = editor.add_history_entry(buffer.trim_end());
            save(&mut editor, history.as_ref());
            buffer.clear();
            if let Next::Exit(status) = next {
                return Ok(status);
            }
        }
    }

    /// Piped input: the same block rules, no prompts, no colour codes.
    fn script(&mut self) -> pushy::Result<ExitCode> {
        let mut buffer = String::new();
        loop {
            // A line at a time, the lock released between: the code that
            // runs may read the lines after it (`input()`), as in
            // `python3 < script`.
            let mut line = String::new();
            let read = std::io::stdin().lock().read_line(&mut line);
            if read.map_err(|e| Error::new(ErrorKind::Io, format!("cannot read stdin: {e}")))? == 0 {
                break;
            }
            if line.ends_with('\n') {
                line.pop();
                if line.ends_with('\r') {
                    line.pop();
                }
            }
            if buffer.is_empty() && line.trim().is_empty() {
                continue;
            }
            if buffer.is_empty() && line.trim_start().starts_with(':') {
                match self.meta(line.trim()) {
                    Next::Exit(code) => return Ok(code),
                    Next::Continue | Next::More => continue,
                }
            }
            if let Some((mode, code)) = helper_line(&buffer, &line) {
                self.run(code, mode, false, Keys::Piped)?;
                continue;
            }
            if !buffer.is_empty() {
                buffer.push('\n');
            }
            buffer.push_str(&line);
            match self.eval(&buffer, true, Keys::Piped)? {
                Next::More => continue,
                Next::Exit(status) => return Ok(status),
                Next::Continue => buffer.clear(),
            }
        }
        if !buffer.trim().is_empty() {
            let code = std::mem::take(&mut buffer);
            if let Next::Exit(status) = self.eval(&(code + "\n"), false, Keys::Piped)? {
                return Ok(status);
            }
        }
        Ok(if self.raised { ExitCode::Raised } else { ExitCode::Success })
    }

    /// Runs an input; with `if_complete`, only when CPython's rule says it
    /// is complete (else `Next::More`: read another line).
    /// Runs a REPL input (see [`Self::run`]).
    fn eval(&mut self, code: &str, if_complete: bool, keys: Keys<'_>) -> pushy::Result<Next> {
        self.run(code, Mode::Auto, if_complete, keys)
    }

    /// Runs an input, or one of the helpers (`!cmd`, `obj?`, `obj??`). The
    /// code reads lines through `keys` when it asks for them.
    fn run(&mut self, code: &str, mode: Mode, if_complete: bool, mut keys: Keys<'_>) -> pushy::Result<Next> {
        let file = format!("<input-{}>", self.count + 1);
        let interactive = matches!(keys, Keys::Editor(_));
        // Not streamed: showing an iterator must not consume it. The values
        // come as echoes (`repl`), printed by the sink in order with output.
        // `-t`: the input runs on a remote pty, our terminal raw and its
        // keys forwarded while it runs (not before: what the line editor
        // read ahead stays for the next prompt).
        let on_pty = interactive && self.tty;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let request = Request {
            file: &file,
            mode,
            repl: true,
            if_complete,
            terminal: true,
            pager: interactive && std::io::stdout().is_terminal(),
            pty: on_pty.then(crate::pty::size),
            stdin: on_pty.then(|| {
                Box::new(crate::pty::KeysUntil { stop: std::sync::Arc::clone(&stop) }) as Box<dyn std::io::Read + Send>
            }),
            ..Request::new(code)
        };
        self.ctrl_c.reset();
        let printer = self.printer;
        let ctrl_c = self.ctrl_c.clone();
        let mut sink = Sink::new(&printer, false);
        let mut tail = Tail::default();
        // While the call runs, keys typed are neither echoed nor edited by
        // the terminal: each shows when a reader takes it (see `tty`), and a
        // Ctrl-D typed ahead stays a key (in line mode the terminal would
        // turn it into an end of file for nobody). Ctrl-C still signals.
        let _quiet = (interactive && !on_pty).then(|| {
            crate::terminal::change(0, |t| {
                t.c_lflag &= !(libc::ECHO | libc::ICANON);
                t.c_cc[libc::VMIN] = 1;
                t.c_cc[libc::VTIME] = 0;
            })
        });
        let raw = on_pty.then(|| crate::pty::raw(self.session.borrow().interrupter(), true));
        let mut on_event = |event: Event<'_>| match event {
            Event::Read { prompt, echo, line } => {
                sink.flush()?;
                *line = keys.read(&mut tail, prompt, echo, &ctrl_c);
                Ok(())
            }
            Event::Page(text) if interactive => {
                sink.flush()?;
                tail.clear();
                ctrl_c.paging(|| crate::terminal::page(text));
                Ok(())
            }
            event => {
                match &event {
                    Event::Output(pushy::Stream::Stdout, bytes) => tail.wrote(bytes),
                    Event::Echo(_) | Event::Page(_) => tail.clear(),
                    _ => {}
                }
                sink.event(event)
            }
        };
        let reply = self.session.borrow_mut().request(request, &mut on_event);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(raw);
        // A lost connection: the caller offers to reconnect.
        let next = match reply? {
            Reply::Incomplete => return Ok(Next::More),
            Reply::Value(value, _) if mode == Mode::Shell => {
                match value {
                    pushy::Value::Int(0) => {}
                    pushy::Value::Int(n) if n < 0 => eprintln!("[killed by signal {}]", -n),
                    pushy::Value::Int(n) => eprintln!("[exit status {n}]"),
                    other => eprintln!("[exit status {other:?}]"),
                }
                Next::Continue
            }
            Reply::Value(pushy::Value::None, _) if mode != Mode::Auto => Next::Continue,
            Reply::Value(value, _) => {
                let _ = write_stdout(&self.printer.value(&value));
                Next::Continue
            }
            // (The REPL asks for decoded values; one that comes encoded prints the same.)
            Reply::Encoded(value, _) => {
                let _ = write_stdout(&self.printer.encoded(value)?);
                Next::Continue
            }
            Reply::NoValue | Reply::StreamEnd(_) | Reply::BytesStreamed(_) => Next::Continue,
            Reply::Raised(error) => {
                self.raised = true;
                let _ = std::io::stderr().write_all(error.traceback.as_bytes());
                Next::Continue
            }
            Reply::Exit(code) => Next::Exit(ExitCode::Exit(code.clamp(0, 255) as u8)),
        };
        self.count += 1;
        Ok(next)
    }

    fn meta(&mut self, command: &str) -> Next {
        match command.split_whitespace().next().unwrap_or("") {
            ":help" | ":h" | ":?" => println!("{HELP}"),
            ":quit" | ":q" | ":exit" => return Next::Exit(ExitCode::Success),
            ":info" => {
                let session = self.session.borrow();
                let info = session.info();
                println!(
                    "host {} ({}), user {}, Python {} at {}, pid {}",
                    info.host, info.platform, info.user, info.python, info.executable, info.pid
                );
            }
            ":get" | ":put" => self.copy(command),
            ":reconnect" => self.reconnect(),
            other => eprintln!("unknown command {other}; :help lists them"),
        }
        Next::Continue
    }
}

impl Repl {
    /// The connection is gone: say so, and what went with it.
    fn lose(&mut self, error: &Error) {
        self.lost = true;
        eprintln!("pushy: {error}");
        eprintln!(
            "pushy: the remote interpreter and its names are gone; press Enter (or type :reconnect) \
             to reconnect, Ctrl-D to leave"
        );
    }

    /// A new connection and interpreter in place of the old; the history
    /// and the line editor stay.
    fn reconnect(&mut self) {
        match Session::connect_with(&self.target, &self.options) {
            Ok(mut session) => {
                // A failed send shows as a lost connection on the next call.
                let _ = session.serve_modules(std::sync::Arc::clone(&self.modules));
                self.ctrl_c.attach(session.interrupter());
                let old = std::mem::replace(&mut *self.session.borrow_mut(), session);
                drop(old);
                self.lost = false;
                let name = self.session.borrow().name().to_string();
                eprintln!("pushy: connected to {name} again (a new interpreter: earlier names are gone)");
            }
            Err(e) => {
                self.lost = true;
                eprintln!("pushy: cannot reconnect: {e}");
                if let Some(hint) = e.hint() {
                    eprintln!("pushy: hint: {hint}");
                }
            }
        }
    }

    /// `:get REMOTE [LOCAL]` and `:put LOCAL [REMOTE]`, over the session's
    /// own channel; Ctrl-C interrupts the remote side, which cleans up.
    fn copy(&mut self, command: &str) {
        let words: Vec<&str> = command.split_whitespace().collect();
        let options = Options { recursive: true, preserve: false };
        let progress = std::sync::Arc::new(Progress::default());
        self.ctrl_c.reset();
        let mut session = self.session.borrow_mut();
        let result = match words.as_slice() {
            [":get", remote] => transfer::get(&mut session, remote, std::path::Path::new("."), options, &progress),
            [":get", remote, local] => {
                transfer::get(&mut session, remote, std::path::Path::new(local), options, &progress)
            }
            [":put", local] => transfer::put(&mut session, std::path::Path::new(local), ".", options, &progress),
            [":put", local, remote] => {
                transfer::put(&mut session, std::path::Path::new(local), remote, options, &progress)
            }
            _ => {
                eprintln!("usage: :get REMOTE [LOCAL] or :put LOCAL [REMOTE]");
                return;
            }
        };
        match result {
            Ok(summary) => {
                for error in &summary.errors {
                    eprintln!("not copied: {error}");
                }
                println!("copied {} file(s), {} bytes", summary.files, summary.bytes);
            }
            Err(e) => eprintln!("copy failed: {e}"),
        }
    }
}

/// `!cmd` (a shell command on the host), `obj??` (source) and `obj?`
/// (signature and docstring), as IPython reads them: only as a whole input
/// of one line (no Python input starts with `!` or ends with `?`).
pub(crate) fn helper_line<'l>(buffer: &str, line: &'l str) -> Option<(Mode, &'l str)> {
    if !buffer.is_empty() {
        return None;
    }
    let text = line.trim();
    if let Some(command) = text.strip_prefix('!') {
        return Some((Mode::Shell, command));
    }
    if let Some(expression) = text.strip_suffix("??").filter(|e| !e.trim().is_empty()) {
        return Some((Mode::Source, expression));
    }
    text.strip_suffix('?').filter(|e| !e.trim().is_empty()).map(|expression| (Mode::Doc, expression))
}

fn save(editor: &mut Editor<RemoteHelper, DefaultHistory>, path: Option<&std::path::PathBuf>) {
    if let Some(path) = path {
        let _ = editor.save_history(path);
    }
}
