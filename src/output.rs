//! Remote output and streamed items, to this process's stdout and stderr,
//! for the front ends that print as things happen (exec and the REPL).
//! Items are buffered until the frame that brought them is done (or 64 KiB
//! pile up), so a million small items cost a few thousand writes; remote
//! output goes out at once, after any items before it.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use pushy::printer::{Format, ItemEnd, Printer};
use pushy::value::Value;
use pushy::{Event, Stream};

/// Prints events as they come.
pub struct Sink<'p> {
    printer: &'p Printer,
    /// `--test`: items are not printed.
    quiet: bool,
    pending: Vec<u8>,
}

impl<'p> Sink<'p> {
    pub fn new(printer: &'p Printer, quiet: bool) -> Sink<'p> {
        Sink { printer, quiet, pending: Vec::new() }
    }

    /// Handles one event of a running request.
    pub fn event(&mut self, event: Event<'_>) -> pushy::Result<()> {
        match event {
            // Under --json, stdout carries JSON only: remote output is the
            // user's diagnostics and goes to stderr.
            Event::Output(Stream::Stdout, bytes) if self.printer.format != Format::Json => {
                self.flush()?;
                write_stdout(bytes)?;
            }
            Event::Output(Stream::Stdout, bytes) => {
                self.flush()?;
                let _ = std::io::stderr().write_all(bytes);
            }
            Event::Output(Stream::Stderr, bytes) => {
                self.flush()?;
                let _ = std::io::stderr().write_all(bytes);
            }
            // A streamed chunk of bytes under --raw goes out as it is (a
            // big one without passing through the pending buffer).
            Event::Item(Value::Bytes(bytes) | Value::ByteArray(bytes))
                if !self.quiet && self.printer.format == Format::Raw && self.printer.item_end == ItemEnd::Newline =>
            {
                if bytes.len() >= 1 << 16 {
                    self.flush()?;
                    checked(std::io::stdout().lock().write_all(&bytes))?;
                } else {
                    self.pending.extend_from_slice(&bytes);
                    if self.pending.len() >= 1 << 16 {
                        self.flush()?;
                    }
                }
            }
            Event::Item(value) if !self.quiet => {
                self.pending.extend_from_slice(&self.printer.item(&value));
                if self.pending.len() >= 1 << 16 {
                    self.flush()?;
                }
            }
            Event::Item(_) => {}
            Event::Flush => self.flush()?,
            Event::Bytes(chunk) => {
                self.flush()?;
                checked(std::io::stdout().lock().write_all(chunk))?;
            }
            Event::Echo(value) => {
                self.flush()?;
                write_stdout(&self.printer.value(&value))?;
            }
            // Only a terminal call reads: a front end without one answers
            // the end of input.
            Event::Read { .. } => self.flush()?,
            Event::Page(text) => {
                self.flush()?;
                write_stdout(text)?;
            }
            // Not asked for here: items come as items.
            Event::BytesInto { .. } | Event::Spliced(_) => {}
        }
        Ok(())
    }

    /// Writes what is pending.
    pub fn flush(&mut self) -> pushy::Result<()> {
        if !self.pending.is_empty() {
            write_stdout(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }
}

/// Writes and flushes stdout; an error ends the request (see [`checked`]).
pub fn write_stdout(bytes: &[u8]) -> pushy::Result<()> {
    let mut out = std::io::stdout().lock();
    checked(out.write_all(bytes).and_then(|()| out.flush()))
}

/// Set once stdout's reader went away (EPIPE): `| head` is done.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// A write to stdout, judged: a closed pipe is the reader's choice (`| head`)
/// and ends the run quietly, with [`stdout_closed`] set; any other failure
/// (ENOSPC on `> /dev/full`, EIO) is an error the user must hear about.
pub fn checked(result: std::io::Result<()>) -> pushy::Result<()> {
    result.map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::SeqCst);
        }
        pushy::Error::new(pushy::ErrorKind::Io, format!("cannot write to stdout: {e}"))
    })
}

/// Whether stdout's reader went away.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}
