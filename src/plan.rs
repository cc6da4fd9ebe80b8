//! What the user asked for, resolved once: the command line (`cli`) turned
//! into the objects that do the work, as ripgrep's `HiArgs` does. Targets,
//! connection options, the printer, the job and the fleet settings are
//! decided here and nowhere else; the front ends (`exec`, `fanout`, `repl`,
//! `copy`) read a plan and never see a flag.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pushy::local_modules::Served;
use pushy::printer::{Format, ItemEnd, Pretty, Printer};
use pushy::{ConnectOptions, Error, ErrorKind, LocalModules, Mode, PasswordSource, Reuse, Target};

use crate::cli::{
    Cli, ColorChoice, Command, ConnArgs, CpArgs, ExecArgs, FleetArgs, Generate, OutputArgs, PathArgs, RunArgs,
};
use crate::terminal;

/// One run of pushy.
pub enum Plan {
    /// `--generate`: completions or the man page.
    Generate(Generate),
    /// `pushy HOST`: the REPL.
    Repl(Repl),
    /// `pushy exec` and `pushy run`: a job on one host or many.
    Job(JobPlan),
    /// `pushy cp`.
    Copy(CopyPlan),
    /// `pushy disconnect`: the masters to stop.
    Disconnect(Vec<Target>),
    /// `--list-hosts`: the selection's labels, to print.
    ListHosts(Vec<String>),
    /// `--complete-hosts`: names for the shell completions, to print.
    CompleteHosts(Vec<String>),
}

/// The REPL's plan.
pub struct Repl {
    pub target: Target,
    pub connect: ConnectOptions,
    pub printer: Printer,
    pub verbose: bool,
    pub modules: Arc<LocalModules>,
    /// `-t`: each input runs on a remote pty fed by our terminal.
    pub tty: bool,
}

/// A job and where it runs.
pub struct JobPlan {
    /// Each host's label and target, in the order given.
    pub targets: Vec<(String, Target)>,
    /// Per host, where an inventory says otherwise than the flags (its
    /// interpreter, become): the options for that host.
    pub host_connect: Vec<Option<ConnectOptions>>,
    /// Many hosts (a list, a file, a group), even if it names one.
    pub many: bool,
    pub connect: ConnectOptions,
    pub printer: Printer,
    pub job: Job,
    pub fleet: Fleet,
}

/// What runs on each host, whatever the host.
#[derive(Clone)]
pub struct Job {
    pub code: String,
    /// The file name tracebacks show.
    pub file: String,
    pub mode: Mode,
    /// `sys.argv` for a script.
    pub argv: Vec<String>,
    /// `--test`: no output, the value's truth is the status.
    pub test: bool,
    /// `--timeout`, per host.
    pub timeout: Option<Duration>,
    /// What the remote `sys.stdin` reads.
    pub stdin: StdinSource,
    /// `--raw`: a bytes result streams to stdout as it arrives.
    pub stream_bytes: bool,
    /// `--raw` without `-0`: a binary file result prints its bytes as cat
    /// would (with `-0` each of its lines is an item ended by NUL).
    pub file_bytes: bool,
    /// `--json`: standard types come as their text.
    pub text_forms: bool,
    /// `-v`: say which interpreter ran, as whom.
    pub verbose: bool,
    /// What the host may import from here.
    pub modules: Arc<LocalModules>,
    /// `-t`: the code runs on a remote pseudo-terminal fed by ours.
    pub tty: bool,
}

/// Where a job's remote `sys.stdin` comes from.
#[derive(Clone)]
pub enum StdinSource {
    /// Nothing (`/dev/null` there): a terminal, `< /dev/null`, or stdin was
    /// read for the code or the host list.
    Nothing,
    /// This process's stdin, as it comes (one host).
    Forwarded,
    /// This process's stdin, read once and sent to every host.
    Copied(Arc<Vec<u8>>),
    /// Our stdin is a terminal (one host): the code reads a line from it
    /// when it asks for one (`input()`, `getpass` without echo).
    Terminal,
}

/// How many hosts run at once, and how their results print.
#[derive(Clone)]
pub struct Fleet {
    pub forks: usize,
    pub collapse: bool,
    /// Print in the order given, not as hosts finish.
    pub ordered: bool,
    /// No progress line or summary.
    pub quiet: bool,
    /// Where to write the hosts that did not end well.
    pub failed_file: Option<std::path::PathBuf>,
}

/// `pushy cp`'s plan.
pub struct CopyPlan {
    /// Each host's label and target; with many, a download goes to
    /// `LOCAL/LABEL/`, an upload to each.
    pub targets: Vec<(String, Target)>,
    pub many: bool,
    pub connect: ConnectOptions,
    pub remote: String,
    pub local: String,
    pub download: bool,
    pub recursive: bool,
    pub preserve: bool,
    pub quiet: bool,
}

impl JobPlan {
    /// The connection options for the host at `index`.
    pub fn connect_for(&self, index: usize) -> &ConnectOptions {
        self.host_connect.get(index).and_then(Option::as_ref).unwrap_or(&self.connect)
    }
}

impl Plan {
    /// Resolves the parsed command line.
    pub fn from_cli(cli: Cli) -> pushy::Result<Plan> {
        if let Some(kind) = cli.generate {
            return Ok(Plan::Generate(kind));
        }
        if cli.complete_hosts {
            return Ok(Plan::CompleteHosts(crate::hosts::completions(
                cli.conn.ssh_config.as_deref(),
                cli.conn.inventory.as_deref(),
            )));
        }
        let color = cli.color;
        match cli.command {
            Some(Command::Exec(args)) if args.list_hosts => {
                Ok(Plan::ListHosts(targets(&args.conn, &args.host)?.0.into_iter().map(|(label, _)| label).collect()))
            }
            Some(Command::Exec(args)) => exec(args, color).map(Plan::Job),
            Some(Command::Run(args)) => run(args, color).map(Plan::Job),
            Some(Command::Cp(args)) => copy(args).map(Plan::Copy),
            Some(Command::Disconnect(args)) => {
                let mut targets = Vec::new();
                for spec in &args.hosts {
                    for host in crate::hosts::expand(spec)? {
                        targets.push(target(&args.conn, &host)?);
                    }
                }
                Ok(Plan::Disconnect(targets))
            }
            None => {
                let host = cli
                    .host
                    .ok_or_else(|| Error::new(ErrorKind::Usage, "no host given").with_hint("try `pushy local:`"))?;
                let mut connect = options(&cli.conn);
                // Use a master an earlier pushy left; one started for the
                // REPL ends with it.
                if connect.reuse == Reuse::Keep {
                    connect.reuse = Reuse::Attach;
                }
                let printer = printer(&OutputArgs::default(), color, false);
                let modules = local_modules(".".into(), &cli.paths, cli.conn.verbose)?;
                Ok(Plan::Repl(Repl {
                    target: single(&cli.conn, &host)?,
                    connect,
                    printer,
                    verbose: cli.conn.verbose,
                    modules,
                    tty: tty(cli.tty, false, false)?,
                }))
            }
        }
    }
}

fn exec(args: ExecArgs, color: ColorChoice) -> pushy::Result<JobPlan> {
    let (code, file, code_from_stdin) = load_code(&args)?;
    let (targets, host_connect, many) = hosts(&args.conn, &args.host)?;
    let stdin_used = code_from_stdin || args.host.split(',').any(|part| part.trim() == "@-");
    crate::password::set_hosts(targets.len());
    let printer = printer(&args.output, color, many);
    let stream_bytes = printer.format == Format::Raw && !args.test && !many;
    let job = Job {
        code,
        file,
        mode: Mode::Auto,
        argv: Vec::new(),
        test: args.test,
        timeout: timeout(args.timeout)?,
        stdin: stdin_source(stdin_used, many)?,
        stream_bytes,
        file_bytes: stream_bytes && printer.item_end == ItemEnd::Newline,
        text_forms: printer.format == Format::Json,
        verbose: args.conn.verbose,
        modules: local_modules(".".into(), &args.paths, args.conn.verbose)?,
        tty: tty(args.tty, many, code_from_stdin)?,
    };
    Ok(JobPlan { targets, host_connect, many, connect: options(&args.conn), printer, job, fleet: fleet(&args.fleet) })
}

fn run(args: RunArgs, color: ColorChoice) -> pushy::Result<JobPlan> {
    let code = std::fs::read_to_string(&args.script).map_err(|e| {
        Error::new(ErrorKind::Usage, format!("cannot read {}: {e}", args.script.display()))
            .with_hint("pushy run takes a local script file")
    })?;
    let file = args.script.display().to_string();
    let mut argv = vec![file.clone()];
    argv.extend(args.args.iter().cloned());
    let (targets, host_connect, many) = hosts(&args.conn, &args.host)?;
    crate::password::set_hosts(targets.len());
    let stdin_used = args.host.split(',').any(|part| part.trim() == "@-");
    let job = Job {
        code,
        file,
        mode: Mode::Run,
        argv,
        test: false,
        timeout: timeout(args.timeout)?,
        stdin: stdin_source(stdin_used, many)?,
        stream_bytes: false,
        file_bytes: false,
        text_forms: false,
        tty: false,
        verbose: args.conn.verbose,
        modules: local_modules(script_dir(&args.script), &args.paths, args.conn.verbose)?,
    };
    Ok(JobPlan {
        targets,
        host_connect,
        many,
        connect: options(&args.conn),
        printer: printer(&OutputArgs::default(), color, many),
        job,
        fleet: fleet(&args.fleet),
    })
}

fn copy(args: CpArgs) -> pushy::Result<CopyPlan> {
    let (host, remote, local, download) = match (remote_operand(&args.source), remote_operand(&args.dest)) {
        (Some((host, path)), None) => (host, path, args.dest.as_str(), true),
        (None, Some((host, path))) => (host, path, args.source.as_str(), false),
        _ => {
            return Err(Error::new(ErrorKind::Usage, "pushy cp copies between this machine and one host")
                .with_hint("one operand is HOST:PATH (or local:PATH), the other a local path"))
        }
    };
    // An upload to `HOST:` goes to the remote login directory.
    let remote = if remote.is_empty() && !download { "." } else { remote };
    let (targets, many) = targets(&args.conn, host)?;
    if many && download {
        // Each host's files land in a directory named after it.
        for (label, _) in &targets {
            if label.is_empty() || label.contains('/') || label == "." || label == ".." {
                return Err(Error::new(ErrorKind::Usage, format!("{label:?} cannot name a local directory"))
                    .with_hint("downloads from many hosts go to DEST/HOST/: use host names without `/`"));
            }
        }
    }
    Ok(CopyPlan {
        targets,
        many,
        connect: options(&args.conn),
        remote: remote.to_string(),
        local: local.to_string(),
        download,
        recursive: args.recursive,
        preserve: args.preserve,
        quiet: args.quiet,
    })
}

/// The directories served to imports on the host: `first` (the script's
/// directory, or the current one), each `--path`, then PUSHY_PATH's entries
/// (those that do not exist are skipped, as Python skips PYTHONPATH's).
/// With `-v`, what is served or refused is said on stderr.
fn local_modules(first: PathBuf, args: &PathArgs, verbose: bool) -> pushy::Result<Arc<LocalModules>> {
    let mut dirs = vec![first];
    for dir in &args.path {
        if !dir.is_dir() {
            return Err(Error::new(ErrorKind::Usage, format!("--path {}: not a directory", dir.display()))
                .with_hint("--path names a local directory of modules to serve"));
        }
        dirs.push(dir.clone());
    }
    if let Some(list) = std::env::var_os("PUSHY_PATH") {
        dirs.extend(std::env::split_paths(&list).filter(|dir| !dir.as_os_str().is_empty()));
    }
    let mut modules = LocalModules::new(dirs);
    if verbose {
        modules = modules.with_report(Arc::new(|host: &str, served: &Served<'_>| match served {
            Served::Module(name, path) => eprintln!("pushy: sent module {name} to {host} ({})", path.display()),
            Served::Data(package, resource, path) => {
                eprintln!("pushy: sent {package}: {resource} to {host} ({})", path.display())
            }
            Served::Refused(what, why) => eprintln!("pushy: refused {host} {what}: {why}"),
        }));
    }
    Ok(Arc::new(modules))
}

/// The directory of a `pushy run` script, as named (`.` for a bare name).
fn script_dir(script: &std::path::Path) -> PathBuf {
    match script.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn fleet(args: &FleetArgs) -> Fleet {
    Fleet {
        forks: args.forks,
        collapse: args.collapse,
        ordered: args.ordered,
        quiet: args.quiet,
        failed_file: args.failed.clone(),
    }
}

/// A `HOST:PATH` operand (`local:PATH` for a local interpreter).
fn remote_operand(text: &str) -> Option<(&str, &str)> {
    if let Some(path) = text.strip_prefix("local:") {
        return Some(("local:", path));
    }
    // As scp: a colon before any slash makes it remote (one inside a host
    // range, `web[1:3]:/x`, does not count).
    let mut depth = 0;
    let colon = text.char_indices().find_map(|(at, c)| {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => return Some(at),
            _ => {}
        }
        None
    })?;
    if text[..colon].contains('/') || colon == 0 {
        return None;
    }
    Some((&text[..colon], &text[colon + 1..]))
}

/// The printer the output flags ask for; values of many hosts print
/// indented under their host's label, so they wrap 4 columns sooner.
fn printer(output: &OutputArgs, color: ColorChoice, many: bool) -> Printer {
    let format = if output.json {
        Format::Json
    } else if output.raw || output.null {
        Format::Raw
    } else {
        Format::Pretty
    };
    let item_end = if output.null { ItemEnd::Nul } else { ItemEnd::Newline };
    let width = if many { terminal::width().saturating_sub(4).max(20) } else { terminal::width() };
    Printer { format, pretty: Pretty { width, color: terminal::stdout_color(color) }, item_end }
}

fn timeout(secs: Option<f64>) -> pushy::Result<Option<Duration>> {
    match secs {
        None => Ok(None),
        Some(secs) if secs.is_finite() && secs > 0.0 => Ok(Some(Duration::from_secs_f64(secs))),
        Some(secs) => Err(Error::new(ErrorKind::Usage, format!("bad --timeout {secs}"))
            .with_hint("give a positive number of seconds")),
    }
}

/// `-t`: a pty for one host, fed by our terminal. Without one, as `ssh -t`:
/// a warning, and the code runs without a pty.
fn tty(asked: bool, many: bool, code_from_stdin: bool) -> pushy::Result<bool> {
    if !asked {
        return Ok(false);
    }
    if many {
        return Err(Error::new(ErrorKind::Usage, "-t gives one host a terminal; it cannot take many hosts")
            .with_hint("run the command for each host, or leave out -t"));
    }
    if code_from_stdin || !std::io::stdin().is_terminal() {
        eprintln!("pushy: no pseudo-terminal for the code: stdin is not a terminal");
        return Ok(false);
    }
    Ok(true)
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

/// Where the remote stdin comes from: ours, forwarded to one host or read
/// once and copied to each of many; nothing when it was used up already.
fn stdin_source(used: bool, many: bool) -> pushy::Result<StdinSource> {
    if !used && !many && std::io::stdin().is_terminal() {
        return Ok(StdinSource::Terminal);
    }
    if used || !forwardable_stdin() {
        return Ok(StdinSource::Nothing);
    }
    if !many {
        return Ok(StdinSource::Forwarded);
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read stdin: {e}")))?;
    Ok(StdinSource::Copied(Arc::new(bytes)))
}

/// Is there a local stdin worth forwarding? Not a terminal, and not
/// `< /dev/null` (cron, CI, `ssh -n` habits): not forwarding saves the
/// remote side its stdin machinery.
fn forwardable_stdin() -> bool {
    use std::io::IsTerminal;
    use std::os::unix::fs::MetadataExt;
    if std::io::stdin().is_terminal() {
        return false;
    }
    let null = std::fs::metadata("/dev/null");
    let stdin = std::fs::File::options().read(true).open("/dev/stdin").and_then(|f| f.metadata());
    !matches!((null, stdin), (Ok(n), Ok(s)) if n.rdev() == s.rdev() && n.dev() == s.dev() && n.ino() == s.ino())
}

/// The hosts a HOST argument names (a list, @FILE, or an inventory
/// pattern), each with its label and target; `many` is true unless exactly
/// one host was named.
fn targets(conn: &ConnArgs, spec: &str) -> pushy::Result<(Vec<(String, Target)>, bool)> {
    hosts(conn, spec).map(|(targets, _, many)| (targets, many))
}

/// The selected hosts (see [`targets`]), with per-host connection options
/// where an inventory's variables differ from the flags.
#[allow(clippy::type_complexity)]
fn hosts(conn: &ConnArgs, spec: &str) -> pushy::Result<(Vec<(String, Target)>, Vec<Option<ConnectOptions>>, bool)> {
    if let Some(path) = &conn.inventory {
        let inventory = crate::inventory::Inventory::load(path)?;
        let mut selected = inventory.select(spec)?;
        if let Some(limit) = &conn.limit {
            let keep: Vec<String> = inventory.select(limit)?.into_iter().map(|h| h.name).collect();
            selected.retain(|h| keep.contains(&h.name));
        }
        let (mut targets, mut overrides) = (Vec::new(), Vec::new());
        for host in selected {
            let mut target =
                if host.local { Target::Local } else { target(conn, host.address.as_deref().unwrap_or(&host.name))? };
            if let Target::Ssh(ssh) = &mut target {
                ssh.port = host.port.or(ssh.port);
                ssh.user = host.user.clone().or(ssh.user.take());
                if let Some(key) = &host.key {
                    ssh.identities.push(key.into());
                }
            }
            let mut options = options(conn);
            let differs = host.python.is_some() || host.become_.is_some() || host.become_user.is_some();
            // (Checked to be one word when connecting, as --python is.)
            if let Some(python) = &host.python {
                options.python = Some(python.clone());
            }
            match (host.become_, &host.become_user) {
                (Some(false), _) => options.become_user = None,
                (Some(true), user) => options.become_user = Some(user.clone().unwrap_or_else(|| "root".into())),
                (None, Some(user)) if options.become_user.is_some() => options.become_user = Some(user.clone()),
                (None, _) => {}
            }
            targets.push((host.name, target));
            overrides.push(differs.then_some(options));
        }
        let many = targets.len() != 1 || crate::hosts::is_many(spec) || spec.contains(['*', ':', '~', '&', '!']);
        return Ok((targets, overrides, many));
    }
    if crate::hosts::is_many(spec) {
        let targets = crate::hosts::expand(spec)?
            .into_iter()
            .map(|host| target(conn, &host).map(|target| (host, target)))
            .collect::<pushy::Result<Vec<_>>>()?;
        return Ok((targets, Vec::new(), true));
    }
    Ok((vec![(spec.to_string(), target(conn, spec)?)], Vec::new(), false))
}

/// The one target a front end that takes one host was given.
fn single(conn: &ConnArgs, spec: &str) -> pushy::Result<Target> {
    let (mut targets, many) = targets(conn, spec)?;
    if many {
        return Err(Error::new(ErrorKind::Usage, format!("{spec:?} names {} hosts; this takes one", targets.len()))
            .with_hint("many hosts work with `pushy exec`"));
    }
    Ok(targets.remove(0).1)
}

/// The target for `host` with these flags.
fn target(conn: &ConnArgs, host: &str) -> pushy::Result<Target> {
    let mut target = Target::parse(host)?;
    if let Target::Ssh(ssh) = &mut target {
        if conn.port.is_some() {
            ssh.port = conn.port;
        }
        ssh.user = conn.login.clone();
        ssh.identities = conn.identity.clone();
        ssh.config = conn.ssh_config.clone();
        ssh.jump = conn.jump.clone();
        ssh.options = conn.option.clone();
        for option in &ssh.options {
            if option.starts_with('-') || option.contains('\n') {
                return Err(Error::new(ErrorKind::Usage, format!("refusing ssh option {option:?}"))
                    .with_hint("-o takes Key=Value, as in ssh_config"));
            }
        }
    }
    Ok(target)
}

/// The connection options the flags ask for.
fn options(conn: &ConnArgs) -> ConnectOptions {
    ConnectOptions {
        python: conn.python.clone(),
        persist: Duration::from_secs(conn.persist),
        reuse: if conn.no_reuse { Reuse::Never } else { Reuse::Keep },
        connect_timeout: conn.connect_timeout.map(Duration::from_secs),
        become_user: if conn.sudo { Some("root".to_string()) } else { conn.become_user.clone() },
        password: Some(PasswordSource(Arc::new(crate::password::ask_once))),
    }
}

#[cfg(test)]
mod tests {
    use super::remote_operand;

    #[test]
    fn operands_read_as_scp_reads_them() {
        assert_eq!(remote_operand("web1:/etc/hosts"), Some(("web1", "/etc/hosts")));
        assert_eq!(remote_operand("local:/tmp/x"), Some(("local:", "/tmp/x")));
        assert_eq!(remote_operand("./a:b"), None);
        assert_eq!(remote_operand("plain"), None);
        assert_eq!(remote_operand("web1:"), Some(("web1", "")));
        assert_eq!(remote_operand("a,b:/x"), Some(("a,b", "/x")));
        assert_eq!(remote_operand("web[1:3]:/x"), Some(("web[1:3]", "/x")));
    }
}
