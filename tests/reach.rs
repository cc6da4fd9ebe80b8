//! Reach: sudo and --become, jump hosts, interpreters and inventories, over
//! the loopback sshd. The sudo tests need the harness's test users (root).

use std::time::{Duration, Instant};

use crate::support::pushy::{private_dir, pushy};
use crate::support::sshd::{sshd, test_users, SUDO_PASSWORD};

fn as_user(user: &str) -> crate::support::pushy::Pushy {
    pushy().args(["exec", "-F", &sshd().config.display().to_string(), "-l", user])
}

#[test]
fn sudo_with_a_nopasswd_rule_asks_nothing() {
    test_users();
    as_user("pushydash").args(["--sudo", "pushy-test-x", "os.geteuid()"]).run().success().stdout_is("0\n");
    let done =
        as_user("pushydash").args(["--become", "pushyfish", "pushy-test-x", "pwd.getpwuid(os.geteuid()).pw_name"]);
    done.run().success().stdout_is("'pushyfish'\n");
}

#[test]
fn sudo_refusals_are_one_line_and_255() {
    test_users();
    // requiretty
    as_user("pushyjunk").args(["--sudo", "pushy-test-x", "1"]).run().code(255).clean_error().stderr_has("requiretty");
    // a rule that wants a password, and no terminal to ask on
    as_user("pushysudo").args(["--sudo", "pushy-test-x", "1"]).run().code(255).clean_error().stderr_has("no terminal");
    // no such user to become
    as_user("pushydash")
        .args(["--become", "nosuchuser", "pushy-test-x", "1"])
        .run()
        .code(255)
        .clean_error()
        .stderr_has("nosuchuser");
    pushy().args(["exec", "--become", "-rf", "local:", "1"]).run().code(2).stderr_has("unexpected argument '-r'");
}

/// Runs pushy in a pty, answering sudo's prompt with `answer`; returns
/// (exit status, everything printed, how many prompts were shown).
fn with_password(args: &[&str], answer: &str) -> (i32, String, usize) {
    let mut pty = pushy().args(args).env("NO_COLOR", "1").pty();
    pty.exp_string("sudo password: ").unwrap();
    // While pushy holds the password, it is in no process's argv or environment.
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        for file in ["cmdline", "environ"] {
            if let Ok(bytes) = std::fs::read(entry.path().join(file)) {
                assert!(!String::from_utf8_lossy(&bytes).contains(SUDO_PASSWORD), "password in {:?}", entry.path());
            }
        }
    }
    pty.send_line(answer).unwrap();
    let rest = pty.exp_eof().unwrap();
    let status = match pty.process.wait().unwrap() {
        rexpect::process::wait::WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    };
    let prompts = rest.matches("sudo password:").count() + 1;
    for entry in std::fs::read_dir(pty.control_dir()).unwrap().flatten() {
        if entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&bytes).contains(SUDO_PASSWORD), "password on disk");
        }
    }
    (status, rest, prompts)
}

#[test]
fn sudo_asks_for_a_password_once_on_the_terminal() {
    test_users();
    let config = sshd().config.display().to_string();
    let args = ["exec", "-F", &config, "-l", "pushysudo", "--sudo", "pushy-test-x", "os.geteuid() * 100 + 7"];
    let (status, out, _) = with_password(&args, SUDO_PASSWORD);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("7\r\n") && !out.contains(SUDO_PASSWORD), "{out:?}");
    // Many hosts: one prompt for all of them.
    let args =
        ["exec", "-F", &config, "-l", "pushysudo", "--sudo", "pushy-test-a,pushy-test-b,pushy-test-c", "os.geteuid()"];
    let (status, out, prompts) = with_password(&args, SUDO_PASSWORD);
    assert_eq!((status, prompts), (0, 1), "{out}");
    assert_eq!(out.matches(": 0").count(), 3, "{out}");
    // A wrong password: a clear error, fast.
    let start = Instant::now();
    let args = ["exec", "-F", &config, "-l", "pushysudo", "--sudo", "pushy-test-x", "1"];
    let (status, out, _) = with_password(&args, "not-the-password");
    assert_eq!(status, 255, "{out}");
    assert!(out.contains("refused the password"), "{out}");
    assert!(start.elapsed() < Duration::from_secs(15), "took {:?}", start.elapsed());
}

#[test]
fn a_jump_host_leads_to_the_target() {
    let config = sshd().config.display().to_string();
    let done = pushy().args(["exec", "-F", &config, "-J", "pushy-test-jump", "pushy-test-behind", "6 * 7"]).run();
    done.success().stdout_is("42\n");
}

#[test]
fn the_repl_banner_shows_the_effective_user() {
    test_users();
    let data = tempfile::tempdir().unwrap();
    let mut pty = pushy()
        .args(["-l", "pushydash", "--sudo"])
        .ssh("pushy-test-x")
        .env("XDG_DATA_HOME", data.path())
        .env("NO_COLOR", "1")
        .pty();
    pty.exp_string(" as root").unwrap();
    pty.exp_string(">>> ").unwrap();
    pty.send_line("os.geteuid() + 4000").unwrap();
    pty.exp_string("4000").unwrap();
    pty.exp_string(">>> ").unwrap();
    pty.send_control('d').unwrap();
    pty.exp_eof().unwrap();
}

#[test]
fn without_python3_the_newest_versioned_interpreter_runs() {
    let dir = private_dir();
    let real = std::fs::canonicalize("/usr/bin/python3").unwrap();
    let minor = real.file_name().unwrap().to_string_lossy().trim_start_matches("python3.").to_string();
    std::os::unix::fs::symlink(&real, dir.path().join(format!("python3.{minor}"))).unwrap();
    std::os::unix::fs::symlink(&real, dir.path().join("python3.1")).unwrap();
    let done = pushy().args(["exec", "-v", "local:", "sys.executable"]).env("PATH", dir.path()).run();
    done.success().stdout_has(&format!("python3.{minor}'")).stderr_has(&format!("python3.{minor})"));
}

#[test]
fn an_inventory_selects_groups_children_and_patterns() {
    let dir = private_dir();
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        "# a fleet of aliases of the loopback sshd\n[web]\npushy-test-w[1:2]\n[db]\ndb1 ansible_host=pushy-test-db\n\
         [broken]\nnowhere ansible_host=127.0.0.1 ansible_port=1\n[prod:children]\nweb\ndb\n",
    )
    .unwrap();
    let inv = inventory.display().to_string();
    let config = sshd().config.display().to_string();
    let run =
        |pattern: &str| pushy().args(["exec", "--ordered", "-F", &config, "--inventory", &inv, pattern, "6 * 7"]).run();
    run("prod").success().stdout_is("pushy-test-w1: 42\npushy-test-w2: 42\ndb1: 42\n");
    run("pushy-test-w*").success().stdout_is("pushy-test-w1: 42\npushy-test-w2: 42\n");
    run("db1").success().stdout_is("42\n");
    run("broken").code(255).stderr_has("port 1");
    run("nosuch").code(2).clean_error().stderr_has("no host or group matches");
    std::fs::write(&inventory, "[web]\nh1 ansible_port=http\n").unwrap();
    run("web").code(2).clean_error().stderr_has("hosts.ini:2: bad port");
}
