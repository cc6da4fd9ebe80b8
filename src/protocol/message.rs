//! The messages frames carry, typed in both directions: what the client
//! sends ([`ToServer`]) and what the server answers ([`FromServer`]).
//!
//! A header is a JSON object whose first key is `k`, the kind; `id` names
//! the request a message belongs to. Fields a side does not know are skipped,
//! never kept. Client to server:
//!
//! | `k`         | fields | meaning |
//! |-------------|--------|---------|
//! | `eval`      | `code`, `file`, `mode` (auto, run), `stream`, `window`, `stdin`, `repl`, `if_complete`, `truth`, `text_forms`, `argv` | run code |
//! | `get`       | `path`, `recursive`, `window` | send a file tree, streamed as an iterator |
//! | `put`       | `path`, `preserve` | receive a file tree from the forwarded stdin |
//! | `complete`  | `text` | completion candidates |
//! | `check`     | `code` | is it a complete REPL input? |
//! | `interrupt` | | KeyboardInterrupt in that request, or stop it before it starts |
//! | `stdin`     | payload (empty: end of input) | forwarded stdin |
//! | `more`      | `n` | stream credits |
//! | `code`      | `raw` | the running program compiled, for the client's code cache (`raw`: not compressed) |
//! | `modules`   | | the client serves local modules: the server adds its last import finder (no reply) |
//! | `found`     | `q`, `kind` (module, package, data, dir, none, refused), `file`, `entries`, `message`, `bundle`, payload (the bytes) | the answer to a `find` (a package's with some of its submodules) |
//! | `ref`       | `op` (eval, call, getattr, get, count), `code`, `function`, `ref`, `name`, `args` (tokens, see [`crate::value`]; their bytes in the payload), `spread`, `keep`, `text_forms` | remote objects (see [`crate::remote`]); answered as an `eval` is |
//! | `release`   | `refs` | forget these remote objects (no answer) |
//! | `line`      | `n`, payload (empty: end of input) | the answer to `read` number `n` |
//! | `winch`     | `rows`, `cols` | the window of a `pty` eval changed size |
//!
//! Server to client:
//!
//! | `k`           | fields | meaning |
//! |---------------|--------|---------|
//! | `hello`       | `protocol`, `python`, `platform`, `host`, `user`, `pid`, `executable`, `magic` | after the ready marker |
//! | `out`         | `fd` (1, 2), payload | remote output |
//! | `value`       | `v` (tokens, see [`crate::value`]), `truth`, payload (their bytes) | the result |
//! | `echo`        | `v`, payload | a value a `repl` eval displays, in order with `out` |
//! | `none`        | | no value (statements; a `repl` eval's reply) |
//! | `iter`, `items`, `end` | `items`: `v` a list of token lists, `sizes` the payload bytes of each | a streamed iterator |
//! | `incomplete`  | | an `if_complete` eval needs more lines |
//! | `error`       | `type`, `message`, `traceback` | the code raised |
//! | `exit`        | `code` | `SystemExit` |
//! | `stdin_ack`   | `n` | stdin bytes consumed (the window) |
//! | `completions` | `start`, `items` | completion candidates |
//! | `checked`     | `status` (complete, incomplete, invalid) | the answer to `check` |
//! | `code`        | payload: zlib-compressed marshal data, empty if the interpreter cannot give it | the answer to `code` |
//! | `read`        | `n`, `prompt`, `echo` | a `terminal` eval reads a line from the user's terminal |
//! | `page`        | payload (text) | a `pager` eval's `help()` text, for the local `$PAGER` |
//! | `bad`         | `message` | a request the server did not understand |
//! | `find`        | `q`, `name`, `resource` | remote code imports module `name` (or reads data file `resource`, a `/`-separated name in package `name`) that the host lacks: asked of the client while the code waits, answered by a `found` with the same `q`, wherever the client is reading (see [`crate::local_modules`]) |
//!
//! Offsets into text are counted in Unicode code points (what Python's `str`
//! indexes), never in bytes or UTF-16 units: `completions.start` is where the
//! replaced word begins in the `complete` request's `text`. The client
//! converts it to a byte offset itself and clamps it to the text, so a wrong
//! or hostile value can cost a completion, never a panic.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A request or signal from the client.
#[derive(Debug, Serialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum ToServer<'a> {
    /// Run code.
    Eval(Eval<'a>),
    /// Send a file tree (`pushy cp HOST:PATH`), streamed as an iterator.
    Get {
        /// The request.
        id: u64,
        /// What to send.
        path: &'a str,
        /// Directories too.
        recursive: bool,
        /// Items the server may run ahead.
        window: u64,
    },
    /// Receive a file tree from the forwarded stdin (`pushy cp ... HOST:PATH`).
    Put {
        /// The request.
        id: u64,
        /// Where to.
        path: &'a str,
        /// Keep every mode bit and the times.
        preserve: bool,
    },
    /// Completion candidates for the text before the cursor.
    Complete {
        /// The request.
        id: u64,
        /// The text before the cursor.
        text: &'a str,
    },
    /// Is this a complete REPL input (CPython's `codeop`)?
    Check {
        /// The request.
        id: u64,
        /// The input so far.
        code: &'a str,
    },
    /// KeyboardInterrupt in that request.
    Interrupt {
        /// The request.
        id: u64,
    },
    /// Forwarded stdin, in the payload; an empty payload ends it.
    Stdin {
        /// The request.
        id: u64,
    },
    /// A line from the user's terminal, in the payload (with its newline;
    /// empty: the end of input), for the `read` numbered `n`.
    Line {
        /// The request.
        id: u64,
        /// The `read` this answers.
        n: u64,
    },
    /// The terminal of a `pty` eval has a new size.
    Winch {
        /// The request.
        id: u64,
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Credits for a streamed iterator.
    More {
        /// The request.
        id: u64,
        /// How many more items may come.
        n: u64,
    },
    /// The running program, compiled (for the code cache, `connect::cache`).
    Code {
        /// The request.
        id: u64,
        /// Uncompressed: for an interpreter on this machine, which would
        /// spend longer inflating the blob than reading it from a pipe.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        raw: bool,
    },
    /// The client serves local modules (no reply).
    Modules {
        /// The request.
        id: u64,
    },
    /// The answer to a `find`; the bytes are in the payload.
    Found(Found<'a>),
    /// Something done with remote objects (answered as an `eval` is).
    Ref(RefRequest<'a>),
    /// Forget these remote objects (no answer).
    Release {
        /// The table's ids.
        refs: &'a [u64],
    },
}

/// A `found`: what the client serves for a `find`.
#[derive(Debug, Serialize)]
pub struct Found<'a> {
    /// The `find` this answers.
    pub q: u64,
    /// module, package, data, dir, none or refused.
    pub kind: &'a str,
    /// A module's file name, as the host shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
    /// A directory's entries: name, and whether it is a directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<&'a [(String, bool)]>,
    /// Why a request was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    /// A package's submodules sent with it: name, kind (module,
    /// package), file and size; their sources follow the package's own in
    /// the payload, in this order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bundle: Vec<(&'a str, &'a str, &'a str, usize)>,
}

/// A `ref` request: what to do, on what, with which arguments.
#[derive(Debug, Serialize)]
pub struct RefRequest<'a> {
    /// The request.
    pub id: u64,
    /// `eval` (keep what `code` evaluates to), `call` (`function`, or the
    /// method `name` of `ref`, with `args`), `getattr` (`name` of `ref`),
    /// `get` (`ref` by value), `count` (objects the table holds).
    pub op: &'a str,
    /// Code, for `eval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    /// An expression naming the function, for `call` without `ref`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<&'a str>,
    /// The object, by its id in the table.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub target: Option<u64>,
    /// A method or attribute name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// The arguments' tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<&'a [serde_json::Value]>,
    /// The arguments are a tuple to spread as positional arguments.
    pub spread: bool,
    /// Keep the result in the table and answer with its id, type and repr.
    pub keep: bool,
    /// Standard types as their text (the `--json` mapping).
    pub text_forms: bool,
}

/// An `eval` request.
#[derive(Debug, Serialize)]
pub struct Eval<'a> {
    /// The request.
    pub id: u64,
    /// The Python source.
    pub code: &'a str,
    /// The file name tracebacks show.
    pub file: &'a str,
    /// `auto` (a trailing expression is the value) or `run` (`__main__`).
    pub mode: &'a str,
    /// Stream an iterator result.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Items a streamed iterator may run ahead.
    #[serde(skip_serializing_if = "is_zero")]
    pub window: u64,
    /// CPython's interactive conventions (echoes).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub repl: bool,
    /// Run only if the code is a complete input.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub if_complete: bool,
    /// Also report the value's truth.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truth: bool,
    /// Standard types as their text (the `--json` mapping).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub text_forms: bool,
    /// With `stream`: a binary file result streams its bytes, not its lines.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub file_bytes: bool,
    /// Stdin frames follow.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stdin: bool,
    /// `sys.argv` for a script.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub argv: &'a [String],
    /// The code reads the user's terminal (`read` frames), not stdin frames.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub terminal: bool,
    /// With `terminal`: `help()` text comes as `page` frames.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pager: bool,
    /// Run the code on a pseudo-terminal of this size: `stdin` frames are
    /// its keys, its output comes as `out` frames (fd 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pty: Option<PtySpec<'a>>,
}

/// The pseudo-terminal of a `pty` eval.
#[derive(Debug, Serialize)]
pub struct PtySpec<'a> {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
    /// `TERM` for the code, if the client has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<&'a str>,
}

/// Fields left at their default are not sent: a warm round trip's request
/// is then a few dozen bytes to write and to parse.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A message from the server.
#[derive(Debug)]
pub enum FromServer {
    /// The server is up, and says what it is.
    Hello(Hello),
    /// Remote output.
    Out(Out),
    /// The result.
    Value(ValueTokens),
    /// A value a REPL input displays.
    Echo(ValueTokens),
    /// No value.
    None(Ack),
    /// A streamed iterator begins.
    Iter(Ack),
    /// Items of a streamed iterator.
    Items(Items),
    /// A streamed iterator ended.
    End(Ack),
    /// The input needs more lines.
    Incomplete(Ack),
    /// The code raised.
    Error(Raised),
    /// The code called `sys.exit`.
    Exit(Exit),
    /// Forwarded stdin consumed.
    StdinAck(Count),
    /// Completion candidates.
    Completions(Completions),
    /// Whether an input is complete.
    Checked(Checked),
    /// The program compiled, in the payload.
    Code(Ack),
    /// The code reads a line from the user's terminal.
    Read(ReadLine),
    /// Text for the local pager.
    Page(Ack),
    /// A request the server did not understand.
    Bad(Bad),
    /// Remote code imports a module the host lacks: the client may serve it.
    Find(Find),
}

/// `hello`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Hello {
    /// The protocol version.
    pub protocol: u64,
    /// `3.11.7`
    pub python: String,
    /// `uname` system, release and machine.
    pub platform: String,
    /// The host's name.
    pub host: String,
    /// The effective user.
    pub user: String,
    /// The interpreter's process id.
    pub pid: u64,
    /// The interpreter's path.
    pub executable: String,
    /// importlib's magic number in hex: the bytecode format it runs.
    pub magic: String,
}

/// `out`.
#[derive(Debug, Deserialize)]
pub struct Out {
    /// The request that printed, if one was running.
    #[serde(default)]
    pub id: Option<u64>,
    /// 1 stdout, 2 stderr.
    pub fd: u8,
}

/// `value` and `echo`: a value's tokens (its bytes are in the payload).
#[derive(Debug, Deserialize)]
pub struct ValueTokens {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
    /// The tokens, parsed when the value is decoded.
    pub v: Box<RawValue>,
    /// The value's truth, when asked for.
    #[serde(default)]
    pub truth: Option<bool>,
}

impl ValueTokens {
    /// The length of the value if it is a lone bytes value taking the whole
    /// payload (`[["b", 0, n]]`, however the server spaced it): the one
    /// that can stream to stdout as it arrives.
    pub fn lone_bytes(&self) -> Option<u64> {
        lone_bytes(self.v.get())
    }
}

/// The length of the value whose tokens are `text` if it is a lone bytes
/// value starting the payload (`[["b", 0, n]]`).
pub fn lone_bytes(text: &str) -> Option<u64> {
    // No lone bytes token is that long, and it opens with `[[`: most values
    // (`[1]`) are told apart without a parse that fails (an error built each
    // call).
    if text.len() > 64 || !text.trim_start().strip_prefix('[').is_some_and(|t| t.trim_start().starts_with('[')) {
        return None;
    }
    match serde_json::from_str::<Vec<(String, u64, u64)>>(text).ok()?.as_slice() {
        [(tag, 0, n)] if tag == "b" => Some(*n),
        _ => None,
    }
}

/// A reply that carries nothing but its request.
#[derive(Debug, Deserialize)]
pub struct Ack {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
}

/// `items`.
#[derive(Debug, Deserialize)]
pub struct Items {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
    /// A list of token lists, one per item.
    pub v: Box<RawValue>,
    /// The payload bytes of each item.
    #[serde(default)]
    pub sizes: Vec<usize>,
}

impl Items {
    /// The length of the frame's one item if it is a bytes value taking the
    /// whole payload (a chunk of a file `pushy cp` fetches).
    pub fn lone_bytes(&self, payload_len: u64) -> Option<u64> {
        if self.sizes.len() != 1 || self.sizes[0] as u64 != payload_len {
            return None;
        }
        let text = self.v.get().trim();
        let inner = text.strip_prefix('[')?.strip_suffix(']')?;
        (lone_bytes(inner) == Some(payload_len)).then_some(payload_len)
    }
}

/// `error`.
#[derive(Debug, Deserialize)]
pub struct Raised {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
    /// The exception's class.
    #[serde(rename = "type", default)]
    pub type_name: String,
    /// Its message.
    #[serde(default)]
    pub message: String,
    /// The traceback, the user's frames only.
    #[serde(default)]
    pub traceback: String,
}

/// `exit`.
#[derive(Debug, Deserialize)]
pub struct Exit {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
    /// The status passed to `sys.exit`.
    #[serde(default)]
    pub code: i64,
}

/// `stdin_ack`.
#[derive(Debug, Deserialize)]
pub struct Count {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
    /// Bytes consumed.
    pub n: u64,
}

/// `completions`.
#[derive(Debug, Deserialize)]
pub struct Completions {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
    /// Where the replaced word starts, in code points.
    #[serde(default)]
    pub start: Option<usize>,
    /// The candidates.
    #[serde(default)]
    pub items: Vec<String>,
}

/// `checked`.
#[derive(Debug, Deserialize)]
pub struct Checked {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
    /// complete, incomplete or invalid.
    pub status: String,
}

/// `read`.
#[derive(Debug, Deserialize)]
pub struct ReadLine {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
    /// Which read this is (the `line` answer names it).
    #[serde(default)]
    pub n: u64,
    /// What to show before the line (getpass's prompt; `input()` prints its
    /// own).
    #[serde(default)]
    pub prompt: String,
    /// Whether the typed line may be shown (off for a password).
    #[serde(default = "yes")]
    pub echo: bool,
}

fn yes() -> bool {
    true
}

/// `bad`.
#[derive(Debug, Deserialize)]
pub struct Bad {
    /// The request.
    #[serde(default)]
    pub id: Option<u64>,
    /// What the server did not understand.
    #[serde(default)]
    pub message: String,
}

/// `find`.
#[derive(Debug, Deserialize)]
pub struct Find {
    /// The query, repeated in the answer.
    pub q: u64,
    /// The module's dotted name (for a data file, its package's).
    pub name: String,
    /// A data file in the package, `/`-separated (empty: the package's
    /// directory).
    #[serde(default)]
    pub resource: Option<String>,
}

impl FromServer {
    /// The request this message belongs to, if any.
    pub fn id(&self) -> Option<u64> {
        match self {
            FromServer::Hello(_) => None,
            FromServer::Out(m) => m.id,
            FromServer::Value(m) | FromServer::Echo(m) => m.id,
            FromServer::None(m) | FromServer::Iter(m) | FromServer::End(m) | FromServer::Incomplete(m) => m.id,
            FromServer::Items(m) => m.id,
            FromServer::Error(m) => m.id,
            FromServer::Exit(m) => m.id,
            FromServer::StdinAck(m) => m.id,
            FromServer::Completions(m) => m.id,
            FromServer::Checked(m) => m.id,
            FromServer::Code(m) => m.id,
            FromServer::Read(m) => m.id,
            FromServer::Page(m) => m.id,
            FromServer::Bad(m) => m.id,
            FromServer::Find(_) => None,
        }
    }

    /// The kind, as on the wire (for messages).
    pub fn kind(&self) -> &'static str {
        match self {
            FromServer::Hello(_) => "hello",
            FromServer::Out(_) => "out",
            FromServer::Value(_) => "value",
            FromServer::Echo(_) => "echo",
            FromServer::None(_) => "none",
            FromServer::Iter(_) => "iter",
            FromServer::Items(_) => "items",
            FromServer::End(_) => "end",
            FromServer::Incomplete(_) => "incomplete",
            FromServer::Error(_) => "error",
            FromServer::Exit(_) => "exit",
            FromServer::StdinAck(_) => "stdin_ack",
            FromServer::Completions(_) => "completions",
            FromServer::Checked(_) => "checked",
            FromServer::Code(_) => "code",
            FromServer::Read(_) => "read",
            FromServer::Page(_) => "page",
            FromServer::Bad(_) => "bad",
            FromServer::Find(_) => "find",
        }
    }
}

/// Tagged by `k`, which must come first: the kind picks the fields' type
/// before any field is read, so nothing is buffered (a value's tokens go
/// straight into a `RawValue`, which serde's own internally tagged enums
/// cannot do) and a frame is parsed once.
impl<'de> Deserialize<'de> for FromServer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FromServer, D::Error> {
        d.deserialize_map(KindFirst)
    }
}

struct KindFirst;

impl<'de> Visitor<'de> for KindFirst {
    type Value = FromServer;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a frame header: an object whose first key is \"k\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FromServer, A::Error> {
        match map.next_key::<std::borrow::Cow<'de, str>>()? {
            Some(key) if key == "k" => {}
            _ => return Err(de::Error::custom("the header's first key is not \"k\"")),
        }
        let kind: std::borrow::Cow<'de, str> = map.next_value()?;
        let rest = MapAccessDeserializer::new(map);
        Ok(match &*kind {
            "hello" => FromServer::Hello(Hello::deserialize(rest)?),
            "out" => FromServer::Out(Out::deserialize(rest)?),
            "value" => FromServer::Value(ValueTokens::deserialize(rest)?),
            "echo" => FromServer::Echo(ValueTokens::deserialize(rest)?),
            "none" => FromServer::None(Ack::deserialize(rest)?),
            "iter" => FromServer::Iter(Ack::deserialize(rest)?),
            "items" => FromServer::Items(Items::deserialize(rest)?),
            "end" => FromServer::End(Ack::deserialize(rest)?),
            "incomplete" => FromServer::Incomplete(Ack::deserialize(rest)?),
            "error" => FromServer::Error(Raised::deserialize(rest)?),
            "exit" => FromServer::Exit(Exit::deserialize(rest)?),
            "stdin_ack" => FromServer::StdinAck(Count::deserialize(rest)?),
            "completions" => FromServer::Completions(Completions::deserialize(rest)?),
            "checked" => FromServer::Checked(Checked::deserialize(rest)?),
            "code" => FromServer::Code(Ack::deserialize(rest)?),
            "read" => FromServer::Read(ReadLine::deserialize(rest)?),
            "page" => FromServer::Page(Ack::deserialize(rest)?),
            "bad" => FromServer::Bad(Bad::deserialize(rest)?),
            "find" => FromServer::Find(Find::deserialize(rest)?),
            other => return Err(de::Error::custom(format!("unknown frame kind {other:?}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FromServer, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn kinds_and_fields_parse_once_with_unknown_fields_skipped() {
        let m =
            parse(r#"{"k": "value", "id": 3, "junk": {"deep": [1, 2]}, "v": [["b", 0, 5]], "truth": true}"#).unwrap();
        let FromServer::Value(v) = m else { panic!("{m:?}") };
        assert_eq!((v.id, v.truth, v.v.get()), (Some(3), Some(true), r#"[["b", 0, 5]]"#));
        assert_eq!(v.lone_bytes(), Some(5));
        let m = parse(r#"{"k":"out","fd":2}"#).unwrap();
        assert!(matches!(m, FromServer::Out(Out { id: None, fd: 2 })));
    }

    #[test]
    fn lone_bytes_does_not_depend_on_spacing() {
        for text in [r#"[["b",0,7]]"#, r#"[ [ "b" , 0 , 7 ] ]"#, "[[\"b\",\n0,7]]"] {
            let v = ValueTokens { id: None, v: RawValue::from_string(text.into()).unwrap(), truth: None };
            assert_eq!(v.lone_bytes(), Some(7), "{text}");
        }
        for text in [r#"[["b",1,7]]"#, r#"[["B",0,7]]"#, r#"[["l",1],["b",0,7]]"#, "[1]"] {
            let v = ValueTokens { id: None, v: RawValue::from_string(text.into()).unwrap(), truth: None };
            assert_eq!(v.lone_bytes(), None, "{text}");
        }
    }

    #[test]
    fn bad_headers_are_errors() {
        for text in [r#"{"id": 1, "k": "value", "v": [1]}"#, r#"{"k": "nonsense"}"#, r#"{"k": "out"}"#, "[]", r#"{}"#] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn requests_are_tagged_by_kind() {
        let text = serde_json::to_string(&ToServer::More { id: 4, n: 8 }).unwrap();
        assert_eq!(text, r#"{"k":"more","id":4,"n":8}"#);
        let argv = vec!["a".to_string()];
        let eval = Eval {
            id: 1,
            code: "1",
            file: "<input>",
            mode: "auto",
            stream: false,
            window: 0,
            repl: false,
            if_complete: false,
            truth: false,
            text_forms: false,
            file_bytes: false,
            stdin: false,
            argv: &argv,
            terminal: false,
            pager: false,
            pty: None,
        };
        let text = serde_json::to_string(&ToServer::Eval(eval)).unwrap();
        assert!(text.starts_with(r#"{"k":"eval","id":1,"code":"1""#), "{text}");
    }
}
