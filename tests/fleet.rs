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
    let done = fleet().args(["--ordered", "pushy-test-b,pushy-test-a,pushy-test-c", "print('hi'); 6 * 7"]).run();
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
    let done = fleet().args(["--ordered", &format!("@{}", list.display()), "'ok'"]).run();
    done.success().stdout_is("pushy-test-a: 'ok'\npushy-test-b: 'ok'\n");
}

#[test]
fn repeated_calls_reuse_one_master_until_disconnect() {
    let dir = private_dir();
    let config = sshd().config.display().to_string();
    let call =
        || pushy().args(["exec", "-F", &config, "pushy-test-reuse", "os.getppid()"]).control_dir(dir.path()).run();
    let first = call();
    first.success();
    let second = call();
    second.success();
    // One socket serves both calls, and the second skips the ssh handshake.
    let sockets: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    assert!(second.elapsed < first.elapsed, "second {:?} vs first {:?}", second.elapsed, first.elapsed);
    pushy().args(["disconnect", "-F", &config, "pushy-test-reuse"]).control_dir(dir.path()).run().success();
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
fn five_hundred_hosts_at_fifty_forks_within_1024_descriptors_and_64_mib() {
    let hosts: Vec<String> = (1..=500).map(|i| format!("pushy-test-h{i:03}")).collect();
    let dir = private_dir();
    let start = Instant::now();
    let time = std::ffi::OsString::from(crate::support::needs::program("time", "time"));
    let done = fleet()
        .args(["--no-reuse", "--forks", "50", &hosts.join(","), "platform.python_version()", "--json"])
        .control_dir(dir.path())
        .under([
            std::ffi::OsString::from("sh"),
            "-c".into(),
            "ulimit -n 1024 && exec \"$0\" -f 'peak resident KiB: %M' \"$@\"".into(),
            time,
        ])
        .timeout(Duration::from_secs(180))
        .run();
    done.success();
    assert_eq!(done.stdout().lines().count(), 500, "{}", done.describe());
    assert!(done.stdout().lines().all(|l| l.contains("\"ok\":true")));
    let rss = done.peak_rss_kib();
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB for 500 hosts");
    eprintln!("500 hosts in {:?}, peak RSS {rss} KiB", start.elapsed());
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

#[test]
fn results_print_as_hosts_finish_unless_ordered() {
    // Whichever host takes the marker first waits until the other has
    // answered, and a second more (not a fixed sleep: on a loaded machine
    // the second host may start late); the other answers at once.
    let dir = private_dir();
    let marker = dir.path().join("slow");
    let code = format!(
        "try:\n    os.rename({m:?}, {m:?} + '.taken')\n    end = time.time() + 30\n    \
         while not os.path.exists({m:?} + '.quick') and time.time() < end:\n        time.sleep(0.02)\n    \
         time.sleep(1)\n    r = 'slept'\nexcept OSError:\n    open({m:?} + '.quick', 'w').close()\n    r = 'quick'\nr",
        m = marker.display().to_string()
    );
    let run = |ordered: bool| {
        let _ = std::fs::remove_file(format!("{}.quick", marker.display()));
        std::fs::write(&marker, "").unwrap();
        let mut args = vec!["--forks", "2", "pushy-test-a,pushy-test-b", code.as_str()];
        if ordered {
            args.insert(0, "--ordered");
        }
        let done = fleet().args(args).run();
        done.success();
        done.stdout()
    };
    // As hosts finish: the quick one first.
    let lines: Vec<String> = run(false).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with(": 'quick'") && lines[1].ends_with(": 'slept'"), "{lines:?}");
    // --ordered: the order given, whoever slept.
    let lines: Vec<String> = run(true).lines().map(str::to_string).collect();
    assert!(lines[0].starts_with("pushy-test-a: ") && lines[1].starts_with("pushy-test-b: "), "{lines:?}");
}

#[test]
fn every_flag_means_the_same_for_many_hosts() {
    // --timeout, per host: both end within it, exit 124, each one line.
    let start = Instant::now();
    let done = fleet().args(["--timeout", "1", "pushy-test-a,pushy-test-b", "time.sleep(30)"]).run();
    done.code(124).stderr_has("pushy-test-a: timed out after 1 s").stderr_has("pushy-test-b: timed out after 1 s");
    assert!(start.elapsed() < Duration::from_secs(15), "took {:?}", start.elapsed());
    // --test: no output; the status is the truth of every host.
    fleet().args(["--test", "pushy-test-a,pushy-test-b", "True"]).run().success().stdout_is("");
    fleet().args(["--test", "--ordered", "pushy-test-a,pushy-test-b", "False"]).run().code(1).stdout_is("");
    // -v: which interpreter ran, for each host.
    let done = fleet().args(["-v", "--ordered", "pushy-test-a,pushy-test-b", "1"]).run();
    done.success().any_stderr().stdout_is("pushy-test-a: 1\npushy-test-b: 1\n");
    assert_eq!(done.stderr().matches("runs Python").count(), 2, "{}", done.stderr());
    // --raw: the raw text, labelled.
    fleet()
        .args(["--raw", "--ordered", "pushy-test-a,pushy-test-b", "'text'"])
        .run()
        .success()
        .stdout_is("pushy-test-a: text\npushy-test-b: text\n");
    // --json: records name their host; output and items come as records too.
    let done = fleet().args(["--json", "pushy-test-a,pushy-test-b", "print('hi'); iter([1, 2])"]).run();
    done.success();
    let records: Vec<serde_json::Value> = done.stdout().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for host in ["pushy-test-a", "pushy-test-b"] {
        let mine: Vec<&serde_json::Value> = records.iter().filter(|r| r["host"] == host).collect();
        assert_eq!(mine.len(), 4, "{mine:?}");
        assert_eq!(mine[0]["stdout"], "hi\n");
        assert_eq!((&mine[1]["item"], &mine[2]["item"]), (&serde_json::json!(1), &serde_json::json!(2)));
        assert_eq!(mine[3]["ok"], true);
    }
}

#[test]
fn stdin_goes_to_every_host_and_hosts_come_from_stdin_or_ranges() {
    fleet()
        .args(["--ordered", "pushy-test-a,pushy-test-b", "sys.stdin.read()"])
        .stdin("one copy\n")
        .run()
        .success()
        .stdout_is("pushy-test-a: 'one copy\\n'\npushy-test-b: 'one copy\\n'\n");
    fleet()
        .args(["--ordered", "@-", "2 + 2"])
        .stdin("pushy-test-a\n# a comment\npushy-test-b\n")
        .run()
        .success()
        .stdout_is("pushy-test-a: 4\npushy-test-b: 4\n");
    fleet()
        .args(["--ordered", "pushy-test-r[08:10]", "0"])
        .run()
        .success()
        .stdout_is("pushy-test-r08: 0\npushy-test-r09: 0\npushy-test-r10: 0\n");
}

#[test]
fn failed_hosts_are_written_for_a_retry() {
    let dir = private_dir();
    let failed = dir.path().join("failed");
    let done = fleet()
        .args(["--failed", &failed.display().to_string(), "pushy-test-a,pushy-test-closed,pushy-test-b"])
        .arg("1/0 if 'b' in socket.gethostname() and False else 1")
        .run();
    done.code(255).stderr_has("pushy-test-closed");
    assert_eq!(std::fs::read_to_string(&failed).unwrap(), "pushy-test-closed\n");
    // The list is a host file: @FILE retries exactly those.
    fleet().args([&format!("@{}", failed.display()), "1"]).run().code(255).stderr_has("pushy-test-closed");
}

#[test]
fn endless_iterators_on_many_hosts_keep_memory_flat() {
    // 50 hosts streaming without end, each stopped by its --timeout: the
    // client forwards items as they come and holds none of them.
    let hosts: Vec<String> = (1..=50).map(|n| format!("pushy-test-m{n}")).collect();
    let done = fleet()
        .args(["--forks", "50", "--timeout", "5", &hosts.join(","), "itertools.count()"])
        .stdout_to(std::fs::File::create("/dev/null").unwrap())
        .measuring_memory()
        .run();
    done.code(124).any_stderr();
    let rss = done.peak_rss_kib();
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB with 50 endless streams");
}

#[test]
fn run_takes_many_hosts_and_passes_the_script_its_arguments() {
    let dir = private_dir();
    let script = dir.path().join("check.py");
    std::fs::write(&script, "import sys\nprint(sys.argv[1:])\nsys.exit(3 if '--fail' in sys.argv else 0)\n").unwrap();
    let script = script.display().to_string();
    let config = sshd().config.display().to_string();
    pushy()
        .args(["run", "-F", &config, "--ordered", "pushy-test-a,pushy-test-b", &script, "-v", "x"])
        .run()
        .success()
        .stdout_is("pushy-test-a| ['-v', 'x']\npushy-test-b| ['-v', 'x']\n");
    // Exit statuses are summarised as for exec: a non-zero exit is a failure.
    pushy()
        .args(["run", "-F", &config, "--ordered", "pushy-test-a,pushy-test-b", &script, "--fail"])
        .run()
        .code(1)
        .stderr_has("pushy-test-a: exited with status 3");
}

#[test]
fn a_terminal_gets_a_progress_line_and_a_summary_unless_quiet() {
    let hosts = "pushy-test-p1,pushy-test-p2,pushy-test-p3";
    let mut pty = fleet().args(["--timeout", "3", hosts, "time.sleep(1.5)"]).pty();
    // The progress line: done/total, failed, running, the slowest host.
    pty.exp_regex(r"\[[0-3]/3\] [0-9]+ failed, [0-9]+ running").expect("a progress line on the terminal");
    pty.exp_string("pushy: 3 hosts: 3 ok, 0 raised, 0 failed to connect, 0 timed out").expect("the summary");
    pty.exp_eof().unwrap();
    // -q: neither.
    let mut pty = fleet().args(["-q", hosts, "1"]).pty();
    let all = pty.exp_eof().unwrap();
    assert!(!all.contains("running") && !all.contains("hosts:"), "{all:?}");
    assert_eq!(all.lines().filter(|l| l.starts_with("pushy-test-p")).count(), 3, "{all:?}");
}
