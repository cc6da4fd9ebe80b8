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
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use super::control::{control_dir, socket_path};
use super::{Channel, Process, StderrTail};
use crate::bootstrap::Launch;
use crate::error::{Error, ErrorKind, Result};
use crate::target::{ConnectOptions, Reuse, SshTarget};

/// How long a master owned by one session outlives it if pushy is killed
/// before it can stop the master itself.
const OWN_PERSIST: &str = "2s";

/// A command running on the host over a mux channel.
pub(crate) struct RemoteProcess {
    runtime: tokio::runtime::Runtime,
    child: Option<openssh::Child<Arc<openssh::Session>>>,
    status: Option<i32>,
    /// Set when this session owns its master (no reuse): stop it at the end.
    owned_master: Option<Arc<openssh::Session>>,
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
        if let Some(master) = self.owned_master.take() {
            if let Some(child) = self.child.take() {
                let _ = self.runtime.block_on(child.disconnect());
            }
            if let Ok(master) = Arc::try_unwrap(master) {
                let _ = self.runtime.block_on(master.close());
            }
        }
    }
}

/// Starts the interpreter command on `target`, starting a master if needed.
pub(super) fn open(target: &SshTarget, options: &ConnectOptions, launch: &Launch<'_>) -> Result<Channel> {
    let command = launch.command_line()?;
    let dir = control_dir()?;
    let shared = socket_path(&dir, target);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the I/O runtime: {e}")))?;

    if options.reuse != Reuse::Never && shared.exists() {
        match spawn(&runtime, &shared, &command) {
            Ok(channel) => return Ok(finish_channel(channel, runtime, None)),
            // A socket whose master died: replace it.
            Err(_) => {
                let _ = std::fs::remove_file(&shared);
            }
        }
    }
    let ctl = if options.reuse == Reuse::Keep {
        shared
    } else {
        let name = format!("{}-{}", shared.file_name().unwrap_or_default().to_string_lossy(), std::process::id());
        dir.join(name)
    };
    start_master(target, options, &ctl)?;
    let channel = spawn(&runtime, &ctl, &command).map_err(|e| {
        Error::new(ErrorKind::Connection, format!("cannot open a channel to {}: {e}", target.destination))
    })?;
    let owned = if options.reuse == Reuse::Keep { None } else { Some(channel.0.session()) };
    Ok(finish_channel(channel, runtime, owned))
}

type Spawned = (openssh::Child<Arc<openssh::Session>>, File, File, StderrTail);

fn finish_channel(spawned: Spawned, runtime: tokio::runtime::Runtime, owned: Option<Arc<openssh::Session>>) -> Channel {
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
fn start_master(target: &SshTarget, options: &ConnectOptions, ctl: &Path) -> Result<()> {
    let log = ctl.with_extension("log");
    let log_file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&log)
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot write {}: {e}", log.display())))?;
    let persist = match options.reuse {
        Reuse::Keep => format!("{}s", options.persist.as_secs().max(1)),
        Reuse::Attach | Reuse::Never => OWN_PERSIST.into(),
    };
    let mut cmd = Command::new("ssh");
    cmd.args(["-M", "-f", "-N", "-S"]).arg(ctl).arg("-E").arg(&log);
    // The user's flags first: for ssh the first value given for an option wins.
    cmd.args(target.ssh_args());
    cmd.args(["-o", &format!("ControlPersist={persist}")]);
    cmd.args(["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]);
    if let Some(limit) = options.connect_timeout {
        cmd.args(["-o", &format!("ConnectTimeout={}", limit.as_secs().max(1))]);
    }
    if !has_terminal() {
        // Nobody could answer a prompt: fail instead of waiting for ever.
        cmd.args(["-o", "BatchMode=yes"]);
    }
    cmd.arg("--").arg(&target.destination);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::from(log_file));
    let status = match cmd.status() {
        Ok(status) => status,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(ErrorKind::Connection, "ssh is not installed (not found in PATH)")
                .with_hint("install the OpenSSH client, or use the local: target"))
        }
        Err(e) => return Err(Error::new(ErrorKind::Connection, format!("cannot run ssh: {e}"))),
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    if status.success() {
        let _ = std::fs::remove_file(&log);
        return Ok(());
    }
    let _ = std::fs::remove_file(&log);
    Err(connect_error(&target.destination, &text))
}

/// Is there a terminal ssh could prompt on?
fn has_terminal() -> bool {
    OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok()
}

/// One line from ssh's log that says why, and what to do about it.
fn connect_error(host: &str, log: &str) -> Error {
    let lines: Vec<&str> = log.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('@')).collect();
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
        (l.to_string(), format!("connect once with `ssh {host}` to check and accept its key"))
    } else if let Some(l) = pick("Host key verification failed") {
        (l.to_string(), format!("check the host key of {host} with `ssh {host}`"))
    } else if let Some(l) = pick("Permission denied") {
        (l.to_string(), format!("authentication failed: check that `ssh {host}` logs in (key, agent, -l USER, -i KEY)"))
    } else if let Some(l) = pick("Connection refused") {
        (l.to_string(), "nothing accepts ssh connections there: check the host and port (-p)".to_string())
    } else if let Some(l) = pick("Could not resolve hostname") {
        (l.to_string(), "check the host name, or its alias in your ssh config".to_string())
    } else if let Some(l) = pick("timed out") {
        (l.to_string(), "the host did not answer: check the address, or raise --connect-timeout".to_string())
    } else {
        let last = lines.last().copied().unwrap_or("ssh failed without a message");
        (last.to_string(), format!("run `ssh -v {host}` to see why"))
    };
    Error::new(ErrorKind::Connection, format!("cannot connect to {host}: {line}")).with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_failures_read_as_one_line_with_a_hint() {
        let e = connect_error("h", "ssh: connect to host 127.0.0.1 port 1: Connection refused\n");
        assert!(e.to_string().contains("Connection refused"), "{e}");
        assert!(e.hint().unwrap().contains("-p"));
        let e = connect_error("h", "me@h: Permission denied (publickey).\n");
        assert!(e.hint().unwrap().contains("authentication"));
        let changed = "@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@\nOffending ED25519 key in /k:1\nHost key verification failed.\n";
        let e = connect_error("h", changed);
        assert!(e.hint().unwrap().contains("ssh-keygen -R h"), "{:?}", e.hint());
    }
}
