# pushy server extras: the parts of the pushed program that only some
# sessions need. The client appends this file to server.py as a string
# (`_EXTRAS_SOURCE`); server.py's load_extras() compiles it into its own
# globals on first use, so everything here may use server.py's names.
#
#   streaming     items in batches, with a flusher thread
#   stdin         forwarded stdin for one request
#   completion    rlcompleter's rule; is an input complete (codeop)
#   tracebacks    the user's frames only
#   imports       submodules that dotted names refer to
#   files         pushy cp: send and receive file trees

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


def check_complete(source):
    """CPython's own rule for the REPL: is this input a complete statement?"""
    import codeop
    try:
        code = codeop.compile_command(source, "<input>", "single")
    except (SyntaxError, OverflowError, ValueError):
        return "invalid"  # submit it: running it shows the error
    return "incomplete" if code is None else "complete"


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
