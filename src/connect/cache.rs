//! The code cache: the server program compiled by a host's interpreter,
//! kept by the client so that the next start there compiles nothing.
//!
//! Compiling the pushed program is the biggest part of pushy's start-up on
//! the remote side (about 6 ms, when the interpreter itself starts in 9).
//! After a start from source the client asks the server for the code object
//! stage 0 ran (a `code` request: marshal data, compressed unless for
//! `local:`) and keeps it in `$XDG_CACHE_HOME/pushy/code/` (else
//! `~/.cache/pushy/code/`): a private (0700) directory of private (0600)
//! files. The next start on that target pushes it instead of the source,
//! with the interpreter's magic number on stage 0's command line; an
//! interpreter with another bytecode format exits before reading it ([`EXIT_STALE_CODE`](crate::bootstrap::EXIT_STALE_CODE)).
//!
//! The bytes come from the host, so they go back to that host alone: an
//! entry's name is a SHA-256 over this pushy's program, the destination with
//! every ssh flag (as the control socket's name), the interpreter and the
//! sudo user. One compromised host can poison only its own entry, which runs
//! on itself. `local:`'s entry is kept uncompressed (` raw` after the magic
//! number): that interpreter is on this machine, and inflating took it
//! longer than reading the difference from a pipe. A start from an entry
//! that fails for any reason removes it and starts again from source.
//! `PUSHY_NO_CODE_CACHE=1` turns the cache off.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::bootstrap::{Compiled, PROGRAM};
use crate::target::Target;

/// The largest entry kept or read: the program compiles to about 190 KB of
/// marshal data, 112 KB compressed.
pub(crate) const MAX_ENTRY: usize = 4 << 20;

/// At most this many entries (hosts) are kept; the oldest go first.
const MAX_ENTRIES: usize = 512;

/// How an entry file starts, before its magic number and its blob.
const HEADER: &str = "pushy-code 1 ";

/// After the magic number: the blob is not compressed.
const RAW: &str = " raw";

/// Where one target's entry lives.
pub(crate) struct Slot {
    path: PathBuf,
}

impl Slot {
    /// The slot for this target, interpreter and sudo user; `None` when the
    /// cache is off or there is no private place for it.
    pub(crate) fn new(target: &Target, python: &str, become_user: Option<&str>) -> Option<Slot> {
        if std::env::var_os("PUSHY_NO_CODE_CACHE").is_some_and(|v| !v.is_empty() && v != "0") {
            return None;
        }
        let mut hash = Sha256::new();
        let mut part = |bytes: &[u8]| {
            hash.update(bytes);
            hash.update([0]); // no part can hold a NUL: parts never run together
        };
        part(program_hash());
        match target {
            Target::Local => part(b"local:"),
            Target::Ssh(ssh) => {
                part(ssh.destination.as_bytes());
                for arg in ssh.ssh_args() {
                    part(arg.as_bytes());
                }
            }
        }
        part(python.as_bytes());
        part(become_user.unwrap_or("").as_bytes());
        let name: String = hash.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect();
        Some(Slot { path: private_dir()?.join(name) })
    }

    /// The entry, if there is a sound one.
    pub(crate) fn load(&self) -> Option<Compiled> {
        let file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&self.path).ok()?;
        let meta = file.metadata().ok()?;
        // SAFETY: geteuid cannot fail.
        if !meta.is_file() || meta.uid() != unsafe { libc::geteuid() } || meta.len() > MAX_ENTRY as u64 + 64 {
            return None;
        }
        let mut data = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_ENTRY as u64 + 64).read_to_end(&mut data).ok()?;
        let rest = data.strip_prefix(HEADER.as_bytes())?;
        let end = rest.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&rest[..end]).ok()?;
        let (magic, raw) = match line.strip_suffix(RAW) {
            Some(magic) => (magic.to_string(), true),
            None => (line.to_string(), false),
        };
        let blob = rest[end + 1..].to_vec();
        (Compiled::valid_magic(&magic) && !blob.is_empty()).then_some(Compiled { magic, blob, raw })
    }

    /// Keeps `blob` (`raw`: not compressed) as this slot's entry (best
    /// effort: a cache that cannot be written only costs the next start its
    /// compile).
    pub(crate) fn store(&self, magic: &str, blob: &[u8], raw: bool) {
        if !Compiled::valid_magic(magic) || blob.is_empty() || blob.len() > MAX_ENTRY {
            return;
        }
        let Some(dir) = self.path.parent() else { return };
        let Ok(temp) = crate::transfer::sink::temp_name() else { return };
        let temp = dir.join(temp);
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)
            .and_then(|mut file| {
                let raw = if raw { RAW } else { "" };
                file.write_all(format!("{HEADER}{magic}{raw}\n").as_bytes())?;
                file.write_all(blob)
            });
        if written.and_then(|_| std::fs::rename(&temp, &self.path)).is_err() {
            let _ = std::fs::remove_file(&temp);
            return;
        }
        prune(dir);
    }

    /// Forgets the entry (it did not start).
    pub(crate) fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// This pushy's program, hashed once per run (a fleet connects many times).
fn program_hash() -> &'static [u8] {
    static HASH: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    HASH.get_or_init(|| Sha256::digest(PROGRAM).to_vec())
}

/// The cache directory, created private if missing; `None` if it is not a
/// directory of ours closed to others.
fn private_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    let dir = base.join("pushy").join("code");
    DirBuilder::new().recursive(true).mode(0o700).create(&dir).ok()?;
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    // SAFETY: geteuid cannot fail.
    let mine = meta.is_dir() && meta.uid() == unsafe { libc::geteuid() } && meta.mode() & 0o077 == 0;
    mine.then_some(dir)
}

/// Keeps the newest [`MAX_ENTRIES`] entries.
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> =
        entries.flatten().filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path()))).collect();
    if found.len() <= MAX_ENTRIES {
        return;
    }
    found.sort();
    for (_, path) in &found[..found.len() - MAX_ENTRIES] {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_odd_ones_are_not_loaded() {
        let dir = std::env::temp_dir().join(format!("pushy-cache-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let slot = Slot { path: dir.join("entry") };
        assert!(slot.load().is_none());
        slot.store("a70d0d0a", b"\x78\x9cblob", false);
        let loaded = slot.load().unwrap();
        assert_eq!(
            (loaded.magic.as_str(), loaded.blob.as_slice(), loaded.raw),
            ("a70d0d0a", &b"\x78\x9cblob"[..], false)
        );
        slot.store("a70d0d0a", b"\xe3plain", true);
        let loaded = slot.load().unwrap();
        assert_eq!((loaded.magic.as_str(), loaded.blob.as_slice(), loaded.raw), ("a70d0d0a", &b"\xe3plain"[..], true));
        std::fs::write(&slot.path, b"pushy-code 1 a70d0d0a rawish\nblob").unwrap();
        assert!(slot.load().is_none(), "only ` raw` may follow the magic number");
        assert_eq!(std::fs::metadata(&slot.path).unwrap().mode() & 0o777, 0o600);
        std::fs::write(&slot.path, b"pushy-code 1 a7;id\nblob").unwrap();
        assert!(slot.load().is_none(), "a magic that is not hex");
        std::fs::write(&slot.path, b"something else").unwrap();
        assert!(slot.load().is_none());
        slot.store("not hex", b"blob", false);
        assert!(slot.load().is_none());
        std::fs::remove_file(&slot.path).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &slot.path).unwrap();
        assert!(slot.load().is_none(), "a symlink is never followed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
