# pushy server: the program pushy sends over the ssh channel's stdin.
#
# Stage 0 (on the `python3 -c` command line) reads this file's compressed
# bytes with exact-count reads from fd 0 and execs it as `<pushy>`.  Nothing
# touches the remote disk.  The file is layered bottom-up:
#
#   1. framing        length-prefixed frames: JSON header + raw payload
#   2. values         any Python object -> a flat token list (see value.rs)
#   3. namespace      the user's globals, with auto-import of modules
#   4. channels       fds 0/1/2 moved off the protocol; output pumped as frames
#   5. requests       eval, complete, stdin, interrupt
#   6. main           the setup steps, in order
#
# Standard library only, Python 3.6 and newer.  Imports that the first request
# does not need are done lazily: every module loaded at start-up is paid for on
# each connection.

import os
import struct
import sys
import _thread

PROTOCOL_VERSION = 1
READY_MARKER = b"\n<pushy-ready v1>\n"
SELF_FILE = "<pushy>"
MAX_FRAME = 1 << 30
MAX_DEPTH = 10000
MAX_REPR = 1 << 20
STDIN_WINDOW = 1 << 20

# ---------------------------------------------------------------- 1. framing

_PREFIX = struct.Struct(">II")


class Channel:
    """Frames over a pair of private descriptors.

    A frame is `>II` (header length, payload length), a UTF-8 JSON object, and
    raw payload bytes.  Writes come from several threads (main, output pump,
    reader) and are serialised by one lock so frames never interleave.
    """

    def __init__(self, rfd, wfd):
        import io
        self.reader = io.open(rfd, "rb", buffering=1 << 16, closefd=False)
        self.wfd = wfd
        self.lock = _thread.allocate_lock()

    def read(self):
        """Next (header dict, payload bytes), or None at end of input."""
        prefix = self.reader.read(8)
        if len(prefix) < 8:
            return None
        hlen, plen = _PREFIX.unpack(prefix)
        if hlen + plen > MAX_FRAME:
            raise ProtocolError("frame of %d bytes exceeds the maximum" % (hlen + plen))
        body = self.reader.read(hlen + plen)
        if len(body) < hlen + plen:
            return None
        return _json_loads(body[:hlen].decode("utf-8")), body[hlen:]

    def send(self, header, payload=b""):
        data = _header_bytes(header)
        if len(data) + len(payload) > MAX_FRAME:  # the client would refuse it
            raise ValueTooLargeError(
                "the reply takes %d bytes, more than the %d (1 GiB) a reply may carry: "
                "return it in parts, or as an iterator of parts" % (len(data) + len(payload), MAX_FRAME))
        with self.lock:
            self._write(_PREFIX.pack(len(data), len(payload)) + data)
            if payload:
                self._write(payload)

    def _write(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.wfd, view)
            view = view[n:]


class ProtocolError(Exception):
    pass


class ValueTooLargeError(Exception):
    """A reply over MAX_FRAME: refused here, so the session lives on."""


ValueTooLargeError.__module__ = "pushy"  # shown as pushy.ValueTooLargeError


_encoder = None


def _header_bytes(header):
    """A header as JSON; _Raw values are spliced in already encoded."""
    raws = [(k, v) for k, v in header.items() if type(v) is _Raw]
    if not raws:
        return _json_bytes(header)
    data = _json_bytes({k: v for k, v in header.items() if type(v) is not _Raw})[:-1]
    for k, v in raws:
        data += b',"' + k.encode() + b'":' + v.data
    return data + b"}"


def _json_bytes(obj):
    """Compact JSON as UTF-8; raises UnicodeEncodeError on lone surrogates
    and ValueError on nan."""
    global _encoder
    if _encoder is None:
        _encoder = _make_encoder()
    return _encoder(obj).encode("utf-8")


def _make_encoder():
    # The C encoder itself: the json package would import re (milliseconds
    # on every connection) for nothing this server needs.
    try:
        import _json

        def default(o):
            raise TypeError("%s is not JSON serializable" % type(o).__name__)
        encode = _json.make_encoder(None, default, _json.encode_basestring, None, ":", ",", False, False, False)
        return lambda obj: "".join(encode(obj, 0))
    except (ImportError, AttributeError, TypeError):
        import json
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                                check_circular=False).encode


_decoder = None


def _json_loads(text):
    global _decoder
    if _decoder is None:
        _decoder = _make_decoder()
    return _decoder(text)


def _make_decoder():
    try:
        import _json

        class Context:  # the settings json.JSONDecoder gives its C scanner
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_float = float
            parse_int = int
            memo = {}

            @staticmethod
            def parse_constant(name):
                raise ValueError("JSON constant %s is not allowed" % name)
        scan = _json.make_scanner(Context())

        def loads(text):
            try:
                value, end = scan(text, 0)
            except StopIteration:
                raise ValueError("bad JSON")
            if text[end:].strip():
                raise ValueError("extra data after JSON")
            return value
        return loads
    except (ImportError, AttributeError, TypeError):
        import json
        return json.loads


# ----------------------------------------------------------------- 2. values
#
# A value becomes a flat list of tokens in prefix order, so that neither the
# encoder here, json, nor the client ever recurses on the value's depth.
# Scalars that JSON can carry exactly are themselves; everything else is a
# short list [tag, ...].  The grammar is documented in src/value.rs.

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_SCALARS = (type(None), bool, str, float)


class _Exit:
    """Stack marker: leaving a container (for cycle detection)."""
    __slots__ = ("ident",)

    def __init__(self, ident):
        self.ident = ident


def encode_value(value):
    """(tokens, blobs) for a value: the header part and the raw payload part.

    First a fast pass that trusts str and float; if json then rejects a lone
    surrogate or a nan, a careful pass encodes those specially.
    """
    tokens, blobs = _encode(value, careful=False)
    try:
        data = _json_bytes(tokens)
    except (UnicodeEncodeError, ValueError):
        tokens, blobs = _encode(value, careful=True)
        data = _json_bytes(tokens)
    return data, b"".join(blobs)


def _type_name(t):
    module = getattr(t, "__module__", None)
    name = getattr(t, "__qualname__", None) or getattr(t, "__name__", "?")
    if module in (None, "builtins", "__main__"):
        return name
    return "%s.%s" % (module, name)


def _safe_repr(value):
    try:
        text = repr(value)
        if not isinstance(text, str):
            raise TypeError("__repr__ returned %s, not str" % type(text).__name__)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # a broken __repr__ must not break the reply
        text = "<%s object (repr failed: %s: %s)>" % (
            _type_name(type(value)), type(e).__name__, _short(e))
    if len(text) > MAX_REPR:
        text = text[:MAX_REPR] + "..."
    return text


def _short(e):
    try:
        return str(e)[:200]
    except BaseException:
        return "?"


def _simple_run(items):
    """True when every item is a scalar that encodes as itself."""
    kinds = set(map(type, items))
    if not kinds:
        return True
    if int in kinds:
        if kinds != {int}:
            return False
        return _I64_MIN <= min(items) and max(items) <= _I64_MAX
    return kinds.issubset(_SCALARS)


def _fields_of(value, t):
    """Field names of a named structure, or None if it is not one."""
    if isinstance(value, tuple):
        fields = getattr(t, "_fields", None)
        if isinstance(fields, tuple) and len(fields) == len(value):
            return list(fields)
        if hasattr(t, "n_sequence_fields"):  # os.stat_result, time.struct_time
            return [k for k, v in vars(t).items() if type(v).__name__ == "member_descriptor"]
        return None
    dataclasses = sys.modules.get("dataclasses")
    if dataclasses is not None and hasattr(t, "__dataclass_fields__") and not isinstance(value, type):
        try:
            return [f.name for f in dataclasses.fields(value) if f.repr]
        except TypeError:
            return None
    return None


def _encode(value, careful):
    out = []
    blobs = []
    offset = 0
    active = set()
    stack = [(value, 0)]
    push = stack.append
    emit = out.append
    while stack:
        item, depth = stack.pop()
        t = type(item)
        if t is _Exit:
            active.discard(item.ident)
            continue
        if t is str:
            if careful:
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    emit(["u", [ord(c) for c in item]])
                    continue
            emit(item)
            continue
        if t is int:
            if _I64_MIN <= item <= _I64_MAX:
                emit(item)
            else:
                emit(["i", _int_text(item)])
            continue
        if t is float:
            if careful and (item != item or item in (float("inf"), float("-inf"))):
                emit(["F", repr(item)])
            else:
                emit(item)
            continue
        if item is None or t is bool:
            emit(item)
            continue
        if t is bytes or t is bytearray:
            emit(["b" if t is bytes else "B", offset, len(item)])
            blobs.append(bytes(item))
            offset += len(item)
            continue
        if depth >= MAX_DEPTH:
            emit(["x", _type_name(t)])
            continue
        ident = id(item)
        if ident in active:
            emit(["c", _container_kind(item)])
            continue

        try:
            parts = _classify(item, t)
        except Exception:  # a __len__, __iter__, items(), _fields... that raises
            parts = None
        if parts is None:
            emit(["r", _type_name(t), _safe_repr(item)])
            continue
        token, children = parts
        if token is None:  # a str, int or float subclass: its plain value
            push((children, depth))
            continue
        emit(token)
        if not careful and _simple_run(children):
            out.extend(children)
            continue
        active.add(ident)
        push((_Exit(ident), depth))
        for child in reversed(children):
            push((child, depth + 1))
    return out, blobs


def _classify(item, t):
    """(token, children) for a container, (None, plain value) for a str, int
    or float subclass, None for anything else (sent as its repr).  The count
    is read from the children themselves, so the two agree even when a
    subclass's __iter__ disagrees with its __len__; any of its methods that
    raises makes the caller send the whole object as its repr."""
    fields = None
    if t not in (list, dict, set, frozenset):
        fields = _fields_of(item, t)
    if fields is not None:
        values = list(item) if isinstance(item, tuple) and hasattr(t, "_fields") else [
            _getattr_or_none(item, f) for f in fields]
        if len(values) != len(fields):
            return None
        name = t.__name__ if hasattr(t, "_fields") or hasattr(t, "__dataclass_fields__") else _type_name(t)
        return ["n", name, fields], values
    if isinstance(item, (list, tuple, set, frozenset)) and not _is_enum(item):
        tag = "l" if isinstance(item, list) else "t" if isinstance(item, tuple) else (
            "f" if isinstance(item, frozenset) else "s")
        # A subclass's __iter__ may disagree with its __len__: count what it
        # yields.  Plain lists and tuples go as they are (no copy of a big one).
        children = item if t in (list, tuple) else list(item)
        token = [tag, len(children)]
        if t not in (list, tuple, set, frozenset):
            token.append(_type_name(t))
        return token, children
    if isinstance(item, dict):
        try:
            pairs = list(item.items())
        except RuntimeError:  # changed size during iteration (another thread)
            pairs = list(dict(item).items())
        children = [x for k, v in pairs for x in (k, v)]  # a pair each, or raise
        token = ["d", len(pairs)]
        if t is not dict:
            token.append(_type_name(t))
        return token, children
    # The base type's own conversion: a subclass's __str__ or __int__ is
    # user code that may return anything, itself included.
    if isinstance(item, str) and not _is_enum(item):
        return None, str.__str__(item)
    if isinstance(item, int) and not _is_enum(item) and not isinstance(item, bool):
        return None, int.__int__(item)
    if isinstance(item, float) and not _is_enum(item):
        return None, float.__float__(item)
    return None


def _container_kind(item):
    if isinstance(item, list):
        return "list"
    if isinstance(item, tuple):
        return "tuple"
    if isinstance(item, dict):
        return "dict"
    return "set"


def _is_enum(item):
    enum = sys.modules.get("enum")
    return enum is not None and isinstance(item, enum.Enum)


def _getattr_or_none(item, name):
    try:
        return getattr(item, name)
    except Exception as e:
        return _Unreadable(e)


class _Unreadable:
    def __init__(self, e):
        self.e = e

    def __repr__(self):
        return "<unreadable: %s: %s>" % (type(self.e).__name__, _short(self.e))


def _int_text(n):
    try:
        return str(n)
    except ValueError:  # Python 3.11+ limits int->str conversion length
        limit = sys.get_int_max_str_digits()  # novm: only reached on 3.11+
        sys.set_int_max_str_digits(0)  # novm
        try:
            return str(n)
        finally:
            sys.set_int_max_str_digits(limit)  # novm


# -------------------------------------------------------------- 3. namespace

class Namespace(dict):
    """The user's globals.  A name that is neither defined nor a builtin
    resolves to the module of that name, so `os.getcwd()` just works.

    CPython looks globals up through __getitem__ when globals is a dict
    subclass, so this reaches every scope: lambdas, comprehensions and
    functions defined at the prompt.  Builtins must win over modules, hence
    the KeyError that sends the lookup on to builtins.
    """

    def __missing__(self, name):
        builtins = dict.get(self, "__builtins__")
        if isinstance(builtins, dict) and name in builtins:
            raise KeyError(name)
        if builtins is not None and not isinstance(builtins, dict) and hasattr(builtins, name):
            raise KeyError(name)
        module = _import_or_none(name)
        if module is None:
            raise KeyError(name)
        return module


def _import_or_none(name):
    import importlib
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and (e.name == name or name.startswith(e.name + ".")):
            return None
        raise
    except ImportError:
        if "." in name:  # "os.path.join": not a module, an attribute
            return None
        raise


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
    modtype = type(sys)
    for chain in sorted(chains, key=len):
        root = chain[0]
        if root in bound:  # a variable or parameter of the code, not a module
            continue
        if root in namespace:
            if not isinstance(dict.get(namespace, root), modtype):
                continue
        else:
            try:
                if not isinstance(namespace[root], modtype):
                    continue
            except KeyError:
                continue
        obj = sys.modules.get(root)
        for i in range(1, len(chain)):
            attr = chain[i]
            if obj is None or not hasattr(obj, "__path__"):  # not a package: no submodules
                break
            if hasattr(obj, attr):
                obj = getattr(obj, attr)
                if not isinstance(obj, modtype):
                    break
                continue
            sub = _import_or_none(".".join(chain[: i + 1]))
            if sub is None:
                break
            obj = sub


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


# --------------------------------------------------------------- 4. channels

class Output:
    """Fds 1 and 2 point at pipes; a pump thread turns what arrives into
    `out` frames.  Before a reply, `drain` sends whatever the user's code
    (or its children) wrote, so output always precedes the result."""

    def __init__(self, channel):
        import select
        self.select = select.select
        self.channel = channel
        self.lock = _thread.allocate_lock()
        self.streams = ()  # pushy's text streams on fds 1/2 (make_text_streams)
        self.pipes = {}
        for fd in (1, 2):
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            os.set_blocking(r, False)
            self.pipes[r] = fd
        _thread.start_new_thread(self._pump, ())

    def _pump(self):
        fds = list(self.pipes)
        while fds:
            try:
                ready, _, _ = self.select(fds, [], [])
            except InterruptedError:
                continue
            with self.lock:
                for r in ready:
                    if not self._read_available(r):
                        # The user's code closed fd 1 or 2 (and no child holds
                        # a copy): end of file, which select would report as
                        # ready for ever.  Stop watching it.
                        fds.remove(r)

    def _read_available(self, r):
        """Forwards what the pipe holds; False at its end of file."""
        while True:
            try:
                data = os.read(r, 1 << 16)
            except BlockingIOError:
                return True
            if not data:
                return False
            self.channel.send({"k": "out", "fd": self.pipes[r]}, data)

    def drain(self):
        # Only pushy's own streams: a replaced sys.stdout is the user's
        # object, whose flush could block or raise (see flush_user_streams).
        for stream in self.streams:
            try:
                stream.flush()
            except Exception:
                pass
        with self.lock:
            for r in self.pipes:
                self._read_available(r)


def make_text_streams():
    """Line-buffered text streams on fds 1/2, so prints interleave with the
    output of child processes in the order they happened."""
    import io
    out = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                           errors="surrogateescape", line_buffering=True)
    err = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                           errors="backslashreplace", line_buffering=True)
    inp = io.TextIOWrapper(io.open(0, "rb", closefd=False), encoding="utf-8",
                           errors="surrogateescape")
    sys.stdout = sys.__stdout__ = out
    sys.stderr = sys.__stderr__ = err
    sys.stdin = sys.__stdin__ = inp
    return out, err


def _draining_exit(output, real_exit):
    """os._exit that first forwards the output still in the pipes: it skips
    every flush, and user code (or a library) that ends the process with it
    would otherwise lose what it printed just before.  Only in the server's
    own process: a forked child shares the pipes and the protocol descriptor
    but must never write frames."""
    pid = os.getpid()

    def _exit(status):
        if os.getpid() == pid and output.lock.acquire(True, 1.0):
            try:
                for stream in output.streams:
                    stream.flush()
                for r in output.pipes:
                    output._read_available(r)
            except BaseException:
                pass
            finally:
                output.lock.release()
        real_exit(status)

    _exit.__doc__ = real_exit.__doc__
    return _exit


def flush_user_streams(own):
    """Flushes a sys.stdout or sys.stderr the user's code put in place of
    pushy's own.  Its flush is user code: called while the request still
    runs, so an interrupt (Ctrl-C, --timeout) stops one that blocks."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and all(stream is not s for s in own):
            try:
                stream.flush()
            except Exception:
                pass


class Stdin:
    """Forwarded stdin for one request: a pipe that becomes fd 0 while the
    request runs, fed by a thread so the reader thread never blocks on it.
    Each chunk written is acknowledged, which is the client's credit window."""

    def __init__(self, channel, rid):
        import collections
        self.channel = channel
        self.rid = rid
        self.chunks = collections.deque()
        self.ready = _thread.allocate_lock()
        self.ready.acquire()
        self.rfd, self.wfd = os.pipe()
        _thread.start_new_thread(self._feed, ())

    def put(self, data):
        self.chunks.append(data)
        try:
            self.ready.release()
        except RuntimeError:  # already released: the feeder is awake anyway
            pass

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
            data = self.chunks.popleft()
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


# --------------------------------------------------------------- 5. requests

class Server:
    """Requests are served one at a time by the main thread (user code must
    run there to receive KeyboardInterrupt); a reader thread takes the frames
    that must act while user code runs: interrupt, stdin and stream credits."""

    def __init__(self, channel, output):
        import builtins
        self.channel = channel
        self.output = output
        self.namespace = Namespace(__name__="__main__", __builtins__=builtins)
        self.queue = []
        self.queue_ready = _thread.allocate_lock()
        self.queue_ready.acquire()
        self.state_lock = _thread.allocate_lock()
        self.running = None
        self.interrupt_for = None
        self.stdins = {}
        self.credits = 0
        self.credit_ready = _thread.allocate_lock()
        self.credit_ready.acquire()
        self.main_ident = _thread.get_ident()
        self.pid = os.getpid()
        # While a frame is being written, a KeyboardInterrupt would cut it in
        # half and corrupt the stream: the SIGINT handler defers it instead.
        self.sending = False
        self.deferred = False

    # -- the reader thread
    def reader(self):
        try:
            while True:
                frame = self.channel.read()
                if frame is None:
                    break
                header, payload = frame
                kind = header.get("k")
                rid = header.get("id")
                if kind == "interrupt":
                    self._interrupt(rid)
                elif kind == "stdin":
                    stdin = self.stdins.get(rid)
                    if stdin is not None:
                        stdin.put(payload)
                elif kind == "more":
                    with self.state_lock:
                        self.credits += int(header.get("n", 0))
                        if self.credit_ready.locked():
                            self.credit_ready.release()
                else:
                    if kind == "eval" and header.get("stdin"):
                        # Created here, not in the main thread, so stdin
                        # frames that follow the request are never dropped.
                        self.stdins[rid] = Stdin(self.channel, rid)
                    self.queue.append((header, payload))
                    if self.queue_ready.locked():
                        self.queue_ready.release()
        except BaseException:
            pass
        # The client is gone (or spoke nonsense): never outlive it.
        os._exit(0)

    def _interrupt(self, rid):
        import _signal as signal
        with self.state_lock:
            if self.running is not None and self.running == rid:
                signal.pthread_kill(self.main_ident, signal.SIGINT)
            else:
                self.interrupt_for = rid  # not started yet: stop it at once

    def on_sigint(self, signum, frame):
        if self.sending or self.running is None:
            self.deferred = self.running is not None
            return
        raise KeyboardInterrupt

    def send(self, header, payload=b""):
        """Pending output, then one frame, from the main thread while user
        code may be interrupted: an interrupt waits until both are written."""
        self.sending = True
        try:
            self.output.drain()
            self.channel.send(header, payload)
        finally:
            self.sending = False
        if self.deferred:
            self.deferred = False
            raise KeyboardInterrupt

    # -- the main thread
    def serve(self):
        while True:
            try:
                while not self.queue:
                    self.queue_ready.acquire()
                header, payload = self.queue.pop(0)
            except KeyboardInterrupt:  # a late interrupt for a finished call
                continue
            self.handle(header, payload)

    def handle(self, header, payload):
        rid = header.get("id")
        kind = header.get("k")
        if kind == "eval":
            self.eval(rid, header)
        elif kind == "complete":
            try:
                result = complete(self.namespace, header.get("text", ""))
            except Exception:
                result = {"start": 0, "items": []}
            result.update({"k": "completions", "id": rid})
            self.channel.send(result)
        elif kind == "check":
            self.channel.send({"k": "checked", "id": rid, "status": check_complete(header.get("code", ""))})
        elif kind == "close":
            self.output.drain()
            os._exit(0)
        else:
            self.channel.send({"k": "bad", "id": rid, "message": "unknown request kind %r" % (kind,)})

    def eval(self, rid, header):
        # Left in self.stdins while the request runs: the reader thread must
        # still find it for the stdin frames that arrive from now on.
        stdin = self.stdins.get(rid)
        if stdin is not None:
            stdin.attach()
        with self.state_lock:
            self.running = rid
            self.credits = int(header.get("window", 0))
            self.deferred = False
            interrupted = self.interrupt_for == rid
        try:
            reply = self._run(rid, header, interrupted)
        finally:
            with self.state_lock:
                self.running = None
                self.deferred = False
        if os.getpid() != self.pid:
            _end_forked_child(reply[0])
            if stdin is not None:
                del self.stdins[rid]
                stdin.detach()
        self.output.drain()
        try:
            self.channel.send(*reply)
        except ValueTooLargeError as e:  # nothing was sent: say why instead
            self.channel.send(_error_header(rid, e))

    def _run(self, rid, header, interrupted):
        """The reply (header, payload) for one eval request."""
        try:
            try:
                if interrupted:
                    raise KeyboardInterrupt
                if header.get("argv"):
                    sys.argv = [str(a) for a in header["argv"]]
                mode = header.get("mode", "auto")
                if header.get("if_complete") and check_complete(header.get("code", "")) == "incomplete":
                    return {"k": "incomplete", "id": rid}, b""
                if mode in ("get", "put"):  # file transfer: pushy's own code, not the user's
                    has_value, value = True, transfer(mode, header.get("args") or {})
                else:
                    has_value, value = run_code(header.get("code", ""), header.get("file") or "<input>",
                                                self.namespace, mode)
                if has_value and header.get("stream") and _is_iterator(value):
                    count = self._stream(rid, value)
                    return {"k": "end", "id": rid, "count": count}, b""
                if not has_value:
                    return {"k": "none", "id": rid}, b""
                if header.get("repl") and value is not None:
                    self.namespace["_"] = value
                data, blobs = encode_value(value)
                head = {"k": "value", "id": rid, "v": _Raw(data)}
                if header.get("truth"):
                    head["truth"] = bool(value)
                return head, blobs
            finally:
                try:
                    flush_user_streams(self.output.streams)
                finally:
                    # From here on no interrupt may land: a KeyboardInterrupt
                    # in the handlers below would escape and end the server.
                    with self.state_lock:
                        self.running = None
        except SystemExit as e:
            return {"k": "exit", "id": rid, "code": _exit_code(e)}, b""
        except BaseException as e:
            return _error_header(rid, e), b""

    def _stream(self, rid, iterator):
        """Items go out as the iterator yields them, at most `credits` ahead of
        what the client has consumed, so an endless iterator costs no memory.
        Items that come fast share a frame; none waits more than FLUSH_AFTER."""
        self.send({"k": "iter", "id": rid})
        batch = _Batch(self, rid)
        count = 0
        try:
            for item in iterator:
                while True:
                    with self.state_lock:
                        if self.credits > 0:
                            self.credits -= 1
                            break
                    batch.flush()  # the client waits for these before it grants more
                    self.credit_ready.acquire()
                batch.add(encode_value(item))
                count += 1
        finally:
            batch.close()
        return count


def _end_forked_child(reply):
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


class _Batch:
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


class _Raw:
    """Already-encoded JSON spliced into a header, so a large value is
    serialised exactly once."""
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


def check_complete(source):
    """CPython's own rule for the REPL: is this input a complete statement?"""
    import codeop
    try:
        code = codeop.compile_command(source, "<input>", "single")
    except (SyntaxError, OverflowError, ValueError):
        return "invalid"  # submit it: running it shows the error
    return "incomplete" if code is None else "complete"


def _is_iterator(value):
    t = type(value)
    return hasattr(t, "__next__") and hasattr(t, "__iter__") and not isinstance(value, (str, bytes))


def _exit_code(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
        sys.stderr.flush()
    except Exception:
        pass
    return 1


_sources = {}    # file name -> source, for tracebacks
_compiled = {}   # (source, file name) -> (statements, trailing expression)


def run_code(code, filename, namespace, mode):
    """Run the user's code; (has_value, value) of a trailing expression."""
    if code.startswith("\ufeff"):  # a UTF-8 BOM, as python3 FILE skips it
        code = code[1:]
    if len(_sources) > 1000:
        _sources.clear()
    _sources[filename] = code
    if mode == "run":  # a script as __main__: no auto value, argv as given
        namespace["__file__"] = filename
        exec(_compile(code, filename, "exec"), namespace)
        return False, None
    key = (code, filename)
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = _compile_auto(code, filename, namespace)
        if len(_compiled) > 256:
            _compiled.clear()
        _compiled[key] = compiled
    body, last = compiled
    if body is not None:
        exec(body, namespace)
    if last is None:
        return False, None
    return True, eval(last, namespace)


def _compile_auto(code, filename, namespace):
    """(statements, trailing expression) as code objects, either may be None.

    A lone expression without dots is compiled directly: no ast, nothing to
    pre-import. Anything else is parsed, its dotted module names imported,
    and split at the trailing expression.
    """
    if "." not in code:
        try:
            return None, compile(code, filename, "eval", dont_inherit=True)
        except SyntaxError:
            pass  # statements (or a real error, reported below)
    import ast
    tree = _compile(code, filename, "exec", ast.PyCF_ONLY_AST)
    preimport_submodules(tree, namespace)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = _compile(ast.Expression(tree.body.pop().value), filename, "eval")
    body = _compile(tree, filename, "exec") if tree.body else None
    return body, last


def _compile(source, filename, mode, flags=0):
    """compile(), its errors marked to be shown as CPython shows them, without
    a traceback: a SyntaxError, and also the RecursionError, MemoryError or
    ValueError of code nested too deep, too big or holding NUL bytes."""
    try:
        return compile(source, filename, mode, flags, dont_inherit=True)
    except BaseException as e:
        e._pushy_compile = True
        raise


def _error_header(rid, e):
    """A remote exception as a reply: the traceback shows the user's frames
    only, never this server's."""
    text = format_exception(e)
    return {"k": "error", "id": rid, "type": type(e).__name__, "message": _short(e), "traceback": text}


def format_exception(e):
    import linecache
    import traceback
    for filename, source in _sources.items():
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
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
            kept = [f for f in cur.stack if f.filename != SELF_FILE]
            cur.stack = traceback.StackSummary.from_list(kept)
            for nxt in (cur.__cause__, cur.__context__):
                if nxt is not None:
                    todo.append(nxt)
        return "".join(te.format())
    except BaseException as inner:
        return "%s: %s\n(and formatting its traceback failed: %s)\n" % (
            type(e).__name__, _short(e), _short(inner))


# Completion: rlcompleter's rule, no calls and no subscripts are evaluated.

_module_names = None


def complete(namespace, text):
    import keyword
    import re
    m = re.search(r"""([A-Za-z_][\w.]*)\[(["'])([^"']*)$""", text)
    if m:
        obj = _resolve(namespace, m.group(1))
        if isinstance(obj, dict):
            prefix = m.group(3)
            quote = m.group(2)
            keys = sorted(k for k in obj if isinstance(k, str) and k.startswith(prefix))
            return {"start": len(text) - len(prefix), "items": [k + quote + "]" for k in keys]}
        return {"start": len(text), "items": []}
    m = re.search(r"[A-Za-z_][\w.]*$|$", text)
    word = m.group(0)
    start = m.start()
    if "." in word:
        base, _, prefix = word.rpartition(".")
        obj = _resolve(namespace, base)
        if obj is None:
            return {"start": start, "items": []}
        names = set(_dir(obj))
        if hasattr(obj, "__path__"):
            names.update(_submodules(obj))
        items = sorted(base + "." + n for n in names if n.startswith(prefix)
                       and (prefix.startswith("_") or not n.startswith("_")))
        return {"start": start, "items": items}
    import builtins
    names = set(namespace) | set(dir(builtins)) | set(keyword.kwlist)
    if word:
        names.update(_all_module_names())
    items = sorted(n for n in names if n.startswith(word) and (word.startswith("_") or not n.startswith("_")))
    return {"start": start, "items": items}


def _resolve(namespace, dotted):
    parts = dotted.split(".")
    try:
        obj = namespace[parts[0]] if parts[0] in namespace else None
        if obj is None:
            import builtins
            obj = getattr(builtins, parts[0], None)
        if obj is None:
            obj = _import_or_none(parts[0])
        for i, p in enumerate(parts[1:], 1):
            if isinstance(obj, type(sys)) and not hasattr(obj, p) and hasattr(obj, "__path__"):
                obj = _import_or_none(".".join(parts[: i + 1]))
            else:
                obj = _static_getattr(obj, p)
            if obj is None:
                return None
        return obj
    except Exception:
        return None


def _static_getattr(obj, name):
    # Properties and descriptors can run code; rlcompleter evaluates them,
    # we only read plain attributes and modules.
    import inspect
    try:
        value = inspect.getattr_static(obj, name)
    except AttributeError:
        return None
    if isinstance(obj, type(sys)):
        return getattr(obj, name, None)
    # A descriptor that is not a function computes its value when read: a
    # property, functools.cached_property, a slot, a C getset.
    if hasattr(type(value), "__get__") and not callable(value):
        return None
    return getattr(obj, name, None)


def _dir(obj):
    try:
        return dir(obj)
    except Exception:
        return []


def _submodules(pkg):
    import pkgutil
    try:
        return [name for _, name, _ in pkgutil.iter_modules(pkg.__path__)]
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


# ---------------------------------------------------------- files (pushy cp)
#
# get: a generator the client streams like any iterator: {"total": n}, then
#   per entry a dict (path relative to the root, type, mode, times), for a
#   file its content as bytes chunks and {"end": path}; a file that cannot be
#   read gives {"path": p, "error": why} and the rest goes on.
# put: the client forwards a record stream as stdin: a JSON line per entry;
#   for a file, chunks (8-byte big-endian length, then bytes) up to an empty
#   one, then a JSON status line. Files are written to a temporary name in
#   the target directory and renamed at the end, so an interrupted copy never
#   leaves a half-written file under its final name.

CHUNK = 1 << 20


def transfer(mode, args):
    if mode == "get":
        return send_tree(args.get("path", ""), bool(args.get("recursive")))
    return receive_tree(args.get("path", ""), bool(args.get("preserve")))


def _walk_tree(root, recursive):
    import stat
    st = os.lstat(root)
    if stat.S_ISDIR(st.st_mode) and not recursive:
        raise IsADirectoryError("%s is a directory (use -r)" % root)
    yield "", root, st
    if not stat.S_ISDIR(st.st_mode):
        return
    for parent, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(parent, name)
            try:
                yield os.path.relpath(full, root), full, os.lstat(full)
            except OSError as e:
                yield os.path.relpath(full, root), full, e


def send_tree(path, recursive):
    import stat
    root = os.path.expanduser(path)
    entries = list(_walk_tree(root, recursive))
    total = sum(st.st_size for _, _, st in entries if not isinstance(st, OSError) and stat.S_ISREG(st.st_mode))

    def items():
        yield {"total": total, "name": os.path.basename(root.rstrip("/")) or root}
        for rel, full, st in entries:
            if isinstance(st, OSError):
                yield {"path": rel, "error": "%s: %s" % (full, st.strerror or st)}
                continue
            meta = {"path": rel, "mode": stat.S_IMODE(st.st_mode), "mtime": st.st_mtime, "atime": st.st_atime}
            if stat.S_ISDIR(st.st_mode):
                meta["type"] = "dir"
                yield meta
            elif stat.S_ISLNK(st.st_mode):
                meta["type"] = "symlink"
                meta["target"] = os.readlink(full)
                yield meta
            elif stat.S_ISREG(st.st_mode):
                try:
                    f = open(full, "rb")
                except OSError as e:
                    yield {"path": rel, "error": "%s: %s" % (full, e.strerror or e)}
                    continue
                meta["type"] = "file"
                yield meta
                try:
                    with f:
                        while True:
                            data = f.read(CHUNK)
                            if not data:
                                break
                            yield data
                except OSError as e:
                    yield {"path": rel, "error": "%s: %s" % (full, e.strerror or e)}
                    continue
                yield {"end": rel}
            else:
                yield {"path": rel, "error": "%s: not a file, directory or symlink" % full}
    return items()


class TransferInterrupted(Exception):
    pass


def receive_tree(dest, preserve):
    inp = sys.stdin.buffer
    dest = os.path.expanduser(dest)

    def exact(n):
        data = inp.read(n)
        if len(data) != n:
            raise TransferInterrupted("the copy was interrupted")
        return data

    def line():
        text = inp.readline()
        if not text.endswith(b"\n"):
            raise TransferInterrupted("the copy was interrupted")
        return _json_loads(text.decode("utf-8", "surrogateescape"))

    first = line()
    base = dest
    if os.path.isdir(dest) and first.get("name"):
        base = os.path.join(dest, first["name"])
    count, size, errors, dirs = 0, 0, [], []
    while True:
        head = line()
        if head.get("done"):
            break
        rel = head["path"]
        target = os.path.join(base, rel) if rel else base
        kind = head["type"]
        if kind == "dir":
            os.makedirs(target, exist_ok=True)
            dirs.append((target, head))
        elif kind == "symlink":
            if os.path.lexists(target):
                os.unlink(target)
            os.symlink(head["target"], target)
        else:
            tmp = os.path.join(os.path.dirname(target) or ".", ".%s.pushy-%d" % (os.path.basename(target), os.getpid()))
            out = open(tmp, "wb")
            try:
                with out:
                    while True:
                        n = struct.unpack(">Q", exact(8))[0]
                        if n == 0:
                            break
                        out.write(exact(n))
                        size += n
                status = line()
                if not status.get("ok"):
                    errors.append(status.get("error") or rel)
                    os.unlink(tmp)
                    continue
                os.chmod(tmp, head["mode"])
                if preserve:
                    os.utime(tmp, (head["atime"], head["mtime"]))
                os.replace(tmp, target)
                count += 1
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
    for target, head in reversed(dirs):  # last: a read-only dir stays writable while filled
        os.chmod(target, head["mode"])
        if preserve:
            os.utime(target, (head["atime"], head["mtime"]))
    return {"files": count, "bytes": size, "errors": errors}


# ------------------------------------------------------------------- 6. main

def hello_info():
    uname = os.uname()
    try:
        import pwd
        user = pwd.getpwuid(os.geteuid()).pw_name
    except Exception:
        user = str(os.geteuid())
    return {
        "k": "hello",
        "protocol": PROTOCOL_VERSION,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "platform": "%s %s %s" % (uname.sysname, uname.release, uname.machine),
        "host": uname.nodename,
        "user": user,
        "pid": os.getpid(),
    }


def _widen_pipes(*fds):
    """Bigger pipe buffers (Linux): bulk bytes move in fewer, larger writes."""
    setsize = getattr(__import__("fcntl"), "F_SETPIPE_SZ", 1031)
    for fd in fds:
        try:
            __import__("fcntl").fcntl(fd, setsize, 1 << 20)
        except (OSError, ValueError):
            pass  # not a pipe (a socket under sshd), or not Linux


def main():
    import _signal as signal  # the signal module would import enum
    # 1. The protocol moves to private descriptors (os.dup makes them
    #    non-inheritable), so no child process can write into it.
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    _widen_pipes(proto_in, proto_out)
    # 2. fd 0 reads /dev/null until a request forwards stdin.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    channel = Channel(proto_in, proto_out)
    # 3. Announce ourselves on the real stdout before fds 1/2 are replaced:
    #    anything the shell printed before this marker is not protocol.
    channel._write(READY_MARKER)
    channel.send(hello_info())
    # 4. fds 1/2 become pipes pumped as output frames.
    output = Output(channel)
    output.streams = make_text_streams()
    os._exit = _draining_exit(output, os._exit)
    # 5. Ctrl-C arrives as an interrupt frame, which the reader thread turns
    #    into SIGINT for the main thread (installed even if the remote shell
    #    started us with SIGINT ignored).
    server = Server(channel, output)
    signal.signal(signal.SIGINT, server.on_sigint)
    _thread.start_new_thread(server.reader, ())
    server.serve()


if __name__ == "__pushy__":  # stage 0 execs us under this name; tests import us
    main()
