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
//! A frame larger than [`MAX_FRAME`], or a header larger than [`MAX_HEADER`],
//! is refused before anything is allocated; buffers grow only as bytes
//! arrive, and fields the client does not know are skipped, never kept.
//!
//! What frames carry, typed in both directions, is in [`message`].

pub mod message;

use std::io::{BufRead, BufReader, IoSlice, Read, Write};
use std::os::fd::{AsRawFd, RawFd};

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
pub use message::{FromServer, ToServer};

/// The largest frame either side accepts (header plus payload).
pub const MAX_FRAME: u64 = 1 << 30;

/// The largest header either side accepts. Headers carry a value's tokens
/// (ten million ints take about 80 MB), so the cap is generous, but it is
/// below the frame's: a header is parsed whole, where a payload may stream.
pub const MAX_HEADER: u64 = 256 << 20;

/// A received frame: its typed header and raw payload.
#[derive(Debug)]
pub struct Frame {
    /// The message.
    pub header: FromServer,
    /// The raw payload.
    pub payload: Vec<u8>,
}

/// Reads frames from a byte stream.
pub struct FrameReader<R> {
    inner: BufReader<R>,
}

impl<R: Read + SpliceFrom> FrameReader<R> {
    /// Wraps a stream; reads are buffered.
    pub fn new(inner: R) -> Self {
        FrameReader { inner: BufReader::with_capacity(1 << 16, inner) }
    }

    /// The stream being read.
    pub fn get_ref(&self) -> &R {
        self.inner.get_ref()
    }

    /// Bytes already read from the stream but not yet taken as frames: a
    /// wait for the stream to become readable must look here first.
    pub fn buffered(&self) -> &[u8] {
        self.inner.buffer()
    }

    /// The next frame, or `None` at a clean end of stream (between frames).
    pub fn read(&mut self) -> Result<Option<Frame>> {
        self.read_or_stream(&mut |_, _| false, &mut |_| Ok(()))
    }

    /// Like [`read`](Self::read), but when `stream(header, payload_len)` says
    /// so, the payload goes to `sink` in chunks as it arrives (the frame's
    /// payload is then empty): hundreds of MiB pass through without being
    /// held in memory.
    pub fn read_or_stream(
        &mut self,
        stream: &mut dyn FnMut(&FromServer, u64) -> bool,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Option<Frame>> {
        let mut decide =
            |header: &FromServer, len: u64| if stream(header, len) { Payload::Chunks } else { Payload::Frame };
        self.read_or_move(&mut decide, sink)
    }

    /// Like [`read_or_stream`](Self::read_or_stream), where `decide` may also
    /// send a payload into a file descriptor: what is buffered is written,
    /// the rest moved by `splice(2)` from the channel when the stream is a
    /// pipe and the descriptor takes it (else read and written). The
    /// frame's payload is then empty.
    pub fn read_or_move(
        &mut self,
        decide: &mut dyn FnMut(&FromServer, u64) -> Payload,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Option<Frame>> {
        let mut prefix = [0u8; 8];
        match read_full(&mut self.inner, &mut prefix)? {
            0 => return Ok(None),
            8 => {}
            n => return Err(truncated(&format!("prefix ({n} of 8 bytes)"))),
        }
        let header_len = u64::from(u32::from_be_bytes(prefix[..4].try_into().expect("4 bytes")));
        let payload_len = u64::from(u32::from_be_bytes(prefix[4..].try_into().expect("4 bytes")));
        if header_len + payload_len > MAX_FRAME {
            return Err(Error::protocol(format!(
                "frame of {} bytes exceeds the {MAX_FRAME}-byte maximum",
                header_len + payload_len
            )));
        }
        if header_len > MAX_HEADER {
            return Err(Error::protocol(format!(
                "frame header of {header_len} bytes exceeds the {MAX_HEADER}-byte maximum"
            )));
        }
        let header = read_growing(&mut self.inner, header_len as usize)?.ok_or_else(|| truncated("header"))?;
        let header: FromServer =
            serde_json::from_slice(&header).map_err(|e| Error::protocol(format!("bad frame header: {e}")))?;
        let how = decide(&header, payload_len);
        if let Payload::Into(fd) = how {
            self.payload_into(fd, payload_len)?;
            return Ok(Some(Frame { header, payload: Vec::new() }));
        }
        if how == Payload::Chunks {
            let mut left = payload_len;
            let mut chunk = vec![0u8; (1 << 20).min(payload_len as usize)];
            while left > 0 {
                let want = left.min(chunk.len() as u64) as usize;
                if read_full(&mut self.inner, &mut chunk[..want])? < want {
                    return Err(truncated("payload"));
                }
                sink(&chunk[..want])?;
                left -= want as u64;
            }
            return Ok(Some(Frame { header, payload: Vec::new() }));
        }
        let payload = read_growing(&mut self.inner, payload_len as usize)?.ok_or_else(|| truncated("payload"))?;
        Ok(Some(Frame { header, payload }))
    }
}

impl<R: Read + SpliceFrom> FrameReader<R> {
    /// Moves the next `len` bytes of the stream into `fd` (see
    /// [`read_or_move`](Self::read_or_move)).
    fn payload_into(&mut self, fd: RawFd, len: u64) -> Result<()> {
        let mut left = len;
        let buffered = self.inner.buffer();
        let n = buffered.len().min(left as usize);
        write_fd(fd, &buffered[..n])?;
        self.inner.consume(n);
        left -= n as u64;
        let mut chunk = Vec::new();
        let mut can_splice = true;
        while left > 0 {
            if let Some(from) = self.inner.get_ref().splice_from().filter(|_| can_splice) {
                match splice(from, fd, left)? {
                    Some(0) => return Err(truncated("payload")),
                    Some(n) => {
                        left -= n;
                        continue;
                    }
                    None => can_splice = false, // not between these two: read and write instead
                }
            }
            chunk.resize((1 << 20).min(left as usize), 0);
            let want = chunk.len();
            if read_full(&mut self.inner, &mut chunk[..want])? < want {
                return Err(truncated("payload"));
            }
            write_fd(fd, &chunk[..want])?;
            left -= want as u64;
        }
        Ok(())
    }
}

/// What becomes of a frame's payload (see [`FrameReader::read_or_move`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// Read into the frame.
    Frame,
    /// Given to the sink in chunks as it arrives.
    Chunks,
    /// Moved into this file descriptor.
    Into(RawFd),
}

/// A stream whose bytes may be spliced from a descriptor: the descriptor,
/// once nothing is left ahead of it in the stream.
pub trait SpliceFrom {
    /// The descriptor to splice from now, if any.
    fn splice_from(&self) -> Option<RawFd>;
}

impl SpliceFrom for &[u8] {
    fn splice_from(&self) -> Option<RawFd> {
        None
    }
}

impl SpliceFrom for std::io::Chain<std::io::Cursor<Vec<u8>>, std::fs::File> {
    fn splice_from(&self) -> Option<RawFd> {
        let (ahead, file) = self.get_ref();
        (ahead.position() >= ahead.get_ref().len() as u64).then(|| file.as_raw_fd())
    }
}

/// Moves up to `len` bytes from `from` to `to` by `splice(2)`, each at its
/// own position: how many (0 at the end of `from`), or None where the
/// kernel cannot splice between the two (a terminal, an odd file system).
fn splice(from: RawFd, to: RawFd, len: u64) -> Result<Option<u64>> {
    loop {
        // SAFETY: splice between two descriptors the caller keeps open for
        // the call, with no offsets.
        let n = unsafe {
            libc::splice(from, std::ptr::null_mut(), to, std::ptr::null_mut(), len as usize, libc::SPLICE_F_MOVE)
        };
        if n >= 0 {
            return Ok(Some(n as u64));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EINVAL) | Some(libc::ENOSYS) => return Ok(None),
            _ => return Err(e.into()),
        }
    }
}

/// A descriptor the caller keeps open, as a `File` that never closes it.
fn borrowed_file(fd: RawFd) -> std::mem::ManuallyDrop<std::fs::File> {
    // SAFETY: the caller keeps `fd` open while the File is used, and
    // ManuallyDrop never closes it.
    std::mem::ManuallyDrop::new(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Writes all of `bytes` to `fd`.
fn write_fd(fd: RawFd, bytes: &[u8]) -> Result<()> {
    Ok(borrowed_file(fd).write_all(bytes)?)
}

/// The stream ended inside a frame: the other side went away (a killed
/// interpreter dies mid-write), which is not a protocol violation.
fn truncated(part: &str) -> Error {
    Error::new(ErrorKind::Disconnected, format!("the stream ended inside a frame ({part})"))
}

/// Exactly `len` bytes, or `None` if the stream ends first. The buffer grows
/// as the bytes arrive (doubling from 1 MiB), never to more than `len`: a
/// peer that announces a large frame and sends little costs what it sent,
/// not what it announced.
fn read_growing(reader: &mut impl Read, len: usize) -> Result<Option<Vec<u8>>> {
    const FIRST: usize = 1 << 20;
    let mut buf = Vec::with_capacity(len.min(FIRST));
    while buf.len() < len {
        let want = (len - buf.len()).min(buf.len().max(FIRST));
        buf.reserve_exact(want);
        if reader.take(want as u64).read_to_end(&mut buf)? < want {
            return Ok(None);
        }
    }
    Ok(Some(buf))
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

    /// Sends one frame: any header that serialises to a JSON object whose
    /// first key is `k` ([`ToServer`] does; tests play the server with
    /// `serde_json::json!`).
    pub fn send(&mut self, header: &impl Serialize, payload: &[u8]) -> Result<()> {
        let header = serde_json::to_vec(header).map_err(|e| Error::protocol(e.to_string()))?;
        let len = |n: usize| u32::try_from(n).map_err(|_| Error::protocol("frame too large to send"));
        // A small payload joins the header (one write); a big one (a MiB of
        // upload) is written from where it lies, not copied first.
        let (inline, rest) = if payload.len() < 1 << 16 { (payload, &[][..]) } else { (&[][..], payload) };
        let mut head = Vec::with_capacity(8 + header.len() + inline.len());
        head.extend_from_slice(&len(header.len())?.to_be_bytes());
        head.extend_from_slice(&len(payload.len())?.to_be_bytes());
        head.extend_from_slice(&header);
        head.extend_from_slice(inline);
        let inner = self.inner.as_mut().ok_or_else(|| Error::new(ErrorKind::Io, "the channel is closed"))?;
        write_both(inner, &head, rest)?;
        inner.flush()?;
        Ok(())
    }
}

impl<W: Write + AsRawFd> FrameWriter<W> {
    /// Sends one frame whose payload is `head` then `len` bytes of the
    /// open file `fd` from its position, moved by `splice(2)` (a file into
    /// a pipe: no copy through this process), or read and written where
    /// the kernel cannot. A file that has fewer bytes than `len` by now
    /// (it shrank) is made up with zeros: returns how many were missing.
    pub fn send_with_file(&mut self, header: &impl Serialize, head: &[u8], fd: RawFd, len: u64) -> Result<u64> {
        let header = serde_json::to_vec(header).map_err(|e| Error::protocol(e.to_string()))?;
        let size = (head.len() as u64).checked_add(len).filter(|&n| n <= u64::from(u32::MAX));
        let size = size.ok_or_else(|| Error::protocol("frame too large to send"))?;
        let mut prefix = Vec::with_capacity(8 + header.len());
        prefix.extend_from_slice(&(header.len() as u32).to_be_bytes());
        prefix.extend_from_slice(&(size as u32).to_be_bytes());
        prefix.extend_from_slice(&header);
        let inner = self.inner.as_mut().ok_or_else(|| Error::new(ErrorKind::Io, "the channel is closed"))?;
        write_both(inner, &prefix, head)?;
        inner.flush()?;
        let to = inner.as_raw_fd();
        let mut left = len;
        let mut chunk = Vec::new();
        let mut can_splice = true;
        while left > 0 {
            let n = if can_splice {
                match splice(fd, to, left)? {
                    Some(n) => n,
                    None => {
                        can_splice = false; // not between these two: read and write
                        continue;
                    }
                }
            } else {
                chunk.resize((1 << 20).min(left as usize), 0);
                let n = match borrowed_file(fd).read(&mut chunk) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => other?,
                };
                write_fd(to, &chunk[..n])?;
                n as u64
            };
            if n == 0 {
                // The file ended early: the frame promised `len` bytes.
                let missing = left;
                let zeros = vec![0u8; (1 << 16).min(left as usize)];
                while left > 0 {
                    let k = zeros.len().min(left as usize);
                    write_fd(to, &zeros[..k])?;
                    left -= k as u64;
                }
                return Ok(missing);
            }
            left -= n;
        }
        Ok(0)
    }
}

/// Writes `first` then `second` with as few writes as the stream allows.
fn write_both(out: &mut impl Write, mut first: &[u8], mut second: &[u8]) -> std::io::Result<()> {
    while !first.is_empty() {
        let n = match out.write_vectored(&[IoSlice::new(first), IoSlice::new(second)]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n >= first.len() {
            second = &second[n - first.len()..];
            first = &[];
        } else {
            first = &first[n..];
        }
    }
    out.write_all(second)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header as the server writes it, `k` first.
    pub(crate) fn raw(text: &str) -> Box<serde_json::value::RawValue> {
        serde_json::value::RawValue::from_string(text.to_string()).unwrap()
    }

    fn roundtrip(header: &str, payload: &[u8]) -> Frame {
        let mut bytes = Vec::new();
        FrameWriter::new(&mut bytes).send(&raw(header), payload).unwrap();
        FrameReader::new(&bytes[..]).read().unwrap().unwrap()
    }

    #[test]
    fn frames_round_trip() {
        let f = roundtrip(r#"{"k": "out", "fd": 2}"#, b"\x00\xffraw");
        assert!(matches!(f.header, FromServer::Out(message::Out { fd: 2, id: None })), "{f:?}");
        assert_eq!(f.payload, b"\x00\xffraw");
    }

    #[test]
    fn big_payloads_round_trip() {
        let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let f = roundtrip(r#"{"k": "out", "fd": 1}"#, &payload);
        assert_eq!(f.payload, payload);
    }

    #[test]
    fn payloads_move_into_a_descriptor_from_a_pipe_and_from_what_is_buffered() {
        use std::io::Seek;
        let (reader, mut writer) = std::io::pipe().unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut frames = Vec::new();
        let mut w = FrameWriter::new(&mut frames);
        w.send(&raw(r#"{"k": "out", "fd": 1}"#), b"small, read with its header").unwrap();
        w.send(&raw(r#"{"k": "out", "fd": 2}"#), &big).unwrap();
        w.send(&raw(r#"{"k": "out", "fd": 1}"#), b"after").unwrap();
        let feeder = std::thread::spawn(move || writer.write_all(&frames));
        // The handshake's leftovers come first, as in a session.
        let stream = std::io::Cursor::new(Vec::new()).chain(std::fs::File::from(std::os::fd::OwnedFd::from(reader)));
        let mut frames = FrameReader::new(stream);
        let mut out = tempfile::tempfile().unwrap();
        let fd = out.as_raw_fd();
        let mut into = |h: &FromServer, _: u64| match h {
            FromServer::Out(o) if o.fd == 2 || o.fd == 1 => Payload::Into(fd),
            _ => Payload::Frame,
        };
        for _ in 0..3 {
            let frame = frames.read_or_move(&mut into, &mut |_| Ok(())).unwrap().unwrap();
            assert!(frame.payload.is_empty());
        }
        feeder.join().unwrap().unwrap();
        let mut got = Vec::new();
        out.rewind().unwrap();
        out.read_to_end(&mut got).unwrap();
        let mut want = b"small, read with its header".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"after");
        assert!(got == want, "{} bytes moved, {} expected", got.len(), want.len());
    }

    #[test]
    fn a_file_range_goes_into_a_frame_and_a_short_file_is_made_up() {
        let mut file = tempfile::tempfile().unwrap();
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&content).unwrap();
        for (start, len, missing) in [(0u64, 200_000u64, 0u64), (150_000, 60_000, 10_000)] {
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start)).unwrap();
            let (reader, writer) = std::io::pipe().unwrap();
            let fd = file.as_raw_fd();
            let sender = std::thread::spawn(move || {
                let mut frames = FrameWriter::new(std::fs::File::from(std::os::fd::OwnedFd::from(writer)));
                frames.send_with_file(&raw(r#"{"k": "out", "fd": 1}"#), b"head", fd, len).unwrap()
            });
            let frame = FrameReader::new(
                &{
                    let mut all = Vec::new();
                    std::fs::File::from(std::os::fd::OwnedFd::from(reader)).read_to_end(&mut all).unwrap();
                    all
                }[..],
            )
            .read()
            .unwrap()
            .unwrap();
            assert_eq!(sender.join().unwrap(), missing);
            let mut want = b"head".to_vec();
            let end = (start + len).min(content.len() as u64) as usize;
            want.extend_from_slice(&content[start as usize..end]);
            want.resize(4 + len as usize, 0);
            assert!(frame.payload == want, "payload differs for {start}+{len}");
        }
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

/// Property tests: arbitrary bytes never panic the reader and never make it
/// allocate past what actually arrived (plus a chunk), whatever lengths a
/// frame announces. The fuzz target in `fuzz/` checks the same at scale.
#[cfg(test)]
pub(crate) mod proptests {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    use proptest::prelude::*;

    use super::*;

    /// Counts the bytes this thread holds, and their peak, so a test can
    /// bound what a decoder allocated (the test threads run side by side).
    struct Meter;

    thread_local! {
        static LIVE: Cell<usize> = const { Cell::new(0) };
        static PEAK: Cell<usize> = const { Cell::new(0) };
    }

    fn grew(n: usize) {
        let _ = LIVE.try_with(|live| {
            let now = live.get().saturating_add(n);
            live.set(now);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
    }

    fn shrank(n: usize) {
        let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
    }

    // SAFETY: every call is passed straight to the system allocator; the
    // bookkeeping only touches const-initialised thread-locals.
    unsafe impl GlobalAlloc for Meter {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract, forwarded.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract, forwarded.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract, forwarded.
            unsafe { System.dealloc(p, layout) };
            shrank(layout.size());
        }
        unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the caller's contract, forwarded.
            let q = unsafe { System.realloc(p, layout, new_size) };
            if !q.is_null() {
                shrank(layout.size());
                grew(new_size);
            }
            q
        }
    }

    #[global_allocator]
    static METER: Meter = Meter;

    /// Runs `f`; also returns the most it held allocated at once.
    pub(crate) fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|peak| peak.set(base));
        let out = f();
        (out, PEAK.with(Cell::get).saturating_sub(base))
    }

    /// What reading may cost for `len` bytes of input: the 64 KiB buffer,
    /// the first 1 MiB chunk of a header and of a payload, and the parsed
    /// header (a small multiple of its text).
    fn budget(len: usize) -> usize {
        (3 << 20) + 64 * len
    }

    fn read_all(bytes: &[u8]) -> usize {
        let mut reader = FrameReader::new(bytes);
        let mut frames = 0;
        while let Ok(Some(_)) = reader.read() {
            frames += 1;
        }
        frames
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_nor_overallocate(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let (_, peak) = peak_during(|| read_all(&bytes));
            prop_assert!(peak <= budget(bytes.len()), "{} bytes in, {peak} allocated", bytes.len());
        }

        #[test]
        fn announced_lengths_cost_only_what_arrives(
            header_len in any::<u32>(),
            payload_len in any::<u32>(),
            body in proptest::collection::vec(any::<u8>(), 0..1024),
        ) {
            let mut bytes = header_len.to_be_bytes().to_vec();
            bytes.extend_from_slice(&payload_len.to_be_bytes());
            bytes.extend_from_slice(&body);
            let (frames, peak) = peak_during(|| read_all(&bytes));
            prop_assert!(peak <= budget(bytes.len()), "{} bytes in, {peak} allocated", bytes.len());
            prop_assert!(peak as u64 <= MAX_FRAME);
            if u64::from(header_len) + u64::from(payload_len) > body.len() as u64 {
                prop_assert_eq!(frames, 0);
            }
        }

        #[test]
        fn frames_round_trip(
            junk in "[a-z]{1,8}",
            fd in any::<u8>(),
            payload in proptest::collection::vec(any::<u8>(), 0..4096),
            frames in 1usize..4,
        ) {
            let mut bytes = Vec::new();
            let mut writer = FrameWriter::new(&mut bytes);
            let header = format!(r#"{{"k": "out", "{junk}x": [1, {{"a": "b"}}], "fd": {fd}, "id": 7}}"#);
            for _ in 0..frames {
                writer.send(&super::tests::raw(&header), &payload).unwrap();
            }
            let mut reader = FrameReader::new(&bytes[..]);
            for _ in 0..frames {
                let frame = reader.read().unwrap().unwrap();
                let FromServer::Out(out) = frame.header else { panic!("not out") };
                prop_assert_eq!((out.fd, out.id), (fd, Some(7)));
                prop_assert_eq!(&frame.payload, &payload);
            }
            prop_assert!(reader.read().unwrap().is_none());
        }
    }
}
