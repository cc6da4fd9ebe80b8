//! Hostile input, faults and security: users point pushy at half-broken hosts
//! and paste anything into it. Each test names the bad input or the fault it
//! injects and the outcome pushy owes: a value, a one-line error or a remote
//! traceback, within a stated time, never a hang, a panic, pushy's own
//! traceback or lost output.
//!
//! Already covered elsewhere, and not repeated here: a syntax error's line
//! and caret, `__repr__` that raises or returns a non-str, cycles
//! (`exec.rs`); a generator that raises halfway (`pipelines.rs`); hosts that
//! look like options, a changed host key in the default config, a killed
//! client leaving no remote interpreter, nothing written to the remote home
//! (`ssh.rs`); history created 0600 (`repl.rs`).
//!
//! Transport faults that kill or freeze sshd use an sshd of their own
//! ([`OwnSshd`]), never the shared one of the harness.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::needs;
use crate::support::pushy::{exec_local, private_dir, pushy, Done, Pty, Running};
use crate::support::sshd::sshd;

// ------------------------------------------------------------------ helpers

/// `pushy exec local: -` with the code on stdin (argv cannot carry NUL
/// bytes or 10 MB).
#[track_caller]
fn exec_local_stdin(code: impl Into<Vec<u8>>) -> Done {
    pushy().args(["exec", "local:", "-"]).stdin(code).run()
}

/// `pushy exec --persist 1 HOST CODE` against the shared loopback sshd: its
/// master ends a second after the call instead of idling for a minute.
#[track_caller]
fn exec_ssh(code: &str) -> Done {
    pushy().args(["exec", "--persist", "1"]).ssh(sshd().host()).arg(code).run()
}

/// Asserts that the run took less than `limit`.
#[track_caller]
fn within(done: &Done, limit: Duration) -> &Done {
    assert!(done.elapsed < limit, "took {:?}, more than {limit:?}:\n{}", done.elapsed, done.describe());
    done
}

/// The remote error a user sees: no traceback into pushy or the parser.
#[track_caller]
fn clean_remote_error(done: &Done, says: &str) {
    done.code(1).stderr_has(says);
    for leak in ["<pushy>", "server.py", "ast.py", "Traceback", "panicked"] {
        done.stderr_lacks(leak);
    }
}

/// `pushy ARGS...` with the control directory `control`, started and kept
/// running.
fn spawn_pushy(args: &[&str], control: &Path) -> Running {
    pushy().args(args).control_dir(control).spawn()
}

/// Whether a process is gone (a zombie counts: it runs nothing any more).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits until `pid` is gone; false if it is still there after `limit`.
fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !gone(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The parent pid of every process, from /proc.
fn parents() -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            out.push((pid, ppid));
        }
    }
    out
}

/// All descendants of `root` (not `root` itself).
fn descendants(root: u32) -> Vec<u32> {
    let table = parents();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(table.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

fn kill(pid: u32, signal: i32) {
    // SAFETY: kill has no memory preconditions; pids come from /proc walks
    // of processes this test started (never 0 or -1).
    if pid > 1 {
        unsafe { libc::kill(pid as i32, signal) };
    }
}

/// A second OpenSSH server on 127.0.0.1, this test's alone: the transport
/// fault tests kill or freeze it. It reuses the shared harness's host key,
/// authorized keys and settings on a port of its own; its client config
/// defines the alias `hostile`. Dropping it kills it and every process it
/// started (sessions, their shells and interpreters).
struct OwnSshd {
    listener: Child,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl OwnSshd {
    fn start() -> OwnSshd {
        let shared = &sshd().dir;
        let dir = tempfile::Builder::new().prefix("pushy-own-sshd-").tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = std::fs::read_to_string(shared.join("sshd_config")).unwrap();
        let mut config = String::new();
        for line in base.lines() {
            if line.starts_with("ListenAddress ") {
                config.push_str(&format!("ListenAddress 127.0.0.1:{port}\n"));
            } else if line.starts_with("PidFile ") {
                config.push_str(&format!("PidFile \"{}\"\n", dir.path().join("sshd.pid").display()));
            } else {
                config.push_str(line);
                config.push('\n');
            }
        }
        std::fs::write(dir.path().join("sshd_config"), config).unwrap();
        let host_pub = std::fs::read_to_string(shared.join("host_key.pub")).unwrap();
        let key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        let known_hosts = dir.path().join("known_hosts");
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {} {}\n", key[0], key[1])).unwrap();
        let client = format!(
            "Host hostile\n    HostName 127.0.0.1\n    Port {port}\n    IdentityFile \"{}\"\n    IdentitiesOnly yes\n    \
             IdentityAgent none\n    UserKnownHostsFile \"{}\"\n    GlobalKnownHostsFile /dev/null\n    \
             StrictHostKeyChecking yes\n    UpdateHostKeys no\n    CheckHostIP no\n    BatchMode yes\n    \
             ConnectTimeout 5\n    LogLevel ERROR\n",
            shared.join("client_key").display(),
            known_hosts.display()
        );
        let config = dir.path().join("ssh_config");
        std::fs::write(&config, client).unwrap();
        let log = dir.path().join("sshd.log");
        let mut command = Command::new("/usr/sbin/sshd");
        command
            .arg("-D")
            .arg("-f")
            .arg(dir.path().join("sshd_config"))
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; sshd then dies with the thread
        // that started it (this test's), however the test ends.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        let listener = command.spawn().expect("start a second sshd");
        let own = OwnSshd { listener, config, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let listening = std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Server listening on"));
            if listening && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return own;
            }
            assert!(Instant::now() < deadline, "the second sshd did not start: {}", log.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The per-connection sshd processes and what they run.
    fn sessions(&self) -> Vec<u32> {
        descendants(self.listener.id())
    }
}

impl Drop for OwnSshd {
    fn drop(&mut self) {
        for pid in self.sessions() {
            kill(pid, libc::SIGKILL); // works on stopped processes too
        }
        let _ = self.listener.kill();
        let _ = self.listener.wait();
    }
}

// ------------------------------------------------------------------ bad code

#[test]
fn nul_bytes_in_code_are_a_syntax_error() {
    // 1 bad input: NUL bytes (through stdin and -f; argv cannot carry them).
    clean_remote_error(&exec_local_stdin(&b"x = 1\0\n"[..]), "null bytes");
    let dir = private_dir();
    let file = dir.path().join("nul.py");
    std::fs::write(&file, b"print('a')\0").unwrap();
    let done = pushy().args(["exec", "local:", "-f", &file.display().to_string()]).run();
    clean_remote_error(&done, "null bytes");
    let done = pushy().args(["run", "local:", &file.display().to_string()]).run();
    clean_remote_error(&done, "null bytes");
}

#[test]
fn syntax_errors_in_a_file_point_at_the_line() {
    // 2 bad inputs: a syntax error on line 3 of a file, run by exec -f and by run.
    let dir = private_dir();
    let file = dir.path().join("bad.py");
    std::fs::write(&file, "x = 1\ny = 2\nz = (x +* y)\n").unwrap();
    let path = file.display().to_string();
    for done in [pushy().args(["exec", "local:", "-f", &path]).run(), pushy().args(["run", "local:", &path]).run()] {
        clean_remote_error(&done, "SyntaxError: invalid syntax");
        done.stderr_has(&format!("File \"{path}\", line 3")).stderr_has("z = (x +* y)").stderr_has("^");
    }
}

#[test]
fn a_10_mb_expression_is_evaluated() {
    // 2 bad inputs, 10 MB of code each: one string literal, and a list of
    // 100 000 strings. Outcome: the value, in bounded time.
    let literal = format!("len('{}')", "x".repeat(10 << 20));
    within(exec_local_stdin(literal).success().stdout_is(&format!("{}\n", 10 << 20)), Duration::from_secs(30));
    let item = format!("'{}'", "y".repeat(100));
    let list = format!("len([{}])", vec![item.as_str(); 100_000].join(","));
    assert!(list.len() > 10_000_000);
    within(exec_local_stdin(list).success().stdout_is("100000\n"), Duration::from_secs(30));
}

#[test]
fn an_expression_nested_100k_deep_is_one_clean_error() {
    // 5 bad inputs nested 100 000 deep: CPython refuses each (parser stack,
    // recursion limit); pushy shows CPython's message, no traceback into its
    // own code or the parser, and the session does not die (exit 1, not 255).
    let deep = 100_000;
    let cases = [
        (format!("{}1{}", "(".repeat(deep), ")".repeat(deep)), "too many nested parentheses"),
        (format!("{}1", "-".repeat(deep)), "MemoryError"),
        (format!("{}1", "1+".repeat(deep)), "RecursionError"),
        (format!("a{}", ".b".repeat(deep)), "RecursionError"),
        (format!("{}0", "lambda: ".repeat(deep)), "MemoryError"),
    ];
    for (code, says) in cases {
        let done = exec_local_stdin(code);
        within(&done, Duration::from_secs(20));
        clean_remote_error(&done, says);
    }
}

#[test]
fn unicode_identifiers_and_text_round_trip() {
    // 1 bad input: identifiers in four scripts (one NFKC-normalised), text
    // outside the BMP, and a remote error message in Unicode.
    let code = "café = 1\nΩμέγα = 2\n变量 = 3\n𝔘 = 4\n(café + Ωμέγα + 变量 + U, '🐍 naïve ✓')";
    exec_local(code).success().stdout_is("(10, '🐍 naïve ✓')\n");
    exec_ssh(code).success().stdout_is("(10, '🐍 naïve ✓')\n");
    let done = exec_local("raise ValueError('ünïcödé ✗ 🐍')");
    done.code(1).stderr_has("ValueError: ünïcödé ✗ 🐍");
}

#[test]
fn a_byte_order_mark_and_crlf_line_ends_are_python_as_usual() {
    // 2 bad inputs: code from a Windows editor (UTF-8 BOM, CRLF), on stdin
    // and as a script. python3 FILE runs it; so does pushy (the BOM was a
    // SyntaxError before).
    exec_local_stdin(&b"\xef\xbb\xbfx = 1\r\ny = 2\r\nx + y\r\n"[..]).success().stdout_is("3\n");
    let dir = private_dir();
    let file = dir.path().join("windows.py");
    std::fs::write(&file, b"\xef\xbb\xbfimport sys\r\nprint('bom', sys.argv[1:])\r\n").unwrap();
    pushy().args(["run", "local:", &file.display().to_string(), "a"]).run().success().stdout_is("bom ['a']\n");
}

#[test]
fn code_that_reads_stdin_gets_end_of_file_at_once() {
    // 2 bad inputs: exec without input reads the end of file at once; in
    // the REPL, whose terminal the remote stdin reads (tests/terminal.rs),
    // Ctrl-D is the end of input at once, for input() and for read().
    let done = pushy().args(["exec", "local:", "input()"]).run();
    within(&done, Duration::from_secs(10));
    done.code(1).stderr_has("EOFError");
    let mut r = repl(&["local:"]);
    r.pty.send_line("input('name? ')").unwrap();
    r.pty.exp_string("name? ").unwrap();
    r.pty.send_control('d').unwrap();
    r.pty.exp_string("EOFError").expect("Ctrl-D ends input() at once");
    r.pty.exp_string(">>> ").unwrap();
    r.pty.send_line("len(sys.stdin.read()), 'after'").unwrap();
    r.pty.send_control('d').unwrap();
    r.pty.exp_string("(0, 'after')").expect("Ctrl-D ends sys.stdin.read() at once");
    r.pty.exp_string(">>> ").unwrap(); // Ctrl-D before the prompt is drawn would be typed ahead
    r.pty.send_control('d').unwrap();
    r.pty.exp_eof().unwrap();
}

// ----------------------------------------------------------------- bad values

/// Code building a value nested `depth` deep, of one of three shapes.
fn nested(shape: &str, depth: usize) -> String {
    match shape {
        "list" => format!("x = v = []\nfor i in range({depth}):\n    x.append([]); x = x[0]\nv"),
        "dict" => format!("x = v = {{}}\nfor i in range({depth}):\n    x['k'] = {{(1,): [x]}}; x = x['k']\nv"),
        _ => format!(
            "import collections\nP = collections.namedtuple('P', 'a b')\nx = v = P([], 0)\n\
             for i in range({depth}):\n    x.a.append(P([], i)); x = x.a[0]\nv"
        ),
    }
}

#[test]
fn a_value_nested_100k_deep_prints_in_every_format() {
    // 9 bad values (3 shapes x pretty, json, raw), each 100 000 deep: the
    // server cuts it at 10 000 levels, and the client prints it all (it
    // crashed with a stack overflow before the printers got a deep stack).
    for shape in ["list", "dict", "named"] {
        let code = nested(shape, 100_000);
        let done = pushy().args(["exec", "local:", &code]).run();
        within(&done, Duration::from_secs(30)).success();
        assert!(done.stdout().contains("..."), "the cut is shown as ...");
        let json = pushy().args(["exec", "local:", &code, "--json"]).run();
        within(&json, Duration::from_secs(30)).success().stdout_has("{\"$deep\":");
        let raw = pushy().args(["exec", "local:", &code, "--raw"]).run();
        within(&raw, Duration::from_secs(30)).success();
    }
}

#[test]
fn the_library_prints_values_deeper_than_the_wire_allows() {
    // 1 bad value built locally by a library user, 50 000 deep: the
    // printers take a stack sized for it instead of overflowing.
    use pushy::printer::{json, Pretty};
    use pushy::value::{SeqKind, Value};
    let mut v = Value::Int(1);
    for _ in 0..50_000 {
        v = Value::Seq(SeqKind::List, vec![v], None);
    }
    let text = std::thread::Builder::new()
        .stack_size(256 << 10) // a small stack: the printer must not need it
        .spawn(move || {
            let text = Pretty { width: 80, color: false }.render(&v);
            assert_eq!(json::render(&v).len(), text.len());
            // Dropping a value this deep recurses too; keep it off this stack.
            std::mem::forget(v);
            text
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(text.len(), 2 * 50_000 + 1);
}

#[test]
fn a_ten_million_element_list_prints_in_bounded_time_and_memory() {
    // 1 bad value: list(range(10**7)), pretty-printed and as JSON, over ssh
    // (so the interpreter is not pushy's child and its memory is not
    // counted). It arrives as 80 MB of packed ints and is printed straight
    // from them (no tree), so pushy may hold at most twice that. Measured in
    // release: about 4 s and 90 MB (640 MB with a tree, 1.2 GB before the
    // decoder streamed its tokens); a debug build takes about 15 s.
    let encoded_kib = 10_000_000 * 8 / 1024;
    for (format, first, last) in [("--color=never", "[0, 1, 2,", " 9999999]\n"), ("--json", "[0,1,2,", ",9999999]\n")] {
        let done = pushy()
            .args(["exec", "--persist", "1", format])
            .ssh(sshd().host())
            .arg("list(range(10**7))")
            .env("COLUMNS", "80")
            .timeout(Duration::from_secs(90))
            .measuring_memory()
            .run();
        done.success();
        assert!(done.elapsed < Duration::from_secs(60), "{format}: took {:?}", done.elapsed);
        let kib = done.peak_rss_kib();
        assert!(
            kib < 2 * encoded_kib,
            "{format}: pushy held {} MiB for a list of 10**7 ints that takes {} MiB encoded",
            kib / 1024,
            encoded_kib / 1024
        );
        let text = done.stdout();
        assert!(text.starts_with(first) && text.ends_with(last), "{format}: {}", &text[..80]);
        if format != "--json" {
            assert!(text.lines().all(|l| l.chars().count() <= 80), "lines wrap at the width");
        }
    }
}

#[test]
fn repr_that_sleeps_is_interrupted_and_a_huge_repr_is_cut() {
    // 2 bad values: a __repr__ that sleeps (--timeout stops it: 124, one
    // line) and one that returns 10 MB (cut at 1 MiB).
    let code = "class S:\n    def __repr__(self):\n        time.sleep(60)\n[S()]";
    let done = pushy().args(["exec", "local:", code, "--timeout", "1"]).run();
    within(&done, Duration::from_secs(10)).code(124).stderr_is("pushy: timed out after 1 s\n");
    let code = "class H:\n    def __repr__(self):\n        return 'h' * (10 << 20)\nH()";
    let done = exec_local(code);
    done.success();
    assert_eq!(done.stdout().len(), (1 << 20) + "...\n".len());
}

#[test]
fn methods_that_raise_or_lie_during_encoding_never_break_the_reply() {
    // 10 bad values whose methods raise or lie while the value is encoded.
    // Outcome: the value arrives, the part that misbehaves as its repr
    // (before: a remote traceback, a hang, or a broken stream and exit 255).
    let cases = [
        // __getattr__ that raises, on the instance and on the class.
        ("class G:\n    def __getattr__(self, n): raise RuntimeError(n)\n    def __repr__(self): return 'G!'\n[G()]", "[G!]\n"),
        ("class M(type):\n    def __getattr__(c, n): raise RuntimeError(n)\nclass X(metaclass=M):\n    def __repr__(self): return 'X!'\n[X()]", "[X!]\n"),
        // A __class__ property that raises (isinstance consults it).
        ("class C:\n    __class__ = property(lambda self: 1 / 0)\n    def __repr__(self): return 'C!'\n[C()]", "[C!]\n"),
        // A list whose __len__, or __iter__, raises.
        ("class L(list):\n    def __len__(self): raise RuntimeError()\n[L([1, 2])]", "[[1, 2]]\n"),
        ("class L(list):\n    def __iter__(self): raise RuntimeError()\n[L([1, 2])]", "[[1, 2]]\n"),
        // A list whose __iter__ disagrees with its __len__ (was: exit 255).
        ("class L(list):\n    def __iter__(self): return iter([7])\nL([1, 2])", "L([7])\n"),
        // A dict whose items() yields triples.
        ("class D(dict):\n    def items(self): return [(1, 2, 3)]\n[D(a=1)]", "[{'a': 1}]\n"),
        // A str whose __str__ returns itself (was: the encoder looped for ever).
        ("class S(str):\n    def __str__(self): return self\n[S('a')]", "['a']\n"),
        // An int whose __int__ and __index__ raise.
        ("class I(int):\n    def __int__(self): raise RuntimeError()\n    __index__ = __int__\n[I(3)]", "[3]\n"),
        // A dataclass field that cannot be read.
        ("import dataclasses\n@dataclasses.dataclass\nclass D:\n    a: int\nd = D(1)\ndel d.a\nd", "D(a=<unreadable: AttributeError: 'D' object has no attribute 'a'>)\n"),
    ];
    for (code, want) in cases {
        let done = pushy().args(["exec", "local:", code, "--timeout", "10"]).run();
        within(&done, Duration::from_secs(15)).success().stdout_is(want);
    }
}

#[test]
fn a_generator_that_raises_halfway_in_json_lines() {
    // 1 bad value (the raw format is in pipelines.rs): the items before the
    // error arrive as JSON lines, then an error record (and the traceback on
    // stderr), exit 1.
    let code = "def g():\n    yield {'a': 1}\n    yield [2]\n    raise KeyError('half')\ng()";
    let done = pushy().args(["exec", "local:", code, "--json"]).run();
    done.code(1).stderr_has("line 4, in g").stderr_has("KeyError: 'half'");
    let lines: Vec<serde_json::Value> = done.stdout().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{}", done.stdout());
    assert_eq!((lines[0].to_string(), lines[1].to_string()), ("{\"a\":1}".into(), "[2]".into()));
    assert_eq!(lines[2]["error"]["type"], "KeyError");
}

// --------------------------------------------------------- remote misbehaviour

#[test]
fn code_that_closes_or_redirects_fds_0_1_2() {
    // 4 bad inputs. Outcome: the value or traceback still arrives (they
    // travel on pushy's private descriptors), and the output pump does not
    // spin on the closed pipe (it burnt a core at 100% before).
    exec_local("os.close(0); os.close(1); os.close(2); 5").success().stdout_is("5\n");
    let done = exec_local("os.close(2); 1 / 0");
    done.code(1).stderr_has("ZeroDivisionError");
    let code = "fd = os.open(os.devnull, os.O_WRONLY)\nfor n in (0, 1, 2):\n    os.dup2(fd, n)\nprint('lost'); 7";
    exec_ssh(code).success().stdout_is("7\n");
    let code = "os.close(1); os.close(2)\nt = time.process_time(); time.sleep(1); time.process_time() - t < 0.5";
    exec_ssh(code).success().stdout_is("True\n");
}

#[test]
fn os_exit_is_the_interpreter_exiting_with_its_status() {
    // 2 faults: os._exit(3) after some output, locally and over ssh.
    // Outcome: exit 255 with "exited with status 3", and the output printed
    // just before still arrives (os._exit skips every flush; the server now
    // forwards what is in its pipes first).
    let code = "print('before'); sys.stderr.write('err-before\\n'); os._exit(3)";
    for done in [exec_local(code), exec_ssh(code)] {
        within(&done, Duration::from_secs(10)).code(255).stdout_is("before\n").stderr_has("err-before\n");
        done.stderr_has("exited with status 3");
        assert!(done.stderr().lines().filter(|l| l.starts_with("pushy: error:")).count() == 1, "{}", done.describe());
    }
}

#[test]
fn the_interpreter_killed_by_sigkill() {
    // 3 faults: the interpreter SIGKILLs itself, locally and over ssh.
    // Outcome: one clean line and 255 at once. Locally the signal is named;
    // over ssh the mux protocol carries no signal (see the open problem).
    let done = exec_local("print('x', flush=True); os.kill(os.getpid(), 9)");
    within(&done, Duration::from_secs(10)).code(255).clean_error().stderr_has("killed by signal 9");
    let done = exec_ssh("os.kill(os.getpid(), 9)");
    within(&done, Duration::from_secs(10)).code(255).clean_error();
    // 1 more: killed while it writes a 200 MiB reply. The stream ends inside
    // a frame; that is still the interpreter dying, not a protocol error
    // (it read "truncated frame payload" before).
    let code = "b = b'x' * (200 << 20)\n\
                threading.Thread(target=lambda: (time.sleep(0.05), os.kill(os.getpid(), 9))).start()\nb";
    let done = exec_local(code);
    within(&done, Duration::from_secs(10)).code(255).clean_error().stderr_has("killed by signal 9");
}

#[test]
fn the_interpreter_killed_over_ssh_is_named_as_killed() {
    let done = exec_ssh("os.kill(os.getpid(), 9)");
    done.code(255).stderr_has("killed by signal");
}

#[test]
fn a_thread_that_keeps_printing_after_the_reply() {
    // 2 faults. exec: the call still ends at once with its value (the
    // thread dies with the interpreter). REPL: what the thread prints while
    // the prompt waits is shown with the next call (it was dropped before).
    let code = "import threading\ndef talk():\n    while True:\n        print('tick', flush=True); time.sleep(0.01)\n\
                threading.Thread(target=talk, daemon=True).start(); time.sleep(0.1); 'value'";
    let done = exec_ssh(code);
    within(&done, Duration::from_secs(10)).success().stdout_has("tick\n");
    assert!(done.stdout().ends_with("'value'\n"), "{}", done.stdout());

    let mut r = repl(&["-F", &sshd().config.display().to_string(), sshd().host()]);
    r.pty.send_line("threading.Thread(target=lambda: (time.sleep(0.5), print('late-output'))).start()").unwrap();
    r.pty.exp_string(">>> ").unwrap();
    std::thread::sleep(Duration::from_millis(1500)); // the thread prints while the prompt waits
    r.pty.send_line("6 * 7").unwrap();
    let out = r.pty.exp_string("42").unwrap();
    assert!(out.contains("late-output"), "the thread's output was lost: {out:?}");
    r.pty.exp_string(">>> ").unwrap();
    r.pty.send_control('d').unwrap();
    r.pty.exp_eof().unwrap();
}

#[test]
fn code_that_replaces_sys_stdout() {
    // 4 bad inputs: sys.stdout replaced by a StringIO, by None, by an object
    // whose flush raises, and by one whose flush blocks. The value arrives;
    // a blocking flush is user code and is interrupted like any (it hung
    // pushy for good before: the server flushed it where no interrupt lands).
    exec_local("sys.stdout = io.StringIO(); print('hidden'); 5").success().stdout_is("5\n");
    exec_local("sys.stdout = None; print('hidden'); 6").success().stdout_is("6\n");
    let code = "class W:\n    def write(self, s): return len(s)\n    def flush(self): raise OSError('no')\nsys.stdout = W(); 7";
    exec_local(code).success().stdout_is("7\n");
    let code =
        "class W:\n    def write(self, s): return len(s)\n    def flush(self): time.sleep(600)\nsys.stdout = W(); 8";
    let done = pushy().args(["exec", "local:", code, "--timeout", "1"]).run();
    within(&done, Duration::from_secs(5)).code(124).stderr_has("pushy: timed out after 1 s");
}

#[test]
fn a_forked_child_that_returns_into_pushy_ends() {
    // 3 bad inputs: the user's code forks, and the child comes back into
    // pushy's server with a value, an exception or sys.exit(5). Outcome: only
    // the parent replies; the child ends with 0, 1 (its traceback on stderr)
    // or 5. Before, it waited for requests for ever, holding the channel (and
    // so the ssh master) open: the parent's waitpid below hung.
    for (child, status, says) in
        [("'child value'", "0", ""), ("1 / 0", "1", "ZeroDivisionError"), ("sys.exit(5)", "5", "")]
    {
        let code =
            format!("pid = os.fork()\nif pid == 0:\n    r = {child}\nelse:\n    r = os.waitpid(pid, 0)[1] >> 8\nr");
        let done =
            pushy().args(["exec", "--persist", "1"]).ssh(sshd().host()).args([code.as_str(), "--timeout", "10"]).run();
        within(&done, Duration::from_secs(15)).success().stdout_is(&format!("{status}\n")).stderr_has(says);
    }
}

#[test]
fn code_that_ignores_interrupts_still_ends_at_its_timeout() {
    // 1 bad input: the code ignores SIGINT, so the interrupt --timeout sends
    // does nothing. Outcome: pushy gives up 5 s later, exit 124, one line.
    let code = "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)";
    let done = pushy().args(["exec", "local:", code, "--timeout", "1"]).run();
    within(&done, Duration::from_secs(10)).code(124).stderr_has("did not stop within 5 s of the interrupt");
}

#[test]
fn a_1_gb_allocation_that_fails() {
    // 3 faults. A 1 GiB allocation under an address-space limit (caught,
    // then uncaught): MemoryError
    // is the user's, reported as a traceback (exit 1), and the interpreter
    // goes on. A 1 GiB value (too big for a frame): refused by the server
    // with a clear error, exit 1 (it was a protocol error and 255 before).
    let code = "import resource\n\
                vm = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n\
                soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n\
                resource.setrlimit(resource.RLIMIT_AS, (vm + (256 << 20), hard))\n\
                try:\n    b = bytearray(1 << 30)\nexcept MemoryError:\n    caught = 'MemoryError'\n\
                resource.setrlimit(resource.RLIMIT_AS, (soft, hard))\ncaught, 'still alive'";
    exec_ssh(code).success().stdout_is("('MemoryError', 'still alive')\n");
    let code = "import resource\n\
                vm = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n\
                resource.setrlimit(resource.RLIMIT_AS, (vm + (256 << 20), resource.getrlimit(resource.RLIMIT_AS)[1]))\n\
                b = bytearray(1 << 30)";
    let done = exec_ssh(code);
    done.code(1).stderr_has("line 4, in <module>").stderr_has("MemoryError");
    let done = exec_ssh("b'x' * (1 << 30)");
    within(&done, Duration::from_secs(30)).code(1).stderr_has("ValueTooLargeError").stderr_has("1 GiB");
}

// ----------------------------------------------------------- transport faults

#[test]
fn sshd_killed_mid_call() {
    // 1 fault: every process of a second sshd (listener and the session that
    // serves the call) is SIGKILLed while the call sleeps. Outcome: 255 and
    // one line within 10 s; the remote interpreter exits with its channel.
    let own = OwnSshd::start();
    let control = private_dir();
    let config = own.config.display().to_string();
    let mut call = spawn_pushy(
        &["exec", "-F", &config, "hostile", "print(os.getpid(), flush=True); time.sleep(60)"],
        control.path(),
    );
    let python: u32 = call.line(Duration::from_secs(20)).trim().parse().unwrap();
    let sessions = own.sessions();
    assert!(sessions.contains(&python), "the interpreter runs under the second sshd");
    let killed = Instant::now();
    kill(own.listener.id(), libc::SIGKILL);
    for pid in sessions.iter().filter(|pid| **pid != python) {
        kill(*pid, libc::SIGKILL);
    }
    // pushy ends within 10 s after sshd died.
    let done = call.wait_within(Duration::from_secs(10));
    done.code(255).stderr_starts_with("pushy: error: lost the connection to hostile");
    assert!(gone_within(python, Duration::from_secs(10)), "the remote interpreter outlived sshd");
    eprintln!("sshd killed: pushy reported it after {:?}", killed.elapsed());
}

#[test]
fn a_frozen_remote_is_detected_by_keepalives() {
    // 1 fault: the session's sshd and the interpreter are SIGSTOPped (a hung
    // host: the TCP connection stays open, nothing answers). With the user's
    // -o ServerAliveInterval=1 -o ServerAliveCountMax=2 (which win over
    // pushy's 15 x 4), the loss is reported within about 3 s.
    let own = OwnSshd::start();
    let control = private_dir();
    let config = own.config.display().to_string();
    let mut call = spawn_pushy(
        &[
            "exec",
            "-o",
            "ServerAliveInterval=1",
            "-o",
            "ServerAliveCountMax=2",
            "-F",
            &config,
            "hostile",
            "print(os.getpid(), flush=True); time.sleep(60)",
        ],
        control.path(),
    );
    let python: u32 = call.line(Duration::from_secs(20)).trim().parse().unwrap();
    let frozen = Instant::now();
    for pid in own.sessions() {
        kill(pid, libc::SIGSTOP);
    }
    // pushy ends within 15 s after the host froze.
    let done = call.wait_within(Duration::from_secs(15));
    let after = frozen.elapsed();
    done.code(255).stderr_has("lost the connection to hostile");
    assert!(after < Duration::from_secs(8), "keepalives took {after:?}");
    assert!(std::fs::read_dir(control.path()).unwrap().next().is_none(), "the dead master's socket is gone");
    drop(own); // SIGKILL to the stopped processes
    assert!(gone_within(python, Duration::from_secs(10)));
    eprintln!("frozen remote: reported after {after:?}");
}

/// The pid of the master listening on the one socket in `control`.
fn master_pid(control: &Path) -> u32 {
    let socket = std::fs::read_dir(control).unwrap().flatten().map(|e| e.path()).find(|p| p.extension().is_none());
    let socket = socket.expect("a master socket");
    let out = Command::new("ssh")
        .arg("-F")
        .arg(&sshd().config)
        .arg("-S")
        .arg(&socket)
        .args(["-O", "check", sshd().host()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.split("pid=").nth(1).and_then(|r| r.split(')').next()).and_then(|p| p.parse().ok()).expect(&text)
}

#[test]
fn the_ssh_master_killed_mid_call() {
    // 1 fault: pushy's ControlMaster is SIGKILLed while a call sleeps.
    // Outcome: 255 and one line within 5 s; the remote interpreter exits;
    // the next call finds the stale socket, starts a new master and works.
    let control = private_dir();
    let config = sshd().config.display().to_string();
    let mut call = spawn_pushy(
        &["exec", "-F", &config, sshd().host(), "print(os.getpid(), flush=True); time.sleep(60)"],
        control.path(),
    );
    let python: u32 = call.line(Duration::from_secs(20)).trim().parse().unwrap();
    kill(master_pid(control.path()), libc::SIGKILL);
    // pushy ends within 5 s after its master died.
    let done = call.wait_within(Duration::from_secs(5));
    done.code(255).stderr_starts_with("pushy: error: lost the connection to pushy-test");
    assert!(gone_within(python, Duration::from_secs(10)), "the remote interpreter outlived the master");
    let again = pushy().args(["exec"]).ssh(sshd().host()).arg("'again'").control_dir(control.path()).run();
    again.success().stdout_is("'again'\n");
    pushy().args(["disconnect"]).ssh(sshd().host()).control_dir(control.path()).run().success();
}

#[test]
fn a_killed_or_terminated_client_leaves_no_master_of_its_own() {
    // 2 faults: SIGKILL and SIGTERM to pushy with --no-reuse during a call.
    // Outcome: pushy dies by the signal; either way the session's own
    // master and its control socket are gone within 10 s (ControlPersist
    // ends it once its channel closes; SIGTERM stops it at once), and so is
    // the remote interpreter.
    let config = sshd().config.display().to_string();
    for signal in [libc::SIGKILL, libc::SIGTERM] {
        let control = private_dir();
        let mut call = spawn_pushy(
            &["exec", "--no-reuse", "-F", &config, sshd().host(), "print(os.getpid(), flush=True); time.sleep(60)"],
            control.path(),
        );
        let python: u32 = call.line(Duration::from_secs(20)).trim().parse().unwrap();
        let master = master_pid(control.path());
        call.signal(signal);
        // What pushy writes while it dies of SIGTERM races its exit
        // (nothing, or all or part of a lost-connection line): not this
        // test's concern.
        call.wait_within(Duration::from_secs(5)).killed_by(signal).stderr_lacks("panicked");
        assert!(gone_within(master, Duration::from_secs(10)), "signal {signal}: the master outlived pushy");
        assert!(gone_within(python, Duration::from_secs(10)), "signal {signal}: the interpreter outlived pushy");
        let left: Vec<_> = std::fs::read_dir(control.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "signal {signal}: left in the control directory: {left:?}");
    }
}

#[test]
fn a_killed_client_leaves_no_interpreter_stuck_in_c_code() {
    // A catastrophic regex holds the GIL inside C code: the server's reader
    // thread sees the end of its input but cannot run to exit.
    let control = private_dir();
    let config = sshd().config.display().to_string();
    let code = "print(os.getpid(), flush=True); time.sleep(1); re.match('(a*)*b', 'a' * 40)";
    let mut call = spawn_pushy(&["exec", "--persist", "1", "-F", &config, sshd().host(), code], control.path());
    let python: u32 = call.line(Duration::from_secs(20)).trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(1500)); // in the regex by now
    call.signal(libc::SIGKILL);
    call.wait_within(Duration::from_secs(5)).killed_by(libc::SIGKILL);
    let ended = gone_within(python, Duration::from_secs(10));
    kill(python, libc::SIGKILL); // clean up either way
    assert!(ended, "the remote interpreter outlived its client by 10 s");
}

// ------------------------------------------------------------------- security

/// A fake `ssh` on PATH that records its argv (NUL-separated) and fails, so
/// a test sees exactly what pushy would have run.
fn fake_ssh() -> (tempfile::TempDir, PathBuf) {
    let dir = private_dir();
    let log = dir.path().join("argv");
    let script = dir.path().join("ssh");
    std::fs::write(&script, format!("#!/bin/sh\nprintf '%s\\0' \"$@\" >> '{}'\nexit 255\n", log.display())).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, log)
}

#[test]
fn hostile_hosts_and_options_are_refused_or_passed_as_one_argument() {
    // 10 bad inputs. Hosts that ssh could read as options or that carry
    // shell characters are refused before ssh runs (exit 2). Option values
    // with spaces, quotes, semicolons and newlines reach ssh as one argv
    // element each (no shell is involved), the host comes after `--`, and
    // pushy never adds anything that would weaken host key checking.
    let (dir, log) = fake_ssh();
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    for host in ["ssh://-oProxyCommand=touch /tmp/x", "h\tx", "h`id`", "h$(id)", "h|id", "-J", "ssh://h:22;id"] {
        let done = pushy().args(["exec", "--", host, "1"]).env("PATH", &path).run();
        done.code(2).clean_error();
    }
    assert!(!log.exists(), "ssh ran for a refused host");
    let values = ["ProxyCommand=sh -c 'touch /tmp/pushy-pwned'; id", "root;rm -rf /", "a\nb", "-oProxyCommand=id"];
    let done = pushy()
        .args(["exec", "-o", values[0], "-l", values[1], "-J", values[2], &format!("--identity={}", values[3])])
        .args(["web1", "1"])
        .env("PATH", &path)
        .run();
    done.code(255).clean_error();
    let argv = std::fs::read(&log).unwrap();
    let argv: Vec<String> =
        argv.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    for (flag, value) in [("-o", values[0]), ("-l", values[1]), ("-J", values[2]), ("-i", values[3])] {
        let at = argv.iter().position(|a| a == value).unwrap_or_else(|| panic!("{value:?} not one element: {argv:?}"));
        assert_eq!(argv[at - 1], flag, "{argv:?}");
    }
    let dashdash = argv.iter().position(|a| a == "--").expect("a -- before the host");
    assert_eq!(argv[dashdash + 1], "web1");
    for weak in ["StrictHostKeyChecking", "UserKnownHostsFile", "CheckHostIP=no", "PasswordAuthentication"] {
        assert!(!argv.iter().any(|a| a.contains(weak)), "pushy added {weak}: {argv:?}");
    }
    assert!(!Path::new("/tmp/pushy-pwned").exists());
}

#[test]
fn a_changed_host_key_is_never_accepted() {
    // 1 fault (a changed host key), tried with the user's own
    // StrictHostKeyChecking=accept-new, which accepts only unknown keys.
    // Outcome: 255, a line naming the host key, and known_hosts unchanged.
    let known_hosts = sshd().dir.join("known_hosts_bad");
    let before = std::fs::read(&known_hosts).unwrap();
    let done =
        pushy().args(["exec", "-o", "StrictHostKeyChecking=accept-new"]).ssh("pushy-test-badhostkey").arg("1").run();
    within(&done, Duration::from_secs(10)).code(255).clean_error().stderr_has("host key");
    assert_eq!(before, std::fs::read(&known_hosts).unwrap(), "known_hosts was changed");
}

#[test]
fn the_control_directory_must_be_private() {
    // 3 bad set-ups (another user's directory is the next test's). A new
    // control directory is made 0700 even under umask 000; one that is open
    // to others or a symlink is refused before ssh runs: exit 2, one line.
    let base = tempfile::tempdir().unwrap();
    let fresh = base.path().join("fresh");
    let umask_000 = ["sh", "-c", "umask 000; exec \"$0\" \"$@\""];
    pushy().under(umask_000).args(["exec"]).ssh(sshd().host()).arg("1").control_dir(&fresh).run().stdout_is("1\n");
    assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
    pushy().args(["disconnect"]).ssh(sshd().host()).control_dir(&fresh).run().success();

    let open = base.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let link = base.path().join("link");
    let private = private_dir();
    std::os::unix::fs::symlink(private.path(), &link).unwrap();
    for (dir, says) in [(open, "others can access it"), (link, "not a directory")] {
        let done = pushy().args(["exec"]).ssh(sshd().host()).arg("1").control_dir(&dir).run();
        done.code(2).clean_error().stderr_has(says);
    }
}

#[test]
fn a_control_directory_of_another_user_is_refused() {
    // 1 bad set-up (as root: the directory belongs to nobody), refused
    // before ssh runs: exit 2, one line.
    needs::root("to chown the control directory to another user");
    let base = tempfile::tempdir().unwrap();
    let theirs = base.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let done = pushy().args(["exec"]).ssh(sshd().host()).arg("1").control_dir(&theirs).run();
    done.code(2).clean_error().stderr_has("belongs to another user");
}

#[test]
fn a_history_file_of_another_user_is_left_alone() {
    // 1 bad set-up (as root: the history file belongs to another user).
    // Outcome: the REPL works, without history, and never touches the file.
    needs::root("to chown the history file to another user");
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("pushy/history");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "theirs\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    let mut r = repl_with_data(&["local:"], data.path());
    r.pty.send_line("'typed' * 2").unwrap();
    r.pty.exp_string("'typedtyped'").unwrap();
    r.pty.exp_string(">>> ").unwrap();
    r.pty.send_control('d').unwrap();
    r.pty.exp_eof().unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "theirs\n");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o644);
}

#[test]
fn a_history_symlink_in_a_writable_directory_is_refused() {
    // Another user who can write the history directory plants a symlink to a
    // file of ours; the REPL must not write its history through it.
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("pushy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let victim = data.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("history")).unwrap();
    let mut r = repl_with_data(&["local:"], data.path());
    r.pty.send_line("1").unwrap();
    r.pty.exp_string(">>> ").unwrap();
    r.pty.send_control('d').unwrap();
    r.pty.exp_eof().unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn nothing_is_written_to_the_remote_filesystem() {
    // 1 check, by strace on the remote interpreter (started through
    // --python, a wrapper): no file is created, opened for writing, renamed,
    // removed or chmodded by the bootstrap, the server, imports or a value.
    let strace = needs::program("strace", "strace");
    let dir = private_dir();
    let trace = dir.path().join("trace");
    let wrapper = dir.path().join("python3-traced");
    let calls = "open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,link,linkat,\
                 symlink,symlinkat,truncate,chmod,fchmodat,chown,fchownat,mknod,mknodat";
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' -f -qq -o '{}' -e trace={calls} python3 \"$@\"\n",
            strace.display(),
            trace.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let code = "import json, xml.etree.ElementTree, subprocess\nprint('out'); subprocess.run(['true'])\n\
                (os.listdir('/'), json.dumps({'a': 1}), b'x' * 100)";
    let done = pushy()
        .args(["exec", "--persist", "1", "--python", &wrapper.display().to_string()])
        .ssh(sshd().host())
        .arg(code)
        .run();
    assert!(!done.stderr().contains("PTRACE"), "strace needs ptrace, which is not permitted here\n{}", done.describe());
    done.success().stdout_has("out\n");
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert!(trace.lines().count() > 10, "strace saw too little: {trace}");
    // Lines are "PID call(args) = result"; skip signals, failures and halves
    // of calls that strace split around a thread switch.
    let writes: Vec<&str> = trace
        .lines()
        .filter(|l| l.split_once(' ').is_some_and(|(_, call)| call.chars().next().is_some_and(char::is_alphabetic)))
        .filter(|l| !l.contains("= -1 ") && !l.contains("<unfinished") && !l.contains("resumed>"))
        .filter(|l| {
            let opens = l.contains("open(") || l.contains("openat(") || l.contains("creat(");
            let writing =
                l.contains("O_WRONLY") || l.contains("O_RDWR") || l.contains("O_CREAT") || l.contains("creat(");
            !opens || writing
        })
        .filter(|l| !l.contains("\"/dev/null\"") && !l.contains("\"/dev/tty\""))
        .collect();
    assert!(writes.is_empty(), "the remote side wrote to its filesystem:\n{}", writes.join("\n"));
}

#[test]
fn passwords_and_passphrases_go_only_to_ssh() {
    // 2 checks with a passphrase-protected key. Without a terminal pushy asks
    // ssh for BatchMode: no prompt at all, 255 at once. With the user's
    // -o BatchMode=no, ssh's own prompt (SSH_ASKPASS here) gets the
    // question; the secret appears nowhere else: not in pushy's output, the
    // remote environment or argv, nor pushy's control directory.
    let secret = format!("pushy-secret-{}", std::process::id());
    let dir = private_dir();
    let key = dir.path().join("key");
    std::fs::copy(sshd().dir.join("client_key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let status = Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "", "-N", &secret, "-f"])
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let asked = dir.path().join("asked");
    let askpass = dir.path().join("askpass");
    std::fs::write(&askpass, format!("#!/bin/sh\necho \"$1\" >> '{}'\necho '{secret}'\n", asked.display())).unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let harness = std::fs::read_to_string(&sshd().config).unwrap();
    let port = harness.lines().filter_map(|l| l.trim().strip_prefix("Port ")).next_back().unwrap().to_string();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "Host pw\n    HostName 127.0.0.1\n    Port {port}\n    IdentityFile \"{}\"\n    IdentitiesOnly yes\n    \
             IdentityAgent none\n    UserKnownHostsFile \"{}\"\n    GlobalKnownHostsFile /dev/null\n    \
             StrictHostKeyChecking yes\n    LogLevel ERROR\n",
            key.display(),
            sshd().dir.join("known_hosts").display()
        ),
    )
    .unwrap();
    let control = private_dir();
    let run = |extra: &[&str]| {
        pushy()
            .args(["exec", "-F", &config.display().to_string()])
            .args(extra)
            .args(["pw", "open('/proc/self/environ').read() + ' '.join(sys.argv) + open('/proc/self/cmdline').read()"])
            .control_dir(control.path())
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .run()
    };
    let batch = run(&[]);
    within(&batch, Duration::from_secs(10)).code(255).clean_error().stderr_has("Permission denied");
    assert!(!asked.exists(), "ssh prompted although nobody could answer");
    let done = run(&["-o", "BatchMode=no"]);
    // (Its stderr is empty: `done` checks that when dropped.)
    done.success();
    assert!(std::fs::read_to_string(&asked).unwrap().contains("passphrase"), "ssh's prompt was not used");
    assert!(!done.stdout().contains(&secret), "the secret leaked");
    for entry in std::fs::read_dir(control.path()).unwrap().flatten() {
        if entry.path().is_file() {
            assert!(!std::fs::read_to_string(entry.path()).unwrap_or_default().contains(&secret));
        }
    }
    pushy()
        .args(["disconnect", "-F", &config.display().to_string(), "-o", "BatchMode=no", "pw"])
        .control_dir(control.path())
        .run()
        .success();
}

// ----------------------------------------------------------------- the REPL

struct Repl {
    pty: Pty,
    _data: Option<tempfile::TempDir>,
}

fn repl(args: &[&str]) -> Repl {
    let data = tempfile::tempdir().unwrap();
    let mut r = repl_with_data(args, data.path());
    r._data = Some(data);
    r
}

fn repl_with_data(args: &[&str], data: &Path) -> Repl {
    let mut pty = pushy()
        .args(args)
        .env("XDG_DATA_HOME", data)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .pty();
    pty.exp_string(">>> ").expect("first prompt");
    let _ = pty.flush();
    Repl { pty, _data: None }
}
