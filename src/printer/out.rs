//! Where a renderer's text goes: a buffer that is either the whole result
//! (a `String` for the caller) or a 64 KiB window onto a writer, spilled
//! whenever it fills, so rendering a huge value never holds its text whole.

use std::io::Write;

use crate::error::{Error, ErrorKind, Result};

/// Spill to the writer once this much is buffered.
const CHUNK: usize = 64 << 10;

/// Text on its way out.
pub(crate) struct Out<'w> {
    buf: String,
    to: Option<&'w mut dyn Write>,
    /// The write error that stopped the rendering, kept as it was (a
    /// closed pipe is the reader's choice, not a failure).
    failed: Option<std::io::Error>,
}

impl<'w> Out<'w> {
    /// Everything kept, for [`into_string`](Self::into_string).
    pub(crate) fn memory() -> Out<'static> {
        Out { buf: String::new(), to: None, failed: None }
    }

    /// Spilled to `to` in chunks.
    pub(crate) fn writer(to: &'w mut dyn Write) -> Out<'w> {
        Out { buf: String::with_capacity(CHUNK + 1024), to: Some(to), failed: None }
    }

    pub(crate) fn push_str(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    pub(crate) fn push(&mut self, c: char) {
        self.buf.push(c);
    }

    /// `n` spaces.
    pub(crate) fn spaces(&mut self, n: usize) {
        self.buf.extend(std::iter::repeat_n(' ', n));
    }

    /// The buffer itself, to format into.
    pub(crate) fn text(&mut self) -> &mut String {
        &mut self.buf
    }

    /// Writes what is buffered if it is a chunk's worth. An error stops the
    /// rendering (the reader sees a pushy error; [`finish`](Self::finish)
    /// gives the write error itself).
    pub(crate) fn spill(&mut self) -> Result<()> {
        if self.buf.len() < CHUNK {
            return Ok(());
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        let Some(to) = self.to.as_mut() else { return Ok(()) };
        if let Err(e) = to.write_all(self.buf.as_bytes()) {
            let error = Error::new(ErrorKind::Io, format!("cannot write the value: {e}"));
            self.failed = Some(e);
            return Err(error);
        }
        self.buf.clear();
        Ok(())
    }

    /// The write error that stopped the rendering, if one did.
    pub(crate) fn take_failure(&mut self) -> Option<std::io::Error> {
        self.failed.take()
    }

    /// Writes the rest.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        match self.flush() {
            Ok(()) => Ok(()),
            Err(_) => Err(self.failed.take().unwrap_or_else(|| std::io::Error::other("write failed"))),
        }
    }

    /// The text, for a memory buffer.
    pub(crate) fn into_string(self) -> String {
        self.buf
    }
}
