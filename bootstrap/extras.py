# pushy server extras: the parts of the pushed program that only some
# sessions need, compiled on first use instead of on every connection.
#
# A module of its own: server.py's load_extras() compiles this source (sent
# as the string `_EXTRAS_SOURCE`) into a module object made in memory, never
# written to disk nor put in sys.modules, and calls init() with the few server
# names this module declares below. It sees nothing else of the server, and
# the server calls it only through that module object (`extras.complete(...)`).
#
#   interface     what this module takes from the server: init()
#   streaming     items in batches, with a flusher thread
#   stdin         forwarded stdin for one request
#   pty           exec -t: the code on a pseudo-terminal
#   terminal      a REPL call reads the user's terminal: input, getpass, pager
#   helpers       the REPL's !cmd, obj? and obj??
#   completion    rlcompleter's rule; is an input complete (codeop)
#   tracebacks    the user's frames only
#   imports       submodules that dotted names refer to
#   local modules imports served by the client (find_client_module)
#   files         pushy cp: send and receive file trees
#   objects       remote objects for the library: a table, calls, arguments
#
# What the server uses: Stdin, Pty, terminal_begin, terminal_end, line_arrived,
# repl_helper, Batch, end_forked_child, check_complete, complete,
# format_exception, preimport_submodules, find_client_module, found, transfer,
# remove_temporaries, objects and release.

import os
import struct
import sys
import _thread

# ---------------------------------------------------------------- interface
#
# The server's names this module uses, and no others: bound by init(), which
# load_extras() calls once, before anything else here runs. (Modules, such as
# os, are imported above instead: the server has loaded them already, so
# importing them again costs a dict lookup.)

SELF_FILE = None        # the file name the pushed program runs under: "<pushy>"
_sources = None         # file name -> the user's source, for tracebacks
_Raw = None             # already-encoded JSON, spliced into a frame header
_short = None           # str() of an exception, bounded, never raising
_json_loads = None      # the server's JSON decoder (no `json`, which imports re)
_import_or_none = None  # a module by name, or None if there is none
_import_chains = None   # imports the submodules that dotted-name chains reach
_run_code = None        # runs the user's code in a namespace: (has_value, value)
_raise_import_error = None  # a NameError for a module that failed to import: that import's error
_FileRange = None       # part of an open file, sent as a bytes item by sendfile
_server_write = None    # writes all of a buffer to an fd: why it failed, or None


def init(self_file, sources, raw, short, json_loads, import_or_none, import_chains, run_code,
         raise_import_error, file_range, write_fd):
    """Binds the server's names above (server.py load_extras)."""
    global SELF_FILE, _sources, _Raw, _short, _json_loads, _import_or_none, _import_chains
    global _run_code, _raise_import_error, _FileRange, _server_write
    _run_code, _raise_import_error = run_code, raise_import_error
    SELF_FILE, _sources, _Raw, _short = self_file, sources, raw, short
    _json_loads, _import_or_none, _import_chains = json_loads, import_or_none, import_chains
    _FileRange, _server_write = file_range, write_fd


# ------------------------------------------------------------------ imports

def preimport_submodules(tree, namespace):
    """Import the submodules that dotted names in the code refer to.

    `xml.etree.ElementTree.fromstring(...)` needs `xml.etree.ElementTree`
    imported before the attribute access runs; a package does not import its
    submodules by itself.  Only chains whose root is a module (or will
    auto-import as one) are considered.
    """
    import ast
    chains = set()
    bound = _bound_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            parts = []
            cur = node
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                parts.append(cur.id)
                chains.add(tuple(reversed(parts)))
    if not chains:
        return
    _import_chains(chains, bound, namespace)


def _bound_names(tree):
    """Names the code itself binds: assignments, parameters, imports, defs."""
    import ast
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _hand_over(items, ready, item):
    """Appends `item` for the thread that takes from `items`, and wakes it
    (`ready`, a lock it waits on)."""
    items.append(item)
    try:
        ready.release()
    except RuntimeError:  # already released: the taker looks anyway
        pass


class Stdin:
    """Forwarded stdin for one request: a pipe that becomes fd 0 while the
    request runs, fed by a thread so the reader thread never blocks on it.
    Each chunk written is acknowledged, which is the client's credit window."""

    def __init__(self, channel, rid):
        self.channel = channel
        self.rid = rid
        self.chunks = []  # appended by the reader thread, taken from the front here
        self.ready = _thread.allocate_lock()
        self.ready.acquire()
        self.rfd, self.wfd = os.pipe()
        try:  # a MiB at a time, not 64 KiB: fewer wake-ups between the feeder and the reader
            import fcntl
            fcntl.fcntl(self.wfd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except (ImportError, OSError, ValueError):
            pass  # not Linux
        _thread.start_new_thread(self._feed, ())

    def put(self, data):
        _hand_over(self.chunks, self.ready, data)

    def attach(self):
        os.dup2(self.rfd, 0)
        os.close(self.rfd)

    def detach(self):
        fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)  # the last reader of the pipe: the feeder now gets EPIPE
        os.close(fd)
        self.put(None)

    def _feed(self):
        while True:
            while not self.chunks:
                self.ready.acquire()
            data = self.chunks.pop(0)
            if data is None:
                break
            if self.wfd is not None:
                if not data:  # end of the client's stdin
                    os.close(self.wfd)
                    self.wfd = None
                    continue
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(self.wfd, view):]
                except OSError:  # the user's code closed its stdin: drop the rest
                    pass
            self.channel.send({"k": "stdin_ack", "id": self.rid, "n": len(data)})
        if self.wfd is not None:
            os.close(self.wfd)


class Inbox:
    """A put's records as the client sends them, in `stdin` frames. The main
    thread, which runs the copy, reads them itself (the watcher stands
    aside): a frame's header first, its payload as the records need it, so
    a file's content goes from the channel into the file by splice, never
    through Python. Payloads the watcher read before the copy began
    (Server.dispatch hands them here) are taken as they are. No pipe and
    no feeder thread. Each frame is acknowledged as its header is read,
    which is the client's credit window."""

    def __init__(self, server, rid):
        self.server = server
        self.rid = rid
        self.payloads = []  # read by the watcher, not yet taken
        self.ready = _thread.allocate_lock()
        self.ready.acquire()
        self.ended = False
        self.unread = 0  # bytes of the current frame's payload still in the channel

    def put(self, data):
        _hand_over(self.payloads, self.ready, data)

    def attach(self):
        # The watcher stands aside: frames go straight to the copy, and an
        # interrupt among them is dispatched by the main thread as it reads.
        self.server.reads_own = True

    def detach(self):
        if self.unread:  # cut short mid-frame: the rest is read past, so the next frame is whole
            with self.server.reading():
                self.server.channel.payload_to(None, self.unread)
            self.unread = 0
        self.server.reads_own = False

    def _ack(self, n):
        self.ended = self.ended or not n
        self.server.send({"k": "stdin_ack", "id": self.rid, "n": n})

    def _advance(self):
        """Until there is something to take: a payload the watcher read, or
        the next stdin frame of ours, whose header is read here (other
        frames are dispatched). False at the end of the records."""
        while not (self.unread or self.payloads):
            if self.ended:
                return False

            def ours(header, length):
                if header.get("k") != "stdin" or header.get("id") != self.rid:
                    return None
                return (length,)
            got = self.server.read_own(ours)
            if got:
                self.unread = got[0]
                self._ack(got[0])
            elif got is False and not self.payloads:
                self.ready.acquire(True, 0.05)  # the watcher is reading: what it reads is handed here
        return True

    def take(self, limit=None):
        """The next bytes of the records: at most `limit` of a frame read
        here, a payload the watcher read whole; b"" at their end."""
        if not self._advance():
            return b""
        if self.unread:
            n = self.unread if limit is None else min(limit, self.unread)
            with self.server.reading():
                data = self.server.channel._take(n)
            if data is None:
                self.server.end()  # the channel ended inside a frame
            self.unread -= n
            return data
        data = self.payloads.pop(0)
        self._ack(len(data))
        return data

    def to_file(self, fd, n):
        """Moves the next n bytes of the records into `fd` (None: past
        them). Returns (the rest of a payload the watcher read, why
        writing failed or None)."""
        why = None
        while n:
            if not self._advance():
                raise TransferInterrupted("the copy was interrupted")
            if self.unread:
                k = min(n, self.unread)
                with self.server.reading():
                    done, failed = self.server.channel.payload_to(fd if why is None else None, k)
                if done < k:
                    self.server.end()
                self.unread -= k
            else:
                data = self.payloads.pop(0)
                self._ack(len(data))
                if not data:
                    raise TransferInterrupted("the copy was interrupted")
                k = min(len(data), n)
                failed = _server_write(fd if why is None else None, memoryview(data)[:k])
                if k < len(data):
                    return data[k:], why or failed
            why = why or failed
            n -= k
        return b"", why


class _Records:
    """The put's record stream over the payloads `source.take()` gives, and
    a file's content moved by `source.to_file` (see Inbox); what is left of
    a payload is read here."""

    def __init__(self, source):
        self.source = source
        self.data = b""
        self.at = 0

    def _more(self, limit=None):
        data = self.source.take(limit)
        if not data:
            raise TransferInterrupted("the copy was interrupted")
        return data

    def _length(self):
        """A chunk's 8-byte length, read without taking the content after it
        (which may then go by splice)."""
        have = len(self.data) - self.at
        if have >= 8:
            return struct.unpack(">Q", self.exact(8))[0]
        head = self.data[self.at:]
        while len(head) < 8:
            head += self._more(8 - len(head))  # a payload read already comes whole
        self.data, self.at = head, 8
        return struct.unpack(">Q", head[:8])[0]

    def exact(self, n):
        have = len(self.data) - self.at
        while not have and n:  # at a payload's end: the next one, as it is
            self.data, self.at = self._more(), 0
            have = len(self.data)
        if have >= n:
            view = memoryview(self.data)[self.at:self.at + n]
            self.at += n
            return view
        parts = [self.data[self.at:]]
        while have < n:
            data = self._more()
            parts.append(data)
            have += len(data)
        self.data, self.at = b"".join(parts), n
        return memoryview(self.data)[:n]

    def line(self):
        while True:
            end = self.data.find(b"\n", self.at)
            if end >= 0:
                text = self.data[self.at:end + 1]
                self.at = end + 1
                return _json_loads(bytes(text).decode("utf-8", "surrogateescape"))
            self.data, self.at = self.data[self.at:] + self._more(), 0

    def content(self, fd):
        """A file's content, its chunks up to the empty one, into `fd`
        (None: read past it). Returns (bytes, why writing failed or None)."""
        written, why = 0, None
        while True:
            n = self._length()
            if n == 0:
                return written, why
            written += n
            have = min(len(self.data) - self.at, n)
            if have:
                why = why or _server_write(fd if why is None else None,
                                           memoryview(self.data)[self.at:self.at + have])
                self.at += have
            if n > have:
                self.data, failed = self.source.to_file(fd if why is None else None, n - have)
                self.at, why = 0, why or failed


# ---------------------------------------------------------------------- pty
#
# `pushy exec -t`: the code runs with fds 0, 1 and 2 on a pseudo-terminal's
# slave, as under `ssh -t`. The master is relayed: keys from `stdin` frames
# are written to it, what it reads goes out as `out` frames (fd 1: a
# terminal has one output), window sizes come as `winch` frames. The pty is
# not the process's controlling terminal (the server cannot take one), so
# what the kernel would do for one is done here: the interrupt key, while
# the pty's settings make it a signal, interrupts the call, and a new window
# size raises SIGWINCH in the server.


class Pty:
    def __init__(self, server, rid, spec):
        self.server = server
        self.rid = rid
        self.master, self.slave = os.openpty()
        os.set_blocking(self.master, False)  # a drain reads what is there, no more
        self.lock = _thread.allocate_lock()  # one reader of the master at a time
        self.ended = False
        self.saved_drain = None
        self.term = spec.get("term") if isinstance(spec.get("term"), str) else None
        self.saved = None
        self.saved_term = None
        self.resize(spec, signal=False)
        self.chunks = []
        self.ready = _thread.allocate_lock()
        self.ready.acquire()
        self.relayed = _thread.allocate_lock()  # held until the relay ends
        self.relayed.acquire()
        self.users = 2  # the relay and the feeder: the last one out closes the master
        self.users_lock = _thread.allocate_lock()
        _thread.start_new_thread(self._relay, ())
        _thread.start_new_thread(self._feed, ())

    # -- the reader thread
    def put(self, data):
        if data is None or data:
            if data and self._interrupt_key_in(data):
                self.server._interrupt(self.rid)
            _hand_over(self.chunks, self.ready, data)

    def _interrupt_key_in(self, data):
        import termios
        try:
            attrs = termios.tcgetattr(self.master)
        except Exception:
            return False
        key = attrs[6][termios.VINTR]
        return bool(attrs[3] & termios.ISIG) and isinstance(key, bytes) and key != b"\0" and key in data

    def resize(self, header, signal=True):
        import fcntl
        import struct as _struct
        import termios

        def dimension(name, default):
            value = header.get(name)
            return min(max(value, 1), 9999) if type(value) is int else default

        size = _struct.pack("HHHH", dimension("rows", 24), dimension("cols", 80), 0, 0)
        try:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
        except OSError:
            return
        if signal:
            import _signal
            _signal.pthread_kill(self.server.main_ident, _signal.SIGWINCH)

    # -- the main thread, around the call
    def attach(self):
        flush_own_streams(self.server)
        self.saved = [os.dup(fd) for fd in (0, 1, 2)]
        for fd in (0, 1, 2):
            os.dup2(self.slave, fd)
        if self.term:
            self.saved_term = os.environ.get("TERM")
            os.environ["TERM"] = self.term
        # What the pty holds goes out before each frame the call sends (a
        # REPL echo), as pipe output does: the server drains its output
        # first.
        output = self.server.output
        self.saved_drain = output.__dict__.get("drain")
        plain = type(output).drain

        def drain():
            plain(output)
            self.drain()
        output.drain = drain

    def detach(self):
        flush_own_streams(self.server)
        if self.saved is not None:
            for fd, saved in zip((0, 1, 2), self.saved):
                os.dup2(saved, fd)
                os.close(saved)
        if self.term:
            if self.saved_term is None:
                os.environ.pop("TERM", None)
            else:
                os.environ["TERM"] = self.saved_term
        output = self.server.output
        if self.saved_drain is None:
            output.__dict__.pop("drain", None)
        else:
            output.drain = self.saved_drain
        os.close(self.slave)
        # Once no descriptor of the slave is open, the relay reads the rest
        # and ends: all output is out before the reply. A child still
        # holding the slave (in the background) is not waited for.
        self.relayed.acquire(True, 2.0)
        self.put(None)

    def drain(self):
        with self.lock:
            if not self.ended:
                self.ended = not self._pump()

    # -- the threads
    def _relay(self):
        import select
        try:
            while not self.ended:
                select.select([self.master], [], [])
                with self.lock:
                    if not self.ended:
                        self.ended = not self._pump()
        except Exception:
            pass
        finally:
            self.relayed.release()
            self._done()

    def _pump(self):
        """Sends what the master holds (under self.lock); False at its end
        (EIO: no descriptor of the slave is open any more)."""
        while True:
            try:
                data = os.read(self.master, 1 << 16)
            except BlockingIOError:
                return True
            except InterruptedError:
                continue
            except OSError:
                return False
            if not data:
                return False
            self.server.channel.send({"k": "out", "fd": 1}, data)

    def _feed(self):
        import select
        try:
            while True:
                while not self.chunks:
                    self.ready.acquire()
                data = self.chunks.pop(0)
                if data is None:
                    break
                view = memoryview(data)
                while view and not self.ended:
                    try:
                        view = view[os.write(self.master, view):]
                    except BlockingIOError:  # the pty's input is full: wait for room
                        select.select([], [self.master], [], 0.1)
                    except OSError:
                        break
                self.server.channel.send({"k": "stdin_ack", "id": self.rid, "n": len(data)})
        finally:
            self._done()

    def _done(self):
        with self.users_lock:
            self.users -= 1
            last = self.users == 0
        if last:
            with self.lock:
                self.ended = True
                os.close(self.master)


def flush_own_streams(server):
    for stream in server.output.streams:
        try:
            stream.flush()
        except Exception:
            pass


# ----------------------------------------------------------------- terminal
#
# A REPL call (`terminal` in its eval) reads from the user's terminal: the
# client answers a `read` frame (prompt, echo on or off) with a `line` frame
# whose payload is the line, or is empty at the end of input (Ctrl-D). Lines
# are asked for only when the code reads, so keys typed ahead that the call
# does not read stay on the client, for its next prompt.

_terminal = None          # the call's _Terminal while a terminal call runs
_original_getpass = None  # getpass.getpass before the hook replaced it
_original_pager = None    # pydoc.pager before the hook replaced it


class _Terminal:
    def __init__(self, server, rid, pager):
        self.server = server
        self.rid = rid
        self.pager = pager
        self.seq = 0
        self.answer = None  # (seq, payload), from whichever thread read it
        self.ready = _thread.allocate_lock()
        self.ready.acquire()
        self.one_at_a_time = _thread.allocate_lock()
        self.saved = None

    def send(self, header, payload=b""):
        """A frame after the output before it: from the main thread through
        the server (an interrupt waits until it is written)."""
        if _thread.get_ident() == self.server.main_ident:
            self.server.send(header, payload)
        else:
            self.server.output.drain()
            self.server.channel.send(header, payload)

    def ask(self, prompt, echo):
        """A line from the user's terminal (bytes, with its newline; empty at
        the end of input). A child the code forked must never send frames:
        it reads the end of input."""
        if os.getpid() != self.server.pid:
            return b""
        with self.one_at_a_time:
            self.seq += 1
            seq = self.seq
            self.ready.acquire(False)  # a late answer's release
            self.send({"k": "read", "id": self.rid, "n": seq, "prompt": prompt, "echo": bool(echo)})
            while True:
                # The main thread reads the answer itself (see Server.await_answer);
                # KeyboardInterrupt (Ctrl-C) ends the wait.
                self.server.await_answer(self.ready)
                answer = self.answer
                if answer is not None and answer[0] == seq:
                    self.answer = None
                    return answer[1]

    def arrived(self, seq, payload):
        self.answer = (seq, payload)
        try:
            self.ready.release()
        except RuntimeError:  # already released
            pass


def line_arrived(header, payload):
    """A `line` frame (whichever thread read it): the answer to a `read`."""
    terminal = _terminal
    if terminal is not None and terminal.rid == header.get("id"):
        terminal.arrived(header.get("n"), payload)


def _make_terminal_stdin():
    import io

    class TerminalStdin(io.TextIOBase):
        """sys.stdin during a terminal call: each line is asked of the client
        when the code reads it. Not a descriptor (child processes read
        /dev/null, as before); `input()` sees no fileno and so writes its
        prompt to sys.stdout, which the client shows before it reads."""
        encoding = "utf-8"
        errors = "surrogateescape"

        def __init__(self):
            super().__init__()
            self.pending = ""

        def readable(self):
            return True

        def isatty(self):
            return _terminal is not None

        def fileno(self):
            raise io.UnsupportedOperation("the terminal is on the client: no descriptor")

        def _line(self):
            terminal = _terminal
            if terminal is None:  # between calls, or a thread after its call: /dev/null
                return ""
            return terminal.ask("", True).decode("utf-8", "surrogateescape")

        def readline(self, size=-1):
            line = self.pending or self._line()
            if size is not None and 0 <= size < len(line):
                line, self.pending = line[:size], line[size:]
            else:
                self.pending = ""
            return line

        def read(self, size=-1):
            parts = []
            got = 0
            while size is None or size < 0 or got < size:
                line = self.readline(-1 if size is None or size < 0 else size - got)
                if not line:
                    break
                parts.append(line)
                got += len(line)
            return "".join(parts)

    return TerminalStdin()


_terminal_stdin = None


def _getpass(prompt="Password: ", stream=None):
    """getpass.getpass during a terminal call: the client reads the line with
    echo off (remotely there is no tty, so the standard one would warn and
    echo)."""
    terminal = _terminal
    if terminal is None or sys.stdin is not _terminal_stdin:
        return _original_getpass(prompt, stream)
    line = terminal.ask(str(prompt), False)
    if not line:
        raise EOFError
    line = line.decode("utf-8", "surrogateescape")
    return line[:-1] if line.endswith("\n") else line


def _page(text, title=""):
    """pydoc.pager: the text goes to the client's $PAGER when the call has a
    terminal and the client asked for paging; plain output otherwise."""
    terminal = _terminal
    if terminal is not None and terminal.pager and os.getpid() == terminal.server.pid:
        terminal.send({"k": "page", "id": terminal.rid}, str(text).encode("utf-8", "surrogateescape"))
        return
    import pydoc
    sys.stdout.write(pydoc.plain(str(text)))


def _hook_pydoc(pydoc):
    global _original_pager
    if pydoc.pager is not _page:
        _original_pager = pydoc.pager
        pydoc.pager = _page


def _hook_help():
    """help() imports pydoc on its first call: hook pydoc then."""
    import builtins
    helper = builtins.__dict__.get("help")
    if helper is None or getattr(type(helper), "_pushy_paged", False):
        return
    base = type(helper)

    class PagedHelper(base):
        _pushy_paged = True

        def __call__(self, *args, **kwargs):
            import pydoc
            _hook_pydoc(pydoc)
            return base.__call__(self, *args, **kwargs)

    try:
        helper.__class__ = PagedHelper
    except TypeError:
        pass


def terminal_begin(server, rid, header):
    """The call `rid` reads from the client's terminal: sys.stdin, getpass
    and (with `pager`) pydoc's pager go through it until terminal_end."""
    global _terminal, _terminal_stdin
    if _terminal_stdin is None:
        _terminal_stdin = _make_terminal_stdin()
    getpass = sys.modules.get("getpass")
    if getpass is not None:
        _hook_getpass(getpass)
    elif _GetpassOnImport not in sys.meta_path:
        # Importing getpass costs milliseconds (contextlib, termios...) that
        # most calls never need: hook it when the code imports it.
        sys.meta_path.insert(0, _GetpassOnImport)
    terminal = _Terminal(server, rid, bool(header.get("pager")))
    if terminal.pager:
        pydoc = sys.modules.get("pydoc")
        if pydoc is not None:
            _hook_pydoc(pydoc)
        else:
            _hook_help()
    terminal.saved = sys.stdin
    sys.stdin = _terminal_stdin
    _terminal = terminal
    return terminal


def _hook_getpass(getpass):
    global _original_getpass
    if getpass.getpass is not _getpass:
        _original_getpass = getpass.getpass
        getpass.getpass = _getpass


class _GetpassOnImport:
    """First on sys.meta_path during a terminal call: getpass is found and
    loaded as the path finder would, and hooked as it loads, before the code
    sees it. (Finding nothing else, and stepping aside once used.)"""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "getpass":
            return None
        _unhook_getpass_import()
        spec = sys.modules["_frozen_importlib_external"].PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _HookingLoader(spec.loader)
        return spec


class _HookingLoader:
    """The path finder's loader for getpass, which then hooks the module."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # get_source and the rest, for inspect and tracebacks
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _hook_getpass(module)


def _unhook_getpass_import():
    try:
        sys.meta_path.remove(_GetpassOnImport)
    except ValueError:
        pass


def terminal_end(terminal):
    global _terminal
    _terminal = None
    _unhook_getpass_import()
    if sys.stdin is _terminal_stdin:  # not if the user's code replaced it
        sys.stdin = terminal.saved


# ------------------------------------------------------------- REPL helpers
#
# `!cmd`, `obj?` and `obj??` in the REPL: evals whose mode names the helper
# (server.py _run), with the command or the expression as their code.


def repl_helper(mode, code, namespace):
    """What the helper `mode` shows for `code`: it prints, and the value is
    the shell's exit status (None for the others)."""
    if mode == "shell":
        return shell(code)
    sys.stdout.write(describe(code, namespace, source=(mode == "source")))
    return None


def shell(command):
    """Runs `command` with /bin/sh, its output streaming on fds 1 and 2; the
    exit status (negative: the signal that killed it). Ctrl-C kills it."""
    import subprocess
    return subprocess.run(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL).returncode


def describe(expression, namespace, source=False):
    """IPython's `obj?` (signature, docstring, type) and, with `source`,
    `obj??` (the source where inspect finds it)."""
    import inspect
    expression = expression.strip()
    compile(expression, "<input>", "eval", dont_inherit=True)  # an expression, or its SyntaxError
    obj = _run_code(expression, "<input>", namespace, "auto")[1]  # auto-import included
    lines = []
    try:
        signature = str(inspect.signature(obj))
    except (TypeError, ValueError):
        signature = None
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or expression.strip()
    if signature is not None:
        lines.append("Signature: %s%s" % (name, signature))
    text = None
    if source:
        _register_sources()
        try:
            text = inspect.getsource(obj)
        except (TypeError, OSError):
            text = None
    if text is not None:
        lines.append("Source:\n" + text.rstrip("\n"))
    else:
        if not callable(obj) and not inspect.ismodule(obj) and not inspect.isclass(obj):
            lines.append("Value:     " + _short_repr(obj))
        doc = inspect.getdoc(obj)
        lines.append("Docstring: " + (doc if doc else "<no docstring>"))
        if source:
            lines.append("Source:    not available (%s)" % ("built in" if inspect.isbuiltin(obj) else "not found"))
    try:
        where = inspect.getsourcefile(obj) or inspect.getfile(obj)
    except TypeError:
        where = None
    if where:
        lines.append("File:      " + where)
    lines.append("Type:      " + type(obj).__name__)
    return "\n".join(lines) + "\n"


def _short_repr(obj):
    try:
        text = repr(obj)
    except Exception as e:
        return "<repr failed: %s>" % (_short(e),)
    return text if len(text) <= 200 else text[:197] + "..."


def _register_sources():
    """The REPL's inputs in linecache, so inspect finds the source of what
    was defined there."""
    import linecache
    for name, text in list(_sources.items()):
        linecache.cache[name] = (len(text), None, text.splitlines(True), name)


def end_forked_child(reply):
    """A child the user's code forked came back into pushy (the parent
    replies).  It must neither send frames nor wait for requests it will never
    get, holding the channel open for ever: it ends, as a multiprocessing
    child does, its traceback on stderr (the parent forwards it)."""
    code = 0
    if reply.get("k") == "exit":
        code = reply.get("code", 0)
    elif reply.get("k") == "error":
        code = 1
        try:
            sys.stderr.write(reply.get("traceback", ""))
            sys.stderr.flush()
        except Exception:
            pass
    os._exit(code)


FLUSH_AFTER = 0.005


BATCH_BYTES = 1 << 18


BATCH_ITEMS = 2048


class Batch:
    """Encoded items waiting to go out as one `items` frame."""

    def __init__(self, server, rid):
        self.server = server
        self.rid = rid
        self.lock = _thread.allocate_lock()
        self.parts = []
        self.blobs = []
        self.sizes = []
        self.size = 0
        self.since = 0.0
        self.open = True
        _thread.start_new_thread(self._flusher, ())

    def add(self, encoded):
        data, blobs = encoded
        with self.lock:
            if not self.parts:
                self.since = _monotonic()
            self.parts.append(data)
            self.blobs.append(blobs)
            self.sizes.append(len(blobs))
            self.size += len(data) + len(blobs)
            full = self.size >= BATCH_BYTES or len(self.parts) >= BATCH_ITEMS
        if full:
            self.flush()

    def flush(self):
        """From the main thread: a send that defers an interrupt."""
        with self.lock:
            frame = self._take()
            if frame:
                self.server.send(*frame)  # under the lock: frames keep the items' order

    def _flusher(self):
        # Sends what has waited FLUSH_AFTER; a plain send, as no interrupt
        # is ever delivered to this thread.
        while self.open:
            _sleep(FLUSH_AFTER)
            if self.parts and _monotonic() - self.since >= FLUSH_AFTER:
                try:
                    with self.lock:
                        frame = self._take()
                        if frame:
                            self.server.channel.send(*frame)
                except BaseException:
                    return

    def _take(self):
        if not self.parts:
            return None
        v = _Raw(b"[" + b",".join(self.parts) + b"]")
        header = {"k": "items", "id": self.rid, "v": v, "sizes": self.sizes}
        payload = b"".join(self.blobs)
        self.parts, self.blobs, self.sizes, self.size = [], [], [], 0
        return header, payload

    def close(self):
        self.open = False
        self.flush()


def _monotonic():
    import time
    return time.monotonic()


def _sleep(seconds):
    import time
    time.sleep(seconds)


def check_complete(source):
    """CPython's own rule for the REPL: is this input a complete statement?"""
    import codeop
    try:
        code = codeop.compile_command(source, "<input>", "single")
    except (SyntaxError, OverflowError, ValueError):
        return "invalid"  # submit it: running it shows the error
    return "incomplete" if code is None else "complete"


def _source_lines(source):
    """The lines linecache would read from a file holding `source`.

    traceback places its carets by assuming each line ends in a newline, as
    linecache makes sure of for files (it adds one to a last line without):
    a last line without one puts them a column to the right. Lines are split
    where the compiler splits them (newlines only, universal newlines), not
    where str.splitlines does (form feeds, \\x1c, U+2028, ...), or line
    numbers would point at the wrong line.
    """
    import io
    lines = io.StringIO(source, newline=None).readlines()
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def format_exception(e):
    import linecache
    import traceback
    for filename, source in _sources.items():
        linecache.cache[filename] = (len(source), None, _source_lines(source), filename)
    if getattr(e, "_pushy_compile", False):
        return "".join(traceback.format_exception_only(type(e), e))
    try:
        te = traceback.TracebackException(type(e), e, e.__traceback__)
        seen = set()
        todo = [te]
        while todo:
            cur = todo.pop()
            if id(cur) in seen:
                continue
            seen.add(id(cur))
            # Nor the import system's: CPython drops them when a module it
            # imports fails, and the served modules' loader keeps them.
            kept = [f for f in cur.stack if f.filename != SELF_FILE and not f.filename.startswith("<frozen importlib.")]
            cur.stack = traceback.StackSummary.from_list(kept)
            for nxt in (cur.__cause__, cur.__context__):
                if nxt is not None:
                    todo.append(nxt)
        return "".join(te.format())
    except BaseException as inner:
        return "%s: %s\n(and formatting its traceback failed: %s)\n" % (
            type(e).__name__, _short(e), _short(inner))


# Completion: rlcompleter's rule, except that nothing is evaluated and
# nothing is imported (the man page states these rules, under REPL):
# - names come from the namespace, builtins, keywords and the names of the
#   modules on sys.path; dict keys after `d['` (a dict's own keys, never a
#   subclass's __iter__);
# - `a.b.c` is resolved by reading attributes statically
#   (inspect.getattr_static): no property, descriptor, __getattr__ or
#   __getattribute__ runs;
# - a module that is not imported is never imported (`antigravity.` would
#   open a web browser): a package found on disk offers its submodules, found
#   by the path finders, which run no module code;
# - the one piece of user code that may run is an object's __dir__, through
#   dir(), as rlcompleter does; the client gives a completion a time budget
#   and interrupts it past that (Server._complete).
# `start` in the reply counts code points of `text`, as Python indexes str.

_module_names = None

_MISSING = object()


class _Unimported:
    """A module found on disk but not imported: only its submodules' names
    are known (`locations`: its package directories, empty for a module)."""
    __slots__ = ("locations",)

    def __init__(self, locations):
        self.locations = locations


def complete(namespace, text):
    import keyword
    import re
    m = re.search(r"""([A-Za-z_][\w.]*)((?:\[(?:"[^"\\]*"|'[^'\\]*'|-?\d+)\])*)\[(["']?)([^"'\]\[]*)$""", text)
    if m:
        obj = _resolve(namespace, m.group(1))
        for key in re.findall(r"""\[("[^"\\]*"|'[^'\\]*'|-?\d+)\]""", m.group(2)):
            obj = _item(obj, key)
        quote, prefix = m.group(3), m.group(4)
        keys = _keys(obj)
        if quote:
            # Exact str keys only: a str subclass may override startswith.
            items = [k + quote + "]" for k in keys if type(k) is str and k.startswith(prefix)]
        else:
            items = [repr(k) + "]" for k in keys if type(k) in (str, int) and repr(k).startswith(prefix)]
        return {"start": len(text) - len(prefix), "items": sorted(items)}
    m = re.search(r"[A-Za-z_][\w.]*$|$", text)
    word = m.group(0)
    start = m.start()
    if "." in word:
        base, _, prefix = word.rpartition(".")
        obj = _resolve(namespace, base)
        if obj is _MISSING:
            return {"start": start, "items": []}
        if type(obj) is _Unimported:
            names = set(_submodules(obj.locations))
        else:
            names = set(_dir(obj))
            if _is_module(obj):
                names.update(_submodules(_locations(obj)))
        items = sorted(base + "." + n for n in names if n.startswith(prefix)
                       and (prefix.startswith("_") or not n.startswith("_")))
        return {"start": start, "items": items}
    import builtins
    names = set(dict.keys(namespace)) | set(dir(builtins)) | set(keyword.kwlist)
    if word:
        names.update(_all_module_names())
    items = sorted(n for n in names if n.startswith(word) and (word.startswith("_") or not n.startswith("_")))
    return {"start": start, "items": items}


def _item(obj, literal):
    """obj[literal] for the containers whose subscript is known to run no
    user code: dict (never its __missing__, nor a subclass's __getitem__),
    list, tuple and os.environ; _MISSING for anything else."""
    import ast
    try:
        key = ast.literal_eval(literal)
        t = type(obj)
        if issubclass(t, dict):
            return dict.get(obj, key, _MISSING)
        if t in (list, tuple) and type(key) is int:
            return t.__getitem__(obj, key)
        if obj is os.environ and type(key) is str:
            return os.environ.get(key, _MISSING)
    except Exception:
        pass
    return _MISSING


def _keys(obj):
    """The keys of a dict (dict.keys: a subclass's own __iter__ is user
    code) or of os.environ; none for anything else."""
    if issubclass(type(obj), dict):
        return list(dict.keys(obj))
    if obj is os.environ:
        return list(os.environ.keys())
    return []


def _resolve(namespace, dotted):
    """The object `dotted` names, an _Unimported, or _MISSING; evaluates
    nothing and imports nothing."""
    parts = dotted.split(".")
    try:
        head = parts[0]
        if dict.__contains__(namespace, head):  # never the auto-import
            obj = dict.__getitem__(namespace, head)
        else:
            import builtins
            obj = vars(builtins).get(head, _MISSING)
            if obj is _MISSING:
                obj = _module(head, None)
        for i, p in enumerate(parts[1:], 1):
            if obj is _MISSING:
                break
            if type(obj) is _Unimported or (_is_module(obj) and p not in _module_dict(obj)):
                obj = _module(".".join(parts[: i + 1]), _locations(obj))
            else:
                obj = _static_getattr(obj, p)
        return obj
    except Exception:
        return _MISSING


def _is_module(obj):
    # type(), not isinstance(): isinstance may read a __class__ property.
    return issubclass(type(obj), type(sys))


def _module_dict(module):
    return object.__getattribute__(module, "__dict__")


def _locations(obj):
    """Where the submodules of a module or an _Unimported are: a list, empty
    for a plain module or anything else."""
    if type(obj) is _Unimported:
        return obj.locations
    if _is_module(obj):
        path = _module_dict(obj).get("__path__")
        if path is not None:
            try:
                return [p for p in path if isinstance(p, str)]
            except Exception:
                return []
    return []


def _module(name, locations):
    """The module `name` if it is imported; else an _Unimported if the path
    finders find it (in `locations`, its package's directories, for a
    submodule); else _MISSING. Never imports."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    if "." in name and not locations:
        return _MISSING
    try:
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(name, locations or None)
    except Exception:
        return _MISSING
    if spec is None:
        return _MISSING
    return _Unimported(list(spec.submodule_search_locations or []))


def _static_getattr(obj, name):
    # Properties and descriptors can run code; rlcompleter evaluates them,
    # we only read plain attributes and modules.
    import inspect
    try:
        value = inspect.getattr_static(obj, name)
    except AttributeError:
        return _MISSING
    if type(value) in (staticmethod, classmethod):
        return value.__func__
    if _is_module(obj):
        return value
    # A descriptor that is not a function computes its value when read: a
    # property, functools.cached_property, a slot, a C getset. Looked up on
    # the type's own dicts: hasattr could run a metaclass's __getattr__.
    if not callable(value) and any("__get__" in vars(k) for k in type.__dict__["__mro__"].__get__(type(value))):
        return _MISSING
    return value


def _dir(obj):
    # dir() runs the object's __dir__: user code, which may block; the
    # client's budget and its interrupt bound it. KeyboardInterrupt passes.
    try:
        return dir(obj)
    except Exception:
        return []


def _submodules(locations):
    import pkgutil
    try:
        return [name for _, name, _ in pkgutil.iter_modules(list(locations))] if locations else []
    except Exception:
        return []


def _all_module_names():
    global _module_names
    if _module_names is None:
        import pkgutil
        names = set(sys.builtin_module_names)
        try:
            names.update(name for _, name, _ in pkgutil.iter_modules())
        except Exception:
            pass
        _module_names = names
    return _module_names


# ------------------------------------------------------------ local modules
#
# When the client serves local modules (a `modules` request), server.py puts
# _ClientModules last on sys.meta_path: an import that the host's own finders
# could not satisfy (so a standard-library or installed name is never
# shadowed) comes to find_client_module, which asks the client with a `find`
# frame while the importing code waits; the reader thread hands the client's
# `found` answer over (found()). Sources are compiled in memory and data
# files read into memory: nothing is written. The client decides what it
# serves (src/local_modules.rs); this side names modules by dotted name and
# data files by their name in the package, never by a path.

_asked = {}       # q -> [lock, header, payload]: a find waiting for its answer
_asked_lock = _thread.allocate_lock()
_next_query = [0]
_not_found = {}   # name -> the request during which the client had no such module
_bundled = [None, {}]  # the request, and the submodules that came with a package during it


def ask_client(server, query):
    """The client's answer (header, payload) to a find (`query` holds `name`,
    and `resource` for a data file). Waits until it comes; an interrupt
    (Ctrl-C, --timeout) stops the wait."""
    if os.getpid() != server.pid:  # a forked child must never send frames
        raise OSError("modules served by the pushy client are not available in a forked child")
    with _asked_lock:
        _next_query[0] += 1
        q = _next_query[0]
        waiting = [_thread.allocate_lock(), None, b""]
        waiting[0].acquire()
        _asked[q] = waiting
    header = {"k": "find", "q": q}
    header.update(query)
    try:
        if _thread.get_ident() == server.main_ident:
            server.send(header)  # an interrupt waits until the frame is whole
        else:  # signals reach the main thread only: nothing can cut this frame
            server.channel.send(header)
        server.await_answer(waiting[0])
    finally:
        with _asked_lock:
            _asked.pop(q, None)
    return waiting[1], waiting[2]


def found(header, payload):
    """A `found` frame (whichever thread read it): wakes the import that asked."""
    q = header.get("q")
    with _asked_lock:
        waiting = _asked.get(q) if type(q) is int else None
        if waiting is None or waiting[1] is not None:
            return  # an answer nobody waits for any more (interrupted)
        waiting[1], waiting[2] = header, payload
    waiting[0].release()


def find_client_module(server, name):
    """A ModuleSpec for `name` served by the client, or None if it has none.
    A submodule is asked for only when its package came from the client: a
    local directory never adds modules to a package the host has."""
    if os.getpid() != server.pid:
        return None
    parent = name.rpartition(".")[0]
    if parent:
        spec = getattr(sys.modules.get(parent), "__spec__", None)
        if not isinstance(getattr(spec, "loader", None), ClientLoader):
            return None
    # One question per name and request: code that tries an optional import
    # in a loop waits once. The next request asks again (a file may be new).
    rid = server.running
    if rid is not None and _not_found.get(name, object()) == rid:
        return None
    if _bundled[0] != rid:
        _bundled[:] = [rid, {}]
    sent = _bundled[1].pop(name, None)  # came with its package, during this request
    if sent is not None:
        return _client_spec(server, name, *sent)
    header, payload = ask_client(server, {"name": name})
    kind = header.get("kind")
    if kind in ("module", "package"):
        source = _unbundle(name, header.get("bundle"), payload)
        return _client_spec(server, name, kind, header.get("file"), source)
    if kind == "refused":
        raise ImportError("the pushy client refused to serve %s: %s" % (name, _short(header.get("message"))),
                          name=name)
    if len(_not_found) > 1000:
        _not_found.clear()
    _not_found[name] = rid
    return None


def _client_spec(server, name, kind, file, source):
    from importlib.machinery import ModuleSpec
    file = str(file or name)
    package = kind == "package"
    spec = ModuleSpec(name, ClientLoader(server, name, file, source, package), origin=file, is_package=package)
    spec.has_location = True  # __file__: the client's file name, shown in tracebacks
    return spec


def _unbundle(name, bundle, payload):
    """The package's own source; the submodules that came with it (their
    sources end the payload, in order) are kept for the imports of this
    request: one round trip for a package and the modules it imports."""
    try:
        entries = [(str(sub), kind, file, int(size)) for sub, kind, file, size in bundle or ()]
    except (TypeError, ValueError):
        return payload
    at = len(payload) - sum(size for _, _, _, size in entries)
    if at < 0 or any(size < 0 for _, _, _, size in entries):
        return payload
    source = payload[:at]
    for sub, kind, file, size in entries:
        if sub.startswith(name + ".") and kind in ("module", "package"):
            _bundled[1][sub] = (kind, file, payload[at:at + size])
        at += size
    return source


class ClientLoader:
    """Runs a module from the source the client sent, compiled in memory."""

    def __init__(self, server, name, file, source, package):
        self.server, self.name, self.file, self.source, self.package = server, name, file, source, package

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module):
        exec(compile(self.source, self.file, "exec", dont_inherit=True), vars(module))

    def is_package(self, name):
        return self.package

    def get_filename(self, name):
        return self.file

    def get_source(self, name):
        """For tracebacks (linecache asks the module's loader) and inspect."""
        from importlib.util import decode_source
        return decode_source(self.source)

    def get_data(self, path):
        """A data file next to the package's __init__ (pkgutil.get_data)."""
        home = os.path.dirname(self.file)
        prefix = home + "/" if home else ""
        if not self.package or not path.startswith(prefix):
            raise FileNotFoundError("%s is not in the package %s served by the pushy client" % (path, self.name))
        return ClientPath(self.server, self.name, path[len(prefix):]).read_bytes()

    def get_resource_reader(self, name):
        return ClientResources(self.server, self.name) if self.package else None


class ClientResources:
    """importlib.resources for a package served by the client: files() (3.9
    and newer) and the older ResourceReader methods (3.7, 3.8)."""

    def __init__(self, server, package):
        self.server, self.package = server, package

    def files(self):
        return ClientPath(self.server, self.package, "")

    def open_resource(self, resource):
        import io
        return io.BytesIO(self.files().joinpath(resource).read_bytes())

    def resource_path(self, resource):
        raise FileNotFoundError("%s is served by the pushy client, not on this host's disk" % resource)

    def is_resource(self, name):
        return self.files().joinpath(name).is_file()

    def contents(self):
        return iter([path.name for path in self.files().iterdir()])


class ClientPath:
    """A file or directory of a package served by the client, as an
    importlib.resources Traversable: read over the channel, in memory."""

    def __init__(self, server, package, rel):
        self.server, self.package, self.rel = server, package, rel

    def __repr__(self):
        return "ClientPath(%r, %r)" % (self.package, self.rel)

    @property
    def name(self):
        return self.rel.rpartition("/")[2] or self.package.rpartition(".")[2]

    def joinpath(self, *parts):
        rel = self.rel
        for part in parts:
            part = os.fspath(part)  # the client checks every part of the name
            rel = rel + "/" + part if rel else part
        return ClientPath(self.server, self.package, rel)

    __truediv__ = joinpath

    def _ask(self):
        header, payload = ask_client(self.server, {"name": self.package, "resource": self.rel})
        kind = header.get("kind")
        if kind == "refused":
            raise PermissionError("the pushy client refused to serve %s: %s" % (
                self.rel, _short(header.get("message"))))
        return kind, header, payload

    def _missing(self):
        import errno
        return FileNotFoundError(errno.ENOENT, "no such file in package %s served by the pushy client"
                                 % self.package, self.rel)

    def is_file(self):
        try:
            return self._ask()[0] == "data"
        except PermissionError:
            return False

    def is_dir(self):
        try:
            return self._ask()[0] == "dir"
        except PermissionError:
            return False

    def iterdir(self):
        kind, header, _ = self._ask()
        if kind != "dir":
            if kind == "data":
                raise NotADirectoryError(self.rel)
            raise self._missing()
        return iter([self.joinpath(str(entry[0])) for entry in header.get("entries") or ()])

    def read_bytes(self):
        kind, _, payload = self._ask()
        if kind == "data":
            return payload
        if kind == "dir":
            raise IsADirectoryError(self.rel)
        raise self._missing()

    def read_text(self, encoding=None, errors=None):
        return self.read_bytes().decode(encoding or "utf-8", errors or "strict")

    def open(self, mode="r", *args, **kwargs):
        import io
        if set(mode) - set("rbt"):
            raise PermissionError("%s is served read-only by the pushy client" % self.rel)
        data = io.BytesIO(self.read_bytes())
        if "b" in mode:
            return data
        return io.TextIOWrapper(data, encoding=kwargs.get("encoding") or "utf-8", errors=kwargs.get("errors"),
                                newline=kwargs.get("newline"))


# ---------------------------------------------------------- files (pushy cp)
#
# Both directions speak one record shape. An entry is a dict with `path`, a
# list of single path components below the copy's root (`[]` is the root
# itself), `type` (dir, file or symlink), `mode`, `mtime`, `atime` and, for a
# symlink, `target`. Entries come in depth-first preorder, so an entry's
# parent is always the directory entry just above it on the receiver's stack.
#
# get: a generator the client streams like any iterator: {"total": n,
#   "name": base}, then the entries; a file's content follows its entry as
#   bytes chunks and {"end": true}; an entry that cannot be read gives
#   {"path": p, "error": why} and the rest goes on.
# put: the client forwards the same records as stdin: a JSON line per entry;
#   for a file, chunks (8-byte big-endian length, then bytes) up to an empty
#   one, then a JSON status line; {"done": true} ends the copy.
#
# The receiver trusts no name: each component is one name (never empty, `.`,
# `..`, or holding `/` or NUL), every directory is entered with O_NOFOLLOW
# from the one above it, and files are written to a random private name
# (O_EXCL, 0600), given their mode, and renamed over the target, so a planted
# symlink is replaced, never written through.

CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

# Temporary files of a copy in progress, as (directory fd, name): removed if
# the client goes away mid-copy (the reader thread calls remove_temporaries
# before the interpreter exits).
_temporaries = {}


def remove_temporaries():
    for dfd, name in list(_temporaries):
        try:
            os.unlink(name, dir_fd=dfd)
        except OSError:
            pass
    _temporaries.clear()


def transfer(kind, request, inbox=None):
    """A `get` or `put` request (see src/protocol/message.rs); a put's
    records come through `inbox`."""
    if kind == "get":
        return send_tree(request.get("path", ""), bool(request.get("recursive")))
    return receive_tree(request.get("path", ""), bool(request.get("preserve")), _Records(inbox))


def _walk_tree(root, recursive):
    """(path components, full path, lstat or OSError) in depth-first preorder;
    symlinks are entries, never followed."""
    import stat
    st = os.lstat(root)
    if stat.S_ISDIR(st.st_mode) and not recursive:
        raise IsADirectoryError("%s is a directory (use -r)" % root)
    todo = [([], root, st)]
    while todo:
        path, full, st = todo.pop()
        yield path, full, st
        if isinstance(st, OSError) or not stat.S_ISDIR(st.st_mode):
            continue
        try:
            names = sorted(os.listdir(full))
        except OSError as e:
            yield path, full, e
            continue
        children = []
        for name in names:
            child = os.path.join(full, name)
            try:
                children.append((path + [name], child, os.lstat(child)))
            except OSError as e:
                children.append((path + [name], child, e))
        todo.extend(reversed(children))


def _why(full, e):
    return "%s: %s" % (full, getattr(e, "strerror", None) or e)


def send_tree(path, recursive):
    import stat
    root = os.path.expanduser(path)
    entries = list(_walk_tree(root, recursive))
    total = sum(st.st_size for _, _, st in entries if not isinstance(st, OSError) and stat.S_ISREG(st.st_mode))

    def items():
        yield {"total": total, "name": os.path.basename(root.rstrip("/")) or root}
        for rel, full, st in entries:
            if isinstance(st, OSError):
                yield {"path": rel, "error": _why(full, st)}
                continue
            meta = {"path": rel, "mode": st.st_mode & 0o7777, "mtime": st.st_mtime, "atime": st.st_atime}
            if stat.S_ISDIR(st.st_mode):
                meta["type"] = "dir"
                yield meta
            elif stat.S_ISLNK(st.st_mode):
                meta["type"] = "symlink"
                meta["target"] = os.readlink(full)
                yield meta
            elif stat.S_ISREG(st.st_mode):
                try:  # O_NOFOLLOW: a file swapped for a symlink since the walk is not read
                    f = os.fdopen(os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")
                except OSError as e:
                    yield {"path": rel, "error": _why(full, e)}
                    continue
                meta["type"] = "file"
                yield meta
                try:
                    with f:
                        for chunk in file_content(f):
                            yield chunk  # sent before file_content resumes
                except FileShrank:
                    yield {"path": rel, "error": "%s: it shrank while it was being copied" % full}
                    continue
                except OSError as e:
                    yield {"path": rel, "error": _why(full, e)}
                    continue
                yield {"end": True}
            else:
                yield {"path": rel, "error": "%s: not a file, directory or symlink" % full}
    return items()


class FileShrank(OSError):
    """A file sent as ranges had fewer bytes, by the time they were sent,
    than its size promised: zeros went in their place."""


def file_content(f):
    """The bytes of binary file object `f` from where it stands to its end,
    in chunks: what cat would print (`--raw`), and a file's content for
    `pushy cp`. A regular file opened by
    open() goes by sendfile from its descriptor (no copy through this
    process), then whatever it has grown by since; anything else (a pipe, a
    socket, a gzip file, BytesIO, a file whose size is not its length, as
    in sysfs) is read as it comes, so a slow producer's output is passed on
    as it is made. Leaves `f` at its end, or where an interrupt stopped it,
    as reading would."""
    import io
    if f.writable():
        f.flush()  # what is written is part of the file (and in append mode moves f to its end)
    fd = _sendable(f)
    if fd is not None:
        at = f.tell()  # past what f's buffer holds
        try:
            size = os.fstat(fd).st_size
            while at < size and not f.closed:  # closed meanwhile: its number may be another file's
                chunk = _FileRange(fd, at, min(CHUNK, size - at))
                yield chunk  # sent before we resume
                if chunk.short:
                    at = os.fstat(fd).st_size
                    name = f.name if isinstance(f.name, str) else "file descriptor %d" % fd
                    raise FileShrank("%s shrank while it was being sent: what was sent ends in zeros in place "
                                     "of what it lost" % name)
                at += chunk.count
        finally:
            if not f.closed:
                f.seek(at)
    # A subclass that defines only read() inherits a read1() that raises.
    read = f.read1 if getattr(type(f), "read1", None) not in (None, io.BufferedIOBase.read1) else f.read
    wait = _readable_wait(f)
    while True:
        if wait is not None:
            wait()
        data = read(CHUNK)
        if data is None:  # an unbuffered non-blocking descriptor with nothing yet
            continue
        if not data:
            return
        yield data


def _sendable(f):
    """f's descriptor, if its bytes may go by sendfile: a regular file,
    opened by open() (a subclass's read() may differ), whose size is its
    length (sysfs says 4096 for a few bytes). Else None."""
    import io
    import stat
    if type(f) not in (io.BufferedReader, io.BufferedRandom, io.FileIO):
        return None
    try:
        fd = f.fileno()
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0 or os.pread(fd, 1, st.st_size - 1) == b"":
            return None
        return fd
    except (OSError, ValueError):  # closed, or no descriptor: reading says why
        return None


def _readable_wait(f):
    """For a non-blocking descriptor (whose buffered read1() answers b""
    when nothing is there yet, as at its end): a wait until it is readable.
    Else None."""
    try:
        fd = f.fileno()
        if os.get_blocking(fd):
            return None
    except (OSError, ValueError, AttributeError):  # no descriptor (BytesIO): reads never wait
        return None
    import select
    return lambda: select.select([fd], [], [])


class TransferInterrupted(Exception):
    pass


def one_name(name):
    """`name` if it is a single path component, else None."""
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name:
        return None
    return name


def current_umask():
    """The umask, read without changing it where Linux says it."""
    try:
        with open("/proc/self/status") as f:
            for text in f:
                if text.startswith("Umask:"):
                    return int(text.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def final_mode(mode, preserve, umask):
    """As cp and scp: the permission bits less the umask; with preserve,
    every bit (setuid, setgid and sticky included)."""
    mode = int(mode) & 0o7777
    return mode if preserve else mode & 0o777 & ~umask


def _enter_dir(pfd, name):
    """Creates directory `name` in `pfd` (0700 while it is filled), or opens
    the one there; a symlink there is replaced, never followed. Returns
    (fd, created)."""
    import stat
    created = False
    try:
        os.mkdir(name, 0o700, dir_fd=pfd)
        created = True
    except FileExistsError:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            os.unlink(name, dir_fd=pfd)
            os.mkdir(name, 0o700, dir_fd=pfd)
            created = True
        elif not stat.S_ISDIR(st.st_mode):
            raise FileExistsError("exists and is not a directory")
    return os.open(name, _DIR_FLAGS, dir_fd=pfd), created


def _temp_name():
    return ".pushy.%s.part" % os.urandom(8).hex()


def receive_tree(dest, preserve, records):
    dest = os.path.expanduser(dest)
    umask = current_umask()
    line = records.line

    first = line()
    # The destination the user named is followed, as cp follows it; nothing
    # below it is.
    if os.path.isdir(dest):
        where, root_name = dest, one_name(first.get("name"))
    else:
        where, root_name = os.path.split(dest.rstrip("/") or dest)
    base = os.open(where or ".", _DIR_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
    # The directories entered, innermost last: (path, fd or None when it
    # could not be made, entry, created). The first is where the root goes.
    stack = [(None, base, None, False)]
    count, size, errors = 0, 0, []

    def shown(path):
        return os.path.join(where, root_name or "", *path)

    def leave():
        _path, fd, head, created = stack.pop()
        if fd is None:
            return
        try:
            if created or preserve:
                os.fchmod(fd, final_mode(head["mode"], preserve, umask))
            if preserve:
                os.utime(fd, (head["atime"], head["mtime"]))
        except OSError as e:
            errors.append(_why(shown(_path), e))
        finally:
            os.close(fd)

    try:
        while True:
            head = line()
            if head.get("done"):
                break
            path, kind = head.get("path"), head.get("type")
            parent, name, problem = None, None, None
            valid = isinstance(path, list) and all(one_name(part) for part in path)
            if valid:
                while len(stack) > 1 and stack[-1][0] != path[:-1]:
                    leave()
                if not path:
                    parent, name = base, root_name
                elif stack[-1][0] == path[:-1]:
                    parent, name = stack[-1][1], path[-1]
            if name is None:
                problem = "refused %r: not a single name inside this copy" % (path if valid else head.get("path"),)
            elif parent is None:
                pass  # inside a directory that could not be made: said once
            elif kind == "dir":
                try:
                    fd, created = _enter_dir(parent, name)
                    stack.append((path, fd, head, created))
                except OSError as e:
                    stack.append((path, None, head, False))
                    problem = _why(shown(path), e)
            elif kind == "symlink":
                tmp = _temp_name()
                try:
                    os.symlink(head["target"], tmp, dir_fd=parent)
                    try:
                        os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
                    except OSError:
                        os.unlink(tmp, dir_fd=parent)
                        raise
                except OSError as e:
                    problem = _why(shown(path), e)
            elif kind == "file":
                why, written = _receive_file(parent, name, head, records, preserve, umask)
                if why is None:
                    count, size = count + 1, size + written
                else:
                    errors.append("%s: %s" % (shown(path), why))
                continue
            else:
                problem = "%s: unknown entry type %r" % (shown(path), kind)
            if kind == "file":  # not written: read past its content
                records.content(None)
                line()
            if problem:
                errors.append(problem)
    finally:
        while len(stack) > 1:
            leave()
        os.close(base)
    return {"files": count, "bytes": size, "errors": errors}


def _receive_file(parent, name, head, records, preserve, umask):
    """Writes one file's content to a private temporary name in `parent`,
    then gives it its mode and renames it over `name`. Returns (why it was
    not copied or None, bytes received); the content is read in any case."""
    tmp = _temp_name()
    _temporaries[(parent, tmp)] = True
    fd, why, written, renamed = None, None, 0, False
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=parent)
        except OSError as e:
            why = e.strerror or str(e)
        written, failed = records.content(fd if why is None else None)
        why = why or failed
        status = records.line()
        if why is None and not status.get("ok"):
            why = status.get("error") or "not readable"
        if why is None:
            try:
                os.fchmod(fd, final_mode(head["mode"], preserve, umask))
                if preserve:
                    os.utime(fd, (head["atime"], head["mtime"]))
                os.close(fd)
                fd = None
                os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
                renamed = True
            except OSError as e:
                why = e.strerror or str(e)
        return why, written
    finally:
        if fd is not None:
            os.close(fd)
        if not renamed:  # failed, or cut short: the client went away
            try:
                os.unlink(tmp, dir_fd=parent)
            except OSError:
                pass
        _temporaries.pop((parent, tmp), None)


# ------------------------------------------------------------------ objects
#
# The library's RemoteRef (src/remote.rs): objects kept here by id, so a Rust
# program can hold an open file or a socket and call its methods. The client
# releases ids in batches ahead of its next request. Arguments come by value
# in the token grammar of values (src/value.rs), plus ["R", id] for an object
# of this table; their bytes are slices of the request's payload.

_objects = {}
_next_ref = [0]


def objects(request, namespace):
    """The value a `ref` request asks for (or, with `keep`, the descriptor
    of the kept result: {"ref": id, "type": ..., "repr": ...})."""
    op = request.get("op")
    if op == "eval":
        has_value, value = _run_code(request.get("code", ""), "<input>", namespace, "auto")
        if not has_value:
            value = None
    elif op == "call":
        if request.get("ref") is not None:
            function = getattr(_lookup(request["ref"]), str(request.get("name")))
        else:
            function = _run_code(str(request.get("function")), "<call>", namespace, "auto")[1]
        args = decode_args(request.get("args", [None]), request.get("payload", b""))
        try:
            value = function(*args) if request.get("spread") else function(args)
        except NameError as e:  # a broken module's own error, as in run_code
            _raise_import_error(e, namespace)
            raise
    elif op == "getattr":
        value = getattr(_lookup(request.get("ref")), str(request.get("name")))
    elif op == "get":
        value = _lookup(request.get("ref"))
    elif op == "count":
        value = len(_objects)
    else:
        raise ValueError("unknown ref operation %r" % (op,))
    if request.get("keep"):
        return _keep(value)
    return value


def release(ids):
    """Forgets the objects (their last reference may go with them)."""
    for ident in ids or ():
        _objects.pop(ident, None)


def _keep(value):
    _next_ref[0] += 1
    ident = _next_ref[0]
    _objects[ident] = value
    t = type(value)
    module = getattr(t, "__module__", None)
    name = getattr(t, "__qualname__", t.__name__)
    try:
        text = repr(value)
        if not isinstance(text, str):
            raise TypeError("__repr__ returned %s" % type(text).__name__)
    except Exception as e:  # a broken __repr__ must not lose the object
        text = "<%s object (repr failed: %s)>" % (name, _short(e))
    return {"ref": ident, "type": name if module in (None, "builtins") else "%s.%s" % (module, name),
            "repr": text[:1 << 16]}


def _lookup(ident):
    try:
        return _objects[ident]
    except (KeyError, TypeError):
        raise LookupError("no remote object %r here: it was released, or belongs to another session" % (ident,))


def decode_args(tokens, payload):
    """The Python value that tokens stand for (iterative: no recursion on
    the value's depth)."""
    done = []
    stack = []  # [tag, items, remaining]
    builders = {"l": list, "t": tuple, "s": set, "f": frozenset,
                "d": lambda items: dict(zip(items[0::2], items[1::2]))}

    def finish(value):
        while stack:
            top = stack[-1]
            top[1].append(value)
            top[2] -= 1
            if top[2] > 0:
                return
            stack.pop()
            value = builders[top[0]](top[1])
        done.append(value)

    if type(tokens) is not list:
        raise ValueError("bad argument tokens")
    for token in tokens:
        if type(token) is not list:
            finish(token)
            continue
        tag = token[0] if token else None
        if tag in builders:
            n = int(token[1]) * (2 if tag == "d" else 1)
            if n > 0:
                stack.append([tag, [], n])
            else:
                finish(builders[tag]([]))
        elif tag == "i":
            finish(int(token[1]))
        elif tag == "F":
            finish(float(token[1]))
        elif tag == "u":
            finish("".join(map(chr, token[1])))
        elif tag in ("b", "B"):
            off, n = int(token[1]), int(token[2])
            if off < 0 or n < 0 or off + n > len(payload):
                raise ValueError("argument bytes outside the payload")
            data = payload[off:off + n]
            finish(bytes(data) if tag == "b" else bytearray(data))
        elif tag == "R":
            finish(_lookup(token[1]))
        else:
            raise ValueError("bad argument token %r" % (token,))
    if stack or len(done) != 1:
        raise ValueError("bad argument tokens")
    return done[0]
