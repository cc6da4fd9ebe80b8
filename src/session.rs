//! A live connection to a remote interpreter: requests in, events and
//! replies out. This is the library's centre; the CLI front ends (one-shot
//! exec, the REPL) are thin layers over it.

use std::fs::File;
use std::io::{Cursor, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, RemoteError, Result};
use crate::local_modules::{Answer, LocalModules};
use crate::protocol::message::{Eval, Find, Found, Items, Out, PtySpec, RefRequest, ValueTokens};
use crate::protocol::{Frame, FrameReader, FrameWriter, FromServer, Payload, ToServer};
use crate::stdin::{ReadFeed, StdinForwarder};
use crate::target::{ConnectOptions, Target};
use crate::transport::{self, Channel, Process, StderrTail};
use crate::value::{self, Encoded, Value};

/// Remote output held while a completion or a check is pending (a
/// background thread printing between REPL calls); past this, the rest is
/// dropped and one line says so, so a chatty or hostile host cannot grow
/// the client without bound.
const HELD_OUTPUT_MAX: usize = 4 << 20;

/// How long a completion may take before the REPL gives up on it (and
/// interrupts it): longer than any honest completion, short enough that a
/// Tab on an object whose `__dir__` blocks costs a moment, not the session.
pub const COMPLETION_BUDGET: Duration = Duration::from_secs(1);

/// Items a streamed iterator may run ahead of the client.
const STREAM_WINDOW: u64 = 8192;

/// What the server says about itself when it starts.
#[derive(Debug, Clone, Default)]
pub struct ServerInfo {
    /// `3.11.7`
    pub python: String,
    /// `Linux 6.1.0 x86_64`
    pub platform: String,
    /// The remote host name (`uname -n`).
    pub host: String,
    /// The effective remote user.
    pub user: String,
    /// The interpreter's process id.
    pub pid: u64,
    /// The interpreter's path (`sys.executable`).
    pub executable: String,
    /// The bytecode format it runs (importlib's magic number, in hex).
    pub magic: String,
}

/// How the code of a request is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Statements run; a trailing expression is the value.
    Auto,
    /// A script: run as `__main__`, no value.
    Run,
    /// The REPL's `!cmd`: the code is a shell command, run with `/bin/sh`
    /// on the host; its output streams, the value is its exit status.
    Shell,
    /// The REPL's `obj?`: the code is an expression; its signature,
    /// docstring and type are printed.
    Doc,
    /// The REPL's `obj??`: as `Doc`, with the source where Python finds it.
    Source,
}

/// A file transfer, instead of code (see [`crate::transfer`]).
#[derive(Debug, Clone, Copy)]
pub enum Transfer<'a> {
    /// Send the tree at `path` (a directory only if `recursive`), streamed
    /// as items.
    Get {
        /// What to send.
        path: &'a str,
        /// Directories too.
        recursive: bool,
    },
    /// Receive a tree from the forwarded stdin into `path`.
    Put {
        /// Where to.
        path: &'a str,
        /// Keep every mode bit and the times.
        preserve: bool,
    },
}

/// One evaluation request.
pub struct Request<'a> {
    /// The Python source.
    pub code: &'a str,
    /// The file name tracebacks show for it.
    pub file: &'a str,
    /// Value or script.
    pub mode: Mode,
    /// Stream an iterator result item by item.
    pub stream: bool,
    /// CPython's interactive conventions (with `Mode::Auto`): each
    /// expression statement at the top level is shown as it runs, as an
    /// [`Event::Echo`] (None is not; `_` is the last shown), by value and
    /// never streamed, and the reply is `Reply::NoValue`.
    pub repl: bool,
    /// Run only if the code is a complete input (else `Reply::Incomplete`):
    /// a REPL line in one round trip.
    pub if_complete: bool,
    /// A bytes result goes to the handler in chunks as it arrives
    /// (`Event::Bytes`, then `Reply::BytesStreamed`), never held whole.
    pub stream_bytes: bool,
    /// With `stream`: a binary file object result (`open(path, "rb")`, a
    /// pipe's reader) streams its content from where it stands, as bytes
    /// items, where it would stream its lines; a regular file goes by
    /// sendfile on the host.
    pub file_bytes: bool,
    /// The value comes back as it arrived, undecoded (`Reply::Encoded`),
    /// for a caller that only prints it: see
    /// [`Printer::write_encoded`](crate::printer::Printer::write_encoded).
    pub undecoded: bool,
    /// Streamed items that are one bytes value each (a file's chunks) are
    /// offered to the handler as [`Event::BytesInto`] before they are read,
    /// so they can go into a file without passing through this process.
    pub splice_items: bool,
    /// Also report the value's truth.
    pub truth: bool,
    /// Standard types with a text form come as that text: datetime, date
    /// and time as ISO 8601, timedelta as an ISO 8601 duration, Decimal,
    /// UUID and paths as `str()` (the `--json` mapping).
    pub text_forms: bool,
    /// Forward this as the remote `sys.stdin`.
    pub stdin: Option<Box<dyn Read + Send>>,
    /// Or this, which may hand over parts of files to go into the channel
    /// by splice (see [`Feed`](crate::Feed)); it wins over `stdin`.
    pub stdin_feed: Option<Box<dyn crate::Feed>>,
    /// `sys.argv` for a script (`Mode::Run`); empty leaves it alone.
    pub argv: Vec<String>,
    /// A file transfer instead of the code.
    pub transfer: Option<Transfer<'a>>,
    /// The code reads lines from the user's terminal when it asks for them
    /// ([`Event::Read`]): `sys.stdin`, `input()`, `getpass` (echo off),
    /// `pdb`. Lines are read only when asked for, so keys typed ahead and
    /// not read stay with the caller. (Instead of `stdin`.)
    pub terminal: bool,
    /// With `terminal`: `help()` text comes as [`Event::Page`], for a
    /// local pager.
    pub pager: bool,
    /// Run the code on a remote pseudo-terminal (fds 0, 1 and 2), as
    /// `ssh -t`: `stdin` is then its keys (raw, as typed), its output comes
    /// as [`Event::Output`] on stdout, and [`Interrupter::resize`] tells it
    /// a new window size.
    pub pty: Option<PtySize>,
}

/// A pseudo-terminal's size and terminal type.
#[derive(Debug, Clone, Default)]
pub struct PtySize {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
    /// `TERM` for the remote code.
    pub term: Option<String>,
}

impl<'a> Request<'a> {
    /// Evaluates `code`, with a value if it ends in an expression.
    ///
    /// ```
    /// use pushy::{Event, Reply, Request, Session, Target};
    /// let mut s = Session::connect(&Target::Local)?;
    /// let mut items = Vec::new();
    /// let reply = s.request(Request { stream: true, ..Request::new("iter(range(3))") }, &mut |event| {
    ///     if let Event::Item(v) = event { items.push(v) }
    ///     Ok(())
    /// })?;
    /// assert!(matches!(reply, Reply::StreamEnd(3)) && items.len() == 3);
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn new(code: &'a str) -> Request<'a> {
        Request {
            code,
            file: "<input>",
            mode: Mode::Auto,
            stream: false,
            repl: false,
            if_complete: false,
            stream_bytes: false,
            file_bytes: false,
            undecoded: false,
            splice_items: false,
            truth: false,
            text_forms: false,
            stdin: None,
            stdin_feed: None,
            argv: Vec::new(),
            transfer: None,
            terminal: false,
            pager: false,
            pty: None,
        }
    }
}

/// Which remote stream output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// fd 1
    Stdout,
    /// fd 2
    Stderr,
}

/// Something that happened while a request ran.
pub enum Event<'a> {
    /// The remote code (or a child process) wrote output.
    Output(Stream, &'a [u8]),
    /// A streamed iterator produced an item.
    Item(Value),
    /// The items that arrived together have all been given: a good moment
    /// to flush output.
    Flush,
    /// A chunk of a bytes result (with `Request::stream_bytes`).
    Bytes(&'a [u8]),
    /// A value a `Request::repl` input displays (what CPython's REPL
    /// would print), in order with the output around it.
    Echo(Value),
    /// A `Request::terminal` call reads a line: show `prompt` (the code's
    /// own output before it is already shown), read a line from the user,
    /// without showing it unless `echo`, and put it in `line` with its
    /// newline. Left empty, it is the end of input (EOFError remotely).
    Read {
        /// What to show first (getpass's prompt), often empty.
        prompt: &'a str,
        /// Whether the typed text may be shown.
        echo: bool,
        /// The answer: starts as the end of input; `None` sends no answer
        /// (the caller interrupted the call instead, Ctrl-C).
        line: &'a mut Option<Vec<u8>>,
    },
    /// Text for a pager (`help()` in a `Request::pager` call).
    Page(&'a [u8]),
    /// With `Request::splice_items`: the next streamed item is a bytes
    /// value of `len` bytes. Put an open descriptor in `into` and the bytes
    /// are moved there by the kernel (`splice`, no copy through this
    /// process), then reported as [`Event::Spliced`]; leave it `None` to
    /// get the item as an [`Event::Item`].
    BytesInto {
        /// The item's length.
        len: u64,
        /// Where its bytes go.
        into: &'a mut Option<std::os::fd::RawFd>,
    },
    /// A bytes item of this many bytes went where `BytesInto` said.
    Spliced(u64),
}

/// Whether a REPL input is ready to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// A whole statement: run it.
    Complete,
    /// An open block or bracket: read another line.
    Incomplete,
    /// A syntax error: run it anyway, so the error is shown.
    Invalid,
}

/// How the replies to a request are read (see [`Request`]'s fields).
#[derive(Debug, Clone, Copy, Default)]
struct Replies {
    stream_bytes: bool,
    undecoded: bool,
    splice_items: bool,
}

/// How a request ended.
#[derive(Debug)]
pub enum Reply {
    /// A value (and its truth, if asked).
    Value(Value, Option<bool>),
    /// A value as it arrived (with `Request::undecoded`), and its truth.
    Encoded(Encoded, Option<bool>),
    /// Statements only: nothing to print.
    NoValue,
    /// A streamed iterator finished after this many items.
    StreamEnd(u64),
    /// The code raised.
    Raised(RemoteError),
    /// The code called `sys.exit` with this status.
    Exit(i32),
    /// An `if_complete` request whose code needs more lines (nothing ran).
    Incomplete,
    /// A bytes result of this many bytes went out as `Event::Bytes`.
    BytesStreamed(u64),
}

/// A connection to a remote (or local) Python interpreter running pushy's server.
pub struct Session {
    reader: FrameReader<std::io::Chain<Cursor<Vec<u8>>, File>>,
    writer: Arc<Mutex<FrameWriter<File>>>,
    process: Process,
    stderr: StderrTail,
    info: ServerInfo,
    name: String,
    next_id: u64,
    current: Arc<AtomicU64>,
    closed: bool,
    /// Output that arrived while waiting for a completion or a check (a
    /// background thread printing between REPL calls): delivered, in order,
    /// ahead of the next request's own frames rather than dropped.
    held: std::collections::VecDeque<Frame>,
    /// Payload bytes in `held`; and whether output was dropped since the
    /// queue was last empty.
    held_bytes: usize,
    held_dropped: bool,
    /// The local modules this session serves to imports on the host.
    modules: Option<Arc<LocalModules>>,
    /// What [`crate::RemoteRef`]s share with the session that made them: its
    /// identity, whether it is open, and the ids dropped since the last
    /// request (released ahead of the next one).
    refs: Arc<Owner>,
}

/// Sends interrupts to a session from another thread (a Ctrl-C handler).
#[derive(Clone)]
pub struct Interrupter {
    writer: Arc<Mutex<FrameWriter<File>>>,
    current: Arc<AtomicU64>,
}

impl Interrupter {
    /// Raises KeyboardInterrupt in the running request, if there is one.
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// let mut s = Session::connect(&Target::Local)?;
    /// let stop = s.interrupter();
    /// std::thread::spawn(move || { std::thread::sleep(std::time::Duration::from_millis(300)); stop.interrupt() });
    /// let e = s.eval("time.sleep(30)").unwrap_err();
    /// assert_eq!(e.remote().unwrap().type_name, "KeyboardInterrupt");
    /// assert_eq!(s.eval_as::<i32>("1")?, 1); // the session lives on
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn interrupt(&self) -> Result<()> {
        let id = self.current.load(Ordering::SeqCst);
        if id == 0 {
            return Ok(());
        }
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.send(&ToServer::Interrupt { id }, b"")
    }

    /// The running request's pseudo-terminal (see [`Request::pty`]) has a
    /// new size.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        let id = self.current.load(Ordering::SeqCst);
        if id == 0 {
            return Ok(());
        }
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.send(&ToServer::Winch { id, rows, cols }, b"")
    }

    /// Ends the session's input: the server exits (its watchdog sees to it
    /// even when user code holds the interpreter), and a request waiting
    /// on it returns a lost connection. For code that ignores interrupts.
    pub fn hang_up(&self) {
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).close();
    }
}

impl Session {
    /// Connects with default options.
    ///
    /// ```
    /// use pushy::{Session, Target};
    /// let mut session = Session::connect(&Target::parse("local:")?)?;
    /// let value = session.eval("os.getpid()")?;
    /// println!("{value:?}");
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn connect(target: &Target) -> Result<Session> {
        Session::connect_with(target, &ConnectOptions::default())
    }

    /// Starts the server on `target` and waits until it is ready: finds
    /// an interpreter, goes through sudo when asked (the crate's private `connect` module).
    pub fn connect_with(target: &Target, options: &ConnectOptions) -> Result<Session> {
        crate::connect::connect(target, options)
    }

    /// A session over a channel whose server has just said it is ready;
    /// `leftover` holds the bytes that came after the ready marker (the
    /// first frames). Reads the server's hello.
    pub(crate) fn ready(channel: Channel, leftover: Vec<u8>, name: String) -> Result<Session> {
        let reader = FrameReader::new(Cursor::new(leftover).chain(channel.stdout));
        let mut session = Session {
            reader,
            writer: Arc::new(Mutex::new(FrameWriter::new(channel.stdin))),
            process: channel.process,
            stderr: channel.stderr,
            info: ServerInfo::default(),
            name,
            next_id: 0,
            current: Arc::new(AtomicU64::new(0)),
            closed: false,
            held: Default::default(),
            held_bytes: 0,
            held_dropped: false,
            modules: None,
            refs: Owner::new(),
        };
        session.info = session.read_hello()?;
        Ok(session)
    }

    fn read_hello(&mut self) -> Result<ServerInfo> {
        let frame = self.next_frame()?;
        let FromServer::Hello(hello) = frame.header else {
            return Err(Error::protocol(format!("expected hello from the server, got '{}'", frame.header.kind())));
        };
        if hello.protocol != 1 {
            return Err(Error::protocol(format!("server speaks protocol {}, this pushy speaks 1", hello.protocol)));
        }
        Ok(ServerInfo {
            python: hello.python,
            platform: hello.platform,
            host: hello.host,
            user: hello.user,
            pid: hello.pid,
            executable: hello.executable,
            magic: hello.magic,
        })
    }

    /// What the server reported about itself.
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// let s = Session::connect(&Target::Local)?;
    /// assert!(s.info().python.starts_with("3."));
    /// assert_eq!(s.info().pid, s.info().pid);
    /// assert_eq!(s.name(), "local:");
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// The target's display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A handle that can interrupt running requests from another thread.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter { writer: Arc::clone(&self.writer), current: Arc::clone(&self.current) }
    }

    /// Serves `modules` to the host: from now on, a module that remote code
    /// imports and the host lacks is looked up there (after the host's own:
    /// a standard-library or installed name is never shadowed), and so are
    /// the data files of a package served this way. See
    /// [`crate::local_modules`] for what is served and what is refused.
    pub fn serve_modules(&mut self, modules: Arc<LocalModules>) -> Result<()> {
        if self.modules.is_none() {
            // No reply: the server handles requests in order, so the finder
            // is in place before the next request runs.
            self.next_id += 1;
            self.send(&ToServer::Modules { id: self.next_id })?;
        }
        self.modules = Some(modules);
        Ok(())
    }

    /// Answers a `find` from remote code waiting on an import: wherever
    /// the session reads frames, so whatever request it waits on.
    fn answer_find(&mut self, find: &Find) -> Result<()> {
        let answer = match &self.modules {
            Some(modules) => modules.answer(&self.name, &find.name, find.resource.as_deref()),
            None => Answer::NotFound,
        };
        let bundle = match (&answer, &self.modules) {
            (Answer::Module { package: true, .. }, Some(modules)) => modules.bundle(&self.name, &find.name),
            _ => Vec::new(),
        };
        let mut found = Found { q: find.q, kind: "none", file: None, entries: None, message: None, bundle: Vec::new() };
        let mut joined = Vec::new();
        let payload: &[u8] = match &answer {
            Answer::Module { source, file, package } => {
                found.kind = if *package { "package" } else { "module" };
                found.file = Some(file);
                if bundle.is_empty() {
                    source
                } else {
                    joined.extend_from_slice(source);
                    for (name, sub) in &bundle {
                        if let Answer::Module { source, file, package } = sub {
                            found.bundle.push((name, if *package { "package" } else { "module" }, file, source.len()));
                            joined.extend_from_slice(source);
                        }
                    }
                    &joined
                }
            }
            Answer::Data(bytes) => {
                found.kind = "data";
                bytes
            }
            Answer::Dir(entries) => {
                found.kind = "dir";
                found.entries = Some(entries);
                b""
            }
            Answer::NotFound => b"",
            Answer::Refused(why) => {
                found.kind = "refused";
                found.message = Some(why);
                b""
            }
        };
        let sent = self.writer.lock().unwrap_or_else(|e| e.into_inner()).send(&ToServer::Found(found), payload);
        sent.map_err(|_| self.lost())
    }

    /// Evaluates code; remote output goes to this process's stdout/stderr.
    /// Statements without a trailing expression give `Value::None`.
    ///
    /// ```
    /// # use pushy::{Session, Target, Value};
    /// let mut s = Session::connect(&Target::Local)?;
    /// s.exec("x = 6")?;
    /// assert_eq!(s.eval("x * 7")?, Value::Int(42));
    /// let e = s.eval("1 / 0").unwrap_err();
    /// assert_eq!(e.remote().unwrap().type_name, "ZeroDivisionError");
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn eval(&mut self, code: &str) -> Result<Value> {
        value_of(self.request(Request::new(code), &mut forward_output)?)
    }

    /// Runs statements for their effect.
    pub fn exec(&mut self, code: &str) -> Result<()> {
        self.eval(code).map(|_| ())
    }

    /// Runs one request, reporting output and streamed items to `on_event`
    /// as they arrive. An error from `on_event` abandons the request.
    pub fn request(
        &mut self,
        request: Request<'_>,
        on_event: &mut dyn FnMut(Event<'_>) -> Result<()>,
    ) -> Result<Reply> {
        self.release_dropped()?;
        self.next_id += 1;
        let id = self.next_id;
        let message = match request.transfer {
            Some(Transfer::Get { path, recursive }) => ToServer::Get { id, path, recursive, window: STREAM_WINDOW },
            Some(Transfer::Put { path, preserve }) => ToServer::Put { id, path, preserve },
            None => ToServer::Eval(Eval {
                id,
                code: request.code,
                file: request.file,
                mode: match request.mode {
                    Mode::Auto => "auto",
                    Mode::Run => "run",
                    Mode::Shell => "shell",
                    Mode::Doc => "doc",
                    Mode::Source => "source",
                },
                stream: request.stream,
                window: STREAM_WINDOW,
                repl: request.repl,
                if_complete: request.if_complete,
                truth: request.truth,
                text_forms: request.text_forms,
                file_bytes: request.stream && request.file_bytes,
                stdin: request.stdin.is_some() && request.pty.is_none(),
                argv: &request.argv,
                terminal: request.terminal && request.pty.is_none(),
                pager: request.terminal && request.pager && request.pty.is_none(),
                pty: request.pty.as_ref().map(|size| PtySpec {
                    rows: size.rows,
                    cols: size.cols,
                    term: size.term.as_deref(),
                }),
            }),
        };
        self.send(&message)?;
        self.current.store(id, Ordering::SeqCst);
        let feed =
            request.stdin_feed.or_else(|| request.stdin.map(|input| Box::new(ReadFeed(input)) as Box<dyn crate::Feed>));
        let stdin = feed.map(|input| StdinForwarder::start(input, Arc::clone(&self.writer), id));
        let how = Replies {
            stream_bytes: request.stream_bytes,
            undecoded: request.undecoded,
            splice_items: request.splice_items,
        };
        let result = self.replies(id, on_event, stdin.as_ref(), how);
        self.current.store(0, Ordering::SeqCst);
        if let Some(stdin) = stdin {
            stdin.stop();
        }
        result
    }

    fn replies(
        &mut self,
        id: u64,
        on_event: &mut dyn FnMut(Event<'_>) -> Result<()>,
        stdin: Option<&StdinForwarder>,
        how: Replies,
    ) -> Result<Reply> {
        let Replies { stream_bytes, undecoded, splice_items } = how;
        let mut consumed = 0u64;
        loop {
            let mut streamed = None;
            let mut spliced = None;
            let frame = match self.held.pop_front() {
                Some(frame) => {
                    self.held_bytes -= frame.payload.len();
                    if self.held.is_empty() {
                        self.held_dropped = false;
                    }
                    frame
                }
                None if stream_bytes => {
                    // A bytes value alone goes to the handler as it arrives.
                    let mut is_bytes = |message: &FromServer, len: u64| {
                        let yes = matches!(message, FromServer::Value(v) if v.lone_bytes() == Some(len));
                        if yes {
                            streamed = Some(len);
                        }
                        yes
                    };
                    let mut sink = |chunk: &[u8]| on_event(Event::Bytes(chunk));
                    self.next_frame_streaming(&mut is_bytes, &mut sink)?
                }
                None if splice_items => {
                    // A file's chunk goes where the handler says, unread.
                    let mut failed = None;
                    let mut decide = |message: &FromServer, len: u64| {
                        let FromServer::Items(items) = message else { return Payload::Frame };
                        if items.id != Some(id) || items.lone_bytes(len).is_none() {
                            return Payload::Frame;
                        }
                        let mut into = None;
                        if let Err(e) = on_event(Event::BytesInto { len, into: &mut into }) {
                            failed = Some(e);
                        }
                        match into {
                            Some(fd) if failed.is_none() => {
                                spliced = Some(len);
                                Payload::Into(fd)
                            }
                            _ => Payload::Frame,
                        }
                    };
                    let frame = self.next_frame_moving(&mut decide);
                    if let Some(e) = failed {
                        return Err(e);
                    }
                    frame?
                }
                None => self.next_frame()?,
            };
            let Frame { header, mut payload } = frame;
            if !matches!(header, FromServer::Out(_)) && header.id().is_some_and(|frame_id| frame_id != id) {
                continue; // a late frame of an earlier, abandoned request
            }
            match header {
                FromServer::Out(out) => {
                    let stream = if out.fd == 2 { Stream::Stderr } else { Stream::Stdout };
                    on_event(Event::Output(stream, &payload))?;
                }
                FromServer::Find(find) => self.answer_find(&find)?,
                FromServer::StdinAck(ack) => {
                    if let Some(stdin) = stdin {
                        stdin.acknowledge(ack.n);
                    }
                }
                FromServer::Read(read) => {
                    let mut line = Some(Vec::new());
                    on_event(Event::Read { prompt: &read.prompt, echo: read.echo, line: &mut line })?;
                    if let Some(line) = line {
                        self.send_with(&ToServer::Line { id, n: read.n }, &line)?;
                    }
                }
                FromServer::Page(_) => on_event(Event::Page(&payload))?,
                FromServer::Iter(_) => {}
                FromServer::Echo(tokens) => on_event(Event::Echo(decode_value(&tokens, &mut payload)?))?,
                FromServer::Items(items) => {
                    let before = consumed;
                    if let Some(len) = spliced {
                        on_event(Event::Spliced(len))?;
                        consumed += 1;
                    } else {
                        for value in decode_items(&items, &mut payload)? {
                            on_event(Event::Item(value))?;
                            consumed += 1;
                        }
                    }
                    on_event(Event::Flush)?;
                    // Credit back in halves of the window: few `more` frames.
                    let half = STREAM_WINDOW / 2;
                    if consumed / half != before / half {
                        self.send(&ToServer::More { id, n: (consumed / half - before / half) * half })?;
                    }
                }
                FromServer::Incomplete(_) => return Ok(Reply::Incomplete),
                FromServer::Value(_) if streamed.is_some() => return Ok(Reply::BytesStreamed(streamed.unwrap_or(0))),
                FromServer::Value(tokens) if undecoded => {
                    return Ok(Reply::Encoded(Encoded::new(tokens.v, payload), tokens.truth));
                }
                FromServer::Value(tokens) => {
                    let truth = tokens.truth;
                    return Ok(Reply::Value(decode_value(&tokens, &mut payload)?, truth));
                }
                FromServer::None(_) => return Ok(Reply::NoValue),
                FromServer::End(_) => return Ok(Reply::StreamEnd(consumed)),
                FromServer::Exit(exit) => {
                    return Ok(Reply::Exit(exit.code.clamp(i32::MIN.into(), i32::MAX.into()) as i32))
                }
                FromServer::Error(e) => {
                    return Ok(Reply::Raised(RemoteError {
                        type_name: e.type_name,
                        message: e.message,
                        traceback: e.traceback,
                    }))
                }
                FromServer::Bad(bad) => {
                    return Err(Error::protocol(format!("the server refused a request: {}", bad.message)))
                }
                other => return Err(Error::protocol(format!("unexpected frame '{}'", other.kind()))),
            }
        }
    }

    /// Completion candidates for the text before the cursor: the byte
    /// offset in `text` where the completed word starts, and the
    /// replacements. A completion that takes longer than
    /// [`COMPLETION_BUDGET`] gives no candidates (see
    /// [`complete_within`](Self::complete_within)).
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// let mut s = Session::connect(&Target::Local)?;
    /// let (start, candidates) = s.complete("os.getcw")?;
    /// assert!(start <= 3 && candidates.iter().any(|c| c.contains("getcwd")), "{start} {candidates:?}");
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn complete(&mut self, text: &str) -> Result<(usize, Vec<String>)> {
        Ok(self.complete_within(text, COMPLETION_BUDGET)?.unwrap_or((text.len(), Vec::new())))
    }

    /// Like [`complete`](Self::complete), but `None` when the server has not
    /// answered within `budget`: completion may run an object's `__dir__`,
    /// which can block, and a Tab must never hang the REPL. The remote call
    /// is then interrupted, and its late reply is discarded when it comes.
    /// While it waits, the [`Interrupter`] can cancel it (Ctrl-C).
    pub fn complete_within(&mut self, text: &str, budget: Duration) -> Result<Option<(usize, Vec<String>)>> {
        let deadline = Instant::now() + budget;
        self.release_dropped()?;
        self.next_id += 1;
        let id = self.next_id;
        self.send(&ToServer::Complete { id, text })?;
        self.current.store(id, Ordering::SeqCst);
        let answer = self.answer_by(id, Some(deadline));
        self.current.store(0, Ordering::SeqCst);
        match answer?.map(|frame| frame.header) {
            Some(FromServer::Completions(found)) => {
                // The server counts code points (see `crate::protocol`);
                // rustyline wants bytes, on a char boundary.
                let start = byte_offset(text, found.start.unwrap_or(usize::MAX));
                Ok(Some((start, found.items)))
            }
            Some(other) => Err(Error::protocol(format!("'{}' in answer to a completion", other.kind()))),
            None => {
                // Stop the remote call: the session's next request would
                // otherwise queue behind a `__dir__` that never returns.
                self.send(&ToServer::Interrupt { id })?;
                Ok(None)
            }
        }
    }

    /// The answer to request `id` (its frame), or `None` if it has not come by
    /// `deadline`; output that arrives meanwhile is held for the next
    /// request to report, and late answers to earlier, abandoned requests
    /// are skipped.
    fn answer_by(&mut self, id: u64, deadline: Option<Instant>) -> Result<Option<Frame>> {
        loop {
            if let Some(deadline) = deadline {
                if !self.readable_within(deadline.saturating_duration_since(Instant::now())) {
                    return Ok(None);
                }
            }
            // The server writes each frame whole, so once its first byte is
            // here the rest follows without waiting on remote code.
            let frame = self.next_frame()?;
            match &frame.header {
                FromServer::Out(_) => self.hold(frame),
                FromServer::Find(find) => self.answer_find(find)?,
                FromServer::Bad(bad) if bad.id == Some(id) => {
                    return Err(Error::protocol(format!("the server refused a request: {}", bad.message)))
                }
                answer if answer.id() == Some(id) => return Ok(Some(frame)),
                _ => {}
            }
        }
    }

    /// Whether a frame's first byte is here or arrives within `timeout` (an
    /// end of stream counts: the read that follows reports it).
    fn readable_within(&self, timeout: Duration) -> bool {
        if !self.reader.buffered().is_empty() {
            return true;
        }
        let (leftover, channel) = self.reader.get_ref().get_ref();
        if (leftover.position() as usize) < leftover.get_ref().len() {
            return true;
        }
        let mut fds = [libc::pollfd { fd: channel.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: `fds` is a valid array of one pollfd for the call's duration.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
            if n > 0 {
                return true;
            }
            let interrupted = n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
            if !interrupted || left.is_zero() {
                // A poll error is no reason to block: let the read report it.
                return n < 0 && !interrupted;
            }
        }
    }

    /// Keeps output for the next request to report, up to a bound.
    fn hold(&mut self, frame: Frame) {
        if self.held_bytes + frame.payload.len() <= HELD_OUTPUT_MAX {
            self.held_bytes += frame.payload.len();
            self.held.push_back(frame);
        } else if !self.held_dropped {
            self.held_dropped = true;
            let note = b"[pushy: remote output dropped: more than 4 MiB arrived between calls]\n".to_vec();
            let header = FromServer::Out(Out { id: None, fd: 2 });
            self.held_bytes += note.len();
            self.held.push_back(Frame { header, payload: note });
        }
    }

    /// Whether `code` is a complete input by CPython's interactive rule
    /// (`codeop`): what the REPL asks before it runs a line or continues.
    ///
    /// ```
    /// # use pushy::{Completeness, Session, Target};
    /// let mut s = Session::connect(&Target::Local)?;
    /// assert_eq!(s.check("for i in x:")?, Completeness::Incomplete);
    /// assert_eq!(s.check("1 +")?, Completeness::Invalid);
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn check(&mut self, code: &str) -> Result<Completeness> {
        self.release_dropped()?;
        self.next_id += 1;
        let id = self.next_id;
        self.send(&ToServer::Check { id, code })?;
        match self.answer_by(id, None)?.map(|frame| frame.header) {
            Some(FromServer::Checked(checked)) => Ok(match checked.status.as_str() {
                "complete" => Completeness::Complete,
                "incomplete" => Completeness::Incomplete,
                _ => Completeness::Invalid,
            }),
            other => Err(Error::protocol(format!(
                "'{}' in answer to a check",
                other.as_ref().map_or("nothing", FromServer::kind)
            ))),
        }
    }

    /// The running program compiled, for the code cache
    /// ([`crate::connect`]): zlib-compressed marshal data, at most `limit`
    /// bytes. `None` when the server has none to give, or does not answer
    /// within a few seconds (a late answer is then skipped as any stray); an
    /// error when it refuses the request.
    pub(crate) fn program_blob(&mut self, limit: usize, raw: bool) -> Result<Option<Vec<u8>>> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&ToServer::Code { id, raw })?;
        match self.answer_by(id, Some(Instant::now() + Duration::from_secs(5)))? {
            Some(Frame { header: FromServer::Code(_), payload }) => {
                Ok((!payload.is_empty() && payload.len() <= limit).then_some(payload))
            }
            _ => Ok(None),
        }
    }

    fn send(&mut self, header: &ToServer<'_>) -> Result<()> {
        self.send_with(header, b"")
    }

    fn send_with(&mut self, header: &ToServer<'_>, payload: &[u8]) -> Result<()> {
        let sent = self.writer.lock().unwrap_or_else(|e| e.into_inner()).send(header, payload);
        sent.map_err(|_| self.lost())
    }

    /// Sends the ids of the [`crate::RemoteRef`]s dropped since the last
    /// request, in one frame ahead of the next request: a drop itself never
    /// writes (it may happen anywhere, even while a request runs).
    fn release_dropped(&mut self) -> Result<()> {
        let ids = self.refs.take_released();
        if ids.is_empty() {
            return Ok(());
        }
        self.send(&ToServer::Release { refs: &ids })
    }

    /// What [`crate::RemoteRef`]s of this session share with it.
    pub(crate) fn owner(&self) -> &Arc<Owner> {
        &self.refs
    }

    /// Runs a `ref` request (see [`crate::remote`]), with the arguments'
    /// bytes as its payload: its value, or the remote exception as an error.
    pub(crate) fn ref_request(&mut self, request: RefRequest<'_>, payload: &[u8]) -> Result<Value> {
        self.release_dropped()?;
        self.next_id += 1;
        let id = self.next_id;
        self.send_with(&ToServer::Ref(RefRequest { id, ..request }), payload)?;
        self.current.store(id, Ordering::SeqCst);
        let reply = self.replies(id, &mut forward_output, None, Replies::default());
        self.current.store(0, Ordering::SeqCst);
        value_of(reply?)
    }

    fn next_frame(&mut self) -> Result<Frame> {
        self.next_frame_streaming(&mut |_, _| false, &mut |_| Ok(()))
    }

    fn next_frame_moving(&mut self, decide: &mut dyn FnMut(&FromServer, u64) -> Payload) -> Result<Frame> {
        match self.reader.read_or_move(decide, &mut |_| Ok(())) {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => Err(self.lost()),
            Err(e) if e.kind() == ErrorKind::Disconnected => Err(self.lost()),
            Err(e) => Err(e),
        }
    }

    fn next_frame_streaming(
        &mut self,
        stream: &mut dyn FnMut(&FromServer, u64) -> bool,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Frame> {
        // The handler's own failure (stdout full) is its error, not a lost
        // connection: keep it apart from the reader's.
        let mut failed = None;
        let read = self.reader.read_or_stream(stream, &mut |chunk| {
            sink(chunk).map_err(|e| {
                failed = Some(e);
                Error::new(ErrorKind::Io, "the output handler failed")
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        match read {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => Err(self.lost()),
            // A read error, or the stream ending inside a frame: the channel
            // went away, and how the interpreter ended says why.
            Err(e) if matches!(e.kind(), ErrorKind::Io | ErrorKind::Disconnected) => Err(self.lost()),
            Err(e) => Err(e),
        }
    }

    /// The error for a channel that ended: how the interpreter exited, and
    /// its last words on stderr if any.
    fn lost(&mut self) -> Error {
        // The status arrives just after the channel's end of file.
        let status = self.process.wait_timeout(Duration::from_secs(2));
        let stderr = self.stderr.text(Duration::from_millis(200));
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).map(str::trim);
        let mut message = match status {
            Some(transport::KILLED_BY_SIGNAL) => {
                format!("the remote interpreter on {} was killed by signal (ssh does not say which)", self.name)
            }
            Some(code) if code > 128 && code < 160 => {
                format!("the remote interpreter on {} was killed by signal {}", self.name, code - 128)
            }
            Some(code) => format!("the remote interpreter on {} exited with status {code}", self.name),
            None => format!("lost the connection to {}", self.name),
        };
        if let Some(last) = last {
            message.push_str(&format!(": {last}"));
        }
        Error::new(ErrorKind::Disconnected, message)
    }

    /// Ends the session: the server exits, and a master this session
    /// started for itself alone is stopped.
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// let s = Session::connect(&Target::Local)?;
    /// s.close()?;
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn close(mut self) -> Result<()> {
        self.shutdown();
        Ok(())
    }

    fn shutdown(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.refs.close();
        // End of input is the server's signal to exit, even in the middle of
        // a call (a `| head` that stopped reading): no request is needed.
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).close();
        let _ = self.process.wait_timeout(Duration::from_secs(1));
        self.process.finish();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Session identities, unique in this process: a ref knows its own.
static SESSIONS: AtomicU64 = AtomicU64::new(1);

/// What a session shares with its [`crate::RemoteRef`]s.
#[derive(Debug)]
pub(crate) struct Owner {
    session: u64,
    open: AtomicBool,
    released: Mutex<Vec<u64>>,
}

impl Owner {
    pub(crate) fn new() -> Arc<Owner> {
        Arc::new(Owner {
            session: SESSIONS.fetch_add(1, Ordering::Relaxed),
            open: AtomicBool::new(true),
            released: Mutex::new(Vec::new()),
        })
    }

    /// This session's identity.
    pub(crate) fn session(&self) -> u64 {
        self.session
    }

    /// Whether the session is open.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// A ref was dropped: its id goes with the next request.
    pub(crate) fn release(&self, id: u64) {
        if self.is_open() {
            self.released.lock().unwrap_or_else(|e| e.into_inner()).push(id);
        }
    }

    /// The ids dropped since the last call.
    pub(crate) fn take_released(&self) -> Vec<u64> {
        std::mem::take(&mut *self.released.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The session closed: its refs refer to nothing any more.
    pub(crate) fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.released.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The value a reply gives, as [`Session::eval`] returns it.
fn value_of(reply: Reply) -> Result<Value> {
    match reply {
        Reply::Value(v, _) => Ok(v),
        Reply::Encoded(v, _) => v.decode(),
        Reply::NoValue | Reply::StreamEnd(_) | Reply::Incomplete | Reply::BytesStreamed(_) => Ok(Value::None),
        Reply::Raised(e) => Err(Error::from_remote(e)),
        Reply::Exit(code) => Err(Error::new(ErrorKind::Remote, format!("the code called sys.exit({code})"))),
    }
}

/// The values of an `items` frame, each with its slice of the payload.
fn decode_items(items: &Items, payload: &mut Vec<u8>) -> Result<Vec<Value>> {
    let lists: Vec<&RawValue> =
        serde_json::from_str(items.v.get()).map_err(|e| Error::protocol(format!("bad items frame: {e}")))?;
    if items.sizes.len() != lists.len() {
        return Err(Error::protocol("items frame: values and sizes disagree"));
    }
    // One bytes item alone (a chunk of a file `pushy cp` fetches) takes the
    // payload as it is: no copy of a MiB per chunk.
    if let ([tokens], [size]) = (lists.as_slice(), items.sizes.as_slice()) {
        let whole = payload.len() as u64;
        if *size as u64 == whole && crate::protocol::message::lone_bytes(tokens.get()) == Some(whole) {
            return Ok(vec![Value::Bytes(std::mem::take(payload))]);
        }
    }
    let mut at = 0usize;
    let mut values = Vec::with_capacity(lists.len());
    for (tokens, size) in lists.into_iter().zip(&items.sizes) {
        let payload = at
            .checked_add(*size)
            .and_then(|end| payload.get(at..end))
            .ok_or_else(|| Error::protocol("items frame: sizes exceed the payload"))?;
        values.push(value::decode(tokens, payload)?);
        at += size;
    }
    Ok(values)
}

fn decode_value(tokens: &ValueTokens, payload: &mut Vec<u8>) -> Result<Value> {
    // A bytes value alone (a file's contents) takes the payload as it is:
    // no copy of what may be hundreds of MiB.
    if tokens.lone_bytes() == Some(payload.len() as u64) {
        return Ok(Value::Bytes(std::mem::take(payload)));
    }
    value::decode(&tokens.v, payload)
}

/// The byte offset of the `chars`-th code point of `text` (the server's unit
/// for offsets), clamped to the text's end: always a char boundary, so the
/// line editor can slice there whatever the server sent.
pub(crate) fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(at, _)| at)
}

/// Writes remote output to this process's own stdout and stderr.
pub fn forward_output(event: Event<'_>) -> Result<()> {
    if let Event::Output(stream, bytes) = event {
        match stream {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()?;
            }
            Stream::Stderr => std::io::stderr().lock().write_all(bytes)?,
        }
    }
    Ok(())
}

/// The session alone, over two pipes, with a thread playing the server:
/// no interpreter, no ssh.
#[cfg(test)]
mod over_pipes {
    use std::os::fd::OwnedFd;

    use serde_json::json;

    use super::*;
    use crate::protocol::tests::raw;

    /// A channel whose other end is `serve`, run on a thread with the
    /// server's input and its frame writer.
    fn channel(serve: impl FnOnce(File, FrameWriter<File>) + Send + 'static) -> Channel {
        let (from_server, server_out) = std::io::pipe().unwrap();
        let (server_in, to_server) = std::io::pipe().unwrap();
        let (server_in, server_out) = (File::from(OwnedFd::from(server_in)), File::from(OwnedFd::from(server_out)));
        std::thread::spawn(move || serve(server_in, FrameWriter::new(server_out)));
        Channel {
            stdin: File::from(OwnedFd::from(to_server)),
            stdout: File::from(OwnedFd::from(from_server)),
            stderr: StderrTail::default(),
            process: Process::Unowned,
        }
    }

    /// The header of the next request, as the server reads it.
    fn request_header(input: &mut File) -> Option<serde_json::Value> {
        let mut prefix = [0u8; 8];
        input.read_exact(&mut prefix).ok()?;
        let mut header = vec![0u8; u32::from_be_bytes(prefix[..4].try_into().unwrap()) as usize];
        input.read_exact(&mut header).ok()?;
        let mut payload = vec![0u8; u32::from_be_bytes(prefix[4..].try_into().unwrap()) as usize];
        input.read_exact(&mut payload).ok()?;
        serde_json::from_slice(&header).ok()
    }

    fn hello() -> Box<RawValue> {
        raw(r#"{"k": "hello", "protocol": 1, "python": "3.99.0", "host": "pipes", "user": "me", "pid": 7}"#)
    }

    #[test]
    fn a_request_and_its_reply_with_output_in_between() {
        let channel = channel(|mut input, mut writer| {
            writer.send(&hello(), b"").unwrap();
            let request = request_header(&mut input).unwrap();
            assert_eq!((&request["k"], &request["code"]), (&json!("eval"), &json!("6 * 7")));
            let id = request["id"].as_u64().unwrap();
            writer.send(&raw(&format!(r#"{{"k": "out", "id": {id}, "fd": 1}}"#)), b"printed\n").unwrap();
            let value = format!(r#"{{"k": "value", "id": {id}, "v": [["l", 2], 42, ["b", 0, 2]]}}"#);
            writer.send(&raw(&value), b"hi").unwrap();
        });
        let mut session = Session::ready(channel, Vec::new(), "pipes".into()).unwrap();
        assert_eq!((session.info().python.as_str(), session.info().pid), ("3.99.0", 7));
        let mut output = Vec::new();
        let reply = session
            .request(Request::new("6 * 7"), &mut |event| {
                if let Event::Output(Stream::Stdout, bytes) = event {
                    output.extend_from_slice(bytes);
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(output, b"printed\n");
        let want = Value::Seq(value::SeqKind::List, vec![Value::Int(42), Value::Bytes(b"hi".to_vec())], None);
        assert!(matches!(reply, Reply::Value(v, None) if v == want));
    }

    #[test]
    fn finds_are_answered_wherever_the_session_waits() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("helper.py"), "X = 1\n").unwrap();
        let channel = channel(|mut input, mut writer| {
            writer.send(&hello(), b"").unwrap();
            assert_eq!(request_header(&mut input).unwrap()["k"], json!("modules"));
            // During a completion, then during an eval: the remote code
            // waits on its import until the client answers.
            for (kind, reply) in [("complete", r#""k": "completions", "items": []"#), ("eval", r#""k": "none""#)] {
                let request = request_header(&mut input).unwrap();
                assert_eq!(request["k"], json!(kind));
                for (q, name) in [(1, "helper"), (2, "../helper")] {
                    writer.send(&raw(&format!(r#"{{"k": "find", "q": {q}, "name": "{name}"}}"#)), b"").unwrap();
                    let found = request_header(&mut input).unwrap();
                    assert_eq!(found["q"], json!(q));
                    assert_eq!(found["kind"], json!(if q == 1 { "module" } else { "refused" }), "{found}");
                }
                let id = request["id"].as_u64().unwrap();
                writer.send(&raw(&format!(r#"{{{reply}, "id": {id}}}"#)), b"").unwrap();
            }
        });
        let mut session = Session::ready(channel, Vec::new(), "pipes".into()).unwrap();
        session.serve_modules(Arc::new(LocalModules::new([dir.path().to_path_buf()]))).unwrap();
        assert_eq!(session.complete("hel").unwrap().1, Vec::<String>::new());
        assert!(matches!(session.request(Request::new("import helper"), &mut |_| Ok(())), Ok(Reply::NoValue)));
    }

    #[test]
    fn a_server_that_goes_away_is_a_lost_connection() {
        let channel = channel(|mut input, mut writer| {
            writer.send(&hello(), b"").unwrap();
            let _ = request_header(&mut input); // then hang up
        });
        let mut session = Session::ready(channel, Vec::new(), "pipes".into()).unwrap();
        let error = session.eval("1").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Disconnected, "{error}");
    }

    #[test]
    fn anything_but_a_hello_first_is_refused() {
        let channel = channel(|_, mut writer| {
            writer.send(&raw(r#"{"k": "value", "v": [1]}"#), b"").unwrap();
        });
        let error = Session::ready(channel, Vec::new(), "pipes".into()).err().unwrap();
        assert_eq!(error.kind(), ErrorKind::Protocol, "{error}");
    }
}

/// Property tests for the offset conversion: lines mixing scripts, combining
/// marks, emoji and bidirectional controls.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::byte_offset;

    fn unicode_char() -> impl Strategy<Value = char> {
        prop_oneof![
            proptest::char::range(' ', '~'),
            proptest::char::range('\u{300}', '\u{36f}'),   // combining marks
            proptest::char::range('\u{4e00}', '\u{9fff}'), // CJK
            proptest::char::range('\u{590}', '\u{6ff}'),   // Hebrew, Arabic (RTL)
            proptest::sample::select(vec!['\u{200f}', '\u{202e}', '\u{200d}', '\u{fe0f}']), // RLM, RLO, ZWJ, VS16
            proptest::char::range('\u{1f300}', '\u{1faff}'), // emoji
            any::<char>(),
        ]
    }

    proptest! {
        #[test]
        fn code_points_become_char_boundaries(
            chars in proptest::collection::vec(unicode_char(), 0..40),
            n in 0usize..60,
        ) {
            let text: String = chars.iter().collect();
            let at = byte_offset(&text, n);
            prop_assert!(text.is_char_boundary(at));
            prop_assert_eq!(at, chars.iter().take(n).map(|c| c.len_utf8()).sum::<usize>());
            // Python's index of the same place round-trips.
            prop_assert_eq!(byte_offset(&text, text[..at].chars().count()), at);
        }
    }
}
