//! `pushy exec H1,H2,... CODE`: one job on many hosts, `--forks` at a time,
//! each on its own connection. One failing host never stops the others.
//!
//! Pretty output labels each host (`web1: value`), in the order the hosts
//! were given, as soon as a host and all hosts before it are done;
//! `--collapse` folds identical results. `--json` writes one JSON line per
//! host as each finishes. Each host runs [`run_job`], as one host does, so
//! `--timeout` (per host), `--test`, `-v`, `--raw` and `--json` mean the
//! same. The exit status: 255 if any host could not be reached, else 1 if
//! any raised (or, with `--test`, was falsy), else 124 if any timed out,
//! else 0.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use pushy::printer::{json, Format, Printer};
use pushy::value::SeqKind;
use pushy::{ConnectOptions, Error, Event, Stream, Target, Value};

use crate::exit_code::ExitCode;
use crate::job::{run_job, Outcome};
use crate::plan::{Job, JobPlan};

/// How one host ended: the job's outcome, or why it never ran.
enum HostOutcome {
    Ran(Outcome),
    Failed(Error),
}

/// One host's result and the output its code produced.
struct HostResult {
    host: String,
    output: Vec<(Stream, Vec<u8>)>,
    outcome: HostOutcome,
}

/// Runs the plan's job on every target, `forks` at a time.
pub fn run(plan: &JobPlan) -> pushy::Result<ExitCode> {
    let count = plan.targets.len();
    let queue = Arc::new(Mutex::new(plan.targets.iter().cloned().enumerate().collect::<VecDeque<_>>()));
    let (done, results) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..plan.fleet.forks.clamp(1, count.max(1)) {
            let queue = Arc::clone(&queue);
            let done = done.clone();
            scope.spawn(move || loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some((index, (host, target))) = next else { break };
                let result = run_one(host, &target, &plan.connect, &plan.job);
                if done.send((index, result)).is_err() {
                    break;
                }
            });
        }
        drop(done);
        report(results, count, &plan.printer, plan.fleet.collapse, plan.job.test)
    })
}

fn run_one(host: String, target: &Target, connect: &ConnectOptions, job: &Job) -> HostResult {
    let mut output = Vec::new();
    let mut items = Vec::new();
    let outcome = run_job(target, connect, job, None, &mut |event| {
        match event {
            Event::Output(stream, bytes) => output.push((stream, bytes.to_vec())),
            Event::Item(value) => items.push(value),
            // Bytes stream only for one host; echoes only in the REPL.
            Event::Flush | Event::Bytes(_) | Event::Echo(_) => {}
        }
        Ok(())
    });
    let outcome = match outcome {
        // Streamed items from many hosts are gathered into a list per host.
        Ok(Outcome::Streamed) => HostOutcome::Ran(Outcome::Value(Value::Seq(SeqKind::List, items, None), None)),
        Ok(outcome) => HostOutcome::Ran(outcome),
        Err(e) => HostOutcome::Failed(e),
    };
    HostResult { host, output, outcome }
}

/// Prints results as they allow and returns the summary status: 255 if a
/// host could not be reached, else 1 if one raised, exited non-zero or (with
/// `--test`) was falsy, else 124 if one timed out, else 0.
fn report(
    results: mpsc::Receiver<(usize, HostResult)>,
    count: usize,
    printer: &Printer,
    collapse: bool,
    test: bool,
) -> pushy::Result<ExitCode> {
    let (mut failed, mut raised, mut timed_out) = (false, false, false);
    let mut pending = BTreeMap::new();
    let mut next = 0;
    let mut collapsed: Vec<(String, Vec<String>, bool)> = Vec::new();
    for (index, result) in results {
        match &result.outcome {
            HostOutcome::Failed(_) => failed = true,
            HostOutcome::Ran(Outcome::Raised(_) | Outcome::Interrupted) => raised = true,
            HostOutcome::Ran(Outcome::Exit(code)) if *code != 0 => raised = true,
            HostOutcome::Ran(Outcome::Value(_, Some(false))) if test => raised = true,
            HostOutcome::Ran(Outcome::TimedOut(_)) => timed_out = true,
            _ => {}
        }
        if printer.format == Format::Json {
            write_out(json_line(&result, test).as_bytes())?;
            continue;
        }
        pending.insert(index, result);
        while let Some(result) = pending.remove(&next) {
            next += 1;
            if collapse {
                let (text, is_error) = rendered(&result, printer, test);
                match collapsed.iter_mut().find(|(t, _, e)| *t == text && *e == is_error) {
                    Some((_, hosts, _)) => hosts.push(result.host),
                    None => collapsed.push((text, vec![result.host], is_error)),
                }
            } else {
                print_labelled(&result, printer, test)?;
            }
        }
    }
    for (text, hosts, is_error) in collapsed {
        if !text.is_empty() {
            labelled(&hosts.join(", "), &text, is_error)?;
        }
    }
    debug_assert!(next == count || printer.format == Format::Json || pending.is_empty());
    Ok(if failed {
        ExitCode::Connection
    } else if raised {
        ExitCode::Raised
    } else if timed_out {
        ExitCode::Timeout
    } else {
        ExitCode::Success
    })
}

/// The text shown for a host, and whether it goes to stderr. With `--test`
/// a value shows nothing, as for one host: the status says it.
fn rendered(result: &HostResult, printer: &Printer, test: bool) -> (String, bool) {
    match &result.outcome {
        HostOutcome::Ran(Outcome::Value(..)) if test => (String::new(), false),
        HostOutcome::Ran(Outcome::Value(value, _)) => {
            (String::from_utf8_lossy(&printer.value(value)).trim_end().to_string(), false)
        }
        HostOutcome::Ran(Outcome::NoValue | Outcome::Streamed) => (String::new(), false),
        HostOutcome::Ran(Outcome::Exit(code)) => (format!("exited with status {code}"), *code != 0),
        HostOutcome::Ran(Outcome::Raised(e)) => (e.traceback.trim_end().to_string(), true),
        HostOutcome::Ran(Outcome::TimedOut(limit)) => (format!("timed out after {} s", limit.as_secs_f64()), true),
        HostOutcome::Ran(Outcome::Interrupted) => ("interrupted".to_string(), true),
        HostOutcome::Failed(e) => {
            let hint = e.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default();
            (format!("error: {e}{hint}"), true)
        }
    }
}

fn print_labelled(result: &HostResult, printer: &Printer, test: bool) -> pushy::Result<()> {
    for (stream, bytes) in &result.output {
        let text = String::from_utf8_lossy(bytes);
        for line in text.lines() {
            let labelled = format!("{}| {line}\n", result.host);
            match stream {
                Stream::Stdout => write_out(labelled.as_bytes())?,
                Stream::Stderr => {
                    let _ = std::io::stderr().write_all(labelled.as_bytes());
                }
            }
        }
    }
    let (text, is_error) = rendered(result, printer, test);
    if !text.is_empty() || matches!(result.outcome, HostOutcome::Ran(Outcome::Value(..)) if !test) {
        labelled(&result.host, &text, is_error)?;
    }
    Ok(())
}

/// `host: text` on one line, or the label alone and the text indented
/// under it when the text has several lines.
fn labelled(label: &str, text: &str, to_stderr: bool) -> pushy::Result<()> {
    let out = if text.contains('\n') {
        let body: Vec<String> = text.lines().map(|l| format!("    {l}")).collect();
        format!("{label}:\n{}\n", body.join("\n"))
    } else {
        format!("{label}: {text}\n")
    };
    if to_stderr {
        let _ = std::io::stderr().write_all(out.as_bytes());
        Ok(())
    } else {
        write_out(out.as_bytes())
    }
}

/// `{"host": ..., "ok": true, "value": ...}` or `{"host": ..., "ok": false, "error": {...}}`;
/// with `--test`, `ok` is the value's truth and there is no value.
fn json_line(result: &HostResult, test: bool) -> String {
    let host = serde_json::to_string(&result.host).expect("a str serialises");
    let mut output = String::new();
    for (name, wanted) in [("stdout", Stream::Stdout), ("stderr", Stream::Stderr)] {
        let bytes: Vec<u8> =
            result.output.iter().filter(|(s, _)| *s == wanted).flat_map(|(_, b)| b.iter().copied()).collect();
        if !bytes.is_empty() {
            let text = serde_json::to_string(&String::from_utf8_lossy(&bytes)).expect("a str serialises");
            output.push_str(&format!(",\"{name}\":{text}"));
        }
    }
    let s = |text: &str| serde_json::to_string(text).expect("a str serialises");
    let line = match &result.outcome {
        HostOutcome::Ran(Outcome::Value(_, truth)) if test => {
            format!("{{\"host\":{host},\"ok\":{}{output}}}", truth.unwrap_or(false))
        }
        HostOutcome::Ran(Outcome::Value(value, _)) => {
            format!("{{\"host\":{host},\"ok\":true,\"value\":{}{output}}}", json::render(value))
        }
        HostOutcome::Ran(Outcome::NoValue | Outcome::Streamed) => {
            format!("{{\"host\":{host},\"ok\":true,\"value\":null{output}}}")
        }
        HostOutcome::Ran(Outcome::Exit(code)) => format!("{{\"host\":{host},\"ok\":{},\"exit\":{code}{output}}}", *code == 0),
        HostOutcome::Ran(Outcome::Raised(e)) => format!(
            "{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"raised\",\"type\":{},\"message\":{},\"traceback\":{}}}{output}}}",
            s(&e.type_name),
            s(&e.message),
            s(&e.traceback)
        ),
        HostOutcome::Ran(Outcome::TimedOut(limit)) => format!(
            "{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"timeout\",\"seconds\":{}}}{output}}}",
            limit.as_secs_f64()
        ),
        HostOutcome::Ran(Outcome::Interrupted) => {
            format!("{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"interrupted\"}}{output}}}")
        }
        HostOutcome::Failed(e) => format!(
            "{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"connection\",\"message\":{},\"hint\":{}}}}}",
            s(&e.to_string()),
            e.hint().map(s).unwrap_or_else(|| "null".into())
        ),
    };
    line + "\n"
}

fn write_out(bytes: &[u8]) -> pushy::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
