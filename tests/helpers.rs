//! The REPL's helpers, through a real pty over the loopback sshd: `!cmd`,
//! `obj?` and `obj??`, Tab inside subscripts, and a prompt that names root
//! and `--become` users. Keys are sent with no pause between.

use crate::support::pushy::pushy;
use crate::support::sshd::{sshd, test_users};
use crate::terminal::{repl, PROMPT};

#[test]
fn bang_runs_a_shell_command_and_shows_a_failing_status() {
    let mut r = repl();
    r.keys("!echo hi from $(echo sh)\r");
    r.expect("hi from sh");
    let out = r.expect(PROMPT);
    assert!(!out.contains("exit status"), "{out:?}");
    r.keys("!false\r");
    r.expect("[exit status 1]");
    r.expect(PROMPT);
    r.keys("!exit 3\r!echo after\r");
    r.expect("[exit status 3]");
    r.expect("after");
    r.expect(PROMPT);
    // Ctrl-C stops a long command; the session lives on.
    r.keys("!echo sleeping; sleep 30\r");
    r.expect("sleeping\r\n");
    r.pty.send_control('c').unwrap();
    r.expect("KeyboardInterrupt");
    r.keys("'still' + ' here'\r");
    r.expect("'still here'");
}

#[test]
fn question_marks_show_the_signature_docstring_and_source() {
    let mut r = repl();
    r.keys("len?\r");
    r.expect("Signature: len(obj, /)");
    r.expect("Docstring: Return the number of items in a container.");
    r.expect(PROMPT);
    r.keys("def twice(x):\r    \"Doubles.\"\r    return 2 * x\r\r");
    r.expect(PROMPT);
    r.keys("twice??\r");
    r.expect("Source:");
    r.expect("return 2 * x");
    r.expect(PROMPT);
    r.keys("twice?\r");
    let out = r.expect("Docstring: Doubles.");
    assert!(out.contains("Signature: twice(x)"), "{out:?}");
    r.expect(PROMPT);
    r.keys("no_such_name?\r");
    r.expect("NameError");
}

#[test]
fn tab_completes_inside_subscripts() {
    let mut r = repl();
    r.keys("d = {'alpha': [0, {'key_one': 1, 'other': 2}]}\r");
    r.expect(PROMPT);
    r.keys("d[\"alpha\"][1][\"key_\t");
    r.expect("one\"]");
    r.keys("\r");
    r.expect("1");
    r.expect(PROMPT);
    r.keys("os.environ['PUSHY_TAB_PROBE'] = 'probed'\r");
    r.expect(PROMPT);
    r.keys("os.environ[\"PUSHY_TAB_PR\t");
    r.expect("OBE\"]");
    r.keys("\r");
    r.expect("'probed'");
}

#[test]
fn the_prompt_names_root_and_become_users() {
    test_users();
    let mut r = repl();
    r.keys("1\r");
    r.expect(&format!("root@{PROMPT}"));
    let config = sshd().config.display().to_string();
    let mut pty = pushy()
        .args(["-F", &config, "-l", "pushydash", "--become", "pushyfish", "pushy-test-x"])
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .pty();
    pty.exp_string("pushyfish@pushy-test-x>>> ").expect("the become user in the prompt");
    let mut plain = pushy().args(["-F", &config, "-l", "pushydash", "pushy-test-x"]).env("TERM", "xterm").pty();
    let banner = plain.exp_string("pushy-test-x>>> ").expect("the prompt");
    assert!(!banner.contains("pushydash@"), "{banner:?}");
}
