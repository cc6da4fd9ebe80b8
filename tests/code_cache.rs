//! The code cache: the first start on a target keeps the compiled program,
//! later starts push it instead of the source; an entry never reaches
//! another target, and a stale or spoilt one falls back to source.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::pushy::pushy;
use crate::support::sshd::sshd;

/// The entry files in a cache directory.
fn entries(cache: &Path) -> Vec<PathBuf> {
    let dir = cache.join("pushy/code");
    let mut found: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    found
}

/// An entry whose program, run by `host`'s interpreter, creates `marker`
/// and exits before pushy starts: proof that the entry was run, and a start
/// that must fall back to source. `raw`: not compressed (as `local:`'s).
fn planted_entry(host: &[&str], marker: &Path, raw: bool) -> Vec<u8> {
    let code = format!(
        "marshal.dumps(compile('open({:?}, \"w\").write(\"ran\")\\nimport sys\\nsys.exit(3)', 'x', 'exec'))",
        marker.display().to_string()
    );
    let code = if raw { code } else { format!("zlib.compress({code})") };
    let done = pushy().arg("exec").args(host.iter().copied()).args(["--raw", &code]).run();
    let magic =
        pushy().arg("exec").args(host.iter().copied()).args(["--raw", "importlib.util.MAGIC_NUMBER.hex()"]).run();
    let magic = String::from_utf8(magic.stdout.clone()).unwrap();
    let mut entry = format!("pushy-code 1 {}{}\n", magic.trim(), if raw { " raw" } else { "" }).into_bytes();
    entry.extend_from_slice(&done.stdout);
    entry
}

#[test]
fn the_first_start_fills_the_cache_and_the_next_starts_from_it() {
    let cache = tempfile::tempdir().unwrap();
    let marker = cache.path().join("ran");
    pushy().args(["exec", "local:", "6 * 7"]).env("XDG_CACHE_HOME", cache.path()).run().stdout_is("42\n");
    let found = entries(cache.path());
    assert_eq!(found.len(), 1, "{found:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&found[0]), 0o600);
    assert_eq!(mode(&cache.path().join("pushy/code")), 0o700);
    let sound = std::fs::read(&found[0]).unwrap();
    assert!(sound.starts_with(b"pushy-code 1 "), "{:?}", String::from_utf8_lossy(&sound[..20]));
    // local:'s interpreter reads its entry uncompressed: marshal data, not zlib.
    let header = sound.iter().position(|&b| b == b'\n').unwrap();
    assert!(sound[..header].ends_with(b" raw") && sound[header + 1] != 0x78, "{:?}", &sound[..header + 2]);

    // The entry is what starts: a planted one runs (then fails, and pushy
    // starts again from source, and keeps a sound entry again).
    std::fs::write(&found[0], planted_entry(&["local:"], &marker, true)).unwrap();
    pushy().args(["exec", "local:", "os.getpid() > 0"]).env("XDG_CACHE_HOME", cache.path()).run().stdout_is("True\n");
    assert!(marker.exists(), "the cached program did not run");
    assert_eq!(std::fs::read(&found[0]).unwrap(), sound, "the spoilt entry was not replaced");

    // From the sound entry, dotted names, the extras (a traceback) and
    // the REPL's completion work as from source.
    let run = || pushy().args(["exec", "local:"]).env("XDG_CACHE_HOME", cache.path());
    run().arg("xml.etree.ElementTree.fromstring('<a><b/></a>')[0].tag").run().stdout_is("'b'\n");
    run().arg("1/0").run().code(1).stderr_has("ZeroDivisionError: division by zero");
}

#[test]
fn an_entry_from_one_host_never_reaches_another() {
    let cache = tempfile::tempdir().unwrap();
    let marker = cache.path().join("ran");
    let config = sshd().config.display().to_string();
    let on = |alias: &str| pushy().args(["exec", "-F", &config, alias]).env("XDG_CACHE_HOME", cache.path());
    on("pushy-test-cache-a").arg("1").run().stdout_is("1\n");
    let found = entries(cache.path());
    assert_eq!(found.len(), 1, "{found:?}");
    let sound = std::fs::read(&found[0]).unwrap();
    let header = sound.split(|&b| b == b'\n').next().unwrap();
    assert!(!header.ends_with(b" raw"), "an ssh host's entry stays compressed: {:?}", String::from_utf8_lossy(header));
    assert_eq!(sound[header.len() + 1], 0x78, "an ssh host's entry is zlib data");
    std::fs::write(&found[0], planted_entry(&["-F", &config, "pushy-test-cache-a"], &marker, false)).unwrap();

    on("pushy-test-cache-b").arg("2").run().stdout_is("2\n");
    assert!(!marker.exists(), "host a's entry ran on host b");
    assert_eq!(entries(cache.path()).len(), 2, "host b got no entry of its own");
    on("pushy-test-cache-a").arg("3").run().stdout_is("3\n");
    assert!(marker.exists(), "host a's own entry did not run there");
}

#[test]
fn an_entry_kept_the_other_way_is_not_used() {
    // local:'s entries are raw, an ssh host's compressed: a header saying
    // otherwise was not written by pushy, and the start goes from source.
    let cache = tempfile::tempdir().unwrap();
    let marker = cache.path().join("ran");
    let run = || pushy().args(["exec", "local:", "'ok'"]).env("XDG_CACHE_HOME", cache.path());
    run().run().stdout_is("'ok'\n");
    let found = entries(cache.path());
    // A compressed entry (as an ssh host's are), sound enough to run.
    std::fs::write(&found[0], planted_entry(&["local:"], &marker, false)).unwrap();
    run().run().stdout_is("'ok'\n");
    assert!(!marker.exists(), "an entry that does not match its target ran");
}

#[test]
fn a_stale_entry_falls_back_to_source() {
    let cache = tempfile::tempdir().unwrap();
    let run = || pushy().args(["exec", "local:", "'ok'"]).env("XDG_CACHE_HOME", cache.path());
    run().run().stdout_is("'ok'\n");
    let found = entries(cache.path());
    let sound = std::fs::read(&found[0]).unwrap();
    // Another interpreter's bytecode format: stage 0 refuses it unread.
    let mut stale = b"pushy-code 1 00000000 raw\n".to_vec();
    stale.extend_from_slice(&sound[sound.iter().position(|&b| b == b'\n').unwrap() + 1..]);
    std::fs::write(&found[0], &stale).unwrap();
    run().run().stdout_is("'ok'\n");
    assert_eq!(std::fs::read(&found[0]).unwrap(), sound);
    // Garbage where the code goes.
    std::fs::write(&found[0], [&sound[..sound.iter().position(|&b| b == b'\n').unwrap() + 1], b"garbage"].concat())
        .unwrap();
    run().run().stdout_is("'ok'\n");
    assert_eq!(std::fs::read(&found[0]).unwrap(), sound);
}

#[test]
fn the_cache_can_be_turned_off() {
    let cache = tempfile::tempdir().unwrap();
    pushy()
        .args(["exec", "local:", "1"])
        .env("XDG_CACHE_HOME", cache.path())
        .env("PUSHY_NO_CODE_CACHE", "1")
        .run()
        .stdout_is("1\n");
    assert!(entries(cache.path()).is_empty());
}
