//! A host you don't trust: what it sends is data to check, never a path to
//! follow or a length to allocate. Each test plays a hostile host (the fake
//! interpreter `tests/data/hostile-python`, through `--python`, which is
//! pushy's own server with one part swapped) or plants files where pushy
//! reads or writes, and states what must hold: a one-line error naming the
//! bad entry, exit status 1, nothing written outside the destination, no
//! symlink followed, no panic.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::copy::INTERRUPTED;
use crate::support::needs;
use crate::support::pushy::{private_dir, pushy, Done, Exit, Pushy};
use crate::support::sshd::{sshd, test_users};

/// The fake hostile interpreter.
fn hostile() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile-python").display().to_string()
}

/// `pushy cp` from a hostile `local:` host playing `mode`.
fn hostile_cp(mode: &str) -> Pushy {
    pushy().env("PUSHY_HOSTILE", mode).args(["cp", "--python", &hostile()])
}

/// A world-readable scratch directory (the test users of the sshd must see
/// into it), removed at the end.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("pushy-untrusted-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Every path under `root`, relative, sorted; symlinks are not followed.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if entry.file_type().unwrap().is_dir() {
                todo.push(path);
            }
        }
    }
    out.sort();
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// This process's umask (the one pushy inherits), read without changing it.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).expect("Linux reports the umask");
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

/// No panic, no traceback of pushy's own, on stderr.
#[track_caller]
fn no_crash(done: &Done) {
    let err = done.stderr();
    assert!(!err.contains("panicked") && !err.contains("Traceback"), "{err}");
}

// ------------------------------------------------------------ names

#[test]
fn download_names_from_the_host_are_single_components_under_the_destination() {
    let root = scratch();
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let absolute = Path::new("/tmp/pushy-hostile-abs.txt");
    let _ = std::fs::remove_file(absolute);
    let done = hostile_cp("names").args(["-r", "local:/tree", &dest.display().to_string()]).run();
    done.code(1);
    no_crash(&done);
    for bad in ["'../escaped.txt'", "'..', 'escaped2.txt'", "'/tmp/pushy-hostile-abs.txt'", r"'nul\x00name'", "['']"] {
        let lines: Vec<String> = done.stderr().lines().filter(|l| l.contains(bad)).map(String::from).collect();
        assert_eq!(lines.len(), 1, "one line names {bad}:\n{}", done.stderr());
        assert!(lines[0].starts_with("pushy: not copied: refused"), "{}", lines[0]);
    }
    done.stderr_has("'sub', 'orphan.txt'");
    // Only the good entries, and only under the destination.
    assert_eq!(tree(root.path()), ["dest", "dest/tree", "dest/tree/ok.txt", "dest/tree/suid"]);
    assert!(!absolute.exists(), "an absolute name from the host was written");
    assert_eq!(std::fs::read(dest.join("tree/ok.txt")).unwrap(), b"good");
    // Mode 6777 from the host: the permission bits less the umask, no setuid.
    assert_eq!(mode(&dest.join("tree/suid")), 0o777 & !umask());
}

#[test]
fn a_root_name_that_is_not_one_name_is_refused_whole() {
    let root = scratch();
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let done = hostile_cp("header-name").args(["local:/x", &dest.display().to_string()]).run();
    done.code(1).clean_error().stderr_has("../escaped");
    assert_eq!(tree(root.path()), ["dest"]);
}

#[test]
fn directory_entries_arrive_only_with_r() {
    let root = scratch();
    let out = root.path().join("out");
    let done = hostile_cp("no-r").args(["local:/one.txt", &out.display().to_string()]).run();
    done.code(1).stderr_has("-r was not given");
    no_crash(&done);
    assert_eq!(tree(root.path()), ["out"]);
    assert_eq!(std::fs::read(&out).unwrap(), b"root");
}

// ------------------------------------------------------------ symlinks

#[test]
fn a_symlink_swapped_between_two_downloads_is_replaced_not_followed() {
    // Copy 1 brings `app/data -> ~/.ssh`; the host then makes `data` a real
    // directory holding `authorized_keys`. Copy 2 must not touch `~/.ssh`.
    let root = scratch();
    let ssh_dir = root.path().join("dot-ssh");
    std::fs::create_dir(&ssh_dir).unwrap();
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let target = ssh_dir.display().to_string();
    let run = |mode: &str| {
        hostile_cp(mode)
            .env("PUSHY_HOSTILE_TARGET", &target)
            .args(["-r", "local:/app", &dest.display().to_string()])
            .run()
    };
    run("swap-1").success();
    assert_eq!(std::fs::read_link(dest.join("app/data")).unwrap(), ssh_dir);
    run("swap-2").success();
    assert_eq!(tree(&ssh_dir), Vec::<String>::new(), "the copy wrote through the symlink");
    assert!(std::fs::symlink_metadata(dest.join("app/data")).unwrap().is_dir());
    assert_eq!(std::fs::read(dest.join("app/data/authorized_keys")).unwrap(), b"ssh-ed25519 AAAA attacker\n");
}

#[test]
fn a_download_replaces_a_symlink_at_its_target_and_never_writes_through_it() {
    let root = scratch();
    let victim = root.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let src = root.path().join("src.txt");
    std::fs::write(&src, "new").unwrap();
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    std::os::unix::fs::symlink(&victim, dest.join("src.txt")).unwrap();
    pushy().args(["cp", &format!("local:{}", src.display()), &dest.display().to_string()]).run().success();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(dest.join("src.txt")).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(dest.join("src.txt")).unwrap(), "new");
}

fn cp_ssh() -> Pushy {
    pushy().args(["cp", "--persist", "1", "-F", &sshd().config.display().to_string()])
}

#[test]
fn an_upload_replaces_symlinks_planted_on_the_host_and_never_writes_through_them() {
    // Another user of the host (or an earlier copy) planted `app/data ->
    // victim-dir` and `app/config -> victim-file` where the upload goes.
    let root = scratch();
    let remote = root.path().join("remote");
    let victim_dir = root.path().join("victim-dir");
    let victim_file = root.path().join("victim-file");
    std::fs::create_dir_all(remote.join("app")).unwrap();
    std::fs::create_dir(&victim_dir).unwrap();
    std::fs::write(&victim_file, "precious").unwrap();
    std::os::unix::fs::symlink(&victim_dir, remote.join("app/data")).unwrap();
    std::os::unix::fs::symlink(&victim_file, remote.join("app/config")).unwrap();
    let local = root.path().join("local/app");
    std::fs::create_dir_all(local.join("data")).unwrap();
    std::fs::write(local.join("data/authorized_keys"), "mine\n").unwrap();
    std::fs::write(local.join("config"), "new config\n").unwrap();
    let to = format!("{}:{}", sshd().host(), remote.display());
    cp_ssh().args(["-r", &local.display().to_string(), &to]).run().success();
    assert_eq!(tree(&victim_dir), Vec::<String>::new(), "the upload wrote through a directory symlink");
    assert_eq!(std::fs::read_to_string(&victim_file).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(remote.join("app/data/authorized_keys")).unwrap(), "mine\n");
    assert_eq!(std::fs::read_to_string(remote.join("app/config")).unwrap(), "new config\n");
}

#[test]
fn uploads_drop_setuid_and_apply_the_umask_unless_preserved() {
    let root = scratch();
    let src = root.path().join("tool");
    std::fs::write(&src, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o6777)).unwrap();
    let plain = root.path().join("plain");
    let kept = root.path().join("kept");
    let host = sshd().host();
    cp_ssh().args([&src.display().to_string(), &format!("{host}:{}", plain.display())]).run().success();
    cp_ssh().args(["-P", &src.display().to_string(), &format!("{host}:{}", kept.display())]).run().success();
    // The remote umask is sshd's session default; whatever it is, no setuid.
    assert_eq!(mode(&plain) & 0o7000, 0, "setuid/setgid kept without --preserve: {:o}", mode(&plain));
    assert_eq!(mode(&kept), 0o6777);
    // And downloads, where the umask is ours.
    let down = root.path().join("down");
    pushy().args(["cp", &format!("local:{}", src.display()), &down.display().to_string()]).run().success();
    assert_eq!(mode(&down), 0o777 & !umask());
    let down_kept = root.path().join("down-kept");
    pushy().args(["cp", "-P", &format!("local:{}", src.display()), &down_kept.display().to_string()]).run().success();
    assert_eq!(mode(&down_kept), 0o6777);
}

// ------------------------------------------------------------ temporary files

/// Runs `pushy` under strace (following the remote interpreter too, when it
/// is local) and returns the `openat` lines that created a file.
#[track_caller]
fn traced_creates(args: &[&str]) -> Vec<String> {
    let dir = private_dir();
    let trace = dir.path().join("trace");
    let strace = needs::program("strace", "strace").display().to_string();
    let output = trace.display().to_string();
    pushy().under([strace.as_str(), "-f", "-qq", "-e", "trace=openat", "-o", output.as_str()]).args(args).run();
    let trace = std::fs::read_to_string(&trace).unwrap();
    trace.lines().filter(|l| l.contains("O_CREAT") && l.contains(".pushy.")).map(String::from).collect()
}

/// The temporary name in a traced `openat`, checked to be exclusive,
/// no-follow, private and random-looking.
#[track_caller]
fn check_temp_open(line: &str) -> String {
    for flag in ["O_EXCL", "O_NOFOLLOW"] {
        assert!(line.contains(flag), "{flag} missing: {line}");
    }
    // (strace ends the line early when another thread runs meanwhile.)
    assert!(line.contains(", 0600)") || line.contains(", 0600 <unfinished ...>"), "not created 0600: {line}");
    let name = line.split('"').nth(1).unwrap().to_string();
    let hex = name.strip_prefix(".pushy.").and_then(|n| n.strip_suffix(".part")).unwrap_or("");
    assert!(hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "not a random name: {name}");
    name
}

#[test]
fn temporary_files_are_random_exclusive_and_private_on_both_sides() {
    let root = scratch();
    let src = root.path().join("src.bin");
    std::fs::write(&src, vec![7u8; 4096]).unwrap();
    let from = format!("local:{}", src.display());
    let mut names = Vec::new();
    for n in 0..2 {
        // A download: this process creates the file.
        let down = root.path().join(format!("down{n}"));
        let creates = traced_creates(&["cp", &from, &down.display().to_string()]);
        assert_eq!(creates.len(), 1, "{creates:?}");
        names.push(check_temp_open(&creates[0]));
        // An upload: the (local) interpreter creates it.
        let up = format!("local:{}", root.path().join(format!("up{n}")).display());
        let creates = traced_creates(&["cp", &src.display().to_string(), &up]);
        assert_eq!(creates.len(), 1, "{creates:?}");
        names.push(check_temp_open(&creates[0]));
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "temporary names repeat: {names:?}");
}

/// A sparse file of `len` bytes: instant to make, slow enough to copy that
/// a test can act while the copy runs.
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// Waits until `dir` holds a temporary file of a copy, and returns it.
fn temp_appears(dir: &Path, limit: Duration) -> PathBuf {
    let deadline = Instant::now() + limit;
    loop {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(".pushy."));
        if let Some(path) = found {
            if std::fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false) {
                return path;
            }
        }
        assert!(Instant::now() < deadline, "no temporary file appeared in {}", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[track_caller]
fn empties_within(dir: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !tree(dir).is_empty() {
        assert!(Instant::now() < deadline, "left behind in {}: {:?}", dir.display(), tree(dir));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_remote_temporary_file_goes_when_the_client_goes() {
    let root = scratch();
    let src = root.path().join("big.bin");
    sparse(&src, 8 << 30);
    for signal in [libc::SIGTERM, libc::SIGHUP, libc::SIGKILL] {
        let remote = root.path().join(format!("remote-{signal}"));
        std::fs::create_dir(&remote).unwrap();
        let copy = pushy()
            .args(["cp", "-q", "--persist", "2", "-F", &sshd().config.display().to_string()])
            .arg(&src)
            .arg(format!("{}:{}", sshd().host(), remote.join("big.bin").display()))
            .spawn();
        temp_appears(&remote, Duration::from_secs(20));
        copy.signal(signal);
        // pushy dies by the signal it got, saying so unless it was SIGKILL.
        let said = if signal == libc::SIGKILL { "" } else { INTERRUPTED };
        copy.wait().killed_by(signal).stderr_is(said);
        empties_within(&remote, Duration::from_secs(10));
    }
}

#[test]
fn the_local_temporary_file_goes_when_the_copy_is_stopped() {
    let root = scratch();
    let src = root.path().join("big.bin");
    sparse(&src, 8 << 30);
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let dest = root.path().join(format!("dest-{signal}"));
        std::fs::create_dir(&dest).unwrap();
        let copy = pushy().args(["cp", "-q"]).arg(format!("local:{}", src.display())).arg(&dest).spawn();
        temp_appears(&dest, Duration::from_secs(20));
        copy.signal(signal);
        copy.wait().exits_one_of(&[Exit::Signal(signal), Exit::Code(130)]).stderr_is(INTERRUPTED);
        empties_within(&dest, Duration::from_secs(5));
    }
}

// ------------------------------------------------------------ the start-up path

const HIJACK: &str = "import sys\nsys.stderr.write('HIJACKED\\n')\nraise SystemExit(42)\n";

fn plant_modules(dir: &Path) {
    for name in ["fcntl.py", "os.py", "select.py", "zlib.py", "json.py"] {
        std::fs::write(dir.join(name), HIJACK).unwrap();
    }
}

#[test]
fn a_module_in_the_callers_directory_cannot_run_inside_pushy() {
    let dir = scratch();
    plant_modules(dir.path());
    let done = pushy().current_dir(dir.path()).args(["exec", "local:", "json.dumps(sys.path[0])"]).run();
    // (Nor on stderr, which `done` checks is empty.)
    done.success();
    assert!(!done.stdout().contains("HIJACKED"), "{}", done.describe());
    assert!(!done.stdout().contains(&format!("'\"{}\"'", dir.path().display())), "{}", done.describe());
}

#[test]
fn a_module_in_the_remote_login_directory_cannot_run_inside_pushy() {
    test_users(); // the test plants modules in a test user's home
    let home = Command::new("getent").args(["passwd", "pushydash"]).output().unwrap();
    let home = String::from_utf8_lossy(&home.stdout).split(':').nth(5).unwrap().to_string();
    let home = PathBuf::from(home);
    plant_modules(&home);
    let done = pushy().args(["exec", "--persist", "1"]).ssh("pushy-test-dash").arg("os.getcwd(), 6 * 7").run();
    for name in ["fcntl.py", "os.py", "select.py", "zlib.py", "json.py"] {
        let _ = std::fs::remove_file(home.join(name));
    }
    // (Nothing HIJACKED on stderr, which `done` checks is empty.)
    done.success().stdout_has("42)");
}

#[test]
fn importing_leaves_no_bytecode_behind() {
    let dir = scratch();
    std::fs::write(dir.path().join("pushymod.py"), "x = 42\n").unwrap();
    pushy()
        .env("PYTHONPATH", dir.path())
        .args(["exec", "local:", "import pushymod\npushymod.x"])
        .run()
        .success()
        .stdout_is("42\n");
    assert_eq!(tree(dir.path()), ["pushymod.py"], "a __pycache__ was written");
}

// ------------------------------------------------------------ memory

/// `pushy exec --python hostile-python local: CODE` with its address space
/// capped (a soft `ulimit -v` that the fake host lifts for itself): one
/// malloc arena, so the cap measures what pushy holds, not what glibc
/// reserves per thread.
#[track_caller]
fn capped_exec(mode: &str, limit_kib: u64, code: &str) -> Done {
    let script = format!("ulimit -S -v {limit_kib} && exec \"$0\" \"$@\"");
    pushy()
        .under(["sh", "-c", &script])
        .args(["exec", "--python", &hostile(), "local:", code])
        .env("PUSHY_HOSTILE", mode)
        .env("MALLOC_ARENA_MAX", "1")
        .run()
}

/// A 64 MiB frame plus 64 MiB, as the client may hold.
const CAP_KIB: u64 = (64 + 64) << 10;

#[test]
fn bytes_tokens_that_share_the_payload_cannot_multiply_memory() {
    // 1000 tokens pointing at one 1 MiB payload would decode to 1 GiB.
    let done = capped_exec("overlap", CAP_KIB, "b'x'");
    done.code(255).stderr_starts_with("pushy: error: bytes values that share payload bytes");
    done.stderr_lacks("panicked").stderr_lacks("memory allocation");
}

#[test]
fn packed_tables_that_share_the_payload_cannot_multiply_memory() {
    // 1000 tables of 131 072 rows each over one 1 MiB column would decode
    // to 131 million rows.
    let done = capped_exec("table-overlap", CAP_KIB, "1");
    done.code(255).stderr_starts_with("pushy: error: packed tables that share payload bytes");
    done.stderr_lacks("panicked").stderr_lacks("memory allocation");
}

#[test]
fn a_64_mib_header_of_unknown_fields_costs_no_more_than_itself() {
    capped_exec("big-header", CAP_KIB, "6 * 7").success().stdout_is("42\n");
}
