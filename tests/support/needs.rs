//! What a test needs from the machine. A test that cannot run fails and
//! names what is missing; it never returns early and passes. CI (`bash
//! .ci/run`) runs as root and installs every program named here.
//!
//! The test users of the loopback sshd are asked for with
//! [`super::sshd::test_users`].

use std::path::{Path, PathBuf};

/// Fails unless the tests run as root.
#[track_caller]
pub fn root(why: &str) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert!(euid == 0, "this test needs root ({why}); run the tests as root, as CI does (`bash .ci/run`)");
}

/// The path of `program` on PATH; fails naming the Debian package when it
/// is missing.
#[track_caller]
pub fn program(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| executable(p)).unwrap_or_else(|| {
        panic!("{program} is not installed, and this test needs it: install {package} (`bash .ci/run` does)")
    })
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
