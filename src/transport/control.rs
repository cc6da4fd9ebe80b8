//! pushy's private control directory: where ssh masters listen for reuse.
//!
//! The directory is `$PUSHY_CONTROL_DIR`, else `$XDG_RUNTIME_DIR/pushy`, else
//! `/tmp/pushy-UID`. It must be ours and closed to others (0700): a socket in
//! it is a live, authenticated connection to a host. Socket names are a
//! SHA-256 of the destination and the ssh flags, cut to 128 bits: short
//! enough for the ~100-byte limit on Unix socket paths, and no two settings
//! (so no two destinations) ever share a master, even when chosen to collide.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, ErrorKind, Result};
use crate::target::SshTarget;

/// Creates (if needed) and checks the control directory.
pub fn control_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("PUSHY_CONTROL_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(run) if Path::new(&run).is_absolute() && Path::new(&run).is_dir() => PathBuf::from(run).join("pushy"),
            // SAFETY: geteuid cannot fail.
            _ => PathBuf::from(format!("/tmp/pushy-{}", unsafe { libc::geteuid() })),
        },
    };
    match DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(Error::new(ErrorKind::Io, format!("cannot create control directory {}: {e}", dir.display())))
        }
    }
    check_private(&dir)?;
    Ok(dir)
}

/// Refuses a directory that is a symlink, someone else's, or open to others.
fn check_private(dir: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let problem = if !meta.is_dir() {
        Some("it is not a directory")
    } else if meta.uid() != me {
        Some("it belongs to another user")
    } else if meta.mode() & 0o077 != 0 {
        Some("others can access it")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(Error::new(ErrorKind::Usage, format!("refusing control directory {}: {why}", dir.display()))
            .with_hint("remove it, or set PUSHY_CONTROL_DIR to a private (0700) directory of yours")),
    }
}

/// The master socket for a destination and its flags.
pub(super) fn socket_path(dir: &Path, target: &SshTarget) -> PathBuf {
    dir.join(key(target))
}

/// SHA-256 over the destination and every flag, each ended by a NUL (which
/// no argument can hold), as 32 hex digits: a stable name per setting.
fn key(target: &SshTarget) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in std::iter::once(target.destination.clone()).chain(target.ssh_args()) {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Stops the reusable master for `target`, if one runs. True if one did.
pub fn disconnect(target: &SshTarget) -> Result<bool> {
    let ctl = socket_path(&control_dir()?, target);
    if !ctl.exists() {
        return Ok(false);
    }
    let stopped = Command::new("ssh")
        .arg("-S")
        .arg(&ctl)
        .args(["-O", "exit"])
        .args(target.ssh_args())
        .arg("--")
        .arg(&target.destination)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let _ = std::fs::remove_file(&ctl);
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_differ_by_flags_and_fit_the_limit() {
        let a = SshTarget::parse("web1").unwrap();
        let mut b = a.clone();
        b.port = Some(2222);
        let dir = Path::new("/tmp/pushy-0");
        assert_ne!(socket_path(dir, &a), socket_path(dir, &b));
        assert_eq!(socket_path(dir, &a), socket_path(dir, &a.clone()));
        assert!(socket_path(dir, &a).as_os_str().len() < 100);
    }

    #[test]
    fn socket_names_are_sha256_of_what_selects_the_connection() {
        let a = SshTarget::parse("web1").unwrap();
        let name = key(&a);
        assert_eq!(name.len(), 32);
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
        // Arguments cannot run into each other: "ab" + "c" is not "a" + "bc".
        let (mut x, mut y) = (a.clone(), a.clone());
        x.destination = "ab".into();
        x.user = Some("c".into());
        y.destination = "a".into();
        y.user = Some("bc".into());
        assert_ne!(key(&x), key(&y));
    }
}
