"""Tests of the pushed server program, bootstrap/server.py.

Run from the repository root:

    python3 -m unittest discover -s bootstrap -p 'test_*.py'

Two layers:

* Unit tests load server.py as a module and call its parts directly: the value
  encoder, the auto-importing namespace, running code; and, through the extras
  module the server makes of extras.py, tracebacks, completion, file trees.
* End-to-end tests start the server exactly as the client does (`PYTHON -c
  STAGE0 LEN`, the zlib-compressed program on stdin, frames after the ready
  marker) and speak the frame protocol to it.

Like the server, this file uses the standard library only and runs on Python
3.6+, so the suite can run under the oldest supported interpreter too
(`python3.6 -m unittest ...`): the end-to-end tests start the server with the
interpreter that runs the tests.

Every read from a server process has a deadline, so a broken server fails a
test after a few seconds instead of hanging the suite.
"""

import ast
import builtins
import collections
import copy
import enum
import importlib.util
import io
import itertools
import json
import os
import select
import shlex
import struct
import subprocess
import sys
import tempfile
import threading
import time
import types
import unittest
import zlib
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER_PATH = os.path.join(HERE, "server.py")
STAGE0_PATH = os.path.join(HERE, "stage0.py")

with open(SERVER_PATH, "rb") as _f:
    SERVER_SOURCE = _f.read()
with open(STAGE0_PATH, "r", encoding="ascii") as _f:
    STAGE0 = _f.read()

with open(os.path.join(HERE, "extras.py"), "r", encoding="utf-8") as _f:
    EXTRAS_SOURCE = _f.read()

# What the client sends, as build.rs makes it: the extras as a string
# literal ahead of server.py, all zlib-compressed.
PROGRAM = zlib.compress(b"_EXTRAS_SOURCE = " + ascii(EXTRAS_SOURCE).encode("ascii") + b"\n" + SERVER_SOURCE, 9)
READY_MARKER = b"\n<pushy-ready v1>\n"

# Generous for a healthy server (replies take milliseconds), short enough that
# a broken one fails the suite quickly.
READ_TIMEOUT = 5.0


def load_server():
    """server.py as a module, without running main().

    The module object comes from importlib (so it has a proper spec and
    __file__), but its code is compiled under the file name "<pushy>", as
    stage 0 does: the server's own frames then look as they do in production,
    which is what format_exception filters on.  (Not writing a .pyc for it is
    a side benefit.)  main() runs only when __name__ == "__pushy__".
    """
    spec = importlib.util.spec_from_file_location("pushy_server", SERVER_PATH)
    module = importlib.util.module_from_spec(spec)
    exec(compile(SERVER_SOURCE, "<pushy>", "exec", dont_inherit=True), module.__dict__)
    return module


server = load_server()
# extras.py as the server loads it (on first use in production): a module of
# its own, bound to this server.
extras = server.load_extras()


def tokens(value):
    """(tokens, blobs) of a value, checking the header part is strict JSON."""
    data, blobs = server.encode_value(value)

    def no_constants(name):
        raise AssertionError("non-standard JSON constant %s in %r" % (name, data))

    return json.loads(data.decode("utf-8"), parse_constant=no_constants), blobs


def type_name(cls):
    """The name the server gives a class defined in this test module."""
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return "%s.%s" % (cls.__module__, cls.__qualname__)


def fresh_namespace():
    """A user namespace like the server's."""
    return server.new_namespace()


# Types for the encoder tests (module level, so their names are predictable).

Point = collections.namedtuple("Point", "x y")


class MyList(list):
    pass


class MyStr(str):
    pass


class MyTuple(tuple):
    pass


class MySet(set):
    pass


class MyDict(dict):
    pass


class Color(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 3


class Shade(str, enum.Enum):
    DARK = "dark"


class RaisingRepr:
    def __repr__(self):
        raise ValueError("no repr for you")


class NonStrRepr:
    def __repr__(self):
        return 42


class HugeRepr:
    def __repr__(self):
        return "x" * (server.MAX_REPR + 10)


# ------------------------------------------------------------ unit: values


class EncodeValueTests(unittest.TestCase):
    def test_scalars_are_themselves(self):
        for value in (None, True, False, 0, -7, 1.5, -0.25, "", "héllo ✓"):
            with self.subTest(value=value):
                self.assertEqual(tokens(value), ([value], b""))

    def test_ints_outside_64_bits_are_digit_strings(self):
        self.assertEqual(tokens(2 ** 63 - 1), ([2 ** 63 - 1], b""))
        self.assertEqual(tokens(-(2 ** 63)), ([-(2 ** 63)], b""))
        self.assertEqual(tokens(2 ** 63), ([["i", "9223372036854775808"]], b""))
        self.assertEqual(tokens(-(2 ** 63) - 1), ([["i", "-9223372036854775809"]], b""))
        # In a list: the fast path must not pass a big int through as itself.
        self.assertEqual(tokens([1, 2 ** 64])[0], [["l", 2], 1, ["i", str(2 ** 64)]])

    def test_big_ints_past_the_str_digit_limit(self):
        # Python 3.11+ refuses str() of ints over 4300 digits by default.
        big = 10 ** 5000
        self.assertEqual(tokens(big)[0], [["i", "1" + "0" * 5000]])
        self.assertEqual(tokens(-big)[0], [["i", "-1" + "0" * 5000]])
        if hasattr(sys, "get_int_max_str_digits"):  # the limit is restored
            self.assertEqual(sys.get_int_max_str_digits(), 4300)

    def test_nan_and_infinities(self):
        nan, inf = float("nan"), float("inf")
        self.assertEqual(tokens(nan)[0], [["F", "nan"]])
        self.assertEqual(tokens(inf)[0], [["F", "inf"]])
        self.assertEqual(tokens(-inf)[0], [["F", "-inf"]])
        self.assertEqual(tokens([1.0, nan, 2.5])[0], [["l", 3], 1.0, ["F", "nan"], 2.5])

    def test_lone_surrogates_are_code_points(self):
        self.assertEqual(tokens("a\udc80b")[0], [["u", [0x61, 0xDC80, 0x62]]])
        # Only the bad str changes; its neighbours stay plain strings.
        self.assertEqual(tokens(["ok", "\ud800"])[0], [["l", 2], "ok", ["u", [0xD800]]])

    def test_bytes_are_payload_slices(self):
        value = [b"ab", bytearray(b"cde"), b"", b"\x00\xff"]
        self.assertEqual(
            tokens(value),
            ([["l", 4], ["b", 0, 2], ["B", 2, 3], ["b", 5, 0], ["b", 5, 2]], b"abcde\x00\xff"),
        )

    def test_containers(self):
        cases = [
            ([], [["l", 0]]),
            ((1, "a"), [["t", 2], 1, "a"]),
            ({3}, [["s", 1], 3]),
            (frozenset({4}), [["f", 1], 4]),
            ({"a": [1, 2], "b": None}, [["d", 2], "a", ["l", 2], 1, 2, "b", None]),
            # The same value as value.rs's `nested_containers` test decodes.
            ({(1, 2): {3}}, [["d", 1], ["t", 2], 1, 2, ["s", 1], 3]),
            ([[], [[]]], [["l", 2], ["l", 0], ["l", 1], ["l", 0]]),
        ]
        for value, expected in cases:
            with self.subTest(value=value):
                self.assertEqual(tokens(value)[0], expected)

    def test_namedtuple(self):
        self.assertEqual(
            tokens(Point(1, [2]))[0], [["n", "Point", ["x", "y"]], 1, ["l", 1], 2]
        )

    def test_struct_sequences_have_field_names(self):
        st = os.stat(HERE)
        toks = tokens(st)[0]
        tag, name, fields = toks[0]
        self.assertEqual((tag, name), ("n", "os.stat_result"))
        self.assertEqual(len(fields), len(toks) - 1)  # all values are scalars
        by_name = dict(zip(fields, toks[1:]))
        for field in ("st_mode", "st_ino", "st_size", "st_mtime", "st_mtime_ns"):
            with self.subTest(field=field):
                self.assertEqual(by_name[field], getattr(st, field))
        self.assertEqual(tokens(time.gmtime(0))[0][0][:2], ["n", "time.struct_time"])

    def test_dataclass(self):
        try:
            import dataclasses
        except ImportError:
            self.skipTest("dataclasses is Python 3.7+")

        @dataclasses.dataclass
        class Job:
            name: str
            tags: list = dataclasses.field(default_factory=list)
            secret: int = dataclasses.field(default=0, repr=False)

        # Fields hidden from repr are not sent either.
        self.assertEqual(
            tokens(Job("build", ["ci"]))[0], [["n", "Job", ["name", "tags"]], "build", ["l", 1], "ci"]
        )
        # The class itself is not an instance: an opaque object.
        self.assertEqual(tokens(Job)[0][0][0], "r")

    def test_subclasses_carry_their_type_name(self):
        cases = [
            (MyList([1, 2]), [["l", 2, type_name(MyList)], 1, 2]),
            (MyTuple((1,)), [["t", 1, type_name(MyTuple)], 1]),
            (MySet({5}), [["s", 1, type_name(MySet)], 5]),
            (MyDict(a=1), [["d", 1, type_name(MyDict)], "a", 1]),
            (collections.OrderedDict(a=1), [["d", 1, "collections.OrderedDict"], "a", 1]),
            (collections.Counter("aa"), [["d", 1, "collections.Counter"], "a", 2]),
        ]
        for value, expected in cases:
            with self.subTest(value=value):
                self.assertEqual(tokens(value)[0], expected)

    def test_enums_are_opaque_objects(self):
        # Even int and str enums: a bare 3 or "dark" would lose what they are.
        for member in (Color.RED, Level.HIGH, Shade.DARK):
            with self.subTest(member=member):
                self.assertEqual(tokens(member)[0], [["r", type_name(type(member)), repr(member)]])
        self.assertEqual(
            tokens([Level.HIGH])[0], [["l", 1], ["r", type_name(Level), repr(Level.HIGH)]]
        )

    def test_other_objects_are_type_and_repr(self):
        self.assertEqual(tokens(object)[0], [["r", "type", "<class 'object'>"]])

    def test_broken_repr_does_not_break_the_reply(self):
        (tag, name, text), = tokens(RaisingRepr())[0]
        self.assertEqual((tag, name), ("r", type_name(RaisingRepr)))
        self.assertIn("repr failed", text)
        self.assertIn("ValueError: no repr for you", text)

        (tag, name, text), = tokens(NonStrRepr())[0]
        self.assertEqual((tag, name), ("r", type_name(NonStrRepr)))
        self.assertIn("repr failed: TypeError", text)

    def test_huge_repr_is_truncated(self):
        (_, _, text), = tokens(HugeRepr())[0]
        self.assertEqual(text, "x" * server.MAX_REPR + "...")

    def test_cycles_become_back_references(self):
        lst = [1]
        lst.append(lst)
        self.assertEqual(tokens(lst)[0], [["l", 2], 1, ["c", "list"]])
        d = {}
        d["me"] = d
        self.assertEqual(tokens(d)[0], [["d", 1], "me", ["c", "dict"]])
        # A value shared but not cyclic is sent twice, not as a cycle.
        shared = [[9], "x"]
        self.assertEqual(
            tokens([shared, shared])[0],
            [["l", 2], ["l", 2], ["l", 1], 9, "x", ["l", 2], ["l", 1], 9, "x"],
        )

    def test_depth_is_capped(self):
        def nested(depth):
            value = 0
            for _ in range(depth):
                value = [value]
            return value

        # MAX_DEPTH open containers is the most the client accepts (value.rs).
        at_limit = tokens(nested(server.MAX_DEPTH))[0]
        self.assertEqual(at_limit, [["l", 1]] * server.MAX_DEPTH + [0])
        past_limit = tokens(nested(server.MAX_DEPTH + 1))[0]
        self.assertEqual(past_limit, [["l", 1]] * server.MAX_DEPTH + [["x", "list"]])

    def test_lists_and_tuples_of_numbers_are_packed(self):
        import array
        ints, floats = list(range(-50, 50)), tuple(x / 3 for x in range(100))
        toks, blobs = tokens([ints, floats, list(range(server.PACK_MIN - 1))])
        self.assertEqual(toks[:3], [["l", 3], ["I", "l", 0, 100], ["D", "t", 800, 100]])
        self.assertEqual(toks[3:], [["l", server.PACK_MIN - 1]] + list(range(server.PACK_MIN - 1)))
        q, d = array.array("q", ints), array.array("d", floats)
        if sys.byteorder == "big":
            q.byteswap()
            d.byteswap()
        self.assertEqual(blobs, q.tobytes() + d.tobytes())
        # Not packed: bools, an int past 64 bits, a subclass, mixed kinds.
        for value in ([True] * 100, [1 << 70] * 100, MyList(range(100)), [1, 2.0] * 50):
            self.assertNotIn(tokens(value)[0][0][0], ("I", "D"), value)

    def test_lists_and_tuples_of_strs_are_packed(self):
        names = ["f%03d" % i for i in range(99)] + ["", "caf\xe9 \U0001f600"]
        toks, blobs = tokens([1, names, tuple(names), list(range(64))])
        size = len("\0".join(names).encode("utf-8"))
        self.assertEqual(toks, [["l", 4], 1, ["S", "l", 0, 101, size], ["S", "t", size, 101, size],
                                ["I", "l", 2 * size, 64]])
        self.assertEqual(blobs[:2 * size], ("\0".join(names).encode("utf-8")) * 2)
        # Not packed: a str holding NUL, one with a lone surrogate (sent as
        # code points), a str subclass, too few, mixed kinds.
        nul, surrogate = names + ["a\0b"], names + ["\udcff"]
        self.assertEqual(tokens(nul)[0], [["l", 102]] + nul)
        self.assertEqual(tokens(surrogate)[0], [["l", 102]] + names + [["u", [0xDCFF]]])
        self.assertEqual(tokens(names[:63])[0][0], ["l", 63])
        for value in ([MyStr("x")] * 100, names + [None]):
            self.assertNotEqual(tokens(value)[0][0][0], "S", value)

    def test_large_flat_list_takes_the_fast_path(self):
        value = [str(i) if i % 7 else None for i in range(100000)]  # not one kind: not packed
        spy = mock.patch.object(server, "_simple_run", wraps=server._simple_run)
        start = time.monotonic()
        with spy as simple_run:
            toks, blobs = tokens(value)
        elapsed = time.monotonic() - start
        self.assertEqual(toks, [["l", 100000]] + value)
        self.assertEqual(blobs, b"")
        # One check of the whole list, which passed: no per-item work.
        self.assertEqual(simple_run.call_count, 1)
        self.assertEqual(simple_run.call_args[0][0], value)  # (a copy: see _encode)
        self.assertLess(elapsed, 2.0)

    def walked(self, value):
        """What the general walk, one step per item, makes of `value`: the
        oracle for the table paths (rows as tokens, and packed)."""
        with mock.patch.object(server, "ROWS_MIN", 1 << 62), mock.patch.object(server, "_table", lambda *a: None):
            return tokens(value)

    def test_tables_are_written_as_the_general_walk_writes_them(self):
        big, nan = 2 ** 64, float("nan")
        tables = {
            "rows": [(i, str(i), 1.5, None, True) for i in range(40)],
            "list rows": [[i, "x"] for i in range(20)],
            "empty rows": [() for _ in range(20)],
            "records": [{"a": i, "b": str(i)} for i in range(30)],
            "records of several sizes": [{}, {"a": 1}, {"a": 1, "b": 2.5}] * 10,
            "a dict of rows": {"k%d" % i: (i, "v") for i in range(30)},
            "a tuple of rows": tuple((i,) for i in range(20)),
            # Each of these fails the table's checks, and takes the walk:
            "a big int": [(i, big) for i in range(20)],
            "a nan": [[i, nan] for i in range(20)],
            "a lone surrogate": [{"a": "\udc80"}] * 20,
            "a nested list": [(i, [i]) for i in range(20)],
            "two widths": [(1, 2)] * 19 + [(1,)],
            "tuples and lists": [(1, 2)] * 19 + [[1, 2]],
            "a tuple subclass": [Point(1, 2)] * 20,
            "wide rows": [tuple(range(server.PACK_MIN))] * 20,
            "wide records": [{i: i for i in range(server.PACK_MIN)}] * 20,
            "tuple keys": {(1, i): (i, 1) for i in range(20)},
            "rows of bytes": [(b"ab", 1)] * 20,
        }
        for name, value in tables.items():
            with self.subTest(name):
                self.assertEqual(tokens(value), self.walked(value))

    def test_a_list_that_grows_while_it_is_written_keeps_its_count(self):
        class Grows:
            def __init__(self, into):
                self.into = into

            def __repr__(self):  # user code, run in the middle of the walk
                self.into.append("late")
                return "grows"

        value = []
        value += [Grows(value), [1]]
        toks = tokens(value)[0]
        self.assertEqual(toks[0], ["l", 2])
        self.assertEqual(toks[1][::2], ["r", "grows"])
        self.assertEqual(toks[2:], [["l", 1], 1])

    def test_a_list_changed_by_a_hash_as_its_kinds_are_gathered_keeps_its_count(self):
        class Meta(type):
            def __hash__(cls):  # user code, run as the walk gathers the items' types
                target.append("late")
                return type.__hash__(cls)

        class Odd(metaclass=Meta):
            def __repr__(self):
                return "odd"

        target = [(i, "a") for i in range(server.ROWS_MIN)]
        target[5] = (5, Odd())
        toks = tokens(target)[0]
        self.assertEqual(toks[0], ["l", server.ROWS_MIN])
        self.assertEqual(toks.count(["t", 2]), server.ROWS_MIN)
        self.assertNotIn("late", toks)
        records = [{"a": i} for i in range(server.ROWS_MIN)]
        records[3] = {"a": Odd()}
        target = records
        toks = tokens(records)[0]
        self.assertEqual(toks[0], ["l", server.ROWS_MIN])
        self.assertNotIn("late", toks)

    def test_tables_take_no_walk_step_per_row(self):
        rows = [(i, str(i), None) for i in range(1000)]  # (None: not a packed table)
        with mock.patch.object(server, "_classify", wraps=server._classify) as classify:
            toks = tokens(rows)[0]
        self.assertEqual(toks[:5], [["l", 1000], ["t", 3], 0, "0", None])
        self.assertEqual(len(toks), 1 + 4 * 1000)
        self.assertEqual(classify.call_count, 0)
        records = [{"n": i, "v": None} for i in range(1000)]
        with mock.patch.object(server, "_classify", wraps=server._classify) as classify:
            self.assertEqual(tokens(records)[0][:6], [["l", 1000], ["d", 2], "n", 0, "v", None])
        self.assertEqual(classify.call_count, 0)

    def unpacked(self, value, encoded=None):
        """The tokens of a value whose payload holds packed tables alone
        (or those `encoded`), each table written out as the rows it stands
        for (read back from its columns' bytes, as the client reads them; a
        float JSON cannot carry as the walk writes it), and the payload
        left over."""
        toks, blobs = encoded or tokens(value)
        out, used = [], 0
        for tok in toks:
            if not (isinstance(tok, list) and tok[:1] == ["T"]):
                out.append(tok)
                continue
            _, kind, offset, n, row_kind, specs = tok[:6]
            self.assertEqual(offset, used)
            columns = []
            for spec in specs:
                size = spec[1] if spec[0] == "S" else 8 * n
                block = blobs[used:used + size]
                used += size
                if spec[0] == "S":
                    columns.append(block.decode("utf-8").split("\0"))
                else:
                    code = "q" if spec[0] == "I" else "d"
                    columns.append(list(struct.unpack("<%d%s" % (n, code), block)))
            self.assertTrue(all(len(c) == n for c in columns), tok)
            out.append([kind, n])
            keys = tok[6] if row_kind == "d" else None
            self.assertEqual(len(tok), 7 if keys else 6)
            for row in zip(*columns):
                out.append([row_kind, len(row)])
                for i, x in enumerate(row):
                    if keys:
                        out.append(keys[i])
                    out.append(["F", repr(x)] if x in (float("inf"), float("-inf")) or x != x else x)
        return out, blobs[used:]

    def test_tables_of_packable_columns_are_packed(self):
        tables = {
            "(int, str) rows": [(i, str(i)) for i in range(100)],
            "list rows of every kind": [[i / 4, "caf\xe9 \U0001f600", -i, ""] for i in range(server.PACK_MIN)],
            "one-item tuples": tuple((str(i),) for i in range(70)),
            "the widest rows": [tuple(range(server.PACK_MIN - 1))] * 64,
            "floats that JSON refuses": [(float("nan"), float("-inf"))] * 64,
            "records": [{"id": i, "name": "n%d" % i, "caf\xe9": i / 2} for i in range(100)],
            "a tuple of one-key records": tuple({"k": str(i)} for i in range(64)),
        }
        for name, value in tables.items():
            with self.subTest(name):
                toks, blobs = tokens(value)
                self.assertEqual([t[0] for t in toks], ["T"], toks)
                self.assertEqual(self.unpacked(value), self.walked(value))

    def test_only_tables_whose_every_column_packs_are_packed(self):
        row = (1, "a", 2.5)
        tables = {
            "too few rows": [row] * (server.PACK_MIN - 1),
            "a None": [row] * 70 + [(1, None, 2.5)],
            "a bool": [row] * 70 + [(True, "a", 2.5)],
            "an int past 64 bits": [row] * 70 + [(2 ** 63, "a", 2.5)],
            "a str holding NUL": [row] * 70 + [(1, "a\0b", 2.5)],
            "a lone surrogate": [row] * 70 + [(1, "\udc80", 2.5)],
            "an int among floats": [row] * 70 + [(1, "a", 2)],
            "two widths": [row] * 70 + [(1, "a")],
            "tuples and lists": [row] * 70 + [list(row)],
            "a tuple subclass": [Point(1, 2)] * 70,
            "empty rows": [()] * 70,
            "rows too wide": [tuple(range(server.PACK_MIN))] * 70,
            "a list subclass of rows": MyList([row] * 70),
            "nested rows": [(1, (2,))] * 70,
            "records with a None": [{"a": 1, "b": 2}] * 70 + [{"a": 1, "b": None}],
            "records in another key order": [{"a": 1, "b": 2}] * 70 + [{"b": 2, "a": 1}] + [{"a": 1, "b": 2}],
            "records with other keys": [{"a": 1, "b": 2}] * 70 + [{"a": 1, "c": 2}],
            "records with an int key": [{1: 1, "b": 2}] * 70,
            "records with a lone surrogate in a key": [{"\udc80": 1}] * 70,
            "records whose keys are equal, not the same": [{"ab": i} for i in range(69)] + [{"a" + "b"[:i]: 1} for i in (1,)],
            "records whose keys outweigh their values": [{"k" * 40: ""} for i in range(70)],
            "records too wide": [{"k%d" % i: i for i in range(server.PACK_MIN)}] * 70,
            "empty records": [{}] * 70,
            "a dict subclass": [collections.OrderedDict(a=1)] * 70,
        }
        for name, value in tables.items():
            with self.subTest(name):
                toks, blobs = tokens(value)
                self.assertNotIn("T", [t[0] for t in toks if isinstance(t, list)])
                self.assertEqual((toks, blobs), self.walked(value))

    def test_a_table_takes_its_place_among_the_payload_slices(self):
        rows = [(i, "r%d" % i) for i in range(64)]
        value = [b"xy", list(range(64)), rows, b"z", rows]
        toks, blobs = tokens(value)
        size = len("\0".join("r%d" % i for i in range(64)))
        table = ["T", "l", 2 + 512, 64, "t", [["I"], ["S", size]]]
        self.assertEqual(toks[:4], [["l", 5], ["b", 0, 2], ["I", "l", 2, 64], table])
        after = 2 + 512 + 512 + size
        self.assertEqual(toks[4:], [["b", after, 1], ["T", "l", after + 1, 64, "t", [["I"], ["S", size]]]])
        self.assertEqual(len(blobs), after + 1 + 512 + size)

    def test_rows_changed_by_a_hash_as_a_tables_columns_are_checked_keep_their_count(self):
        # The odd type's hash runs as the columns' types are gathered, and
        # makes the first row longer: no table then, and the walk writes
        # that row as it now is, its count and its items agreeing.
        rows = [[i, "a"] for i in range(70)]

        class Meta(type):
            def __hash__(cls):  # user code, run as a column's types are gathered
                rows[0].append("late")
                return 1

        class Odd(metaclass=Meta):
            def __repr__(self):
                return "odd"

        rows[5][1] = Odd()
        toks = tokens(rows)[0]
        self.assertEqual(toks[0], ["l", 70])
        self.assertNotIn("T", [t[0] for t in toks if isinstance(t, list)])
        # The first row has the items it had when the walk wrote it.
        self.assertEqual(toks[1], ["l", len(toks[2:toks.index(["l", 2], 2)])])

    def test_records_keys_are_checked_without_running_their_eq(self):
        rows = [{"a": i, "b": "x"} for i in range(70)]
        ran = []

        class Key(str):  # not an exact str: its __eq__ is user code
            def __eq__(self, other):
                ran.append(other)
                rows[0]["late"] = 1
                return str.__eq__(self, other)

            __hash__ = str.__hash__

        rows[40] = {Key("a"): 40, "b": "x"}
        toks = tokens(rows)[0]
        self.assertEqual(ran, [])
        self.assertNotIn("late", rows[0])
        self.assertEqual(toks[0], ["l", 70])
        self.assertNotIn("T", [t[0] for t in toks if isinstance(t, list)])

    def test_a_row_changed_by_another_thread_as_rows_are_split_is_sent_in_one_of_its_states(self):
        # The rows are read in one C call: another thread gets in before or
        # after it, never between two columns.
        real = itertools.chain
        cases = (
            ([[i, "a"] for i in range(70)], lambda rows: rows[3].pop()),
            ([[i, "a"] for i in range(70)], lambda rows: rows[3].__setitem__(1, "b")),
            ([{"a": i, "b": "x"} for i in range(70)], lambda rows: rows[5].update({"a": -1, "b": "new"})),
            ([{"a": i, "b": "x"} for i in range(70)], lambda rows: rows[5].update({"c": 7})),
        )
        for rows, change in cases:
            before = copy.deepcopy(rows)
            changed = []

            class Chain(real):
                @classmethod
                def from_iterable(cls, iterable):  # the other thread, as the rows are read
                    if not changed:
                        changed.append(change(rows))
                    return real.from_iterable(iterable)

            with mock.patch("itertools.chain", Chain):
                got = tokens(rows)
            self.assertTrue(changed)
            self.assertIn(self.unpacked(None, got), [self.walked(before), self.walked(rows)])

    def test_tables_keep_to_the_depth_limit(self):
        for table, kind in (([(1, 2)] * 20, "tuple"), ([(1, 2)] * 64, "tuple"), ([{"a": 1}] * 20, "dict"),
                            ({"k%d" % i: [i] for i in range(20)}, "list")):
            value = table
            for _ in range(server.MAX_DEPTH - 1):
                value = [value]
            toks = tokens(value)[0]
            self.assertEqual(toks[:server.MAX_DEPTH - 1], [["l", 1]] * (server.MAX_DEPTH - 1))
            self.assertEqual(toks, self.walked(value)[0], kind)
            self.assertIn(["x", kind], toks)
        # One level up, the rows fit: the table is packed.
        value = [(1, 2)] * 64
        for _ in range(server.MAX_DEPTH - 2):
            value = [value]
        toks = tokens(value)[0]
        self.assertEqual(toks[:-1], [["l", 1]] * (server.MAX_DEPTH - 2))
        self.assertEqual(toks[-1][0], "T")

    def test_table_boundaries(self):
        # A dict of rows from ROWS_MIN children (8 pairs) on; a big int in a
        # later column of mixed rows; the widest rows that are still rows.
        for value in ({"k%d" % i: (i,) for i in range(server.ROWS_MIN // 2 - 1)},
                      {"k%d" % i: (i,) for i in range(server.ROWS_MIN // 2)},
                      [(i, "x", i) for i in range(19)] + [(1, "x", 2 ** 64)],
                      [tuple(range(server.PACK_MIN - 1))] * 20):
            self.assertEqual(tokens(value), self.walked(value))

    def test_text_forms_are_text_only(self):
        import datetime

        class Itself(datetime.date):
            def isoformat(self):
                return self  # the walk must not take this for ever

        class Listed(datetime.date):
            def isoformat(self):
                return [1, 2]

        class Text(str):
            pass

        class Subtext(datetime.date):
            def isoformat(self):
                return Text("2020-01-02")

        server._text_forms = True
        try:
            self.assertEqual(tokens(Itself(2020, 1, 2))[0][0][0], "r")
            self.assertEqual(tokens(Listed(2020, 1, 2))[0][0][0], "r")
            self.assertEqual(tokens(Subtext(2020, 1, 2))[0], ["2020-01-02"])
        finally:
            server._text_forms = False

    def test_the_garbage_collector_is_back_as_it_was(self):
        import gc
        self.assertTrue(gc.isenabled())
        tokens({"a": [[1]] * 100})
        self.assertTrue(gc.isenabled())
        gc.disable()  # the user's code turned it off: it stays off
        try:
            tokens({"a": [[1]] * 100})
            self.assertFalse(gc.isenabled())
        finally:
            gc.enable()
        # An interrupt in the middle of the walk (Ctrl-C) leaves it on too,
        # and so does one that lands as the collector is turned off.
        with mock.patch.object(server, "_encode", side_effect=KeyboardInterrupt):
            with self.assertRaises(KeyboardInterrupt):
                tokens([[1]])
        self.assertTrue(gc.isenabled())

        real_disable = gc.disable

        def off_then_interrupted():
            real_disable()
            raise KeyboardInterrupt

        with mock.patch.object(server._gc, "disable", side_effect=off_then_interrupted):
            with self.assertRaises(KeyboardInterrupt):
                tokens([[1]])
        self.assertTrue(gc.isenabled())


# --------------------------------------------------------- unit: namespace


class ChannelTests(unittest.TestCase):
    """Frames through a real pipe: payloads given as parts, read back whole
    whatever sizes the reads return."""

    def exchange(self, frames):
        import threading
        rfd, wfd = os.pipe()
        self.addCleanup(os.close, rfd)
        writer = server.Channel(None, wfd)

        def write():
            try:
                for header, payload in frames:
                    writer.send(header, payload)
            finally:
                os.close(wfd)
        thread = threading.Thread(target=write)
        thread.start()
        reader = server.Channel(rfd, None)
        got = []
        while True:
            frame = reader.read()
            if frame is None:
                break
            got.append(frame)
        thread.join()
        return got

    def test_parts_and_sizes_round_trip(self):
        import array
        numbers = array.array("q", range(200000))  # 1.6 MB: more than a pipe holds
        frames = [({"k": "a"}, [b"head", numbers, b"tail"]), ({"k": "b"}, b"x" * 70000),
                  ({"k": "c"}, b""), ({"k": "d"}, [b"small", b"parts"]), ({"k": "e", "n": 1}, b"z")]
        got = self.exchange(frames)
        self.assertEqual([h for h, _ in got], [h for h, _ in frames])
        self.assertEqual(got[0][1], b"head" + numbers.tobytes() + b"tail")
        self.assertEqual(got[1][1], b"x" * 70000)
        self.assertEqual([p for _, p in got[2:]], [b"", b"smallparts", b"z"])

    def test_many_small_frames_in_one_read(self):
        frames = [({"k": "n", "i": i}, bytes([i % 256]) * (i % 7)) for i in range(3000)]
        got = self.exchange(frames)
        self.assertEqual(got, frames)

    def test_file_ranges_go_as_they_are_and_a_shrunk_file_is_made_up(self):
        with tempfile.TemporaryFile() as f:
            content = bytes(range(256)) * 8192  # 2 MiB
            f.write(content)
            f.flush()
            whole = server.FileRange(f.fileno(), 1000, len(content) - 1000)
            beyond = server.FileRange(f.fileno(), len(content) - 10, 100)  # as if it shrank
            got = self.exchange([({"k": "a"}, [whole]), ({"k": "b"}, [b"x", beyond]), ({"k": "c"}, b"")])
        self.assertEqual(got[0][1], content[1000:])
        self.assertFalse(whole.short)
        self.assertEqual(got[1][1], b"x" + content[-10:] + bytes(90))
        self.assertTrue(beyond.short)
        self.assertEqual(got[2], ({"k": "c"}, b""))

    def test_file_ranges_without_sendfile(self):
        with tempfile.TemporaryFile() as f:
            f.write(b"abcdef" * 50000)
            f.flush()
            with mock.patch.object(server, "_sendfile_works", False):
                got = self.exchange([({"k": "a"}, [server.FileRange(f.fileno(), 3, 299997)])])
        self.assertEqual(got[0][1], (b"abcdef" * 50000)[3:])

    def test_a_payload_moves_into_a_file_with_or_without_splice(self):
        import threading
        content = os.urandom(3 << 20)
        for splice in ([True] if server._splice is not None else []) + [False]:  # splice: 3.10+
            rfd, wfd = os.pipe()
            self.addCleanup(os.close, rfd)
            writer = server.Channel(None, wfd)

            def write():
                try:
                    writer.send({"k": "stdin", "id": 1}, content)
                    writer.send({"k": "next"}, b"after")
                finally:
                    os.close(wfd)
            thread = threading.Thread(target=write)
            thread.start()
            reader = server.Channel(rfd, None)
            with tempfile.TemporaryFile() as f, mock.patch.object(server, "_splice_works", [splice]):
                header, length = reader.read_head()
                self.assertEqual((header, length), ({"k": "stdin", "id": 1}, len(content)))
                self.assertEqual(reader.payload_to(f.fileno(), length), (length, None))
                f.seek(0)
                self.assertTrue(f.read() == content, "the file differs (splice %s)" % splice)
            self.assertEqual(reader.read(), ({"k": "next"}, b"after"))
            thread.join()

    def test_a_payload_that_cannot_be_written_is_still_read_past(self):
        import threading
        rfd, wfd = os.pipe()
        self.addCleanup(os.close, rfd)
        writer = server.Channel(None, wfd)
        thread = threading.Thread(target=lambda: (writer.send({"k": "a"}, b"x" * 300000),
                                                  writer.send({"k": "b"}, b"y"), os.close(wfd)))
        thread.start()
        reader = server.Channel(rfd, None)
        _, length = reader.read_head()
        full = os.open("/dev/full", os.O_WRONLY)
        self.addCleanup(os.close, full)
        done, why = reader.payload_to(full, length)
        self.assertEqual(done, length)
        self.assertTrue(why)  # ENOSPC, said once
        self.assertEqual(reader.read(), ({"k": "b"}, b"y"))
        thread.join()

    def test_a_frame_cut_short_is_the_end(self):
        rfd, wfd = os.pipe()
        self.addCleanup(os.close, rfd)
        os.write(wfd, struct.pack(">II", 2, 10) + b"{}" + b"abc")
        os.close(wfd)
        self.assertIsNone(server.Channel(rfd, None).read())


class NamespaceTests(unittest.TestCase):
    """Auto-import.  Modules for the tests live in a temporary directory on
    sys.path; each test removes what it imported."""

    MODULES = {
        # Named like a builtin: the builtin must win.
        "abs": "IMPORTED = True\n",
        "pushy_test_broken": "raise RuntimeError('broken on purpose')\n",
        "pushy_test_needs_missing": "import pushy_test_missing_dependency\n",
        "pushy_test_counted": "import builtins\nbuiltins.pushy_test_runs += 1\nraise RuntimeError('counted')\n",
    }

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        for name, text in self.MODULES.items():
            with open(os.path.join(tmp.name, name + ".py"), "w") as f:
                f.write(text)
        sys.path.insert(0, tmp.name)
        self.addCleanup(sys.path.remove, tmp.name)
        importlib.invalidate_caches()
        for name in self.MODULES:
            self.addCleanup(sys.modules.pop, name, None)
        self.addCleanup(server._failed_imports.clear)
        self.addCleanup(server._no_module.clear)

    def user(self, code, ns, mode="auto"):
        return server.run_code(code, "<input>", ns, mode)

    def test_module_names_resolve_in_every_scope(self):
        ns = fresh_namespace()
        code = (
            "sep = os.sep\n"
            "def f():\n"
            "    return json.dumps([1])\n"
            "in_function = f()\n"
            "in_lambda = (lambda: string.digits)()\n"
            "in_comprehension = [keyword.iskeyword('if') for _ in range(1)]\n"
            "class C:\n"
            "    in_class = textwrap.dedent(' x')\n"
            "in_class = C.in_class\n"
        )
        for mode in ("auto", "run", "single"):
            with self.subTest(mode=mode):
                ns = fresh_namespace()
                self.user(code, ns, mode)
                self.assertEqual(ns["sep"], os.sep)
                self.assertEqual(ns["in_function"], "[1]")
                self.assertEqual(ns["in_lambda"], "0123456789")
                self.assertEqual(ns["in_comprehension"], [True])
                self.assertEqual(ns["in_class"], "x")
                self.assertIs(ns["json"], json)  # bound, as `import json` would

    def test_the_namespace_is_an_exact_dict(self):
        # CPython's fast paths for globals and builtins need exact dicts: a
        # subclass made loops of builtin calls 4-5 times slower.
        self.assertIs(type(fresh_namespace()), dict)
        ns = fresh_namespace()
        with mock.patch.object(server, "_import_or_none") as imports:
            self.assertEqual(self.user("sum(len(str(i)) for i in range(1000))", ns), (True, 2890))
        self.assertFalse(imports.called)  # builtins are found, never tried as modules

    def test_names_read_from_the_bytecode(self):
        code = compile(
            "import sys as system\n"
            "x = os.sep\n"
            "def f(a):\n"
            "    global g\n"
            "    g = json.dumps(a)\n"
            "    return a, shutil\n"
            "class C:\n"
            "    array = []\n"
            "    y = array\n"
            "del x\n"
            "[k for k in keyword.kwlist]\n"
            "lambda: stat.S_IFMT\n",
            "<input>", "exec")
        # (Not __name__, which the class body loads for its __module__.)
        self.assertEqual(server._loaded_names(code), ("json", "keyword", "os", "shutil", "stat"))
        # A class body's own names are its attributes: they hide its loads only.
        code = compile(
            "class R:\n"
            "    copy = None\n"
            "    other = copy\n"
            "    def json(self):\n"
            "        return json.dumps(1)\n"
            "copy.deepcopy([1])\n",
            "<input>", "exec")
        self.assertEqual(server._loaded_names(code), ("copy", "json"))
        self.assertEqual(server._loaded_names(None, compile("1", "<input>", "eval")), ())
        # Past 256 names an index needs EXTENDED_ARG.
        many = "\n".join("v%d = 1" % i for i in range(300)) + "\nzz = os.sep\n"
        self.assertEqual(server._loaded_names(compile(many, "<input>", "exec")), ("os",))

    def test_the_opcode_table_matches_this_interpreter(self):
        self.assertEqual(server._name_opcodes(), server._opcodes_from_module())

    def test_auto_import_never_loads_modules_with_side_effects_or_test_suites(self):
        for name in ("this", "antigravity", "test", "idlelib", "turtledemo"):
            with self.subTest(name=name):
                already = name in sys.modules
                with self.assertRaises(NameError):
                    self.user(name, fresh_namespace())
                self.assertIsNone(server._import_or_none(name + ".support"))
                self.assertEqual(name in sys.modules, already)
        # A name that merely starts like one still auto-imports.
        self.assertIsNotNone(server._import_or_none("textwrap"))

    def test_builtins_win_over_modules(self):
        for builtins_value in (builtins, vars(builtins)):  # module or dict
            with self.subTest(builtins=type(builtins_value).__name__):
                ns = {"__builtins__": builtins_value}
                self.assertEqual(self.user("abs(-2)", ns), (True, 2))
                self.assertNotIn("abs", ns)
                self.assertNotIn("abs", sys.modules)

    def test_builtins_the_code_puts_in_place_are_cpythons_to_look_up(self):
        ns = {"__builtins__": {"foo": 42}}
        self.assertEqual(self.user("foo", ns), (True, 42))
        self.assertNotIn("foo", ns)

    def test_a_builtin_the_code_adds_or_replaces_is_seen_at_once(self):
        ns = fresh_namespace()
        original = builtins.abs
        try:
            self.user("import builtins\nbuiltins.pushy_test_added = 7\nbuiltins.abs = lambda x: -1", ns)
            self.assertEqual(self.user("pushy_test_added + abs(3)", ns), (True, 6))
        finally:
            builtins.__dict__.pop("pushy_test_added", None)
            builtins.abs = original

    def test_a_method_named_like_a_module_leaves_the_module_alone(self):
        ns = fresh_namespace()
        code = "class R:\n    def json(self):\n        return json.dumps(1)\nR().json()"
        self.assertEqual(self.user(code, ns), (True, "1"))

    def test_user_names_win_over_modules(self):
        ns = fresh_namespace()
        self.user("os = 5", ns)
        self.assertEqual(self.user("os + 1", ns), (True, 6))
        # Bound anywhere in the code: the code's own, never a module.
        ns = fresh_namespace()
        self.user("def f():\n    return json\njson = 'mine'", ns)
        self.assertEqual(self.user("f()", ns), (True, "mine"))

    def test_unknown_names_are_name_errors(self):
        ns = fresh_namespace()
        with self.assertRaises(NameError):
            self.user("pushy_no_such_module_xyz", ns)
        self.assertNotIn("pushy_no_such_module_xyz", ns)

    def test_a_module_that_fails_to_import_raises_its_error_where_it_is_used(self):
        ns = fresh_namespace()
        # Defining a function that names it is no error; calling it is.
        self.user("def f():\n    return pushy_test_broken.x", ns)
        try:  # (not assertRaises, which drops the traceback)
            self.user("f()", ns)
            self.fail("no error")
        except RuntimeError as e:
            caught = e
        self.assertEqual(str(caught), "broken on purpose")
        self.assertTrue(caught.__suppress_context__)  # not "during handling of NameError"
        if sys.version_info >= (3, 7):  # the traceback: where it was used, then the module's line
            text = extras.format_exception(caught)
            self.assertIn('line 2, in f\n', text)
            self.assertIn("raise RuntimeError('broken on purpose')", text)
            self.assertLess(text.index("in f\n"), text.index("raise RuntimeError"))
        # Its own import of a missing module is its error, not "no such name".
        with self.assertRaises(ImportError) as caught:
            self.user("pushy_test_needs_missing", ns)
        self.assertEqual(caught.exception.name, "pushy_test_missing_dependency")
        # A NameError for another name, or an unbound local, stays as it is.
        with self.assertRaises(NameError) as caught:
            self.user("pushy_test_broken if False else pushy_no_such_name_xyz", ns)
        self.assertIn("pushy_no_such_name_xyz", str(caught.exception))
        with self.assertRaises(UnboundLocalError):
            self.user("def g():\n    pushy_test_broken\n    pushy_test_broken = 1\ng()", ns)
        # Nor does one raised in a library's own globals.
        library = {}
        exec("def h():\n    return pushy_test_broken", library)
        ns["h"] = library["h"]
        with self.assertRaises(NameError):
            self.user("h()", ns)

    def test_a_name_that_is_no_module_is_not_searched_for_on_every_request(self):
        ns = fresh_namespace()
        code = "x = 1\nif x == 2:\n    pushy_test_later.f()\nx"
        with mock.patch.object(server, "_import_or_none", wraps=server._import_or_none) as imports:
            for _ in range(3):
                self.assertEqual(self.user(code, ns), (True, 1))
            self.assertEqual(imports.call_count, 1)
            # Looked for again once the path changes...
            sys.path.append(sys.path[0])
            self.addCleanup(sys.path.pop)
            self.user(code, ns)
            self.assertEqual(imports.call_count, 2)
            # ... or once the name was missed: the module may be there by now.
            with open(os.path.join(sys.path[0], "pushy_test_later.py"), "w") as f:
                f.write("def f():\n    return 'here'\n")
            self.addCleanup(sys.modules.pop, "pushy_test_later", None)
            importlib.invalidate_caches()
            with self.assertRaises(NameError):
                self.user("pushy_test_later.f()", ns)
            self.assertEqual(self.user("pushy_test_later.f()", ns), (True, "here"))

    def test_a_remote_call_of_a_function_that_uses_a_broken_module_says_why(self):
        ns = fresh_namespace()
        self.user("def f(x):\n    return pushy_test_broken.y", ns)
        with self.assertRaisesRegex(RuntimeError, "broken on purpose"):
            extras.objects({"op": "call", "function": "f", "args": [1], "payload": b""}, ns)

    def test_a_broken_module_is_not_run_again_on_every_request(self):
        ns = fresh_namespace()
        builtins.pushy_test_runs = 0
        self.addCleanup(delattr, builtins, "pushy_test_runs")
        for _ in range(3):
            self.user("def f():\n    return pushy_test_counted.x", ns)
        self.assertEqual(builtins.pushy_test_runs, 1)
        with self.assertRaisesRegex(RuntimeError, "counted"):  # once more, for its error
            self.user("f()", ns)
        self.assertEqual(builtins.pushy_test_runs, 2)


# Runs in a fresh interpreter, where the submodules are surely not imported yet.
PREIMPORT_PROBE = r"""
import ast, builtins, json, sys
server = {"__name__": "pushy_server", "__file__": sys.argv[1]}
exec(compile(open(sys.argv[1], "rb").read(), "<pushy>", "exec"), server)
watched = ["xml.etree", "xml.etree.ElementTree", "concurrent.futures"]
before = [m for m in watched if m in sys.modules]
calls = []
real = server["_import_or_none"]
def spy(name):
    calls.append(name)
    return real(name)
server["_import_or_none"] = spy
extras = server["load_extras"]()  # after the spy is in place: extras takes it
ns = server["new_namespace"]()
code = (
    "root = xml.etree.ElementTree.fromstring('<a><b/></a>')\n"
    "pool = concurrent.futures.ThreadPoolExecutor\n"
    "joined = os.path.join('a', 'b')\n"
    "[root.tag, pool.__name__, joined]\n"
)
extras.preimport_submodules(ast.parse(code), ns)
after = [m for m in watched if m in sys.modules]
result = server["run_code"](code, "<input>", ns, "auto")
print(json.dumps({"before": before, "after": after, "calls": calls, "result": result}))
"""


class PreimportTests(unittest.TestCase):
    def spy_on_imports(self):
        """A mock that sees every import by name, the server's (the namespace)
        and the extras' (a submodule) alike."""
        spy = mock.Mock(wraps=server._import_or_none)
        for module in (server, extras):
            patcher = mock.patch.object(module, "_import_or_none", spy)
            patcher.start()
            self.addCleanup(patcher.stop)
        return spy

    def test_dotted_names_import_their_submodules(self):
        out = subprocess.check_output(
            [sys.executable, "-B", "-c", PREIMPORT_PROBE, SERVER_PATH], timeout=30
        )
        probe = json.loads(out.decode())
        self.assertEqual(probe["before"], [], "test premise: a fresh interpreter")
        self.assertEqual(
            probe["after"], ["xml.etree", "xml.etree.ElementTree", "concurrent.futures"]
        )
        # os is not a package: os.path.join is an attribute, never an import.
        self.assertNotIn("os.path", probe["calls"])
        self.assertNotIn("os.path.join", probe["calls"])
        self.assertEqual(
            probe["result"], [True, ["a", "ThreadPoolExecutor", os.path.join("a", "b")]]
        )

    def test_chains_not_rooted_at_a_module_are_left_alone(self):
        ns = fresh_namespace()
        ns["obj"] = object()
        code = "obj.attr.sub\nlen.attr.sub\npushy_no_such_module_xyz.attr\n"
        spy = self.spy_on_imports()
        extras.preimport_submodules(ast.parse(code), ns)
        called = [c[0][0] for c in spy.call_args_list]
        # Only the unknown root is tried (as a module, by the namespace).
        self.assertEqual(called, ["pushy_no_such_module_xyz"])

    def test_names_the_code_binds_are_not_modules(self):
        # `this` is a parameter here, not the `this` module (the Zen of Python).
        ns = fresh_namespace()
        code = "def f(this, json):\n    return this.real, json.x\nfor string in []: string.y\n"
        spy = self.spy_on_imports()
        extras.preimport_submodules(ast.parse(code), ns)
        self.assertEqual(spy.call_args_list, [])


class QuickChainTests(unittest.TestCase):
    def test_dotted_names_are_read_from_simple_text(self):
        cases = {
            'os.listdir("/")': [("os", "listdir")],
            "xml.etree.ElementTree.fromstring('<a/>')": [("xml", "etree", "ElementTree", "fromstring")],
            "not os.path.isdir('x.y')": [("os", "path", "isdir")],
            "1.5 + a . b . c": [("a", "b", "c")],
            "f(x).y.z": [],
            "x[0].y": [],
            "'a.b'.join(c.d)": [("c", "d")],
            "os.x if y.z else 2": [("os", "x"), ("y", "z")],
        }
        for code, chains in cases.items():
            self.assertEqual(server._quick_chains(code), chains, code)

    def test_anything_unsure_goes_to_the_full_parse(self):
        for code in ['f"{os.sep}"', '"""a""".x', "os.sep  # c", "(y := os.sep)", "os.sep\n", "'open"]:
            self.assertIsNone(server._quick_chains(code), code)


# Runs in a fresh interpreter: a dotted one-liner needs neither ast nor the extras.
QUICK_PROBE = r"""
import builtins, json, sys
server = {"__name__": "pushy_server", "__file__": sys.argv[1]}
exec(compile(open(sys.argv[1], "rb").read(), "<pushy>", "exec"), server)
ns = server["new_namespace"]()
_, tag = server["run_code"]("xml.etree.ElementTree.fromstring('<a><b/></a>')[0].tag", "<input>", ns, "auto")
print(json.dumps({"tag": tag, "ast": "ast" in sys.modules, "extras": server["_extras"] is not None}))
"""


class QuickPathTests(unittest.TestCase):
    def test_a_dotted_one_liner_loads_neither_ast_nor_the_extras(self):
        out = subprocess.check_output([sys.executable, "-B", "-c", QUICK_PROBE, SERVER_PATH], timeout=30)
        self.assertEqual(json.loads(out.decode()), {"tag": "b", "ast": False, "extras": False})


class CodeCacheTests(unittest.TestCase):
    def test_the_program_blob_runs_with_its_extras_compiled(self):
        import marshal
        code = compile(zlib.decompress(PROGRAM), "<pushy>", "exec")
        module = {"__name__": "pushy_server", "_CODE": code}
        exec(code, module)
        blob = module["program_blob"]()
        if not hasattr(code, "replace"):  # before 3.8: nothing to give, so nothing is cached
            self.assertEqual(blob, b"")
            return
        cached = marshal.loads(zlib.decompress(blob))
        again = {"__name__": "pushy_server_cached", "_CODE": cached}
        exec(cached, again)
        # The extras travel as their own compressed marshal data, loaded only
        # when the extras are first needed.
        self.assertIsInstance(marshal.loads(zlib.decompress(again["_EXTRAS_SOURCE"])), types.CodeType)
        self.assertIsNone(again["_extras"])
        self.assertEqual(again["load_extras"]().check_complete("if x:"), "incomplete")
        # A start from the cache can give its program again (marshal's
        # bytes may differ: reference flags are not stable across loads).
        recached = marshal.loads(zlib.decompress(again["program_blob"]()))
        self.assertTrue(any(isinstance(c, types.CodeType) and "preimport_submodules" in c.co_names
                            for c in recached.co_consts), "the extras' code is in the blob")
        # Raw, for local: the same marshal data, not compressed.
        raw = again["program_blob"](raw=True)
        self.assertEqual(marshal.loads(raw).co_consts[0], recached.co_consts[0])
        self.assertLess(len(zlib.compress(raw, 6)), len(raw))

    def test_stage0_runs_compiled_code_compressed_or_raw(self):
        import importlib.util
        import marshal
        magic = importlib.util.MAGIC_NUMBER.hex()
        blob = marshal.dumps(compile("import os\nos.write(1, b'ran ' + _CODE.co_filename.encode())", "<t>", "exec"))
        for words, data in (([], zlib.compress(blob)), (["r"], blob)):
            with self.subTest(words=words):
                out = subprocess.run([sys.executable, "-c", STAGE0, str(len(data)), "m" + magic] + words,
                                     input=data, stdout=subprocess.PIPE, timeout=30).stdout
                self.assertEqual(out, b"ran <t>")

    def test_without_its_code_object_the_server_has_no_blob(self):
        self.assertEqual(server.program_blob(), b"")

    def test_stage0_refuses_another_bytecode_format_before_reading(self):
        # stdin stays open and empty: a stage 0 that read it would hang.
        proc = subprocess.Popen([sys.executable, "-c", STAGE0, "100", "m00000000"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(proc.wait(timeout=10), 95)
        finally:
            proc.kill()
            proc.stdin.close()
            proc.stdout.close()
            proc.stderr.close()


# ---------------------------------------------------------- unit: run_code


class RunCodeTests(unittest.TestCase):
    def run_code(self, code, ns=None, mode="auto", filename="<input>"):
        return server.run_code(code, filename, ns if ns is not None else fresh_namespace(), mode)

    def test_trailing_expression_is_the_value(self):
        ns = fresh_namespace()
        self.assertEqual(self.run_code("x = 20\nx * 2", ns), (True, 40))
        self.assertEqual(ns["x"], 20)
        self.assertEqual(self.run_code("None"), (True, None))

    def test_statements_only_have_no_value(self):
        ns = fresh_namespace()
        self.assertEqual(self.run_code("y = 1", ns), (False, None))
        self.assertEqual(self.run_code("if True:\n    z = 3", ns), (False, None))
        self.assertEqual((ns["y"], ns["z"]), (1, 3))
        self.assertEqual(self.run_code(""), (False, None))

    def test_run_mode_is_a_script(self):
        ns = fresh_namespace()
        self.assertEqual(self.run_code("f = __file__\n5", ns, "run", "job.py"), (False, None))
        self.assertEqual(ns["f"], "job.py")

    def test_syntax_error_is_marked_as_a_compile_error(self):
        with self.assertRaises(SyntaxError) as caught:
            self.run_code("1 +")
        self.assertIs(caught.exception._pushy_compile, True)
        text = extras.format_exception(caught.exception)
        self.assertNotIn("Traceback", text)  # shown the way CPython shows it
        self.assertIn("SyntaxError", text)


class FormatExceptionTests(unittest.TestCase):
    def raised(self, code):
        try:
            server.run_code(code, "<input>", fresh_namespace(), "auto")
        except BaseException as e:
            return e
        self.fail("no exception from %r" % code)

    def test_server_frames_are_hidden(self):
        import traceback
        e = self.raised("def f():\n    return 1 / 0\nf()")
        full = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        self.assertIn('"<pushy>"', full, "test premise: server frames in the traceback")
        text = extras.format_exception(e)
        self.assertNotIn("<pushy>", text)
        self.assertIn('File "<input>", line 2, in f', text)
        self.assertIn("return 1 / 0", text)  # the source, via linecache
        self.assertTrue(text.startswith("Traceback (most recent call last):"), text)
        self.assertTrue(text.endswith("ZeroDivisionError: division by zero\n"), text)

    def test_chained_exceptions_are_filtered_too(self):
        e = self.raised(
            "try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('v') from e\n"
        )
        text = extras.format_exception(e)
        self.assertNotIn("<pushy>", text)
        self.assertIn("KeyError: 'k'", text)
        self.assertIn("direct cause", text)
        self.assertTrue(text.endswith("ValueError: v\n"), text)


def cpython_traceback(code, filename):
    """What CPython itself prints for `code` run as a script file (`python3
    FILE`), with the script's path shown as `filename`: the reference the
    server's tracebacks must match, carets (3.11+) included, whatever this
    interpreter's version prints."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "script.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        out = subprocess.run([sys.executable, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=30)
    return out.stderr.decode("utf-8").replace('"%s"' % path, '"%s"' % filename)


# Top-level code whose tracebacks mark columns: the last line has no newline
# (as a REPL input and `pushy exec CODE` have none), in the trailing
# expression, in a statement, and binary-operator anchors (`~~~^~~~`).
CARET_CASES = [
    'oss.listdir("/")',
    'x = 1\noss.listdir("/")',
    'x = 1\ny = [0] + oss.listdir("/")',
    'a, b = 1, 0\nc = a / b',
    'd = {"k": {}}\nv = d["k"]["j"]',
    'x = 1\x0c\ny = 2\n1 + oss',  # a form feed is no line break to the compiler
    'def f():\n    return 1 / 0\nf()',
]


# Catches what run_code raises in a frame of "<pushy>", as the server does,
# so the traceback holds the user's frames only and compares whole.
_CATCH = {}
exec(compile("def catch(run, *args):\n    try:\n        run(*args)\n    except BaseException as e:\n"
             "        return e\n", "<pushy>", "exec"), _CATCH)


class CaretTests(unittest.TestCase):
    def raised(self, code, mode):
        e = _CATCH["catch"](server.run_code, code, "<input>", fresh_namespace(), mode)
        self.assertIsNotNone(e, "no exception from %r" % code)
        return e

    def test_tracebacks_match_cpython_for_the_same_source(self):
        for mode in ("auto", "single"):
            for code in CARET_CASES:
                with self.subTest(code=code, mode=mode):
                    text = extras.format_exception(self.raised(code, mode))
                    self.assertEqual(text, cpython_traceback(code, "<input>"))


# ---------------------------------------------------------- unit: complete


class PropertyTrap:
    """Completion must never run a property: it could do anything."""

    calls = 0

    @property
    def trap(self):
        PropertyTrap.calls += 1
        raise RuntimeError("property evaluated")

    plain = {"key": 1}


class CompleteTests(unittest.TestCase):
    def setUp(self):
        self.ns = fresh_namespace()

    def complete(self, text):
        return extras.complete(self.ns, text)

    def test_names(self):
        self.ns["my_variable"] = 1
        result = self.complete("my_v")
        self.assertEqual(result, {"start": 0, "items": ["my_variable"]})
        self.assertIn("print", self.complete("pri")["items"])
        self.assertIn("import", self.complete("imp")["items"])  # keywords too

    def test_attributes_of_auto_imported_modules(self):
        self.assertIn("os.path", self.complete("os.pa")["items"])
        self.assertEqual(self.complete("x = os.path.jo"), {"start": 4, "items": ["os.path.join"]})

    def test_module_names(self):
        self.assertIn("collections", self.complete("collecti")["items"])
        self.assertIn("xml.etree", self.complete("xml.et")["items"])  # a submodule

    def test_dict_keys(self):
        self.ns["d"] = {"alpha": 1, "alps": 2, "beta": 3, 4: 5}
        self.assertEqual(
            self.complete('print(d["al'), {"start": 9, "items": ['alpha"]', 'alps"]']}
        )
        self.assertEqual(self.complete("d['b"), {"start": 3, "items": ["beta']"]})
        self.assertEqual(self.complete('nothing["'), {"start": 9, "items": []})

    def test_keys_inside_nested_subscripts_run_no_user_code(self):
        import collections

        class Trap(dict):
            def __getitem__(self, key):
                raise AssertionError("user code ran")

        made = collections.defaultdict(dict)
        self.ns["d"] = {"a": [0, {"xy": 1, "xz": 2, 3: 4}], "t": Trap(inner={"k": 1}), "dd": made}
        self.assertEqual(self.complete('d["a"][1]["x'), {"start": 11, "items": ['xy"]', 'xz"]']})
        self.assertEqual(self.complete("d['a'][1]["), {"start": 10, "items": ["'xy']", "'xz']", "3]"]})
        self.assertEqual(self.complete('d["t"]["inner"]["'), {"start": 17, "items": ['k"]']})
        self.assertEqual(self.complete('d["a"][9]["'), {"start": 11, "items": []})
        self.assertEqual(self.complete('d["dd"]["new"]["'), {"start": 16, "items": []})
        self.assertEqual(dict(made), {})  # no __missing__ ran
        os.environ["PUSHY_TEST_KEY"] = "1"
        self.assertEqual(self.complete('os.environ["PUSHY_TEST_K'), {"start": 12, "items": ['PUSHY_TEST_KEY"]']})

    def test_properties_are_not_evaluated(self):
        PropertyTrap.calls = 0
        self.ns["obj"] = PropertyTrap()
        self.assertIn("obj.trap", self.complete("obj.")["items"])
        self.assertEqual(self.complete("obj.trap."), {"start": 0, "items": []})
        self.assertEqual(self.complete('obj.trap["'), {"start": 10, "items": []})
        self.assertEqual(PropertyTrap.calls, 0)
        # A plain attribute is fine to read.
        self.assertEqual(self.complete('obj.plain["k')["items"], ['key"]'])

    def test_cached_properties_are_not_evaluated(self):
        import functools
        if not hasattr(functools, "cached_property"):
            self.skipTest("functools.cached_property is Python 3.8+")
        calls = []

        class Lazy:
            @functools.cached_property
            def value(self):
                calls.append(1)
                return {"key": 1}

        self.ns["lazy"] = Lazy()
        self.assertEqual(self.complete("lazy.value.")["items"], [])
        self.assertEqual(self.complete('lazy.value["')["items"], [])
        self.assertEqual(calls, [])

    def test_start_counts_code_points(self):
        # The wire unit (src/protocol/message.rs): Python's str index, not UTF-8 bytes.
        self.assertEqual(self.complete('print("日本", os.listd'), {"start": 12, "items": ["os.listdir"]})
        self.assertEqual(self.complete("s = 'é́🙂'; s.st")["start"], 11)
        self.ns["d"] = {"ключ": 1}
        self.assertEqual(self.complete("d['кл"), {"start": 3, "items": ["ключ']"]})

    def test_nothing_is_imported(self):
        # antigravity opens a web browser when imported.
        self.assertNotIn("antigravity", sys.modules)
        self.assertEqual(self.complete("antigravity.")["items"], [])
        self.assertEqual(self.complete("antigravity.xk")["items"], [])
        self.assertNotIn("antigravity", sys.modules)
        with tempfile.TemporaryDirectory() as root:
            package = os.path.join(root, "pushy_unimported_pkg")
            os.makedirs(os.path.join(package, "inner"))
            for name in ("__init__.py", "child.py", os.path.join("inner", "__init__.py"), os.path.join("inner", "leaf.py")):
                with open(os.path.join(package, name), "w") as f:
                    f.write("raise SystemExit('imported by completion')\n")
            sys.path.insert(0, root)
            try:
                # Submodules found on disk, none of them run.
                self.assertEqual(self.complete("pushy_unimported_pkg.ch")["items"], ["pushy_unimported_pkg.child"])
                self.assertEqual(self.complete("pushy_unimported_pkg.inner.l")["items"],
                                 ["pushy_unimported_pkg.inner.leaf"])
                self.assertEqual(self.complete("pushy_unimported_pkg.child.")["items"], [])
                self.assertFalse([m for m in sys.modules if m.startswith("pushy_unimported_pkg")])
            finally:
                sys.path.remove(root)

    def test_getattr_and_iter_hooks_never_run(self):
        calls = []

        class Hooks:
            value = {"key": 1}

            def __getattr__(self, name):
                calls.append(("__getattr__", name))
                return {"x": 1}

            def __getattribute__(self, name):
                calls.append(("__getattribute__", name))
                return object.__getattribute__(self, name)

        class Keys(dict):
            def __iter__(self):
                calls.append("__iter__")
                return iter(["trap"])

        lazy = types.ModuleType("lazy_module")

        def module_getattr(name):
            calls.append(("module __getattr__", name))
            return {"x": 1}

        lazy.__getattr__ = module_getattr
        self.ns.update(h=Hooks(), k=Keys(real=1), lazy=lazy)
        self.assertEqual(self.complete("h.missing.")["items"], [])
        self.assertEqual(self.complete('h.missing["')["items"], [])
        self.assertEqual(self.complete('h.value["k')["items"], ['key"]'])
        self.assertEqual(self.complete("k['")["items"], ["real']"])
        self.assertEqual(self.complete("lazy.anything.")["items"], [])
        self.assertEqual(calls, [])


# -------------------------------------------------- unit: stream interrupts


class FakeChannel:
    def __init__(self, log):
        self.log = log

    def send(self, header, payload=b""):
        self.log.append(("frame", header["k"]))


class InterruptedDrain:
    """Output whose drain is hit by SIGINT half way: the moment a real drain
    has written a frame's header and not yet its payload."""

    def __init__(self, log):
        self.log = log
        self.server = None

    def drain(self):
        self.log.append(("drain", "start"))
        self.server.on_sigint(2, None)
        self.log.append(("drain", "end"))


class StreamInterruptTests(unittest.TestCase):
    """While a stream runs, its iterator is user code and may be interrupted
    at any moment; the output and item frames the main thread writes between
    items must still go out whole, so an interrupt then waits for them."""

    def test_an_interrupt_never_cuts_a_drain_short(self):
        log = []
        output = InterruptedDrain(log)
        srv = server.Server(FakeChannel(log), output)
        output.server = srv
        srv.running, srv.credits = 1, 10
        with self.assertRaises(KeyboardInterrupt):
            srv._stream(1, iter(range(3)))
        # The drain finished and its frame went out; the interrupt came after.
        self.assertEqual(log[:3], [("drain", "start"), ("drain", "end"), ("frame", "iter")])


# ------------------------------------------------------------ end to end

Frame = collections.namedtuple("Frame", "header payload")

# Kinds that end the reply to a request.
FINAL_KINDS = {"value", "none", "error", "exit", "end", "completions", "bad"}


class ServerError(AssertionError):
    """The server timed out, died or spoke nonsense: a test failure."""


def stage0_argv(python=sys.executable):
    return [python, "-c", STAGE0, str(len(PROGRAM))]


class ServerProcess:
    """A server started the way the client starts one, spoken to in frames.

    Its stdin and stdout are used through select() with a deadline, never
    with a blocking read or write, so a dead or stuck server fails the test
    in seconds.
    """

    def __init__(self, argv=None):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            argv or stage0_argv(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.fd = self.proc.stdout.fileno()
        self.stdin_fd = self.proc.stdin.fileno()
        os.set_blocking(self.stdin_fd, False)
        self.buffer = bytearray()
        self.last_id = 0
        try:
            self._write(PROGRAM)
            self.junk = self._read_until(READY_MARKER, time.monotonic() + 30)
            self.hello = self.recv()
        except BaseException:
            self.close()
            raise

    # -- raw bytes

    def _fill(self, deadline):
        """Read what is available; False at end of stream."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
            raise ServerError("no reply from the server in time" + self.describe())
        data = os.read(self.fd, 1 << 16)
        self.buffer += data
        return bool(data)

    def _write(self, data, timeout=READ_TIMEOUT):
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [self.stdin_fd], [], remaining)[1]:
                raise ServerError("the server stopped reading its stdin" + self.describe())
            try:
                view = view[os.write(self.stdin_fd, view) :]
            except BlockingIOError:
                pass

    def _want(self, n, deadline):
        while len(self.buffer) < n:
            if not self._fill(deadline):
                return False
        return True

    def _read_until(self, marker, deadline):
        """Everything before the marker; the marker itself is consumed."""
        while True:
            at = self.buffer.find(marker)
            if at >= 0:
                junk = bytes(self.buffer[:at])
                del self.buffer[: at + len(marker)]
                return junk
            if not self._fill(deadline):
                raise ServerError("the server ended before its ready marker" + self.describe())

    # -- frames

    def recv(self, timeout=READ_TIMEOUT):
        """The next frame, or None if the server closed its end between frames."""
        deadline = time.monotonic() + timeout
        if not self._want(8, deadline):
            if self.buffer:
                raise ServerError("truncated frame prefix" + self.describe())
            return None
        hlen, plen = struct.unpack(">II", bytes(self.buffer[:8]))
        if not self._want(8 + hlen + plen, deadline):
            raise ServerError("truncated frame" + self.describe())
        header = json.loads(bytes(self.buffer[8 : 8 + hlen]).decode("utf-8"))
        payload = bytes(self.buffer[8 + hlen : 8 + hlen + plen])
        del self.buffer[: 8 + hlen + plen]
        return Frame(header, payload)

    def send(self, header, payload=b""):
        data = json.dumps(header).encode("utf-8")
        self._write(struct.pack(">II", len(data), len(payload)) + data + payload)

    def request(self, kind, **fields):
        """Sends a request with a new id; returns the id."""
        self.last_id += 1
        fields.update(k=kind, id=self.last_id)
        self.send(fields)
        return self.last_id

    def collect(self, rid, timeout=READ_TIMEOUT):
        """All frames up to and including the final reply to request `rid`."""
        deadline = time.monotonic() + timeout
        frames = []
        while True:
            frame = self.recv(max(deadline - time.monotonic(), 0.001))
            if frame is None:
                raise ServerError("the server ended mid-reply" + self.describe())
            frames.append(frame)
            if frame.header.get("id") == rid and frame.header["k"] in FINAL_KINDS:
                return frames

    def eval(self, code, timeout=READ_TIMEOUT, **fields):
        return self.collect(self.request("eval", code=code, **fields), timeout)

    # -- the process

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def describe(self):
        self.stderr.seek(0)
        return "\n(server exit status %r; stderr:\n%s)" % (
            self.proc.poll(),
            self.stderr.read().decode("utf-8", "replace"),
        )

    def close(self):
        try:
            self.proc.stdin.close()  # the server exits on stdin EOF
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()


def output_of(frames, fd):
    return b"".join(f.payload for f in frames if f.header["k"] == "out" and f.header["fd"] == fd)


class EndToEndTest(unittest.TestCase):
    def start(self, argv=None):
        srv = ServerProcess(argv)
        self.addCleanup(srv.close)
        return srv

    def assertReply(self, frames, kind, **fields):
        """The last frame is the reply `kind` with these header fields."""
        header = frames[-1].header
        self.assertEqual(header["k"], kind, header)
        for key, value in fields.items():
            self.assertEqual(header.get(key), value, header)
        return frames[-1]


class HandshakeTests(EndToEndTest):
    def test_stage0_is_one_line_safe_in_any_shell(self):
        # Quoted as '...' on remote command lines (bootstrap.rs).
        self.assertNotIn("\n", STAGE0)
        for char in "'\\$!":
            self.assertNotIn(char, STAGE0)

    def test_stage0_exits_97_on_a_short_program(self):
        proc = subprocess.run(
            [sys.executable, "-c", STAGE0, "100"],
            input=b"too short",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=30,
        )
        self.assertEqual(proc.returncode, 97, proc.stderr)

    def test_hello(self):
        import pwd
        srv = self.start()
        self.assertEqual(srv.junk, b"")
        hello = srv.hello.header
        self.assertEqual(hello["k"], "hello")
        self.assertEqual(hello["protocol"], 1)
        self.assertEqual(hello["python"], "%d.%d.%d" % sys.version_info[:3])
        self.assertEqual(os.path.realpath(hello["executable"]), os.path.realpath(sys.executable))
        uname = os.uname()
        self.assertEqual(hello["platform"], "%s %s %s" % (uname.sysname, uname.release, uname.machine))
        self.assertEqual(hello["host"], uname.nodename)
        self.assertEqual(hello["user"], pwd.getpwuid(os.geteuid()).pw_name)
        self.assertEqual(hello["pid"], srv.proc.pid)
        self.assertEqual(srv.hello.payload, b"")

    def test_junk_before_the_marker_is_skipped(self):
        # As a chatty login shell would; the command line is the client's.
        command = "echo junk; echo more junk >&2; exec %s -c '%s' %d" % (
            shlex.quote(sys.executable), STAGE0, len(PROGRAM))
        srv = self.start(["sh", "-c", command])
        self.assertEqual(srv.junk, b"junk\n")
        self.assertEqual(srv.hello.header["k"], "hello")
        self.assertReply(srv.eval("1 + 1"), "value", v=[2])

    def test_end_of_input_ends_the_server(self):
        srv = self.start()
        srv.proc.stdin.close()
        self.assertEqual(srv.wait(5), 0)

    def test_headers_put_the_kind_first(self):
        # The client reads `k` before any other field.
        self.assertTrue(server._header_bytes({"id": 1, "v": server._Raw(b"[1]"), "k": "value"}).startswith(b'{"k":'))
        self.assertTrue(server._header_bytes({"id": 1, "k": "none"}).startswith(b'{"k":'))

    def test_unknown_request_is_bad(self):
        srv = self.start()
        rid = srv.request("frobnicate")
        self.assertReply(srv.collect(rid), "bad", id=rid)


class EvalTests(EndToEndTest):
    def test_values(self):
        srv = self.start()
        self.assertEqual(srv.eval("6 * 7")[-1], Frame({"k": "value", "id": 1, "v": [42]}, b""))
        # Bytes ride in the payload.
        frame = self.assertReply(srv.eval("[b'ab', bytes(range(256))]"), "value")
        self.assertEqual(frame.header["v"], [["l", 2], ["b", 0, 2], ["b", 2, 256]])
        self.assertEqual(frame.payload, b"ab" + bytes(range(256)))
        self.assertReply(srv.eval("x = 1"), "none")
        self.assertReply(srv.eval("[]", truth=True), "value", v=[["l", 0]], truth=False)
        # Names persist between requests.
        self.assertReply(srv.eval("x + 1"), "value", v=[2])

    def test_output_arrives_before_the_value(self):
        srv = self.start()
        frames = srv.eval(
            "print('one')\n"
            "os.system('echo two')\n"
            "subprocess.call(['sh', '-c', 'echo three'])\n"
            "sys.stdout.write('four\\n')\n"
            "'done'\n"
        )
        self.assertReply(frames, "value", v=["done"])
        self.assertEqual(output_of(frames, 1), b"one\ntwo\nthree\nfour\n")
        self.assertEqual(output_of(frames, 2), b"")

    def test_stderr_is_fd_2(self):
        srv = self.start()
        frames = srv.eval("print('to err', file=sys.stderr)\nos.system('echo child >&2')\n7")
        self.assertReply(frames, "value", v=[7])
        self.assertEqual(output_of(frames, 2), b"to err\nchild\n")
        self.assertEqual(output_of(frames, 1), b"")

    def test_raw_writes_to_fd_1_do_not_corrupt_frames(self):
        srv = self.start()
        # Bytes that would read as a frame prefix if they reached the channel.
        raw = b"\x00\x00\x00\x05\x00\x00\x00\x00{}{}{}raw\n"
        frames = srv.eval("os.write(1, %r)\nos.write(2, b'E')\n'after'" % (raw,))
        self.assertReply(frames, "value", v=["after"])
        self.assertEqual(output_of(frames, 1), raw)
        self.assertEqual(output_of(frames, 2), b"E")
        self.assertReply(srv.eval("'still fine'"), "value", v=["still fine"])

    def test_exception_is_an_error_frame(self):
        srv = self.start()
        frames = srv.eval("def f():\n    raise ValueError('bad thing')\nf()")
        frame = self.assertReply(frames, "error", type="ValueError", message="bad thing")
        traceback = frame.header["traceback"]
        self.assertNotIn("<pushy>", traceback)
        self.assertIn('File "<input>", line 2, in f', traceback)
        self.assertTrue(traceback.endswith("ValueError: bad thing\n"), traceback)
        self.assertReply(srv.eval("pushy_no_such_name_xyz"), "error", type="NameError")
        self.assertReply(srv.eval("1 +"), "error", type="SyntaxError")
        self.assertReply(srv.eval("'alive'"), "value", v=["alive"])

    def test_sys_exit_is_an_exit_frame(self):
        srv = self.start()
        self.assertReply(srv.eval("sys.exit(3)"), "exit", code=3)
        self.assertReply(srv.eval("raise SystemExit"), "exit", code=0)
        frames = srv.eval("sys.exit('fatal: message')")
        self.assertReply(frames, "exit", code=1)
        self.assertEqual(output_of(frames, 2), b"fatal: message\n")

    def test_os_exit_ends_the_process_with_its_status(self):
        srv = self.start()
        srv.request("eval", code="os._exit(3)")
        self.assertIsNone(srv.recv())
        self.assertEqual(srv.wait(5), 3)

    def test_completion(self):
        srv = self.start()
        rid = srv.request("complete", text="os.pa")
        frame = self.assertReply(srv.collect(rid), "completions", start=0)
        self.assertIn("os.path", frame.header["items"])


def echoes(frames):
    """What a REPL input displayed, in order with its output: ("echo",
    tokens) and ("out", bytes) pairs, up to the reply."""
    shown = []
    for f in frames[:-1]:
        if f.header["k"] == "echo":
            shown.append(("echo", f.header["v"]))
        elif f.header["k"] == "out":
            shown.append(("out", f.payload))
    return shown


class ReplDisplayTests(EndToEndTest):
    """`repl: true` inputs follow CPython's interactive rules: every
    expression statement at the top level is shown (an `echo` frame, by
    value, as sys.displayhook runs), None is not, `_` is the last shown."""

    def repl(self, srv, code, **fields):
        frames = srv.eval(code, repl=True, **fields)
        self.assertReply(frames, "none")
        return echoes(frames)

    def test_each_expression_statement_is_echoed(self):
        srv = self.start()
        self.assertEqual(self.repl(srv, "for i in range(3): i"), [("echo", [0]), ("echo", [1]), ("echo", [2])])
        self.assertEqual(self.repl(srv, "if True:\n    'a'\n    'b'\n"), [("echo", ["a"]), ("echo", ["b"])])
        # A pasted block of several statements, each shown.
        self.assertEqual(self.repl(srv, "x = 5\nx\nx + 1"), [("echo", [5]), ("echo", [6])])
        # Not inside a function or a class body, as CPython.
        self.assertEqual(self.repl(srv, "def f():\n    7\nf()"), [])
        self.assertEqual(self.repl(srv, "class C:\n    8\n"), [])

    def test_echoes_interleave_with_output(self):
        srv = self.start()
        self.assertEqual(self.repl(srv, "for i in range(2): print('p', i); i"),
                         [("out", b"p 0\n"), ("echo", [0]), ("out", b"p 1\n"), ("echo", [1])])

    def test_none_is_not_echoed_and_underscore_is_the_last_shown(self):
        srv = self.start()
        self.assertEqual(self.repl(srv, "None"), [])
        self.assertEqual(self.repl(srv, "6 * 7"), [("echo", [42])])
        self.assertEqual(self.repl(srv, "None"), [])  # leaves `_` alone, as CPython
        self.assertEqual(self.repl(srv, "_ + 1"), [("echo", [43])])
        self.assertEqual(self.repl(srv, "for i in range(3): i * 10"), [("echo", [0]), ("echo", [10]), ("echo", [20])])
        self.assertEqual(self.repl(srv, "_"), [("echo", [20])])
        # As in CPython, `_` lives in builtins: a global `_` the user sets wins.
        self.repl(srv, "_ = 'mine'")
        self.repl(srv, "1")
        self.assertEqual(self.repl(srv, "_"), [("echo", ["mine"])])

    def test_iterators_are_shown_not_consumed(self):
        srv = self.start()
        self.repl(srv, "g = (x for x in range(3))")
        # Even if the request asks for streaming: the REPL shows values.
        (kind, v), = self.repl(srv, "g", stream=True, window=10)
        self.assertEqual(v[0][:2], ["r", "generator"], v)
        self.assertIn("<generator object <genexpr>", v[0][2])
        self.assertEqual(self.repl(srv, "list(g)"), [("echo", [["l", 3], 0, 1, 2])])
        (kind, v), = self.repl(srv, "sys.stdout")
        self.assertEqual(v[0][1], "_io.TextIOWrapper", v)
        (kind, v), = self.repl(srv, "iter([1, 2])")
        self.assertEqual(v[0][1], "list_iterator", v)

    def test_bytes_ride_in_the_payload(self):
        srv = self.start()
        frames = srv.eval("b'ab'\nb'cde'", repl=True)
        shown = [f for f in frames if f.header["k"] == "echo"]
        self.assertEqual([(f.header["v"], f.payload) for f in shown],
                         [([["b", 0, 2]], b"ab"), ([["b", 0, 3]], b"cde")])

    def test_a_displayhook_of_the_users_own_prints(self):
        srv = self.start()
        self.repl(srv, "sys.displayhook = lambda v: print('custom', v)")
        self.assertEqual(self.repl(srv, "5"), [("out", b"custom 5\n")])
        self.repl(srv, "sys.displayhook = sys.__displayhook__")
        self.assertEqual(self.repl(srv, "5"), [("echo", [5])])

    def test_errors_after_an_echo(self):
        srv = self.start()
        frames = srv.eval("for i in range(3): 1 / (1 - i)", repl=True)
        self.assertReply(frames, "error", type="ZeroDivisionError")
        self.assertEqual(echoes(frames), [("echo", [1.0])])

    def test_exec_keeps_the_trailing_value(self):
        srv = self.start()
        frames = srv.eval("for i in range(3): i")
        self.assertReply(frames, "none")
        self.assertEqual(echoes(frames), [])
        self.assertReply(srv.eval("1\n2"), "value", v=[2])
        frames = srv.eval("iter([1, 2])", stream=True, window=10)
        self.assertReply(frames, "end")


def stream_items(frames):
    """The token lists of streamed items; several may share an `items` frame."""
    return [v for f in frames if f.header["k"] == "items" for v in f.header["v"]]


def recv_items(srv, count):
    """Frames up to and including the one that brings the count-th item."""
    frames = []
    while len(stream_items(frames)) < count:
        frame = srv.recv()
        if frame is None:
            raise ServerError("the stream ended early")
        frames.append(frame)
    return frames


class TerminalTests(EndToEndTest):
    """A `terminal` eval reads lines from the client when the code asks for
    them (`read`, answered by `line`), getpass with echo off and no warning,
    and (with `pager`) help() text comes as a `page` frame."""

    def read_frame(self, srv):
        while True:
            frame = srv.recv()
            self.assertIsNotNone(frame)
            if frame.header["k"] != "out":
                return frame

    def test_input_asks_for_a_line(self):
        srv = self.start()
        rid = srv.request("eval", code="input('Name: ').upper()", terminal=True)
        read = self.read_frame(srv)
        self.assertEqual((read.header["k"], read.header["echo"]), ("read", True), read.header)
        srv.send({"k": "line", "id": rid, "n": read.header["n"]}, b"ada\n")
        frames = srv.collect(rid)
        self.assertReply(frames, "value", v=["ADA"])

    def test_getpass_is_hooked_when_the_code_imports_it_not_before(self):
        srv = self.start()
        # A terminal call that does not use getpass does not import it.
        self.assertReply(srv.eval("import sys; 'getpass' in sys.modules", terminal=True), "value", v=[False])
        rid = srv.request("eval", code="import getpass; getpass.getpass('Secret: ')", terminal=True)
        read = self.read_frame(srv)
        self.assertEqual((read.header["k"], read.header["echo"]), ("read", False), read.header)
        srv.send({"k": "line", "id": rid, "n": read.header["n"]}, b"s3cret\n")
        self.assertReply(srv.collect(rid), "value", v=["s3cret"])
        # No finder of pushy's is left behind after the call.
        self.assertReply(srv.eval("import sys; [type(f).__name__ for f in sys.meta_path if 'Getpass' in repr(f)]"),
                         "value", v=[["l", 0]])

    def test_the_end_of_input_is_eof_error_and_no_terminal_means_dev_null(self):
        srv = self.start()
        rid = srv.request("eval", code="input()", terminal=True)
        read = self.read_frame(srv)
        srv.send({"k": "line", "id": rid, "n": read.header["n"]}, b"")
        self.assertReply(srv.collect(rid), "error", type="EOFError")
        # A call without a terminal reads /dev/null, as before.
        self.assertReply(srv.eval("import sys; sys.stdin.readline()"), "value", v=[""])

    def test_a_forked_child_reads_the_end_of_input_and_sends_no_frame(self):
        srv = self.start()
        code = ("pid = os.fork()\n"
                "if pid == 0:\n"
                "    try:\n        input()\n    except EOFError:\n        os._exit(7)\n    os._exit(1)\n"
                "os.waitpid(pid, 0)[1] >> 8")
        self.assertReply(srv.eval(code, terminal=True), "value", v=[7])

    def test_a_stale_answer_is_ignored(self):
        srv = self.start()
        rid = srv.request("eval", code="input() + input()", terminal=True)
        first = self.read_frame(srv)
        srv.send({"k": "line", "id": rid, "n": first.header["n"] + 5}, b"stale\n")
        srv.send({"k": "line", "id": rid, "n": first.header["n"]}, b"a\n")
        second = self.read_frame(srv)
        srv.send({"k": "line", "id": rid, "n": second.header["n"]}, b"b\n")
        self.assertReply(srv.collect(rid), "value", v=["ab"])

    def test_getpass_reads_with_echo_off_and_does_not_warn(self):
        srv = self.start()
        rid = srv.request("eval", code="import getpass; getpass.getpass('PIN: ')", terminal=True)
        read = self.read_frame(srv)
        self.assertEqual((read.header["prompt"], read.header["echo"]), ("PIN: ", False))
        srv.send({"k": "line", "id": rid, "n": read.header["n"]}, b"1234\n")
        frames = srv.collect(rid)
        self.assertReply(frames, "value", v=["1234"])
        self.assertNotIn(b"Warning", output_of(frames, 2))

    def test_help_is_paged_only_when_asked(self):
        srv = self.start()
        frames = srv.eval("help(len)", terminal=True, pager=True)
        pages = [f for f in frames if f.header["k"] == "page"]
        self.assertEqual(len(pages), 1, frames)
        self.assertIn(b"Return the number of items", pages[0].payload)
        frames = srv.eval("help(len)", terminal=True)
        self.assertEqual([f for f in frames if f.header["k"] == "page"], [])
        self.assertIn(b"Return the number of items", output_of(frames, 1))


class PtyTests(EndToEndTest):
    """A `pty` eval runs on a pseudo-terminal: keys in `stdin` frames, its
    output as `out` frames before the reply, sizes in `winch` frames."""

    def test_keys_in_output_out_and_fds_back_after(self):
        srv = self.start()
        rid = srv.request("eval", code="print(os.isatty(0), os.isatty(1)); input('? ')",
                          pty={"rows": 30, "cols": 90, "term": "xterm"})
        srv.send({"k": "stdin", "id": rid}, b"typed\r")
        frames = srv.collect(rid)
        self.assertReply(frames, "value", v=["typed"])
        out = output_of(frames, 1)
        self.assertIn(b"True True\r\n", out)
        self.assertIn(b"typed", out)  # the pty's echo (maybe first: keys typed ahead)
        self.assertIn(b"? ", out)
        # After the call, fds 0-2 and TERM are as before.
        term = os.environ.get("TERM")
        self.assertReply(srv.eval("os.isatty(0), os.isatty(1), os.environ.get('TERM')"), "value",
                         v=[["t", 3], False, False, term])

    def test_size_and_winch(self):
        srv = self.start()
        rid = srv.request("eval", pty={"rows": 30, "cols": 90}, code=(
            "import signal, time\ngot = []\nsignal.signal(signal.SIGWINCH, lambda *a: got.append(1))\n"
            "first = os.get_terminal_size()\nprint('ready', flush=True)\n"
            "deadline = time.time() + 10\nwhile not got and time.time() < deadline: time.sleep(0.01)\n"
            "(tuple(first), tuple(os.get_terminal_size()))"))
        while b"ready" not in srv.recv().payload:
            pass
        srv.send({"k": "winch", "id": rid, "rows": 40, "cols": 120})
        reply = srv.collect(rid)[-1]
        self.assertEqual(reply.header["k"], "value", reply.header)
        self.assertEqual(reply.header["v"], [["t", 2], ["t", 2], 90, 30, ["t", 2], 120, 40])

    def test_the_interrupt_key_interrupts(self):
        srv = self.start()
        rid = srv.request("eval", code="print('go', flush=True); time.sleep(30)", pty={"rows": 24, "cols": 80})
        while b"go" not in srv.recv().payload:
            pass
        srv.send({"k": "stdin", "id": rid}, b"\x03")
        self.assertReply(srv.collect(rid), "error", type="KeyboardInterrupt")


class ReplHelperTests(EndToEndTest):
    """The REPL's `!cmd`, `obj?` and `obj??`: evals whose mode names them."""

    def test_shell_streams_and_its_status_is_the_value(self):
        srv = self.start()
        frames = srv.eval("echo out; echo err >&2; exit 3", mode="shell")
        self.assertReply(frames, "value", v=[3])
        self.assertEqual((output_of(frames, 1), output_of(frames, 2)), (b"out\n", b"err\n"))

    def test_doc_and_source(self):
        srv = self.start()
        frames = srv.eval("len", mode="doc")
        self.assertIn(b"Signature: len(obj, /)", output_of(frames, 1))
        srv.eval("def f(x):\n    return x + 1\n", file="<input-1>")
        frames = srv.eval("f", mode="source")
        self.assertIn(b"def f(x):\n    return x + 1\n", output_of(frames, 1))
        self.assertReply(srv.eval("nope", mode="doc"), "error", type="NameError")


class StreamTests(EndToEndTest):
    def items(self, frames):
        return stream_items(frames)

    def test_stream_respects_the_window(self):
        srv = self.start()
        rid = srv.request("eval", code="iter(range(10))", stream=True, window=3)
        frames = [srv.recv()] + recv_items(srv, 3)
        self.assertEqual(frames[0].header["k"], "iter")
        self.assertEqual(self.items(frames), [[0], [1], [2]])
        # Out of credit: nothing more until the client asks.
        self.assertEqual(select.select([srv.fd], [], [], 0.3)[0], [])
        srv.send({"k": "more", "id": rid, "n": 7})
        frames += srv.collect(rid)
        self.assertEqual(self.items(frames), [[i] for i in range(10)])
        self.assertReply(frames, "end", id=rid)

    def test_stream_with_credit_per_item(self):
        srv = self.start()
        rid = srv.request("eval", code="(i * i for i in range(5))", stream=True, window=1)
        frames = []
        while not frames or frames[-1].header["k"] != "end":
            frame = srv.recv()
            self.assertIsNotNone(frame)
            frames.append(frame)
            for _ in stream_items([frame]):
                srv.send({"k": "more", "id": rid, "n": 1})
        self.assertEqual(self.items(frames), [[0], [1], [4], [9], [16]])

    def test_fast_items_share_frames_and_slow_ones_are_not_held_back(self):
        srv = self.start()
        rid = srv.request("eval", code="iter(range(5000))", stream=True, window=10000)
        frames = srv.collect(rid)
        self.assertEqual(self.items(frames), [[i] for i in range(5000)])
        self.assertLess(sum(1 for f in frames if f.header["k"] == "items"), 50)
        start = time.monotonic()
        srv.request("eval", code="def g():\n    yield 1\n    time.sleep(1)\n    yield 2\ng()", stream=True, window=10)
        self.assertEqual(srv.recv().header["k"], "iter")
        first = recv_items(srv, 1)
        self.assertEqual(stream_items(first), [[1]])
        self.assertLess(time.monotonic() - start, 0.5, "the first item waited for the second")

    def test_non_iterators_are_not_streamed(self):
        srv = self.start()
        self.assertReply(srv.eval("[1, 2]", stream=True, window=1), "value", v=[["l", 2], 1, 2])

    def test_endless_stream_ends_when_the_client_goes(self):
        srv = self.start()
        srv.request("eval", code="itertools.count()", stream=True, window=5)
        self.assertEqual(srv.recv().header["k"], "iter")
        self.assertEqual(len(stream_items(recv_items(srv, 5))), 5)
        srv.proc.stdin.close()  # exit on stdin EOF
        self.assertEqual(srv.wait(5), 0)


def sent(items):
    """What file_content's items amount to once sent (a FileRange read as
    the channel's sendfile would, before the next item is made)."""
    return b"".join(os.pread(i.fd, i.count, i.offset) if type(i) is server.FileRange else i for i in items)


def streamed_bytes(frames):
    """The bytes items of a stream, joined (each item one bytes value)."""
    out = []
    for f in frames:
        if f.header["k"] != "items":
            continue
        at = 0
        for tokens, size in zip(f.header["v"], f.header["sizes"]):
            (kind, offset, n), = tokens
            assert kind == "b", tokens
            out.append(f.payload[at + offset:at + offset + n])
            at += size
    return b"".join(out)


class FileBytesTests(EndToEndTest):
    """`--raw` on one host (`file_bytes`): a binary file object result
    streams its content from where it stands, not its lines."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(subprocess.call, ["rm", "-rf", self.dir])
        self.path = os.path.join(self.dir, "f")
        # Longer than a chunk, with lines of every length (a byte of 10 here
        # and there), so lines and chunks differ.
        self.content = bytes(range(256)) * (extras.CHUNK // 256 + 7)
        with open(self.path, "wb") as f:
            f.write(self.content)

    def test_a_file_streams_from_where_it_stands_and_is_left_at_its_end(self):
        srv = self.start()
        frames = srv.eval("f = open(%r, 'rb')\nf.read(3)\nf" % self.path, stream=True, window=64, file_bytes=True)
        self.assertReply(frames, "end")
        self.assertTrue(streamed_bytes(frames) == self.content[3:], "the bytes differ")
        # In chunks, not lines.
        self.assertLessEqual(len(stream_items(frames)), 3)
        self.assertReply(srv.eval("f.tell()"), "value", v=[len(self.content)])

    def test_a_regular_file_goes_by_sendfile_and_the_rest_by_reading(self):
        with open(self.path, "rb") as f:
            self.assertEqual([type(i) for i in extras.file_content(f)], [server.FileRange] * 2)
        with open(self.path, "rb", buffering=0) as f:  # FileIO
            self.assertEqual([type(i) for i in extras.file_content(f)], [server.FileRange] * 2)
        with io.BytesIO(self.content) as f:
            self.assertEqual({type(i) for i in extras.file_content(f)}, {bytes})

    def test_a_pipe_and_objects_without_a_descriptor_are_read_as_they_come(self):
        srv = self.start()
        for code in ["subprocess.Popen(['cat', %r], stdout=subprocess.PIPE).stdout" % self.path,
                     "io.BytesIO(open(%r, 'rb').read())" % self.path,
                     "open(%r, 'rb', buffering=0)" % self.path]:
            frames = srv.eval(code, stream=True, window=64, file_bytes=True)
            self.assertReply(frames, "end")
            self.assertTrue(streamed_bytes(frames) == self.content, "the bytes of %s differ" % code)

    def test_without_file_bytes_a_file_streams_its_lines(self):
        with open(self.path, "wb") as f:
            f.write(b"ab\ncd\n")
        srv = self.start()
        frames = srv.eval("open(%r, 'rb')" % self.path, stream=True, window=64)
        self.assertEqual(stream_items(frames), [[["b", 0, 3]], [["b", 0, 3]]])
        # A text file is lines even with it.
        frames = srv.eval("open(%r)" % self.path, stream=True, window=64, file_bytes=True)
        self.assertEqual(stream_items(frames), [["ab\n"], ["cd\n"]])

    def test_a_closed_or_write_only_file_errs_in_pythons_words(self):
        srv = self.start()
        frames = srv.eval("f = open(%r, 'rb')\nf.close()\nf" % self.path, stream=True, window=64, file_bytes=True)
        self.assertIn("I/O operation on closed file", self.assertReply(frames, "error").header["message"])
        frames = srv.eval("open(%r, 'ab')" % self.path, stream=True, window=64, file_bytes=True)
        error = self.assertReply(frames, "error").header
        self.assertEqual((error["type"], error["message"]), ("UnsupportedOperation", "read"))

    def test_a_file_whose_size_is_not_its_length_is_read(self):
        # sysfs: st_size 4096 for a few bytes. sendfile would promise the
        # 4096 and pad them with zeros.
        real = os.fstat
        with open(self.path, "wb") as f:
            f.write(b"00:00:00:00:00:00\n")

        def fstat(fd):
            st = real(fd)
            return os.stat_result(st[:6] + (4096,) + st[7:])
        with open(self.path, "rb") as f, mock.patch.object(extras.os, "fstat", fstat):
            self.assertEqual(list(extras.file_content(f)), [b"00:00:00:00:00:00\n"])

    def test_a_non_blocking_pipe_is_waited_for_not_taken_as_ended(self):
        r, w = os.pipe()
        os.set_blocking(r, False)

        def later():
            time.sleep(0.2)
            os.write(w, b"abc")
            os.close(w)
        writer = threading.Thread(target=later)
        writer.start()
        with os.fdopen(r, "rb") as f:
            got = list(extras.file_content(f))
        writer.join()
        self.assertEqual(got, [b"abc"])

    def test_an_object_with_read_alone_is_read(self):
        content = self.content

        class Reader(io.BufferedIOBase):  # inherits a read1 that raises
            at = 0

            def readable(self):
                return True

            def read(self, n=-1):
                data = content[self.at:self.at + n]
                self.at += len(data)
                return data
        self.assertTrue(b"".join(extras.file_content(Reader())) == content)

    def test_what_was_written_counts_and_append_mode_is_at_its_end(self):
        with open(self.path, "r+b") as f:
            f.write(b"ZZ")  # still in f's buffer
            self.assertTrue(sent(extras.file_content(f)) == self.content[2:])
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(2), b"ZZ")
        with open(self.path, "a+b") as f:
            f.seek(0)
            f.write(b"YY")  # lands at the end, which is where f then stands
            self.assertEqual(list(extras.file_content(f)), [])
            self.assertEqual(f.tell(), len(self.content) + 2)

    def test_a_stream_stopped_midway_leaves_the_file_where_it_stopped(self):
        with open(self.path, "rb") as f:
            it = extras.file_content(f)
            next(it), next(it)  # the first chunk was sent: the second is out
            it.close()  # an interrupt
            self.assertEqual(f.tell(), extras.CHUNK)

    def test_a_file_that_shrank_midway_is_an_error(self):
        with open(self.path, "rb") as f:
            it = extras.file_content(f)
            first = next(it)
            self.assertIs(type(first), server.FileRange)
            self.assertEqual((first.offset, first.count), (0, extras.CHUNK))
            first.short = True  # what the channel found when it sent it
            with self.assertRaisesRegex(OSError, "shrank while it was being sent"):
                next(it)

    def test_what_a_file_grew_by_is_read_as_it_comes(self):
        with open(self.path, "rb") as f:
            it = extras.file_content(f)
            ranges = [next(it), next(it)]
            with open(self.path, "ab") as g:
                g.write(b"more")
            rest = list(it)
        self.assertEqual([(r.offset, r.count) for r in ranges],
                         [(0, extras.CHUNK), (extras.CHUNK, len(self.content) - extras.CHUNK)])
        self.assertEqual(rest, [b"more"])


class StdinTests(EndToEndTest):
    def test_forwarded_stdin(self):
        srv = self.start()
        data = bytes(range(256)) * 1000  # several chunks
        rid = srv.request(
            "eval", code="hashlib.sha256(sys.stdin.buffer.read()).hexdigest()", stdin=True
        )
        for at in range(0, len(data), 1 << 16):
            srv.send({"k": "stdin", "id": rid}, data[at : at + (1 << 16)])
        srv.send({"k": "stdin", "id": rid}, b"")  # end of input
        frames = srv.collect(rid)
        import hashlib
        self.assertReply(frames, "value", v=[hashlib.sha256(data).hexdigest()])
        acked = sum(f.header["n"] for f in frames if f.header["k"] == "stdin_ack")
        self.assertEqual(acked, len(data))

    def put(self, srv, dest, content, frame_size):
        """A `put` of one file, its records in stdin frames of `frame_size`
        (None: a chunk per frame, as the client sends them)."""
        rid = srv.request("put", path=dest)
        chunks = [content[at:at + (1 << 20)] for at in range(0, len(content), 1 << 20)]
        stream = [records({"name": "f"}, entry([], "file"))]
        stream += [struct.pack(">Q", len(c)) + c for c in chunks]
        stream += [struct.pack(">Q", 0) + b'{"ok": true}\n{"done": true}\n']
        if frame_size is not None:
            whole = b"".join(stream)
            stream = [whole[at:at + frame_size] for at in range(0, len(whole), frame_size)]
        for payload in stream + [b""]:
            srv.send({"k": "stdin", "id": rid}, payload)
        return rid

    def test_a_put_lands_whole_however_its_frames_fall(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(subprocess.call, ["rm", "-rf", directory])
        content = os.urandom(3 << 20) + b"tail"
        srv = self.start()
        for frame_size in (None, 65536 + 13):
            dest = os.path.join(directory, "f%s" % frame_size)
            frames = srv.collect(self.put(srv, dest, content, frame_size))
            self.assertReply(frames, "value")
            self.assertEqual(frames[-1].header["v"][1:4], ["files", 1, "bytes"])
            with open(dest, "rb") as f:
                self.assertTrue(f.read() == content, "the file differs (frames of %s)" % frame_size)
        self.assertReply(srv.eval("40 + 2"), "value", v=[42])  # the channel is still in step

    def test_an_interrupted_put_leaves_nothing_and_the_session_goes_on(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(subprocess.call, ["rm", "-rf", directory])
        srv = self.start()
        rid = srv.request("put", path=os.path.join(directory, "f"))
        srv.send({"k": "stdin", "id": rid}, records({"name": "f"}, entry([], "file")))
        srv.send({"k": "stdin", "id": rid}, struct.pack(">Q", 1 << 20) + b"x" * 1000)  # part of a chunk
        time.sleep(0.2)  # the copy waits for the rest of it
        srv.send({"k": "interrupt", "id": rid})
        frames = srv.collect(rid)
        self.assertEqual(frames[-1].header["k"], "error")
        self.assertIn("KeyboardInterrupt", frames[-1].header.get("type", "") + str(frames[-1].header))
        self.assertEqual(os.listdir(directory), [])
        srv.send({"k": "stdin", "id": rid}, b"y" * 5000)  # late frames of the abandoned copy
        self.assertReply(srv.eval("40 + 2"), "value", v=[42])

    def test_stdin_sent_after_the_request_started(self):
        # As when a user types: the data follows once the code is running.
        srv = self.start()
        rid = srv.request("eval", code="print('reading')\nsys.stdin.read().upper()", stdin=True)
        first = srv.recv()
        self.assertEqual((first.header["k"], first.payload), ("out", b"reading\n"))
        srv.send({"k": "stdin", "id": rid}, b"typed ")
        srv.send({"k": "stdin", "id": rid}, b"later")
        srv.send({"k": "stdin", "id": rid}, b"")
        self.assertReply(srv.collect(rid), "value", v=["TYPED LATER"])

    def test_child_processes_read_forwarded_stdin(self):
        srv = self.start()
        rid = srv.request("eval", code="subprocess.check_output(['cat'])", stdin=True)
        srv.send({"k": "stdin", "id": rid}, b"to the child\n")
        srv.send({"k": "stdin", "id": rid}, b"")
        frame = self.assertReply(srv.collect(rid), "value", v=[["b", 0, 13]])
        self.assertEqual(frame.payload, b"to the child\n")

    def test_stdin_is_empty_unless_forwarded(self):
        srv = self.start()
        self.assertReply(srv.eval("sys.stdin.read()"), "value", v=[""])


class ClientModulesTests(EndToEndTest):
    """Imports served by the client (a `modules` request, then `find` frames
    answered by `found`): this test plays the client."""

    MODULES = {
        "fwd_helper": ("module", "proj/fwd_helper.py", b"X = 40 + 2\n"),
        "fwd_pkg": ("package", "proj/fwd_pkg/__init__.py", b"from . import sibling\n"),
        "fwd_pkg.sibling": ("module", "proj/fwd_pkg/sibling.py", b"NAME = 'sibling'\n"),
        "fwd_pkg.sub": ("package", "proj/fwd_pkg/sub/__init__.py", b""),
        "fwd_pkg.sub.deep": ("module", "proj/fwd_pkg/sub/deep.py",
                             b"from ..sibling import NAME\ndef boom():\n    raise ValueError('deep ' + NAME)\n"),
    }
    DATA = {("fwd_pkg", "data.txt"): b"hello data\n", ("fwd_pkg", "sub/more.bin"): b"\x00\xff"}

    def serving(self):
        srv = self.start()
        srv.request("modules")  # no reply
        return srv

    def answer(self, srv, rid, refuse=()):
        """Frames up to the reply to `rid`, answering finds; (frames, asked)."""
        asked = []
        deadline = time.monotonic() + READ_TIMEOUT
        frames = []
        while True:
            frame = srv.recv(max(deadline - time.monotonic(), 0.001))
            self.assertIsNotNone(frame, "the server ended mid-reply")
            header = frame.header
            if header["k"] == "find":
                name, resource = header["name"], header.get("resource")
                asked.append(name if resource is None else (name, resource))
                found = {"k": "found", "q": header["q"], "kind": "none"}
                payload = b""
                if name in refuse or resource in refuse:
                    found.update(kind="refused", message="outside the served directories")
                elif resource is None and name in self.MODULES:
                    kind, file, payload = self.MODULES[name]
                    found.update(kind=kind, file=file)
                elif (name, resource) in self.DATA:
                    found["kind"], payload = "data", self.DATA[(name, resource)]
                elif resource == "" and name == "fwd_pkg":
                    found.update(kind="dir", entries=[["__init__.py", False], ["data.txt", False], ["sub", True]])
                srv.send(found, payload)
                continue
            frames.append(frame)
            if header.get("id") == rid and header["k"] in FINAL_KINDS:
                return frames, asked

    def eval(self, srv, code, refuse=()):
        return self.answer(srv, srv.request("eval", code=code), refuse)

    def test_a_module_the_host_lacks_comes_from_the_client(self):
        srv = self.serving()
        frames, asked = self.eval(srv, "import fwd_helper\n(fwd_helper.X, fwd_helper.__file__)")
        self.assertReply(frames, "value", v=[["t", 2], 42, "proj/fwd_helper.py"])
        self.assertEqual(asked, ["fwd_helper"])
        # Imported once: the next import asks nothing.
        frames, asked = self.eval(srv, "import fwd_helper\nfwd_helper.X")
        self.assertReply(frames, "value", v=[42])
        self.assertEqual(asked, [])

    def test_packages_subpackages_relative_imports_and_tracebacks(self):
        srv = self.serving()
        frames, asked = self.eval(srv, "from fwd_pkg.sub import deep\ndeep.boom()")
        reply = self.assertReply(frames, "error", type="ValueError", message="deep sibling")
        self.assertEqual(asked, ["fwd_pkg", "fwd_pkg.sibling", "fwd_pkg.sub", "fwd_pkg.sub.deep"])
        # The forwarded file's name and line, from the source the client sent.
        self.assertIn('File "proj/fwd_pkg/sub/deep.py", line 3, in boom', reply.header["traceback"])
        self.assertIn("raise ValueError('deep ' + NAME)", reply.header["traceback"])

    def test_data_files_through_importlib_resources_and_pkgutil(self):
        srv = self.serving()
        if sys.version_info >= (3, 10):  # files() asks the loader's reader from 3.10 on
            code = ("import importlib.resources, pkgutil\n"
                    "root = importlib.resources.files('fwd_pkg')\n"
                    "(root.joinpath('data.txt').read_text(), (root / 'sub' / 'more.bin').read_bytes(),\n"
                    " sorted(p.name for p in root.iterdir()), pkgutil.get_data('fwd_pkg', 'data.txt'),\n"
                    " root.joinpath('nothere').is_file())")
        elif sys.version_info >= (3, 7):  # before, files() looks on the host's disk: the reader API
            code = ("import importlib.resources as r, pkgutil\n"
                    "(r.read_text('fwd_pkg', 'data.txt'), pkgutil.get_data('fwd_pkg', 'sub/more.bin'),\n"
                    " sorted(r.contents('fwd_pkg')), pkgutil.get_data('fwd_pkg', 'data.txt'),\n"
                    " r.is_resource('fwd_pkg', 'nothere'))")
        else:  # 3.6 has no importlib.resources: pkgutil, and the loader's get_data
            code = ("import pkgutil, fwd_pkg\n"
                    "(pkgutil.get_data('fwd_pkg', 'data.txt').decode(), pkgutil.get_data('fwd_pkg', 'sub/more.bin'),\n"
                    " ['__init__.py', 'data.txt', 'sub'], pkgutil.get_data('fwd_pkg', 'data.txt'), False)")
        frames, asked = self.eval(srv, code)
        self.assertReply(frames, "value", v=[["t", 5], "hello data\n", ["b", 0, 2],
                                             ["l", 3], "__init__.py", "data.txt", "sub", ["b", 2, 11], False])
        self.assertEqual(frames[-1].payload, b"\x00\xffhello data\n")
        self.assertIn(("fwd_pkg", "data.txt"), asked)

    def test_submodules_that_come_with_their_package_are_not_asked_for(self):
        srv = self.serving()
        rid = srv.request("eval", code="import fwd_pkg.sub.deep\nfwd_pkg.sibling.NAME")
        find = srv.recv()
        self.assertEqual(find.header["name"], "fwd_pkg")
        subs = ["fwd_pkg.sibling", "fwd_pkg.sub", "fwd_pkg.sub.deep"]
        bundle = [[sub, self.MODULES[sub][0], self.MODULES[sub][1], len(self.MODULES[sub][2])] for sub in subs]
        _, file, source = self.MODULES["fwd_pkg"]
        srv.send({"k": "found", "q": find.header["q"], "kind": "package", "file": file, "bundle": bundle},
                 source + b"".join(self.MODULES[sub][2] for sub in subs))
        frames, asked = self.answer(srv, rid)
        self.assertReply(frames, "value", v=["sibling"])
        self.assertEqual(asked, [])

    def test_an_import_waiting_on_the_client_can_be_interrupted(self):
        srv = self.serving()
        rid = srv.request("eval", code="import fwd_helper")
        find = srv.recv()
        self.assertEqual(find.header["k"], "find")
        srv.send({"k": "interrupt", "id": rid})
        frames = srv.collect(rid)
        self.assertReply(frames, "error", type="KeyboardInterrupt")
        # The late answer is dropped; the session goes on, and asks again.
        kind, file, source = self.MODULES["fwd_helper"]
        srv.send({"k": "found", "q": find.header["q"], "kind": kind, "file": file}, source)
        frames, asked = self.eval(srv, "import fwd_helper\nfwd_helper.X")
        self.assertReply(frames, "value", v=[42])
        self.assertEqual(asked, ["fwd_helper"])

    def test_a_thread_of_the_running_code_imports_too(self):
        srv = self.serving()
        code = ("import threading\n"
                "t = threading.Thread(target=__import__, args=('fwd_helper',))\n"
                "t.start(); t.join()\n"
                "sys.modules['fwd_helper'].X")
        frames, asked = self.eval(srv, code)
        self.assertReply(frames, "value", v=[42])
        self.assertEqual(asked, ["fwd_helper"])

    def test_a_refusal_is_an_error_that_says_so(self):
        srv = self.serving()
        frames, _ = self.eval(srv, "import fwd_helper", refuse=("fwd_helper",))
        self.assertReply(frames, "error", type="ImportError")
        self.assertIn("refused", frames[-1].header["message"])
        frames, _ = self.eval(srv, "import pkgutil\npkgutil.get_data('fwd_pkg', '../../x')", refuse=("../../x",))
        self.assertReply(frames, "error", type="PermissionError")

    def test_the_standard_library_and_host_packages_are_never_asked_for(self):
        srv = self.serving()
        frames, asked = self.eval(srv, "import json, textwrap, xml.dom\njson.dumps(1)")
        self.assertReply(frames, "value", v=["1"])
        self.assertEqual(asked, [])
        # A submodule of the host's own package is not the client's to add.
        frames, asked = self.eval(srv, "import json.fwd_helper")
        self.assertReply(frames, "error", type="ModuleNotFoundError")
        self.assertEqual(asked, [])

    def test_a_missing_module_is_asked_for_once_per_request(self):
        srv = self.serving()
        code = "for _ in range(3):\n    try:\n        import fwd_missing\n    except ImportError:\n        pass\n"
        frames, asked = self.eval(srv, code)
        self.assertReply(frames, "none")
        self.assertEqual(asked, ["fwd_missing"])
        frames, asked = self.eval(srv, code)  # a new request asks again: the file may be new
        self.assertEqual(asked, ["fwd_missing"])

    def test_nothing_is_asked_unless_the_client_serves_modules(self):
        srv = self.start()
        frames, asked = self.eval(srv, "import fwd_helper")
        self.assertReply(frames, "error", type="ModuleNotFoundError")
        self.assertEqual(asked, [])

    def test_a_name_typed_at_the_prompt_is_asked_for_then_a_name_error(self):
        srv = self.serving()
        frames, asked = self.eval(srv, "fwd_helper.X + 1")
        self.assertReply(frames, "value", v=[43])
        frames, asked = self.eval(srv, "fwd_typo")
        self.assertReply(frames, "error", type="NameError")
        self.assertEqual(asked, ["fwd_typo"])


class InterruptTests(EndToEndTest):
    def interrupt(self, srv, code):
        """Starts `code`, interrupts it once it has said "started", and
        returns the reply and how long it took to arrive."""
        rid = srv.request("eval", code="print('started')\n" + code)
        first = srv.recv()  # user code is running: the real SIGINT path
        self.assertEqual(first.header.get("k"), "out", first)
        self.assertEqual(first.payload, b"started\n")
        start = time.monotonic()
        srv.send({"k": "interrupt", "id": rid})
        frames = srv.collect(rid, timeout=2.0)
        return frames, time.monotonic() - start

    def test_interrupt_sleep(self):
        srv = self.start()
        self.assertReply(srv.eval("x = 41"), "none")
        frames, took = self.interrupt(srv, "time.sleep(30)")
        frame = self.assertReply(frames, "error", type="KeyboardInterrupt")
        self.assertNotIn("<pushy>", frame.header["traceback"])
        self.assertLess(took, 2.0)
        # The session goes on, with its names.
        self.assertReply(srv.eval("x + 1"), "value", v=[42])

    def test_interrupt_busy_loop(self):
        srv = self.start()
        frames, _ = self.interrupt(srv, "while True:\n    pass")
        self.assertReply(frames, "error", type="KeyboardInterrupt")
        self.assertReply(srv.eval("'next'"), "value", v=["next"])

    def test_interrupt_before_the_request_runs(self):
        srv = self.start()
        # The interrupt for request 2 arrives while request 1 still runs.
        first = srv.request("eval", code="time.sleep(0.3)")
        second = srv.request("eval", code="time.sleep(30)")
        srv.send({"k": "interrupt", "id": second})
        self.assertReply(srv.collect(first), "value", v=[None])
        self.assertReply(srv.collect(second, timeout=2.0), "error", type="KeyboardInterrupt")

    def test_interrupt_a_stream(self):
        srv = self.start()
        rid = srv.request("eval", code="itertools.count()", stream=True, window=2)
        self.assertEqual(srv.recv().header["k"], "iter")
        self.assertEqual(len(stream_items(recv_items(srv, 2))), 2)
        srv.send({"k": "interrupt", "id": rid})  # waiting for credit
        self.assertReply(srv.collect(rid, timeout=2.0), "error", type="KeyboardInterrupt")
        self.assertReply(srv.eval("'next'"), "value", v=["next"])


class CompletionInterruptTests(EndToEndTest):
    """A completion can run an object's __dir__, which may block: the client
    interrupts it past its budget, and the session must live on."""

    def test_a_blocking_dir_is_interrupted(self):
        srv = self.start()
        self.assertReply(srv.eval("class B:\n    def __dir__(self):\n        time.sleep(60)\n        return ['x']\nb = B()"), "none")
        rid = srv.request("complete", text="b.")
        time.sleep(0.3)  # __dir__ is sleeping
        start = time.monotonic()
        srv.send({"k": "interrupt", "id": rid})
        frame = self.assertReply(srv.collect(rid, timeout=2.0), "completions", items=[])
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertEqual(frame.header["start"], 2)
        # No KeyboardInterrupt is left over for the next request.
        self.assertReply(srv.eval("'alive'"), "value", v=["alive"])

    def test_an_interrupt_before_the_completion_runs(self):
        srv = self.start()
        self.assertReply(srv.eval("class B:\n    def __dir__(self):\n        time.sleep(60)\nb = B()"), "none")
        first = srv.request("eval", code="time.sleep(0.3)")
        second = srv.request("complete", text="b.")
        srv.send({"k": "interrupt", "id": second})
        self.assertReply(srv.collect(first), "value", v=[None])
        self.assertReply(srv.collect(second, timeout=2.0), "completions", items=[])
        self.assertReply(srv.eval("'alive'"), "value", v=["alive"])

    def test_a_late_interrupt_is_harmless(self):
        srv = self.start()
        rid = srv.request("complete", text="os.pa")
        self.assertIn("os.path", srv.collect(rid)[-1].header["items"])
        srv.send({"k": "interrupt", "id": rid})  # the completion is over
        self.assertReply(srv.eval("time.sleep(0.2) or 'not interrupted'"), "value", v=["not interrupted"])


class TextFormTests(unittest.TestCase):
    def test_iso_durations(self):
        import datetime
        cases = [
            (datetime.timedelta(0), "PT0S"),
            (datetime.timedelta(days=2), "P2D"),
            (datetime.timedelta(days=1, hours=2, minutes=3, seconds=4.5), "P1DT2H3M4.5S"),
            (datetime.timedelta(hours=-23), "-PT23H"),
            (datetime.timedelta(microseconds=1), "PT0.000001S"),
        ]
        for delta, want in cases:
            self.assertEqual(server._iso_duration(delta), want)

    def test_only_asked_for_and_only_standard_types(self):
        import datetime
        import decimal
        value = [datetime.date(2024, 1, 2), decimal.Decimal("1.5")]
        self.assertEqual(tokens(value)[0][1][0], "r")
        server._text_forms = True
        try:
            self.assertEqual(tokens(value)[0], [["l", 2], "2024-01-02", "1.5"])

            class Mine:
                def isoformat(self):
                    return "not standard"
            self.assertEqual(tokens(Mine())[0][0][0], "r")
        finally:
            server._text_forms = False


# A process that starts a watchdog over a pipe it is handed, says so, then
# holds the GIL in C (a catastrophic regex), as stuck user code does.
GUARDED = r"""
import os, re, sys
server = {"__name__": "pushy_server", "__file__": sys.argv[1]}
exec(compile(open(sys.argv[1], "rb").read(), "<pushy>", "exec"), server)
server["start_watchdog"](int(sys.argv[2]), os.getpid())
os.write(1, b"guarded\n")
re.match(r"(a+)+$", "a" * 40 + "b")
"""


# An interpreter that starts its watchdog, says the watchdog's pid and
# scheduling policy, and ends on its own while the client still holds the
# channel open.
ENDING = r"""
import os, sys, time
server = {"__name__": "pushy_server", "__file__": sys.argv[1]}
exec(compile(open(sys.argv[1], "rb").read(), "<pushy>", "exec"), server)
server["start_watchdog"](int(sys.argv[2]), os.getpid())
time.sleep(0.3)  # the watchdog has opened its pidfd
with open("/proc/self/task/%d/children" % os.getpid()) as f:
    watchdog = int(f.read().split()[0])
os.write(1, b"%d %d\n" % (watchdog, os.sched_getscheduler(watchdog)))
os._exit(0)
"""


class WatchdogTests(unittest.TestCase):
    def test_a_stranger_is_never_killed(self):
        # The watchdog is told to guard a process that is not its parent (as
        # after the interpreter died and its pid went to someone else): when
        # the client hangs up, that process must live.
        stranger = subprocess.Popen(["sleep", "30"])
        self.addCleanup(stranger.wait)
        self.addCleanup(stranger.kill)
        rfd, wfd = os.pipe()
        server.start_watchdog(rfd, stranger.pid)
        os.close(rfd)
        os.close(wfd)  # the client hangs up
        time.sleep(1.6)  # the watchdog waits a second before it acts
        self.assertIsNone(stranger.poll(), "the watchdog killed a process it does not guard")

    def test_code_stuck_in_c_dies_a_second_after_the_client(self):
        rfd, wfd = os.pipe()
        os.set_inheritable(rfd, True)
        proc = subprocess.Popen([sys.executable, "-c", GUARDED, SERVER_PATH, str(rfd)],
                                stdout=subprocess.PIPE, pass_fds=(rfd,))
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        os.close(rfd)
        self.assertEqual(proc.stdout.readline(), b"guarded\n")
        proc.stdout.close()
        os.close(wfd)  # the client hangs up
        self.assertEqual(proc.wait(timeout=10), -9, "the watchdog did not kill it")

    def test_idle_priority(self):
        child = subprocess.Popen(["sleep", "5"])
        self.addCleanup(child.wait)
        self.addCleanup(child.kill)
        server._idle_priority(child.pid)
        self.assertEqual(os.sched_getscheduler(child.pid), os.SCHED_IDLE)

    def test_the_watchdog_leaves_with_its_interpreter(self):
        # The interpreter ends by itself (the client still connected): its
        # watchdog has nothing left to guard and goes at once, not a second
        # after some later hang-up.
        rfd, wfd = os.pipe()
        self.addCleanup(os.close, wfd)
        os.set_inheritable(rfd, True)
        proc = subprocess.Popen([sys.executable, "-c", ENDING, SERVER_PATH, str(rfd)],
                                stdout=subprocess.PIPE, pass_fds=(rfd,))
        os.close(rfd)
        watchdog, policy = map(int, proc.stdout.read().split())
        self.assertEqual(proc.wait(timeout=10), 0)
        # It only sleeps, at idle priority: a core is free when it must act.
        self.assertEqual(policy, getattr(os, "SCHED_IDLE", policy))
        deadline = time.time() + 0.8
        while os.path.exists("/proc/%d" % watchdog) and time.time() < deadline:
            with open("/proc/%d/stat" % watchdog) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":  # ended, not yet reaped
                    break
            time.sleep(0.02)
        else:
            self.assertFalse(os.path.exists("/proc/%d" % watchdog), "the watchdog outlived it")


def records(*entries):
    """The record stream `receive_tree` reads: JSON lines, file content as
    length-prefixed chunks up to an empty one, then a status line."""
    out = b""
    for entry in entries:
        if isinstance(entry, bytes):
            out += struct.pack(">Q", len(entry)) + entry + struct.pack(">Q", 0) + b'{"ok": true}\n'
        else:
            out += json.dumps(entry).encode() + b"\n"
    return out


def entry(path, kind, mode=0o644, **extra):
    return dict(path=path, type=kind, mode=mode, mtime=1e9, atime=1e9, **extra)


class SendTreeTests(unittest.TestCase):
    """`pushy cp HOST:FILE ...` on the host: a file's bytes go as ranges the
    channel sends with sendfile; a file that shrinks midway is reported."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(subprocess.call, ["rm", "-rf", self.dir])
        self.path = os.path.join(self.dir, "f")
        with open(self.path, "wb") as f:
            f.write(b"z" * (extras.CHUNK * 2 + 5))

    def test_a_file_goes_as_ranges_that_cover_it(self):
        items = list(extras.send_tree(self.path, False))
        ranges = [i for i in items if type(i) is server.FileRange]
        self.assertEqual([(r.offset, r.count) for r in ranges],
                         [(0, extras.CHUNK), (extras.CHUNK, extras.CHUNK), (2 * extras.CHUNK, 5)])
        self.assertEqual(items[-1], {"end": True})

    def test_a_file_that_shrank_is_an_error_not_an_end(self):
        it = extras.send_tree(self.path, False)
        next(it), next(it)  # the header, the entry
        first = next(it)
        first.short = True  # what the channel found when it sent it
        record = next(it)
        self.assertIn("shrank", record["error"])
        self.assertEqual(list(it), [])

    def test_a_file_whose_size_is_not_its_length_is_read(self):
        # sysfs: st_size 4096 for a few bytes (the walk's lstat sees the lie too).
        with open(self.path, "wb") as f:
            f.write(b"always [madvise] never\n")
        real = os.fstat

        def fstat(fd):
            st = real(fd)
            return os.stat_result(st[:6] + (4096,) + st[7:])
        with mock.patch.object(extras.os, "fstat", fstat):
            items = list(extras.send_tree(self.path, False))
        self.assertEqual(items[2:], [b"always [madvise] never\n", {"end": True}])

    def test_what_a_file_grew_by_is_read_as_it_comes(self):
        it = extras.send_tree(self.path, False)
        items = [next(it), next(it), next(it)]  # the header, the entry, the first range
        with open(self.path, "ab") as f:
            f.write(b"more")
        items += list(it)
        self.assertEqual(items[-2:], [b"more", {"end": True}])


class ReceiveTreeTests(unittest.TestCase):
    """`pushy cp LOCAL HOST:DEST` on the host: nothing lands outside DEST, no
    symlink is followed, modes are applied as cp applies them."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(subprocess.call, ["rm", "-rf", self.dir])

    def inbox(self, payloads):
        """An Inbox holding `payloads` as if the watcher had read them, then
        the end of the client's records."""
        class Server:
            acks = []

            def send(self, header, payload=b""):
                self.acks.append(header["n"])

            def end(self):
                raise AssertionError("the server would end here")
        inbox = extras.Inbox(Server(), 1)
        for payload in list(payloads) + [b""]:
            inbox.put(payload)
        return inbox

    def receive(self, data, dest, preserve=False):
        # In frames of an odd size, so records and chunks straddle them.
        inbox = self.inbox(data[i:i + 7] for i in range(0, len(data), 7))
        result = extras.receive_tree(dest, preserve, extras._Records(inbox))
        self.assertEqual(sum(inbox.server.acks), len(data))
        return result

    def test_a_chunk_within_one_payload_is_written_from_where_it_lies(self):
        content = b"x" * 100000
        chunk = struct.pack(">Q", len(content)) + content
        inbox = self.inbox([records({"name": "x"}, entry([], "file")), chunk,
                            struct.pack(">Q", 0) + b'{"ok": true}\n{"done": true}\n'])
        writes = []

        def write(fd, data):
            writes.append(data)
            return extras_write(fd, data)
        extras_write = extras._server_write
        with mock.patch.object(extras, "_server_write", write):
            result = extras.receive_tree(os.path.join(self.dir, "f"), False, extras._Records(inbox))
        self.assertEqual(result["files"], 1)
        self.assertEqual(len(writes), 1)
        self.assertTrue(type(writes[0]) is memoryview and writes[0].obj is chunk, "a copy of the payload")
        with open(os.path.join(self.dir, "f"), "rb") as f:
            self.assertTrue(f.read() == content)

    def test_names_that_are_not_one_component_are_refused(self):
        dest = os.path.join(self.dir, "dest")
        os.mkdir(dest)
        data = records({"name": "tree"}, entry([], "dir", 0o755),
                       entry(["../escaped"], "file"), b"evil",
                       entry(["..", "escaped2"], "file"), b"evil",
                       entry(["/abs"], "file"), b"evil",
                       entry(["ok"], "file"), b"good",
                       {"done": True})
        result = self.receive(data, dest)
        self.assertEqual(result["files"], 1)
        self.assertEqual(len(result["errors"]), 3, result["errors"])
        self.assertEqual(sorted(os.listdir(self.dir)), ["dest"])
        self.assertEqual(os.listdir(os.path.join(dest, "tree")), ["ok"])

    def test_a_symlink_where_a_directory_goes_is_replaced_not_followed(self):
        victim = os.path.join(self.dir, "victim")
        os.mkdir(victim)
        app = os.path.join(self.dir, "app")
        os.mkdir(app)
        os.symlink(victim, os.path.join(app, "data"))  # what an earlier copy brought
        data = records({"name": "app"}, entry([], "dir", 0o755), entry(["data"], "dir", 0o755),
                       entry(["data", "authorized_keys"], "file"), b"attacker", {"done": True})
        result = self.receive(data, self.dir)
        self.assertEqual(result["errors"], [])
        self.assertEqual(os.listdir(victim), [])
        self.assertFalse(os.path.islink(os.path.join(app, "data")))
        self.assertEqual(os.listdir(os.path.join(app, "data")), ["authorized_keys"])

    def test_a_symlink_at_the_file_is_replaced_not_written_through(self):
        victim = os.path.join(self.dir, "victim")
        with open(victim, "w") as f:
            f.write("precious")
        os.symlink(victim, os.path.join(self.dir, "target"))
        result = self.receive(records({"name": "x"}, entry([], "file"), b"new", {"done": True}),
                              os.path.join(self.dir, "target"))
        self.assertEqual(result["files"], 1)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious")
        self.assertFalse(os.path.islink(os.path.join(self.dir, "target")))

    def test_modes_lose_setuid_and_the_umask_unless_preserved(self):
        old = os.umask(0o027)
        self.addCleanup(os.umask, old)
        plain, kept = os.path.join(self.dir, "plain"), os.path.join(self.dir, "kept")
        self.receive(records({"name": "x"}, entry([], "file", 0o6777), b"#!", {"done": True}), plain)
        self.receive(records({"name": "x"}, entry([], "file", 0o6777), b"#!", {"done": True}), kept, preserve=True)
        self.assertEqual(os.stat(plain).st_mode & 0o7777, 0o750)
        self.assertEqual(os.stat(kept).st_mode & 0o7777, 0o6777)

    def test_a_cut_stream_leaves_no_temporary_file(self):
        data = records({"name": "x"}, entry([], "file")) + struct.pack(">Q", 100) + b"only part"
        with self.assertRaises(extras.TransferInterrupted):
            self.receive(data, os.path.join(self.dir, "file"))
        self.assertEqual(os.listdir(self.dir), [])
        self.assertEqual(extras._temporaries, {})


class StartupPathTests(unittest.TestCase):
    def test_the_login_directory_is_not_on_sys_path(self):
        # A fcntl.py where the interpreter starts must not run inside pushy.
        home = tempfile.mkdtemp()
        self.addCleanup(subprocess.call, ["rm", "-rf", home])
        for name in ("fcntl.py", "select.py", "zlib.py"):
            with open(os.path.join(home, name), "w") as f:
                f.write("raise SystemExit('hijacked by %s')\n" % name)
        with open(os.path.join(HERE, "stage0.py")) as f:
            stage0 = f.read()
        run = stage0[stage0.index(';b=b if "r" in a else __import__("zlib").decompress(b)'):]
        self.assertTrue(run.endswith('exec(c,{"__name__":"__pushy__","_CODE":c})'), run)
        code = stage0.replace(run, ';print(repr(sys.path[0]), sys.dont_write_bytecode);import fcntl,select,zlib')
        out = subprocess.run([sys.executable, "-c", code, "0"], cwd=home, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn(b"hijacked", out.stdout + out.stderr)
        # (Those modules may be built in, or loaded before stage 0 runs: the
        # dropped path entry is what holds whatever the interpreter.)
        self.assertFalse(out.stdout.startswith(b"''"), out.stdout)
        self.assertIn(b"True", out.stdout)



class ObjectsTests(unittest.TestCase):
    """extras.objects: the library's remote objects and call arguments."""

    def request(self, **fields):
        return extras.objects(fields, self.ns)

    def setUp(self):
        self.ns = fresh_namespace()
        extras.release(list(extras._objects))

    def test_arguments_decode_from_the_value_grammar(self):
        args = [["t", 6], ["i", "123456789012345678901234567890"], ["F", "-inf"], ["u", [97, 0xDC80]],
                ["d", 1], ["t", 2], 1, 2, ["f", 0], ["b", 1, 2], ["B", 0, 1]]
        got = extras.decode_args(args, b"xyz")
        self.assertEqual(got, (123456789012345678901234567890, float("-inf"), "a\udc80",
                               {(1, 2): frozenset()}, b"yz", bytearray(b"x")))
        self.assertIs(type(got[5]), bytearray)

    def test_bad_arguments_are_errors(self):
        for bad in ([["l", 2], 1], [1, 2], [["b", 2, 5]], [["q"]], [["R", 99]], "x"):
            with self.assertRaises((ValueError, LookupError), msg=repr(bad)):
                extras.decode_args(bad, b"ab")

    def test_a_kept_object_is_called_read_and_released(self):
        kept = self.request(op="eval", code="import io\nio.BytesIO(b'abcdef')", keep=True)
        ref = kept["ref"]
        self.assertEqual(kept["type"], "_io.BytesIO")
        self.assertEqual(self.request(op="call", ref=ref, name="read", args=[["t", 1], 2], spread=True), b"ab")
        self.assertEqual(self.request(op="call", ref=ref, name="read", args=[["t", 0]], spread=True), b"cdef")
        self.assertEqual(self.request(op="getattr", ref=ref, name="closed"), False)
        self.assertEqual(self.request(op="call", function="lambda f: f.tell()", args=[["t", 1], ["R", ref]], spread=True), 6)
        self.assertEqual(self.request(op="count"), 1)
        extras.release([ref])
        self.assertEqual(self.request(op="count"), 0)
        with self.assertRaises(LookupError):
            self.request(op="get", ref=ref)

    def test_a_single_argument_is_not_spread(self):
        self.assertEqual(self.request(op="call", function="len", args=[["l", 2], 1, 2], spread=False), 2)


if __name__ == "__main__":
    unittest.main()
