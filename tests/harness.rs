//! Tests of the test harness itself: the loopback sshd and its client config
//! behave the way the other tests take for granted.
//!
//! When one of these fails, the tests of the ssh transport fail for the same
//! reason; start here. The server's log is `sshd().dir/sshd.log`.

use std::process::{Command, Output, Stdio};

use crate::support::sshd::{sshd, test_users};

/// Runs `ssh -F CONFIG ALIAS REMOTE` with no stdin.
fn ssh(alias: &str, remote: &str) -> Output {
    Command::new("ssh")
        .arg("-F")
        .arg(&sshd().config)
        .arg(alias)
        .arg(remote)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run ssh")
}

/// Describes a finished ssh for a failure message.
fn describe(alias: &str, remote: &str, out: &Output) -> String {
    format!(
        "ssh {alias} {remote:?}: {}\n--- stdout\n{}--- stderr\n{}--- sshd log: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        sshd().dir.join("sshd.log").display(),
    )
}

/// Runs a remote command that must succeed; returns its stdout.
fn ssh_ok(alias: &str, remote: &str) -> String {
    let out = ssh(alias, remote);
    assert!(out.status.success(), "{}", describe(alias, remote, &out));
    String::from_utf8(out.stdout).expect("stdout is not UTF-8")
}

/// Runs `ssh ALIAS true`, which must fail the way ssh fails: exit code 255
/// and `reason` on stderr.
fn assert_ssh_refused(alias: &str, reason: &str) {
    let out = ssh(alias, "true");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(255) && stderr.contains(reason),
        "expected exit code 255 and {reason:?} on stderr; {}",
        describe(alias, "true", &out)
    );
}

/// The login shell of the user running the tests.
fn own_login_shell() -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() }.to_string();
    let out = Command::new("getent").args(["passwd", &uid]).output().expect("cannot run getent");
    let line = String::from_utf8_lossy(&out.stdout);
    line.trim_end().rsplit(':').next().unwrap_or_default().to_string()
}

#[test]
fn sshd_listens_on_loopback_once_per_process() {
    let server = sshd();
    assert!(std::ptr::eq(server, sshd()), "sshd() started a second server");
    let log = std::fs::read_to_string(server.dir.join("sshd.log")).expect("sshd.log");
    let listening = format!("Server listening on 127.0.0.1 port {}.", server.port);
    assert!(log.contains(&listening), "sshd.log lacks {listening:?}:\n{log}");
}

#[test]
fn plain_login_is_the_current_user() {
    let host = sshd().host();
    let local = Command::new("id").arg("-un").output().expect("cannot run id");
    assert_eq!(ssh_ok(host, "id -un"), String::from_utf8_lossy(&local.stdout));
    assert_eq!(ssh_ok(host, "true"), "", "ssh {host} true printed something");
}

#[test]
fn plain_login_skips_bashrc() {
    // bash increments SHLVL: 2 means the sshd's SHLVL=1 reached it, and
    // bash sources ~/.bashrc for `ssh host cmd` only below 2. Without the
    // SetEnv, bash would start from nothing and say 1.
    let shell = own_login_shell();
    assert!(
        shell.ends_with("/bash"),
        "this test checks bash's .bashrc rule on the plain login, whose shell is {shell:?}: run the tests as a user \
         whose login shell is bash (root, as CI does: `bash .ci/run`)"
    );
    assert_eq!(ssh_ok(sshd().host(), "echo \"shlvl=$SHLVL\""), "shlvl=2\n");
}

#[test]
fn junk_user_bashrc_prints_junk() {
    test_users();
    // SHLVL=1 shows that the SetEnv that silences .bashrc for everyone else
    // does not apply here.
    let expected = "welcome to junk\nPUSHY\nshlvl=1\n";
    assert_eq!(ssh_ok("pushy-test-junk", "echo \"shlvl=$SHLVL\""), expected);
    assert_eq!(ssh_ok("pushy-test-junk", "true"), "welcome to junk\nPUSHY\n");
}

#[test]
fn other_login_shells_run_python() {
    test_users();
    // Each probe is valid only in its own shell (bash would print something
    // else or fail), so it proves which shell ran the command.
    let cases = [
        ("pushy-test-fish", "set -l x fish; echo $x", "fish"),
        ("pushy-test-tcsh", "set x = tcsh; echo $x", "tcsh"),
        ("pushy-test-dash", "echo $0", "dash"),
    ];
    for (alias, probe, shell) in cases {
        let remote = format!("{probe}; python3 -c 'print(1)'");
        assert_eq!(ssh_ok(alias, &remote), format!("{shell}\n1\n"), "ssh {alias} {remote:?}");
    }
}

#[test]
fn changed_host_key_is_refused() {
    assert_ssh_refused("pushy-test-badhostkey", "Host key verification failed");
}

#[test]
fn unauthorized_key_is_refused() {
    assert_ssh_refused("pushy-test-noauth", "Permission denied");
}

#[test]
fn closed_port_is_refused() {
    assert_ssh_refused("pushy-test-closed", "Connection refused");
}

/// Not a check: keeps the loopback sshd up for manual runs and `bench/run`.
/// `PUSHY_SSHD_INFO=FILE cargo test --release --test tests -- --ignored --exact harness::serve`
/// writes the client config's path to FILE, then serves until FILE is
/// deleted (an hour at most).
#[test]
#[ignore = "a server for manual use, not a test"]
fn serve() {
    let info = std::env::var_os("PUSHY_SSHD_INFO").expect("set PUSHY_SSHD_INFO=FILE: where to write the config's path");
    let sshd = crate::support::sshd::sshd();
    std::fs::write(&info, format!("{}\n", sshd.config.display())).expect("info file is writable");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3600);
    while std::path::Path::new(&info).exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
