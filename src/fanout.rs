//! `pushy exec H1,H2,... CODE`: one job on many hosts, `--forks` at a time,
//! each on its own connection. One failing host never stops the others.
//!
//! Pretty output labels each host (`web1: value`), in the order the hosts
//! were given, as soon as a host and all hosts before it are done;
//! `--collapse` folds identical results. `--json` writes one JSON line per
//! host as each finishes. The exit status: 255 if any host could not be
//! reached, else 1 if any raised, else 0.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use pushy::printer::{json, Format, Printer};
use pushy::{ConnectOptions, Error, Event, RemoteError, Reply, Request, Session, Stream, Target, Value};

use crate::exec::Job;
use crate::exit_code::ExitCode;

/// How one host ended.
enum Outcome {
    Value(Value),
    NoValue,
    Raised(RemoteError),
    Exit(i32),
    Failed(Error),
}

/// One host's result and the output its code produced.
struct HostResult {
    host: String,
    output: Vec<(Stream, Vec<u8>)>,
    outcome: Outcome,
}

/// Runs `job` on every target.
pub fn run(
    targets: Vec<(String, Target)>,
    options: &ConnectOptions,
    job: &Job,
    printer: &Printer,
    forks: usize,
    collapse: bool,
) -> pushy::Result<ExitCode> {
    let count = targets.len();
    // Values print indented under their host's label.
    let mut printer = *printer;
    printer.pretty.width = printer.pretty.width.saturating_sub(4).max(20);
    let printer = &printer;
    let queue = Arc::new(Mutex::new(targets.into_iter().enumerate().collect::<VecDeque<_>>()));
    let (done, results) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..forks.clamp(1, count) {
            let queue = Arc::clone(&queue);
            let done = done.clone();
            scope.spawn(move || loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some((index, (host, target))) = next else { break };
                let result = run_one(host, &target, options, job);
                if done.send((index, result)).is_err() {
                    break;
                }
            });
        }
        drop(done);
        report(results, count, printer, collapse)
    })
}

fn run_one(host: String, target: &Target, options: &ConnectOptions, job: &Job) -> HostResult {
    let mut output = Vec::new();
    let mut items = Vec::new();
    let outcome = (|| {
        let mut session = Session::connect_with(target, options)?;
        let request = Request {
            file: &job.file,
            mode: job.mode,
            argv: job.argv.clone(),
            stream: true,
            text_forms: job.text_forms,
            ..Request::new(&job.code)
        };
        let reply = session.request(request, &mut |event| {
            match event {
                Event::Output(stream, bytes) => output.push((stream, bytes.to_vec())),
                Event::Item(value) => items.push(value),
                // Echoes come only for REPL requests, never sent here.
                Event::Flush | Event::Bytes(_) | Event::Echo(_) => {}
            }
            Ok(())
        })?;
        let _ = session.close();
        Ok(match reply {
            Reply::Value(value, _) => Outcome::Value(value),
            Reply::NoValue | Reply::Incomplete | Reply::BytesStreamed(_) => Outcome::NoValue,
            // Streamed items from many hosts are gathered into a list per host.
            Reply::StreamEnd(_) => Outcome::Value(Value::Seq(pushy::value::SeqKind::List, items, None)),
            Reply::Raised(e) => Outcome::Raised(e),
            Reply::Exit(code) => Outcome::Exit(code),
        })
    })();
    HostResult { host, output, outcome: outcome.unwrap_or_else(Outcome::Failed) }
}

/// Prints results as they allow and returns the summary status.
fn report(
    results: mpsc::Receiver<(usize, HostResult)>,
    count: usize,
    printer: &Printer,
    collapse: bool,
) -> pushy::Result<ExitCode> {
    let mut failed = false;
    let mut raised = false;
    let mut pending = BTreeMap::new();
    let mut next = 0;
    let mut collapsed: Vec<(String, Vec<String>, bool)> = Vec::new();
    for (index, result) in results {
        match &result.outcome {
            Outcome::Failed(_) => failed = true,
            Outcome::Raised(_) => raised = true,
            Outcome::Exit(code) if *code != 0 => raised = true,
            _ => {}
        }
        if printer.format == Format::Json {
            write_out(json_line(&result).as_bytes())?;
            continue;
        }
        pending.insert(index, result);
        while let Some(result) = pending.remove(&next) {
            next += 1;
            if collapse {
                let (text, is_error) = rendered(&result, printer);
                match collapsed.iter_mut().find(|(t, _, e)| *t == text && *e == is_error) {
                    Some((_, hosts, _)) => hosts.push(result.host),
                    None => collapsed.push((text, vec![result.host], is_error)),
                }
            } else {
                print_labelled(&result, printer)?;
            }
        }
    }
    for (text, hosts, is_error) in collapsed {
        labelled(&hosts.join(", "), &text, is_error)?;
    }
    debug_assert!(next == count || printer.format == Format::Json || pending.is_empty());
    Ok(if failed {
        ExitCode::Connection
    } else if raised {
        ExitCode::Raised
    } else {
        ExitCode::Success
    })
}

/// The text shown for a host, and whether it goes to stderr.
fn rendered(result: &HostResult, printer: &Printer) -> (String, bool) {
    match &result.outcome {
        Outcome::Value(value) => (String::from_utf8_lossy(&printer.value(value)).trim_end().to_string(), false),
        Outcome::NoValue => (String::new(), false),
        Outcome::Exit(code) => (format!("exited with status {code}"), *code != 0),
        Outcome::Raised(e) => (e.traceback.trim_end().to_string(), true),
        Outcome::Failed(e) => {
            let hint = e.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default();
            (format!("error: {e}{hint}"), true)
        }
    }
}

fn print_labelled(result: &HostResult, printer: &Printer) -> pushy::Result<()> {
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
    let (text, is_error) = rendered(result, printer);
    if !text.is_empty() || matches!(result.outcome, Outcome::Value(_)) {
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

/// `{"host": ..., "ok": true, "value": ...}` or `{"host": ..., "ok": false, "error": {...}}`.
fn json_line(result: &HostResult) -> String {
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
    match &result.outcome {
        Outcome::Value(value) => format!("{{\"host\":{host},\"ok\":true,\"value\":{}{output}}}\n", json::render(value)),
        Outcome::NoValue => format!("{{\"host\":{host},\"ok\":true,\"value\":null{output}}}\n"),
        Outcome::Exit(code) => format!("{{\"host\":{host},\"ok\":{},\"exit\":{code}{output}}}\n", *code == 0),
        Outcome::Raised(e) => format!(
            "{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"raised\",\"type\":{},\"message\":{},\"traceback\":{}}}{output}}}\n",
            s(&e.type_name),
            s(&e.message),
            s(&e.traceback)
        ),
        Outcome::Failed(e) => format!(
            "{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"connection\",\"message\":{},\"hint\":{}}}}}\n",
            s(&e.to_string()),
            e.hint().map(s).unwrap_or_else(|| "null".into())
        ),
    }
}

fn write_out(bytes: &[u8]) -> pushy::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
