//! sudo's side of starting the interpreter (`--sudo`, `--become`): handing
//! it the password when a rule asks for one, and reading its refusals.
//! The password goes to sudo's stdin alone: never on a command line, in the
//! environment, in a log or in history.

use std::io::Write;
use std::time::Duration;

use crate::bootstrap::{self, Launch};
use crate::error::{Error, ErrorKind, Result};
use crate::target::{ConnectOptions, Target};
use crate::transport;

/// Starts `sudo -S` and hands it the password: only to sudo's stdin, never
/// on a command line or in the environment.
pub(crate) fn start_with_password(
    target: &Target,
    options: &ConnectOptions,
    launch: &Launch<'_>,
    name: &str,
) -> Result<transport::Channel> {
    let no_password = || {
        Error::new(ErrorKind::Connection, format!("sudo on {name} wants a password and there is no terminal to ask on"))
            .with_hint("run pushy from a terminal, or give the user a NOPASSWD sudo rule")
    };
    let source = options.password.as_ref().ok_or_else(no_password)?;
    let mut password = (source.0)().ok_or_else(no_password)?;
    let mut channel = transport::open(target, options, &launch.command()?)?
        .ok_or_else(|| Error::new(ErrorKind::Connection, "sudo is not installed here"))?;
    password.push('\n');
    let sent = channel.stdin.write_all(password.as_bytes()).and_then(|_| channel.stdin.flush());
    // Overwrite our copy now that sudo has it.
    // SAFETY: zero bytes are valid UTF-8.
    unsafe { password.as_bytes_mut().fill(0) };
    let stderr = channel.stderr.clone();
    match (sent, bootstrap::await_go(&mut channel.stdout, || stderr.text(Duration::ZERO), said_wrong_password)?) {
        (Ok(()), Ok(())) => Ok(channel),
        _ if said_wrong_password(&stderr.text(Duration::from_millis(300))) => {
            channel.process.finish();
            Err(Error::new(ErrorKind::Connection, format!("sudo on {name} refused the password"))
                .with_hint("check the password (pushy asks once per run)"))
        }
        _ => {
            let said = channel.stderr.text(Duration::from_millis(300));
            channel.process.finish();
            Err(failure(&said, name, options).unwrap_or_else(|| {
                Error::new(ErrorKind::Connection, format!("sudo on {name} did not start Python: {}", last_line(&said)))
            }))
        }
    }
}

fn said_wrong_password(stderr: &str) -> bool {
    stderr.contains("try again") || stderr.contains("incorrect password") || stderr.contains("Authentication failure")
}

fn last_line(text: &str) -> &str {
    text.lines().rev().find(|l| !l.trim().is_empty()).map(str::trim).unwrap_or("no message")
}

/// sudo's refusals, as one line with what to do next.
pub(crate) fn failure(stderr: &str, name: &str, options: &ConnectOptions) -> Option<Error> {
    let user = options.become_user.as_deref()?;
    let (message, hint) = if stderr.contains("must have a tty") || stderr.contains("requiretty") {
        (
            format!("sudo on {name} requires a terminal (requiretty)"),
            "allow it with `Defaults !requiretty` for this user",
        )
    } else if stderr.contains("not in the sudoers")
        || stderr.contains("not allowed to")
        || stderr.contains("may not run sudo")
    {
        (
            format!("sudo on {name} does not let this login run Python as {user}"),
            "add a sudoers rule, or drop --sudo/--become",
        )
    } else if said_wrong_password(stderr) {
        (format!("sudo on {name} refused the password"), "check the password (pushy asks once per run)")
    } else if stderr.contains("sudo: command not found") || stderr.contains("sudo: not found") {
        (format!("sudo is not installed on {name}"), "install sudo there, or drop --sudo/--become")
    } else if stderr.contains("password is required") {
        (format!("sudo on {name} wants a password"), "run pushy from a terminal, or give the user a NOPASSWD sudo rule")
    } else if stderr.contains("unknown user") {
        (format!("sudo on {name}: no user {user}"), "check the name given to --become")
    } else {
        return None;
    };
    Some(Error::new(ErrorKind::Connection, message).with_hint(hint))
}
