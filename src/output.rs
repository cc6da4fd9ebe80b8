//! Remote output and streamed items, to this process's stdout and stderr,
//! for the front ends that print as things happen (exec and the REPL).
//! Items are buffered until the frame that brought them is done (or 64 KiB
//! pile up), so a million small items cost a few thousand writes; remote
//! output goes out at once, after any items before it.

use std::io::Write;

use pushy::printer::Printer;
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
            Event::Output(Stream::Stdout, bytes) => {
                self.flush()?;
                write_stdout(bytes)?;
            }
            Event::Output(Stream::Stderr, bytes) => {
                self.flush()?;
                let _ = std::io::stderr().write_all(bytes);
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
                std::io::stdout().lock().write_all(chunk)?;
            }
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

/// Writes and flushes stdout; an error (a closed pipe) ends the request.
pub fn write_stdout(bytes: &[u8]) -> pushy::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
