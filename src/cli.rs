//! The command line as the user types it (clap derive): the flags and their
//! help, nothing more. `plan` turns them, once, into what the front ends
//! use; nothing else sees a flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};

/// Run Python on a remote machine over ssh: a REPL, or one-shot evaluation.
///
/// pushy pushes a small Python server over ssh's stdin; nothing is installed
/// or written on the host. Results come back by value and print locally.
#[derive(Debug, Parser)]
#[command(
    name = "pushy",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    arg_required_else_help = true
)]
#[command(
    after_help = "Examples:\n  pushy exec local: 'os.listdir(\"/\")'\n  pushy exec web1 'platform.node()' --json\n  pushy web1                  (a Python REPL on web1)"
)]
pub struct Cli {
    /// Where to open a REPL: an ssh host (as for `ssh HOST`) or `local:`.
    #[arg(value_name = "HOST", required_unless_present_any = ["generate", "complete_hosts"], value_hint = ValueHint::Hostname)]
    pub host: Option<String>,

    /// In the REPL, run each input on a pseudo-terminal on the host, as `ssh -t`: full-screen
    /// programs (`os.system("top")`, curses) work, and keys typed while an input runs go to it.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,

    #[command(flatten)]
    pub paths: PathArgs,

    #[command(flatten)]
    pub conn: ConnArgs,

    /// Colour: auto (when writing to a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Render completions or the man page (for packaging).
    #[arg(long, value_enum, hide = true, value_name = "KIND")]
    pub generate: Option<Generate>,

    /// For the shell completions: print host names to offer (`local:`, ssh config and
    /// known_hosts hosts, and with --inventory its groups and hosts), one a line.
    #[arg(long, hide = true)]
    pub complete_hosts: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate code on a host and print the value of its last expression.
    ///
    /// Statements run; a trailing expression is the result. Modules import
    /// themselves on first use (`os.listdir("/")`). Remote output streams
    /// to stdout and stderr; a remote exception prints its traceback and
    /// exits 1. An iterator result streams item by item.
    #[command(
        after_help = "Examples:\n  pushy exec local: 'os.listdir(\"/\")'\n  pushy exec web1 'os.listdir(\"/etc\")' --raw | sort\n  cat big.bin | pushy exec web1 'hashlib.sha256(sys.stdin.buffer.read()).hexdigest()'"
    )]
    Exec(ExecArgs),

    /// Run a local Python script on a host, as `__main__`, with arguments.
    ///
    /// The script is sent over the connection, never written to the remote
    /// disk; `sys.argv` is SCRIPT and ARGS, output streams, and the script's
    /// `sys.exit(n)` is pushy's exit status. Modules and packages next to it
    /// (and in each --path DIR) are served to its imports the same way.
    #[command(after_help = "Example:\n  pushy run web1 ./check_disks.py --threshold 90")]
    Run(RunArgs),

    /// Stop the ssh connections kept for reuse with these hosts, now.
    Disconnect(DisconnectArgs),

    /// Copy files between this machine and a host (or many), as scp does, over pushy's connection.
    ///
    /// One operand is HOST:PATH (or local:PATH), the other a local path. Bytes are kept;
    /// modes are the permission bits less the receiver's umask, as cp applies them (all
    /// bits and times with -P); symlinks in a directory stay symlinks; a file that cannot
    /// be read is reported and the rest goes on. A file is never left half-written under
    /// its final name. The host is not trusted: every name it sends must be a single file
    /// name and lands under DEST; no symlink in a destination is followed, on either side.
    /// With many hosts (H1,H2:PATH, web[1:3]:PATH, @FILE:PATH), an upload goes to each,
    /// and a download from each lands in DEST/HOST/.
    #[command(
        after_help = "Examples:\n  pushy cp web1:/var/log/syslog .\n  pushy cp -r ./conf web1:/etc/myapp\n  pushy cp web[1:3]:/var/log/syslog ./logs     (./logs/web1/syslog, ...)"
    )]
    Cp(CpArgs),
}

/// `pushy cp` arguments.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// What to copy: HOST:PATH or a local path.
    #[arg(value_name = "SOURCE")]
    pub source: String,

    /// Where to: a local path or HOST:PATH.
    #[arg(value_name = "DEST")]
    pub dest: String,

    /// Copy directories recursively.
    #[arg(short = 'r', long)]
    pub recursive: bool,

    /// Keep every mode bit (setuid, setgid, sticky; no umask) and the times, as scp -p.
    #[arg(long = "preserve", short = 'P')]
    pub preserve: bool,

    /// No progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `pushy run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// An ssh host (as for `ssh HOST`) or `local:`.
    #[arg(value_name = "HOST", value_hint = ValueHint::Hostname)]
    pub host: String,

    /// The local script to run remotely.
    #[arg(value_name = "SCRIPT", value_hint = ValueHint::FilePath)]
    pub script: PathBuf,

    /// Arguments for the script (its `sys.argv[1:]`).
    #[arg(value_name = "ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,

    /// Interrupt the script after this many seconds (exit 124).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    #[command(flatten)]
    pub paths: PathArgs,

    #[command(flatten)]
    pub fleet: FleetArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `pushy exec` arguments.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// An ssh host (as for `ssh HOST`) or `local:`; H1,H2,... or @FILE for many hosts.
    #[arg(value_name = "HOST", value_hint = ValueHint::Hostname)]
    pub host: String,

    /// Python code; `-` reads it from stdin.
    #[arg(value_name = "CODE", required_unless_present_any = ["file", "list_hosts"])]
    pub code: Option<String>,

    /// Print the hosts HOST selects, one a line, and connect to none (as Ansible's --list-hosts).
    #[arg(long)]
    pub list_hosts: bool,

    /// Read the code from a file.
    #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "code")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Print nothing; exit 0 if the value is truthy, 1 if falsy.
    #[arg(long)]
    pub test: bool,

    /// Interrupt the code after this many seconds (exit 124).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Give the code a pseudo-terminal on the host, as `ssh -t`: keys go to it as typed,
    /// curses and pagers work, window size changes follow. One host only. Without a local
    /// terminal, pushy says so and runs the code without one, as `ssh -t` does.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,

    #[command(flatten)]
    pub paths: PathArgs,

    #[command(flatten)]
    pub fleet: FleetArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// How many hosts run at once, and how their results print.
#[derive(Debug, Args, Clone)]
pub struct FleetArgs {
    /// With many hosts: how many run at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub forks: usize,

    /// With many hosts: print identical results once, naming all their hosts.
    #[arg(long)]
    pub collapse: bool,

    /// With many hosts: print in the order given, not as hosts finish.
    #[arg(long)]
    pub ordered: bool,

    /// With many hosts: write the hosts that did not end well (unreachable, raised,
    /// timed out, exited non-zero, falsy with --test) to FILE, one a line, for a retry
    /// with @FILE.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub failed: Option<PathBuf>,

    /// With many hosts: no progress line and no summary on the terminal.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Where the modules that remote code imports may come from, besides the host.
#[derive(Debug, Args, Clone, Default)]
pub struct PathArgs {
    /// Serve modules, packages and their data files from DIR to imports on the host that it
    /// cannot satisfy itself (after the script's directory for `run`, the current one
    /// otherwise); may be repeated; PUSHY_PATH adds more (colon-separated).
    #[arg(long = "path", value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub path: Vec<PathBuf>,
}

/// `pushy disconnect` arguments.
#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// The hosts (H1,H2,... or @FILE too), with the same ssh flags as when connecting.
    #[arg(value_name = "HOST", required = true, value_hint = ValueHint::Hostname)]
    pub hosts: Vec<String>,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// How results are printed.
#[derive(Debug, Args, Default)]
pub struct OutputArgs {
    /// Print values as JSON (JSON Lines for streamed items); stdout carries only JSON, remote
    /// output goes to stderr; see the man page for the format.
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,

    /// Print text as is, bytes as bytes, and one item per line: for pipelines.
    #[arg(long)]
    pub raw: bool,

    /// With --raw (implied): end every item with NUL instead of a newline, for `xargs -0`.
    #[arg(short = '0', long = "null", conflicts_with = "json")]
    pub null: bool,
}

/// Connection flags, as ssh spells them.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnArgs {
    /// Port to connect to on the host (ssh -p).
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<u16>,

    /// User to log in as (ssh -l).
    #[arg(short = 'l', long = "login", value_name = "USER")]
    pub login: Option<String>,

    /// Identity (private key) file (ssh -i); may be repeated.
    #[arg(short = 'i', long = "identity", value_name = "KEY")]
    pub identity: Vec<PathBuf>,

    /// ssh configuration file (ssh -F).
    #[arg(short = 'F', long = "ssh-config", value_name = "CONFIG")]
    pub ssh_config: Option<PathBuf>,

    /// Jump host(s) to connect through (ssh -J).
    #[arg(short = 'J', long = "jump", value_name = "JUMP")]
    pub jump: Option<String>,

    /// An ssh option, as in ssh_config (ssh -o); may be repeated.
    #[arg(short = 'o', long = "option", value_name = "OPTION")]
    pub option: Vec<String>,

    /// The remote Python interpreter [default: python3, else python if it is Python 3].
    #[arg(long, value_name = "PATH", env = "PUSHY_PYTHON")]
    pub python: Option<String>,

    /// Give up connecting after this many seconds (ssh ConnectTimeout).
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<u64>,

    /// Keep the ssh connection open this long after use, for the next call.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub persist: u64,

    /// Use a fresh ssh connection and close it afterwards.
    #[arg(long)]
    pub no_reuse: bool,

    /// Run the remote interpreter as root, through sudo (asks for a password if sudo wants one).
    #[arg(long, conflicts_with = "become_user")]
    pub sudo: bool,

    /// Run the remote interpreter as USER, through sudo.
    #[arg(long = "become", value_name = "USER")]
    pub become_user: Option<String>,

    /// An Ansible inventory (INI, YAML, a directory, an executable dynamic inventory;
    /// plugin configs through ansible-inventory): HOST is then a pattern, as Ansible's
    /// (`web:&prod`, `all:!db`, `~web0[12]`, `web[0:2]`).
    #[arg(long, value_name = "FILE", value_hint = ValueHint::AnyPath)]
    pub inventory: Option<PathBuf>,

    /// With --inventory: only the hosts this pattern also selects, as Ansible's --limit.
    #[arg(long, value_name = "PATTERN", requires = "inventory")]
    pub limit: Option<String>,

    /// Say which interpreter ran, as whom, and which local modules and files were sent, on stderr.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// `--color`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When the stream is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--generate`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// bash completions
    Bash,
    /// zsh completions
    Zsh,
    /// fish completions
    Fish,
    /// the man page (roff)
    Man,
}
