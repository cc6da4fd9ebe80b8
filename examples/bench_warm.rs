//! The warm round-trip case of `bench/run`: one `pushy::Session`, N trivial
//! evaluations, the time per call.
//!
//! ```text
//! cargo run --release --example bench_warm -- [-F CONFIG] [--no-reuse] HOST [N] [CODE]
//! ```
//!
//! Connects once (not timed), evaluates CODE (default `1`) N times (default
//! 2000) back to back, and prints one line:
//!
//! ```text
//! connect_ms=212.4 calls=2000 total_ms=301.2 us_per_call=150.6
//! ```
//!
//! Arguments are parsed by hand so that the example needs no dependencies
//! beyond the library. Exit status 1 (with the error on stderr) if anything
//! fails, including an evaluation that does not return the expected value.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use pushy::{ConnectOptions, Reuse, Session, Target, Value};

const USAGE: &str = "usage: bench_warm [-F CONFIG] [--no-reuse] HOST [N] [CODE]";

struct Args {
    config: Option<PathBuf>,
    reuse: bool,
    host: String,
    calls: u32,
    code: String,
}

fn parse_args() -> Result<Args, String> {
    let mut config = None;
    let mut reuse = true;
    let mut positional = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-F" => config = Some(PathBuf::from(args.next().ok_or("-F needs a file")?)),
            "--no-reuse" => reuse = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            _ if arg.starts_with('-') && arg.len() > 1 && positional.is_empty() => {
                return Err(format!("unknown option {arg}\n{USAGE}"))
            }
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let host = positional.next().ok_or(USAGE)?;
    let calls = match positional.next() {
        Some(n) => n.parse().map_err(|_| format!("bad N {n:?}\n{USAGE}"))?,
        None => 2000,
    };
    let code = positional.next().unwrap_or_else(|| "1".to_string());
    if positional.next().is_some() {
        return Err(USAGE.to_string());
    }
    Ok(Args { config, reuse, host, calls, code })
}

fn run(args: &Args) -> pushy::Result<()> {
    let mut target = Target::parse(&args.host)?;
    if let Target::Ssh(ssh) = &mut target {
        ssh.config = args.config.clone();
    }
    // The CLI's default (reuse a master, leave it for the next run), or
    // with --no-reuse a master of this session's own.
    let reuse = if args.reuse { Reuse::Keep } else { Reuse::Never };
    let options = ConnectOptions { reuse, ..ConnectOptions::default() };

    let start = Instant::now();
    let mut session = Session::connect_with(&target, &options)?;
    let connect = start.elapsed();

    // The first evaluation checks the answer; the loop only times.
    let first = session.eval(&args.code)?;
    if args.code == "1" && first != Value::Int(1) {
        return Err(pushy::Error::new(pushy::ErrorKind::Protocol, format!("eval(\"1\") returned {first:?}")));
    }

    let start = Instant::now();
    for _ in 0..args.calls {
        session.eval(&args.code)?;
    }
    let total = start.elapsed();
    session.close()?;

    let us = total.as_secs_f64() * 1e6 / f64::from(args.calls.max(1));
    println!(
        "connect_ms={:.1} calls={} total_ms={:.1} us_per_call={:.1}",
        connect.as_secs_f64() * 1e3,
        args.calls,
        total.as_secs_f64() * 1e3,
        us
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_warm: {e}");
            ExitCode::FAILURE
        }
    }
}
