//! `pushy --generate KIND`: shell completions and the man page, rendered
//! from the clap definition so they can never disagree with `--help`. The
//! outputs are checked in (`completions/`, `man/`); a test fails when they
//! are stale.

use std::io::Write;

use clap::{Arg, Command, CommandFactory};
use clap_complete::Shell;

use crate::cli::{Cli, Generate};

/// Writes the requested file to stdout.
pub fn run(kind: Generate) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut cmd = Cli::command();
    match kind {
        Generate::Bash => {
            clap_complete::generate(Shell::Bash, &mut cmd, "pushy", &mut out);
            // clap completes no positional: hosts come from pushy itself.
            out.write_all(BASH_HOSTS.as_bytes())?;
        }
        Generate::Zsh => {
            let mut script = Vec::new();
            clap_complete::generate(Shell::Zsh, &mut cmd, "pushy", &mut script);
            // `_hosts` knows ssh's hosts; `_pushy_hosts` adds `local:` and
            // the inventory's groups and hosts.
            let script = String::from_utf8_lossy(&script).replace(":_hosts'", ":_pushy_hosts'");
            let script = script.strip_prefix("#compdef pushy\n").unwrap_or(&script);
            out.write_all(ZSH_HOSTS.as_bytes())?;
            out.write_all(script.as_bytes())?;
        }
        Generate::Fish => {
            clap_complete::generate(Shell::Fish, &mut cmd, "pushy", &mut out);
            // Hosts (from ssh config and known_hosts, as fish's ssh does),
            // `local:` and the inventory's groups and hosts as the targets;
            // clap leaves positionals uncompleted.
            out.write_all(FISH_HOSTS.as_bytes())?;
            for condition in ["__fish_pushy_needs_command", "__fish_pushy_using_subcommand exec"] {
                writeln!(
                    out,
                    "complete -c pushy -n \"{condition}\" -f -a \"(__fish_print_hostnames) (__fish_pushy_hosts)\""
                )?;
            }
        }
        Generate::Man => man(&mut out)?,
    }
    out.flush()
}

/// Host completion for bash, after clap's script: when clap offers nothing
/// (a positional), the names `pushy --complete-hosts` prints, given the
/// `--inventory` and `-F` already on the line.
const BASH_HOSTS: &str = r#"
_pushy_hosts() {
    local i inv="" cfg=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --inventory) inv="${COMP_WORDS[i+1]}" ;;
            -F|--ssh-config) cfg="${COMP_WORDS[i+1]}" ;;
        esac
    done
    pushy --complete-hosts ${inv:+--inventory "$inv"} ${cfg:+-F "$cfg"} 2>/dev/null
}

_pushy_with_hosts() {
    _pushy "$@"
    local cur="${COMP_WORDS[COMP_CWORD]}"
    if [[ ${#COMPREPLY[@]} -eq 0 && "$cur" != -* ]]; then
        COMPREPLY=( $(compgen -W "$(_pushy_hosts)" -- "$cur") )
    fi
}

complete -F _pushy_with_hosts -o bashdefault -o default pushy
"#;

/// Host completion for zsh: ssh's hosts (`_hosts`), then pushy's.
const ZSH_HOSTS: &str = r#"#compdef pushy

_pushy_hosts() {
    _hosts
    local -a more args
    local i
    for ((i = 2; i < CURRENT; i++)); do
        case "${words[i]}" in
            --inventory|-F|--ssh-config) args+=("${words[i]}" "${words[i+1]}") ;;
        esac
    done
    more=(${(f)"$(pushy --complete-hosts "${args[@]}" 2>/dev/null)"})
    compadd -a more
}

"#;

/// Host completion for fish: pushy's names, given the `--inventory` and
/// `-F` already on the line.
const FISH_HOSTS: &str = r#"
function __fish_pushy_hosts
    set -l tokens (commandline -opc)
    set -l args
    for i in (seq (count $tokens))
        if contains -- $tokens[$i] --inventory -F --ssh-config; and test $i -lt (count $tokens)
            set -a args $tokens[$i] $tokens[(math $i + 1)]
        end
    end
    pushy --complete-hosts $args 2>/dev/null
end
"#;

fn man(out: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = Cli::command();
    cmd.build(); // settles which flags take values

    let page = clap_mangen::Man::new(cmd.clone()).date("2026-11-25").manual("pushy manual");
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        subcommand(out, sub)?;
    }
    out.write_all(EXTRA.as_bytes())?;
    page.render_version_section(out)?;
    Ok(())
}

/// A section per subcommand: synopsis, description and every flag.
fn subcommand(out: &mut dyn Write, sub: &Command) -> std::io::Result<()> {
    let name = sub.get_name();
    writeln!(out, ".SH \"PUSHY {}\"", name.to_uppercase())?;
    let positionals: Vec<String> = sub
        .get_positionals()
        .map(|a| {
            let value = a.get_value_names().and_then(|v| v.first()).map(|v| v.to_string()).unwrap_or_default();
            if a.is_required_set() {
                format!("\\fI{value}\\fR")
            } else {
                format!("[\\fI{value}\\fR]")
            }
        })
        .collect();
    writeln!(out, "\\fBpushy {name}\\fR [\\fIOPTIONS\\fR] {}", positionals.join(" "))?;
    writeln!(out, ".PP")?;
    let about = sub.get_long_about().or(sub.get_about()).map(|s| s.to_string()).unwrap_or_default();
    writeln!(out, "{}", roff_text(&about))?;
    for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
        option(out, arg)?;
    }
    Ok(())
}

fn option(out: &mut dyn Write, arg: &Arg) -> std::io::Result<()> {
    let value = arg.get_value_names().and_then(|v| v.first()).map(|v| format!(" \\fI{v}\\fR")).unwrap_or_default();
    let mut names = Vec::new();
    if let Some(short) = arg.get_short() {
        names.push(format!("\\fB\\-{short}\\fR"));
    }
    if let Some(long) = arg.get_long() {
        names.push(format!("\\fB\\-\\-{long}\\fR"));
    }
    let head = if names.is_empty() {
        value.trim_start().to_string()
    } else {
        let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values()) && !value.is_empty();
        format!("{}{}", names.join(", "), if takes_value { value } else { String::new() })
    };
    writeln!(out, ".TP\n{head}")?;
    let help = arg.get_long_help().or(arg.get_help()).map(|s| s.to_string()).unwrap_or_default();
    writeln!(out, "{}", roff_text(&help))
}

/// Plain text made safe for roff: escape backslashes and dashes, and keep a
/// line from starting with a control character.
fn roff_text(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.replace('\\', "\\e").replace('-', "\\-");
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else if line.trim().is_empty() {
                ".PP".to_string()
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The sections clap knows nothing about.
const EXTRA: &str = r#".SH TARGETS
.TP
\fIHOST\fR
Anything \fBssh\fR(1) accepts as a destination: a name, an address,
\fIuser\fR@\fIhost\fR, \fBssh://\fR\fIuser\fR@\fIhost\fR:\fIport\fR, or an alias from
\fI~/.ssh/config\fR. The user's ssh configuration, agent, ProxyJump and
known_hosts apply as for \fBssh\fR. A host that begins with \fB\-\fR, or holds
spaces, quotes or shell characters, is refused.
.TP
\fBlocal:\fR
A local interpreter, started without ssh: the same server and protocol.
Only \fBlocal:\fR means this machine; a bare \fBlocal\fR is an ssh host name
like any other.
.SS How the command line is read
Options may come before the subcommand (\fBpushy \-F cfg exec web1 CODE\fR).
\fBpushy HOST CODE\fR is \fBpushy exec HOST CODE\fR. Every word after
\fBpushy run\fR's SCRIPT is the script's, \fB\-v\fR and \fB\-\-help\fR
included.
.SS Connections
Concurrent pushy runs to one host share one ssh master (a lock beside its
socket decides who starts it). When ssh must ask something (a password, a
passphrase, a new host key), it asks one host at a time, after a line naming
the host; without a terminal it fails with a hint instead. A failed
connection's error keeps what ssh (or a ProxyCommand) said, and its hint
repeats your \fB\-F\fR, \fB\-o\fR, \fB\-J\fR, \fB\-p\fR and \fB\-l\fR.
.SH OUTPUT
By default values print as Python literals, wrapped to the terminal's width
and coloured on a terminal. \fB\-\-raw\fR prints str as is, bytes as bytes, and
one item per line for lists, tuples, sets and iterators (a dict as
\fIkey\fR<TAB>\fIvalue\fR lines); an item that is a row (a tuple or list
of scalars) prints its fields tab\-separated, for \fBsort\fR and \fBcut\fR.
\fB\-0\fR ends every item with NUL instead, for \fBxargs \-0\fR.
On one host, a binary file object under \fB\-\-raw\fR (not \fB\-0\fR)
prints its content from where it stands, as \fBcat\fR would: \fBopen(\fR\fIpath\fR\fB, "rb")\fR
streams the file (by \fBsendfile\fR(2) on the host, without holding it in
memory), and a pipe's reader (a \fBsubprocess.Popen\fR's \fBstdout\fR) passes
output on as it comes, not a line at a time (a non\-blocking one is waited
for). Elsewhere a file is an iterator of lines.
.SS JSON format (\-\-json)
Standard output carries JSON only: remote output (\fBprint\fR, child
processes) goes to standard error. Each line is one of these records:
.TP
a bare value
the result, as mapped below; \fBnull\fR for statements; JSON Lines, one
item per line, when an iterator streams.
.TP
an error record
\fB{"error": {"kind": "raised", "type": "ZeroDivisionError", "message": ..., "traceback": ...}}\fR
for a remote exception (exit status 1).
.TP
many hosts
records name their \fBhost\fR and come as they happen: remote output as
\fB{"host": H, "stdout": TEXT}\fR or \fB{"host": H, "stderr": TEXT}\fR, a
streamed item as \fB{"host": H, "item": V}\fR, and last the host's end:
\fB{"host": H, "ok": true, "value": V}\fR (\fBnull\fR for statements and
streams; with \fB\-\-test\fR, \fB"ok"\fR is the value's truth and there is
no value), \fB{"host": H, "ok": false, "error": {...}}\fR with
\fB"kind"\fR \fB"raised"\fR (as above), \fB"connection"\fR
(\fBmessage\fR, \fBhint\fR) or \fB"timeout"\fR (\fBseconds\fR), or
\fB{"host": H, "ok": false, "exit": n}\fR after \fBsys.exit(n)\fR.
.PP
Values map as follows.
.TP
None, True, False
null, true, false
.TP
int (any size)
number with all its digits
.TP
float
number (Python's shortest repr)
.TP
nan, inf, \-inf
{"$float": "nan"} (or "inf", "\-inf")
.TP
str
string (lone surrogates as \eudcXX escapes)
.TP
bytes, bytearray
{"$bytes": BASE64}, {"$bytearray": BASE64}
.TP
list, tuple, set, frozenset
array
.TP
dict
object; other keys as their JSON text or Python repr
.TP
namedtuple, os.stat_result, dataclass
object of its fields
.TP
datetime, date, time
ISO 8601 string ("2024\-01\-02T03:04:05+00:00")
.TP
timedelta
ISO 8601 duration string ("P1DT2H3M4.5S", "\-PT23H")
.TP
Decimal, UUID, pathlib paths
string: their str()
.TP
any other object
{"$type": "module.Type", "$repr": "..."}
.TP
a cycle
{"$cycle": "list"}
.TP
nested too deep
{"$deep": "dict"}
.SH REPL
\fBpushy\fR \fIHOST\fR reads lines as CPython's REPL does: keys typed ahead (during a call,
at a continuation prompt, while a completion runs) are kept and run line by line, and a
paste, bracketed or not, runs exactly as if typed.
.PP
Tab completes names from the remote namespace, builtins, keywords and module names,
attributes after a dot, and dict keys after \fBd['\fR. Completion evaluates nothing:
attributes are read statically (no property, descriptor, \fB__getattr__\fR or
\fB__getattribute__\fR runs), a dict's own keys are listed (not its \fB__iter__\fR), and a
module that is not imported yet is never imported (a package offers the submodules found on
disk). The one piece of your code it may run is an object's \fB__dir__\fR, through
\fBdir\fR(), as CPython's completer does. A completion that takes longer than 1 s is
interrupted on the host and offers nothing; Ctrl\-C cancels it sooner. Inside
subscripts it offers keys too, nested (\fBd["a"][1]["\fR, \fBos.environ["\fR), stepping
only through dicts (never their \fB__missing__\fR), lists, tuples and \fBos.environ\fR.
.PP
While a call runs, remote code that reads stdin reads your terminal: \fBinput\fR(),
\fBpdb\fR and \fBbreakpoint\fR() get the line you type, \fBgetpass.getpass\fR() reads it
with nothing shown. A line is read only when the code asks for one, so keys typed ahead
and not read stay for the next prompt. Child processes of the code read /dev/null (use
\fBexec \-t\fR for interactive programs). \fBhelp\fR() pages through \fB$PAGER\fR
(\fBless\fR, else \fBmore\fR) when stdout is a terminal.
.PP
\fB!\fR\fIcmd\fR runs \fIcmd\fR with /bin/sh on the host, its output streaming; a
non\-zero exit status is shown. \fIobj\fR\fB?\fR shows its signature, docstring and
type, \fIobj\fR\fB??\fR its source where Python finds it, as IPython does. The prompt
names the user when it is root or a \fB\-\-become\fR user (\fBroot@web1>>> \fR).
.SH TERMINALS
Without \fB\-t\fR, when stdin is a terminal, code run by \fBexec\fR or \fBrun\fR on one
host reads a line from it each time it asks for one (\fBinput\fR(), \fBpdb\fR;
\fBgetpass\fR() with nothing shown), and \fBhelp\fR() pages through \fB$PAGER\fR when
stdout is a terminal too.
.PP
\fBpushy exec \-t\fR gives the code a pseudo\-terminal on the host, as \fBssh \-t\fR
does: fds 0, 1 and 2 are its slave (stderr comes out with stdout), your terminal is raw
while the code runs and every key goes to it as typed, window size changes follow
(SIGWINCH is raised in the remote interpreter), \fBTERM\fR is passed on, and the
terminal is restored on every exit. Curses programs and pagers work. The remote pty is
not a controlling terminal: its interrupt key (Ctrl\-C) interrupts the code while the
pty's settings make it a signal. Without a local terminal (stdin not one), pushy says so
on stderr and runs the code without a pty, as \fBssh \-t\fR does; with many hosts,
\fB\-t\fR is refused.
.PP
\fBpushy \-t\fR \fIHOST\fR runs each REPL input so: while it runs, your terminal is
raw and keys go to its pty (\fBinput\fR() and \fBgetpass\fR() read there, \fBhelp\fR()
pages with the host's pager); between inputs the line editor has the terminal. Keys
the line editor read ahead before an input started (typed in one go with its Enter)
stay for the next prompt rather than going to that input.
.SH MANY HOSTS
\fIHOST\fR may name many: \fIH1\fR,\fIH2\fR, \fB@\fR\fIFILE\fR (one host a
line), \fB@\-\fR (the same from stdin), ranges as Ansible writes them
(\fBweb[01:20]\fR, \fBweb[1:9:2]\fR, \fBdb\-[a:c]\fR), or, with
\fB\-\-inventory\fR, a pattern as Ansible reads it: groups and hosts by name,
glob (\fBweb*\fR, \fBweb0[!1]\fR) or regex (\fB~web0[12]\fR), joined by
\fB,\fR or \fB:\fR, then \fB&\fR\fITERM\fR (also in) and \fB!\fR\fITERM\fR (not
in), and subscripts (\fBweb[0]\fR, \fBprod[1:3]\fR). An inventory is an
INI or YAML file, a directory of them, an executable (run with \fB\-\-list\fR,
printing Ansible's JSON) or, through \fBansible\-inventory\fR when installed, an
inventory plugin's config (aws_ec2, gcp_compute, azure_rm, k8s, ...). Its \fBansible_host\fR, \fBansible_port\fR, \fBansible_user\fR,
\fBansible_ssh_private_key_file\fR, \fBansible_python_interpreter\fR,
\fBansible_become\fR, \fBansible_become_user\fR and
\fBansible_connection=local\fR apply per host. \fB\-\-limit\fR narrows the
selection; \fBexec \-\-list\-hosts\fR prints it without connecting. \fB\-\-forks\fR hosts run at once, each through the same code as
one host, so \fB\-\-timeout\fR (per host), \fB\-\-test\fR, \fB\-v\fR,
\fB\-\-raw\fR and \fB\-\-json\fR mean the same. Output flows as it comes:
remote output as \fIHOST\fR| \fIline\fR, streamed items as \fIHOST\fR:
\fIitem\fR, and each host's result as that host finishes (\fB\-\-ordered\fR:
in the order given). Local stdin is read once and sent to every host. On a
terminal a progress line and a summary go to stderr (not with \fB\-q\fR);
\fB\-\-failed\fR \fIFILE\fR lists the hosts that did not end well, for a
retry with \fB@\fR\fIFILE\fR. Each running host costs pushy about 8 file
descriptors (its channel's three pipes, the sockets to its ssh master, an
I/O event loop), so \fB\-\-forks 50\fR fits well within \fBulimit \-n 1024\fR.
The status: 255 if a host could not be reached, else 1 if one raised,
exited non\-zero or (with \fB\-\-test\fR) was falsy, else 124 if one timed
out, else 0.
.SH IMPORTS
A name that the code uses and never defines is the module of that name, imported on first
use (\fBos.getcwd()\fR), in every scope; a dotted name imports the submodules it names
(\fBxml.etree.ElementTree\fR). Never \fBthis\fR, \fBantigravity\fR, \fBtest\fR,
\fBidlelib\fR or \fBturtledemo\fR (nor their submodules), whose import has side effects
or which are test suites: such a name, typed by mistake, is a NameError, as in CPython;
\fBimport this\fR still works.
.PP
Your own code travels with you: a module or package that the host cannot import itself is
served by pushy on import, over the same connection, from the script's directory
(\fBrun\fR) or the current directory (\fBexec\fR and the REPL), then each \fB\-\-path\fR
\fIDIR\fR, then each directory in \fBPUSHY_PATH\fR. It is compiled in memory; nothing
is written on the host. Packages (a directory with \fB__init__.py\fR), subpackages and
relative imports work, tracebacks show the lines of the local file, and a package's data
files are read with \fBimportlib.resources\fR (\fBfiles(\fR\fIpackage\fR\fB)\fR,
\fBread_text\fR; \fBfiles\fR needs Python 3.10 on the host, where earlier ones look on the
host's disk) or \fBpkgutil.get_data\fR. The host's own modules come first, so a
local file never shadows the standard library or an installed package (a local
\fBjson.py\fR is not imported for \fBimport json\fR). \fB\-v\fR lists each module and
file sent, and each request refused. Only \fI.py\fR sources and the files inside a served
package's directory are sent (no hidden files, nothing larger than 256 MiB), and only when
they resolve, symlinks followed, under the directory they are served from: a host that asks
for \fB../../.ssh/id_rsa\fR, an absolute path, or a symlink that leads out is refused and
gets no bytes (see SECURITY). A thread that imports between two calls waits until the next
call.
.SH EXIT STATUS
.TP
\fB0\fR
Success (with \fB\-\-test\fR: the value was truthy).
.TP
\fB1\fR
The remote code raised an exception (its traceback is on stderr), or with
\fB\-\-test\fR the value was falsy; or writing the output failed (a full
disk, \fB> /dev/full\fR). A closed pipe (\fB| head\fR) is not a failure.
.TP
\fB2\fR
Usage error: a bad flag, host or interpreter name.
.TP
\fIn\fR
The remote code called \fBsys.exit(\fR\fIn\fR\fB)\fR.
.TP
\fB124\fR
\fB\-\-timeout\fR expired and the code was interrupted (one line on stderr
says so, no traceback).
.TP
killed by SIGINT, SIGTERM or SIGHUP
Ctrl\-C stops the remote call; pushy then tidies up (masters of its own
stopped, temporary files removed, the terminal restored) and dies by the
same signal, so a calling shell stops its loop (the shell reports 130, 143
or 129). A second Ctrl\-C gives up at once.
.TP
\fB255\fR
Connection, ssh or protocol failure; no Python 3 on the host.
.SH SECURITY
The host is not trusted by the client. Every name, mode, size and frame it
sends is checked before use: a name in a download must be a single file name
(not empty, \fB.\fR or \fB..\fR, without \fB/\fR or NUL) and lands under
the destination named on the command line; no symlink in a destination is
followed, locally or remotely (a symlink where a directory or file goes is
replaced); temporary files are created exclusively, 0600, under random names,
and removed when the copy stops or pushy is interrupted, terminated or hung up
on; without \fB\-\-preserve\fR, modes lose setuid, setgid, sticky and the
umask, as with \fBcp\fR(1). A hostile host costs the client at most the
frame it sent plus a few MiB of memory.
.PP
What user code sees on \fBsys.path\fR: the interpreter's own path
(\fBPYTHONPATH\fR, the standard library, site\-packages), without the
current directory that \fBpython3 \-c\fR would put first: a module in the
remote login directory (or, for \fBlocal:\fR, the caller's directory) is
never imported by accident, and imports write no bytecode
(\fBsys.dont_write_bytecode\fR).
.PP
Modules served to the host's imports (see IMPORTS) are asked for by dotted name, never by
path: each part must be an identifier, and pushy maps it to a file itself. A data file is a
name inside a served package's directory, checked part by part (no empty, \fB.\fR,
\fB..\fR or hidden part, no NUL or backslash). What it names is served only if it resolves
(symlinks included) to a regular file under the served directory (for a data file, under
its package's directory).
.SH ENVIRONMENT
.TP
\fBNO_COLOR\fR
When set and not empty, \fB\-\-color auto\fR never colours.
.TP
\fBPUSHY_PYTHON\fR
The remote interpreter, as \fB\-\-python\fR.
.TP
\fBPUSHY_PATH\fR
More directories (colon\-separated) whose modules the host may import, after
\fB\-\-path\fR; those that do not exist are skipped.
.TP
\fBPUSHY_CONTROL_DIR\fR
The control directory for ssh masters (see FILES).
.TP
\fBPUSHY_NO_CODE_CACHE\fR
When set to anything but empty or 0, the code cache (see FILES) is neither
read nor written.
.TP
\fBXDG_RUNTIME_DIR\fR, \fBXDG_DATA_HOME\fR, \fBXDG_CACHE_HOME\fR, \fBCOLUMNS\fR
Where the control directory, the history and the code cache live; the width
when stdout is not a terminal.
.SH FILES
.TP
\fI$XDG_RUNTIME_DIR/pushy/\fR (else \fI/tmp/pushy\-UID/\fR)
Control sockets of ssh masters kept for reuse. Private (0700): pushy refuses
a directory that is another user's or open to others.
.TP
\fI$XDG_DATA_HOME/pushy/history\fR (else \fI~/.local/share/pushy/history\fR)
REPL history, mode 0600.
.TP
\fI$XDG_CACHE_HOME/pushy/code/\fR (else \fI~/.cache/pushy/code/\fR)
The code cache: the server program as each host's interpreter compiled it,
one private file per host, interpreter and sudo user, pushed instead of the
source on the next start there (it saves the remote compile). An entry is
never used for another host; a stale one falls back to source. Safe to
delete at any time.
.SH EXAMPLES
.TP
\fBpushy exec local: 'os.listdir("/")'\fR
No ssh at all: a local interpreter.
.TP
\fBpushy web1\fR
A Python REPL on web1.
.TP
\fBpushy exec web1 'os.listdir("/etc")' \-\-raw | sort\fR
One name per line, for a pipeline.
.TP
\fBcat f.bin | pushy exec web1 'hashlib.sha256(sys.stdin.buffer.read()).hexdigest()'\fR
Local stdin becomes the remote sys.stdin.
.TP
\fBif pushy exec \-\-test web1 'os.path.exists("/etc/nginx")'; then ...\fR
Truthiness as the exit status.
.SH SEE ALSO
\fBssh\fR(1), \fBssh_config\fR(5), \fBpython3\fR(1)
"#;
