//! `pushy exec HOST CODE`: one evaluation, printed for a person or a script.

use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pushy::printer::{json, Format, ItemEnd, Pretty, Printer};
use pushy::{ConnectOptions, Error, ErrorKind, Mode, Reply, Request, Session, Target};

use crate::cli::{ColorChoice, ConnArgs, ExecArgs, OutputArgs, RunArgs};
use crate::exit_code::ExitCode;
use crate::fanout;
use crate::interrupt::CtrlC;
use crate::output::{self, Sink};
use crate::terminal;

/// What to run, independent of where: the parts of a request a front end
/// decides from its flags.
pub struct Job {
    pub code: String,
    pub file: String,
    pub mode: Mode,
    pub argv: Vec<String>,
    /// `--test`: no output, the value's truth is the status.
    pub test: bool,
    pub timeout: Option<f64>,
    /// Local stdin was consumed for the code itself and must not be forwarded.
    pub stdin_used: bool,
    /// `--json`: standard types come as their text (see `Request::text_forms`).
    pub text_forms: bool,
}

/// Runs `pushy exec`.
pub fn run(args: ExecArgs, color: ColorChoice) -> pushy::Result<ExitCode> {
    let (code, file, stdin_used) = load_code(&args)?;
    let printer = printer(&args.output, color);
    let job = Job {
        code,
        file,
        mode: Mode::Auto,
        argv: Vec::new(),
        test: args.test,
        timeout: args.timeout,
        stdin_used,
        text_forms: printer.format == Format::Json,
    };
    let (mut targets, many) = args.conn.targets(&args.host)?;
    crate::password::set_hosts(targets.len());
    if many {
        return fanout::run(targets, &args.conn.options(), &job, &printer, args.forks, args.collapse);
    }
    let (_, target) = targets.remove(0);
    execute(&target, &args.conn.options(), &job, &printer, args.conn.verbose)
}

/// Runs `pushy run HOST SCRIPT ARGS...`: a local script as the remote `__main__`.
pub fn run_script(args: RunArgs, color: ColorChoice) -> pushy::Result<ExitCode> {
    let code = std::fs::read_to_string(&args.script).map_err(|e| {
        Error::new(ErrorKind::Usage, format!("cannot read {}: {e}", args.script.display()))
            .with_hint("pushy run takes a local script file")
    })?;
    let file = args.script.display().to_string();
    let mut argv = vec![file.clone()];
    argv.extend(args.args.iter().cloned());
    let job = Job {
        code,
        file,
        mode: Mode::Run,
        argv,
        test: false,
        timeout: args.timeout,
        stdin_used: false,
        text_forms: false,
    };
    let target = single(&args.conn, &args.host)?;
    execute(&target, &args.conn.options(), &job, &printer(&OutputArgs::default(), color), args.conn.verbose)
}

/// The one target a front end that takes one host was given.
pub fn single(conn: &ConnArgs, spec: &str) -> pushy::Result<Target> {
    let (mut targets, many) = conn.targets(spec)?;
    if many {
        return Err(Error::new(ErrorKind::Usage, format!("{spec:?} names {} hosts; this takes one", targets.len()))
            .with_hint("many hosts work with `pushy exec`"));
    }
    Ok(targets.remove(0).1)
}

/// `-v`: which interpreter runs where, as whom.
pub fn describe(session: &Session) {
    let info = session.info();
    eprintln!(
        "pushy: {} runs Python {} ({}) as {} on {}",
        session.name(),
        info.python,
        info.executable,
        info.user,
        info.host
    );
}

/// The printer the output flags ask for.
pub fn printer(output: &OutputArgs, color: ColorChoice) -> Printer {
    let format = if output.json {
        Format::Json
    } else if output.raw || output.null {
        Format::Raw
    } else {
        Format::Pretty
    };
    let item_end = if output.null { ItemEnd::Nul } else { ItemEnd::Newline };
    Printer { format, pretty: Pretty { width: terminal::width(), color: terminal::stdout_color(color) }, item_end }
}

/// One job on one host, its output streamed to ours as it comes.
fn execute(
    target: &Target,
    options: &ConnectOptions,
    job: &Job,
    printer: &Printer,
    verbose: bool,
) -> pushy::Result<ExitCode> {
    let ctrl_c = CtrlC::install();
    let mut session = Session::connect_with(target, options)?;
    if verbose {
        describe(&session);
    }
    ctrl_c.attach(session.interrupter());
    let timed_out = Arc::new(AtomicBool::new(false));
    if let Some(secs) = job.timeout {
        arm_timeout(&session, secs, Arc::clone(&timed_out))?;
    }

    let forward_stdin = !job.stdin_used && !std::io::stdin().is_terminal() && !stdin_is_dev_null();
    let request = Request {
        file: &job.file,
        mode: job.mode,
        argv: job.argv.clone(),
        stream: true,
        truth: job.test,
        text_forms: job.text_forms,
        // --raw writes a bytes result as it arrives: no copy held in memory.
        stream_bytes: printer.format == Format::Raw && !job.test,
        stdin: forward_stdin.then(|| Box::new(std::io::stdin()) as Box<dyn Read + Send>),
        ..Request::new(&job.code)
    };
    // Under --json stdout carries JSON only: remote output goes to stderr.
    let mut sink = Sink::new(printer, job.test);
    let reply = session.request(request, &mut |event| sink.event(event));
    let reply = match reply {
        Err(_) if output::stdout_closed() => return Ok(ExitCode::Success), // `| head`: end quietly
        other => other?,
    };
    let status = match reply {
        Reply::Value(value, truth) => {
            if job.test {
                if truth.unwrap_or(false) {
                    ExitCode::Success
                } else {
                    ExitCode::Raised
                }
            } else {
                let mut out = std::io::stdout().lock();
                match output::checked(printer.write_value(&value, &mut out).and_then(|_| out.flush())) {
                    Err(_) if output::stdout_closed() => return Ok(ExitCode::Success), // `| head`
                    other => other?,
                }
                ExitCode::Success
            }
        }
        Reply::NoValue if printer.format == Format::Json && !job.test && job.mode == Mode::Auto => {
            // Statements: `null`, so a script always reads one document.
            output::write_stdout(b"null\n")?;
            ExitCode::Success
        }
        Reply::NoValue | Reply::StreamEnd(_) | Reply::Incomplete => ExitCode::Success,
        Reply::BytesStreamed(_) => {
            match output::checked(std::io::stdout().flush()) {
                Err(_) if output::stdout_closed() => return Ok(ExitCode::Success), // `| head`
                other => other?,
            }
            ExitCode::Success
        }
        Reply::Exit(code) => ExitCode::Exit(code.clamp(0, 255) as u8),
        Reply::Raised(error) => {
            if timed_out.load(Ordering::SeqCst) {
                // Our own interrupt, not the user's error: no traceback.
                eprintln!("pushy: timed out after {} s", seconds(job.timeout.unwrap_or(0.0)));
                ExitCode::Timeout
            } else {
                let _ = std::io::stderr().write_all(error.traceback.as_bytes());
                if printer.format == Format::Json && !job.test {
                    output::write_stdout(json::error_record(&error).as_bytes())?;
                }
                if error.type_name == "KeyboardInterrupt" && ctrl_c.fired() {
                    ExitCode::Interrupted
                } else {
                    ExitCode::Raised
                }
            }
        }
    };
    session.close()?;
    Ok(status)
}

/// `2`, `0.5`: seconds as the user wrote them.
fn seconds(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{secs:.0}")
    } else {
        secs.to_string()
    }
}

/// The code, the file name tracebacks show, and whether stdin was read for it.
fn load_code(args: &ExecArgs) -> pushy::Result<(String, String, bool)> {
    if let Some(path) = &args.file {
        let code = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot read {}: {e}", path.display())))?;
        return Ok((code, path.display().to_string(), false));
    }
    match args.code.as_deref() {
        Some("-") => {
            let mut code = String::new();
            std::io::stdin()
                .read_to_string(&mut code)
                .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot read code from stdin: {e}")))?;
            Ok((code, "<stdin>".into(), true))
        }
        Some(code) => Ok((code.to_string(), "<input>".into(), false)),
        None => Err(Error::new(ErrorKind::Usage, "no code given").with_hint("pass CODE, `-` or -f FILE")),
    }
}

/// `< /dev/null` (cron, CI, `ssh -n` habits): nothing to forward, and not
/// forwarding saves the remote side its stdin machinery.
fn stdin_is_dev_null() -> bool {
    use std::os::unix::fs::MetadataExt;
    let null = std::fs::metadata("/dev/null");
    let stdin = std::fs::File::options().read(true).open("/dev/stdin").and_then(|f| f.metadata());
    matches!((null, stdin), (Ok(n), Ok(s)) if n.rdev() == s.rdev() && n.dev() == s.dev() && n.ino() == s.ino())
}

/// Interrupts the request when the time is up.
fn arm_timeout(session: &Session, secs: f64, fired: Arc<AtomicBool>) -> pushy::Result<()> {
    if !(secs.is_finite() && secs > 0.0) {
        return Err(Error::new(ErrorKind::Usage, format!("bad --timeout {secs}"))
            .with_hint("give a positive number of seconds"));
    }
    let interrupter = session.interrupter();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(secs));
        fired.store(true, Ordering::SeqCst);
        let _ = interrupter.interrupt();
        // A call that ignores KeyboardInterrupt still ends, a little later.
        std::thread::sleep(Duration::from_secs(5));
        eprintln!("pushy: the code did not stop within 5 s of the timeout");
        std::process::exit(i32::from(ExitCode::Timeout.code()));
    });
    Ok(())
}
