//! Forwarded stdin: a local reader becomes the remote `sys.stdin` of one
//! request, streamed in `stdin` frames, at most a window ahead of what the
//! server has written into the remote pipe (its `stdin_ack` frames).

use std::fs::File;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};

use crate::protocol::{FrameWriter, ToServer};

/// Bytes of forwarded stdin in flight before the server acknowledges them.
const STDIN_WINDOW: u64 = 8 << 20;
/// The most one `stdin` frame carries. A read returns what is there, so a
/// terminal's line goes out at once; a file (`pushy cp` uploads) goes in
/// MiB frames: each frame costs the server a thread hand-off and an ack.
const STDIN_CHUNK: usize = 1 << 20;

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
    pub(crate) fn start(
        mut input: Box<dyn Read + Send>,
        writer: Arc<Mutex<FrameWriter<File>>>,
        id: u64,
    ) -> StdinForwarder {
        let state = Arc::new((Mutex::new(StdinState { in_flight: 0, stopped: false }), Condvar::new()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; STDIN_CHUNK];
            loop {
                let n = match input.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => 0,
                };
                {
                    let (lock, cond) = &*shared;
                    let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                    let guard = cond
                        .wait_while(guard, |s| !s.stopped && s.in_flight + n as u64 > STDIN_WINDOW)
                        .unwrap_or_else(|e| e.into_inner());
                    if guard.stopped {
                        return;
                    }
                    drop(guard);
                }
                let header = ToServer::Stdin { id };
                let sent = writer.lock().unwrap_or_else(|e| e.into_inner()).send(&header, &buf[..n]);
                if sent.is_err() || n == 0 {
                    return;
                }
                shared.0.lock().unwrap_or_else(|e| e.into_inner()).in_flight += n as u64;
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
