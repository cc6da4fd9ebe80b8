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
mod output;
mod password;
mod repl;
mod signals;
mod terminal;

use std::io::Write;

use clap::Parser;
use colored::Colorize;

use cli::{Cli, Command};
use exit_code::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse_from(argv::normalize(std::env::args_os().collect()));
    // One thread handles SIGINT, SIGTERM and SIGHUP for the whole run, from
    // before anything can prompt on the terminal.
    interrupt::CtrlC::install();
    // The printer decides per stream whether to colour; `colored` must not
    // second-guess it from the environment.
    colored::control::set_override(true);
    let color = cli.color;
    if let Some(kind) = cli.generate {
        return match generate::run(kind) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(_) => std::process::ExitCode::from(ExitCode::Raised.code()),
        };
    }
    let result = match cli.command {
        Some(Command::Exec(args)) => exec::run(args, color),
        Some(Command::Run(args)) => exec::run_script(args, color),
        Some(Command::Disconnect(args)) => disconnect(args),
        Some(Command::Cp(args)) => copy::run(args),
        None => match cli.host.as_deref() {
            Some(host) => repl::run(host, &cli.conn, color),
            None => Err(pushy::Error::new(pushy::ErrorKind::Usage, "no host given").with_hint("try `pushy local:`")),
        },
    };
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
fn disconnect(args: cli::DisconnectArgs) -> pushy::Result<ExitCode> {
    for spec in &args.hosts {
        for host in hosts::expand(spec)? {
            if let pushy::Target::Ssh(ssh) = args.conn.target(&host)? {
                pushy::disconnect(&ssh)?;
            }
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
