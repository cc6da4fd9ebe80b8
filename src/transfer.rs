//! Files between the local machine and a session's host: `get` (remote to
//! local) and `put`, over the session's own channel (no scp or sftp needed
//! on the host), streamed in raw frames with bounded memory on both ends.
//!
//! Bytes, mode bits and (with `preserve`) times are kept; symlinks inside a
//! directory are copied as symlinks; a file that cannot be read is reported
//! by name and the rest goes on. Nothing is ever left half-written under its
//! final name: each file is written to a temporary name in its target
//! directory and renamed when complete.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::error::{Error, ErrorKind, Result};
use crate::session::{Event, Mode, Reply, Request, Session};
use crate::value::Value;

/// How to copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Copy directories, recursively.
    pub recursive: bool,
    /// Keep access and modification times.
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
pub fn get(
    session: &mut Session,
    remote: &str,
    local: &Path,
    options: Options,
    progress: &Progress,
) -> Result<Summary> {
    let mut sink = Sink {
        local: local.to_path_buf(),
        base: None,
        current: None,
        dirs: Vec::new(),
        summary: Summary::default(),
        preserve: options.preserve,
    };
    let request = Request {
        mode: Mode::Get,
        stream: true,
        args: json!({"path": remote, "recursive": options.recursive}),
        ..Request::new("")
    };
    let reply = session.request(request, &mut |event| {
        if progress.cancel.load(Ordering::SeqCst) {
            return Err(cancelled());
        }
        match event {
            Event::Item(value) => sink.item(value, progress),
            Event::Output(..) | Event::Flush | Event::Bytes(_) => Ok(()),
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
            sink.finish()?;
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

/// Where `get` writes: the entries as they stream in.
struct Sink {
    local: PathBuf,
    base: Option<PathBuf>,
    current: Option<(File, PathBuf, PathBuf, Value)>,
    dirs: Vec<(PathBuf, Value)>,
    summary: Summary,
    preserve: bool,
}

impl Sink {
    fn item(&mut self, value: Value, progress: &Progress) -> Result<()> {
        if let Value::Bytes(bytes) = &value {
            let (file, ..) = self.current.as_mut().ok_or_else(|| Error::protocol("file content without a file"))?;
            file.write_all(bytes)?;
            progress.done.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            self.summary.bytes += bytes.len() as u64;
            return Ok(());
        }
        if let Some(total) = field(&value, "total").and_then(Value::as_i64) {
            progress.total.store(total as u64, Ordering::Relaxed);
            let name = field(&value, "name").and_then(Value::as_str).unwrap_or("copy");
            self.base = Some(if self.local.is_dir() { self.local.join(name) } else { self.local.clone() });
            return Ok(());
        }
        let base = self.base.clone().ok_or_else(|| Error::protocol("entries before the header"))?;
        let rel = field(&value, "path").and_then(Value::as_str).unwrap_or("");
        let target = if rel.is_empty() { base } else { base.join(rel) };
        if let Some(error) = field(&value, "error").and_then(Value::as_str) {
            self.drop_current();
            self.summary.errors.push(error.to_string());
            return Ok(());
        }
        if field(&value, "end").is_some() {
            let (file, tmp, target, meta) = self.current.take().ok_or_else(|| Error::protocol("end without a file"))?;
            drop(file);
            apply_meta(&tmp, &meta, self.preserve)?;
            std::fs::rename(&tmp, &target)?;
            self.summary.files += 1;
            return Ok(());
        }
        match field(&value, "type").and_then(Value::as_str) {
            Some("dir") => {
                std::fs::create_dir_all(&target)?;
                self.dirs.push((target, value));
            }
            Some("symlink") => {
                let link = field(&value, "target").and_then(Value::as_str).unwrap_or("");
                if target.symlink_metadata().is_ok() {
                    std::fs::remove_file(&target)?;
                }
                std::os::unix::fs::symlink(link, &target)?;
            }
            Some("file") => {
                let tmp = temp_name(&target);
                let file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
                self.current = Some((file, tmp, target, value));
            }
            _ => return Err(Error::protocol("unknown entry in a file transfer")),
        }
        Ok(())
    }

    fn drop_current(&mut self) {
        if let Some((file, tmp, ..)) = self.current.take() {
            drop(file);
            let _ = std::fs::remove_file(tmp);
        }
    }

    /// Directory modes last, so read-only directories could still be filled.
    fn finish(&mut self) -> Result<()> {
        for (dir, meta) in self.dirs.iter().rev() {
            apply_meta(dir, meta, self.preserve)?;
        }
        Ok(())
    }

    fn abandon(&mut self) {
        self.drop_current();
    }
}

fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Dict(pairs, _) => pairs.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn apply_meta(path: &Path, meta: &Value, preserve: bool) -> Result<()> {
    if let Some(mode) = field(meta, "mode").and_then(Value::as_i64) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode as u32 & 0o7777))?;
    }
    if preserve {
        let time = |key| field(meta, key).and_then(number).map(|t| UNIX_EPOCH + Duration::from_secs_f64(t.max(0.0)));
        if let (Some(atime), Some(mtime)) = (time("atime"), time("mtime")) {
            let file = File::options().write(path.is_file()).read(!path.is_file()).open(path)?;
            file.set_times(std::fs::FileTimes::new().set_accessed(atime).set_modified(mtime))?;
        }
    }
    Ok(())
}

/// `.NAME.pushy-PID` beside the target: same directory, so the final rename
/// is atomic.
fn temp_name(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".{name}.pushy-{}", std::process::id()))
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
    let (reader, writer) = std::io::pipe()?;
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let producer = {
        let progress = Arc::clone(progress);
        let errors = Arc::clone(&errors);
        std::thread::spawn(move || produce(writer, &name, entries, &progress, &errors))
    };
    let request = Request {
        mode: Mode::Put,
        args: json!({"path": remote, "preserve": options.preserve}),
        stdin: Some(Box::new(reader)),
        ..Request::new("")
    };
    let reply = session.request(request, &mut |_| Ok(()));
    let _ = producer.join();
    let mut local_errors = std::mem::take(&mut *errors.lock().unwrap_or_else(|e| e.into_inner()));
    match reply? {
        Reply::Value(value, _) => {
            let count = |key| field(&value, key).and_then(Value::as_i64).unwrap_or(0) as u64;
            if let Some(Value::Seq(_, remote_errors, _)) = field(&value, "errors") {
                local_errors.extend(remote_errors.iter().filter_map(|e| e.as_str().map(str::to_owned)));
            }
            Ok(Summary { files: count("files"), bytes: count("bytes"), errors: local_errors })
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
    rel: String,
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
    let mut todo = vec![(String::new(), root.to_path_buf(), meta)];
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
                    let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                    todo.push((rel, child.path(), meta));
                }
            }
        }
        out.push(Entry { rel, full, size: meta.len(), kind, meta });
    }
    Ok(out)
}

/// Writes the record stream `receive_tree` reads (see bootstrap/server.py).
fn produce(
    mut out: std::io::PipeWriter,
    name: &str,
    entries: Vec<Entry>,
    progress: &Progress,
    errors: &std::sync::Mutex<Vec<String>>,
) {
    let _ = (|| -> std::io::Result<()> {
        writeln!(out, "{}", json!({"name": name}))?;
        for entry in entries {
            if progress.cancel.load(Ordering::SeqCst) {
                return Ok(()); // a cut stream: the server drops its temporary file
            }
            let mode = entry.meta.permissions().mode() & 0o7777;
            let time = |t: std::io::Result<SystemTime>| {
                t.ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs_f64()).unwrap_or(0.0)
            };
            let mut head = json!({"path": entry.rel, "mode": mode, "mtime": time(entry.meta.modified()), "atime": time(entry.meta.accessed())});
            match entry.kind {
                Kind::Dir => head["type"] = "dir".into(),
                Kind::Symlink => {
                    head["type"] = "symlink".into();
                    head["target"] = std::fs::read_link(&entry.full)?.to_string_lossy().into_owned().into();
                }
                Kind::File => head["type"] = "file".into(),
            }
            if entry.kind != Kind::File {
                writeln!(out, "{head}")?;
                continue;
            }
            let mut file = match File::open(&entry.full) {
                Ok(file) => file,
                Err(e) => {
                    errors.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{}: {e}", entry.full.display()));
                    continue;
                }
            };
            writeln!(out, "{head}")?;
            let mut buf = vec![0u8; 1 << 20];
            let status = loop {
                if progress.cancel.load(Ordering::SeqCst) {
                    return Ok(());
                }
                match file.read(&mut buf) {
                    Ok(0) => break json!({"ok": true}),
                    Ok(n) => {
                        out.write_all(&(n as u64).to_be_bytes())?;
                        out.write_all(&buf[..n])?;
                        progress.done.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => break json!({"ok": false, "error": format!("{}: {e}", entry.full.display())}),
                }
            };
            out.write_all(&0u64.to_be_bytes())?;
            writeln!(out, "{status}")?;
        }
        writeln!(out, "{}", json!({"done": true}))
    })();
}
