//! Remote objects "as if they were local", typed with serde: what Pushy
//! began as, for Rust programs.
//!
//! - [`Session::eval_as`] evaluates code and reads the value as any
//!   [`serde::Deserialize`] type (see [`crate::value::from_value`] for the
//!   mapping);
//! - [`Session::call`] calls a remote function with arguments that cross by
//!   value (see [`crate::value::to_value`]): no code text is built from
//!   them, so nothing ever needs quoting;
//! - [`Session::eval_ref`] keeps the object remote, in a table of the
//!   server's, and gives a [`RemoteRef`] to call its methods, read its
//!   attributes, or pass it to another call.
//!
//! Dropping a [`RemoteRef`] releases the remote object: the ids of dropped
//! refs are sent in one frame ahead of the session's next request (a drop
//! never writes to the channel, so it is cheap and cannot fail). A ref
//! used with a session it does not belong to, or after its session
//! closed, is an error of kind [`ErrorKind::Value`], never a panic.
//!
//! On the wire, these are `ref` requests (see [`crate::protocol::message`]),
//! answered as an `eval` is: a value, or the exception the code raised.
//!
//! ```
//! use pushy::{Session, Target};
//! let mut s = Session::connect(&Target::parse("local:")?)?;
//! let names: Vec<String> = s.eval_as("sorted(os.listdir('/'))[:3]")?;
//! let size: u64 = s.call("os.path.getsize", ("/etc/hosts",))?;
//! let file = s.eval_ref("open('/etc/hosts', 'rb')")?;
//! let head: Vec<u8> = file.call_method(&mut s, "read", (4,))?;
//! assert_eq!(head.len() as u64, size.min(4));
//! # let _ = names;
//! # Ok::<(), pushy::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::message::RefRequest;
use crate::session::{forward_output, Owner, Request, Session};
use crate::value::{self, Value};

/// An object kept in a session's remote interpreter: an open file, a
/// socket, a parser. Made by [`Session::eval_ref`] (or the `_ref` methods
/// here); the remote object lives until this is dropped.
///
/// It can be passed as an argument (it implements [`Serialize`]): the
/// function gets the remote object itself.
///
/// ```
/// use pushy::{Session, Target};
/// let mut s = Session::connect(&Target::parse("local:")?)?;
/// let d = s.eval_ref("collections.OrderedDict(a=1)")?;
/// assert_eq!(d.type_name(), "collections.OrderedDict");
/// let n: usize = s.call("len", (&d,))?;
/// assert_eq!(n, 1);
/// # Ok::<(), pushy::Error>(())
/// ```
pub struct RemoteRef {
    id: u64,
    owner: Arc<Owner>,
    type_name: String,
    repr: String,
}

impl RemoteRef {
    /// A ref from the server's description of what it kept:
    /// `{"ref": id, "type": ..., "repr": ...}`, checked (the host is not
    /// trusted).
    fn kept(value: Value, owner: &Arc<Owner>) -> Result<RemoteRef> {
        #[derive(serde::Deserialize)]
        struct Kept {
            #[serde(rename = "ref")]
            id: u64,
            #[serde(rename = "type")]
            type_name: String,
            repr: String,
        }
        let kept: Kept = value::from_value(&value)
            .map_err(|e| Error::protocol(format!("the server described a kept object wrongly: {e}")))?;
        Ok(RemoteRef { id: kept.id, owner: Arc::clone(owner), type_name: kept.type_name, repr: kept.repr })
    }

    /// The object's type, as `module.Name` (`builtins` left out).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The object's `repr()`, taken when the ref was made (at most 64 KiB).
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// # let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let r = s.eval_ref("[1, 2]")?;
    /// assert_eq!(r.repr(), "[1, 2]");
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn repr(&self) -> &str {
        &self.repr
    }

    /// Calls the method `name` with `args` (see [`Session::call`] for how
    /// they cross) and reads the result as a `T`.
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// # let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let buf = s.eval_ref("io.BytesIO(b'hello world')")?;
    /// let word: Vec<u8> = buf.call_method(&mut s, "read", (5,))?;
    /// assert_eq!(&word[..], b"hello");
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn call_method<T: DeserializeOwned>(
        &self,
        session: &mut Session,
        name: &str,
        args: impl Serialize,
    ) -> Result<T> {
        let value = self.method(session, name, &args, false)?;
        read_as(&value, || format!("{}.{name}(...)", self.type_name))
    }

    /// Calls the method `name` and keeps its result remote.
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// # let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let path = s.eval_ref("pathlib.Path('/etc')")?;
    /// let hosts = path.call_method_ref(&mut s, "joinpath", ("hosts",))?;
    /// assert!(hosts.repr().contains("/etc/hosts"));
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn call_method_ref(&self, session: &mut Session, name: &str, args: impl Serialize) -> Result<RemoteRef> {
        let value = self.method(session, name, &args, true)?;
        RemoteRef::kept(value, session.owner())
    }

    fn method(&self, session: &mut Session, name: &str, args: &dyn erased::Args, keep: bool) -> Result<Value> {
        self.check(session)?;
        let encoded = args.encode(session.owner().session())?;
        let request = RefRequest {
            op: "call",
            target: Some(self.id),
            name: Some(name),
            args: Some(&encoded.tokens),
            spread: encoded.spread,
            keep,
            text_forms: !keep,
            ..RefRequest::new()
        };
        session.ref_request(request, &encoded.payload)
    }

    /// Reads the attribute `name` as a `T`.
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// # let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let f = s.eval_ref("open('/etc/hosts')")?;
    /// let mode: String = f.getattr(&mut s, "mode")?;
    /// assert_eq!(mode, "r");
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn getattr<T: DeserializeOwned>(&self, session: &mut Session, name: &str) -> Result<T> {
        let value = self.attribute(session, name, false)?;
        read_as(&value, || format!("{}.{name}", self.type_name))
    }

    /// Keeps the attribute `name` remote.
    pub fn getattr_ref(&self, session: &mut Session, name: &str) -> Result<RemoteRef> {
        let value = self.attribute(session, name, true)?;
        RemoteRef::kept(value, session.owner())
    }

    fn attribute(&self, session: &mut Session, name: &str, keep: bool) -> Result<Value> {
        self.check(session)?;
        let request = RefRequest {
            op: "getattr",
            target: Some(self.id),
            name: Some(name),
            keep,
            text_forms: !keep,
            ..RefRequest::new()
        };
        session.ref_request(request, b"")
    }

    /// The object itself, by value (as [`Session::eval`] returns values).
    ///
    /// ```
    /// # use pushy::{Session, Target, Value};
    /// # let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let r = s.eval_ref("6 * 7")?;
    /// assert_eq!(r.get(&mut s)?, Value::Int(42));
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn get(&self, session: &mut Session) -> Result<Value> {
        self.check(session)?;
        session.ref_request(RefRequest { op: "get", target: Some(self.id), ..RefRequest::new() }, b"")
    }

    /// An error unless this ref belongs to `session`, which is open.
    fn check(&self, session: &Session) -> Result<()> {
        if Arc::ptr_eq(&self.owner, session.owner()) {
            return Ok(());
        }
        let message = if self.owner.is_open() {
            format!("the remote {} belongs to another session than {}", self.type_name, session.name())
        } else {
            format!("the remote {} belonged to a session that is closed", self.type_name)
        };
        Err(Error::new(ErrorKind::Value, message).with_hint("use a RemoteRef only with the session that made it"))
    }
}

impl fmt::Debug for RemoteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteRef(#{} {}: {})", self.id, self.type_name, self.repr)
    }
}

/// Passed as an argument, the function gets the remote object itself
/// (only in calls on the session the ref belongs to).
impl Serialize for RemoteRef {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(value::REF, &(self.owner.session(), self.id))
    }
}

impl Drop for RemoteRef {
    fn drop(&mut self) {
        if self.owner.is_open() {
            self.owner.release(self.id);
        }
    }
}

impl<'a> RefRequest<'a> {
    /// A request with nothing set (the id is the session's to give).
    fn new() -> RefRequest<'a> {
        RefRequest {
            id: 0,
            op: "",
            code: None,
            function: None,
            target: None,
            name: None,
            args: None,
            spread: false,
            keep: false,
            text_forms: false,
        }
    }
}

/// Arguments, encoded once whatever their type (so the methods that take
/// them are not generic all the way down).
mod erased {
    use serde::Serialize;

    use crate::error::Result;

    pub struct Encoded {
        pub tokens: Vec<serde_json::Value>,
        pub payload: Vec<u8>,
        /// A tuple (or `()`): its items are the positional arguments.
        pub spread: bool,
    }

    pub trait Args {
        fn encode(&self, session: u64) -> Result<Encoded>;
    }

    impl<T: Serialize> Args for T {
        fn encode(&self, session: u64) -> Result<Encoded> {
            let mut encoded = crate::value::encode(self, Some(session))?;
            if encoded.unit {
                encoded.tokens = vec![serde_json::json!(["t", 0])];
            }
            let spread = encoded.tokens.first().and_then(|t| t.get(0)).and_then(|t| t.as_str()) == Some("t");
            Ok(Encoded { tokens: encoded.tokens, payload: encoded.payload, spread })
        }
    }
}

/// Reads `value` as a `T`; `what` names where the value came from.
fn read_as<T: DeserializeOwned>(value: &Value, what: impl FnOnce() -> String) -> Result<T> {
    value::from_value(value).map_err(|e| Error::new(ErrorKind::Value, format!("{}: {e}", what())))
}

/// Code shortened for a message.
fn quoted(code: &str) -> String {
    let line = code.lines().next().unwrap_or_default();
    match line.char_indices().nth(40) {
        Some((at, _)) => format!("`{}...`", &line[..at]),
        None if line.len() < code.trim_end().len() => format!("`{line}...`"),
        None => format!("`{line}`"),
    }
}

impl Session {
    /// Evaluates code and reads its value as a `T`.
    ///
    /// Standard types with a text form (datetime, Decimal, UUID, paths)
    /// come as that text, as with `--json`. A value that does not fit is
    /// an error of kind [`ErrorKind::Value`] naming where in the value,
    /// what `T` wanted there and what Python had.
    ///
    /// ```
    /// use pushy::{Session, Target};
    /// #[derive(serde::Deserialize)]
    /// struct Stat { st_size: u64, st_mode: u32 }
    /// let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let names: Vec<String> = s.eval_as("os.listdir('/')")?;
    /// assert!(names.iter().any(|n| n == "etc"));
    /// let stat: Stat = s.eval_as("os.stat('/etc/hosts')")?;
    /// assert!(stat.st_mode & 0o170000 == 0o100000);
    /// let wrong = s.eval_as::<Vec<u32>>("[1, 'two']").unwrap_err();
    /// assert!(wrong.to_string().contains("at [1]"));
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn eval_as<T: DeserializeOwned>(&mut self, code: &str) -> Result<T> {
        let reply = self.request(Request { text_forms: true, ..Request::new(code) }, &mut forward_output)?;
        let value = match reply {
            crate::Reply::Value(v, _) => v,
            crate::Reply::Raised(e) => return Err(Error::from_remote(e)),
            crate::Reply::Exit(code) => {
                return Err(Error::new(ErrorKind::Remote, format!("the code called sys.exit({code})")))
            }
            _ => Value::None,
        };
        read_as(&value, || quoted(code))
    }

    /// Calls a remote function with `args` and reads the result as a `T`.
    ///
    /// `function` is an expression naming it (`"os.path.getsize"`,
    /// `"json.dumps"`, a lambda). The arguments cross by value: a tuple's
    /// items are the positional arguments (`()` for none), anything else is
    /// the one argument; a struct or a map is a dict, bytes go as bytes with
    /// `serde_bytes`, and a [`RemoteRef`] is the remote object itself (see
    /// [`crate::value::to_value`]). No code text is built from them.
    ///
    /// ```
    /// use pushy::{Session, Target};
    /// let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let size = s.call::<u64>("os.path.getsize", ("/etc/hosts",))?;
    /// let quote = "it's \"quoted\"";
    /// let same: String = s.call("str", (quote,))?;
    /// assert_eq!(same, quote);
    /// # let _ = size;
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn call<T: DeserializeOwned>(&mut self, function: &str, args: impl Serialize) -> Result<T> {
        let value = self.call_value(function, &args, false)?;
        read_as(&value, || format!("{}(...)", quoted(function)))
    }

    /// Calls a remote function and keeps its result remote.
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// # let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let f = s.call_ref("open", ("/etc/hosts", "rb"))?;
    /// assert_eq!(f.type_name(), "_io.BufferedReader");
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn call_ref(&mut self, function: &str, args: impl Serialize) -> Result<RemoteRef> {
        let value = self.call_value(function, &args, true)?;
        RemoteRef::kept(value, self.owner())
    }

    fn call_value(&mut self, function: &str, args: &dyn erased::Args, keep: bool) -> Result<Value> {
        let encoded = args.encode(self.owner().session())?;
        let request = RefRequest {
            op: "call",
            function: Some(function),
            args: Some(&encoded.tokens),
            spread: encoded.spread,
            keep,
            text_forms: !keep,
            ..RefRequest::new()
        };
        self.ref_request(request, &encoded.payload)
    }

    /// Evaluates code and keeps the object remote, in a table of the
    /// server's, until the [`RemoteRef`] is dropped.
    ///
    /// ```
    /// use pushy::{Session, Target};
    /// let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let f = s.eval_ref("open('/etc/hosts', 'rb')")?;
    /// let first: Vec<u8> = f.call_method(&mut s, "read", (1,))?;
    /// let pos: u64 = f.call_method(&mut s, "tell", ())?;
    /// assert_eq!((first.len(), pos), (1, 1));
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn eval_ref(&mut self, code: &str) -> Result<RemoteRef> {
        let value =
            self.ref_request(RefRequest { op: "eval", code: Some(code), keep: true, ..RefRequest::new() }, b"")?;
        RemoteRef::kept(value, self.owner())
    }

    /// How many objects the server keeps for this session's refs, once
    /// those dropped so far are released: 0 when no ref is alive.
    ///
    /// ```
    /// # use pushy::{Session, Target};
    /// # let mut s = Session::connect(&Target::parse("local:")?)?;
    /// let r = s.eval_ref("object()")?;
    /// assert_eq!(s.remote_objects()?, 1);
    /// drop(r);
    /// assert_eq!(s.remote_objects()?, 0);
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn remote_objects(&mut self) -> Result<usize> {
        let value = self.ref_request(RefRequest { op: "count", ..RefRequest::new() }, b"")?;
        read_as(&value, || "the count of remote objects".into())
    }
}
