//! `local:`: the interpreter is a child process of ours, started without a
//! shell. Same stage 0 and frames as over ssh; only the pipe ends differ.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::{Argv, Channel, Process, StderrTail};
use crate::error::Result;

/// `Ok(None)` when the program does not exist.
pub(super) fn open(argv: &Argv) -> Result<Option<Channel>> {
    let Some((program, args)) = argv.0.split_first() else { return Ok(None) };
    let spawned = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C on the terminal reaches pushy,
        // which forwards it as an interrupt frame, never the interpreter.
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let stdin = File::from(OwnedFd::from(child.stdin.take().expect("piped")));
    let stdout = File::from(OwnedFd::from(child.stdout.take().expect("piped")));
    super::widen_pipe(&stdout);
    super::widen_pipe(&stdin);
    let stderr = StderrTail::collect(child.stderr.take().expect("piped"));
    Ok(Some(Channel { stdin, stdout, stderr, process: Process::Local(child) }))
}
