#!/usr/bin/env python3
"""pushy's benchmark driver: pushy vs the ssh floor vs Mitogen, execnet and
RPyC, over a loopback sshd. Started by bench/run (see bench/README.md),
which builds the binaries and the peers' venv and passes their paths here.

Python 3 standard library only. The peers run in their own processes (the
venv's python, with the snippet in PEER_SCRIPT below), never in this one.

Every repetition runs every selected case, and within a case every tool
once, in an order that rotates from one repetition to the next
(interleaved, so slow drift on this shared machine hits all tools alike).
A failing run is recorded with its error text; it never stops the run.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HOST_DEFAULT = "pushy-test"
MIB = 1 << 20

# ---------------------------------------------------------------------------
# The peers: one script, run by the venv's python as
#   peer.py TOOL OP CONFIG HOST [ARGS...]
# OP is `eval CODE` (connect, evaluate once, bring the value into this
# process, print its size), `warm N` (connect, evaluate `1` N times,
# print the time per call) or `fanout FORKS CODE` with HOST a comma-separated
# list (connect to every host, FORKS at a time from a thread pool, evaluate
# CODE once on each, bring the values here, print how many). Each peer
# evaluates the same expression text; modules are reached with __import__
# since the peers do not import on use.
# ---------------------------------------------------------------------------
PEER_SCRIPT = r'''
import json, sys, time

tool, op, config, host = sys.argv[1:5]
args = sys.argv[5:]
shared = {}  # Mitogen: one broker and router for every connection


def finish():
    """Closes what connections share (Mitogen's broker)."""
    if "broker" in shared:
        shared["broker"].shutdown()
        shared["broker"].join()


def connect(host):
    """Returns (evaluate(code) -> local value, close())."""
    if tool == "mitogen":
        import mitogen.master
        if "router" not in shared:
            shared["broker"] = mitogen.master.Broker()
            # The default limit (128 MiB per message) refuses the bulk case.
            shared["router"] = mitogen.master.Router(shared["broker"],
                                                     max_message_size=1 << 30)
        ctx = shared["router"].ssh(hostname=host, ssh_args=["-F", config],
                                   python_path=["python3"])

        def close():
            if op == "fanout":  # else finish() disconnects it
                ctx.shutdown(wait=True)
        return (lambda code: ctx.call(eval, code, {})), close
    if tool == "execnet":
        import execnet
        gw = execnet.makegateway("ssh=-F %s %s//python=python3" % (config, host))
        ch = gw.remote_exec("for code in channel: channel.send(eval(code, {}))")

        def evaluate(code):
            ch.send(code)
            return ch.receive()

        def close():
            ch.close()
            gw.exit()
        return evaluate, close
    if tool == "rpyc":
        import plumbum
        import rpyc
        from rpyc.core.netref import BaseNetref
        from rpyc.utils.zerodeploy import DeployedServer
        # The loopback sshd has no sftp subsystem: scp -O (the old protocol).
        machine = plumbum.SshMachine(host, ssh_opts=["-F", config],
                                     scp_opts=["-O", "-F", config])
        server = DeployedServer(machine, python_executable="python3")
        conn = server.classic_connect()

        def evaluate(code):
            value = conn.eval(code)
            # Mutable results come back as proxies: copy them here.
            if isinstance(value, BaseNetref):
                value = rpyc.classic.obtain(value)
            return value

        def close():
            conn.close()
            server.close()
            machine.close()
        return evaluate, close
    raise SystemExit("unknown peer %r" % tool)


t0 = time.perf_counter()
if op == "fanout":
    from concurrent.futures import ThreadPoolExecutor
    forks, code = int(args[0]), args[1]
    hosts = host.split(",")

    def one(h):
        evaluate, close = connect(h)
        try:
            return evaluate(code)
        finally:
            close()
    try:
        with ThreadPoolExecutor(forks) as pool:
            values = list(pool.map(one, hosts))
        print(json.dumps({"hosts": len(values),
                          "ok": sum(1 for v in values if isinstance(v, str) and v)}))
    finally:
        finish()
    sys.exit(0)
evaluate, close = connect(host)
try:
    if op == "eval":
        value = evaluate(args[0])
        print(json.dumps({"len": len(value) if hasattr(value, "__len__") else None}))
    elif op == "warm":
        n = int(args[0])
        first = evaluate("1")
        if first != 1:
            raise SystemExit("eval('1') returned %r" % (first,))
        connected = time.perf_counter() - t0
        start = time.perf_counter()
        for _ in range(n):
            evaluate("1")
        total = time.perf_counter() - start
        print(json.dumps({"connect_ms": connected * 1e3,
                          "us_per_call": total * 1e6 / max(n, 1)}))
    else:
        raise SystemExit("unknown op %r" % op)
finally:
    close()
    finish()
'''

PEERS = ["mitogen", "execnet", "rpyc"]
PEER_IMPORTS = {"mitogen": "mitogen.master", "execnet": "execnet",
                "rpyc": "rpyc, plumbum"}
PEER_DISTS = {"mitogen": ["mitogen"], "execnet": ["execnet"],
              "rpyc": ["rpyc", "plumbum"]}


class Failed(Exception):
    """One measurement failed; the message goes into the table."""


def one_line(text, limit=160):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    if not lines:
        return ""
    # The last line of a traceback says the most; error: lines likewise.
    picked = lines[-1]
    for l in lines:
        if l.lower().startswith(("error", "pushy:", "bench_warm:")):
            picked = l
            break
    picked = picked.replace("|", "\\|")
    return picked if len(picked) <= limit else picked[: limit - 1] + "…"


class Bench:
    def __init__(self, opts):
        self.o = opts
        self.tmp = opts.tmp
        self.config = opts.config
        self.host = opts.host
        self.harness = None        # the sshd server process we started
        self.info_file = None
        self.floor_ctl = None      # the ssh master of the reuse floor
        self.ctl_dirs = []
        self.data_dir = None
        self.children = set()      # pids of running measured processes
        self.results = {}          # row key -> {"samples": [...], "rss": [...], "errors": [...]}
        self.extra = {}            # row key -> list of strings (notes)
        self.peers = []
        self.peer_notes = {}
        self.slow = {}             # row key -> seconds its first run took
        self.cmds = []             # (case, label, command) for RESULTS.md
        self.fanout_hosts = ["%s-f%02d" % (opts.host, i + 1) for i in range(opts.fanout_hosts)]
        self.fanout_file = os.path.join(self.tmp, "fanout-hosts")  # one a line, for xargs
        self.fanout_runs = 0

    # ---------------------------------------------------------- plumbing --
    def env(self, ctl=None, **more):
        env = dict(os.environ)
        env.pop("SSH_AUTH_SOCK", None)
        env["PUSHY_CONTROL_DIR"] = ctl or self.ctl("default")
        # A cache of this run's own: the user's is neither read nor
        # filled, and every run starts from the same (empty) state.
        env["XDG_CACHE_HOME"] = os.path.join(self.tmp, "cache")
        env.update(more)
        return env

    def ctl(self, name):
        path = os.path.join(self.tmp, "ctl-" + name)
        if not os.path.isdir(path):
            os.mkdir(path, 0o700)
            self.ctl_dirs.append(path)
        return path

    def run(self, cmd, *, env=None, timeout=None, stdout=subprocess.DEVNULL,
            rss=False, stdin=subprocess.DEVNULL):
        """Runs cmd; returns (wall seconds, stdout bytes or None, peak RSS KiB
        or None). Raises Failed on a non-zero exit or a timeout."""
        timeout = timeout or self.o.timeout
        timefile = None
        if rss:
            timefile = os.path.join(self.tmp, "time.out")
            cmd = ["/usr/bin/time", "-v", "-o", timefile] + list(cmd)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout,
                                stderr=subprocess.PIPE, env=env or self.env(),
                                start_new_session=True)
        self.children.add(proc.pid)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group(proc)
            proc.communicate()
            raise Failed("timeout after %ds" % timeout)
        finally:
            self.children.discard(proc.pid)
        wall = time.perf_counter() - start
        peak = None
        if rss:
            text = open(timefile).read()
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
            peak = int(m.group(1)) if m else None
            m = re.search(r"Exit status: (\d+)", text)
            if m and proc.returncode == 0:
                proc.returncode = int(m.group(1))
        if proc.returncode != 0:
            msg = one_line(err.decode(errors="replace")) or "no message"
            raise Failed("exit %d: %s" % (proc.returncode, msg))
        return wall, out, peak

    def kill_group(self, proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def ssh(self, *args):
        return ["ssh", "-F", self.config] + list(args)

    def pushy(self, *args):
        return [self.o.pushy, "exec", "-F", self.config, self.host] + list(args)

    def peer(self, tool, op, *args):
        return [self.o.venv_python, self.peer_script, tool, op, self.config,
                self.host] + list(args)

    # ------------------------------------------------------------ set-up --
    def start_sshd(self):
        if self.config:
            return
        self.info_file = os.path.join(self.tmp, "sshd.info")
        log = open(os.path.join(self.tmp, "sshd-harness.log"), "wb")
        env = dict(os.environ, PUSHY_SSHD_INFO=self.info_file)
        self.harness = subprocess.Popen(
            [self.o.harness, "--ignored", "--exact", "harness::serve",
             "--nocapture"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=self.o.repo)
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(self.info_file):
                text = open(self.info_file).read().strip()
                if text:
                    self.config = text
                    break
            if self.harness.poll() is not None:
                raise SystemExit("the sshd harness exited (%s); see %s" % (
                    self.harness.returncode, log.name))
            time.sleep(0.1)
        else:
            raise SystemExit("the sshd harness did not start within 60s")
        print("sshd: config %s (harness pid %d)" % (self.config, self.harness.pid),
              file=sys.stderr)

    def check_loopback(self):
        hosts = [self.host] + (self.fanout_hosts if "6" in self.o.cases else [])
        for host in hosts:
            out = subprocess.run(["ssh", "-G", "-F", self.config, host],
                                 capture_output=True, text=True).stdout
            names = [l.split()[1] for l in out.splitlines() if l.startswith("hostname ")]
            if names != ["127.0.0.1"]:
                raise SystemExit("refusing: %s resolves to %s, not 127.0.0.1" % (host, names))

    def make_data(self):
        """The bulk file (random bytes) and the big directory, only for the
        cases that use them; in --data-dir (bench/run picks a tmpfs: making
        100k files on this machine's /tmp takes tens of seconds)."""
        data = self.o.data_dir or os.path.join(self.tmp, "data")
        os.makedirs(data, mode=0o700, exist_ok=True)
        self.data_dir = data
        self.bulk_file = os.path.join(data, "bulk-%dMiB.bin" % self.o.bulk_mib)
        self.big_dir = os.path.join(data, "dir-%d" % self.o.dir_entries)
        if "3" in self.o.cases:
            with open(self.bulk_file, "wb") as f:
                for _ in range(self.o.bulk_mib):
                    f.write(os.urandom(MIB))
        if "4" in self.o.cases:
            os.mkdir(self.big_dir)
            for i in range(self.o.dir_entries):
                os.close(os.open(os.path.join(self.big_dir, "entry-%06d" % i),
                                 os.O_CREAT | os.O_WRONLY, 0o600))
        self.peer_script = os.path.join(self.tmp, "peer.py")
        with open(self.peer_script, "w") as f:
            f.write(PEER_SCRIPT)
        with open(self.fanout_file, "w") as f:
            f.write("".join(h + "\n" for h in self.fanout_hosts))

    def find_peers(self):
        for tool in PEERS:
            if not self.o.venv_python:
                self.peer_notes[tool] = "skipped: no venv (--no-peers or venv creation failed)"
                continue
            r = subprocess.run([self.o.venv_python, "-c", "import %s" % PEER_IMPORTS[tool]],
                               capture_output=True, text=True)
            if r.returncode != 0:
                self.peer_notes[tool] = "skipped: cannot import: " + one_line(r.stderr)
                continue
            self.peers.append(tool)

    def start_floor_master(self):
        self.floor_ctl = os.path.join(self.ctl("floor"), "m")
        subprocess.run(self.ssh("-M", "-S", self.floor_ctl, "-f", "-N",
                                "-o", "ControlPersist=600", self.host),
                       check=True, stdin=subprocess.DEVNULL, timeout=30)

    def pick_local_python(self):
        """The interpreter of case 0 (and of case 4's local reference): by
        default the one the remote `python3` is (this machine is the
        remote), so that pushy's local: and the floor start the same
        program, and not a pyenv shim that costs tens of ms by itself.
        Both find it as `python3` on a PATH that starts with its directory."""
        path = self.o.local_python
        if not path:
            r = subprocess.run(self.ssh(self.host, "python3 -c 'import sys; print(sys.executable)'"),
                               capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
            path = r.stdout.strip()
            if r.returncode != 0 or not os.access(path, os.X_OK):
                path = shutil.which("python3") or "python3"
        path = os.path.abspath(path)
        self.local_path = os.path.dirname(path) + os.pathsep + os.environ.get("PATH", "")
        found = shutil.which("python3", path=self.local_path)
        if not found or os.path.realpath(found) != os.path.realpath(path):
            raise SystemExit("--local-python %s: its directory holds no `python3` that is it "
                             "(case 0 runs `python3` from PATH for both tools)" % path)
        version = subprocess.run([path, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True).stdout.strip()
        self.local_python = "%s (%s)" % (path, version)
        print("case 0 and the local reference use %s" % self.local_python, file=sys.stderr)

    def cleanup(self):
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        # Masters: the floor's, and any pushy left in our control dirs.
        for d in self.ctl_dirs:
            for name in (os.listdir(d) if os.path.isdir(d) else []):
                sock = os.path.join(d, name)
                if name.endswith(".log") or not os.path.exists(sock):
                    continue
                if self.config:
                    subprocess.run(["ssh", "-F", self.config, "-S", sock, "-O", "exit",
                                    self.host], stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=10)
        if self.harness is not None:
            if self.info_file and os.path.exists(self.info_file):
                os.unlink(self.info_file)  # the harness serves until this goes
            try:
                self.harness.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.harness.terminate()
                self.harness.wait(timeout=10)
        if self.o.data_dir:
            shutil.rmtree(self.o.data_dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------- cases --
    def record(self, key, value=None, rss=None, error=None):
        r = self.results.setdefault(key, {"samples": [], "rss": [], "errors": []})
        if error is not None:
            r["errors"].append(error)
        else:
            r["samples"].append(value)
            if rss is not None:
                r["rss"].append(rss)

    def define_cases(self):
        """Returns [(case id, title, unit, better (low|high), [row])]; a row
        is a dict with tool, role (pushy|floor|peer|ref|info), fn (returns
        value or (value, rss KiB)), cmd (for the record), and for pushy
        rows target: ("le"|"ge", ratio to the floor[, "peers"]).
        The fn lambdas run later, after this function has rebound its
        locals (k, f, code...): each binds what it uses as a default."""
        o, host = self.o, self.host
        cases = []
        listdir = 'os.listdir("/")'
        peer_listdir = '__import__("os").listdir("/")'

        # 0. Start-up: pushy's local: target against the same interpreter
        # started by hand. Both find `python3` on the same PATH, whose first
        # entry is the directory of the interpreter chosen in main() (the
        # remote one, not a pyenv shim that costs tens of ms by itself).
        k = o.startup_calls
        rows = []
        env0 = self.env(PATH=self.local_path)
        cmd = [o.pushy, "exec", "local:", listdir]
        rows.append(dict(tool="pushy exec local: CODE", role="pushy", cmd=cmd, path_note=True,
                         target=("le", 1.8),
                         fn=lambda cmd=cmd, k=k: self.sequential(cmd, k, env0, warm=True)))
        cmd = ["python3", "-c", 'import os; print(os.listdir("/"))']
        rows.append(dict(tool="python3 -c CODE (floor)", role="floor", cmd=cmd, path_note=True,
                         fn=lambda cmd=cmd, k=k: self.sequential(cmd, k, env0, warm=True)))
        cases.append(("0", "Start-up: `os.listdir(\"/\")` on this machine, %d sequential calls" % k,
                      "ms/call", "low", rows))

        # 1. Cold one-shot.
        rows = []
        cmd = self.pushy("--no-reuse", listdir)
        rows.append(dict(tool="pushy exec --no-reuse", role="pushy", cmd=cmd,
                         target=("le", 1.2, "peers"),
                         fn=lambda cmd=cmd: self.run(cmd, env=self.env(self.ctl("cold")))[0] * 1e3))
        cmd = self.ssh(host, "python3 -c 'import os; print(os.listdir(\"/\"))'")
        rows.append(dict(tool="ssh python3 -c (floor)", role="floor", cmd=cmd,
                         fn=lambda cmd=cmd: self.run(cmd)[0] * 1e3))
        for tool in self.peers:
            cmd = self.peer(tool, "eval", peer_listdir)
            rows.append(dict(tool=tool + " (fresh process)", role="peer", cmd=cmd,
                             fn=lambda cmd=cmd: self.run(cmd)[0] * 1e3))
        cases.append(("1", "Cold one-shot `os.listdir(\"/\")`", "ms", "low", rows))

        # 2. Warm round trip.
        n = o.warm_calls
        rows = []
        cmd = [o.warm_bin, "-F", self.config, host, str(n)]
        rows.append(dict(tool="pushy::Session (bench_warm)", role="pushy", cmd=cmd,
                         target=("le", 1.2),
                         fn=lambda cmd=cmd: self.parse_warm(self.run(cmd, stdout=subprocess.PIPE)[1])))
        rows.append(dict(tool="line echo via `ssh HOST cat` (floor)", role="floor",
                         cmd=self.ssh(host, "cat"),
                         fn=lambda n=n: self.echo_floor(self.ssh(host, "cat"), n)))
        rows.append(dict(tool="line echo via `ssh -S CTL HOST cat` (mux, info)", role="info",
                         cmd=self.ssh("-S", "CTL", host, "cat"),
                         fn=lambda n=n: self.echo_floor(self.ssh("-S", self.floor_ctl, host, "cat"), n)))
        # What any Python server pays: the same echo by a read/write loop in
        # the host's python3 (no protocol, no threads), to tell the
        # interpreter's share of the gap to `cat` from pushy's.
        py_echo = "python3 -c " + shlex.quote(
            "import os\nwhile True:\n    d = os.read(0, 65536)\n    if not d: break\n    os.write(1, d)")
        rows.append(dict(tool="line echo via `ssh HOST python3 -c LOOP` (a Python floor, info)", role="info",
                         cmd=self.ssh(host, py_echo),
                         fn=lambda n=n, c=py_echo: self.echo_floor(self.ssh(host, c), n)))
        for tool in self.peers:
            cmd = self.peer(tool, "warm", str(n))
            rows.append(dict(tool=tool, role="peer", cmd=cmd,
                             fn=lambda cmd=cmd: self.parse_warm(self.run(cmd, stdout=subprocess.PIPE)[1])))
        cases.append(("2", "Warm round trip, %d trivial evals in one session" % n,
                      "µs/call", "low", rows))

        # 3. Bulk bytes, over the same kind of channel as the floor: pushy
        # on its kept master (opened by an untimed call before each run),
        # the floor `ssh -S CTL` on the floor's master. Connection set-up is
        # in neither; pushy's interpreter start and server push are in it.
        size = o.bulk_mib
        f = self.bulk_file
        qf = shlex.quote(f)
        down = os.path.join(self.data_dir, "download.bin")
        up = os.path.join(self.data_dir, "upload.bin")
        bulk_env = self.env(self.ctl("bulk"))
        mux_floor = self.ssh("-S", self.floor_ctl, host, "cat " + qf)

        # 3a. --raw bytes to stdout. The file object is `cat FILE`: its bytes
        # leave as they are read (by sendfile). `read()` must hold all of
        # them before the first can leave, which no floor does: an info row,
        # with the peers' way (an iterator of chunks) beside it.
        rows = []
        cmd = self.pushy("--raw", 'open(%s, "rb")' % json.dumps(f))
        rows.append(dict(tool="pushy exec --raw 'open(FILE, \"rb\")' > /dev/null (master reused)", role="pushy",
                         cmd=cmd, target=("ge", 0.9),
                         fn=lambda cmd=cmd: self.rate_rss(cmd, size, env=bulk_env, warm=True)))
        rows.append(dict(tool="ssh -S CTL HOST cat FILE > /dev/null (floor)", role="floor",
                         cmd=self.ssh("-S", "CTL", host, "cat " + qf),
                         fn=lambda: self.rate_rss(mux_floor, size)))
        cmd = self.pushy("--raw", 'open(%s, "rb").read()' % json.dumps(f))
        rows.append(dict(tool="pushy exec --raw 'open(FILE, \"rb\").read()', one value (master reused, info)",
                         role="info", cmd=cmd,
                         fn=lambda cmd=cmd: self.rate_rss(cmd, size, env=bulk_env, warm=True)))
        cmd = self.pushy("--raw", 'iter(functools.partial(open(%s, "rb").read, 1 << 20), b"")' % json.dumps(f))
        rows.append(dict(tool="pushy exec --raw, MiB chunks streamed (master reused, info)", role="info",
                         cmd=cmd, fn=lambda cmd=cmd: self.rate_rss(cmd, size, env=bulk_env, warm=True)))
        cmd = self.pushy("--no-reuse", "--raw", 'open(%s, "rb")' % json.dumps(f))
        rows.append(dict(tool="pushy exec --no-reuse --raw 'open(FILE, \"rb\")' > /dev/null (info)", role="info", cmd=cmd,
                         fn=lambda cmd=cmd: self.rate_rss(cmd, size, env=self.env(self.ctl("bulk-cold")))))
        cmd = self.ssh(host, "cat " + qf)
        rows.append(dict(tool="ssh HOST cat FILE > /dev/null (new connection, info)", role="info",
                         cmd=cmd, fn=lambda cmd=cmd: self.rate_rss(cmd, size)))
        for tool in self.peers:
            cmd = self.peer(tool, "eval", 'open(%s, "rb").read()' % json.dumps(f))
            rows.append(dict(tool=tool + " (into process)", role="peer", cmd=cmd,
                             fn=lambda cmd=cmd: self.rate_rss(cmd, size, expect_len=size * MIB,
                                                              timeout=o.bulk_peer_timeout)))
        cases.append(("3a", "Bulk bytes: %d MiB remote file to stdout" % size,
                      "MiB/s", "high", rows))

        # 3b. pushy cp download to a local file.
        rows = []
        cmd = [o.pushy, "cp", "-q", "-F", self.config, "%s:%s" % (host, f), down]
        rows.append(dict(tool="pushy cp HOST:FILE LOCAL (master reused)", role="pushy", cmd=cmd,
                         target=("ge", 0.9),
                         fn=lambda cmd=cmd: self.rate_rss(cmd, size, env=bulk_env, warm=True,
                                                          check_file=down)))
        rows.append(dict(tool="ssh -S CTL HOST cat FILE > LOCAL (floor)", role="floor",
                         cmd=self.ssh("-S", "CTL", host, "cat " + qf), redirect="> " + down,
                         fn=lambda: self.rate_rss(mux_floor, size, stdout_file=down,
                                                  check_file=down)))
        cases.append(("3b", "Bulk bytes: `pushy cp` download of a %d MiB file" % size,
                      "MiB/s", "high", rows))

        # 3c. pushy cp upload from a local file.
        rows = []
        cmd = [o.pushy, "cp", "-q", "-F", self.config, f, "%s:%s" % (host, up)]
        rows.append(dict(tool="pushy cp LOCAL HOST:FILE (master reused)", role="pushy", cmd=cmd,
                         target=("ge", 0.9),
                         fn=lambda cmd=cmd: self.rate_rss(cmd, size, env=bulk_env, warm=True,
                                                          check_file=up)))
        cmd = self.ssh("-S", self.floor_ctl, host, "cat > " + shlex.quote(up))
        rows.append(dict(tool="ssh -S CTL HOST 'cat > FILE' < LOCAL (floor)", role="floor",
                         cmd=self.ssh("-S", "CTL", host, "cat > " + shlex.quote(up)), redirect="< " + f,
                         fn=lambda cmd=cmd, f=f: self.rate_rss(cmd, size, stdin_file=f, check_file=up)))
        cases.append(("3c", "Bulk bytes: `pushy cp` upload of a %d MiB file" % size,
                      "MiB/s", "high", rows))

        # 4. Large structured values.
        for sub, limit, code, peer_code, local_code, title in [
            ("4a", 1.2, "list(range(1_000_000))", "list(range(1_000_000))",
             "print(list(range(10**6)))", "`list(range(1_000_000))`"),
            ("4b", 1.1, "os.listdir(%s)" % json.dumps(self.big_dir),
             '__import__("os").listdir(%s)' % json.dumps(self.big_dir),
             "import os; print(os.listdir(%s))" % json.dumps(self.big_dir),
             "`os.listdir` of a %d-entry dir" % o.dir_entries),
            # A query's result: a table of rows (no target set; it shows the
            # cost of many small containers, which 4a and 4b do not have).
            ("4c", None, "[(i, str(i)) for i in range(1_000_000)]",
             "[(i, str(i)) for i in range(1_000_000)]",
             "print([(i, str(i)) for i in range(10**6)])", "a million `(int, str)` rows"),
            # The same as records, as JSON APIs and csv.DictReader give them.
            ("4d", None, '[{"id": i, "name": str(i)} for i in range(1_000_000)]',
             '[{"id": i, "name": str(i)} for i in range(1_000_000)]',
             'print([{"id": i, "name": str(i)} for i in range(10**6)])',
             'a million `{"id": int, "name": str}` records'),
        ]:
            rows = []
            for label, extra in [("pushy exec > /dev/null", []),
                                 ("pushy exec --json > /dev/null", ["--json"])]:
                cmd = self.pushy("--no-reuse", *extra, code)
                rows.append(dict(tool=label, role="pushy", cmd=cmd,
                                 fn=lambda cmd=cmd: self.timed_rss(cmd, self.env(self.ctl("large")))))
                if limit is not None:
                    rows[-1]["target"] = ("le", limit)
            cmd = self.ssh(host, "python3 -c " + shlex.quote(local_code))
            rows.append(dict(tool="ssh python3 -c print (floor)", role="floor", cmd=cmd,
                             fn=lambda cmd=cmd: self.timed_rss(cmd)))
            cmd = ["python3", "-c", local_code]
            rows.append(dict(tool="local python3 -c print (reference)", role="ref", cmd=cmd,
                             path_note=True, fn=lambda cmd=cmd: self.timed_rss(cmd, env0)))
            for tool in self.peers:
                cmd = self.peer(tool, "eval", peer_code)
                rows.append(dict(tool=tool + " (into process)", role="peer", cmd=cmd,
                                 fn=lambda cmd=cmd: self.timed_rss(cmd)))
            cases.append((sub, "Large value: " + title, "ms", "low", rows))

        # 7 (run here, shown after 6). User code that calls builtins in a
        # loop, on this machine: the namespace's auto-import must not tax
        # every lookup of `len` or `str`.
        loop = "sum(len(str(i)) for i in range(1_000_000))"
        rows = []
        cmd = [o.pushy, "exec", "local:", loop]
        rows.append(dict(tool="pushy exec local: LOOP", role="pushy", cmd=cmd, path_note=True,
                         fn=lambda cmd=cmd: self.timed_rss(cmd, env0)))
        cmd = ["python3", "-c", "print(%s)" % loop]
        rows.append(dict(tool="python3 -c LOOP (floor)", role="floor", cmd=cmd, path_note=True,
                         fn=lambda cmd=cmd: self.timed_rss(cmd, env0)))
        loop_case = ("7", "User code: `%s` on this machine" % loop, "ms", "low", rows)

        # 5. Reuse: dotted code (auto-import) on a kept master.
        k = o.reuse_calls
        rows = []
        cmd = self.pushy(listdir)
        rows.append(dict(tool="pushy exec (master reused)", role="pushy", cmd=cmd,
                         target=("le", 1.3),
                         fn=lambda cmd=cmd, k=k: self.sequential(cmd, k, self.env(self.ctl("reuse")), warm=True)))
        code = "python3 -c " + shlex.quote('import os; print(os.listdir("/"))')
        rows.append(dict(tool="ssh -o ControlPath=CTL HOST python3 -c (floor)", role="floor",
                         cmd=self.ssh("-o", "ControlPath=CTL", host, code),
                         fn=lambda code=code, k=k: self.sequential(
                             self.ssh("-o", "ControlPath=" + self.floor_ctl, host, code), k, None)))
        cases.append(("5", "Reuse: %d sequential `os.listdir(\"/\")` on an open master" % k,
                      "ms/call", "low", rows))

        # 6. Fan-out: one call over many hosts, cold, FORKS at a time.
        hosts, forks = self.fanout_hosts, o.fanout_forks
        csv = ",".join(hosts)
        rows = []
        cmd = [o.pushy, "exec", "-F", self.config, csv, "--no-reuse", "--forks", str(forks),
               "--json", "platform.node()"]
        rows.append(dict(tool="pushy exec --no-reuse --forks %d --json" % forks, role="pushy",
                         cmd=cmd, fn=lambda cmd=cmd: self.fanout_pushy(cmd)))
        cmd = ["xargs", "-a", self.fanout_file, "-P", str(forks), "-I{}"] + self.ssh(
            "{}", "python3 -c 'import platform; print(platform.node())'")
        rows.append(dict(tool="xargs -P %d ssh HOST python3 -c (floor)" % forks, role="floor",
                         cmd=cmd, fn=lambda cmd=cmd: self.fanout_floor(cmd)))
        for tool in self.peers:
            cmd = [o.venv_python, self.peer_script, tool, "fanout", self.config, csv,
                   str(forks), '__import__("platform").node()']
            rows.append(dict(tool="%s (%d threads)" % (tool, forks), role="peer", cmd=cmd,
                             fn=lambda cmd=cmd: self.fanout_peer(cmd)))
        # Ansible, as its users run Python (`-m command`), and its own floor
        # (`-m raw`: ssh and nothing else), with fresh connections like the
        # others (ANSIBLE_SSH_ARGS without ControlPersist).
        ansible = os.path.join(os.path.dirname(o.venv_python or ""), "ansible")
        if o.venv_python and os.access(ansible, os.X_OK):
            inventory = os.path.join(self.tmp, "fanout-inventory.ini")
            with open(inventory, "w") as f:
                f.write("[fleet]\n" + "".join(h + "\n" for h in hosts))
            code = "python3 -c 'import platform; print(platform.node())'"
            for module in ("command", "raw"):
                cmd = [ansible, "all", "-i", inventory, "-f", str(forks), "-m", module, "-a", code]
                rows.append(dict(tool="ansible -m %s -f %d" % (module, forks), role="peer", cmd=cmd,
                                 fn=lambda cmd=cmd: self.fanout_ansible(cmd)))
        else:
            self.peer_notes["ansible"] = "skipped: no ansible in the venv"
        cases.append(("6", "Fan-out: `platform.node()` on %d hosts, cold, %d at a time" % (
            len(hosts), forks), "s", "low", rows))
        cases.append(loop_case)
        for cid, _, _, _, rows in cases:
            for row in rows:
                row["cid"] = cid
        return cases

    # Measurement helpers.
    def parse_warm(self, out):
        try:
            text = out.decode()
            if text.lstrip().startswith("{"):
                return json.loads(text)["us_per_call"]
            return float(re.search(r"us_per_call=([\d.]+)", text).group(1))
        except Exception:
            raise Failed("unparsable output: %r" % out[:200])

    def echo_floor(self, cmd, n):
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=0, env=self.env(),
                                start_new_session=True)
        self.children.add(proc.pid)
        try:
            fi, fo = proc.stdin.fileno(), proc.stdout.fileno()

            def once():
                os.write(fi, b"ping\n")
                got = b""
                while not got.endswith(b"\n"):
                    chunk = os.read(fo, 64)
                    if not chunk:
                        raise Failed("ssh cat closed: " + one_line(proc.stderr.read().decode()))
                    got += chunk
            once()  # connected and echoing
            start = time.perf_counter()
            for _ in range(n):
                once()
            total = time.perf_counter() - start
            proc.stdin.close()
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                self.kill_group(proc)
                proc.wait()
            self.children.discard(proc.pid)
        return total * 1e6 / n

    def rate_rss(self, cmd, size, env=None, expect_len=None, timeout=None, warm=False,
                 stdout_file=None, stdin_file=None, check_file=None):
        """MiB/s (and peak RSS) of a process that brings `size` MiB over.
        warm: first an untimed `pushy exec HOST 1` with the same env, so
        that the timed run finds pushy's master open (its persist time
        could have run out since the last repetition). stdout_file and
        stdin_file redirect the process's output and input. check_file:
        a file the run must leave with exactly `size` MiB in it; it is
        removed before the run and after the check."""
        if warm:
            self.run(self.pushy("1"), env=env)
        if check_file:
            self.remove(check_file)
        stdout = subprocess.PIPE if expect_len is not None else subprocess.DEVNULL
        out_f = open(stdout_file, "wb") if stdout_file else None
        in_f = open(stdin_file, "rb") if stdin_file else None
        try:
            wall, out, peak = self.run(cmd, env=env, stdout=out_f or stdout, rss=True,
                                       timeout=timeout, stdin=in_f or subprocess.DEVNULL)
        except Failed as e:
            if timeout and str(e).startswith("timeout"):
                raise Failed("did not finish within %d s (so < %.1f MiB/s)" % (timeout, size / timeout))
            raise
        finally:
            for fh in (out_f, in_f):
                if fh:
                    fh.close()
        if expect_len is not None:
            got = json.loads(out.decode()).get("len")
            if got != expect_len:
                raise Failed("got %r bytes, expected %d" % (got, expect_len))
        if check_file:
            try:
                got = os.stat(check_file).st_size
            except OSError as e:
                raise Failed("no %s after the run: %s" % (os.path.basename(check_file), e.strerror))
            self.remove(check_file)
            if got != size * MIB:
                raise Failed("%s has %d bytes, expected %d" % (
                    os.path.basename(check_file), got, size * MIB))
        return size / wall, peak

    @staticmethod
    def remove(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def timed_rss(self, cmd, env=None):
        wall, _, peak = self.run(cmd, env=env, rss=True)
        return wall * 1e3, peak

    def sequential(self, cmd, k, env, warm=False):
        if warm:  # the first call starts the master: not part of the case
            self.run(cmd, env=env)
        start = time.perf_counter()
        for _ in range(k):
            self.run(cmd, env=env)
        return (time.perf_counter() - start) * 1e3 / k

    def fanout_pushy(self, cmd):
        """Seconds and peak RSS of one pushy call over every fan-out host,
        with a control dir of its own (nothing to reuse); checks that every
        host answered."""
        self.fanout_runs += 1
        env = self.env(self.ctl("fanout-%d" % self.fanout_runs))
        wall, out, peak = self.run(cmd, env=env, stdout=subprocess.PIPE, rss=True)
        got = {}
        for line in out.decode(errors="replace").splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                raise Failed("unparsable output line: %r" % line[:120])
            got[r.get("host")] = r
        bad = [h for h in self.fanout_hosts if not (got.get(h) or {}).get("ok")]
        if bad:
            raise Failed("%d/%d hosts without a result, e.g. %s: %s" % (
                len(bad), len(self.fanout_hosts), bad[0], one_line(json.dumps(got.get(bad[0])))))
        return wall, peak

    def fanout_floor(self, cmd):
        wall, out, peak = self.run(cmd, stdout=subprocess.PIPE, rss=True)
        lines = [l for l in out.decode(errors="replace").splitlines() if l.strip()]
        if len(lines) != len(self.fanout_hosts):
            raise Failed("%d lines of output for %d hosts" % (len(lines), len(self.fanout_hosts)))
        return wall, peak

    def fanout_ansible(self, cmd):
        env = dict(os.environ, ANSIBLE_SSH_ARGS="-F " + self.config, ANSIBLE_HOST_KEY_CHECKING="False",
                   ANSIBLE_PYTHON_INTERPRETER="auto_silent", ANSIBLE_LOCALHOST_WARNING="False")
        wall, out, peak = self.run(cmd, env=env, stdout=subprocess.PIPE, rss=True)
        done = [l for l in out.decode(errors="replace").splitlines() if " | CHANGED " in l or " | SUCCESS " in l]
        if len(done) != len(self.fanout_hosts):
            raise Failed("%d of %d hosts answered: %s" % (len(done), len(self.fanout_hosts), one_line(out.decode(errors="replace"))))
        return wall, peak

    def fanout_peer(self, cmd):
        wall, out, peak = self.run(cmd, stdout=subprocess.PIPE, rss=True)
        try:
            r = json.loads(out.decode().strip().splitlines()[-1])
        except Exception:
            raise Failed("unparsable output: %r" % out[:200])
        if r.get("ok") != len(self.fanout_hosts):
            raise Failed("%s of %d hosts answered" % (r.get("ok"), len(self.fanout_hosts)))
        return wall, peak

    # --------------------------------------------------------------- run --
    def measure(self, cases):
        selected = [c for c in cases if case_number(c[0]) in self.o.cases]
        for rep in range(self.o.reps):
            t0 = time.time()
            for cid, title, unit, better, rows in selected:
                shift = rep % len(rows)
                for row in rows[shift:] + rows[:shift]:
                    key = (cid, row["tool"])
                    if key in self.slow:
                        continue
                    if cid == "6" and rep >= self.o.fanout_reps:
                        continue
                    t1 = time.perf_counter()
                    try:
                        v = row["fn"]()
                        if isinstance(v, tuple):
                            self.record(key, v[0], rss=v[1])
                        else:
                            self.record(key, v)
                        shown = "%s %s" % (fmt(v[0] if isinstance(v, tuple) else v), unit)
                    except Failed as e:
                        self.record(key, error=str(e))
                        shown = "failed: %s" % e
                    except Exception as e:  # a bug here must not lose the run
                        self.record(key, error="%s: %s" % (type(e).__name__, e))
                        shown = "failed: %s: %s" % (type(e).__name__, e)
                    took = time.perf_counter() - t1
                    # A row whose one run takes very long (a peer's bulk
                    # transfer) is measured in the first repetition only,
                    # to keep the whole run within its budget; the table says so.
                    if took > self.o.slow_limit and rep == 0:
                        self.slow[key] = took
                    if self.o.verbose:
                        print("  [%d] %s %s: %s (%.1fs)" % (rep + 1, cid, row["tool"], shown, took),
                              file=sys.stderr, flush=True)
            print("rep %d/%d done in %.1fs" % (rep + 1, self.o.reps, time.time() - t0),
                  file=sys.stderr, flush=True)

    # ------------------------------------------------------------ report --
    def medians(self, rows):
        med = {}
        for row in rows:
            r = self.results.get((row["cid"], row["tool"]))
            if r and r["samples"]:
                med[row["tool"]] = statistics.median(r["samples"])
        return med

    def table(self, cases):
        out = ["| Case | Tool | Median | Min–max | vs floor | vs best peer | Target | Notes |",
               "|---|---|---|---|---|---|---|---|"]
        self.verdicts = []  # (case, row, median, floor row, floor median, target text, ok)
        for cid, title, unit, better, rows in cases:
            if case_number(cid) not in self.o.cases:
                continue
            med = self.medians(rows)
            floor_row = next((r for r in rows if r["role"] == "floor"), None)
            floor = med.get(floor_row["tool"]) if floor_row else None
            peer_meds = [med[r["tool"]] for r in rows if r["role"] == "peer" and r["tool"] in med]
            best_peer = (min(peer_meds) if better == "low" else max(peer_meds)) if peer_meds else None
            first = True
            for row in rows:
                r = self.results.get((cid, row["tool"]), {"samples": [], "rss": [], "errors": []})
                s = r["samples"]
                case_cell = "%s. %s" % (cid, title) if first else ""
                first = False
                notes = []
                if s:
                    m = statistics.median(s)
                    median = "%s %s" % (fmt(m), unit)
                    rng = "%s–%s" % (fmt(min(s)), fmt(max(s)))
                    vs_floor = ("%.2fx" % (m / floor)) if floor and row["role"] != "floor" else ""
                    vs_peer = ("%.2fx" % (m / best_peer)) if best_peer else ""
                    if row["role"] == "peer" and m == best_peer:
                        vs_peer = "(best peer)"
                else:
                    median, rng, vs_floor, vs_peer = "ERROR", "", "", ""
                if r["rss"]:
                    rs = [x / 1024 for x in r["rss"]]
                    notes.append("peak RSS %s MiB (%s–%s)" % (fmt(statistics.median(rs)),
                                                             fmt(min(rs)), fmt(max(rs))))
                if row.get("path_note"):
                    notes.append("python3 = %s" % self.local_python)
                if cid == "6" and min(self.o.fanout_reps, self.o.reps) < self.o.reps \
                        and (cid, row["tool"]) not in self.slow:
                    notes.append("%d of %d repetitions (--fanout-reps)" % (
                        min(self.o.fanout_reps, self.o.reps), self.o.reps))
                if (cid, row["tool"]) in self.slow and self.o.reps > 1:
                    notes.append("measured once (one run took %.0f s > --slow-limit %g s)" % (
                        self.slow[(cid, row["tool"])], self.o.slow_limit))
                if r["errors"]:
                    errs = sorted(set(r["errors"]))
                    n = len(r["errors"])
                    notes.append("%d/%d runs failed: %s" % (n, n + len(s), "; ".join(errs[:2])))
                target = ""
                if row["role"] == "pushy":
                    m = med.get(row["tool"])
                    target, ok = self.target(row, m, floor, peer_meds)
                    if ok is not None:
                        self.verdicts.append((cid, row, m, floor_row, floor, unit, target, ok))
                tool = row["tool"]
                if row["role"] == "pushy":
                    tool = "**%s**" % tool
                out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    case_cell, tool, median, rng, vs_floor, vs_peer, target, "; ".join(notes)))
        return "\n".join(out)

    def target(self, row, m, floor, peer_meds):
        """The Target cell of a pushy row, and whether it passes (None: no
        target set)."""
        spec = row.get("target")
        if spec is None:
            if m is not None and floor:
                return "none set (%.2fx floor)" % (m / floor), None
            return "none set", None
        text = target_text(spec)
        if m is None:
            return "FAIL (error; %s)" % text, False
        if floor is None:
            return "FAIL (no floor; %s)" % text, False
        ratio = m / floor
        ok = ratio <= spec[1] if spec[0] == "le" else ratio >= spec[1]
        if "peers" in spec[2:]:
            ok = ok and all(m < p for p in peer_meds)
        return "%s (%s)" % ("PASS" if ok else "FAIL", text), ok

    def targets_table(self):
        """The short summary: one line per target, pushy against its floor."""
        out = ["| Case | pushy | Median | Floor | Median | Ratio | Target | Result |",
               "|---|---|---|---|---|---|---|---|"]
        passed = 0
        for cid, row, m, floor_row, floor, unit, text, ok in self.verdicts:
            passed += ok
            out.append("| %s | %s | %s | %s | %s | %s | %s | **%s** |" % (
                cid, row["tool"],
                "%s %s" % (fmt(m), unit) if m is not None else "ERROR",
                floor_row["tool"] if floor_row else "",
                "%s %s" % (fmt(floor), unit) if floor is not None else "ERROR",
                "%.2fx" % (m / floor) if m is not None and floor else "",
                target_text(row["target"]),
                "PASS" if ok else "FAIL"))
        out.append("")
        out.append("%d of %d targets met." % (passed, len(self.verdicts)))
        return "\n".join(out)

    def machine_info(self):
        def cmd_out(args):
            try:
                r = subprocess.run(args, capture_output=True, text=True, timeout=20)
                return (r.stdout + r.stderr).strip()
            except Exception as e:
                return "unavailable (%s)" % e
        cpu = ""
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        mem = ""
        try:
            for line in open("/proc/meminfo"):
                if line.startswith("MemTotal"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
        except OSError:
            pass
        info = [
            ("Date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
            ("Kernel", " ".join(platform.uname()[0:3:2]) + " " + platform.machine()),
            ("CPU", "%s, %d cores" % (cpu, os.cpu_count() or 0)),
            ("Memory", mem),
            ("Load average (start)", self.load_start),
            ("Load average (end)", open("/proc/loadavg").read().strip()),
            ("OpenSSH", cmd_out(["ssh", "-V"])),
            ("pushy", "%s, commit %s" % (cmd_out([self.o.pushy, "--version"]), self.o.commit)),
            ("rustc", cmd_out(["rustc", "--version"])),
            ("Local python3 (the driver)", "%s (%s)" % (platform.python_version(), sys.executable)),
            ("python3 of case 0 and the local reference (first on their PATH)", getattr(self, "local_python", "not chosen")),
            ("Remote python3", cmd_out(self.ssh(self.host, "python3 -c 'import sys; print(sys.version.split()[0], sys.executable)'"))),
        ]
        if self.o.venv_python:
            info.append(("Peers' python (venv)", cmd_out([self.o.venv_python, "-c", "import sys; print(sys.version.split()[0], sys.prefix)"])))
            for tool in PEERS:
                vers = []
                for dist in PEER_DISTS[tool]:
                    vers.append(dist + " " + cmd_out([self.o.venv_python, "-c",
                                "import importlib.metadata as m; print(m.version(%r))" % dist]).splitlines()[-1])
                info.append((tool, ", ".join(vers) + ("" if tool in self.peers else " — " + self.peer_notes.get(tool, ""))))
        return info

    def write(self, cases, table, targets, elapsed):
        lines = ["# pushy benchmark results", "",
                 "Generated by `%s` (%.0f s). See bench/README.md for what each case measures." % (
                     " ".join(["bench/run"] + self.o.argv), elapsed), "",
                 "All cases run over a loopback sshd (127.0.0.1, the test harness's). "
                 "%d repetition(s) per case, tools interleaved round-robin; median and min–max of the repetitions. "
                 "\"vs floor\" and \"vs best peer\" are ratios of medians in the case's unit "
                 "(time: lower is better; MiB/s: higher is better)." % self.o.reps, "",
                 "## Machine and versions", ""]
        for k, v in self.machine_info():
            lines.append("- %s: %s" % (k, v.replace("\n", "; ")))
        lines += ["", "## Results", "", table, "", "## Targets", "",
                  "Each target is a ratio of medians to the case's floor (time: pushy/floor, "
                  "at most the target; MiB/s: pushy/floor, at least the target).", "",
                  targets, ""]
        if self.peer_notes:
            lines += ["Peers skipped:", ""] + ["- %s: %s" % kv for kv in self.peer_notes.items()] + [""]
        lines += ["## Commands", "",
                  "CONFIG is the harness's client ssh config, HOST `%s`, CTL an ssh master socket; "
                  "peer.py is the PEER_SCRIPT in bench/bench.py. Every run is a fresh process "
                  "unless stated; pushy runs with PUSHY_CONTROL_DIR set to a private temp dir." % self.host, "",
                  "```"]
        for cid, title, unit, better, rows in cases:
            if case_number(cid) not in self.o.cases:
                continue
            lines.append("# %s. %s" % (cid, title))
            for row in rows:
                shown = show_command(row["cmd"])
                if row.get("path_note"):
                    shown = "PATH=%s:$PATH %s" % (os.path.dirname(self.local_python.split()[0]), shown)
                if row.get("redirect"):
                    shown += " " + row["redirect"]
                lines.append("%-40s %s" % (row["tool"] + ":", self.redact(shown)))
        lines += ["```", ""]
        with open(self.o.out, "w") as f:
            f.write("\n".join(lines))

    def redact(self, text):
        if len(self.fanout_hosts) > 2:
            text = text.replace(",".join(self.fanout_hosts), "%s,...,%s" % (
                self.fanout_hosts[0], self.fanout_hosts[-1]))
        text = text.replace(self.config, "CONFIG")
        text = text.replace(self.peer_script, "peer.py")
        text = text.replace(self.tmp + "/", "$TMP/")
        text = text.replace(self.data_dir + "/", "$DATA/")
        if self.o.venv_python:
            text = text.replace(self.o.venv_python, "VENV/bin/python")
        text = text.replace(self.o.repo + "/", "")
        return text

    def main(self):
        self.load_start = open("/proc/loadavg").read().strip()
        start = time.time()
        self.start_sshd()
        self.check_loopback()
        self.find_peers()
        for tool, note in self.peer_notes.items():
            print("peer %s %s" % (tool, note), file=sys.stderr)
        print("making data: %d MiB file, %d-entry dir" % (self.o.bulk_mib, self.o.dir_entries),
              file=sys.stderr, flush=True)
        t = time.time()
        self.make_data()
        print("data made in %.1fs" % (time.time() - t), file=sys.stderr, flush=True)
        self.start_floor_master()
        self.pick_local_python()
        cases = self.define_cases()
        self.measure(cases)
        table = self.table(cases)
        targets = self.targets_table()
        print(table)
        print()
        print(targets)
        self.write(cases, table, targets, time.time() - start)
        print("\nwritten to %s" % self.o.out, file=sys.stderr)


def show_command(cmd):
    """A command line for people: like shlex.join, but an argument holding
    single quotes (and nothing the shell expands in double quotes) is shown
    in double quotes."""
    out = []
    for arg in cmd:
        if "'" in arg and not any(c in arg for c in '"$`\\!'):
            out.append('"%s"' % arg)
        else:
            out.append(shlex.quote(arg))
    return " ".join(out)


def case_number(cid):
    """"3a" -> "3": --cases selects whole cases."""
    return cid.rstrip("abcdefgh")


def target_text(spec):
    """("le", 1.2, "peers") -> "≤1.2x floor, < every peer"."""
    text = "%s%gx floor" % ("≤" if spec[0] == "le" else "≥", spec[1])
    if "peers" in spec[2:]:
        text += ", < every peer"
    return text


def fmt(x):
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pushy", default=os.path.join(repo, "target/release/pushy"))
    p.add_argument("--warm-bin", default=os.path.join(repo, "target/release/examples/bench_warm"))
    p.add_argument("--harness", help="the test binary that serves the loopback sshd")
    p.add_argument("--config", help="use this client ssh config (an sshd already running) instead of starting the harness")
    p.add_argument("--host", default=HOST_DEFAULT)
    p.add_argument("--venv-python", help="python of the peers' venv (none: peers skipped)")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 5, --quick 1)")
    p.add_argument("--quick", action="store_true", help="one repetition, a 32 MiB bulk file, 16 fan-out hosts: 1-2 minutes")
    p.add_argument("--cases", default="0,1,2,3,4,5,6,7", help="comma-separated case numbers (0-7)")
    p.add_argument("--startup-calls", type=int, default=20,
                   help="case 0: sequential calls per measurement")
    p.add_argument("--local-python",
                   help="case 0 and case 4's local reference: the python3 to run (default: the one the remote `python3` is)")
    p.add_argument("--warm-calls", type=int, default=2000)
    p.add_argument("--reuse-calls", type=int, default=50)
    p.add_argument("--bulk-mib", type=int, default=None, help="default 256 (--quick 32)")
    p.add_argument("--fanout-hosts", type=int, default=None,
                   help="case 6: how many host aliases HOST-f01, HOST-f02, ... (all 127.0.0.1); default 50 (--quick 16)")
    p.add_argument("--fanout-forks", type=int, default=16,
                   help="case 6: how many hosts at a time (pushy --forks, xargs -P, peers' threads)")
    p.add_argument("--fanout-reps", type=int, default=3,
                   help="case 6 runs in the first N repetitions only (each run takes 5-25 s)")
    p.add_argument("--dir-entries", type=int, default=100_000)
    p.add_argument("--timeout", type=int, default=180, help="per process, seconds")
    p.add_argument("--bulk-peer-timeout", type=int, default=30,
                   help="seconds a peer gets for the bulk transfer (RPyC's is very slow)")
    p.add_argument("--slow-limit", type=float, default=20,
                   help="a row whose first run takes longer (seconds) is not repeated")
    p.add_argument("-v", "--verbose", action="store_true", help="print every measurement as it is made")
    p.add_argument("--out", default=os.path.join(here, "RESULTS.md"))
    p.add_argument("--tmp", help="scratch directory (deleted at the end); default: a new one under $TMPDIR")
    p.add_argument("--data-dir", help="where to make the bulk file and the big dir (deleted at the end); default: under --tmp")
    p.add_argument("--commit", default="unknown")
    p.add_argument("--argv", default="", help=argparse.SUPPRESS)
    o = p.parse_args()
    o.repo = repo
    o.argv = shlex.split(o.argv)
    if o.reps is None:
        o.reps = 1 if o.quick else 5
    if o.bulk_mib is None:
        o.bulk_mib = 32 if o.quick else 256
    if o.fanout_hosts is None:
        o.fanout_hosts = 16 if o.quick else 50
    o.cases = set(c.strip() for c in o.cases.split(","))
    unknown = sorted(o.cases - set("01234567"))
    if unknown:
        p.error("--cases: no case %s; the cases are 0 to 7 (3 runs 3a-3c, 4 runs 4a-4c)" % ", ".join(unknown))
    if not o.config and not o.harness:
        p.error("give --harness (to start the loopback sshd) or --config")
    if o.tmp:
        os.makedirs(o.tmp, mode=0o700, exist_ok=True)
    else:
        o.tmp = tempfile.mkdtemp(prefix="pushy-bench-")
    os.chmod(o.tmp, 0o700)
    o.tmp = os.path.realpath(o.tmp)

    bench = Bench(o)

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        bench.main()
    finally:
        # Ignore further signals while cleaning up.
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        bench.cleanup()


if __name__ == "__main__":
    main()
