//! Files between the local machine and a session's host: `get` (remote to
//! local) and `put`, over the session's own channel (no scp or sftp needed
//! on the host), streamed in raw frames with bounded memory on both ends.
//!
//! Bytes are kept; modes are applied as cp applies them (the permission bits
//! less the receiver's umask, or every bit with `preserve`, which keeps
//! times too); symlinks inside a directory are copied as symlinks; a file
//! that cannot be read is reported by name and the rest goes on. Nothing is
//! ever left half-written under its final name: each file is written to a
//! private temporary name in its target directory and renamed when complete.
//!
//! Both directions send the same records: an entry names its place as a list
//! of single path components below the copy's root, in depth-first preorder
//! (see `bootstrap/extras.py`). The receiver checks every name and builds
//! every path itself; on this side that is `sink` (a private module), on the host
//! `receive_tree`.

mod record;
mod records;
pub(crate) mod sink;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::session::{Event, Reply, Request, Session, Transfer};
use sink::Sink;

/// How to copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Copy directories, recursively.
    pub recursive: bool,
    /// Keep every mode bit (setuid, setgid, sticky; no umask) and the
    /// access and modification times, as `scp -p`.
    pub preserve: bool,
}

/// Shared between a transfer and whoever watches it (a progress bar, a
/// Ctrl-C handler).
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of file content moved so far.
    pub done: AtomicU64,
    /// Bytes of file content in all (known once the transfer starts).
    pub total: AtomicU64,
    /// Set to stop the transfer; it then ends with an error of kind Io.
    pub cancel: AtomicBool,
}

/// What a transfer did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Files written.
    pub files: u64,
    /// Bytes of content moved.
    pub bytes: u64,
    /// The entries that could not be copied, each with why.
    pub errors: Vec<String>,
}

fn cancelled() -> Error {
    Error::new(ErrorKind::Io, "the copy was interrupted")
}

/// Copies `remote` (a file, or with `recursive` a directory) to `local`. As
/// with scp, an existing local directory receives the entry by its name.
/// Nothing the host sends can place a file outside `local` (see the private `sink` module).
pub fn get(
    session: &mut Session,
    remote: &str,
    local: &Path,
    options: Options,
    progress: &Progress,
) -> Result<Summary> {
    let mut sink = Sink::new(local, options.recursive, options.preserve);
    let request = Request {
        stream: true,
        // Each chunk of a file goes from the channel into the file by splice.
        splice_items: true,
        transfer: Some(Transfer::Get { path: remote, recursive: options.recursive }),
        ..Request::new("")
    };
    let reply = session.request(request, &mut |event| {
        if progress.cancel.load(Ordering::SeqCst) {
            return Err(cancelled());
        }
        match event {
            Event::Item(value) => sink.item(&value, progress),
            Event::BytesInto { into, .. } => {
                *into = sink.content_fd();
                Ok(())
            }
            Event::Spliced(len) => {
                sink.content_moved(len, progress);
                Ok(())
            }
            Event::Output(..)
            | Event::Flush
            | Event::Bytes(_)
            | Event::Echo(_)
            | Event::Read { .. }
            | Event::Page(_) => Ok(()),
        }
    });
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => {
            sink.abandon();
            return Err(e);
        }
    };
    match reply {
        Reply::StreamEnd(_) => {
            sink.finish();
            Ok(sink.summary)
        }
        Reply::Raised(e) => {
            sink.abandon();
            Err(Error::new(ErrorKind::Remote, format!("{remote}: {}", e.message)))
        }
        _ => {
            sink.abandon();
            Err(Error::protocol("unexpected reply to a file transfer"))
        }
    }
}

/// Copies `local` (a file, or with `recursive` a directory) to `remote`. As
/// with scp, an existing remote directory receives the entry by its name.
pub fn put(
    session: &mut Session,
    local: &Path,
    remote: &str,
    options: Options,
    progress: &Arc<Progress>,
) -> Result<Summary> {
    let entries = walk(local, options.recursive)?;
    let total: u64 = entries.iter().filter(|e| e.kind == Kind::File).map(|e| e.size).sum();
    progress.total.store(total, Ordering::Relaxed);
    let name = local
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| local.display().to_string());
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let records = records::Records::new(&name, entries, Arc::clone(progress), Arc::clone(&errors));
    let request = Request {
        transfer: Some(Transfer::Put { path: remote, preserve: options.preserve }),
        stdin_feed: Some(Box::new(records)),
        ..Request::new("")
    };
    let reply = session.request(request, &mut |_| Ok(()));
    let mut local_errors = std::mem::take(&mut *errors.lock().unwrap_or_else(|e| e.into_inner()));
    match reply? {
        Reply::Value(value, _) => {
            let mut summary = record::put_summary(&value)?;
            local_errors.append(&mut summary.errors);
            summary.errors = local_errors;
            Ok(summary)
        }
        Reply::Raised(e) if progress.cancel.load(Ordering::SeqCst) => {
            let _ = e;
            Err(cancelled())
        }
        Reply::Raised(e) => Err(Error::new(ErrorKind::Remote, format!("{remote}: {}", e.message))),
        _ => Err(Error::protocol("unexpected reply to a file transfer")),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
}

struct Entry {
    rel: Vec<String>,
    full: PathBuf,
    kind: Kind,
    size: u64,
    meta: std::fs::Metadata,
}

/// The local tree, root first, each directory's entries in name order.
fn walk(root: &Path, recursive: bool) -> Result<Vec<Entry>> {
    let meta = root.symlink_metadata().map_err(|e| Error::new(ErrorKind::Usage, format!("{}: {e}", root.display())))?;
    if meta.is_dir() && !recursive {
        return Err(Error::new(ErrorKind::Usage, format!("{} is a directory", root.display())).with_hint("use -r"));
    }
    let mut out = Vec::new();
    let mut todo = vec![(Vec::new(), root.to_path_buf(), meta)];
    while let Some((rel, full, meta)) = todo.pop() {
        let kind = if meta.file_type().is_symlink() {
            Kind::Symlink
        } else if meta.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        };
        if kind == Kind::Dir {
            let mut children: Vec<_> = std::fs::read_dir(&full)?.flatten().collect();
            children.sort_by_key(|c| c.file_name());
            for child in children.into_iter().rev() {
                let name = child.file_name().to_string_lossy().into_owned();
                if let Ok(meta) = child.path().symlink_metadata() {
                    let mut path = rel.clone();
                    path.push(name);
                    todo.push((path, child.path(), meta));
                }
            }
        }
        out.push(Entry { rel, full, size: meta.len(), kind, meta });
    }
    Ok(out)
}
