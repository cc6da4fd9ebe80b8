//! The record stream of a put (what `receive_tree` in `bootstrap/extras.py`
//! reads), produced as the stdin forwarder asks for it: no thread or pipe
//! between. A chunk of content (its 8-byte big-endian length, then the
//! bytes) is the whole of one piece, so it reaches the host as the whole of
//! one frame, which the host moves into the file without reading it. As a
//! [`Feed`] the chunks of a file's size when opened are ranges of the file,
//! which go into the channel by splice without passing through this
//! process; what it grew by since is read, and a file that shrank ends
//! with an error for that file. As a plain reader every chunk is read.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{Entry, Kind, Progress};
use crate::stdin::Feed;

/// A chunk read into a buffer smaller than this goes through `pending`
/// (a reader may pass any buffer; the forwarder passes a MiB).
const DIRECT: usize = 8 + (64 << 10);

/// The most a chunk given as a range of the file holds.
const CHUNK: u64 = 1 << 20;

/// A file being sent.
struct Open {
    file: File,
    /// Its name, for errors.
    name: String,
    /// Bytes of the size it had when opened not yet given as ranges to
    /// splice; what it grew by since is read.
    left: u64,
    /// Set when a range came up short: the file shrank while it was sent.
    shrank: Option<u64>,
}

pub(super) struct Records {
    /// Record text (or a chunk) not yet returned, from `at` on.
    pending: Vec<u8>,
    at: usize,
    entries: std::vec::IntoIter<Entry>,
    /// The file whose content is being sent.
    file: Option<Open>,
    progress: Arc<Progress>,
    /// Local files that could not be opened: reported, not sent.
    errors: Arc<Mutex<Vec<String>>>,
    done: bool,
}

impl Records {
    /// The stream for `entries` (root first), the root's name first.
    pub(super) fn new(
        name: &str,
        entries: Vec<Entry>,
        progress: Arc<Progress>,
        errors: Arc<Mutex<Vec<String>>>,
    ) -> Records {
        let mut records = Records {
            pending: Vec::new(),
            at: 0,
            entries: entries.into_iter(),
            file: None,
            progress,
            errors,
            done: false,
        };
        records.line(&json!({ "name": name }));
        records
    }

    fn line(&mut self, record: &serde_json::Value) {
        self.pending.extend_from_slice(record.to_string().as_bytes());
        self.pending.push(b'\n');
    }

    /// The end of a file's content: an empty chunk, then its status.
    fn end_of_file(&mut self, status: serde_json::Value) {
        self.file = None;
        self.pending.extend_from_slice(&0u64.to_be_bytes());
        self.line(&status);
    }

    /// Queues the next entry's record (and opens its file), or the last
    /// record; false when there is nothing more.
    fn next_entry(&mut self) -> io::Result<bool> {
        let Some(entry) = self.entries.next() else {
            if self.done {
                return Ok(false);
            }
            self.done = true;
            self.line(&json!({ "done": true }));
            return Ok(true);
        };
        let mode = entry.meta.permissions().mode() & 0o7777;
        let time = |t: io::Result<SystemTime>| {
            t.ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs_f64()).unwrap_or(0.0)
        };
        let mut head = json!({"path": entry.rel, "mode": mode, "mtime": time(entry.meta.modified()), "atime": time(entry.meta.accessed())});
        match entry.kind {
            Kind::Dir => head["type"] = "dir".into(),
            Kind::Symlink => {
                head["type"] = "symlink".into();
                head["target"] = std::fs::read_link(&entry.full)?.to_string_lossy().into_owned().into();
            }
            Kind::File => match File::open(&entry.full) {
                Ok(file) => {
                    head["type"] = "file".into();
                    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
                    self.file = Some(Open { file, name: entry.full.display().to_string(), left: size, shrank: None });
                }
                Err(e) => {
                    self.errors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(format!("{}: {e}", entry.full.display()));
                    return Ok(true); // nothing is sent for it
                }
            },
        }
        self.line(&head);
        Ok(true)
    }
}

impl Records {
    /// The next piece of the stream (see `Feed::next`); `ranges`: a file's
    /// content may be given as ranges of the file instead of bytes.
    fn piece(&mut self, buf: &mut [u8], ranges: bool) -> io::Result<(usize, Option<(RawFd, u64)>)> {
        loop {
            if self.at < self.pending.len() {
                let n = (self.pending.len() - self.at).min(buf.len());
                buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
                self.at += n;
                if self.at == self.pending.len() {
                    self.pending.clear();
                    self.at = 0;
                }
                return Ok((n, None));
            }
            if self.progress.cancel.load(Ordering::SeqCst) {
                return Ok((0, None)); // a cut stream: the host drops its temporary file
            }
            let Some(open) = &mut self.file else {
                if self.next_entry()? {
                    continue;
                }
                return Ok((0, None));
            };
            if let Some(missing) = open.shrank {
                let error = format!("{}: it shrank by {missing} bytes while it was being copied", open.name);
                self.end_of_file(json!({"ok": false, "error": error}));
                continue;
            }
            if ranges && open.left > 0 && buf.len() >= 8 {
                // A chunk: its length here, its bytes spliced from the file.
                let len = open.left.min(CHUNK);
                open.left -= len;
                self.progress.done.fetch_add(len, Ordering::Relaxed);
                buf[..8].copy_from_slice(&len.to_be_bytes());
                return Ok((8, Some((open.file.as_raw_fd(), len))));
            }
            let direct = buf.len() >= DIRECT;
            let mut small = Vec::new();
            let into = if direct {
                &mut buf[8..]
            } else {
                small.resize(DIRECT - 8, 0);
                &mut small[..]
            };
            match open.file.read(into) {
                Ok(0) => self.end_of_file(json!({"ok": true})),
                Ok(n) => {
                    self.progress.done.fetch_add(n as u64, Ordering::Relaxed);
                    let length = (n as u64).to_be_bytes();
                    if direct {
                        buf[..8].copy_from_slice(&length);
                        return Ok((8 + n, None));
                    }
                    self.pending.extend_from_slice(&length);
                    self.pending.extend_from_slice(&small[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let error = format!("{}: {e}", open.name);
                    self.end_of_file(json!({"ok": false, "error": error}));
                }
            }
        }
    }
}

/// As bytes only (every chunk read here).
impl Read for Records {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.piece(buf, false).map(|(n, _)| n)
    }
}

/// With each file's content, as far as its size when opened, given as
/// ranges that go into the channel by splice.
impl Feed for Records {
    fn next(&mut self, buf: &mut [u8]) -> io::Result<(usize, Option<(RawFd, u64)>)> {
        self.piece(buf, true)
    }

    fn short(&mut self, missing: u64) {
        if let Some(open) = &mut self.file {
            open.shrank = Some(missing);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream for a directory with a file of `size` bytes, read through
    /// buffers of `buf` bytes.
    fn stream(size: usize, buf: usize) -> (Vec<u8>, Vec<usize>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![7u8; size]).unwrap();
        let entries = super::super::walk(dir.path(), true).unwrap();
        let progress = Arc::new(Progress::default());
        let mut records = Records::new("d", entries, progress, Arc::default());
        let (mut out, mut reads) = (Vec::new(), Vec::new());
        let mut chunk = vec![0u8; buf];
        loop {
            let n = records.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            reads.push(n);
            out.extend_from_slice(&chunk[..n]);
        }
        (out, reads)
    }

    /// The records in `bytes`: JSON lines, and each chunk's length.
    fn parse(bytes: &[u8]) -> Vec<String> {
        let (mut out, mut at, mut in_file) = (Vec::new(), 0, false);
        while at < bytes.len() {
            if in_file {
                let n = u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
                at += 8 + n;
                out.push(format!("chunk {n}"));
                in_file = n > 0;
                continue;
            }
            let end = at + bytes[at..].iter().position(|&b| b == b'\n').unwrap();
            let line = String::from_utf8(bytes[at..end].to_vec()).unwrap();
            in_file = line.contains("\"type\":\"file\"");
            out.push(line.split(',').next().unwrap().to_string());
            at = end + 1;
        }
        out
    }

    #[test]
    fn a_chunk_is_one_whole_read() {
        let (bytes, reads) = stream(3 << 20, 1 << 20);
        let records = parse(&bytes);
        assert_eq!(records.iter().filter(|r| r.starts_with("chunk")).count(), 5, "{records:?}");
        assert!(records.contains(&format!("chunk {}", (1 << 20) - 8)), "{records:?}");
        // Every read that holds content is exactly one chunk: its length says so.
        let mut at = 0;
        for n in reads {
            let piece = &bytes[at..at + n];
            if n > 1000 {
                assert_eq!(u64::from_be_bytes(piece[..8].try_into().unwrap()) as usize, n - 8);
            }
            at += n;
        }
    }

    #[test]
    fn as_a_feed_a_file_goes_as_ranges_and_a_shrunk_one_ends_in_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![7u8; (1 << 20) + 5]).unwrap();
        let entries = super::super::walk(dir.path(), true).unwrap();
        let mut records = Records::new("d", entries, Arc::new(Progress::default()), Arc::default());
        let mut buf = vec![0u8; 1 << 20];
        let mut ranges = Vec::new();
        let mut text = Vec::new();
        loop {
            let (n, range) = records.next(&mut buf).unwrap();
            if n == 0 && range.is_none() {
                break;
            }
            match range {
                Some((_, len)) => {
                    assert_eq!((n, u64::from_be_bytes(buf[..8].try_into().unwrap())), (8, len));
                    ranges.push(len);
                    if ranges.len() == 2 {
                        records.short(3); // as if the file had lost 3 bytes by now
                    }
                }
                None => text.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(ranges, [1 << 20, 5]);
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains("shrank by 3 bytes"), "{text}");
        assert!(!text.contains(r#""ok":true"#), "{text}");
    }

    #[test]
    fn small_buffers_give_the_same_stream() {
        let (big, _) = stream(200_000, 1 << 20);
        let (small, _) = stream(200_000, 100);
        assert_eq!(parse(&big)[..2], parse(&small)[..2]);
        let total = |records: &[String]| -> usize {
            records.iter().filter_map(|r| r.strip_prefix("chunk ")).map(|n| n.parse::<usize>().unwrap()).sum()
        };
        assert_eq!(total(&parse(&big)), 200_000);
        assert_eq!(total(&parse(&small)), 200_000);
        assert!(parse(&small).last().unwrap().starts_with("{\"done\""));
    }
}
