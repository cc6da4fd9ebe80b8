//! The library as a Rust program uses it (`pushy::Session`, `RemoteRef`,
//! `Fleet`), in process, against `local:` and the loopback sshd: typed
//! values both ways with serde, remote objects, and a fleet.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use pushy::value::Bytes;
use pushy::{ConnectOptions, ErrorKind, Fleet, Reuse, Session, SshTarget, Target, Value};
use serde::{Deserialize, Serialize};

use crate::support::sshd::sshd;

/// A master of the session's own, ended with it: a test leaves nothing.
fn options() -> ConnectOptions {
    ConnectOptions { reuse: Reuse::Never, ..ConnectOptions::default() }
}

fn ssh(alias: &str) -> Target {
    Target::Ssh(SshTarget { destination: alias.into(), config: Some(sshd().config.clone()), ..SshTarget::default() })
}

fn local() -> Session {
    Session::connect(&Target::Local).expect("a local: session")
}

fn over_ssh() -> Session {
    Session::connect_with(&ssh(sshd().host()), &options()).expect("a session over the loopback sshd")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Role {
    Web,
    Db { primary: bool },
    Cache(u16, String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Disk {
    name: String,
    size: u64,
    id: Bytes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Machine {
    name: String,
    roles: Vec<Role>,
    disks: Vec<Disk>,
    labels: BTreeMap<String, Option<i32>>,
    huge: u128,
    tiny: i128,
    load: (f64, f64, f64),
    tags: HashSet<String>,
}

fn machine() -> Machine {
    Machine {
        name: "web1 'quoted' \"twice\"\nand a newline".into(),
        roles: vec![Role::Web, Role::Db { primary: true }, Role::Cache(11211, "memcached".into())],
        disks: vec![
            Disk { name: "sda".into(), size: 1 << 40, id: Bytes(vec![0, 1, 255]) },
            Disk { name: "sdb".into(), size: 0, id: Bytes(Vec::new()) },
        ],
        labels: [("rack".to_string(), Some(4)), ("row".to_string(), None)].into(),
        huge: u128::MAX,
        tiny: i128::MIN,
        load: (0.5, f64::INFINITY, -0.0),
        tags: ["a".to_string(), "b".to_string()].into(),
    }
}

/// Rust data to Python and back, and what Python sees in between.
fn round_trips(s: &mut Session) {
    let m = machine();
    let back: Machine = s.call("lambda x: x", (&m,)).unwrap();
    assert_eq!(back, m);
    // As Python types: a struct is a dict, bytes are bytes, u128 an int.
    let seen: String = s
        .call("lambda m: ' '.join(type(v).__name__ for v in (m, m['disks'][0]['id'], m['huge'], m['load'], m['roles'][1]))", (&m,))
        .unwrap();
    assert_eq!(seen, "dict bytes int tuple dict");
    assert!(s.call::<bool>("lambda m: m['huge'] == 2**128 - 1 and m['tiny'] == -2**127", (&m,)).unwrap());
    // No code text is built: quotes and newlines arrive as they are.
    assert_eq!(s.call::<String>("str", (&m.name,)).unwrap(), m.name);

    // Big ints from Python, and the ones that do not fit.
    assert_eq!(s.eval_as::<u128>("2**128 - 1").unwrap(), u128::MAX);
    assert_eq!(s.eval_as::<i128>("-2**127").unwrap(), i128::MIN);
    let over = s.eval_as::<u128>("2**128").unwrap_err();
    assert_eq!(over.kind(), ErrorKind::Value);
    assert!(over.to_string().contains("does not fit in 128 bits"), "{over}");
    let over = s.eval_as::<Vec<i64>>("[1, 2**63]").unwrap_err().to_string();
    assert!(over.contains("at [1]") && over.contains("i64"), "{over}");

    // A mismatch names the path inside the value and both types.
    let e = s.eval_as::<Vec<Disk>>("[{'name': 'sda', 'size': 'big', 'id': b''}]").unwrap_err().to_string();
    assert!(e.contains("at [0][\"size\"]"), "{e}");
    assert!(e.contains("expected u64") && e.contains("Python has a str there"), "{e}");

    // Named structures into structs by field name.
    #[derive(Deserialize)]
    struct Stat {
        st_mode: u32,
        st_size: u64,
        st_mtime: f64,
    }
    let stat: Stat = s.eval_as("os.stat('/etc/passwd')").unwrap();
    assert_eq!(stat.st_mode & 0o170000, 0o100000);
    assert_eq!(stat.st_size, std::fs::metadata("/etc/passwd").unwrap().len());
    assert!(stat.st_mtime > 0.0);
    #[derive(Deserialize, PartialEq, Debug)]
    struct Point {
        x: i32,
        y: i32,
    }
    let p: Point = s.eval_as("collections.namedtuple('P', 'x y')(1, y=2)").unwrap();
    assert_eq!(p, Point { x: 1, y: 2 });
    let by_position: (i32, i32) = s.eval_as("collections.namedtuple('P', 'x y')(3, 4)").unwrap();
    assert_eq!(by_position, (3, 4));
    s.exec("import dataclasses\n@dataclasses.dataclass\nclass Db:\n    primary: bool\n").unwrap();
    assert_eq!(s.eval_as::<Role>("Db(primary=False)").unwrap(), Role::Db { primary: false });
    assert_eq!(s.eval_as::<Point>("dataclasses.make_dataclass('Pt', ['x', 'y'])(5, 6)").unwrap(), Point { x: 5, y: 6 });

    // A query's rows (one packed table on the wire) into tuples, and back.
    let rows: Vec<(i64, String, f64)> = s.eval_as("[(i, 'r%d' % i, i / 2) for i in range(100)]").unwrap();
    assert_eq!((rows.len(), &rows[99]), (100, &(99, "r99".to_string(), 49.5)));
    let back: Vec<(i64, String, f64)> = s.call("lambda rows: rows", (&rows,)).unwrap();
    assert_eq!(back, rows);

    // Bytes both ways; a Value passed back keeps its Python type.
    let got: Bytes = s.call("lambda b: b[::-1]", (Bytes(b"abc\0".to_vec()),)).unwrap();
    assert_eq!(got.0, b"\0cba");
    let set = s.eval("frozenset({1, 2})").unwrap();
    assert_eq!(s.call::<String>("lambda v: type(v).__name__", (&set,)).unwrap(), "frozenset");

    // Arguments: none, one, several; a remote exception is an error.
    assert_eq!(s.call::<usize>("len", ("four",)).unwrap(), 4);
    assert_eq!(s.call::<usize>("len", vec![1, 2, 3]).unwrap(), 3); // not a tuple: one argument
    assert_eq!(s.call::<i32>("lambda: 7", ()).unwrap(), 7);
    let raised = s.call::<u64>("os.path.getsize", ("/nonexistent-pushy-library-test",)).unwrap_err();
    assert_eq!(raised.kind(), ErrorKind::Remote);
    assert_eq!(raised.remote().unwrap().type_name, "FileNotFoundError");
}

#[test]
fn serde_round_trips_on_local() {
    round_trips(&mut local());
}

#[test]
fn serde_round_trips_over_ssh() {
    round_trips(&mut over_ssh());
}

/// A file opened remotely, read a few bytes at a time through its ref.
fn file_in_steps(s: &mut Session) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    std::fs::write(&path, &content).unwrap();
    let file = s.call_ref("open", (path.to_str().unwrap(), "rb")).unwrap();
    assert_eq!(file.type_name(), "_io.BufferedReader");
    assert!(file.repr().contains("data"), "{}", file.repr());
    let mut read = Vec::new();
    let mut steps = 0;
    loop {
        let chunk: Bytes = file.call_method(s, "read", (300,)).unwrap();
        if chunk.is_empty() {
            break;
        }
        steps += 1;
        read.extend_from_slice(&chunk);
        assert_eq!(file.call_method::<usize>(s, "tell", ()).unwrap(), read.len());
    }
    assert_eq!((read, steps), (content, 4));
    assert!(!file.getattr::<bool>(s, "closed").unwrap());
    // The ref itself as an argument: the function gets the remote file.
    assert_eq!(s.call::<String>("lambda f: f.name", (&file,)).unwrap(), path.to_str().unwrap());
    file.call_method::<()>(s, "close", ()).unwrap();
    assert!(file.getattr::<bool>(s, "closed").unwrap());
    let raw = file.getattr_ref(s, "raw").unwrap();
    assert_eq!(raw.type_name(), "_io.FileIO");
    assert!(matches!(file.get(s).unwrap(), Value::Object(t, _) if t == "_io.BufferedReader"));
}

#[test]
fn a_ref_to_an_open_file_is_read_in_steps_on_local() {
    file_in_steps(&mut local());
}

#[test]
fn a_ref_to_an_open_file_is_read_in_steps_over_ssh() {
    file_in_steps(&mut over_ssh());
}

/// Dropped refs are released with the next request: the table empties and
/// the objects themselves go.
fn released_on_drop(s: &mut Session) {
    s.exec("import weakref\nclass Probe: pass").unwrap();
    let refs: Vec<_> = (0..3).map(|_| s.eval_ref("Probe()").unwrap()).collect();
    assert_eq!(s.remote_objects().unwrap(), 3);
    s.call::<()>("lambda p: globals().__setitem__('alive', weakref.ref(p))", (&refs[0],)).unwrap();
    let mut refs = refs.into_iter();
    drop(refs.next());
    assert!(s.eval_as::<bool>("alive() is None").unwrap(), "the released object is gone");
    assert_eq!(s.remote_objects().unwrap(), 2);
    drop(refs);
    assert_eq!(s.remote_objects().unwrap(), 0);
}

#[test]
fn a_ref_released_on_drop_leaves_the_remote_table_empty_on_local() {
    released_on_drop(&mut local());
}

#[test]
fn a_ref_released_on_drop_leaves_the_remote_table_empty_over_ssh() {
    released_on_drop(&mut over_ssh());
}

#[test]
fn a_ref_used_after_close_or_on_another_session_is_an_error() {
    let (mut first, mut second) = (local(), over_ssh());
    let r = first.eval_ref("[1, 2, 3]").unwrap();
    for e in [r.get(&mut second).unwrap_err(), second.call::<usize>("len", (&r,)).unwrap_err()] {
        assert_eq!(e.kind(), ErrorKind::Value);
        assert!(e.to_string().contains("another session"), "{e}");
    }
    assert_eq!(second.remote_objects().unwrap(), 0);
    first.close().unwrap();
    let e = r.call_method::<()>(&mut second, "append", (4,)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Value);
    assert!(e.to_string().contains("closed"), "{e}");
    drop(r); // its session is gone: nothing to release, no panic
    assert_eq!(second.eval_as::<i32>("1 + 1").unwrap(), 2);
}

#[derive(Debug, Deserialize)]
struct Inventory {
    python: String,
    load: (f64, f64, f64),
    user: String,
}

#[test]
fn a_fleet_of_twenty_hosts_with_one_dead() {
    let sshd = sshd();
    let mut fleet = Fleet::new().options(options()).forks(8).timeout(Duration::from_secs(40));
    for i in 0..20 {
        fleet = fleet.target(ssh(&format!("pushy-test-lib{i}")));
    }
    fleet = fleet.target(ssh("pushy-test-closed"));
    assert_eq!(fleet.len(), 21);
    let code = "dict(python=platform.python_version(), load=os.getloadavg(), user=getpass.getuser())";
    let mut seen = Vec::new();
    for done in fleet.run(move |_, s| s.eval_as::<Inventory>(code)) {
        seen.push(done.host.index);
        match (done.host.name.as_str(), done.result) {
            ("pushy-test-closed", Err(e)) => assert_eq!(e.kind(), ErrorKind::Connection, "{e}"),
            (name, Ok(inventory)) => {
                assert!(name.starts_with("pushy-test-lib"), "{name}");
                assert!(inventory.python.starts_with("3."), "{inventory:?}");
                assert!(inventory.load.0 >= 0.0);
                assert!(!inventory.user.is_empty());
            }
            (name, Err(e)) => panic!("{name}: {e} (sshd log in {})", sshd.dir.display()),
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..21).collect::<Vec<_>>(), "every host once");
}

#[test]
fn a_fleet_yields_hosts_as_they_finish_and_times_out_per_host() {
    let fleet = Fleet::parse("local:,local:,local:").unwrap().forks(3).timeout(Duration::from_secs(3));
    let started = std::time::Instant::now();
    let order: Vec<(usize, Result<i64, ErrorKind>)> = fleet
        .run(|host, s| {
            // The first host is slow, the second never ends, the third is quick.
            let code = ["time.sleep(1); 0", "time.sleep(600)", "2"][host.index];
            s.eval_as::<Option<i64>>(code).map(|v| v.unwrap_or(-1))
        })
        .map(|done| (done.host.index, done.result.map_err(|e| e.kind())))
        .collect();
    assert_eq!(order, vec![(2, Ok(2)), (0, Ok(0)), (1, Err(ErrorKind::Timeout))]);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}
