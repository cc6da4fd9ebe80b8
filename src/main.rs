//! The `pushy` binary: parse the command line, run a front end, turn the
//! outcome into an exit status. Errors are printed once, here, as one line
//! behind the program name, with a hint line when pushy knows what to do.

mod argv;
mod cli;
mod copy;
mod exec;
mod exit_code;
mod fanout;
mod generate;
mod hosts;
mod interrupt;
mod inventory;
mod job;
mod output;
mod password;
mod plan;
mod pty;
mod repl;
mod signals;
mod terminal;

use std::io::Write;

use clap::{CommandFactory, FromArgMatches};
use colored::Colorize;

use cli::Cli;
use exit_code::ExitCode;
use plan::Plan;

fn main() -> std::process::ExitCode {
    // One clap definition serves both reading the words and parsing them.
    let command = Cli::command();
    let args = argv::normalize(std::env::args_os().collect(), &command);
    let cli = command
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .unwrap_or_else(|e| e.exit());
    // One thread handles SIGINT, SIGTERM and SIGHUP for the whole run, from
    // before anything can prompt on the terminal.
    interrupt::CtrlC::install();
    // The printer decides per stream whether to colour; `colored` must not
    // second-guess it from the environment.
    colored::control::set_override(true);
    let color = cli.color;
    let result = Plan::from_cli(cli).and_then(|plan| match plan {
        Plan::Generate(kind) => generate::run(kind)
            .map(|()| ExitCode::Success)
            .map_err(|e| pushy::Error::new(pushy::ErrorKind::Io, format!("cannot write: {e}"))),
        Plan::Job(job) => exec::run(job),
        Plan::Repl(repl) => repl::run(repl),
        Plan::Copy(copy) => copy::run(copy),
        Plan::Disconnect(targets) => disconnect(&targets),
        Plan::ListHosts(hosts) | Plan::CompleteHosts(hosts) => {
            let list: String = hosts.iter().map(|h| format!("{h}\n")).collect();
            output::write_stdout(list.as_bytes()).map(|()| ExitCode::Success)
        }
    });
    let status = match result {
        Ok(status) => status,
        Err(error) => {
            report(&error, terminal::stderr_color(color));
            ExitCode::for_error(error.kind())
        }
    };
    signals::let_a_signal_finish();
    if status == ExitCode::Interrupted {
        // Ctrl-C stopped the remote call and the session is closed: now die
        // by SIGINT, so a calling shell's loop stops too.
        signals::interrupted();
    }
    std::process::ExitCode::from(status.code())
}

/// `pushy disconnect HOST...`: stop the reusable ssh masters now.
fn disconnect(targets: &[pushy::Target]) -> pushy::Result<ExitCode> {
    for target in targets {
        if let pushy::Target::Ssh(ssh) = target {
            pushy::disconnect(ssh)?;
        }
    }
    Ok(ExitCode::Success)
}

/// Prints an error as `pushy: error: ...` and an optional `pushy: hint: ...`.
fn report(error: &pushy::Error, color: bool) {
    let mut err = std::io::stderr().lock();
    let label = if color { "error:".red().bold().to_string() } else { "error:".to_string() };
    let _ = writeln!(err, "pushy: {label} {error}");
    if let Some(hint) = error.hint() {
        let label = if color { "hint:".cyan().to_string() } else { "hint:".to_string() };
        let _ = writeln!(err, "pushy: {label} {hint}");
    }
}
