//! A real OpenSSH server on 127.0.0.1 for the integration tests.
//!
//! [`sshd()`] starts `/usr/sbin/sshd` once per test process, with its own host
//! key, client keys, `authorized_keys`, config and a free port, all in a state
//! directory under the system temp dir (`pushy-sshd-PID-XXXXXX`). The client
//! side is the file [`Sshd::config`], meant for `ssh -F`; it defines these
//! host aliases (all 127.0.0.1):
//!
//! | alias                   | logs in as     | what it is for                                  |
//! |-------------------------|----------------|-------------------------------------------------|
//! | `pushy-test`            | current user   | the plain case; `.bashrc` is skipped            |
//! | `pushy-test-junk`       | `pushyjunk`    | bash whose `.bashrc` prints junk to stdout      |
//! | `pushy-test-fish`       | `pushyfish`    | login shell `/usr/bin/fish`                     |
//! | `pushy-test-tcsh`       | `pushytcsh`    | login shell `/usr/bin/tcsh`                     |
//! | `pushy-test-dash`       | `pushydash`    | login shell `/bin/dash`                         |
//! | `pushy-test-badhostkey` | current user   | `known_hosts` has another key: ssh refuses      |
//! | `pushy-test-noauth`     | current user   | offers only a key that is not authorized        |
//! | `pushy-test-closed`     | -              | a port where nothing listens                    |
//!
//! The test users exist only when the tests run as root (as CI does); a
//! test that logs in as one calls [`test_users()`], which fails (never
//! skips) without them. They are created on first use and reused
//! afterwards; their login shell, password field, home and dotfiles are put
//! right on every run.
//!
//! The server's log is `DIR/sshd.log` (`LogLevel VERBOSE`): the place to look
//! when a login fails. The state directory stays after the run, because a
//! `static` is never dropped and sshd may still be writing into it; the next
//! run removes the directories whose process is gone.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The server binary. Debian installs it outside a normal user's PATH, and
/// sshd insists on an absolute path because it re-executes itself.
const SSHD_BIN: &str = "/usr/sbin/sshd";

/// The alias that logs in as the current user.
const HOST: &str = "pushy-test";

/// Prefix of the per-process state directories under the temp dir.
const DIR_PREFIX: &str = "pushy-sshd-";

/// How long sshd may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How often to pick a new port when another process grabs ours between
/// choosing it and sshd binding it.
const PORT_ATTEMPTS: u32 = 5;

/// A test user: created only when running as root.
struct TestUser {
    name: &'static str,
    shell: &'static str,
    alias: &'static str,
    /// Written to `~/.bashrc`; `None` leaves the skeleton's dotfiles alone.
    bashrc: Option<&'static str>,
    /// What sudo lets this user do.
    sudo: SudoRule,
}

/// A test user's sudoers rule (for `--sudo` and `--become`).
#[derive(PartialEq)]
enum SudoRule {
    /// No rule at all: sudo refuses.
    None,
    /// `NOPASSWD: ALL`: no prompt.
    NoPassword,
    /// `ALL`, with this login password set for sudo to check.
    Password(&'static str),
    /// `NOPASSWD: ALL`, but only from a terminal (`requiretty`).
    RequireTty,
}

/// The password of `pushy-test-sudo`, for the tests that answer sudo's prompt.
pub const SUDO_PASSWORD: &str = "sudo-secret-4711";

/// The junk user's `~/.bashrc`. bash sources it for `ssh host cmd` (Debian
/// builds bash to do so when it is started by sshd), so everything here lands
/// on the stdout of the remote command, ahead of anything pushy's bootstrap
/// prints. `PUSHY` imitates the start of a ready marker.
const JUNK_BASHRC: &str = "\
# Written by pushy's test harness (tests/support/sshd.rs) on every run.
# Junk on stdout for non-interactive `ssh host cmd`, as careless real
# .bashrc files print: the bootstrap must not mistake it for its protocol.
echo \"welcome to junk\"
printf 'PUSHY\\n'
";

/// The user whose `.bashrc` must run; every other login gets `SHLVL=1`.
const JUNK_USER: &str = "pushyjunk";

const TEST_USERS: &[TestUser] = &[
    TestUser {
        name: JUNK_USER,
        shell: "/bin/bash",
        alias: "pushy-test-junk",
        bashrc: Some(JUNK_BASHRC),
        sudo: SudoRule::RequireTty,
    },
    TestUser {
        name: "pushyfish",
        shell: "/usr/bin/fish",
        alias: "pushy-test-fish",
        bashrc: None,
        sudo: SudoRule::None,
    },
    TestUser {
        name: "pushytcsh",
        shell: "/usr/bin/tcsh",
        alias: "pushy-test-tcsh",
        bashrc: None,
        sudo: SudoRule::None,
    },
    TestUser {
        name: "pushydash",
        shell: "/bin/dash",
        alias: "pushy-test-dash",
        bashrc: None,
        sudo: SudoRule::NoPassword,
    },
    TestUser {
        name: "pushysudo",
        shell: "/bin/bash",
        alias: "pushy-test-sudo",
        bashrc: None,
        sudo: SudoRule::Password(SUDO_PASSWORD),
    },
];

/// Where the test users' sudo rules go.
const SUDOERS: &str = "/etc/sudoers.d/pushy-tests";

/// The running server and the files a test needs to reach it.
pub struct Sshd {
    /// The port sshd listens on, at 127.0.0.1.
    pub port: u16,
    /// The state directory: keys, configs, `sshd.log`.
    pub dir: PathBuf,
    /// The client config, for `ssh -F`.
    pub config: PathBuf,
    test_users: bool,
}

impl Sshd {
    /// Host alias defined in `config` that logs in as the current user.
    pub fn host(&self) -> &'static str {
        HOST
    }
}

/// The loopback sshd, for a test that logs in as the harness's test users:
/// fails, naming why, when they are missing (the tests do not run as root).
#[track_caller]
pub fn test_users() -> &'static Sshd {
    let sshd = sshd();
    assert!(
        sshd.test_users,
        "this test logs in as the harness's test users (pushydash, pushysudo, ...), which it creates only \
         when the tests run as root: run them as root, as CI does (`bash .ci/run`)"
    );
    sshd
}

/// Starts (once per test process) a real OpenSSH sshd on 127.0.0.1 on a free
/// port; panics with a clear message if it cannot (never skips).
pub fn sshd() -> &'static Sshd {
    // The error is kept rather than retried: every test that asks after a
    // failed start gets the same message, and users are not set up twice.
    static SSHD: OnceLock<Result<Sshd, String>> = OnceLock::new();
    match SSHD.get_or_init(start) {
        Ok(sshd) => sshd,
        Err(why) => panic!("cannot start the loopback sshd for the tests: {why}"),
    }
}

/// Everything [`sshd()`] does, once.
fn start() -> Result<Sshd, String> {
    if !Path::new(SSHD_BIN).exists() {
        return Err(format!("{SSHD_BIN} is missing: install openssh-server (`bash .ci/run` does)"));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        // sshd running as root refuses to start without its privilege
        // separation directory, which a fresh machine (or a reboot) lacks.
        fs::create_dir_all("/run/sshd").map_err(|e| format!("mkdir /run/sshd: {e}"))?;
    }

    remove_stale_dirs();
    let dir = tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(|e| format!("cannot create the state directory: {e}"))?
        .keep();
    // sshd reads authorized_keys as the user logging in, so the test users
    // must be able to walk into the directory.
    set_mode(&dir, 0o755)?;

    let files = Files::new(&dir);
    keygen(&files.host_key)?;
    keygen(&files.client_key)?;
    keygen(&files.stranger_key)?;
    keygen(&files.other_host_key)?;
    let client_pub = read(&pub_path(&files.client_key))?;
    write(&files.authorized_keys, &client_pub, 0o644)?;

    let test_users = if root {
        setup_test_users()?;
        true
    } else {
        false
    };

    let penalties = supports_per_source_penalties();
    let mut last_error = String::new();
    for _ in 0..PORT_ATTEMPTS {
        let port = free_port()?;
        let closed_port = loop {
            let candidate = free_port()?;
            if candidate != port {
                break candidate;
            }
        };
        write(&files.sshd_config, &sshd_config(&files, port, penalties), 0o644)?;
        write(&files.known_hosts, &known_hosts_line(&files.host_key, port)?, 0o644)?;
        write(&files.known_hosts_bad, &known_hosts_line(&files.other_host_key, port)?, 0o644)?;
        write(&files.ssh_config, &ssh_config(&files, port, closed_port), 0o644)?;
        match launch(&files, port) {
            Ok(()) => {
                return Ok(Sshd { port, dir: dir.clone(), config: files.ssh_config, test_users });
            }
            Err(Launch::PortTaken(why)) => last_error = why,
            Err(Launch::Failed(why)) => return Err(why),
        }
    }
    Err(format!("no free port after {PORT_ATTEMPTS} attempts; last: {last_error}"))
}

/// The paths of everything in the state directory.
struct Files {
    host_key: PathBuf,
    /// A second host key, for the `known_hosts` of `pushy-test-badhostkey`.
    other_host_key: PathBuf,
    client_key: PathBuf,
    /// A client key that is not in `authorized_keys`.
    stranger_key: PathBuf,
    authorized_keys: PathBuf,
    known_hosts: PathBuf,
    known_hosts_bad: PathBuf,
    sshd_config: PathBuf,
    ssh_config: PathBuf,
    pid_file: PathBuf,
    log: PathBuf,
}

impl Files {
    fn new(dir: &Path) -> Files {
        Files {
            host_key: dir.join("host_key"),
            other_host_key: dir.join("other_host_key"),
            client_key: dir.join("client_key"),
            stranger_key: dir.join("stranger_key"),
            authorized_keys: dir.join("authorized_keys"),
            known_hosts: dir.join("known_hosts"),
            known_hosts_bad: dir.join("known_hosts_bad"),
            sshd_config: dir.join("sshd_config"),
            ssh_config: dir.join("ssh_config"),
            pid_file: dir.join("sshd.pid"),
            log: dir.join("sshd.log"),
        }
    }
}

fn sshd_config(files: &Files, port: u16, penalties: bool) -> String {
    let mut config = format!(
        "\
# The loopback sshd of pushy's tests (tests/support/sshd.rs).
ListenAddress 127.0.0.1:{port}
HostKey {host_key}
PidFile {pid_file}
# One file for every user, readable by all: sshd reads it as the user logging in.
AuthorizedKeysFile {authorized_keys}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
# Tests open many connections at once; the defaults (10:30:100) drop some.
MaxStartups 200:30:300
MaxSessions 200
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
",
        host_key = quote(&files.host_key),
        pid_file = quote(&files.pid_file),
        authorized_keys = quote(&files.authorized_keys),
    );
    if penalties {
        // OpenSSH 9.8 and newer shut out an address after failed logins,
        // which the failure tests cause on purpose from 127.0.0.1.
        config.push_str("PerSourcePenalties no\n");
    }
    let _ = write!(
        config,
        "\
# bash sources ~/.bashrc for `ssh host cmd` only while SHLVL < 2. A heavy
# .bashrc (pyenv init: ~300 ms, another python3) must not leak into the tests,
# except for the junk user, whose .bashrc is the point.
Match User *,!{JUNK_USER}
    SetEnv SHLVL=1
"
    );
    config
}

fn ssh_config(files: &Files, port: u16, closed_port: u16) -> String {
    // ssh takes the first value it finds for each option, so the special
    // aliases come first and the shared block last. IdentityFile is the
    // exception: its values add up, hence the `!pushy-test-noauth`.
    let mut config = String::from(
        "# Client config for the loopback sshd of pushy's tests (tests/support/sshd.rs).\n\
         # Use with `ssh -F THIS_FILE ALIAS`.\n",
    );
    for user in TEST_USERS {
        let _ = writeln!(config, "Host {}\n    User {}", user.alias, user.name);
    }
    let _ = write!(
        config,
        "\
Host {HOST}-badhostkey
    UserKnownHostsFile {known_hosts_bad}
Host {HOST}-noauth
    IdentityFile {stranger_key}
Host {HOST}-closed
    Port {closed_port}
Host {HOST} {HOST}-* !{HOST}-noauth
    IdentityFile {client_key}
# No User here: ssh logs in as the current user by default.
Host {HOST} {HOST}-*
    HostName 127.0.0.1
    Port {port}
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile {known_hosts}
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    UpdateHostKeys no
    CheckHostIP no
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
",
        known_hosts_bad = quote(&files.known_hosts_bad),
        stranger_key = quote(&files.stranger_key),
        client_key = quote(&files.client_key),
        known_hosts = quote(&files.known_hosts),
    );
    config
}

/// A `known_hosts` line that pins `key` (a private key path) for the server.
fn known_hosts_line(key: &Path, port: u16) -> Result<String, String> {
    let public = read(&pub_path(key))?;
    // "TYPE BASE64 COMMENT": the comment is not part of the key.
    let fields: Vec<&str> = public.split_whitespace().take(2).collect();
    if fields.len() != 2 {
        return Err(format!("unexpected public key in {}: {public:?}", key.display()));
    }
    Ok(format!("[127.0.0.1]:{port} {} {}\n", fields[0], fields[1]))
}

/// How starting sshd on one port can fail.
enum Launch {
    /// Another process took the port first: try another one.
    PortTaken(String),
    Failed(String),
}

/// What the thread that owns sshd reports.
enum Event {
    Spawned(libc::pid_t),
    SpawnFailed(io::Error),
    Exited(io::Result<ExitStatus>),
}

/// Starts sshd on `port` and waits until it accepts SSH connections.
fn launch(files: &Files, port: u16) -> Result<(), Launch> {
    // The log tells whether this attempt bound its port; -E appends.
    let _ = fs::remove_file(&files.log);
    let events = spawn_owner_thread(files);
    let pid = match events.recv_timeout(START_TIMEOUT) {
        Ok(Event::Spawned(pid)) => pid,
        Ok(Event::SpawnFailed(e)) => return Err(Launch::Failed(format!("cannot run {SSHD_BIN}: {e}"))),
        Ok(Event::Exited(_)) | Err(_) => return Err(Launch::Failed("the thread that runs sshd died".to_string())),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match events.try_recv() {
            Ok(Event::Exited(status)) => {
                let log = fs::read_to_string(&files.log).unwrap_or_default();
                let why = format!(
                    "{SSHD_BIN} exited ({}) before it listened on 127.0.0.1:{port}; its log {}:\n{log}",
                    match status {
                        Ok(status) => status.to_string(),
                        Err(e) => e.to_string(),
                    },
                    files.log.display(),
                );
                return Err(if log.contains("Address already in use") {
                    Launch::PortTaken(why)
                } else {
                    Launch::Failed(why)
                });
            }
            Ok(_) | Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                return Err(Launch::Failed("the thread that runs sshd died".to_string()))
            }
        }
        // The log line proves that *our* sshd holds the port (another server
        // could answer on it); the banner proves that it serves connections.
        let listening = fs::read_to_string(&files.log).is_ok_and(|log| log.contains("Server listening on"));
        if listening && banner(port).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            // pid 0 would signal our whole process group.
            if pid > 0 {
                // SAFETY: kill has no memory preconditions; pid is our child,
                // not yet reaped (its owner thread reported no exit).
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            return Err(Launch::Failed(format!(
                "{SSHD_BIN} did not accept SSH connections on 127.0.0.1:{port} within {START_TIMEOUT:?}; its log: {}",
                files.log.display()
            )));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs sshd from a thread of its own that lives exactly as long as sshd.
///
/// sshd gets `PR_SET_PDEATHSIG`, so it is sent SIGTERM when the test process
/// ends, however it ends. The kernel ties that signal to the *thread* that
/// forked the child, not to the process: spawned from a test's thread, sshd
/// would die as soon as that one test finished.
fn spawn_owner_thread(files: &Files) -> Receiver<Event> {
    let (tx, rx) = mpsc::channel();
    let mut command = Command::new(SSHD_BIN);
    command
        .arg("-D") // stay in the foreground, as our child
        .arg("-f")
        .arg(&files.sshd_config)
        .arg("-E")
        .arg(&files.log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: getpid has no preconditions and cannot fail.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe functions (prctl, getppid), allocating nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The test process may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    thread::Builder::new()
        .name("pushy-test-sshd".to_string())
        .spawn(move || match command.spawn() {
            Err(e) => {
                let _ = tx.send(Event::SpawnFailed(e));
            }
            Ok(mut child) => {
                // Linux pids fit in pid_t; 0 (never a child's) stands in otherwise.
                let pid = libc::pid_t::try_from(child.id()).unwrap_or(0);
                let _ = tx.send(Event::Spawned(pid));
                let status = child.wait();
                let _ = tx.send(Event::Exited(status));
            }
        })
        .expect("cannot start the thread that runs sshd");
    rx
}

/// Reads the server's version banner: an SSH server answers on `port`.
fn banner(port: u16) -> io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut banner = [0u8; 8];
    stream.read_exact(&mut banner)?;
    if &banner == b"SSH-2.0-" {
        Ok(())
    } else {
        Err(io::Error::other(format!("not an SSH banner: {banner:?}")))
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

/// Whether this sshd knows `PerSourcePenalties` (OpenSSH 9.8 and newer);
/// older ones refuse to start on an unknown option.
fn supports_per_source_penalties() -> bool {
    let Ok(out) = Command::new(SSHD_BIN).arg("-V").stdin(Stdio::null()).output() else {
        return false;
    };
    // `sshd -V` prints "OpenSSH_9.2p1 Debian-2, OpenSSL ..." on stderr.
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.split("OpenSSH_").nth(1) else {
        return false;
    };
    let mut numbers = version.split(|c: char| !c.is_ascii_digit()).map(|n| n.parse::<u32>().unwrap_or(0));
    let major = numbers.next().unwrap_or(0);
    let minor = numbers.next().unwrap_or(0);
    (major, minor) >= (9, 8)
}

/// Creates the test users, or puts existing ones right.
fn setup_test_users() -> Result<(), String> {
    // Two test processes (say, two `cargo test` runs) must not edit
    // /etc/passwd at once: useradd and usermod fail on each other's lock.
    let lock_path = std::env::temp_dir().join("pushy-test-users.lock");
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    // SAFETY: flock on a descriptor we own; the lock is released when
    // `lock` is dropped at the end of this function.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } == -1 {
        return Err(format!("flock {}: {}", lock_path.display(), io::Error::last_os_error()));
    }
    for user in TEST_USERS {
        setup_test_user(user)?;
    }
    setup_sudoers()?;
    drop(lock);
    Ok(())
}

/// The sudo rules of the test users, checked with visudo before use.
fn setup_sudoers() -> Result<(), String> {
    if !Path::new("/usr/bin/sudo").exists() {
        return Err("sudo is missing, needed for the --sudo tests: install it (`bash .ci/run` does)".into());
    }
    let mut rules = String::from("# Written by pushy's test harness (tests/support/sshd.rs) on every run.\n");
    for user in TEST_USERS {
        match user.sudo {
            SudoRule::None => {}
            SudoRule::NoPassword => {
                let _ = writeln!(rules, "{} ALL=(ALL) NOPASSWD: ALL", user.name);
            }
            SudoRule::RequireTty => {
                let _ = writeln!(rules, "Defaults:{} requiretty", user.name);
                let _ = writeln!(rules, "{} ALL=(ALL) NOPASSWD: ALL", user.name);
            }
            SudoRule::Password(_) => {
                // No cached credentials: every test answers the prompt.
                let _ = writeln!(rules, "Defaults:{} timestamp_timeout=0, !lecture", user.name);
                let _ = writeln!(rules, "{} ALL=(ALL) ALL", user.name);
            }
        }
    }
    let tmp = format!("{SUDOERS}.tmp");
    write(Path::new(&tmp), &rules, 0o440)?;
    run(Command::new("visudo").args(["-c", "-q", "-f", &tmp]))?;
    fs::rename(&tmp, SUDOERS).map_err(|e| format!("rename to {SUDOERS}: {e}"))
}

fn setup_test_user(user: &TestUser) -> Result<(), String> {
    if !Path::new(user.shell).exists() {
        return Err(format!(
            "{} is missing, needed as the login shell of test user {}: install it (`bash .ci/run` does)",
            user.shell, user.name
        ));
    }
    let entry = match passwd_entry(user.name)? {
        Some(entry) => entry,
        None => {
            run(Command::new("useradd")
                .args(["--create-home", "--shell", user.shell])
                .args(["--comment", "pushy test user"])
                .arg(user.name))?;
            passwd_entry(user.name)?
                .ok_or_else(|| format!("useradd {} succeeded but the user is not there", user.name))?
        }
    };
    if entry.shell != user.shell {
        run(Command::new("usermod").args(["--shell", user.shell, user.name]))?;
    }
    // useradd leaves the password locked ("!"), and sshd without PAM refuses
    // a locked account even for a key login; "*" is unlocked but matches no
    // password. The sudo user gets a real password, for sudo to check.
    if let SudoRule::Password(password) = user.sudo {
        let mut chpasswd =
            Command::new("chpasswd").stdin(Stdio::piped()).spawn().map_err(|e| format!("chpasswd: {e}"))?;
        use std::io::Write as _;
        let line = format!("{}:{password}\n", user.name);
        chpasswd.stdin.take().expect("piped").write_all(line.as_bytes()).map_err(|e| format!("chpasswd: {e}"))?;
        if !chpasswd.wait().map_err(|e| format!("chpasswd: {e}"))?.success() {
            return Err(format!("chpasswd failed for {}", user.name));
        }
    } else if shadow_password(user.name)? != "*" {
        run(Command::new("usermod").args(["--password", "*", user.name]))?;
    }

    let home = PathBuf::from(&entry.home);
    fs::create_dir_all(&home).map_err(|e| format!("mkdir {}: {e}", home.display()))?;
    chown(&home, Some(entry.uid), Some(entry.gid)).map_err(|e| format!("chown {}: {e}", home.display()))?;
    set_mode(&home, 0o755)?;
    if let Some(bashrc) = user.bashrc {
        let path = home.join(".bashrc");
        // Written aside and renamed, so a login that starts meanwhile (from
        // another test process) never reads half a file.
        let tmp = home.join(".bashrc.pushy-tmp");
        write(&tmp, bashrc, 0o644)?;
        chown(&tmp, Some(entry.uid), Some(entry.gid)).map_err(|e| format!("chown {}: {e}", tmp.display()))?;
        fs::rename(&tmp, &path).map_err(|e| format!("rename to {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The fields of a passwd entry that matter here.
struct PasswdEntry {
    uid: u32,
    gid: u32,
    home: String,
    shell: String,
}

/// Looks a user up through NSS (`getent`), so it sees what sshd sees.
fn passwd_entry(name: &str) -> Result<Option<PasswdEntry>, String> {
    let Some(line) = getent("passwd", name)? else {
        return Ok(None);
    };
    // name:password:uid:gid:gecos:home:shell
    let fields: Vec<&str> = line.split(':').collect();
    let parse = |i: usize| fields.get(i).and_then(|f| f.parse::<u32>().ok());
    match (parse(2), parse(3), fields.get(5), fields.get(6)) {
        (Some(uid), Some(gid), Some(home), Some(shell)) => {
            Ok(Some(PasswdEntry { uid, gid, home: home.to_string(), shell: shell.to_string() }))
        }
        _ => Err(format!("cannot parse the passwd entry of {name}: {line:?}")),
    }
}

/// The password field of a user's shadow entry ("!" when locked).
fn shadow_password(name: &str) -> Result<String, String> {
    let line = getent("shadow", name)?.ok_or_else(|| format!("{name} has no shadow entry"))?;
    Ok(line.split(':').nth(1).unwrap_or_default().to_string())
}

/// One `getent` line, or `None` when the key is not in the database.
fn getent(database: &str, key: &str) -> Result<Option<String>, String> {
    let out = Command::new("getent")
        .args([database, key])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run getent: {e}"))?;
    // Exit status 2: the key was not found.
    match out.status.code() {
        Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).trim_end().to_string())),
        Some(2) => Ok(None),
        _ => Err(format!("getent {database} {key}: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim())),
    }
}

/// Removes the state directories of test processes that are gone.
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let gone =
            unsafe { libc::kill(pid, 0) } == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Generates an ed25519 key pair without a passphrase at `path`.
fn keygen(path: &Path) -> Result<(), String> {
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "pushy-test", "-f"]).arg(path))
}

fn pub_path(key: &Path) -> PathBuf {
    let mut path = key.as_os_str().to_owned();
    path.push(".pub");
    PathBuf::from(path)
}

/// Runs a set-up command; its stderr becomes the error.
fn run(command: &mut Command) -> Result<(), String> {
    let out = command.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Quotes a path for `sshd_config` and `ssh_config`, which split on spaces.
fn quote(path: &Path) -> String {
    format!("\"{}\"", path.display())
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))
}

fn write(path: &Path, contents: &str, mode: u32) -> Result<(), String> {
    fs::write(path, contents).map_err(|e| format!("write {}: {e}", path.display()))?;
    set_mode(path, mode)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {mode:o} {}: {e}", path.display()))
}
