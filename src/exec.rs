//! `pushy exec HOST CODE` and `pushy run HOST SCRIPT` on one host: the job's
//! output streams to ours as it comes, then its value, for a person or a
//! script. Many hosts go to [`crate::fanout`]; both run [`run_job`].

use std::io::{IsTerminal, Write};

use pushy::printer::{json, Format};
use pushy::Event;

use crate::exit_code::ExitCode;
use crate::interrupt::CtrlC;
use crate::job::{run_job, Outcome};
use crate::output::{self, Sink};
use crate::plan::JobPlan;
use crate::terminal;

/// Runs a job plan: one host here, many in `fanout`.
pub fn run(plan: JobPlan) -> pushy::Result<ExitCode> {
    if plan.many {
        return crate::fanout::run(&plan);
    }
    let (_, target) = &plan.targets[0];
    one_host(target, plan.connect_for(0), &plan)
}

fn one_host(target: &pushy::Target, connect: &pushy::ConnectOptions, plan: &JobPlan) -> pushy::Result<ExitCode> {
    let (job, printer) = (&plan.job, &plan.printer);
    let ctrl_c = CtrlC::install();
    let mut sink = Sink::new(printer, job.test);
    let outcome = run_job(target, connect, job, Some(&ctrl_c), &mut |event| match event {
        // Our stdin is a terminal: the code reads its lines as it asks.
        Event::Read { prompt, echo, line } => {
            sink.flush()?;
            *line = terminal::read_line(prompt, echo, &|| ctrl_c.fired());
            Ok(())
        }
        Event::Page(text) if std::io::stdout().is_terminal() => {
            sink.flush()?;
            ctrl_c.paging(|| terminal::page(text));
            Ok(())
        }
        event => sink.event(event),
    });
    let outcome = match outcome {
        Err(_) if output::stdout_closed() => return Ok(ExitCode::Success), // `| head`: end quietly
        other => other?,
    };
    let status = match outcome {
        Outcome::Value(_, truth) if job.test => test_status(truth),
        Outcome::Value(value, _) => {
            // Rendered from the tokens as they arrived: a big value is never
            // a tree here, and its text goes out in chunks.
            let mut out = std::io::stdout().lock();
            let written = printer.write_encoded(value, &mut out)?;
            match output::checked(written.and_then(|_| out.flush())) {
                Err(_) if output::stdout_closed() => return Ok(ExitCode::Success), // `| head`
                other => other?,
            }
            ExitCode::Success
        }
        Outcome::NoValue if printer.format == Format::Json && !job.test && job.mode == pushy::Mode::Auto => {
            // Statements: `null`, so a script always reads one document.
            output::write_stdout(b"null\n")?;
            ExitCode::Success
        }
        Outcome::NoValue | Outcome::Streamed => {
            match output::checked(std::io::stdout().flush()) {
                Err(_) if output::stdout_closed() => {} // `| head`
                other => other?,
            }
            ExitCode::Success
        }
        Outcome::Exit(code) => ExitCode::Exit(code.clamp(0, 255) as u8),
        Outcome::TimedOut(limit, hung_up) => {
            // Our own interrupt, not the user's error: no traceback.
            let how = if hung_up { " (the code did not stop within 5 s of the interrupt: pushy hung up)" } else { "" };
            eprintln!("pushy: timed out after {} s{how}", limit.as_secs_f64());
            ExitCode::Timeout
        }
        Outcome::Interrupted(error) => {
            // Where Ctrl-C stopped the code, as CPython shows it.
            let _ = std::io::stderr().write_all(error.traceback.as_bytes());
            ExitCode::Interrupted
        }
        Outcome::Raised(error) => {
            let _ = std::io::stderr().write_all(error.traceback.as_bytes());
            if printer.format == Format::Json && !job.test {
                output::write_stdout(json::error_record(&error).as_bytes())?;
            }
            ExitCode::Raised
        }
    };
    Ok(status)
}

/// `--test`: the value's truth is the status.
fn test_status(truth: Option<bool>) -> ExitCode {
    if truth.unwrap_or(false) {
        ExitCode::Success
    } else {
        ExitCode::Raised
    }
}
