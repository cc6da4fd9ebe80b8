//! `pushy exec H1,H2,... CODE`: one job on many hosts, `--forks` at a time,
//! each on its own connection (the library's [`Fleet`]), each through
//! [`run_on`] as one host is, so
//! `--timeout` (per host), `--test`, `-v`, `--raw` and `--json` mean the
//! same. One failing host never stops the others.
//!
//! Output flows as it comes, so memory stays flat however long hosts run:
//! remote output lines and streamed items print as they arrive, labelled
//! with their host (`web1| line`, `web1: item`; with `--json`, one record a
//! line naming its `host`), and each host's result prints as that host
//! finishes. `--ordered` prints hosts in the order given instead, holding a
//! host's output until the hosts before it are done; `--collapse` folds
//! identical results at the end. On a terminal, a progress line and a
//! summary go to stderr (not with `-q`).
//!
//! The exit status: 255 if any host could not be reached, else 1 if any
//! raised, exited non-zero or (with `--test`) was falsy, else 124 if any
//! timed out, else 0.

use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pushy::printer::{json, Format, Printer};
use pushy::{Error, Event, Fleet, Stream, Value};

use crate::exit_code::ExitCode;
use crate::job::{run_on, Outcome};
use crate::plan::JobPlan;

/// What a worker tells the printer, for the host at `index`.
enum Message {
    Started(usize),
    Output(usize, Stream, Vec<u8>),
    Item(usize, Value),
    Done(usize, HostEnd),
}

/// How one host ended: the job's outcome, or why it never ran.
enum HostEnd {
    Ran(Outcome),
    Failed(Error),
}

/// Messages in flight between the workers and the printer: beyond this,
/// workers wait, and so (through stream credits) do their hosts.
const IN_FLIGHT: usize = 1024;

/// Runs the plan's job on every target, `forks` at a time, through the
/// library's [`Fleet`]: its workers pass events to the printer as they
/// come, and a thread passes on each host's result as the fleet yields it
/// (after that host's events, which its job sent before it returned).
pub fn run(plan: &JobPlan) -> pushy::Result<ExitCode> {
    let (tx, rx) = mpsc::sync_channel(IN_FLIGHT);
    let mut fleet = Fleet::new().forks(plan.fleet.forks);
    for (index, (label, target)) in plan.targets.iter().enumerate() {
        fleet = fleet.host(label.clone(), target.clone(), plan.connect_for(index).clone());
    }
    if let Some(limit) = plan.job.timeout {
        fleet = fleet.timeout(limit);
    }
    let started = tx.clone();
    fleet = fleet.on_start(move |host| {
        let _ = started.send(Message::Started(host.index));
    });
    let (job, events) = (plan.job.clone(), tx.clone());
    let results = fleet.run(move |host, session| {
        let index = host.index;
        run_on(session, &job, None, &mut |event| {
            let message = match event {
                Event::Output(stream, bytes) => Message::Output(index, stream, bytes.to_vec()),
                Event::Item(value) => Message::Item(index, value),
                // Bytes stream only for one host; echoes only in the REPL.
                Event::Flush
                | Event::Bytes(_)
                | Event::Echo(_)
                | Event::Read { .. }
                | Event::Page(_)
                | Event::BytesInto { .. }
                | Event::Spliced(_) => return Ok(()),
            };
            events.send(message).map_err(|_| Error::new(pushy::ErrorKind::Io, "the printer stopped"))
        })
        .and_then(Outcome::decoded)
    });
    drop(fleet); // its start hook holds a sender: the printer ends when all are gone
    let limit = plan.job.timeout.unwrap_or_default();
    let canceller = results.canceller();
    let forwarder = std::thread::spawn(move || {
        for done in results {
            let end = match done.result {
                Ok(outcome) => HostEnd::Ran(outcome),
                Err(e) if e.kind() == pushy::ErrorKind::Timeout => HostEnd::Ran(Outcome::TimedOut(limit, false)),
                Err(e) => HostEnd::Failed(e),
            };
            if tx.send(Message::Done(done.host.index, end)).is_err() {
                break; // the printer stopped (`| head`): the rest are skipped
            }
        }
    });
    let status = Report::new(plan).run(rx);
    canceller.cancel(); // done, or the printer failed (`| head`): start no more hosts
    let _ = forwarder.join();
    status
}

/// The printer's side: labels, order, progress and the summary.
struct Report<'p> {
    plan: &'p JobPlan,
    hosts: Vec<HostState>,
    /// `--ordered`: the first host not yet printed in full.
    next: usize,
    /// `--collapse`: each distinct result with the hosts (by index) that gave it.
    collapsed: Vec<(String, Vec<usize>, bool)>,
    progress: Option<Progress>,
    tally: Tally,
}

/// One host as the printer sees it.
#[derive(Default)]
struct HostState {
    started: Option<Instant>,
    finished: bool,
    /// Partial output lines, per stream, until their newline comes.
    partial: [Vec<u8>; 2],
    /// `--ordered`: what waits for the hosts before it.
    held: Vec<Message>,
}

#[derive(Default)]
struct Tally {
    ok: usize,
    raised: usize,
    failed: usize,
    timed_out: usize,
    /// The hosts that did not end well, for `--failed`.
    bad: Vec<String>,
}

/// The progress line on a terminal's stderr.
struct Progress {
    drawn: bool,
    last: Instant,
}

impl<'p> Report<'p> {
    fn new(plan: &'p JobPlan) -> Report<'p> {
        let terminal = std::io::stderr().is_terminal() && !plan.fleet.quiet;
        Report {
            plan,
            hosts: plan.targets.iter().map(|_| HostState::default()).collect(),
            next: 0,
            collapsed: Vec::new(),
            progress: terminal.then(|| Progress { drawn: false, last: Instant::now() }),
            tally: Tally::default(),
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Message>) -> pushy::Result<ExitCode> {
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(message) => self.take(message)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            self.draw_progress();
        }
        self.clear_progress();
        for (text, mut hosts, is_error) in std::mem::take(&mut self.collapsed) {
            if !text.is_empty() {
                hosts.sort_unstable(); // in the order given
                let names: Vec<&str> = hosts.iter().map(|&i| self.plan.targets[i].0.as_str()).collect();
                self.labelled(&names.join(", "), &text, is_error)?;
            }
        }
        if let Some(path) = &self.plan.fleet.failed_file {
            let mut list = self.tally.bad.join("\n");
            if !list.is_empty() {
                list.push('\n');
            }
            std::fs::write(path, list).map_err(|e| {
                Error::new(pushy::ErrorKind::Io, format!("cannot write the failed hosts to {}: {e}", path.display()))
            })?;
        }
        if self.progress.is_some() {
            let t = &self.tally;
            eprintln!(
                "pushy: {} hosts: {} ok, {} raised, {} failed to connect, {} timed out",
                self.hosts.len(),
                t.ok,
                t.raised,
                t.failed,
                t.timed_out
            );
        }
        let t = &self.tally;
        Ok(if t.failed > 0 {
            ExitCode::Connection
        } else if t.raised > 0 {
            ExitCode::Raised
        } else if t.timed_out > 0 {
            ExitCode::Timeout
        } else {
            ExitCode::Success
        })
    }

    /// One message: printed now, or held (`--ordered`) until its turn.
    fn take(&mut self, message: Message) -> pushy::Result<()> {
        let index = match &message {
            Message::Started(i) => {
                self.hosts[*i].started = Some(Instant::now());
                return Ok(());
            }
            Message::Output(i, ..) | Message::Item(i, _) | Message::Done(i, _) => *i,
        };
        if self.plan.fleet.ordered && index != self.next {
            self.hosts[index].held.push(message);
            return Ok(());
        }
        self.print(message)?;
        // `--ordered`: a finished host lets the next ones print what they held.
        while self.plan.fleet.ordered && self.next < self.hosts.len() && self.hosts[self.next].finished {
            self.next += 1;
            if let Some(host) = self.hosts.get_mut(self.next) {
                for held in std::mem::take(&mut host.held) {
                    self.print(held)?;
                }
            }
        }
        Ok(())
    }

    fn print(&mut self, message: Message) -> pushy::Result<()> {
        let json = self.plan.printer.format == Format::Json;
        match message {
            Message::Started(_) => {}
            Message::Output(index, stream, bytes) if json => {
                let name = if stream == Stream::Stderr { "stderr" } else { "stdout" };
                let text = serde_json::to_string(&String::from_utf8_lossy(&bytes)).expect("a str serialises");
                self.out(format!("{{\"host\":{},\"{name}\":{text}}}\n", self.host_json(index)).as_bytes(), false)?;
            }
            Message::Output(index, stream, bytes) => {
                let slot = usize::from(stream == Stream::Stderr);
                let mut partial = std::mem::take(&mut self.hosts[index].partial[slot]);
                partial.extend_from_slice(&bytes);
                while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=end).collect();
                    self.output_line(index, stream, &line)?;
                }
                self.hosts[index].partial[slot] = partial;
            }
            Message::Item(index, value) if json => {
                let line = format!("{{\"host\":{},\"item\":{}}}\n", self.host_json(index), json::render(&value));
                self.out(line.as_bytes(), false)?;
            }
            Message::Item(index, value) => {
                if !self.plan.job.test {
                    let text = String::from_utf8_lossy(&self.plan.printer.item(&value)).trim_end().to_string();
                    self.labelled(&self.plan.targets[index].0, &text, false)?;
                }
            }
            Message::Done(index, end) => self.done(index, end)?,
        }
        Ok(())
    }

    /// A host finished: what is left of its output, then its result.
    fn done(&mut self, index: usize, end: HostEnd) -> pushy::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let slot = usize::from(stream == Stream::Stderr);
            let mut rest = std::mem::take(&mut self.hosts[index].partial[slot]);
            if !rest.is_empty() {
                rest.push(b'\n');
                self.output_line(index, stream, &rest)?;
            }
        }
        self.hosts[index].finished = true;
        let host = self.plan.targets[index].0.clone();
        let test = self.plan.job.test;
        let good = match &end {
            HostEnd::Failed(_) => {
                self.tally.failed += 1;
                false
            }
            HostEnd::Ran(Outcome::Raised(_) | Outcome::Interrupted(_)) => {
                self.tally.raised += 1;
                false
            }
            HostEnd::Ran(Outcome::Exit(code)) if *code != 0 => {
                self.tally.raised += 1;
                false
            }
            HostEnd::Ran(Outcome::Value(_, Some(false))) if test => {
                self.tally.raised += 1;
                false
            }
            HostEnd::Ran(Outcome::TimedOut(..)) => {
                self.tally.timed_out += 1;
                false
            }
            HostEnd::Ran(_) => {
                self.tally.ok += 1;
                true
            }
        };
        if !good {
            self.tally.bad.push(host.clone());
        }
        if self.plan.printer.format == Format::Json {
            let line = json_line(&self.host_json(index), &end, test);
            return self.out(line.as_bytes(), false);
        }
        let (text, is_error) = rendered(&end, &self.plan.printer, test);
        if self.plan.fleet.collapse {
            match self.collapsed.iter_mut().find(|(t, _, e)| *t == text && *e == is_error) {
                Some((_, hosts, _)) => hosts.push(index),
                None => self.collapsed.push((text, vec![index], is_error)),
            }
            return Ok(());
        }
        if !text.is_empty() || matches!(end, HostEnd::Ran(Outcome::Value(..)) if !test) {
            self.labelled(&host, &text, is_error)?;
        }
        Ok(())
    }

    fn output_line(&mut self, index: usize, stream: Stream, line: &[u8]) -> pushy::Result<()> {
        let mut labelled = format!("{}| ", self.plan.targets[index].0).into_bytes();
        labelled.extend_from_slice(line);
        self.out(&labelled, stream == Stream::Stderr)
    }

    /// `host: text` on one line, or the label alone and the text indented
    /// under it when the text has several lines.
    fn labelled(&mut self, label: &str, text: &str, to_stderr: bool) -> pushy::Result<()> {
        let out = if text.contains('\n') {
            let body: Vec<String> = text.lines().map(|l| format!("    {l}")).collect();
            format!("{label}:\n{}\n", body.join("\n"))
        } else {
            format!("{label}: {text}\n")
        };
        self.out(out.as_bytes(), to_stderr)
    }

    fn host_json(&self, index: usize) -> String {
        serde_json::to_string(&self.plan.targets[index].0).expect("a str serialises")
    }

    /// Writes a line, the progress line out of its way.
    fn out(&mut self, bytes: &[u8], to_stderr: bool) -> pushy::Result<()> {
        self.clear_progress();
        if to_stderr {
            let _ = std::io::stderr().write_all(bytes);
            Ok(())
        } else {
            crate::output::write_stdout(bytes)
        }
    }

    /// done/total, failed, running, and the slowest host still running.
    fn draw_progress(&mut self) {
        let Some(progress) = &self.progress else { return };
        if progress.drawn && progress.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        let done = self.hosts.iter().filter(|h| h.finished).count();
        let running: Vec<(usize, Duration)> = self
            .hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.finished)
            .filter_map(|(i, h)| h.started.map(|s| (i, s.elapsed())))
            .collect();
        let slowest = running
            .iter()
            .max_by_key(|(_, t)| *t)
            .map(|(i, t)| format!(", slowest {} ({:.1} s)", self.plan.targets[*i].0, t.as_secs_f64()));
        let failed = self.tally.failed + self.tally.raised + self.tally.timed_out;
        let line = format!(
            "\r\x1b[K[{done}/{}] {failed} failed, {} running{}",
            self.hosts.len(),
            running.len(),
            slowest.unwrap_or_default()
        );
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
        if let Some(progress) = &mut self.progress {
            progress.drawn = true;
            progress.last = Instant::now();
        }
    }

    fn clear_progress(&mut self) {
        if let Some(progress) = &mut self.progress {
            if progress.drawn {
                let _ = std::io::stderr().write_all(b"\r\x1b[K");
                progress.drawn = false;
            }
        }
    }
}

/// The text shown for a host's end, and whether it goes to stderr. With
/// `--test` a value shows nothing, as for one host: the status says it.
fn rendered(end: &HostEnd, printer: &Printer, test: bool) -> (String, bool) {
    match end {
        HostEnd::Ran(Outcome::Value(..)) if test => (String::new(), false),
        HostEnd::Ran(Outcome::Value(value, _)) => {
            (String::from_utf8_lossy(&printer.value(value)).trim_end().to_string(), false)
        }
        HostEnd::Ran(Outcome::NoValue | Outcome::Streamed) => (String::new(), false),
        HostEnd::Ran(Outcome::Exit(0)) => (String::new(), false),
        HostEnd::Ran(Outcome::Exit(code)) => (format!("exited with status {code}"), true),
        HostEnd::Ran(Outcome::Raised(e)) => (e.traceback.trim_end().to_string(), true),
        HostEnd::Ran(Outcome::TimedOut(limit, _)) => (format!("timed out after {} s", limit.as_secs_f64()), true),
        HostEnd::Ran(Outcome::Interrupted(e)) => (e.traceback.trim_end().to_string(), true),
        HostEnd::Failed(e) => {
            let hint = e.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default();
            (format!("error: {e}{hint}"), true)
        }
    }
}

/// A host's last record: `{"host": H, "ok": true, "value": V}` or
/// `{"host": H, "ok": false, "error": {...}}`; with `--test`, `ok` is the
/// value's truth and there is no value. Output and items came before it as
/// records of their own.
fn json_line(host: &str, end: &HostEnd, test: bool) -> String {
    let s = |text: &str| serde_json::to_string(text).expect("a str serialises");
    let line = match end {
        HostEnd::Ran(Outcome::Value(_, truth)) if test => format!("{{\"host\":{host},\"ok\":{}}}", truth.unwrap_or(false)),
        HostEnd::Ran(Outcome::Value(value, _)) => {
            format!("{{\"host\":{host},\"ok\":true,\"value\":{}}}", json::render(value))
        }
        HostEnd::Ran(Outcome::NoValue | Outcome::Streamed) => format!("{{\"host\":{host},\"ok\":true,\"value\":null}}"),
        HostEnd::Ran(Outcome::Exit(code)) => format!("{{\"host\":{host},\"ok\":{},\"exit\":{code}}}", *code == 0),
        HostEnd::Ran(Outcome::Raised(e)) => format!(
            "{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"raised\",\"type\":{},\"message\":{},\"traceback\":{}}}}}",
            s(&e.type_name),
            s(&e.message),
            s(&e.traceback)
        ),
        HostEnd::Ran(Outcome::TimedOut(limit, _)) => format!(
            "{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"timeout\",\"seconds\":{}}}}}",
            limit.as_secs_f64()
        ),
        HostEnd::Ran(Outcome::Interrupted(_)) => {
            format!("{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"interrupted\"}}}}")
        }
        HostEnd::Failed(e) => format!(
            "{{\"host\":{host},\"ok\":false,\"error\":{{\"kind\":\"connection\",\"message\":{},\"hint\":{}}}}}",
            s(&e.to_string()),
            e.hint().map(s).unwrap_or_else(|| "null".into())
        ),
    };
    line + "\n"
}
