//! The ssh transport: pushy starts the ControlMaster itself with the system
//! `ssh`, then opens channels on it through the `openssh` crate's native mux
//! client.
//!
//! Starting the master with plain `ssh -M -S CTL -f -N` (rather than letting
//! a library do it) keeps everything the user's ssh does: `~/.ssh/config`,
//! the agent, ProxyJump, known_hosts, and password or host-key prompts on the
//! terminal. Channels then talk to the master's socket directly, so no ssh
//! client process sits in our process group: a Ctrl-C on the terminal reaches
//! pushy alone, which forwards it as an interrupt frame.
//!
//! Masters idle out on their own (`ControlPersist`), so nothing outlives its
//! timeout even if pushy is killed with SIGKILL.

use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::control::{control_dir, socket_path};
use super::{Channel, Process, StderrTail};
use crate::error::{Error, ErrorKind, Result};
use crate::target::{shell_word, ConnectOptions, Reuse, SshTarget};

/// How long a master owned by one session outlives it if pushy is killed
/// before it can stop the master itself.
const OWN_PERSIST: &str = "2s";

/// A command running on the host over a mux channel.
pub(crate) struct RemoteProcess {
    runtime: tokio::runtime::Runtime,
    child: Option<openssh::Child<Arc<openssh::Session>>>,
    status: Option<i32>,
    /// Set when this session owns its master (no reuse): stop it at the end.
    owned_master: Option<(Arc<openssh::Session>, PathBuf)>,
}

/// The control sockets of the masters this process owns (no reuse), so that
/// a signal can stop them at once rather than leave them to idle out.
static OWNED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Stops every master this process started for itself alone. Called from
/// the signal path, so it takes no lock a signalled thread could hold for
/// long and runs `ssh -O exit` rather than an async runtime.
pub fn stop_owned_masters() {
    let owned = std::mem::take(&mut *OWNED.lock().unwrap_or_else(|e| e.into_inner()));
    for ctl in owned {
        let _ = Command::new("ssh")
            .arg("-S")
            .arg(&ctl)
            .args(["-O", "exit", "pushy-master"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(&ctl);
    }
}

impl RemoteProcess {
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<i32> {
        if self.status.is_some() {
            return self.status;
        }
        let child = self.child.take()?;
        let session = child.session();
        let status = self.runtime.block_on(async { tokio::time::timeout(limit, child.wait()).await });
        self.status = match status {
            Ok(Ok(status)) => super::exit_code(status),
            // The mux protocol reports a signal death without its number,
            // and the same way as a lost connection: a master still alive
            // tells them apart.
            Ok(Err(openssh::Error::RemoteProcessTerminated)) => {
                self.runtime.block_on(session.check()).ok().map(|_| super::KILLED_BY_SIGNAL)
            }
            _ => None,
        };
        self.status
    }

    pub fn finish(&mut self) {
        if let Some((master, ctl)) = self.owned_master.take() {
            if let Some(child) = self.child.take() {
                let _ = self.runtime.block_on(child.disconnect());
            }
            if let Ok(master) = Arc::try_unwrap(master) {
                let _ = self.runtime.block_on(master.close());
            }
            OWNED.lock().unwrap_or_else(|e| e.into_inner()).retain(|c| *c != ctl);
        }
    }
}

/// Starts `command` (a shell line) on `target`, starting a master if needed.
pub(super) fn open(target: &SshTarget, options: &ConnectOptions, command: &str) -> Result<Channel> {
    let command = command.to_string();
    let dir = control_dir()?;
    let shared = socket_path(&dir, target);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the I/O runtime: {e}")))?;

    // Concurrent pushy runs (xargs -P, make -j) must not each start a master
    // for the same destination: the one holding the lock starts it, the
    // others then find its socket.
    let _lock = if options.reuse == Reuse::Keep { Some(MasterLock::take(&shared)?) } else { None };
    if options.reuse != Reuse::Never && shared.exists() {
        match spawn(&runtime, &shared, &command) {
            Ok(channel) => return Ok(finish_channel(channel, runtime, None)),
            // A live master that refused a channel (MaxSessions): its socket
            // stays, it serves other runs; this one gets a master of its own.
            Err(_) if master_alive(&runtime, &shared) => {
                return own_master(target, options, runtime, &dir, &shared, &command);
            }
            // A socket whose master died: replace it.
            Err(_) => {
                let _ = std::fs::remove_file(&shared);
            }
        }
    }
    if options.reuse == Reuse::Keep {
        start_master(target, options, &shared)?;
        let channel = spawn(&runtime, &shared, &command).map_err(|e| channel_error(&target.destination, &e))?;
        return Ok(finish_channel(channel, runtime, None));
    }
    own_master(target, options, runtime, &dir, &shared, &command)
}

/// A master of this session's own, ended with it.
fn own_master(
    target: &SshTarget,
    options: &ConnectOptions,
    runtime: tokio::runtime::Runtime,
    dir: &Path,
    shared: &Path,
    command: &str,
) -> Result<Channel> {
    let name = format!("{}-{}", shared.file_name().unwrap_or_default().to_string_lossy(), std::process::id());
    let ctl = dir.join(name);
    start_master(target, options, &ctl)?;
    OWNED.lock().unwrap_or_else(|e| e.into_inner()).push(ctl.clone());
    let channel = match spawn(&runtime, &ctl, command) {
        Ok(channel) => channel,
        Err(e) => {
            stop_owned_masters();
            return Err(channel_error(&target.destination, &e));
        }
    };
    let owned = Some((channel.0.session(), ctl));
    Ok(finish_channel(channel, runtime, owned))
}

fn channel_error(host: &str, e: &openssh::Error) -> Error {
    Error::new(ErrorKind::Connection, format!("cannot open a channel to {host}: {e}"))
}

/// Does a master answer on `ctl`?
fn master_alive(runtime: &tokio::runtime::Runtime, ctl: &Path) -> bool {
    let session = openssh::Session::resume_mux(ctl.to_path_buf().into_boxed_path(), None);
    let alive = runtime.block_on(session.check()).is_ok();
    let _ = session.detach();
    alive
}

/// An exclusive lock on `CTL.lock`, held while a run looks for a master and
/// starts one. The holder removes the file before it lets go, so nothing is
/// left in the control directory; a run that locked a file removed under it
/// tries again on the new one.
struct MasterLock {
    path: PathBuf,
    _file: File,
}

impl MasterLock {
    fn take(ctl: &Path) -> Result<MasterLock> {
        let path = ctl.with_extension("lock");
        let failed =
            |e: &dyn std::fmt::Display| Error::new(ErrorKind::Io, format!("cannot lock {}: {e}", path.display()));
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| failed(&e))?;
            rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(|e| failed(&e))?;
            let held = rustix::fs::fstat(&file).map_err(|e| failed(&e))?;
            match rustix::fs::stat(&path) {
                Ok(now) if (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino) => {
                    return Ok(MasterLock { path, _file: file })
                }
                _ => continue, // removed by the run before us: lock the new one
            }
        }
    }
}

impl Drop for MasterLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

type Spawned = (openssh::Child<Arc<openssh::Session>>, File, File, StderrTail);

fn finish_channel(
    spawned: Spawned,
    runtime: tokio::runtime::Runtime,
    owned: Option<(Arc<openssh::Session>, PathBuf)>,
) -> Channel {
    let (child, stdin, stdout, stderr) = spawned;
    let process = RemoteProcess { runtime, child: Some(child), status: None, owned_master: owned };
    Channel { stdin, stdout, stderr, process: Process::Ssh(Box::new(process)) }
}

/// Runs a small shell command on the host (over the master an earlier
/// channel left) and returns its stdout; empty if anything fails.
pub(super) fn capture(target: &SshTarget, command: &str) -> String {
    let Ok(dir) = control_dir() else { return String::new() };
    let shared = socket_path(&dir, target);
    let own = dir.join(format!("{}-{}", shared.file_name().unwrap_or_default().to_string_lossy(), std::process::id()));
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return String::new();
    };
    for ctl in [shared, own] {
        if let Ok((child, stdin, mut stdout, _)) = spawn(&runtime, &ctl, command) {
            drop(stdin);
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
            let _ = runtime.block_on(child.wait());
            return text;
        }
    }
    String::new()
}

/// Opens a channel on the master at `ctl`, with our own pipes as its stdio.
fn spawn(runtime: &tokio::runtime::Runtime, ctl: &Path, command: &str) -> Result<Spawned, openssh::Error> {
    let (in_read, in_write) = std::io::pipe().map_err(openssh::Error::ChildIo)?;
    let (out_read, out_write) = std::io::pipe().map_err(openssh::Error::ChildIo)?;
    let (err_read, err_write) = std::io::pipe().map_err(openssh::Error::ChildIo)?;
    let session = Arc::new(openssh::Session::resume_mux(ctl.to_path_buf().into_boxed_path(), None));
    let child = runtime.block_on(async {
        let mut cmd = session.arc_raw_command(command);
        cmd.stdin(OwnedFd::from(in_read)).stdout(OwnedFd::from(out_write)).stderr(OwnedFd::from(err_write));
        let child = cmd.spawn().await;
        // The remote ends now live in the master; ours must close, or we
        // would never see end-of-file on the channel.
        drop(cmd);
        child
    })?;
    let stdin = File::from(OwnedFd::from(in_write));
    let stdout = File::from(OwnedFd::from(out_read));
    super::widen_pipe(&stdout);
    super::widen_pipe(&stdin);
    Ok((child, stdin, stdout, StderrTail::collect(err_read)))
}

/// Runs `ssh -M -f -N` and waits until it has authenticated and backgrounded.
///
/// On a terminal, ssh may need to ask something (a password, a passphrase, a
/// new host key). Asked by several masters at once (many hosts), those
/// prompts would interleave and answers would go astray. So every master
/// first tries without prompting (`BatchMode`), all in parallel; one that
/// needs an answer then asks, one host at a time, after a line naming it.
fn start_master(target: &SshTarget, options: &ConnectOptions, ctl: &Path) -> Result<()> {
    /// One prompt on the terminal at a time, for the whole process.
    static PROMPT: Mutex<()> = Mutex::new(());
    if !has_terminal() {
        // Nobody could answer a prompt: fail instead of waiting for ever
        // (unless the user's own -o BatchMode=no says otherwise: askpass).
        return run_master(target, options, ctl, Batch::Default).map_err(|log| connect_error(target, &log));
    }
    match run_master(target, options, ctl, Batch::Forced) {
        Ok(()) => Ok(()),
        Err(log) if wants_an_answer(&log) => {
            let _turn = PROMPT.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!("pushy: connecting to {}: ssh asks", target.destination);
            run_master(target, options, ctl, Batch::Off).map_err(|log| connect_error(target, &log))
        }
        Err(log) => Err(connect_error(target, &log)),
    }
}

/// Did ssh fail for want of a prompt it was not allowed to show?
fn wants_an_answer(log: &str) -> bool {
    let changed = log.contains("IDENTIFICATION HAS CHANGED");
    !changed && (log.contains("Permission denied") || log.contains("Host key verification failed"))
}

/// Whether a master run may prompt.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Batch {
    /// Never, whatever the user's flags say (the parallel first attempt).
    Forced,
    /// Not unless the user's flags allow it (no terminal: askpass at most).
    Default,
    /// As the user's ssh would (one host at a time).
    Off,
}

/// One `ssh -M` run; its log (what ssh said) if it failed.
fn run_master(
    target: &SshTarget,
    options: &ConnectOptions,
    ctl: &Path,
    batch: Batch,
) -> std::result::Result<(), String> {
    let log = ctl.with_extension("log");
    let log_file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&log)
        .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let persist = match options.reuse {
        Reuse::Keep => format!("{}s", options.persist.as_secs().max(1)),
        Reuse::Attach | Reuse::Never => OWN_PERSIST.into(),
    };
    let mut cmd = Command::new("ssh");
    cmd.args(["-M", "-f", "-N", "-S"]).arg(ctl).arg("-E").arg(&log);
    if batch == Batch::Forced {
        // Before the user's flags: for ssh the first value given wins, and
        // this attempt must never prompt.
        cmd.args(["-o", "BatchMode=yes"]);
    }
    // The user's flags next, so they win over ours below.
    cmd.args(target.ssh_args());
    if batch == Batch::Default {
        cmd.args(["-o", "BatchMode=yes"]);
    }
    cmd.args(["-o", &format!("ControlPersist={persist}")]);
    cmd.args(["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]);
    if let Some(limit) = options.connect_timeout {
        cmd.args(["-o", &format!("ConnectTimeout={}", limit.as_secs().max(1))]);
    }
    cmd.arg("--").arg(&target.destination);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::from(log_file));
    let status = cmd.status();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(SSH_MISSING.to_string()),
        Err(e) => Err(format!("cannot run ssh: {e}")),
    }
}

/// What `run_master` says when there is no ssh to run.
const SSH_MISSING: &str = "ssh is not installed (not found in PATH)";

/// Is there a terminal ssh could prompt on?
fn has_terminal() -> bool {
    OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok()
}

/// One line from ssh's log that says why, and what to do about it.
fn connect_error(target: &SshTarget, log: &str) -> Error {
    if log == SSH_MISSING {
        return Error::new(ErrorKind::Connection, SSH_MISSING)
            .with_hint("install the OpenSSH client, or use the local: target");
    }
    let host = target.destination.as_str();
    // The command to paste: the user's own -F, -p, -l, -i, -J and -o, so it
    // fails the same way.
    let mut words: Vec<String> = target.ssh_args().iter().map(|w| shell_word(w)).collect();
    words.push(shell_word(host));
    let ssh = format!("ssh {}", words.join(" "));
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('@') && !l.starts_with("Warning: Permanently added"))
        .collect();
    let pick = |needle: &str| lines.iter().find(|l| l.contains(needle)).copied();
    let (line, hint) = if let Some(l) = pick("REMOTE HOST IDENTIFICATION HAS CHANGED")
        .or_else(|| pick("Host key for"))
        .or_else(|| pick("host key").filter(|_| log.contains("Offending")))
    {
        (
            l.to_string(),
            format!(
                "the host key of {host} changed; if that is expected, remove the old one with `ssh-keygen -R {host}`"
            ),
        )
    } else if log.contains("IDENTIFICATION HAS CHANGED") || log.contains("Offending") {
        (
            "host key has changed".to_string(),
            format!("if that is expected, remove the old key with `ssh-keygen -R {host}`"),
        )
    } else if let Some(l) = pick("No ").filter(|l| l.contains("host key is known")) {
        (l.to_string(), format!("connect once with `{ssh}` to check and accept its key"))
    } else if let Some(l) = pick("Host key verification failed") {
        (l.to_string(), format!("check the host key of {host} with `{ssh}`"))
    } else if let Some(l) = pick("Permission denied") {
        (l.to_string(), format!("authentication failed: check that `{ssh}` logs in (key, agent, -l USER, -i KEY)"))
    } else if let Some(l) = pick("Connection refused") {
        (l.to_string(), "nothing accepts ssh connections there: check the host and port (-p)".to_string())
    } else if let Some(l) = pick("Could not resolve hostname") {
        (l.to_string(), "check the host name, or its alias in your ssh config".to_string())
    } else if let Some(l) = pick("timed out") {
        (l.to_string(), "the host did not answer: check the address, or raise --connect-timeout".to_string())
    } else {
        let last = lines.last().copied().unwrap_or("ssh failed without a message");
        (last.to_string(), format!("run `ssh -v {}` to see why", words.join(" ")))
    };
    // What else ssh (or a ProxyCommand) said is often the real reason.
    let others: Vec<&str> = lines.iter().copied().filter(|l| *l != line).take(5).collect();
    let mut message = format!("cannot connect to {host}: {line}");
    if !others.is_empty() {
        message.push_str(&format!(" (ssh also said: {})", others.join("; ")));
    }
    Error::new(ErrorKind::Connection, message).with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_failures_read_as_one_line_with_a_hint() {
        let h = SshTarget::parse("h").unwrap();
        let e = connect_error(&h, "ssh: connect to host 127.0.0.1 port 1: Connection refused\n");
        assert!(e.to_string().contains("Connection refused"), "{e}");
        assert!(e.hint().unwrap().contains("-p"));
        let e = connect_error(&h, "me@h: Permission denied (publickey).\n");
        assert!(e.hint().unwrap().contains("authentication"));
        let changed = "@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@\nOffending ED25519 key in /k:1\nHost key verification failed.\n";
        let e = connect_error(&h, changed);
        assert!(e.hint().unwrap().contains("ssh-keygen -R h"), "{:?}", e.hint());
    }

    #[test]
    fn a_proxy_commands_words_reach_the_user_and_hints_keep_the_flags() {
        let mut h = SshTarget::parse("web1").unwrap();
        h.config = Some("/my cfg".into());
        h.port = Some(2222);
        h.jump = Some("bastion".into());
        let log = "vpn-helper: the VPN is down, run `vpn up` first\nConnection closed by UNKNOWN port 65535\n";
        let e = connect_error(&h, log);
        assert!(e.to_string().contains("the VPN is down"), "{e}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
        let hint = e.hint().unwrap();
        assert!(hint.contains("ssh -v -F '/my cfg' -p 2222 -J bastion web1"), "{hint}");
    }
}
