//! Many hosts at once, and connection reuse across calls, over the loopback
//! sshd. Any alias `pushy-test-<name>` in the harness config is a plain login,
//! so a "fleet" is a list of such aliases.

use std::time::{Duration, Instant};

use crate::support::pushy::{private_dir, pushy};
use crate::support::sshd::sshd;

fn fleet() -> crate::support::pushy::Pushy {
    pushy().args(["exec", "-F", &sshd().config.display().to_string()])
}

#[test]
fn pretty_output_labels_each_host_in_the_order_given() {
    let done = fleet().args(["pushy-test-b,pushy-test-a,pushy-test-c", "print('hi'); 6 * 7"]).run();
    done.success();
    assert_eq!(
        done.stdout(),
        "pushy-test-b| hi\npushy-test-b: 42\npushy-test-a| hi\npushy-test-a: 42\npushy-test-c| hi\npushy-test-c: 42\n"
    );
    let done = fleet().args(["pushy-test-a,pushy-test-b", "list(range(40))", "--collapse"]).run();
    done.success();
    assert!(done.stdout().starts_with("pushy-test-a, pushy-test-b:\n    [0, 1,"), "{}", done.stdout());
}

#[test]
fn json_lines_one_per_host_and_a_bad_host_does_not_stop_the_others() {
    let done = fleet().args(["pushy-test-a,pushy-test-closed,pushy-test-b", "{'n': 2**70}", "--json"]).run();
    done.code(255);
    let check = r#"import json, sys
lines = [json.loads(l) for l in sys.stdin.read().splitlines()]
by_host = {l["host"]: l for l in lines}
assert sorted(by_host) == ["pushy-test-a", "pushy-test-b", "pushy-test-closed"], by_host
assert by_host["pushy-test-a"] == {"host": "pushy-test-a", "ok": True, "value": {"n": 2**70}}
bad = by_host["pushy-test-closed"]
assert bad["ok"] is False and bad["error"]["kind"] == "connection" and "refused" in bad["error"]["message"]
"#;
    let mut child =
        std::process::Command::new("python3").args(["-c", check]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &done.stdout).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "{}", done.stdout());
}

#[test]
fn exit_status_summarises_the_fleet() {
    fleet().args(["pushy-test-a,pushy-test-b", "1"]).run().success();
    let done = fleet().args(["pushy-test-a,pushy-test-b", "1/0 if os.environ.get('X') is None else 1"]).run();
    done.code(1).stderr_has("ZeroDivisionError");
    let dir = private_dir();
    let list = dir.path().join("hosts.txt");
    std::fs::write(&list, "# the fleet\npushy-test-a\n\npushy-test-b  # and one more\n").unwrap();
    let done = fleet().args([&format!("@{}", list.display()), "'ok'"]).run();
    done.success().stdout_is("pushy-test-a: 'ok'\npushy-test-b: 'ok'\n");
}

#[test]
fn repeated_calls_reuse_one_master_until_disconnect() {
    let dir = private_dir();
    let control = dir.path().display().to_string();
    let config = sshd().config.display().to_string();
    let call = || {
        pushy()
            .args(["exec", "-F", &config, "pushy-test-reuse", "os.getppid()"])
            .env("PUSHY_CONTROL_DIR", &control)
            .run()
    };
    let first = call();
    first.success();
    let second = call();
    second.success();
    // One socket serves both calls, and the second skips the ssh handshake.
    let sockets: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    assert!(second.elapsed < first.elapsed, "second {:?} vs first {:?}", second.elapsed, first.elapsed);
    pushy().args(["disconnect", "-F", &config, "pushy-test-reuse"]).env("PUSHY_CONTROL_DIR", &control).run().success();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "disconnect removes the master");
    call().success();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a new master after disconnect");
    // A stale socket (its master killed) is replaced, not an error.
    let socket = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
    let check = std::process::Command::new("ssh")
        .args(["-S", &socket.display().to_string(), "-O", "check", "pushy-test-reuse"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stderr).into_owned();
    let pid: i32 =
        text.split("pid=").nth(1).and_then(|p| p.split(')').next()).and_then(|p| p.parse().ok()).expect(&text);
    // SAFETY: a pid that ssh itself reported for our master.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(200));
    assert!(socket.exists(), "the socket outlives its killed master");
    call().success().stdout_has("\n");
}

#[test]
fn a_hundred_hosts_in_one_call() {
    let hosts: Vec<String> = (1..=100).map(|i| format!("pushy-test-h{i:03}")).collect();
    let dir = private_dir();
    let start = Instant::now();
    let done = fleet()
        .args(["--no-reuse", &hosts.join(","), "platform.python_version()", "--json"])
        .env("PUSHY_CONTROL_DIR", dir.path())
        .run();
    done.success();
    assert_eq!(done.stdout().lines().count(), 100, "{}", done.stderr());
    assert!(done.stdout().lines().all(|l| l.contains("\"ok\":true")));
    eprintln!("100 hosts in {:?}", start.elapsed());
    // No master outlives the run: each was this run's own.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(dir.path()).unwrap().count() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "masters left behind: {left:?}");
    let ps = std::process::Command::new("pgrep").args(["-f", &dir.path().display().to_string()]).output().unwrap();
    assert!(ps.stdout.is_empty(), "ssh processes left: {}", String::from_utf8_lossy(&ps.stdout));
}
