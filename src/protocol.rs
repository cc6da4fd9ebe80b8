//! Frames: how the client and the pushed server talk once the server is up.
//!
//! Every message in either direction is one frame:
//!
//! | offset | size | field        | meaning                                       |
//! |--------|------|--------------|-----------------------------------------------|
//! | 0      | 4    | header_len   | big-endian u32, length of the JSON header     |
//! | 4      | 4    | payload_len  | big-endian u32, length of the raw payload     |
//! | 8      | h    | header       | UTF-8 JSON object: `k` (kind), `id`, fields   |
//! | 8+h    | p    | payload      | raw bytes (output, stdin, bytes values)       |
//!
//! Bulk bytes never pass through JSON or base64: they ride in the payload.
//! A frame larger than [`MAX_FRAME`] is refused before anything is allocated.
//!
//! Kinds, client to server: `eval` (`code`, `file`, `mode`, `stream`,
//! `window`, `stdin`, `repl`, `truth`), `complete` (`text`), `check`
//! (`code`: is it a complete REPL input?), `interrupt`,
//! `stdin` (payload; empty = end of input), `more` (`n` stream credits),
//! `close`.
//!
//! Kinds, server to client: `hello` (after the ready marker: `python`,
//! `platform`, `host`, `user`, `pid`, ...), `out` (`fd` 1 or 2, payload),
//! `value` (`v`: value tokens, see [`crate::value`]; payload: their bytes),
//! `none` (statements only, no value), `iter` / `item` / `end` (a streamed
//! iterator), `error` (`type`, `message`, `traceback`), `exit` (`code`, from
//! `SystemExit`), `stdin_ack` (`n` bytes consumed), `completions` (`start`,
//! `items`), `checked` (`status`: complete, incomplete or invalid), `bad`
//! (a request the server did not understand).

use std::io::{BufReader, Read, Write};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, Result};

/// The largest frame either side accepts (header plus payload).
pub const MAX_FRAME: u64 = 1 << 30;

/// A received frame: its parsed header and raw payload.
#[derive(Debug)]
pub struct Frame {
    /// The JSON header.
    pub header: Header,
    /// The raw payload.
    pub payload: Vec<u8>,
}

/// The fields a server-to-client header may carry.
#[derive(Debug, Deserialize)]
pub struct Header {
    /// The kind of frame.
    pub k: String,
    /// The request this frame answers, if any.
    #[serde(default)]
    pub id: Option<u64>,
    /// `out`: which stream (1 stdout, 2 stderr).
    #[serde(default)]
    pub fd: Option<u8>,
    /// `value` and `item`: the value's tokens, parsed later.
    #[serde(default)]
    pub v: Option<Box<RawValue>>,
    /// `value`: the value's truth, when asked for.
    #[serde(default)]
    pub truth: Option<bool>,
    /// `error`: the exception's class name.
    #[serde(default, rename = "type")]
    pub type_name: Option<String>,
    /// `error` and `bad`: the message.
    #[serde(default)]
    pub message: Option<String>,
    /// `error`: the formatted traceback.
    #[serde(default)]
    pub traceback: Option<String>,
    /// `exit`: the status passed to `sys.exit`.
    #[serde(default)]
    pub code: Option<i64>,
    /// `stdin_ack` and `more`: a count.
    #[serde(default)]
    pub n: Option<u64>,
    /// `completions`: where the replaced word starts.
    #[serde(default)]
    pub start: Option<usize>,
    /// `completions`: the candidates.
    #[serde(default)]
    pub items: Option<Vec<String>>,
    /// `hello`: everything else the server says about itself.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// Reads frames from a byte stream.
pub struct FrameReader<R> {
    inner: BufReader<R>,
}

impl<R: Read> FrameReader<R> {
    /// Wraps a stream; reads are buffered.
    pub fn new(inner: R) -> Self {
        FrameReader { inner: BufReader::with_capacity(1 << 16, inner) }
    }

    /// The next frame, or `None` at a clean end of stream (between frames).
    pub fn read(&mut self) -> Result<Option<Frame>> {
        let mut prefix = [0u8; 8];
        match read_full(&mut self.inner, &mut prefix)? {
            0 => return Ok(None),
            8 => {}
            n => return Err(Error::protocol(format!("truncated frame prefix ({n} of 8 bytes)"))),
        }
        let header_len = u64::from(u32::from_be_bytes(prefix[..4].try_into().expect("4 bytes")));
        let payload_len = u64::from(u32::from_be_bytes(prefix[4..].try_into().expect("4 bytes")));
        if header_len + payload_len > MAX_FRAME {
            return Err(Error::protocol(format!(
                "frame of {} bytes exceeds the {MAX_FRAME}-byte maximum",
                header_len + payload_len
            )));
        }
        let mut header = vec![0u8; header_len as usize];
        if read_full(&mut self.inner, &mut header)? != header.len() {
            return Err(Error::protocol("truncated frame header"));
        }
        let mut payload = vec![0u8; payload_len as usize];
        if read_full(&mut self.inner, &mut payload)? != payload.len() {
            return Err(Error::protocol("truncated frame payload"));
        }
        let header: Header =
            serde_json::from_slice(&header).map_err(|e| Error::protocol(format!("bad frame header: {e}")))?;
        Ok(Some(Frame { header, payload }))
    }
}

/// Fills `buf` unless the stream ends; returns how many bytes were read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}

/// Writes frames to a byte stream.
pub struct FrameWriter<W> {
    inner: Option<W>,
}

impl<W: Write> FrameWriter<W> {
    /// Wraps a stream; each frame is written and flushed whole.
    pub fn new(inner: W) -> Self {
        FrameWriter { inner: Some(inner) }
    }

    /// Closes the stream: the other side reads end-of-file. Later sends fail.
    pub fn close(&mut self) {
        self.inner = None;
    }

    /// Sends one frame.
    pub fn send(&mut self, header: &serde_json::Value, payload: &[u8]) -> Result<()> {
        let header = serde_json::to_vec(header).map_err(|e| Error::protocol(e.to_string()))?;
        let len = |n: usize| u32::try_from(n).map_err(|_| Error::protocol("frame too large to send"));
        let mut frame = Vec::with_capacity(8 + header.len() + payload.len());
        frame.extend_from_slice(&len(header.len())?.to_be_bytes());
        frame.extend_from_slice(&len(payload.len())?.to_be_bytes());
        frame.extend_from_slice(&header);
        frame.extend_from_slice(payload);
        let inner = self.inner.as_mut().ok_or_else(|| Error::new(ErrorKind::Io, "the channel is closed"))?;
        inner.write_all(&frame)?;
        inner.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(header: serde_json::Value, payload: &[u8]) -> Frame {
        let mut bytes = Vec::new();
        FrameWriter::new(&mut bytes).send(&header, payload).unwrap();
        FrameReader::new(&bytes[..]).read().unwrap().unwrap()
    }

    #[test]
    fn frames_round_trip() {
        let f = roundtrip(json!({"k": "out", "fd": 2}), b"\x00\xffraw");
        assert_eq!((f.header.k.as_str(), f.header.fd), ("out", Some(2)));
        assert_eq!(f.payload, b"\x00\xffraw");
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        let cases: Vec<Vec<u8>> = vec![
            vec![0, 0, 0],                            // short prefix
            vec![0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0], // over the maximum
            vec![0, 0, 0, 5, 0, 0, 0, 0, b'{'],       // short header
            b"\0\0\0\x03\0\0\0\0abc".to_vec(),        // not JSON
            b"\0\0\0\x02\0\0\0\x09{}".to_vec(),       // no kind, short payload
        ];
        for bytes in cases {
            assert!(FrameReader::new(&bytes[..]).read().is_err(), "{bytes:?}");
        }
        assert!(FrameReader::new(&b""[..]).read().unwrap().is_none());
    }
}
