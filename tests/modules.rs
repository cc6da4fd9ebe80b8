//! Local code imported remotely: modules, packages and their data files that
//! the host lacks come from the client's served directories (the script's
//! directory for `run`, the current one for exec and the REPL, `--path`,
//! `PUSHY_PATH`), and nothing else does. Over the loopback sshd the host
//! logs in as a test user who cannot read the project directory, so what
//! it imports can only have come over the channel.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::support::pushy::{pushy, Pushy};
use crate::support::sshd::test_users;

/// A project the way a user keeps one, in a root-only (0700) directory:
/// `proj/tool.py` next to `helper.py`, a package `pkg` with a subpackage, a
/// relative import and a data file, and a `json.py` that must not shadow the
/// standard library. Outside `proj`: a key that must never leave.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::Builder::new().prefix("pushy-mods-").tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let project = Project { dir };
        project.write("proj/helper.py", "X = 41 + 1\n");
        project.write("proj/json.py", "raise SystemExit('the local json.py shadowed the standard library')\n");
        project.write("proj/pkg/__init__.py", "");
        project.write("proj/pkg/other.py", "Y = 'relative'\n");
        project.write("proj/pkg/data.txt", "hello data\n");
        project.write("proj/pkg/sub/__init__.py", "");
        project.write("proj/pkg/sub/deep.py", "from .. import other\n\ndef value():\n    return other.Y\n");
        project.write("id_rsa", "PRIVATE KEY\n");
        project
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// `pushy run [FLAGS] HOST SCRIPT` as the test user who cannot read the
/// project.
fn run_as_test_user(flags: &[&str], script: &Path) -> Pushy {
    test_users();
    pushy().arg("run").args(flags).ssh("pushy-test-dash").arg(script)
}

#[test]
fn a_script_imports_its_sibling_a_package_a_relative_import_and_a_data_file() {
    let project = Project::new();
    project.write(
        "proj/tool.py",
        "import os, sys\n\
         import helper\n\
         from pkg.sub import deep\n\
         import importlib.resources\n\
         import json\n\
         print(helper.X, deep.value(), json.dumps([1]))\n\
         print(importlib.resources.files('pkg').joinpath('data.txt').read_text(), end='')\n\
         try:\n\
         \x20   os.listdir(sys.argv[1])\n\
         except PermissionError:\n\
         \x20   print('the host cannot read the project')\n",
    );
    let proj = project.path("proj");
    run_as_test_user(&[], &project.path("proj/tool.py"))
        .arg(&proj)
        .run()
        .success()
        .stdout_is("42 relative [1]\nhello data\nthe host cannot read the project\n");
}

#[test]
fn minus_v_lists_what_was_sent() {
    let project = Project::new();
    project.write("proj/tool.py", "import helper, pkg.sub.deep, importlib.resources\nimportlib.resources.files('pkg').joinpath('data.txt').read_bytes()\n");
    let done = run_as_test_user(&["-v"], &project.path("proj/tool.py")).run();
    let helper = project.path("proj/helper.py");
    let data = project.path("proj/pkg/data.txt");
    done.success()
        .stderr_has(&format!("pushy: sent module helper to pushy-test-dash ({})", helper.display()))
        .stderr_has("pushy: sent module pkg.sub.deep to pushy-test-dash")
        .stderr_has(&format!("pushy: sent pkg: data.txt to pushy-test-dash ({})", data.display()))
        .stderr_lacks("json");
}

#[test]
fn a_host_that_asks_for_files_outside_the_served_directories_is_refused() {
    let project = Project::new();
    symlink(project.path("id_rsa"), project.path("proj/leak.py")).unwrap();
    symlink(project.path("id_rsa"), project.path("proj/pkg/key.txt")).unwrap();
    symlink(project.dir.path(), project.path("proj/pkg/up")).unwrap();
    // The host's code plays a hostile server: it asks the client directly,
    // through the finder's own channel, for names that are paths.
    project.write(
        "proj/tool.py",
        r#"import sys
finder = sys.meta_path[-1]
extras = type(finder).find_spec.__globals__["load_extras"]()
for query in [{"name": "../../id_rsa"}, {"name": "/etc/passwd"}, {"name": "pkg/../../id_rsa"},
              {"name": "leak"}, {"name": "pkg", "resource": "../../id_rsa"},
              {"name": "pkg", "resource": "/etc/passwd"}, {"name": "pkg", "resource": "key.txt"},
              {"name": "pkg", "resource": "up/id_rsa"}, {"name": "pkg", "resource": "sub/../../../id_rsa"},
              {"name": "pkg", "resource": "a\x00b"}, {"name": "helper\x00.py"}]:
    header, payload = extras.ask_client(finder.server, query)
    print(header["kind"], len(payload), query)
try:
    import leak
except ImportError as e:
    print("import leak:", type(e).__name__)
import importlib.resources
try:
    importlib.resources.files("pkg").joinpath("../../id_rsa").read_bytes()
except PermissionError as e:
    print("resources:", type(e).__name__)
"#,
    );
    let done = run_as_test_user(&["-v"], &project.path("proj/tool.py")).run();
    let stdout = done.stdout();
    assert!(!stdout.contains("PRIVATE"), "{}", done.describe());
    let refused: Vec<&str> = stdout.lines().filter(|line| line.starts_with("refused 0 ")).collect();
    assert_eq!(refused.len(), 11, "every forged request is refused, with no bytes:\n{}", done.describe());
    done.success()
        .stdout_has("import leak: ImportError\n")
        .stdout_has("resources: PermissionError\n")
        .stderr_has("pushy: refused pushy-test-dash leak: leak.py leads outside the served directories");
}

#[test]
fn path_and_pushy_path_serve_more_directories() {
    let project = Project::new();
    project.write("lib1/one.py", "N = 1\n");
    project.write("lib2/two.py", "N = 2\n");
    project.write("lib3/three.py", "N = 3\n");
    project.write("cwd/here.py", "N = 0\n");
    let pushy_path = format!("{}:{}", project.path("lib2").display(), project.path("lib3").display());
    pushy()
        .args(["exec", "--path"])
        .arg(project.path("lib1"))
        .args(["local:", "here.N + one.N + two.N + three.N"])
        .env("PUSHY_PATH", &pushy_path)
        .current_dir(&project.path("cwd"))
        .run()
        .success()
        .stdout_is("6\n");
    // The same over ssh, as the user who can read none of them.
    test_users();
    pushy()
        .args(["exec", "--path"])
        .arg(project.path("lib1"))
        .ssh("pushy-test-dash")
        .arg("import one, two, three, here\n(here.N, one.N, two.N, three.N)")
        .env("PUSHY_PATH", &pushy_path)
        .current_dir(&project.path("cwd"))
        .run()
        .success()
        .stdout_is("(0, 1, 2, 3)\n");
    // A --path that is not a directory is a usage error.
    pushy()
        .args(["exec", "--path", "/nonexistent-pushy-dir", "local:", "1"])
        .run()
        .code(2)
        .clean_error()
        .stderr_has("--path /nonexistent-pushy-dir: not a directory");
}

#[test]
fn exec_serves_the_current_directory_and_never_shadows_the_standard_library() {
    let project = Project::new();
    pushy()
        .args(["exec", "local:", "import json\n(helper.X, pkg.sub.deep.value(), json.dumps(None))"])
        .current_dir(&project.path("proj"))
        .run()
        .success()
        .stdout_is("(42, 'relative', 'null')\n");
    // Nothing is served from a directory that is not served.
    pushy()
        .args(["exec", "local:", "import helper"])
        .current_dir(project.dir.path())
        .run()
        .code(1)
        .stderr_has("ModuleNotFoundError: No module named 'helper'");
}

#[test]
fn many_hosts_each_import_from_the_client() {
    let project = Project::new();
    test_users();
    pushy()
        .args(["exec", "-F"])
        .arg(&crate::support::sshd::sshd().config)
        .args(["pushy-test-dash,pushy-test", "helper.X", "--ordered", "-q"])
        .current_dir(&project.path("proj"))
        .run()
        .success()
        .stdout_is("pushy-test-dash: 42\npushy-test: 42\n");
}

#[test]
fn a_traceback_in_a_forwarded_module_shows_its_lines() {
    let project = Project::new();
    project.write("proj/boom.py", "def go():\n    raise ValueError('from the client')\n");
    pushy()
        .args(["exec", "local:", "boom.go()"])
        .current_dir(&project.path("proj"))
        .run()
        .code(1)
        .stderr_has("File \"boom.py\", line 2, in go\n    raise ValueError('from the client')")
        .stderr_has("ValueError: from the client");
}

#[test]
fn auto_import_does_not_fire_on_names_with_side_effects() {
    for name in ["this", "antigravity", "test", "idlelib", "turtledemo"] {
        pushy()
            .args(["exec", "local:", name])
            .run()
            .code(1)
            .stderr_has(&format!("NameError: name '{name}' is not defined"));
    }
    pushy().args(["exec", "local:", "import this"]).run().success().stdout_has("The Zen of Python, by Tim Peters\n");
}

#[test]
fn a_broken_module_says_why_where_it_is_first_used() {
    let project = Project::new();
    project.write("proj/broken_here.py", "raise RuntimeError('broken on purpose')\n");
    test_users();
    // Defining a function that names it is fine; calling it shows the
    // module's own error (its line included), not a NameError.
    let code = "def f():\n    return broken_here.X\nok = 1\nf()";
    let done = pushy().arg("exec").ssh("pushy-test-dash").current_dir(&project.path("proj")).arg(code).run();
    done.code(1)
        .stderr_has("line 4, in <module>")
        .stderr_has("raise RuntimeError('broken on purpose')")
        .stderr_has("RuntimeError: broken on purpose\n");
    let err = done.stderr();
    assert!(!err.contains("NameError") && !err.contains("During handling"), "{err}");
}

#[test]
fn the_repl_imports_from_the_current_directory() {
    let project = Project::new();
    test_users();
    let data = tempfile::tempdir().unwrap();
    let mut pty = pushy()
        .ssh("pushy-test-dash")
        .current_dir(&project.path("proj"))
        .env("XDG_DATA_HOME", data.path())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .pty();
    pty.exp_string("pushy-test-dash>>> ").expect("first prompt");
    // Typed as people type: one burst, no pauses. The second line uses the
    // package by auto-import, the third a relative import inside it.
    pty.send("import helper\rhelper.X + 1\rpkg.sub.deep.value()\r").unwrap();
    pty.flush().unwrap();
    pty.exp_string("43").expect("the sibling module's value");
    pty.exp_string("'relative'").expect("the package's relative import");
    pty.send_control('d').unwrap();
    pty.exp_eof().expect("Ctrl-D leaves");
}
