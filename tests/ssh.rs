//! `pushy exec` over a real OpenSSH server on 127.0.0.1: logins, shells,
//! failures, and what is (not) left behind.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::pushy::{exec_ssh, private_dir, pushy};
use crate::support::sshd::{sshd, test_users};

#[test]
fn listdir_over_ssh() {
    let done = exec_ssh(sshd().host(), r#"os.listdir("/")"#);
    done.success().stdout_has("'etc'");
}

#[test]
fn values_and_errors_cross_the_wire() {
    exec_ssh(sshd().host(), r#"print("hi"); os.system("echo from-shell"); 2**200"#)
        .success()
        .stdout_is("hi\nfrom-shell\n1606938044258990275541962092341162602522202993782792835301376\n");
    exec_ssh(sshd().host(), "1/0").code(1).stderr_has("ZeroDivisionError: division by zero");
}

#[test]
fn every_login_shell_runs_the_bootstrap() {
    test_users();
    for (host, user) in [
        ("pushy-test-junk", "pushyjunk"),
        ("pushy-test-fish", "pushyfish"),
        ("pushy-test-tcsh", "pushytcsh"),
        ("pushy-test-dash", "pushydash"),
    ] {
        let done = exec_ssh(host, "pwd.getpwuid(os.getuid()).pw_name, 6 * 7");
        done.success().stdout_is(&format!("('{user}', 42)\n"));
    }
}

#[test]
fn a_bashrc_that_prints_junk_does_not_break_the_session() {
    test_users();
    let done = exec_ssh("pushy-test-junk", r#"print("clean"); [1, 2]"#);
    done.success().stdout_is("clean\n[1, 2]\n");
}

#[test]
fn connection_failures_are_one_clear_line_and_255() {
    let cases = [
        ("pushy-test-closed", "Connection refused"),
        ("pushy-test-noauth", "Permission denied"),
        ("pushy-test-badhostkey", "ssh-keygen -R"),
    ];
    for (host, says) in cases {
        let done = exec_ssh(host, "1");
        done.code(255).clean_error().stderr_has(says);
        assert!(done.elapsed < Duration::from_secs(10), "{host} took {:?}", done.elapsed);
    }
}

#[test]
fn no_such_interpreter_on_the_host() {
    let done = pushy().args(["exec", "--python", "/nonexistent/python3"]).ssh(sshd().host()).arg("1").run();
    done.code(255).clean_error().stderr_has("no Python 3 at /nonexistent/python3 on pushy-test");
}

#[test]
fn ssh_missing_from_path_is_reported() {
    let done = pushy().args(["exec"]).ssh(sshd().host()).arg("1").env("PATH", "/nonexistent").run();
    done.code(255).clean_error().stderr_has("ssh is not installed");
}

#[test]
fn ssh_flags_pass_through() {
    // -o and -p given on pushy's command line reach ssh: a wrong port fails.
    let done = pushy().args(["exec", "-p", "1", "-o", "ConnectTimeout=5"]).ssh(sshd().host()).arg("1").run();
    done.code(255).clean_error().stderr_has("Connection refused");
    // -l names the user (the alias's User is overridden).
    let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let done =
        pushy().args(["exec", "-l", me.trim()]).ssh(sshd().host()).arg("pwd.getpwuid(os.getuid()).pw_name").run();
    done.success().stdout_is(&format!("'{}'\n", me.trim()));
}

#[test]
fn the_master_is_reused_and_then_idles_out() {
    let dir = private_dir();
    let control = dir.path().to_path_buf();
    let done = pushy().args(["exec", "--persist", "2"]).ssh(sshd().host()).arg("1").control_dir(&control).run();
    done.success();
    let sockets = || std::fs::read_dir(&control).map(|d| d.count()).unwrap_or(0);
    assert_eq!(sockets(), 1, "one master socket after the first call");
    let again = pushy().args(["exec", "--persist", "2"]).ssh(sshd().host()).arg("2").control_dir(&control).run();
    again.success().stdout_is("2\n");
    assert!(again.elapsed < done.elapsed, "reuse should be faster: {:?} vs {:?}", again.elapsed, done.elapsed);
    let deadline = Instant::now() + Duration::from_secs(15);
    while sockets() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(sockets(), 0, "the master must exit after its idle timeout");
}

#[test]
fn a_killed_client_leaves_no_remote_interpreter() {
    let config = sshd().config.display().to_string();
    let control = private_dir();
    // The remote code says its own pid, so the test watches that process
    // alone (other tests run interpreters of the same user meanwhile).
    let pidfile = control.path().join("remote.pid");
    let code = format!("open({:?}, 'w').write(str(os.getpid()))\ntime.sleep(120)", pidfile.display().to_string());
    let call = pushy()
        .args(["exec", "--persist", "2", "-F", &config, sshd().host(), &code])
        .control_dir(control.path())
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pidfile).ok().filter(|p| !p.is_empty()) {
            break pid;
        }
        assert!(Instant::now() < deadline, "the remote interpreter never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive());
    call.signal(libc::SIGKILL);
    call.wait().killed_by(libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(), "the remote interpreter outlived its client");
}

#[test]
fn nothing_is_written_to_the_remote_home() {
    test_users();
    let listing = || {
        let out =
            Command::new("sh").args(["-c", "cd ~pushydash && find . -printf '%p %s %T@\\n' | sort"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = listing();
    exec_ssh("pushy-test-dash", "[os.listdir('.'), 2**10]").success();
    assert_eq!(before, listing(), "the remote home changed");
}
