//! `pushy cp` and the REPL's `:get` / `:put`, over the loopback sshd.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::support::pushy::{private_dir, pushy};
use crate::support::sshd::{sshd, test_users};

fn cp() -> crate::support::pushy::Pushy {
    pushy().args(["cp", "-F", &sshd().config.display().to_string()])
}

fn random_file(path: &std::path::Path, len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(path, &data).unwrap();
    data
}

#[test]
fn a_100_mib_file_both_ways_byte_identical_with_its_mode() {
    let dir = private_dir();
    let src = dir.path().join("big.bin");
    let data = random_file(&src, 100 << 20);
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o640)).unwrap();
    let down = dir.path().join("down.bin");
    let remote = format!("pushy-test:{}", src.display());
    cp().args([remote.as_str(), &down.display().to_string(), "-q"]).run().success();
    assert!(std::fs::read(&down).unwrap() == data, "downloaded bytes differ");
    assert_eq!(std::fs::metadata(&down).unwrap().permissions().mode() & 0o777, 0o640);
    let up = dir.path().join("up.bin");
    cp().args([&src.display().to_string(), &format!("pushy-test:{}", up.display()), "-q"]).run().success();
    assert!(std::fs::read(&up).unwrap() == data, "uploaded bytes differ");
    assert_eq!(std::fs::metadata(&up).unwrap().permissions().mode() & 0o777, 0o640);
}

#[test]
fn a_tree_with_a_symlink_and_an_unreadable_file() {
    test_users(); // a second user, for whom a file is unreadable
    let dir = tempfile::Builder::new().prefix("pushy-cp-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(tree.join("sub/b.txt"), "beta\n").unwrap();
    std::os::unix::fs::symlink("a.txt", tree.join("link")).unwrap();
    std::fs::write(tree.join("secret"), "no\n").unwrap();
    for (path, mode) in [
        (tree.clone(), 0o755),
        (tree.join("sub"), 0o755),
        (tree.join("a.txt"), 0o644),
        (tree.join("sub/b.txt"), 0o644),
        (tree.join("secret"), 0o600),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // pushydash can read everything but `secret` (root's, 0600).
    let out = dir.path().join("out");
    let done = cp()
        .args(["-l", "pushydash", "-r", &format!("pushy-test-x:{}", tree.display()), &out.display().to_string()])
        .run();
    done.code(1).stderr_has("secret");
    assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "alpha\n");
    assert_eq!(std::fs::read_to_string(out.join("sub/b.txt")).unwrap(), "beta\n");
    assert_eq!(std::fs::read_link(out.join("link")).unwrap(), std::path::Path::new("a.txt"));
    assert!(!out.join("secret").exists());
    // And up again, into an existing directory: it lands under its name.
    let back = dir.path().join("back");
    std::fs::create_dir(&back).unwrap();
    cp().args(["-r", &out.display().to_string(), &format!("pushy-test:{}", back.display())]).run().success();
    assert_eq!(std::fs::read_to_string(back.join("out/sub/b.txt")).unwrap(), "beta\n");
    assert_eq!(std::fs::read_link(back.join("out/link")).unwrap(), std::path::Path::new("a.txt"));
    // A directory without -r is refused with a hint.
    cp().args([&format!("pushy-test:{}", tree.display()), &dir.path().join("x").display().to_string()])
        .run()
        .code(1)
        .clean_error()
        .stderr_has("-r");
}

/// What an interrupted copy says.
pub(crate) const INTERRUPTED: &str = "pushy: the copy was interrupted; nothing was left half-written\n";

/// Starts a copy of a huge sparse file, interrupts it, and checks that the
/// old target is intact and no temporary file is left.
fn interrupt(download: bool) {
    let dir = private_dir();
    let src = dir.path().join("huge");
    std::fs::File::create(&src).unwrap().set_len(50 << 30).unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, "the old content\n").unwrap();
    let (from, to) = if download {
        (format!("pushy-test:{}", src.display()), target.display().to_string())
    } else {
        (src.display().to_string(), format!("pushy-test:{}", target.display()))
    };
    let copy = cp().args(["-q", &from, &to]).spawn();
    std::thread::sleep(Duration::from_millis(1500));
    copy.signal(libc::SIGINT);
    // Tidied up, then dead by SIGINT, as a shell loop expects.
    copy.wait_within(Duration::from_secs(10)).killed_by(libc::SIGINT).stderr_is(INTERRUPTED);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "the old content\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".pushy-"))
            .collect();
        if leftovers.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "temporary files left: {leftovers:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_interrupted_download_leaves_the_old_file() {
    interrupt(true);
}

#[test]
fn an_interrupted_upload_leaves_the_old_file() {
    interrupt(false);
}

#[test]
fn the_repl_gets_and_puts() {
    let dir = private_dir();
    std::fs::write(dir.path().join("here.txt"), "from here\n").unwrap();
    let remote_dir = private_dir();
    std::fs::write(remote_dir.path().join("there.txt"), "from there\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut pty = pushy().ssh("pushy-test").env("XDG_DATA_HOME", data.path()).env("NO_COLOR", "1").pty();
    pty.exp_string(">>> ").unwrap();
    pty.send_line(&format!(":get {}/there.txt {}/got.txt", remote_dir.path().display(), dir.path().display())).unwrap();
    pty.exp_string("copied 1 file(s), 11 bytes").unwrap();
    pty.exp_string(">>> ").unwrap();
    pty.send_line(&format!(":put {}/here.txt {}/put.txt", dir.path().display(), remote_dir.path().display())).unwrap();
    pty.exp_string("copied 1 file(s), 10 bytes").unwrap();
    pty.exp_string(">>> ").unwrap();
    pty.send_control('d').unwrap();
    pty.exp_eof().unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("got.txt")).unwrap(), "from there\n");
    assert_eq!(std::fs::read_to_string(remote_dir.path().join("put.txt")).unwrap(), "from here\n");
}

#[test]
fn many_hosts_each_get_the_upload_and_downloads_land_in_a_directory_per_host() {
    let dir = private_dir();
    let src = dir.path().join("notes.txt");
    std::fs::write(&src, "shared\n").unwrap();
    // Upload to each host (the aliases share this machine: one target each).
    let up = dir.path().join("up");
    std::fs::create_dir(&up).unwrap();
    let to = format!("pushy-test-a,pushy-test-b:{}", up.display());
    let done = cp().args([&src.display().to_string(), &to]).run();
    done.success();
    assert_eq!(done.stdout().lines().count(), 2, "{}", done.stdout());
    assert_eq!(std::fs::read_to_string(up.join("notes.txt")).unwrap(), "shared\n");
    // Download from each, into DEST/HOST/, a bad host not stopping the others.
    let dest = dir.path().join("fetched");
    let from = format!("pushy-test-a,pushy-test-closed,pushy-test-b:{}", src.display());
    let done = cp().args([&from, &dest.display().to_string()]).run();
    done.code(255).stderr_has("pushy-test-closed: error: cannot connect");
    for host in ["pushy-test-a", "pushy-test-b"] {
        assert_eq!(std::fs::read_to_string(dest.join(host).join("notes.txt")).unwrap(), "shared\n", "{host}");
    }
    assert!(!dest.join("pushy-test-closed").join("notes.txt").exists());
}
