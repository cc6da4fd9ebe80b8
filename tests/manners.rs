//! Good manners as a process and a command: pushy lives inside shell loops,
//! `xargs -P`, cron and terminals. Signals end it as the shell expects,
//! write errors are failures, parallel runs share one master and leave no
//! ssh behind, `--json` stdout is JSON only, and arguments are read the way
//! people type them.

use std::time::{Duration, Instant};

use crate::support::pushy::{private_dir, pushy};
use crate::support::sshd::{sshd, test_users};

/// The ssh processes whose command line names `dir` (pushy's control
/// directory of that run): its masters.
fn ssh_processes(dir: &std::path::Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.starts_with("ssh\0") && cmdline.contains(&needle)
        })
        .collect()
}

#[track_caller]
fn none_within(dir: &std::path::Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !ssh_processes(dir).is_empty() {
        assert!(Instant::now() < deadline, "ssh processes left after {limit:?}: {:?}", ssh_processes(dir));
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------ signals

#[test]
fn ctrl_c_stops_a_shell_loop_of_pushy_calls() {
    // Ctrl-C reaches the whole foreground process group. bash goes on with
    // its loop if its child exited 130, and stops if it died by SIGINT.
    let script = "for i in 1 2 3; do \"$0\" exec local: 'time.sleep(5)'; echo next; done; echo loop-done";
    let shell_loop = pushy().under(["bash", "-c", script]).process_group().spawn();
    std::thread::sleep(Duration::from_millis(1500));
    shell_loop.signal_group(libc::SIGINT);
    // bash is stopped by SIGINT within 4 s, and the loop did not go on.
    let done = shell_loop.wait_within(Duration::from_secs(4));
    done.killed_by(libc::SIGINT).stdout_is("").stderr_has("KeyboardInterrupt");
}

#[test]
fn pushy_itself_dies_by_the_signal_it_got() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let mut call = pushy().args(["exec", "local:", "print('up', flush=True); time.sleep(5)"]).spawn();
        assert_eq!(call.line(Duration::from_secs(10)), "up");
        call.signal(signal);
        let done = call.wait();
        done.killed_by(signal);
        // Ctrl-C interrupts the code, as in Python; the others end pushy quietly.
        if signal == libc::SIGINT {
            done.stderr_has("KeyboardInterrupt");
        }
    }
}

#[test]
fn sigterm_with_no_reuse_leaves_no_ssh_process() {
    let control = private_dir();
    let mut call = pushy()
        .args(["exec", "--no-reuse"])
        .ssh(sshd().host())
        .arg("print('up', flush=True); time.sleep(30)")
        .control_dir(control.path())
        .spawn();
    assert_eq!(call.line(Duration::from_secs(20)), "up");
    assert_eq!(ssh_processes(control.path()).len(), 1, "one master of its own");
    call.signal(libc::SIGTERM);
    // What pushy writes while it dies races its exit (nothing, or all or
    // part of a lost-connection line): not this test's concern.
    call.wait().killed_by(libc::SIGTERM).stderr_lacks("panicked");
    none_within(control.path(), Duration::from_millis(500));
}

#[test]
fn the_terminal_gets_its_echo_back_after_a_signal_at_the_password_prompt() {
    test_users(); // the sudo test user
                  // The shell ignores SIGINT and reports the terminal's state after pushy
                  // (rexpect starts its terminal without echo: the shell turns it on).
    let script = "trap '' INT; stty echo; \"$0\" \"$@\"; echo status=$?; stty -a";
    let mut pty = pushy()
        .under(["sh", "-c", script])
        .args(["exec", "-l", "pushysudo", "--sudo"])
        .ssh("pushy-test-x")
        .arg("1")
        .env("NO_COLOR", "1")
        .pty();
    pty.exp_string("sudo password: ").unwrap();
    pty.send_control('c').unwrap();
    let (_, status) = pty.exp_regex("status=[0-9]+").unwrap();
    assert_eq!(status, format!("status={}", 128 + libc::SIGINT));
    let rest = pty.exp_eof().unwrap();
    assert!(rest.split_whitespace().any(|w| w == "echo"), "echo is still off:\n{rest}");
}

// ------------------------------------------------------------ output

#[test]
fn write_errors_on_stdout_are_failures() {
    let full = || std::fs::File::create("/dev/full").unwrap();
    for code in ["1", "print('x')", "iter(range(3))"] {
        let done = pushy().args(["exec", "local:", code]).stdout_to(full()).run();
        done.code(1).stderr_starts_with("pushy: error: cannot write to stdout: No space left");
    }
    let raw = pushy().args(["exec", "local:", "b'x' * 10**6", "--raw"]).stdout_to(full()).run();
    raw.code(1).stderr_starts_with("pushy: error: cannot write to stdout");
    // A closed pipe is the reader's choice: quiet, and success.
    pushy()
        .under(["sh", "-c", "\"$0\" \"$@\" | head -1"])
        .args(["exec", "local:", "iter(range(10**7))"])
        .run()
        .stdout_is("0\n")
        .stderr_is("");
}

#[test]
fn json_stdout_carries_only_json() {
    let code = "print('a remote print'); os.write(1, b'raw fd 1\\n'); {'k': 1}";
    let done = pushy().args(["exec", "local:", code, "--json"]).run();
    done.success();
    assert_eq!(done.stdout(), "{\"k\":1}\n");
    done.stderr_has("a remote print").stderr_has("raw fd 1");
    // A statement is null; a remote exception is an error record, exit 1.
    pushy().args(["exec", "local:", "x = 1", "--json"]).run().success().stdout_is("null\n");
    let done = pushy().args(["exec", "local:", "print('p'); 1/0", "--json"]).run();
    done.code(1).stderr_has("ZeroDivisionError");
    let record: serde_json::Value = serde_json::from_str(done.stdout().trim()).unwrap();
    assert_eq!(record["error"]["type"], "ZeroDivisionError");
    assert_eq!(record["error"]["kind"], "raised");
    // Many hosts and streamed items: every line parses.
    let done = pushy().args(["exec", "local:,local:", "print('noise'); iter([1, 2])", "--json"]).run();
    // (Their output goes into the records.)
    done.success();
    for line in done.stdout().lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    }
    let done = pushy().args(["exec", "local:", "print('noise'); iter([1, 2])", "--json"]).run();
    done.success().stdout_is("1\n2\n").stderr_is("noise\n");
}

#[test]
fn json_maps_dates_decimals_uuids_and_paths_to_strings() {
    let code = "[datetime.datetime(2024, 1, 2, 3, 4, 5, 600), datetime.date(2024, 1, 2), datetime.time(1, 2), \
                datetime.timedelta(days=1, hours=2, seconds=4.5), datetime.timedelta(hours=-23), \
                decimal.Decimal('1.10'), uuid.UUID(int=1), pathlib.Path('/etc'), \
                datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)]";
    let want = r#"["2024-01-02T03:04:05.000600","2024-01-02","01:02:00","P1DT2H4.5S","-PT23H","1.10","#.to_string()
        + r#""00000000-0000-0000-0000-000000000001","/etc","2024-01-01T00:00:00+00:00"]"#
        + "\n";
    pushy().args(["exec", "local:", code, "--json"]).run().success().stdout_is(&want);
    // The pretty output keeps Python's reprs.
    pushy()
        .args(["exec", "local:", "datetime.date(2024, 1, 2), decimal.Decimal('1.10')"])
        .run()
        .success()
        .stdout_is("(datetime.date(2024, 1, 2), Decimal('1.10'))\n");
}

#[test]
fn raw_rows_are_tab_separated_and_null_ends_items() {
    pushy().args(["exec", "local:", "[(10, 'b'), (9, 'a')]", "--raw"]).run().success().stdout_is("10\tb\n9\ta\n");
    let done = pushy().args(["exec", "local:", "['a\\nb', 'c']", "-0"]).run();
    done.success();
    assert_eq!(done.stdout, b"a\nb\0c\0");
}

#[test]
fn timeout_ends_with_one_line() {
    let done = pushy().args(["exec", "--timeout", "1", "local:", "time.sleep(30)"]).run();
    done.code(124).stderr_is("pushy: timed out after 1 s\n");
}

// ------------------------------------------------------------ arguments

#[test]
fn run_passes_every_word_after_the_script_to_it() {
    let dir = private_dir();
    let script = dir.path().join("check.py");
    std::fs::write(&script, "import sys\nprint(sys.argv[1:])\n").unwrap();
    let script = script.display().to_string();
    for args in [vec!["--verbose", "/"], vec!["-h"], vec!["--help"], vec!["-v", "--", "x"]] {
        let mut all = vec!["run", "local:", script.as_str()];
        all.extend(args.iter().copied());
        let want = format!("[{}]\n", args.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", "));
        pushy().args(all).run().success().stdout_is(&want);
    }
}

#[test]
fn options_before_the_subcommand_and_host_then_code() {
    let config = sshd().config.display().to_string();
    pushy().args(["-F", &config, "--persist", "1", "exec", sshd().host(), "6 * 7"]).run().success().stdout_is("42\n");
    // `pushy HOST CODE`, as an ssh user types it first.
    pushy().args(["local:", "6 * 7"]).run().success().stdout_is("42\n");
    pushy().args(["-F", &config, "--persist", "1", sshd().host(), "6 * 7", "--json"]).run().success().stdout_is("42\n");
    // A bare pushy lists the subcommands.
    let done = pushy().run();
    done.code(2).any_stderr();
    for sub in ["exec", "run", "cp", "disconnect"] {
        assert!(done.stderr().contains(sub) || done.stdout().contains(sub), "{sub} missing:\n{}", done.describe());
    }
}

#[test]
fn only_local_colon_is_this_machine_and_its_hints_say_so() {
    // A bare `local` is an ssh host like any other (here: one that does not resolve).
    let done = pushy().args(["exec", "--connect-timeout", "5", "-o", "BatchMode=yes", "local", "1"]).run();
    done.code(255).stderr_has("cannot connect to local");
    // A broken local interpreter gets a local hint.
    let done = pushy().args(["exec", "--python", "false", "local:", "1"]).run();
    done.code(255).clean_error().stderr_lacks("ssh local");
}

#[test]
fn a_proxy_commands_message_reaches_the_user() {
    let config = sshd().config.display().to_string();
    let done = pushy()
        .args(["exec", "--no-reuse", "-F", &config, "-o"])
        .arg("ProxyCommand=sh -c 'echo the VPN is down, run vpn-up first >&2; exit 1'")
        .args([sshd().host(), "1"])
        .run();
    done.code(255).stderr_has("the VPN is down, run vpn-up first");
    // The hint repeats the user's flags, so pasting it fails the same way.
    done.stderr_has(&format!("-F {config}"));
}

// ------------------------------------------------------------ many at once

#[test]
fn eight_first_connections_at_once_share_one_master() {
    let control = private_dir();
    let config = sshd().config.display().to_string();
    let calls: Vec<_> = (0..8)
        .map(|_| {
            pushy()
                .args(["exec", "--persist", "2", "-F", &config, sshd().host(), "os.getpid()"])
                .control_dir(control.path())
                .spawn()
        })
        .collect();
    for call in calls {
        call.wait().success();
    }
    assert_eq!(ssh_processes(control.path()).len(), 1, "masters: {:?}", ssh_processes(control.path()));
    // --persist 2: then nothing of pushy's is left.
    none_within(control.path(), Duration::from_secs(6));
}

#[test]
fn host_key_prompts_of_many_hosts_come_one_at_a_time() {
    // Two hosts whose key nobody knows yet, with ssh told to ask: the
    // prompts must not interleave; each is announced with its host.
    let dir = private_dir();
    let known = dir.path().join("known_hosts");
    std::fs::write(&known, "").unwrap();
    let config = sshd().config.display().to_string();
    let mut pty = pushy()
        .args(["exec", "--no-reuse", "-F", &config, "-o", "BatchMode=no", "-o", "StrictHostKeyChecking=ask", "-o"])
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .args(["-o", "HostKeyAlias=pushy-prompt-test", "pushy-test-a,pushy-test-b", "6 * 7"])
        .control_dir(dir.path())
        .env("NO_COLOR", "1")
        .pty();
    let (before, _) = pty.exp_regex("continue connecting \\(yes/no[^)]*\\)\\? ").unwrap();
    assert!(before.contains("pushy: connecting to pushy-test-"), "the prompt is not announced:\n{before}");
    pty.send_line("yes").unwrap();
    let rest = pty.exp_eof().unwrap();
    assert_eq!(rest.matches("continue connecting").count(), 0, "a second prompt:\n{rest}");
    assert_eq!(rest.matches("42").count(), 2, "{rest}");
}
