//! Where the REPL keeps its history: `$XDG_DATA_HOME/pushy/history`
//! (default `~/.local/share/pushy/history`), private to the user (0600).
//!
//! History holds what was typed, secrets included, so it is kept only where
//! no one else can read it or plant a symlink: a directory of ours that
//! others cannot write, and a regular file of ours. Anything else and the
//! REPL runs without saved history, and says so once.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// At most this many entries are kept.
pub const MAX_ENTRIES: usize = 2000;

/// The history file, created (empty, 0600) if missing; `None` (with a
/// warning on stderr) when there is no safe place for it.
pub fn path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".local/share"),
    };
    let dir = base.join("pushy");
    DirBuilder::new().recursive(true).mode(0o700).create(&dir).ok()?;
    let file = dir.join("history");
    match check(&dir, &file) {
        Ok(()) => Some(file),
        Err(why) => {
            eprintln!("pushy: not saving history: {why}");
            None
        }
    }
}

fn check(dir: &Path, file: &Path) -> Result<(), String> {
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(format!("{} is not a directory of yours closed to others", dir.display()));
    }
    // O_NOFOLLOW: a symlink planted here is refused, never followed.
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let meta = std::fs::symlink_metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if !meta.is_file() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(format!("{} is not a private (0600) file of yours", file.display()));
    }
    Ok(())
}
