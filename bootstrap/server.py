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

import gc as _gc
import os
import struct
import sys
import _thread

PROTOCOL_VERSION = 1
READY_MARKER = b"\n<pushy-ready v1>\n"
SELF_FILE = "<pushy>"
MAX_FRAME = 1 << 30
MAX_HEADER = 256 << 20  # src/protocol/mod.rs MAX_HEADER
MAX_DEPTH = 10000
MAX_REPR = 1 << 20

# ---------------------------------------------------------------- 1. framing

_PREFIX = struct.Struct(">II")


class Channel:
    """Frames over a pair of private descriptors.

    A frame is `>II` (header length, payload length), a UTF-8 JSON object, and
    raw payload bytes.  Writes come from several threads (main, output pump,
    reader) and are serialised by one lock so frames never interleave.
    """

    def __init__(self, rfd, wfd):
        self.rfd = rfd
        self.wfd = wfd
        self.lock = _thread.allocate_lock()
        self._buffer = b""  # read from rfd; bytes from _at on are not yet taken
        self._at = 0

    def buffered(self):
        """Whether bytes of a next frame have been read already (a wait for
        rfd to become readable must look here first)."""
        return self._at < len(self._buffer)

    def read(self):
        """Next (header dict, payload bytes), or None at end of input. One
        reader at a time (Server.read_lock)."""
        head = self.read_head()
        if head is None:
            return None
        header, plen = head
        payload = self._take(plen) if plen else b""
        return None if payload is None else (header, payload)

    def read_head(self):
        """(header dict, payload length) of the next frame, its payload left
        unread (for `_take` or `payload_to`); None at end of input."""
        prefix = self._take(8)
        if prefix is None:
            return None
        hlen, plen = _PREFIX.unpack(prefix)
        if hlen + plen > MAX_FRAME:
            raise ProtocolError("frame of %d bytes exceeds the maximum" % (hlen + plen))
        header = self._take(hlen)
        if header is None:
            return None
        return _json_loads(header.decode("utf-8")), plen

    def payload_to(self, fd, n):
        """Moves the next n bytes of input into the file `fd` (None: reads
        past them): what was read ahead, then by splice, pipe to file in the
        kernel, where Linux and Python (3.10+) have it. Returns (bytes read,
        why writing failed or None); fewer than n bytes read is the end of
        input. After a failed write the rest is still read, so the frame is
        taken whole."""
        done, why = 0, None
        have = len(self._buffer) - self._at
        if have:
            k = min(have, n)
            why = _write_fd(fd, memoryview(self._buffer)[self._at:self._at + k])
            self._at += k
            done = k
        while done < n:
            if fd is not None and why is None and _splice_works[0]:
                try:
                    k = _splice(self.rfd, fd, n - done)
                except OSError as e:
                    if e.errno in (_errno_code("EINVAL"), _errno_code("ENOSYS")):
                        _splice_works[0] = False  # not here (this file system): read and write
                        continue
                    why = e.strerror or str(e)
                    continue
            else:
                data = os.read(self.rfd, min(n - done, 1 << 20))
                k = len(data)
                if fd is not None and why is None:
                    why = _write_fd(fd, data)
            if k == 0:
                break
            done += k
        return done, why

    def _take(self, n):
        """Exactly n bytes, or None at end of input. A payload that arrives
        in one read is returned as read, and one in several is joined once:
        a MiB of upload is not copied again and again on its way."""
        data, at = self._buffer, self._at
        have = len(data) - at
        if have >= n:
            self._at = at + n
            return data if (at == 0 and have == n) else data[at:at + n]
        parts = [data[at:]] if have else []
        while have < n:
            chunk = os.read(self.rfd, max(n - have, 1 << 16))
            if not chunk:
                return None
            parts.append(chunk)
            have += len(chunk)
        over = have - n  # read ahead: the start of the next frame
        last = parts[-1]
        self._buffer, self._at = last, len(last) - over
        if over:
            parts[-1] = last[:len(last) - over]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def send(self, header, payload=b""):
        """One frame; `payload` is bytes or a list of buffers, written as
        they are (no joined copy of a big value's parts)."""
        data = _header_bytes(header)
        if not payload and len(data) <= MAX_HEADER:  # most frames: a header alone
            frame = _PREFIX.pack(len(data), 0) + data
            with self.lock:
                n = os.write(self.wfd, frame)
                if n < len(frame):  # a full pipe took part of it
                    self._write(memoryview(frame)[n:])
            return
        parts = payload if isinstance(payload, list) else [payload] if payload else []
        ranges = any(type(part) is FileRange for part in parts)
        size = sum(part.count if type(part) is FileRange else memoryview(part).nbytes for part in parts)
        if len(data) + size > MAX_FRAME or len(data) > MAX_HEADER:  # the client would refuse it
            raise ValueTooLargeError(
                "the reply takes %d bytes, more than a reply may carry (1 GiB, of which 256 MiB "
                "of structure): return it in parts, or as an iterator of parts" % (len(data) + size))
        head = _PREFIX.pack(len(data), size) + data
        with self.lock:
            if size < 1 << 16 and not ranges:  # small: one write, one copy
                self._write(head + b"".join(parts))
            else:
                self._write_all([head] + parts)

    def _write(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.wfd, view)
            view = view[n:]

    def _write_all(self, parts):
        if any(type(part) is FileRange for part in parts):
            for part in parts:
                if type(part) is FileRange:
                    self._send_range(part)
                else:
                    self._write(part)
            return
        writev = getattr(os, "writev", None)
        if writev is None:
            for part in parts:
                self._write(part)
            return
        views = [view.cast("B") for view in map(memoryview, parts) if view.nbytes]
        while views:
            n = writev(self.wfd, views[:1024])  # IOV_MAX
            while views and n >= len(views[0]):
                n -= len(views[0])
                views.pop(0)
            if n:
                views[0] = views[0][n:]


    def _send_range(self, part):
        """A file's bytes from the kernel's cache straight into the channel
        (sendfile: no copy through this process). The frame has promised
        `count` bytes: a file that shrank meanwhile is made up with zeros
        and marked `short`, for the sender to report."""
        offset, end = part.offset, part.offset + part.count
        sendfile = _sendfile_works
        while offset < end:
            n = 0
            if sendfile:
                try:
                    n = os.sendfile(self.wfd, part.fd, offset, end - offset)
                except OSError as e:
                    if offset != part.offset or e.errno not in (_errno_code("EINVAL"), _errno_code("ENOSYS"),
                                                                _errno_code("ENOTSOCK"), _errno_code("EOPNOTSUPP")):
                        raise
                    # Not to a pipe here (not Linux), or not from this file
                    # (an odd file system): read and write, for this part.
                    sendfile = False
                    continue
            else:
                data = os.pread(part.fd, min(end - offset, 1 << 20), offset)
                self._write(data)
                n = len(data)
            if n == 0:  # the end of the file came early
                part.short = True
                zeros = bytes(min(end - offset, 1 << 20))
                while offset < end:
                    self._write(zeros[:end - offset])
                    offset += min(len(zeros), end - offset)
                return
            offset += n


_forked = [False]  # set in a child forked from this process (Server.forked)
_fork_hook = getattr(os, "register_at_fork", None)  # Python 3.7+
if _fork_hook is not None:
    _fork_hook(after_in_child=lambda: _forked.__setitem__(0, True))

_sendfile_works = hasattr(os, "sendfile")  # tried per file: a refusal falls back for that file
_splice = getattr(os, "splice", None)  # Python 3.10+, Linux
_splice_works = [_splice is not None]


def _write_fd(fd, data):
    """Writes all of `data` to `fd` (None: drops it); why it failed, or None."""
    if fd is None:
        return None
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as e:
        return e.strerror or str(e)
    return None


def _errno_code(name):
    import errno
    return getattr(errno, name, -1)


class _Reading:
    """See Server.reading."""
    __slots__ = ("server",)

    def __init__(self, server):
        self.server = server

    def __enter__(self):
        self.server.sending = True

    def __exit__(self, *exc):
        self.server.sending = False
        if self.server.deferred and exc[0] is None:
            self.server.deferred = False
            raise KeyboardInterrupt


class FileRange:
    """`count` bytes of the open file `fd` from `offset`, sent as a bytes
    item's payload without passing through Python (Channel._send_range).
    `short` is set if the file had fewer bytes by the time they were sent."""
    __slots__ = ("fd", "offset", "count", "short")

    def __init__(self, fd, offset, count):
        self.fd, self.offset, self.count, self.short = fd, offset, count, False


class ProtocolError(Exception):
    pass


class ValueTooLargeError(Exception):
    """A reply over MAX_FRAME: refused here, so the session lives on."""


ValueTooLargeError.__module__ = "pushy"  # shown as pushy.ValueTooLargeError


_encoder = None


def _header_bytes(header):
    """A header as JSON, `k` first (the client reads the kind before any
    other field); _Raw values are spliced in already encoded."""
    if len(header) == 3 and type(header.get("v")) is _Raw and type(header.get("id")) is int:
        # A reply's usual shape ({"k": "value", "id": 7, "v": ...}): written
        # at once, as the general way below would write it.
        return b'{"k":"%s","id":%d,"v":%s}' % (header["k"].encode(), header["id"], header["v"].data)
    if next(iter(header)) != "k":
        header = dict([("k", header["k"])] + [kv for kv in header.items() if kv[0] != "k"])
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


# ----------------------------------------------------------------- extras
#
# What only some sessions need (completion, file transfer, streaming,
# forwarded stdin, tracebacks, submodule pre-import) lives in extras.py,
# which the client sends ahead of this program as a string: compiling it
# costs milliseconds, paid on first use instead of on every connection. It is
# a module of its own, which sees of this one only the names passed to its
# init(), and which this one uses only through the module object that
# load_extras() returns.

_extras_lock = _thread.allocate_lock()
_extras = None


def extras_code():
    """The extras compiled: from `_EXTRAS_SOURCE`, which is the source as
    sent, or their code object marshalled and compressed when this program
    came from the client's code cache (see program_blob)."""
    source = globals().get("_EXTRAS_SOURCE")
    if source is None:  # run from the source tree (the unit tests)
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "extras.py")) as f:
            source = f.read()
    if isinstance(source, str):
        return compile(source, SELF_FILE, "exec", dont_inherit=True)
    import marshal
    import zlib
    return marshal.loads(zlib.decompress(source))


def program_blob(raw=False):
    """This program compiled, for the client's code cache: zlib-compressed
    (`raw`: plain, for an interpreter on the client's own machine, which
    inflates slower than a pipe carries the difference: about 1 ms of a
    local start) marshal data of the code object stage 0 ran (`_CODE`), with
    the extras' source constant replaced by their code object, so that a
    later start from the cache compiles nothing. That code object is
    marshalled and compressed on its own, a bytes constant: a start that never needs the
    extras (most one-shot calls) neither inflates nor loads them, which was
    half of the blob's start-up cost (about 1 ms). Empty when there is
    nothing to give (an interpreter older than 3.8 has no code.replace; the
    unit tests have no `_CODE`). The client keeps it for this host alone."""
    code = globals().get("_CODE")
    if code is None or not hasattr(code, "replace"):
        return b""
    import marshal
    import zlib
    source = globals().get("_EXTRAS_SOURCE")
    compiled = zlib.compress(marshal.dumps(extras_code()), 6)
    consts = tuple(compiled if c is source else c for c in code.co_consts)
    blob = marshal.dumps(code.replace(co_consts=consts))
    return blob if raw else zlib.compress(blob, 6)


def load_extras():
    """The extras module: compiled on the first call (once, thread-safe)."""
    global _extras
    if _extras is not None:
        return _extras
    with _extras_lock:
        if _extras is not None:
            return _extras
        # A module object in memory, not in sys.modules: the user's code never
        # imports it by accident. Named as this program is, so its classes
        # show the same module name as the server's own (`__pushy__`).
        extras = type(sys)(__name__)
        exec(extras_code(), vars(extras))
        extras.init(self_file=SELF_FILE, sources=_sources, raw=_Raw, short=_short,
                    json_loads=_json_loads, import_or_none=_import_or_none,
                    import_chains=_import_chains, run_code=run_code,
                    raise_import_error=_raise_import_error,
                    file_range=FileRange, write_fd=_write_fd)
        _extras = extras
    return _extras


# ----------------------------------------------------------------- 2. values
#
# A value becomes a flat list of tokens in prefix order, so that neither the
# encoder here, json, nor the client ever recurses on the value's depth.
# Scalars that JSON can carry exactly are themselves; everything else is a
# short list [tag, ...].  The grammar is documented in src/value.rs.

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_SCALARS = (type(None), bool, str, float)
_SCALARS_AND_INT = _SCALARS + (int,)


_SCALAR_TOKENS = {None: b"[null]", True: b"[true]", False: b"[false]"}


def encode_value(value):
    """(tokens, blobs) for a value: the header part and the raw payload part.

    First a fast pass that trusts str and float; if json then rejects a lone
    surrogate or a nan, a careful pass encodes those specially.
    """
    t = type(value)
    if t is int and _I64_MIN <= value <= _I64_MAX:  # the commonest values, at once
        return b"[%d]" % value, b""
    if value is None or t is bool:
        return _SCALAR_TOKENS[value], b""
    # The walk makes short-lived lists and tuples by the million for a big
    # value, none of them in a cycle: the cyclic garbage collector, which
    # would walk every live container again and again meanwhile (half the
    # time of a dict of a million lists), waits until it is done.
    collecting = _gc.isenabled()
    try:  # (an interrupt may land as disable returns: enable stays in the finally)
        _gc.disable()
        tokens, blobs = _encode(value, careful=False)
        try:
            data = _json_bytes(tokens)
        except (UnicodeEncodeError, ValueError):
            tokens, blobs = _encode(value, careful=True)
            data = _json_bytes(tokens)
    finally:
        if collecting:
            _gc.enable()
    return data, b"".join(blobs)  # (one blob alone is returned as it is, not copied)


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


PACK_MIN = 64  # shorter lists of numbers or strs stay JSON

# Tokens of short containers, shared (json writes them; nothing changes them):
# a million rows make no million token lists for the garbage collector.
_LIST_TOKENS = [["l", n] for n in range(PACK_MIN)]
_TUPLE_TOKENS = [["t", n] for n in range(PACK_MIN)]
_DICT_HEADS = [(["d", n],) for n in range(PACK_MIN)]


def _packed(token, children, kinds, offset):
    """A plain list or tuple of at least PACK_MIN exact ints (in 64 bits),
    exact floats or exact strs, as one token and the items' bytes:
    `["I", kind, offset, n]` or `["D", ...]` for n little-endian int64 or
    float64 in the payload, `["S", kind, offset, n, len]` for len bytes of
    the strs' UTF-8 joined by NUL. A million items as JSON take longer to
    write, and to read, than the items themselves. None for anything else
    (see _pack_run). `kinds`: the children's types (_encode works them out
    once for this and _simple_run)."""
    if len(children) < PACK_MIN or len(token) != 2 or token[0] not in ("l", "t"):
        return None
    packed = _pack_run(children, kinds)
    if packed is None:
        return None
    tag, data = packed
    n = len(children)
    return ([tag, token[0], offset, n, len(data)] if tag == "S" else [tag, token[0], offset, n]), data


def _pack_run(items, kinds):
    """(tag, bytes) for items that are all exact ints in 64 bits ("I":
    little-endian int64), all exact floats ("D": float64) or all exact strs
    ("S": their UTF-8 joined by NUL); None for anything else (a str holding
    NUL or a lone surrogate, or an int past 64 bits, goes the JSON way).
    `kinds`: the items' types."""
    if kinds == {str}:
        text = "\0".join(items)
        if text.count("\0") != len(items) - 1:  # one of them holds a NUL
            return None
        try:
            return "S", text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return None
    if kinds == {int}:
        code, tag = "q", "I"
    elif kinds == {float}:
        code, tag = "d", "D"
    else:
        return None
    try:
        # Straight to little-endian bytes: no array and no copy of it.
        return tag, struct.pack("<%d%s" % (len(items), code), *items)
    except struct.error:  # an int past 64 bits
        return None


_PACKABLE = ({int}, {float}, {str})

# A packed table of records may repeat its keys' bytes over its rows at most
# this many times its columns' bytes (the client refuses more: value/tokens.rs).
KEY_BYTES_PER_BYTE = 4


def _table(token, split, offset):
    """A plain list or tuple of at least PACK_MIN rows split into columns
    (_split) that all pack as runs (_pack_run), as one token and the
    columns' bytes: `["T", kind, offset, n, row kind, columns]`, each column
    `["I"]`, `["D"]` or `["S", len]`, its bytes right after the column
    before it; for records (row kind "d"), their keys follow as a list. A
    million rows from a query are then a few C loops on each side instead
    of three million tokens to write and to read (0.6 s here, now 0.29 s).
    None for anything else: such rows go the _rows way."""
    if split is None or len(token) != 2 or token[0] not in ("l", "t"):
        return None
    row_token, columns, kinds, keys = split
    # Every column's kind first: a None in the last column packs nothing.
    if not columns or not all(k in _PACKABLE for k in kinds):
        return None
    specs, blocks = [], []
    for column, k in zip(columns, kinds):
        packed = _pack_run(column, k)
        if packed is None:  # a NUL, a lone surrogate, an int past 64 bits
            return None
        tag, data = packed
        specs.append([tag, len(data)] if tag == "S" else [tag])
        blocks.append(data)
    data = b"".join(blocks)
    head = ["T", token[0], offset, len(columns[0]), row_token[0], specs]
    if keys is not None:
        # The client repeats the keys in every record: their bytes over all
        # rows must stay within a few times the columns' (as it checks), or
        # the records go as tokens, each with its keys.
        if len(columns[0]) * len("".join(keys).encode("utf-8")) > KEY_BYTES_PER_BYTE * len(data):
            return None
        head.append(list(keys))
    return head, data


def _split(rows, kinds):
    """(the rows' shared token, their columns, each column's types, the
    records' keys) when `rows` are all exact tuples or all exact lists of
    one width under PACK_MIN (keys None), or all exact dicts with the same
    str keys in the same order, under PACK_MIN of them; else None. `kinds`:
    the rows' types. A packed table and the rows' tokens share one split.

    Every row is read once, all in one C call (a snapshot: no other thread
    runs in between, so no row is sent as a mix of two of its states), and
    the columns are slices of that snapshot, taken before any column's
    types are gathered (a type's hash may be user code, a metaclass's, that
    changes a row). This is also three times faster than zip(*rows), which
    takes a million arguments."""
    if len(kinds) != 1:
        return None
    kind = next(iter(kinds))
    if kind is not dict and kind is not tuple and kind is not list:
        return None  # (before the imports: `operator` costs a one-shot call 0.3 ms)
    from itertools import chain, cycle
    from operator import is_, itemgetter
    if kind is dict:
        keys = tuple(rows[0])
        width = len(keys)
        if not 0 < width < PACK_MIN or not all(type(k) is str for k in keys):
            return None
        try:
            "".join(keys).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: not as JSON text
            return None
        if len(rows[-1]) != width or not all(map(is_, rows[-1], keys)):
            return None  # (records whose keys vary mostly differ at the end)
        pairs = list(chain.from_iterable(map(dict.items, rows)))
        # Every record's keys are the first one's, the same objects (as json,
        # csv and dict literals make them) in the same order: checked by
        # identity, as no comparison could be (a str subclass's __eq__ is
        # user code). Keys in a dict are distinct, so with the count this
        # puts exactly `width` in each record.
        if len(pairs) != len(rows) * width or not all(map(is_, map(itemgetter(0), pairs), cycle(keys))):
            return None
        flat = list(map(itemgetter(1), pairs))
        token = _DICT_HEADS[width][0]
    else:  # tuple or list
        snapshot = rows if kind is tuple else list(map(tuple, rows))
        widths = set(map(len, snapshot))
        width = widths.pop()
        if widths or width >= PACK_MIN:
            return None
        flat = list(chain.from_iterable(snapshot))
        token = (_TUPLE_TOKENS if kind is tuple else _LIST_TOKENS)[width]
        keys = None
    columns = [flat[i::width] for i in range(width)]
    return token, columns, [set(map(type, column)) for column in columns], keys


def _simple_run(items, kinds):
    """True when every item is a scalar that encodes as itself (`kinds`:
    their types)."""
    if not kinds:
        return True
    if int in kinds:
        if kinds != {int}:
            if not kinds.issubset(_SCALARS_AND_INT):
                return False
            items = [x for x in items if type(x) is int]  # a row such as (1, "a")
        return _I64_MIN <= min(items) and max(items) <= _I64_MAX
    return kinds.issubset(_SCALARS)


ROWS_MIN = 16  # shorter containers of rows go the general way


def _rows(t, children, kinds, split):
    """The tokens of a container's `children` when they form a table, else
    None: a list or tuple of rows (all exact tuples, or all exact lists, of
    one width) or of records (exact dicts), or a dict whose keys are scalars
    and whose values are rows. Every row or record is under PACK_MIN items,
    each a scalar that encodes as itself. A table is checked and written a
    column at a time, by the interpreter's C loops, instead of one walk step
    per row and item (a million rows from a query took 1.8 s, now 0.5 s).
    No row can be in a cycle: it holds scalars alone. `split`: the
    children's _split, for rows."""
    from itertools import chain, repeat
    if t is dict:
        keys, values = children[0::2], children[1::2]
        value_kinds = set(map(type, values))
        # (Records as values are no table here: not split for nothing.)
        table = _columns(_split(values, value_kinds)) if value_kinds != {dict} else None
        if table is None or not _simple_run(keys, set(map(type, keys))):
            return None
        token, columns = table
        return chain.from_iterable(zip(keys, repeat(token, len(keys)), *columns))
    if kinds == {dict}:
        if split is not None:  # records with the same keys: written a column at a time
            head, columns, column_kinds, keys = split
            if all(map(_simple_run, columns, column_kinds)):
                parts = [repeat(head, len(children))]
                for key, column in zip(keys, columns):
                    parts += [repeat(key, len(children)), column]
                return chain.from_iterable(zip(*parts))
        if max(map(len, children)) >= PACK_MIN:
            return None

        def items():  # every record's keys and values, in order, read in place
            return chain.from_iterable(chain.from_iterable(map(dict.items, children)))
        try:
            item_kinds = set(map(type, items()))
            if not item_kinds.issubset(_SCALARS_AND_INT):
                return None
            if int in item_kinds and not _simple_run([x for x in items() if type(x) is int], {int}):
                return None
        except RuntimeError:  # a record changed size meanwhile (the hash of an odd type)
            return None
        # Read again as they are written: no user code can run in between.
        heads = map(_DICT_HEADS.__getitem__, map(len, children))
        return chain.from_iterable(map(chain, heads, map(chain.from_iterable, map(dict.items, children))))
    table = _columns(split)
    if table is None:
        return None
    token, columns = table
    return chain.from_iterable(zip(repeat(token, len(children)), *columns))


def _columns(split):
    """(the rows' shared token, their columns) when every column of a
    _split is a run of scalars that encode as themselves; else None."""
    if split is None or split[3] is not None:  # (records go their own way: _rows)
        return None
    token, columns, kinds, _ = split
    for column, k in zip(columns, kinds):
        if not _simple_run(column, k):
            return None
    return token, columns


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


# Standard types that `--json` shows as their text (the mapping in the man
# page), matched by name along the class's MRO so that checking imports
# nothing: datetime, date and time as ISO 8601, timedelta as an ISO 8601
# duration, Decimal, UUID and paths as str().
_TEXT_FORMS = {
    "datetime.datetime": "iso", "datetime.date": "iso", "datetime.time": "iso",
    "datetime.timedelta": "duration", "decimal.Decimal": "str", "uuid.UUID": "str",
    "pathlib.PurePath": "str", "pathlib._local.PurePath": "str",
}

# Set for the duration of a request that asked for text forms (`--json`).
_text_forms = False


def _text_form(item, t):
    """The text `--json` shows for `item`, or None if it has none."""
    for cls in t.__mro__:
        kind = _TEXT_FORMS.get(_type_name(cls))
        if kind is None:
            continue
        try:
            if kind == "iso":
                text = item.isoformat()
            elif kind == "duration":
                text = _iso_duration(item)
            else:
                text = str(item)
        except Exception:
            return None
        # A subclass's isoformat or __str__ may return anything (itself, which
        # the walk would take for ever): only text is a text form.
        return str.__str__(text) if isinstance(text, str) else None
    return None


def _iso_duration(delta):
    """A timedelta as ISO 8601: P1DT2H3M4.5S, -PT23H, PT0S."""
    us = (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds
    sign, us = ("-" if us < 0 else ""), abs(us)
    days, us = divmod(us, 86400 * 1000000)
    hours, us = divmod(us, 3600 * 1000000)
    minutes, us = divmod(us, 60 * 1000000)
    seconds, micros = divmod(us, 1000000)
    text = "%dD" % days if days else ""
    clock = ""
    if hours:
        clock += "%dH" % hours
    if minutes:
        clock += "%dM" % minutes
    if seconds or micros or not (days or clock):
        clock += ("%d.%06d" % (seconds, micros)).rstrip("0").rstrip(".") + "S"
    return sign + "P" + text + ("T" + clock if clock else "")


def _encode(value, careful):
    """(tokens, blobs): the walk behind encode_value, in prefix order and
    without recursion. `levels` holds an iterator over the children of each
    container being walked (the outermost first). A list is copied before
    anything looks at it, so the count in its token is the count that
    follows even if user code run meanwhile (a __repr__, or the __hash__ of
    a metaclass as the kinds are gathered) changes the list.
    `careful`: write lone surrogates, nan and the infinities as tokens of
    their own (the fast first pass leaves them to json, which refuses
    them)."""
    out = []
    blobs = []
    offset = 0
    active = set()  # the containers on the path being walked: a cycle's back reference
    emit = out.append
    levels = [iter((value,))]
    idents = [None]  # the container each level walks (None: no cycle check)
    while levels:
        depth = len(levels) - 1
        for item in levels[-1]:
            t = type(item)
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
                emit(item if _I64_MIN <= item <= _I64_MAX else ["i", _int_text(item)])
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
            if t is list or t is tuple:  # the commonest containers, without _classify
                children = item[:] if t is list else item  # (see the docstring)
                n = len(children)
                token = (_LIST_TOKENS if t is list else _TUPLE_TOKENS)[n] if n < PACK_MIN else [
                    "l" if t is list else "t", n]
            else:
                try:
                    parts = _classify(item, t)
                except Exception:  # a __len__, __iter__, items(), _fields... that raises
                    parts = None
                if parts is None:
                    text = _text_form(item, t) if _text_forms else None
                    if text is not None:  # a str: encoded as one, surrogates and all
                        levels.append(iter((text,)))
                        idents.append(None)
                        break
                    emit(["r", _type_name(t), _safe_repr(item)])
                    continue
                token, children = parts
                if token is None:  # a str, int or float subclass: its plain value
                    levels.append(iter((children,)))
                    idents.append(None)
                    break
            kinds = set(map(type, children))
            packed = split = None
            if len(children) >= ROWS_MIN and depth + 1 < MAX_DEPTH and t is not dict:
                split = _split(children, kinds)  # rows: for a packed table, or their tokens
            if len(children) >= PACK_MIN:
                packed = _packed(token, children, kinds, offset) or _table(token, split, offset)
            if packed is not None:
                emit(packed[0])
                blobs.append(packed[1])
                offset += len(packed[1])
                continue
            emit(token)
            if not careful:
                if _simple_run(children, kinds):
                    out.extend(children)
                    continue
                rows = _rows(t, children, kinds, split) if len(children) >= ROWS_MIN and depth + 1 < MAX_DEPTH else None
                if rows is not None:
                    out.extend(rows)
                    continue
            active.add(ident)
            levels.append(iter(children))
            idents.append(ident)
            break
        else:  # this level's children are all written
            levels.pop()
            active.discard(idents.pop())
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

def new_namespace():
    """The user's globals: an exact dict, as in python3, so that CPython's
    fast paths for globals and builtins apply to user code. (A dict subclass
    whose __missing__ imported modules made a loop of builtin calls 4-5
    times slower than in python3: CPython looks every global of such a
    namespace up through a Python call.) Modules come in by _bind_modules
    before each piece of code runs."""
    return {"__name__": "__main__", "__builtins__": _BUILTINS}


def _bind_modules(names, namespace):
    """Auto-import: binds in `namespace` the module of each of `names` (the
    names code loads as globals and never binds: _loaded_names) that is
    neither defined there nor a builtin (builtins win over modules, and the
    user's names over both)."""
    builtins = namespace.get("__builtins__", _BUILTINS)
    if not isinstance(builtins, dict):  # a module, as CPython takes either
        builtins = getattr(builtins, "__dict__", {})
    for name in names:
        if name in namespace or name in builtins:
            continue
        module = _auto_import(name)
        if module is not None:
            namespace[name] = module


def _auto_import(name):
    """The module `name`, or None: none of that name, or one whose import
    failed. Both are remembered, so that code naming them (a branch not
    taken) does not search the path, or ask the client, on every request:
    a failed module is not run again (its top level may have effects), and
    _raise_import_error gives its error where the name is used; "no such
    module" holds until sys.path or sys.meta_path changes, or the user's
    code raises a NameError for the name."""
    global _no_module_key
    if name in _failed_imports:
        return None
    key = (tuple(sys.path), tuple(sys.meta_path))
    if key != _no_module_key:
        _no_module.clear()
        _no_module_key = key
    elif name in _no_module:
        return None
    try:
        module = _import_or_none(name)
    except (Exception, SystemExit):  # a module that exits on import is broken too
        _failed_imports.add(name)
        return None
    if module is None:
        _no_module.add(name)
    return module


def _raise_import_error(e, namespace):
    """A NameError for a name whose auto-import failed, raised by the user's
    code itself, raises that import's own error instead (imported again to
    have it: `broken_module.f()` should say why the module is broken, not
    that the name is unknown). Returns when that is not why."""
    if type(e) is not NameError:  # UnboundLocalError: a local, never a module
        return
    name = getattr(e, "name", None)  # Python 3.10+
    if name is None and e.args and isinstance(e.args[0], str):
        text = e.args[0]
        if text.startswith("name '") and text.endswith("' is not defined"):
            name = text[6:-16]
    if name is None or name in namespace:
        return
    tb = e.__traceback__
    last = tb
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    if last is None or last.tb_frame.f_globals is not namespace:  # a library's own globals
        return
    _no_module.discard(name)  # the next request looks again: the module may be there by then
    if name not in _failed_imports:
        return
    _failed_imports.discard(name)
    try:
        module = _import_or_none(name)
    except Exception as failure:
        _failed_imports.add(name)
        # The traceback goes from the user's frames, where the name was
        # used, on into the module's own (tb_next is writable from 3.7).
        if sys.version_info >= (3, 7):
            last.tb_next = failure.__traceback__
            failure = failure.with_traceback(tb)
        raise failure from None
    if module is not None:  # mended since: there for the next request
        namespace.setdefault(name, module)


_failed_imports = set()  # names whose auto-import raised
_no_module = set()       # names with no module of that name, while _no_module_key holds
_no_module_key = None

_CO_OPTIMIZED = 0x1  # a function's code (not a module's or a class body's)


def _loaded_names(*codes):
    """The names `codes` (top-level code) and the code nested in them
    (functions, lambdas, comprehensions, classes) load as globals and never
    bind as globals: the names auto-import may bind, read from the bytecode.
    A name the code binds at its top level or declares `global` is the
    code's own (`path = ...` in a loop) and never auto-imported, as the AST
    path's _bound_names decides for submodules; a class body's own names
    (`def json(self)`) only hide that body's loads. Dunder names are never
    modules to import."""
    loads, binds = set(), set()
    seen = set()
    todo = [(c, True) for c in codes if c is not None]
    if not todo:
        return ()
    table = _name_opcodes()
    while todo:
        code, top = todo.pop()
        if id(code) in seen:
            continue
        seen.add(id(code))
        names = code.co_names
        if names:
            name_loads, global_loads, name_binds, global_binds = _scan_names(code.co_code, names, table)
            loads |= global_loads
            binds |= global_binds
            if top:
                loads |= name_loads
                binds |= name_binds
            elif code.co_flags & _CO_OPTIMIZED:
                loads |= name_loads
            else:  # a class body: its own names are its attributes
                loads |= name_loads - name_binds
        todo.extend((c, False) for c in code.co_consts if type(c) is type(code))
    return tuple(sorted(n for n in loads - binds if not (n.startswith("__") and n.endswith("__"))))


def _scan_names(raw, names, table):
    """(names loaded by LOAD_NAME and its kin, by LOAD_GLOBAL, bound or
    deleted by STORE_NAME/DELETE_NAME, by STORE_GLOBAL/DELETE_GLOBAL)."""
    kinds, extended = table
    found = (set(), set(), set(), set())
    arg = 0
    for i in range(0, len(raw) - 1, 2):
        op = raw[i]
        if op == extended:
            arg = (arg | raw[i + 1]) << 8
            continue
        arg |= raw[i + 1]
        kind = kinds.get(op)
        if kind is not None:
            try:
                found[kind[0]].add(names[arg >> kind[1]])
            except IndexError:  # not expected from compile(): never fatal
                pass
        arg = 0
    return found


def _name_opcodes():
    """({opcode: (kind, shift of its argument to the name's index)},
    EXTENDED_ARG) for this interpreter, kinds as _scan_names returns them.
    Known versions from a table, since importing `opcode` costs 1-2 ms of a
    first request; test_server checks the table against `opcode` on every
    version it runs on."""
    global _NAME_OPCODES
    if _NAME_OPCODES is None:
        version = sys.version_info[:2]
        if (3, 6) <= version <= (3, 12):
            # LOAD_NAME, LOAD_GLOBAL (its index shifted by one from 3.11),
            # LOAD_FROM_DICT_OR_GLOBALS (3.12: class bodies); STORE_NAME,
            # DELETE_NAME; STORE_GLOBAL, DELETE_GLOBAL.
            kinds = {101: (0, 0), 116: (1, 1 if version >= (3, 11) else 0),
                     90: (2, 0), 91: (2, 0), 97: (3, 0), 98: (3, 0)}
            if version >= (3, 12):
                kinds[175] = (0, 0)
            _NAME_OPCODES = (kinds, 144)
        elif version == (3, 13):
            _NAME_OPCODES = ({92: (0, 0), 90: (0, 0), 91: (1, 1), 114: (2, 0), 67: (2, 0),
                              113: (3, 0), 66: (3, 0)}, 71)
        else:
            _NAME_OPCODES = _opcodes_from_module()
    return _NAME_OPCODES


def _opcodes_from_module():
    import opcode
    op = opcode.opmap
    kinds = {op["LOAD_NAME"]: (0, 0), op["LOAD_GLOBAL"]: (1, 1 if sys.version_info >= (3, 11) else 0),
             op["STORE_NAME"]: (2, 0), op["DELETE_NAME"]: (2, 0),
             op["STORE_GLOBAL"]: (3, 0), op["DELETE_GLOBAL"]: (3, 0)}
    if "LOAD_FROM_DICT_OR_GLOBALS" in op:
        kinds[op["LOAD_FROM_DICT_OR_GLOBALS"]] = (0, 0)
    return kinds, opcode.EXTENDED_ARG


_NAME_OPCODES = None


_BUILTINS = sys.modules["builtins"]

# Auto-import never loads these, nor their submodules: importing them has
# side effects (`this` prints, `antigravity` opens a browser, `idlelib` and
# `turtledemo` start programs) or they are test suites. A typo that happens
# to be one of them is a NameError, as in CPython; `import this` still works.
_NO_AUTO_IMPORT = frozenset(("this", "antigravity", "test", "idlelib", "turtledemo"))


def _import_or_none(name):
    if name.partition(".")[0] in _NO_AUTO_IMPORT:
        return None
    module = sys.modules.get(name)
    if module is not None:
        return module
    try:
        # Not importlib.import_module: the importlib package imports
        # `warnings`, a millisecond of a one-shot call for nothing.
        __import__(name)
        return sys.modules[name]
    except ModuleNotFoundError as e:
        if e.name is not None and (e.name == name or name.startswith(e.name + ".")):
            return None
        raise
    except ImportError:
        if "." in name:  # "os.path.join": not a module, an attribute
            return None
        raise


def _import_chains(chains, bound, namespace):
    """Imports the submodules that dotted-name chains such as
    ("xml", "etree", "ElementTree", "parse") reach: a package does not import
    its submodules by itself. Only chains whose root is a module (or will
    auto-import as one) and is not a name the code binds are followed."""
    modtype = type(sys)
    for chain in sorted(chains, key=len):
        root = chain[0]
        if root in bound:  # a variable or parameter of the code, not a module
            continue
        if root in namespace:
            if not isinstance(namespace[root], modtype):
                continue
        else:
            # auto-imported when the code runs (_bind_modules), unless a builtin
            if hasattr(_BUILTINS, root) or _auto_import(root) is None:
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


def _quick_chains(code):
    """The dotted-name chains of a one-line expression, read from its text:
    `os.listdir("/")` gives [("os", "listdir")]. The full parse (ast, and
    the extras) costs more than the rest of a first request, and most
    requests are expressions like this one. None when the text is anything
    the scan is not sure of (comments, prefixed or triple-quoted strings, a
    walrus); the caller has already checked that it compiles as an
    expression without nested scopes, so no name in it is bound."""
    if "#" in code or ":=" in code or "\n" in code:
        return None
    chains, chain, after_dot = [], None, False
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if c == "'" or c == '"':
            if code.startswith(c * 3, i) or (i and (code[i - 1].isalnum() or code[i - 1] == "_")):
                return None  # a docstring-like or prefixed (f"{os.sep}") string
            j = i + 1
            while j < n and code[j] != c:
                j += 2 if code[j] == "\\" else 1
            if j >= n:
                return None
            chain, after_dot, i = None, False, j + 1
        elif c.isidentifier():
            j = i + 1
            while j < n and (code[j].isalnum() or code[j] == "_" or (code[j] > "\x7f" and ("_" + code[j]).isidentifier())):
                j += 1
            name = code[i:j]
            if not after_dot:
                chain = [name]
                chains.append(chain)
            elif chain is not None:
                chain.append(name)
            after_dot, i = False, j
        elif c.isdigit():  # a number, dots and exponents included: ends any chain
            j = i + 1
            while j < n and (code[j].isalnum() or code[j] in "._"):
                j += 1
            chain, after_dot, i = None, False, j
        elif c == ".":
            after_dot, i = True, i + 1
        elif c in " \t":
            i += 1
        else:
            chain, after_dot, i = None, False, i + 1
    return [tuple(c) for c in chains if len(c) > 1]


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
        self.fds = list(self.pipes)
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
            # One poll for both pipes: most calls print nothing, and a failed
            # read each costs an exception.
            try:
                ready = self.select(self.fds, [], [], 0)[0]
            except (OSError, ValueError):
                ready = self.fds
            for r in ready:
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
    if own and sys.stdout is own[0] and sys.stderr is own[-1]:
        return  # the usual case: both are pushy's own (drained by Output.drain)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and all(stream is not s for s in own):
            try:
                stream.flush()
            except Exception:
                pass


# --------------------------------------------------------------- 5. requests

# The watcher thread looks this often (seconds) whether a request has been
# running since it last looked, and then reads the frames that must act
# meanwhile (see Server); after PARK_AFTER without requests it sleeps until
# the next one.
WATCH_AFTER = 0.005
PARK_AFTER = 1.0


class Server:
    """Requests are served one at a time by the main thread (user code must
    run there to receive KeyboardInterrupt). Between requests the main thread
    reads the channel itself, so a request reaches the code that serves it
    without passing between threads. While a request runs, and once it has
    run WATCH_AFTER, a watcher thread reads instead, for the frames that must
    act meanwhile: interrupt, stdin and stream credits (and requests, which
    it queues). Whoever reads holds read_lock. The watcher finds out by
    looking every WATCH_AFTER, not by being woken: a quick request costs no
    thread switch at all."""

    def __init__(self, channel, output):
        self.channel = channel
        self.output = output
        self.namespace = new_namespace()
        self.queue = []
        self.queue_ready = _thread.allocate_lock()  # released by the watcher: look at the queue again
        self.queue_ready.acquire()
        self.read_lock = _thread.allocate_lock()
        self.busy = False  # the main thread serves a request
        self.reads_own = False  # ... and reads every frame itself meanwhile (a put)
        self.seq = 0  # requests served so far
        self.parked = False  # the watcher sleeps until a request starts
        self.unpark = _thread.allocate_lock()  # released by the main thread to wake it
        self.unpark.acquire()
        self.nap = _thread.allocate_lock()  # never released: a timed acquire is a sleep
        self.nap.acquire()
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

    # -- reading, by the main thread between requests and by the watcher
    def dispatch(self, frame, wake):
        """Acts on a frame at once (interrupt, stdin, credits) or queues the
        request it holds (then True); `wake`: the main thread may be waiting
        for it."""
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
        elif kind == "found":  # the client's answer to an import (extras.ask_client)
            if _extras is not None:
                _extras.found(header, payload)
        elif kind == "winch":  # the client's window changed size
            stdin = self.stdins.get(rid)
            if stdin is not None and hasattr(stdin, "resize"):
                stdin.resize(header)
        elif kind == "line":  # the answer to a terminal call's `read`
            if _extras is not None:
                _extras.line_arrived(header, payload)
        else:
            if kind == "eval" and header.get("pty"):  # keys typed go to a pty's master
                self.stdins[rid] = load_extras().Pty(self, rid, header["pty"])
            elif kind == "eval" and header.get("stdin"):
                # Created as the request is read, so stdin frames that
                # follow it are never dropped.
                self.stdins[rid] = load_extras().Stdin(self.channel, rid)
            elif kind == "put":  # the copy's records, taken by the main thread
                self.stdins[rid] = load_extras().Inbox(self, rid)
            self.queue.append((header, payload))
            if wake:
                self._wake_main()
            return True
        return False

    def _wake_main(self):
        # Only the watcher calls this, so the check and the release never race.
        if self.queue_ready.locked():
            self.queue_ready.release()

    def read_or_end(self):
        """The next frame; at the end of input (the client is gone, or spoke
        nonsense) the process ends: never outlive the client, and leave no
        half-copied file behind."""
        try:
            frame = self.channel.read()
        except BaseException:
            frame = None
        if frame is None:
            self.end()
        return frame

    @staticmethod
    def end():
        """The client is gone (or spoke nonsense): no half-copied file is
        left behind, and the process ends."""
        if _extras is not None:  # else no copy can have run
            _extras.remove_temporaries()
        os._exit(0)

    def next_request(self):
        """The next request, read by the main thread itself unless the
        watcher is still reading (then it queues the request, or wakes us
        when it stops)."""
        while not self.queue:
            if self.read_lock.acquire(False):
                try:
                    if self.queue:  # the watcher queued one as it let go
                        continue
                    frame = self.read_or_end()
                finally:
                    self.read_lock.release()
                self.dispatch(frame, wake=False)
            else:
                self.queue_ready.acquire()
        return self.queue.pop(0)

    def await_answer(self, done):
        """Waits until a frame's handler releases `done` (the client's answer
        to a question the running code asked). The main thread reads the
        channel itself meanwhile, unless the watcher does: the answer then
        needs no other thread. An interrupt that arrives while a frame is
        being read waits until it is whole."""
        if _thread.get_ident() != self.main_ident:
            done.acquire()
            return
        def read():
            if done.acquire(False):  # the watcher read it as it let go
                done.release()  # for the loop's own acquire
                return None, None
            return self.read_or_end(), None

        while not done.acquire(False):
            if not self.read_lock.acquire(False):
                if done.acquire(True, 0.05):  # the watcher reads: it releases `done`
                    return
                continue
            self._read_locked(read)

    def _read_locked(self, read):
        """Runs `read()` under the read lock (which the caller took; it is
        released here), an interrupt that arrives meanwhile waiting until it
        returns (frame or None, result); then dispatches the frame. Returns
        the result."""
        self.sending = True
        try:
            frame, result = read()
        finally:
            self.sending = False
            self.read_lock.release()
        if frame is not None:
            self.dispatch(frame, wake=False)
        if self.deferred:
            self.deferred = False
            raise KeyboardInterrupt
        return result

    def forked(self):
        """Whether this is a child the user's code forked (which must never
        send frames): a flag set at the fork where Python has the hook,
        else a system call per request."""
        return _forked[0] if _fork_hook is not None else os.getpid() != self.pid

    def reading(self):
        """A context for the main thread reading part of a frame itself: an
        interrupt that arrives meanwhile waits until the read is done."""
        return _Reading(self)

    def read_own(self, take):
        """For a call that reads its own frames (a put's content): reads
        the next frame's header, unless the watcher is reading (then False).
        `take(header, length)` returns what to hand back, having read as
        much of the payload as it wants, or None for any other frame, whose
        payload is then read here and dispatched (and None returned). An
        interrupt that arrives meanwhile waits until the frame is read."""
        def read():
            try:
                head = self.channel.read_head()
                if head is None:
                    self.end()
                header, length = head
                result = take(header, length)
                if result is not None:
                    return None, result
                payload = self.channel._take(length) if length else b""
                if payload is None:
                    self.end()
                return (header, payload), None
            except (ProtocolError, ValueError, UnicodeDecodeError):
                self.end()

        if not self.read_lock.acquire(False):
            return False
        return self._read_locked(read)

    def watcher(self):
        import select
        seen, quiet = -1, 0.0
        while True:
            self.nap.acquire(True, WATCH_AFTER)
            seq = self.seq
            if not self.busy:
                quiet = quiet + WATCH_AFTER if seq == seen else 0.0
                seen = seq
                if quiet >= PARK_AFTER:
                    self.parked = True
                    if not self.busy:  # else it started meanwhile (see serve)
                        self.unpark.acquire()
                    self.parked = False
                    seen, quiet = -1, 0.0
                continue
            if seq != seen:  # a request started since we last looked: give it time
                seen, quiet = seq, 0.0
                continue
            while self.busy and self.seq == seq:
                if self.reads_own:  # the running call reads the channel itself
                    self.nap.acquire(True, WATCH_AFTER)
                    continue
                if not self.channel.buffered():
                    try:
                        ready = select.select([self.channel.rfd], [], [], 0.05)[0]
                    except InterruptedError:
                        continue
                    if not ready:
                        continue
                # Dispatched under the lock: once the main thread holds it,
                # every request read so far is in the queue, so it never
                # waits on the channel with one there.
                with self.read_lock:
                    if not self.busy:  # the main thread reads again
                        break
                    if self.dispatch(self.read_or_end(), wake=True):
                        break  # the next request: the main thread reads after it
            self._wake_main()  # it may wait for us to stop reading

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
                header, payload = self.next_request()
            except KeyboardInterrupt:  # a late interrupt for a finished call
                continue
            self.seq += 1
            self.busy = True
            if self.parked and self.unpark.locked():  # busy first: see watcher
                self.unpark.release()
            try:
                self.handle(header, payload)
            finally:
                self.busy = False

    def handle(self, header, payload):
        rid = header.get("id")
        kind = header.get("k")
        if kind in ("eval", "get", "put", "ref"):
            if kind == "ref":  # the arguments' bytes (see extras.objects)
                header["payload"] = payload
            self.eval(rid, header)
        elif kind == "release":
            load_extras().release(header.get("refs"))
        elif kind == "complete":
            result = self._complete(rid, header.get("text", ""))
            result.update({"k": "completions", "id": rid})
            self.channel.send(result)
        elif kind == "code":
            self.channel.send({"k": "code", "id": rid}, program_blob(bool(header.get("raw"))))
        elif kind == "check":
            status = load_extras().check_complete(header.get("code", ""))
            self.channel.send({"k": "checked", "id": rid, "status": status})
        elif kind == "modules":  # the client serves local modules: a last finder asks it (no reply)
            if not any(type(f) is _ClientModules for f in sys.meta_path):
                sys.meta_path.append(_ClientModules(self))
        else:
            self.channel.send({"k": "bad", "id": rid, "message": "unknown request kind %r" % (kind,)})

    def _complete(self, rid, text):
        """Completions for `text`: `start` is a code-point offset into it
        (see src/protocol/message.rs). Completion may run an object's `__dir__`, so
        it is interruptible like an eval: the client interrupts it when it
        overruns its time budget or the user presses Ctrl-C, and then gets
        no candidates (and discards this late reply)."""
        nothing = {"start": len(text), "items": []}
        with self.state_lock:
            if self.interrupt_for == rid:  # given up on before it started
                return nothing
            self.running = rid
            self.deferred = False
        try:
            try:
                return load_extras().complete(self.namespace, text)
            finally:
                with self.state_lock:
                    self.running = None
        except BaseException:  # KeyboardInterrupt from the client, or a bug
            while True:  # the reset above may itself have been interrupted
                try:
                    with self.state_lock:
                        self.running = None
                    return nothing
                except KeyboardInterrupt:
                    continue

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
        global _text_forms
        _text_forms = bool(header.get("text_forms"))
        terminal = load_extras().terminal_begin(self, rid, header) if header.get("terminal") else None
        try:
            reply = self._run(rid, header, interrupted)
        finally:
            if terminal is not None:
                _extras.terminal_end(terminal)
            with self.state_lock:
                self.running = None
                self.deferred = False
        if self.forked():
            load_extras().end_forked_child(reply[0])
        if stdin is not None:
            del self.stdins[rid]
            stdin.detach()  # (a pty's output is all forwarded when it returns)
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
                if header.get("if_complete") and _incomplete(header.get("code", "")):
                    return {"k": "incomplete", "id": rid}, b""
                kind = header.get("k")
                if kind in ("get", "put"):  # file transfer: pushy's own code, not the user's
                    has_value, value = True, load_extras().transfer(kind, header, self.stdins.get(rid))
                elif kind == "ref":  # remote objects: calls, attributes, the table
                    has_value, value = True, load_extras().objects(header, self.namespace)
                elif mode in ("shell", "doc", "source"):  # the REPL's !cmd, obj? and obj??
                    has_value, value = True, load_extras().repl_helper(mode, header.get("code", ""), self.namespace)
                elif header.get("repl") and mode == "auto":
                    # CPython's interactive rules: every expression statement
                    # at the top level goes to sys.displayhook, which echoes
                    # it as it runs (in order with the output) and sets `_`.
                    # By value, never streamed: showing an iterator must not
                    # consume it.
                    self._interactive(rid, header.get("code", ""), header.get("file") or "<input>")
                    return {"k": "none", "id": rid}, b""
                else:
                    has_value, value = run_code(header.get("code", ""), header.get("file") or "<input>",
                                                self.namespace, mode)
                if has_value and (header.get("stream") or kind == "get") and _is_iterator(value):
                    if header.get("file_bytes") and _is_binary_file(value):  # --raw: its bytes, not its lines
                        value = load_extras().file_content(value)
                    self._stream(rid, value)
                    return {"k": "end", "id": rid}, b""
                if not has_value:
                    return {"k": "none", "id": rid}, b""
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

    def _interactive(self, rid, code, filename):
        """Runs a REPL input with this request's display hook in place of the
        interpreter's own, unless the user's code has installed one of its
        own (which then prints, as in CPython)."""
        own = sys.displayhook is sys.__displayhook__

        def display(value):
            # CPython's displayhook, except that the value goes to the client
            # as an `echo` frame: by value, printed there.
            if self.forked():  # a forked child must never send frames
                return sys.__displayhook__(value)
            if value is None:
                return
            import builtins
            builtins._ = None  # as CPython: `_` is not the value while it is shown
            data, blobs = encode_value(value)
            self.send({"k": "echo", "id": rid, "v": _Raw(data)}, blobs)
            builtins._ = value

        if own:
            sys.displayhook = display
        try:
            run_code(code, filename, self.namespace, "single")
        finally:
            if sys.displayhook is display:  # not if the code installed its own
                sys.displayhook = sys.__displayhook__

    def _stream(self, rid, iterator):
        """Items go out as the iterator yields them, at most `credits` ahead of
        what the client has consumed, so an endless iterator costs no memory.
        Items that come fast share a frame; none waits more than FLUSH_AFTER."""
        self.send({"k": "iter", "id": rid})
        batch = load_extras().Batch(self, rid)
        try:
            for item in iterator:
                while True:
                    with self.state_lock:
                        if self.credits > 0:
                            self.credits -= 1
                            break
                    batch.flush()  # the client waits for these before it grants more
                    self.credit_ready.acquire()
                if type(item) is FileRange:  # a chunk of a file `pushy cp` fetches: a bytes item
                    batch.flush()
                    self.send({"k": "items", "id": rid, "v": _Raw(b'[[["b",0,%d]]]' % item.count),
                               "sizes": [item.count]}, [item])
                    continue
                batch.add(encode_value(item))
        finally:
            batch.close()


class _ClientModules:
    """The last finder on sys.meta_path when the client serves local modules:
    extras' finder (compiled only when an import gets this far) asks it."""

    def __init__(self, server):
        self.server = server

    def find_spec(self, name, path=None, target=None):
        return load_extras().find_client_module(self.server, name)


class _Raw:
    """Already-encoded JSON spliced into a header, so a large value is
    serialised exactly once."""
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


def _incomplete(code):
    """Is this REPL input an open block? One simple line that compiles is
    complete; anything else (a colon may open a block) asks codeop."""
    if "\n" not in code and ":" not in code:
        try:
            compile(code, "<input>", "single", dont_inherit=True)
            return False
        except (SyntaxError, ValueError, OverflowError):
            pass
    return load_extras().check_complete(code) == "incomplete"


def _is_iterator(value):
    t = type(value)
    return hasattr(t, "__next__") and hasattr(t, "__iter__") and not isinstance(value, (str, bytes))


def _is_binary_file(value):
    """An open, readable binary file object (a closed or write-only one is
    left to iteration, which says what is wrong in Python's words)."""
    import io  # (loaded with the interpreter: a dict lookup)
    if not isinstance(value, (io.BufferedIOBase, io.FileIO)):
        return False
    try:
        return value.readable()
    except ValueError:  # closed
        return False


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


_sources = {}    # file name -> source, for tracebacks (extras holds it too: never rebind)
_compiled = {}   # (source, file name) -> (statements, trailing expression)


def run_code(code, filename, namespace, mode):
    """Run the user's code; (has_value, value) of a trailing expression.

    Modes: "auto" (statements, then the trailing expression is the value),
    "run" (a script as __main__, no value), "single" (a REPL input: each
    expression statement at the top level goes to sys.displayhook, as in
    CPython's interactive mode, and there is no value)."""
    if code.startswith("\ufeff"):  # a UTF-8 BOM, as python3 FILE skips it
        code = code[1:]
    if len(_sources) > 1000:
        _sources.clear()
    _sources[filename] = code
    if mode == "run":  # a script as __main__: no auto value, argv as given
        namespace["__file__"] = filename
        body, last = _compile(code, filename, "exec"), None
        names = _loaded_names(body)
    else:
        key = (code, filename, mode)
        compiled = _compiled.get(key)
        if compiled is None:
            body, last = _compile_auto(code, filename, namespace, mode == "single")
            compiled = body, last, _loaded_names(body, last)
            if len(_compiled) > 256:
                _compiled.clear()
            _compiled[key] = compiled
        body, last, names = compiled
    if names:
        _bind_modules(names, namespace)
    try:
        if body is not None:
            exec(body, namespace)
        if last is None:
            return False, None
        return True, eval(last, namespace)
    except NameError as e:
        _raise_import_error(e, namespace)
        raise


_SINGLE_CHECKS = sys.version_info >= (3, 10)  # compile(..., "single") refuses two statements


def _compile_auto(code, filename, namespace, interactive=False):
    """(statements, trailing expression) as code objects, either may be None.

    A lone expression (or, interactive, a single statement) without dots is
    compiled directly: no ast, nothing to pre-import; so is a one-line
    expression whose dotted names a scan of its text can read
    (_quick_chains). Anything else is
    parsed, its dotted module names imported, and split at the trailing
    expression; interactive code is not split but compiled whole in
    "single" mode, from an ast.Interactive, which (unlike source in that
    mode) may hold several statements: a pasted block.
    """
    try:
        expression = compile(code, filename, "eval", dont_inherit=True)
    except SyntaxError:
        expression = None  # statements (or a real error, reported below)
    if expression is not None and "." in code:
        code_type = type(expression)
        nested = any(type(c) is code_type for c in expression.co_consts)
        chains = None if nested else _quick_chains(code)
        if chains is None:
            expression = None  # the full parse below
        else:
            _import_chains(chains, (), namespace)
    if expression is not None:
        if interactive:
            return compile(code, filename, "single", dont_inherit=True), None
        return None, expression
    # Several statements in "single" mode are a SyntaxError from 3.10 on;
    # before, all but the first were silently dropped: those go to the ast.
    if "." not in code and interactive and (_SINGLE_CHECKS or "\n" not in code.strip()):
        try:
            return compile(code, filename, "single", dont_inherit=True), None
        except SyntaxError:
            pass
    import ast
    tree = _compile(code, filename, "exec", ast.PyCF_ONLY_AST)
    load_extras().preimport_submodules(tree, namespace)
    if interactive:
        if not tree.body:
            return None, None
        return _compile(ast.Interactive(body=tree.body), filename, "single"), None
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
    text = load_extras().format_exception(e)
    return {"k": "error", "id": rid, "type": type(e).__name__, "message": _short(e), "traceback": text}


# ------------------------------------------------------------------- 6. main

def _watch(parent):
    """The watchdog's loop (see start_watchdog): it guards `parent` and
    watches fd 0, the protocol's input, without reading from it."""
    import select
    import _signal as signal  # the signal module would import enum
    guarded, send = None, getattr(signal, "pidfd_send_signal", None)
    pidfd_open = getattr(os, "pidfd_open", None)  # Python 3.9+, Linux 5.3+
    try:
        guarded = pidfd_open(parent) if pidfd_open is not None else None
    except OSError:
        pass
    if os.getppid() != parent:  # not the interpreter we were told to guard
        return
    poller = select.poll()
    poller.register(0, 0)  # no POLLIN: only hang-up and errors wake us
    if guarded is not None:
        poller.register(guarded, select.POLLIN)  # readable once it has exited: nothing to guard
    hung_up = False
    while not hung_up:
        # Without a pidfd (before Python 3.9), a look at the parent every
        # quarter second: it is gone once we are someone else's child.
        for fd, ev in poller.poll(None if guarded is not None else 250):
            if fd != 0:
                return  # it ended by itself
            hung_up = hung_up or bool(ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL))
        if guarded is None and not hung_up and os.getppid() != parent:
            return
    if guarded is not None:
        if select.select([guarded], [], [], 1.0)[0]:  # a second's grace, unless it ends first
            return
        try:
            if send is not None:
                send(guarded, signal.SIGKILL)
            elif os.getppid() == parent:
                os.kill(parent, signal.SIGKILL)
        except ProcessLookupError:  # it ended after all: nothing else is hit
            pass
    else:
        select.select([], [], [], 1.0)
        if os.getppid() == parent:  # still alive (a dead parent makes us an orphan)
            os.kill(parent, signal.SIGKILL)


def start_watchdog(rfd, parent):
    """Starts a process that waits for the protocol input to hang up (the
    client is gone) and then, if this interpreter has not exited by itself
    within a second, kills it: for user code stuck in C with the GIL held,
    which no thread of ours can stop. It holds nothing open but that input,
    so it never keeps the channel alive. It never kills a stranger: `parent`
    must still be its parent, and where Linux has pidfds the signal goes to
    the process itself, not to a number another process may have taken since.

    A fork of this interpreter, made while no other thread exists. It shares
    this process's pages, and each page this one then writes first is
    copied: about 1 ms of a one-shot call on a 2-core host. A fresh
    interpreter instead (posix_spawn) costs the host 6 ms of CPU for its
    start, which even at idle priority made a one-shot call over ssh 3 ms
    slower on the same 2 cores: it is free only where a core is spare, and
    a small or busy host has none."""
    try:
        # No other thread exists yet, so 3.12's warning about forking a
        # multi-threaded process cannot fire: no `warnings` import needed.
        pid = os.fork()
    except OSError:
        return
    if pid:
        return
    try:
        _idle_priority(0)
        os.dup2(rfd, 0)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.closerange(3, 65536)
        _watch(parent)
    except BaseException:
        pass
    os._exit(0)  # at once: no interpreter teardown, nor the parent's at-exit work


def _idle_priority(pid):
    """Puts a process (0: this one) at idle priority: the watchdog only
    sleeps, and a core is free when it must act. SCHED_IDLE where Linux has
    it, else the lowest niceness; either may be refused, which is harmless."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    except (AttributeError, OSError):
        pass


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
        "executable": sys.executable,
        "platform": "%s %s %s" % (uname.sysname, uname.release, uname.machine),
        "host": uname.nodename,
        "user": user,
        "pid": os.getpid(),
        # Which compiled code this interpreter runs: the client's code cache
        # is keyed by it (importlib's MAGIC_NUMBER, loaded at start-up).
        "magic": sys.modules["_frozen_importlib_external"].MAGIC_NUMBER.hex(),
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
    # A watchdog for the one case the reader thread cannot handle: user code
    # stuck in C with the GIL held when the client goes away. Forked here,
    # before any other thread exists (a fork must not copy a thread holding
    # a lock), while the client's first request is on its way.
    start_watchdog(proto_in, os.getpid())
    # 4. fds 1/2 become pipes pumped as output frames.
    output = Output(channel)
    output.streams = make_text_streams()
    os._exit = _draining_exit(output, os._exit)
    # 5. Ctrl-C arrives as an interrupt frame, which the reader thread turns
    #    into SIGINT for the main thread (installed even if the remote shell
    #    started us with SIGINT ignored).
    server = Server(channel, output)
    signal.signal(signal.SIGINT, server.on_sigint)
    _thread.start_new_thread(server.watcher, ())
    server.serve()


if __name__ == "__pushy__":  # stage 0 execs us under this name; tests import us
    main()
