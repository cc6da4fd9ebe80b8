//! Where the REPL keeps its history: `$XDG_DATA_HOME/pushy/history`
//! (default `~/.local/share/pushy/history`), private to the user (0600).

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

/// At most this many entries are kept.
pub const MAX_ENTRIES: usize = 2000;

/// The history file, created (empty, 0600) if missing; `None` if there is
/// no usable place for it (the REPL then works without persistence).
pub fn path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".local/share"),
    };
    let dir = base.join("pushy");
    DirBuilder::new().recursive(true).mode(0o700).create(&dir).ok()?;
    let file = dir.join("history");
    OpenOptions::new().create(true).append(true).mode(0o600).open(&file).ok()?;
    let meta = std::fs::metadata(&file).ok()?;
    // SAFETY: geteuid cannot fail.
    if meta.uid() != unsafe { libc::geteuid() } {
        return None; // someone else's file: neither read nor write it
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).ok()?;
    }
    Some(file)
}
