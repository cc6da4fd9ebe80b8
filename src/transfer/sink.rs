//! Where a download lands: the entries a host sends, written under the
//! destination the user named and nowhere else.
//!
//! The host is not trusted (scp's CVE-2019-6111 is the lesson). Every name it
//! sends is checked to be one path component, and the client builds each
//! local path itself. Directories are entered with `O_NOFOLLOW` from the one
//! above them, and a symlink found where a directory goes is replaced, never
//! followed. Files are written to a random private name (`O_EXCL`, 0600),
//! given their final mode, and renamed over the target, so a planted symlink
//! is replaced, never written through. Modes are applied as cp applies them:
//! the permission bits less the umask, unless `preserve` keeps them all.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use rustix::fs::{self as fs, AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};

use super::record::{Entry, Kind, Record};
use super::{Progress, Summary};
use crate::error::{Error, Result};
use crate::value::Value;

/// A directory entered during the copy.
struct Dir {
    /// Its components below the copy's root.
    path: Vec<OsString>,
    /// None when it could not be made: what lies below it is skipped.
    fd: Option<OwnedFd>,
    meta: Meta,
    /// Made by this copy (an existing directory keeps its mode unless
    /// `preserve`).
    created: bool,
}

/// Mode and times of an entry, as the host sent them.
#[derive(Clone, Copy)]
struct Meta {
    mode: u32,
    times: Option<(f64, f64)>,
}

/// The file being received.
enum Incoming {
    /// Content goes to `file`, at `tmp` in the directory `parent` (None: the
    /// base), to be renamed to `name`.
    Writing { file: File, parent: Option<usize>, tmp: OsString, name: OsString, meta: Meta, shown: String },
    /// Content is read past: the file lies in a directory that could not be
    /// made.
    Skipping,
}

/// The download's state, fed one streamed item at a time.
pub(super) struct Sink {
    dest: PathBuf,
    recursive: bool,
    preserve: bool,
    umask: u32,
    /// Where the root entry goes: a directory and the name in it.
    base: Option<(OwnedFd, OsString)>,
    root_seen: bool,
    stack: Vec<Dir>,
    current: Option<Incoming>,
    pub(super) summary: Summary,
}

impl Sink {
    pub(super) fn new(dest: &Path, recursive: bool, preserve: bool) -> Sink {
        Sink {
            dest: dest.to_path_buf(),
            recursive,
            preserve,
            umask: current_umask(),
            base: None,
            root_seen: false,
            stack: Vec::new(),
            current: None,
            summary: Summary::default(),
        }
    }

    /// Takes one streamed item: the header, an entry, file content, a
    /// file's end, or an entry that could not be read; `progress` learns
    /// the total and the content bytes taken.
    pub(super) fn item(&mut self, value: &Value, progress: &Progress) -> Result<()> {
        let record = Record::parse(value)?;
        if let Record::Content(bytes) = record {
            let taken = self.content(bytes)?;
            progress.done.fetch_add(taken, Ordering::Relaxed);
            return Ok(());
        }
        if let Record::Header { name, total } = record {
            progress.total.store(total, Ordering::Relaxed);
            return self.header(name);
        }
        if self.base.is_none() {
            return Err(Error::protocol("file entries before the copy's header"));
        }
        match record {
            Record::End => self.end()?,
            Record::Unreadable(why) => {
                self.drop_current();
                self.summary.errors.push(why);
            }
            Record::Entry(_) if self.current.is_some() => {
                return Err(Error::protocol("a new entry inside a file's content"))
            }
            Record::Entry(entry) => self.entry(entry),
            Record::Header { .. } | Record::Content(_) => unreachable!("handled above"),
        }
        Ok(())
    }

    /// The header: decides where the root goes. As scp: an existing
    /// directory (the user named it, so a symlink to one is followed)
    /// receives the entry by the host's name for it; anything else is the
    /// name the entry takes.
    fn header(&mut self, host_name: Option<OsString>) -> Result<()> {
        if self.base.is_some() {
            return Err(Error::protocol("a second header in one copy"));
        }
        let (dir, name) = if self.dest.is_dir() {
            let name = host_name.unwrap_or_default();
            if !one_name(&name) {
                return Err(Error::new(
                    crate::error::ErrorKind::Remote,
                    format!("refused the name {:?} from the host: not a single file name", name),
                ));
            }
            (self.dest.clone(), name)
        } else {
            let name = self.dest.file_name().map(OsStr::to_os_string).unwrap_or_default();
            if !one_name(&name) {
                return Err(Error::usage(format!("{}: not a file name to copy to", self.dest.display())));
            }
            let parent = self.dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            (parent.to_path_buf(), name)
        };
        let fd = fs::open(&dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::new(crate::error::ErrorKind::Io, format!("{}: {e}", dir.display())))?;
        self.base = Some((fd, name));
        Ok(())
    }

    /// A dir, file or symlink entry.
    fn entry(&mut self, entry: Entry<'_>) {
        let kind = entry.kind.clone();
        let raw_path = entry.raw_path;
        let refuse = |sink: &mut Sink, why: &str| {
            let shown = raw_path.map(|p| crate::printer::Pretty { width: 1000, color: false }.render(p));
            sink.summary
                .errors
                .push(format!("refused {} from the host: {why}", shown.unwrap_or_else(|| "an entry".into())));
            if kind == Kind::File {
                sink.current = Some(Incoming::Skipping);
            }
        };
        let Some(path) = entry.path.filter(|p| p.iter().all(|c| one_name(c))) else {
            return refuse(self, "not a single file name");
        };
        if !self.recursive && (!path.is_empty() || kind == Kind::Dir) {
            return refuse(self, "a directory's entry, and -r was not given");
        }
        let meta = Meta { mode: entry.mode, times: entry.times };
        // The parent: the base for the root, else the directory entered just
        // above (entries come in depth-first preorder).
        let parent = if path.is_empty() {
            if std::mem::replace(&mut self.root_seen, true) {
                return refuse(self, "a second root");
            }
            self.leave_to(0);
            None
        } else {
            let above = &path[..path.len() - 1];
            while self.stack.last().is_some_and(|d| d.path != above) {
                self.leave();
            }
            if self.stack.is_empty() {
                return refuse(self, "not inside a directory of this copy");
            }
            Some(self.stack.len() - 1)
        };
        if parent.is_some_and(|i| self.stack[i].fd.is_none()) {
            if kind == Kind::Dir {
                self.stack.push(Dir { path, fd: None, meta, created: false });
            } else if kind == Kind::File {
                self.current = Some(Incoming::Skipping);
            }
            return; // inside a directory that could not be made: said once
        }
        let name = match path.last() {
            Some(name) => name.clone(),
            None => self.base.as_ref().map(|(_, name)| name.clone()).unwrap_or_default(),
        };
        let shown = self.shown(&path);
        let dir = match parent {
            Some(i) => self.stack[i].fd.as_ref().expect("checked above").as_fd(),
            None => self.base.as_ref().expect("checked by item").0.as_fd(),
        };
        let outcome = match kind {
            Kind::Dir => match enter_dir(dir, &name) {
                Ok((fd, created)) => {
                    self.stack.push(Dir { path, fd: Some(fd), meta, created });
                    Ok(())
                }
                Err(e) => {
                    self.stack.push(Dir { path, fd: None, meta, created: false });
                    Err(e)
                }
            },
            Kind::Symlink => place_symlink(dir, &entry.target.unwrap_or_default(), &name),
            Kind::File => match create_temp(dir) {
                Ok((file, tmp)) => {
                    self.current = Some(Incoming::Writing { file, parent, tmp, name, meta, shown: shown.clone() });
                    Ok(())
                }
                Err(e) => {
                    self.current = Some(Incoming::Skipping);
                    Err(e)
                }
            },
            Kind::Other(other) => {
                self.summary.errors.push(format!("{shown}: unknown entry type {other:?}"));
                return;
            }
        };
        if let Err(e) = outcome {
            self.summary.errors.push(format!("{shown}: {e}"));
        }
    }

    /// Where a chunk of content may go unread (see `Event::BytesInto`):
    /// the file being written, if there is one.
    pub(super) fn content_fd(&self) -> Option<std::os::fd::RawFd> {
        match &self.current {
            Some(Incoming::Writing { file, .. }) => Some(std::os::fd::AsRawFd::as_raw_fd(file)),
            _ => None,
        }
    }

    /// A chunk of `len` bytes went into the file `content_fd` gave.
    pub(super) fn content_moved(&mut self, len: u64, progress: &Progress) {
        self.summary.bytes += len;
        progress.done.fetch_add(len, Ordering::Relaxed);
    }

    fn content(&mut self, bytes: &[u8]) -> Result<u64> {
        match self.current.as_mut() {
            Some(Incoming::Writing { file, shown, .. }) => {
                file.write_all(bytes).map_err(|e| Error::new(crate::error::ErrorKind::Io, format!("{shown}: {e}")))?;
                self.summary.bytes += bytes.len() as u64;
                Ok(bytes.len() as u64)
            }
            Some(Incoming::Skipping) => Ok(bytes.len() as u64),
            None => Err(Error::protocol("file content without a file")),
        }
    }

    /// A file's content is complete: its mode, its times, its name.
    fn end(&mut self) -> Result<()> {
        match self.current.take() {
            None => Err(Error::protocol("a file's end without a file")),
            Some(Incoming::Skipping) => Ok(()),
            Some(Incoming::Writing { file, parent, tmp, name, meta, shown }) => {
                let dir = match parent {
                    Some(i) => self.stack[i].fd.as_ref().expect("a written file's directory is open").as_fd(),
                    None => self.base.as_ref().expect("set before any file").0.as_fd(),
                };
                let done = apply_meta(file.as_fd(), meta, self.preserve, self.umask).and_then(|()| {
                    drop(file);
                    fs::renameat(dir, &tmp, dir, &name).map_err(std::io::Error::from)
                });
                match done {
                    Ok(()) => self.summary.files += 1,
                    Err(e) => {
                        let _ = fs::unlinkat(dir, &tmp, AtFlags::empty());
                        self.summary.errors.push(format!("{shown}: {e}"));
                    }
                }
                Ok(())
            }
        }
    }

    /// Leaves the innermost directory: it is filled, so its mode (perhaps
    /// read-only) and times can now be set.
    fn leave(&mut self) {
        let Some(dir) = self.stack.pop() else { return };
        let Some(fd) = dir.fd else { return };
        if dir.created || self.preserve {
            let meta = if self.preserve { dir.meta } else { Meta { times: None, ..dir.meta } };
            if let Err(e) = apply_meta(fd.as_fd(), meta, self.preserve, self.umask) {
                let shown = self.shown(&dir.path);
                self.summary.errors.push(format!("{shown}: {e}"));
            }
        }
    }

    fn leave_to(&mut self, depth: usize) {
        while self.stack.len() > depth {
            self.leave();
        }
    }

    fn drop_current(&mut self) {
        if let Some(Incoming::Writing { file, parent, tmp, .. }) = self.current.take() {
            drop(file);
            let dir = match parent {
                Some(i) => self.stack.get(i).and_then(|d| d.fd.as_ref()).map(|fd| fd.as_fd()),
                None => self.base.as_ref().map(|(fd, _)| fd.as_fd()),
            };
            if let Some(dir) = dir {
                let _ = fs::unlinkat(dir, &tmp, AtFlags::empty());
            }
        }
    }

    /// The copy ended: every directory gets its mode.
    pub(super) fn finish(&mut self) {
        self.drop_current();
        self.leave_to(0);
    }

    /// The copy failed or was cancelled: no temporary file stays.
    pub(super) fn abandon(&mut self) {
        self.finish();
    }

    /// The local path of an entry, for messages.
    fn shown(&self, path: &[OsString]) -> String {
        let mut full = match &self.base {
            Some((_, name)) if self.dest.is_dir() => self.dest.join(name),
            _ => self.dest.clone(),
        };
        for part in path {
            full.push(part);
        }
        full.display().to_string()
    }
}

/// One path component: not empty, not `.` or `..`, no `/`, no NUL.
pub(super) fn one_name(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty() && bytes != b"." && bytes != b".." && !bytes.contains(&b'/') && !bytes.contains(&0)
}

/// As cp and scp: the permission bits less the umask; with `preserve`,
/// every bit (setuid, setgid and sticky included), as `scp -p` keeps them.
pub(super) fn final_mode(mode: u32, preserve: bool, umask: u32) -> u32 {
    if preserve {
        mode & 0o7777
    } else {
        mode & 0o777 & !umask
    }
}

fn apply_meta(fd: impl AsFd, meta: Meta, preserve: bool, umask: u32) -> std::io::Result<()> {
    fs::fchmod(&fd, Mode::from_raw_mode(final_mode(meta.mode, preserve, umask)))?;
    if let (true, Some((atime, mtime))) = (preserve, meta.times) {
        let spec = |t: f64| Timespec { tv_sec: t.trunc() as i64, tv_nsec: ((t.fract().abs()) * 1e9) as i64 };
        fs::futimens(&fd, &Timestamps { last_access: spec(atime.max(0.0)), last_modification: spec(mtime.max(0.0)) })?;
    }
    Ok(())
}

/// Makes directory `name` in `dir` (0700 while it is filled) or opens the
/// one there. A symlink there is replaced, as rsync replaces it, never
/// followed; anything else that is not a directory is refused.
fn enter_dir(dir: impl AsFd, name: &OsStr) -> std::io::Result<(OwnedFd, bool)> {
    let created = match fs::mkdirat(&dir, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => true,
        Err(rustix::io::Errno::EXIST) => {
            let stat = fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Directory => false,
                FileType::Symlink => {
                    fs::unlinkat(&dir, name, AtFlags::empty())?;
                    fs::mkdirat(&dir, name, Mode::from_raw_mode(0o700))?;
                    true
                }
                _ => return Err(std::io::Error::other("exists and is not a directory")),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok((fs::openat(&dir, name, flags, Mode::empty())?, created))
}

/// A private file under a random name in `dir`: `O_EXCL`, `O_NOFOLLOW`, 0600.
fn create_temp(dir: impl AsFd) -> std::io::Result<(File, OsString)> {
    let tmp = temp_name()?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = fs::openat(&dir, &tmp, flags, Mode::from_raw_mode(0o600))?;
    Ok((File::from(fd), tmp))
}

/// A symlink made under a random name and renamed over `name`: whatever was
/// there (a file, another symlink) is replaced, a directory refused.
fn place_symlink(dir: impl AsFd, target: &OsStr, name: &OsStr) -> std::io::Result<()> {
    let tmp = temp_name()?;
    fs::symlinkat(target, &dir, &tmp)?;
    fs::renameat(&dir, &tmp, &dir, name).inspect_err(|_| {
        let _ = fs::unlinkat(&dir, &tmp, AtFlags::empty());
    })?;
    Ok(())
}

/// `.pushy.<16 random hex digits>.part`: unpredictable, so nobody can plant
/// anything at it in advance.
pub(crate) fn temp_name() -> std::io::Result<OsString> {
    let mut bytes = [0u8; 8];
    rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(OsString::from(format!(".pushy.{hex}.part")))
}

/// This process's umask, read without changing it where Linux says it.
fn current_umask() -> u32 {
    let from_proc = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        let line = status.lines().find(|l| l.starts_with("Umask:"))?;
        u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
    });
    from_proc.unwrap_or_else(|| {
        let old = rustix::process::umask(Mode::from_raw_mode(0o022));
        rustix::process::umask(old);
        old.bits()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_components() {
        for bad in ["", ".", "..", "a/b", "/abs", "../x", "x\0y"] {
            assert!(!one_name(OsStr::new(bad)), "{bad:?}");
        }
        for good in ["a", ".hidden", "..x", "x..", "名前", "a b"] {
            assert!(one_name(OsStr::new(good)), "{good:?}");
        }
    }

    #[test]
    fn modes_as_cp_and_scp_apply_them() {
        assert_eq!(final_mode(0o6777, false, 0o022), 0o755);
        assert_eq!(final_mode(0o4755, false, 0o077), 0o700);
        assert_eq!(final_mode(0o6777, true, 0o022), 0o6777);
        assert_eq!(final_mode(0o1777, true, 0o077), 0o1777);
    }

    #[test]
    fn temporary_names_differ() {
        assert_ne!(temp_name().unwrap(), temp_name().unwrap());
    }
}
