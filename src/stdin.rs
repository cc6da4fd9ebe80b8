//! Forwarded stdin: a local reader becomes the remote `sys.stdin` of one
//! request, streamed in `stdin` frames, at most a window ahead of what the
//! server has written into the remote pipe (its `stdin_ack` frames).

use std::fs::File;
use std::io::Read;
use std::os::fd::RawFd;
use std::sync::{Arc, Condvar, Mutex};

use crate::protocol::{FrameWriter, ToServer};

/// Bytes of forwarded stdin in flight before the server acknowledges them.
const STDIN_WINDOW: u64 = 8 << 20;
/// The most one `stdin` frame carries. A read returns what is there, so a
/// terminal's line goes out at once; a file (`pushy cp` uploads) goes in
/// MiB frames: each frame costs the server a thread hand-off and an ack.
const STDIN_CHUNK: usize = 1 << 20;

/// Forwarded input that may hand over part of a file instead of bytes, so
/// the file's content goes into the channel by `splice(2)` without passing
/// through this process (`pushy cp` uploads; see `Request::stdin_feed`).
pub trait Feed: Send {
    /// The next piece: bytes put in `buf` (how many; none at the end), and
    /// optionally `len` bytes of the open file `fd`, from its position, to
    /// follow them in the same frame.
    fn next(&mut self, buf: &mut [u8]) -> std::io::Result<(usize, Option<(RawFd, u64)>)>;

    /// The file of the last piece had `missing` bytes fewer than it said
    /// (it shrank): zeros went in their place.
    fn short(&mut self, missing: u64);
}

/// Any reader, as a feed of bytes only.
pub(crate) struct ReadFeed(pub(crate) Box<dyn Read + Send>);

impl Feed for ReadFeed {
    fn next(&mut self, buf: &mut [u8]) -> std::io::Result<(usize, Option<(RawFd, u64)>)> {
        self.0.read(buf).map(|n| (n, None))
    }

    fn short(&mut self, _: u64) {}
}

/// Forwards a local reader as the remote stdin, at most `STDIN_WINDOW`
/// bytes ahead of what the server has written into the remote pipe.
pub(crate) struct StdinForwarder {
    state: Arc<(Mutex<StdinState>, Condvar)>,
}

struct StdinState {
    in_flight: u64,
    stopped: bool,
}

impl StdinForwarder {
    pub(crate) fn start(mut input: Box<dyn Feed>, writer: Arc<Mutex<FrameWriter<File>>>, id: u64) -> StdinForwarder {
        let state = Arc::new((Mutex::new(StdinState { in_flight: 0, stopped: false }), Condvar::new()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; STDIN_CHUNK];
            loop {
                let (n, range) = match input.next(&mut buf) {
                    Ok(piece) => piece,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => (0, None),
                };
                let size = n as u64 + range.map_or(0, |(_, len)| len);
                {
                    let (lock, cond) = &*shared;
                    let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                    let guard = cond
                        .wait_while(guard, |s| !s.stopped && s.in_flight + size > STDIN_WINDOW)
                        .unwrap_or_else(|e| e.into_inner());
                    if guard.stopped {
                        return;
                    }
                    drop(guard);
                }
                let header = ToServer::Stdin { id };
                let mut writer = writer.lock().unwrap_or_else(|e| e.into_inner());
                let sent = match range {
                    None => writer.send(&header, &buf[..n]),
                    Some((fd, len)) => writer.send_with_file(&header, &buf[..n], fd, len).map(|missing| {
                        if missing > 0 {
                            input.short(missing);
                        }
                    }),
                };
                drop(writer);
                if sent.is_err() || size == 0 {
                    return;
                }
                shared.0.lock().unwrap_or_else(|e| e.into_inner()).in_flight += size;
            }
        });
        StdinForwarder { state }
    }

    pub(crate) fn acknowledge(&self, n: u64) {
        let (lock, cond) = &*self.state;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        state.in_flight = state.in_flight.saturating_sub(n);
        cond.notify_all();
    }

    pub(crate) fn stop(self) {
        let (lock, cond) = &*self.state;
        lock.lock().unwrap_or_else(|e| e.into_inner()).stopped = true;
        cond.notify_all();
    }
}
