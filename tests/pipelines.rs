//! `pushy exec` and `pushy run` in shell pipelines, over the loopback sshd:
//! raw and JSON Lines output, streamed iterators, forwarded stdin, scripts,
//! timeouts and `--test`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::pushy::{private_dir, pushy};
use crate::support::sshd::sshd;

fn ssh_exec() -> crate::support::pushy::Pushy {
    pushy().arg("exec").ssh(sshd().host())
}

#[test]
fn raw_output_feeds_sort() {
    let done = ssh_exec().args(["os.listdir('/etc')", "--raw"]).run();
    done.success();
    let mut got: Vec<String> = done.stdout().lines().map(String::from).collect();
    got.sort();
    let mut want: Vec<String> =
        std::fs::read_dir("/etc").unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn iterators_stream_as_lines_and_json_lines() {
    ssh_exec().args(["(x * x for x in range(4))", "--raw"]).run().success().stdout_is("0\n1\n4\n9\n");
    ssh_exec()
        .args(["iter([{'a': 1}, [2], 'three'])", "--json"])
        .run()
        .success()
        .stdout_is("{\"a\":1}\n[2]\n\"three\"\n");
    ssh_exec().arg("map(str.upper, ['a', 'b'])").run().success().stdout_is("'A'\n'B'\n");
    // A generator that raises halfway: the items before it arrive, then the traceback.
    let done = ssh_exec().args(["def g():\n    yield 1\n    raise ValueError('half')\ng()", "--raw"]).run();
    done.code(1).stdout_is("1\n").stderr_has("ValueError: half");
}

#[test]
fn an_endless_iterator_into_head_ends_at_once() {
    let dir = private_dir();
    let pidfile = dir.path().join("pid");
    let code = format!("open({:?}, 'w').write(str(os.getpid())) and itertools.count()", pidfile.display().to_string());
    let done = pushy()
        .under(["bash", "-c", "\"$0\" \"$@\" | head -3"])
        .arg("exec")
        .ssh("pushy-test")
        .args([&code, "--raw"])
        .run();
    done.stdout_is("0\n1\n2\n");
    assert!(done.elapsed < Duration::from_secs(2), "took {:?}", done.elapsed);
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the remote iterator kept running");
}

#[test]
fn stdin_is_forwarded_binary_safe() {
    let mut data = Vec::with_capacity(3 << 20);
    let mut x: u32 = 12345;
    for _ in 0..(3 << 20) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        data.push((x >> 16) as u8);
    }
    let want = {
        let mut child = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(&data).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
    };
    let done = ssh_exec().arg("hashlib.sha256(sys.stdin.buffer.read()).hexdigest()").stdin(data).run();
    done.success().stdout_is(&format!("'{want}'\n"));
    let done = ssh_exec().arg("[line.strip() for line in sys.stdin]").stdin("a\nb\n").run();
    done.success().stdout_is("['a', 'b']\n");
}

#[test]
fn code_from_a_file_or_stdin() {
    let dir = private_dir();
    let file = dir.path().join("code.py");
    std::fs::write(&file, "x = 6\nx * 7\n").unwrap();
    pushy().args(["exec", "local:", "-f", &file.display().to_string()]).run().success().stdout_is("42\n");
    pushy().args(["exec", "local:", "-"]).stdin("y = 2\ny ** 10\n").run().success().stdout_is("1024\n");
}

#[test]
fn run_executes_a_local_script_remotely() {
    let dir = private_dir();
    let script = dir.path().join("tool.py");
    std::fs::write(
        &script,
        "import sys\nprint('args', sys.argv[1:], __name__)\ndef fail():\n    raise RuntimeError('from the script')\n\
         if sys.argv[1] == 'fail':\n    fail()\nsys.exit(int(sys.argv[1]))\n",
    )
    .unwrap();
    let path = script.display().to_string();
    let done = pushy().args(["run"]).ssh(sshd().host()).args([path.as_str(), "7", "--flag"]).run();
    done.code(7).stdout_is("args ['7', '--flag'] __main__\n");
    let done = pushy().args(["run"]).ssh(sshd().host()).args([path.as_str(), "fail"]).run();
    done.code(1).stderr_has(&format!("File \"{path}\", line 4, in fail")).stderr_has("RuntimeError: from the script");
    // The script was never written to the remote side: it exists only here.
    pushy().args(["run", "local:", "/nonexistent/script.py"]).run().code(2).clean_error();
}

#[test]
fn timeout_interrupts_and_exits_124() {
    let start = Instant::now();
    let done = ssh_exec().args(["time.sleep(30)", "--timeout", "1"]).run();
    done.code(124).stderr_is("pushy: timed out after 1 s\n");
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
}

#[test]
fn test_flag_turns_truth_into_the_status() {
    ssh_exec().args(["--test", "os.path.exists('/etc')"]).run().success().stdout_is("");
    ssh_exec().args(["--test", "os.path.exists('/nonexistent')"]).run().code(1).stdout_is("");
    ssh_exec().args(["--test", "[]"]).run().code(1);
}

/// A file of `len` bytes that look random (every byte value, no pattern a
/// short shift would hide), and its content.
fn blob_file(dir: &tempfile::TempDir, len: u32) -> (std::path::PathBuf, Vec<u8>) {
    let path = dir.path().join("blob");
    let blob: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&path, &blob).unwrap();
    (path, blob)
}

#[test]
fn bulk_bytes_arrive_exactly() {
    let dir = private_dir();
    let (path, blob) = blob_file(&dir, 8 << 20);
    let code = format!("open({:?}, 'rb').read()", path.display().to_string());
    let done = ssh_exec().args([code.as_str(), "--raw"]).run();
    done.success();
    assert!(done.stdout == blob, "{} bytes differ from the file", done.stdout.len());
}

/// Exactness through sendfile and the channel. (A file read by lines would
/// print the same bytes: the host's unit tests check how it goes.)
#[test]
fn a_binary_file_under_raw_is_its_bytes_from_where_it_stands() {
    let dir = private_dir();
    let (path, blob) = blob_file(&dir, 3 << 20);
    let code = format!("f = open({:?}, 'rb')\nf.read(1000)\nf", path.display().to_string());
    let done = ssh_exec().args([code.as_str(), "--raw"]).run();
    done.success();
    assert!(
        done.stdout == blob[1000..],
        "{} bytes differ from the file's last {}",
        done.stdout.len(),
        blob.len() - 1000
    );
    // Without --raw, and with -0 (one NUL per item), it is still an
    // iterator of lines.
    std::fs::write(&path, b"ab\ncd\n").unwrap();
    let code = format!("open({:?}, 'rb')", path.display().to_string());
    ssh_exec().arg(&code).run().success().stdout_is("b'ab\\n'\nb'cd\\n'\n");
    ssh_exec().args([code.as_str(), "-0"]).run().success().stdout_is("ab\n\0cd\n\0");
}

#[test]
fn a_pipe_under_raw_passes_output_on_as_it_comes_not_by_lines() {
    // A prompt without a newline, then a pause: `ssh HOST cmd` shows it at
    // once, and so must pushy.
    let code = "subprocess.Popen(['sh', '-c', 'printf abc; sleep 2; printf def'], stdout=subprocess.PIPE).stdout";
    let mut running = ssh_exec().args([code, "--raw"]).spawn();
    assert_eq!(running.bytes(3, Duration::from_secs(20)), b"abc", "the first output waited for the rest");
    running.wait().success().stdout_is("abcdef");
}

#[test]
fn a_large_raw_bytes_result_streams_with_bounded_memory() {
    let dir = private_dir();
    let path = dir.path().join("blob");
    std::fs::File::create(&path).unwrap().set_len(96 << 20).unwrap();
    let code = format!("open({:?}, 'rb').read()", path.display().to_string());
    let done = ssh_exec().args([code.as_str(), "--raw"]).measuring_memory().run();
    done.success();
    assert_eq!(done.stdout.len(), 96 << 20);
    assert!(done.stdout.iter().all(|b| *b == 0));
    let kib = done.peak_rss_kib();
    assert!(kib < 48 * 1024, "pushy held {kib} KiB for a 96 MiB result");
}
