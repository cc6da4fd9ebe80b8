//! `pushy exec` against `local:`: the same stage 0, server and frames as over
//! ssh, without the network. Values, output order, errors and formats.

use std::process::Command;

use crate::support::needs;
use crate::support::pushy::{exec_local, pushy};

/// Checks with the real Python that `text` is a literal equal to `expr`.
#[track_caller]
fn reads_back_as(text: &str, expr: &str) {
    let check =
        format!("import ast, sys\nv = ast.literal_eval(sys.stdin.read())\nassert v == ({expr}) or (v != v), repr(v)\n");
    let mut child =
        Command::new("python3").args(["-c", &check]).stdin(std::process::Stdio::piped()).spawn().expect("python3");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "{text:?} does not read back as {expr}");
}

#[test]
fn listdir_of_root_prints_a_list() {
    let done = exec_local(r#"os.listdir("/")"#);
    done.success();
    let out = done.stdout();
    assert!(out.starts_with('[') && out.contains("'etc'"), "{out}");
    assert!(!out.contains('\x1b'), "no colour when stdout is not a terminal");
}

#[test]
fn colour_can_be_forced_and_refused() {
    pushy().args(["exec", "local:", "[1, 'a', None]", "--color", "always"]).run().success().stdout_has("\x1b[");
    let plain = pushy().args(["exec", "local:", "[1]", "--color", "never"]).run();
    plain.success().stdout_is("[1]\n");
}

#[test]
fn statements_run_and_a_trailing_expression_is_the_value() {
    exec_local(r#"import json; d = {"a": 1}; json.dumps(d)"#).success().stdout_is("'{\"a\": 1}'\n");
    exec_local("x = 1\ny = x + 1").success().stdout_is("");
    exec_local("None").success().stdout_is("");
}

#[test]
fn modules_import_themselves_in_every_scope() {
    exec_local(r#"os.path.basename("/a/b")"#).success().stdout_is("'b'\n");
    exec_local(r#"[os.path.basename(p) for p in glob.glob("/etc/*.conf")][:1] != []"#).success().stdout_is("True\n");
    exec_local(r#"xml.etree.ElementTree.fromstring("<a/>").tag"#).success().stdout_is("'a'\n");
    exec_local("(lambda: platform.node())() == socket.gethostname()").success().stdout_is("True\n");
    exec_local("concurrent.futures.ThreadPoolExecutor.__name__").success().stdout_is("'ThreadPoolExecutor'\n");
    exec_local("def f():\n    return json.dumps([1])\nf()").success().stdout_is("'[1]'\n");
    exec_local("len([1, 2])").success().stdout_is("2\n");
    exec_local("no_such_name_anywhere").code(1).stderr_has("NameError: name 'no_such_name_anywhere' is not defined");
}

#[test]
fn user_code_runs_in_an_exact_dict_with_its_modules_bound() {
    // An exact dict keeps CPython's fast paths for globals and builtins: a
    // subclass that imported on lookup made loops 4-5 times slower.
    let code = "os.sep\n(type(globals()).__name__, globals()['os'] is sys.modules['os'], 'len' in globals())";
    exec_local(code).success().stdout_is("('dict', True, False)\n");
    // A name the code binds anywhere is its own, never a module.
    exec_local("def f():\n    return json\njson = 'mine'\nf()").success().stdout_is("'mine'\n");
}

#[test]
fn remote_output_arrives_in_order_before_the_value() {
    let code =
        r#"print("one"); sys.stdout.write("two\n"); os.system("echo three"); subprocess.run(["echo", "four"]); "five""#;
    exec_local(code).success().stdout_is("one\ntwo\nthree\nfour\n'five'\n");
    let done = exec_local(r#"sys.stderr.write("to-stderr\n"); os.system("echo sh-err >&2"); 1"#);
    done.success().stdout_is("1\n").stderr_is("to-stderr\nsh-err\n");
}

#[test]
fn a_remote_exception_prints_the_users_traceback_and_exits_1() {
    let done = exec_local("def f():\n    return 1/0\nf()");
    done.code(1).stdout_is("").stderr_starts_with("Traceback (most recent call last):");
    let err = done.stderr();
    assert!(err.contains("line 2, in f") && err.ends_with("ZeroDivisionError: division by zero\n"), "{err}");
    assert!(!err.contains("<pushy>") && !err.contains("server.py"), "pushy's own frames leaked: {err}");
}

/// What CPython itself prints on stderr for `code` run as a script file
/// (`PYTHON FILE`) by `python`, with the script's path shown as `file`: the
/// reference for pushy's tracebacks, carets included where that Python
/// prints them (3.11+) and none where it does not.
pub(crate) fn cpython_traceback(python: &str, code: &str, file: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.py");
    std::fs::write(&script, code).unwrap();
    let out = Command::new(python).arg(&script).output().expect("run the reference Python");
    assert!(!out.status.success(), "the reference run of {code:?} raised nothing");
    String::from_utf8(out.stderr).unwrap().replace(&format!("\"{}\"", script.display()), &format!("\"{file}\""))
}

/// Top-level code whose tracebacks mark columns (the last line of
/// `pushy exec CODE` has no newline, where carets used to shift), with
/// binary-operator anchors (`~~^~~`) and subscripts.
pub(crate) const CARET_CASES: &[&str] = &[
    r#"oss.listdir("/")"#,
    "x = 1\ny = [0] + oss.listdir('/')",
    "a, b = 1, 0; c = a / b",
    "d = {'k': {}}; v = d['k']['j']",
];

#[test]
fn tracebacks_match_cpython_for_the_same_code() {
    let python = exec_local("sys.executable").success().stdout();
    let python = python.trim().trim_matches('\'');
    for code in CARET_CASES {
        exec_local(code).code(1).stderr_is(&cpython_traceback(python, code, "<input>"));
    }
}

#[test]
fn a_syntax_error_shows_the_line_and_caret() {
    let done = exec_local("x = (1,\ndef f(:");
    // A syntax error has no traceback.
    done.code(1).stderr_has("SyntaxError").stderr_has("^").stderr_lacks("Traceback");
}

#[test]
fn scalars_print_exactly() {
    exec_local("2**200").success().stdout_is("1606938044258990275541962092341162602522202993782792835301376\n");
    exec_local("(-2)**71").success().stdout_is("-2361183241434822606848\n");
    exec_local(r#"float("nan"), float("-inf"), 0.1, 1e100, -0.0"#)
        .success()
        .stdout_is("(nan, -inf, 0.1, 1e+100, -0.0)\n");
    exec_local(r#"b"\x00\xff'", bytearray(b"a")"#).success().stdout_is("(b\"\\x00\\xff'\", bytearray(b'a'))\n");
    exec_local(r#""it's \"q\" \t\u00e9\udcff""#).success().stdout_is("'it\\'s \"q\" \\té\\udcff'\n");
}

#[test]
fn containers_print_as_literals_that_read_back() {
    for expr in [
        "{(1, 2): {3}}",
        "[set(), (), (1,), {}, [[]], {1, 2}]",
        "{'k': [1.5, -2, 'x' * 100, b'y' * 50, None, True]}",
        "list(range(200))",
        "[{'a': i, 'b': str(i)} for i in range(20)]",
    ] {
        let done = exec_local(expr);
        done.success();
        reads_back_as(&done.stdout(), expr);
    }
}

#[test]
fn named_structures_keep_their_field_names() {
    exec_local(r#"os.stat("/")"#).success().stdout_has("os.stat_result(st_mode=").stdout_has("st_size=");
    exec_local("import collections\nP = collections.namedtuple('P', 'x y')\nP(1, y=2)")
        .success()
        .stdout_is("P(x=1, y=2)\n");
    let code = "import dataclasses\n@dataclasses.dataclass\nclass D:\n    a: int\n    b: str = 'z'\nD(1)";
    exec_local(code).success().stdout_is("D(a=1, b='z')\n");
}

#[test]
fn awkward_objects_never_break_the_reply() {
    let code = "class B:\n    def __repr__(self): raise ValueError('no')\nB()";
    exec_local(code).success().stdout_has("repr failed: ValueError: no");
    let code = "class N:\n    def __repr__(self): return 42\nN()";
    exec_local(code).success().stdout_has("repr failed: TypeError");
    exec_local("a = [1]; a.append(a); a").success().stdout_is("[1, [...]]\n");
    exec_local("d = {}; d['me'] = d; d").success().stdout_is("{'me': {...}}\n");
    exec_local("object()").success().stdout_has("<object object at 0x");
}

#[test]
fn a_dict_nested_5000_deep_prints_quickly() {
    let code = "d = x = {}\nfor i in range(5000):\n    x['a'] = {}\n    x = x['a']\nd";
    let done = exec_local(code);
    done.success();
    assert!(done.elapsed.as_secs() < 10, "took {:?}", done.elapsed);
    assert_eq!(done.stdout().matches("{'a': ").count(), 5000);
    assert!(done.stdout().trim_end().ends_with(&"}".repeat(5001)));
}

#[test]
fn a_non_utf8_filename_comes_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let name: &std::ffi::OsStr = std::os::unix::ffi::OsStrExt::from_bytes(b"caf\xe9");
    std::fs::write(dir.path().join(name), b"").unwrap();
    let code = format!("os.listdir({:?})", dir.path().display().to_string());
    exec_local(&code).success().stdout_is("['caf\\udce9']\n");
    let raw = pushy().args(["exec", "local:", &code, "--raw"]).run();
    assert_eq!(raw.success().stdout, b"caf\xe9\n");
    pushy().args(["exec", "local:", &code, "--json"]).run().success().stdout_is("[\"caf\\udce9\"]\n");
}

#[test]
fn json_output_is_documented_and_lossless() {
    let code = r#"{"big": 2**100, "f": 0.1, "nan": float("nan"), "b": b"\x00\xff", "t": (1, 2), "s": "\udcff", "n": None, 3: True}"#;
    let done = pushy().args(["exec", "local:", code, "--json"]).run();
    done.success();
    let check = r#"import json, sys
v = json.loads(sys.stdin.read())
assert v["big"] == 2**100, v
assert v["f"] == 0.1 and v["nan"] == {"$float": "nan"} and v["b"] == {"$bytes": "AP8="}
assert v["t"] == [1, 2] and v["s"] == "\udcff" and v["n"] is None and v["3"] is True
"#;
    let mut child = Command::new("python3").args(["-c", check]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&done.stdout).unwrap();
    assert!(child.wait().unwrap().success(), "{}", done.stdout());
    let mut jq = Command::new(needs::program("jq", "jq"))
        .args(["-e", ".big and .t[1] == 2"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    jq.stdin.take().unwrap().write_all(&done.stdout).unwrap();
    assert!(jq.wait().unwrap().success(), "jq rejects {}", done.stdout());
}

#[test]
fn a_table_of_rows_prints_as_python_prints_it() {
    // A thousand rows of one int, str and float each arrive as one packed
    // table (columns of bytes, not tokens): pretty, JSON and raw text are
    // what Python makes of the same value. So are a thousand records.
    let expr = "[(i, 'r%d \\u00e9' % i, i / 4) for i in range(1000)]";
    let python = |code: &str, input: &[u8]| {
        use std::io::Write;
        let mut child = Command::new("python3")
            .args(["-c", code])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "python3 -c {code}");
        String::from_utf8(out.stdout).unwrap()
    };
    let pretty = pushy().args(["exec", "local:", expr]).env("COLUMNS", "80").run();
    assert_eq!(pretty.success().stdout(), python(&format!("import pprint; pprint.pprint({expr})"), b""));
    let json = pushy().args(["exec", "local:", expr, "--json"]).run();
    let check = format!("import json, sys; print(json.load(sys.stdin) == json.loads(json.dumps({expr})))");
    assert_eq!(python(&check, &json.success().stdout), "True\n");
    let raw = pushy().args(["exec", "local:", expr, "--raw"]).run();
    assert_eq!(raw.success().stdout(), python(&format!("for row in {expr}: print(*row, sep='\\t')"), b""));
    // So do records (dicts with the same keys: a packed table too).
    let records = "[{'id': i, 'name': 'r%d' % i, 'load': i / 4} for i in range(1000)]";
    let pretty = pushy().args(["exec", "local:", records]).env("COLUMNS", "80").run();
    assert_eq!(
        pretty.success().stdout(),
        python(&format!("import pprint; pprint.pprint({records}, sort_dicts=False)"), b"")
    );
    let json = pushy().args(["exec", "local:", records, "--json"]).run();
    let check = format!("import json, sys; print(json.load(sys.stdin) == {records})");
    assert_eq!(python(&check, &json.success().stdout), "True\n");
}

#[test]
fn a_missing_interpreter_is_reported_as_such() {
    let done = pushy().args(["exec", "--python", "/nonexistent/python3", "local:", "1"]).run();
    done.code(255).clean_error().stderr_has("no Python 3 at /nonexistent/python3");
    let done = pushy().args(["exec", "--python", "py;rm", "local:", "1"]).run();
    done.code(2).clean_error();
}

#[test]
fn hosts_that_look_like_options_never_reach_ssh() {
    for host in ["-oProxyCommand=touch /tmp/pushy-pwned", "host;rm -rf /", "a b", "h\nx"] {
        let done = pushy().args(["exec", "--", host, "1"]).run();
        done.code(2).clean_error();
    }
    assert!(!std::path::Path::new("/tmp/pushy-pwned").exists());
}

#[test]
fn usage_errors_exit_2() {
    for args in [&["exec", "local:"][..], &["exec", "local:", "1", "--json", "--raw"], &["--no-such-flag"]] {
        pushy().args(args).run().code(2).stderr_starts_with("error: ").stderr_has("\nUsage: pushy");
    }
}

#[test]
fn sys_exit_becomes_the_exit_status() {
    exec_local("sys.exit(3)").code(3).stdout_is("");
    exec_local("sys.exit()").success();
}

#[test]
fn the_library_example_runs() {
    let status = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "eval", "--", "local:", "sum(range(10))"])
        .output()
        .expect("cargo run --example");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(String::from_utf8_lossy(&status.stdout), "45\n");
}
