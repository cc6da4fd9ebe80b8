//! The one reader of the wire form (the token table is in [`crate::value`]).
//!
//! It checks every token against what a host may send (counts bounded by
//! the tokens that follow, payload slices in bounds and in order, UTF-8,
//! depth) and hands the value on as events in prefix order to a [`Sink`]:
//! the tree builder behind [`crate::value::decode`] is one sink, the
//! printers that render a big value without building its tree are others.
//! No sink checks anything itself, so there is no second, laxer reader.

use std::borrow::Cow;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::{SeqKind, Value, MAX_DEPTH};
use crate::error::{Error, Result};

/// A value without parts, borrowed from the tokens, the payload or a tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    None,
    Bool(bool),
    Int(i64),
    /// Decimal digits, with a leading `-` if negative.
    BigInt(&'a str),
    Float(f64),
    Str(&'a str),
    /// Code points, with lone surrogates.
    WideStr(&'a [u32]),
    Bytes(&'a [u8]),
    ByteArray(&'a [u8]),
    /// Type name and repr.
    Object(&'a str, &'a str),
    Cycle(&'a str),
    Deep(&'a str),
}

impl Scalar<'_> {
    /// The value, owned.
    pub(crate) fn to_value(self) -> Value {
        match self {
            Scalar::None => Value::None,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::Int(i),
            Scalar::BigInt(d) => Value::BigInt(d.to_owned()),
            Scalar::Float(f) => Value::Float(f),
            Scalar::Str(s) => Value::Str(s.to_owned()),
            Scalar::WideStr(c) => Value::WideStr(c.to_vec()),
            Scalar::Bytes(b) => Value::Bytes(b.to_vec()),
            Scalar::ByteArray(b) => Value::ByteArray(b.to_vec()),
            Scalar::Object(t, r) => Value::Object(t.to_owned(), r.to_owned()),
            Scalar::Cycle(k) => Value::Cycle(k.to_owned()),
            Scalar::Deep(k) => Value::Deep(k.to_owned()),
        }
    }
}

impl Value {
    /// The scalar this value is, or `None` for a container.
    pub(crate) fn scalar(&self) -> Option<Scalar<'_>> {
        Some(match self {
            Value::None => Scalar::None,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Int(i) => Scalar::Int(*i),
            Value::BigInt(d) => Scalar::BigInt(d),
            Value::Float(f) => Scalar::Float(*f),
            Value::Str(s) => Scalar::Str(s),
            Value::WideStr(c) => Scalar::WideStr(c),
            Value::Bytes(b) => Scalar::Bytes(b),
            Value::ByteArray(b) => Scalar::ByteArray(b),
            Value::Object(t, r) => Scalar::Object(t, r),
            Value::Cycle(k) => Scalar::Cycle(k),
            Value::Deep(k) => Scalar::Deep(k),
            Value::Seq(..) | Value::Dict(..) | Value::Named(..) => return None,
        })
    }
}

/// A container opening: its parts follow as events, then [`Sink::close`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Open<'a> {
    /// A sequence of this many items (a subclass name, if any).
    Seq(SeqKind, usize, Option<&'a str>),
    /// A dict of this many pairs: key, value, key, value...
    Dict(usize, Option<&'a str>),
    /// A named structure: one value per field.
    Named(&'a str, Fields<'a>),
}

/// A named structure's field names, wherever they are held.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fields<'a> {
    Names(&'a [String]),
    Tree(&'a [(String, Value)]),
}

impl<'a> Fields<'a> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Fields::Names(n) => n.len(),
            Fields::Tree(f) => f.len(),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (names, tree) = match *self {
            Fields::Names(n) => (Some(n.iter().map(String::as_str)), None),
            Fields::Tree(f) => (None, Some(f.iter().map(|(n, _)| n.as_str()))),
        };
        names.into_iter().flatten().chain(tree.into_iter().flatten())
    }
}

/// A packed list or tuple: its items lie in the payload, already checked.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Run<'a> {
    /// Little-endian int64s.
    Ints(&'a [u8]),
    /// Little-endian float64s.
    Floats(&'a [u8]),
    /// This many strs, joined by NUL.
    Strs(&'a str, usize),
}

impl<'a> Run<'a> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Run::Ints(b) | Run::Floats(b) => b.len() / 8,
            Run::Strs(_, n) => *n,
        }
    }

    /// The items, one by one, straight from the payload.
    pub(crate) fn items(self) -> RunItems<'a> {
        match self {
            Run::Ints(b) => RunItems::Ints(b.chunks_exact(8)),
            Run::Floats(b) => RunItems::Floats(b.chunks_exact(8)),
            // Zero strs and one empty str are both an empty block: the count decides.
            Run::Strs(text, n) => RunItems::Strs((n > 0).then(|| text.split('\0'))),
        }
    }
}

/// The items of a [`Run`].
pub(crate) enum RunItems<'a> {
    Ints(std::slice::ChunksExact<'a, u8>),
    Floats(std::slice::ChunksExact<'a, u8>),
    Strs(Option<std::str::Split<'a, char>>),
}

impl<'a> Iterator for RunItems<'a> {
    type Item = Scalar<'a>;

    fn next(&mut self) -> Option<Scalar<'a>> {
        let word = |w: &[u8]| <[u8; 8]>::try_from(w).unwrap_or_default();
        match self {
            RunItems::Ints(words) => words.next().map(|w| Scalar::Int(i64::from_le_bytes(word(w)))),
            RunItems::Floats(words) => words.next().map(|w| Scalar::Float(f64::from_le_bytes(word(w)))),
            RunItems::Strs(strs) => strs.as_mut()?.next().map(Scalar::Str),
        }
    }
}

/// What a value's events go to, in prefix order: a container's
/// [`open`](Sink::open), its parts, its [`close`](Sink::close). An error
/// stops the reading and is returned as it is.
pub(crate) trait Sink {
    fn scalar(&mut self, scalar: Scalar<'_>) -> Result<()>;
    fn open(&mut self, open: Open<'_>) -> Result<()>;
    fn close(&mut self) -> Result<()>;

    /// A packed run: by default, as the list or tuple it stands for.
    fn run(&mut self, kind: SeqKind, run: Run<'_>) -> Result<()> {
        self.open(Open::Seq(kind, run.len(), None))?;
        for item in run.items() {
            self.scalar(item)?;
        }
        self.close()
    }

    /// A packed table: as the list or tuple of rows it stands for.
    fn table(&mut self, table: &Table<'_>) -> Result<()> {
        self.open(Open::Seq(table.kind, table.rows, None))?;
        let mut columns: Vec<RunItems<'_>> = table.columns.iter().map(|c| c.items()).collect();
        for _ in 0..table.rows {
            match &table.row {
                Row::Seq(kind) => self.open(Open::Seq(*kind, columns.len(), None))?,
                Row::Record(_) => self.open(Open::Dict(columns.len(), None))?,
            }
            for (i, column) in columns.iter_mut().enumerate() {
                if let Row::Record(keys) = &table.row {
                    self.scalar(Scalar::Str(keys[i]))?;
                }
                // Every column holds `rows` items: the reader checked.
                self.scalar(column.next().unwrap_or(Scalar::None))?;
            }
            self.close()?;
        }
        self.close()
    }
}

/// How many times its columns' bytes a packed table of records may repeat
/// its keys' bytes over its rows (the server's `KEY_BYTES_PER_BYTE`).
pub(crate) const KEY_BYTES_PER_BYTE: usize = 4;

/// A packed list or tuple of rows, each one item from every column: the
/// columns lie in the payload, already checked to hold `rows` items each.
#[derive(Debug)]
pub(crate) struct Table<'a> {
    pub(crate) kind: SeqKind,
    pub(crate) rows: usize,
    pub(crate) row: Row<'a>,
    pub(crate) columns: Vec<Run<'a>>,
}

/// What a table's rows are.
#[derive(Debug)]
pub(crate) enum Row<'a> {
    /// Lists or tuples.
    Seq(SeqKind),
    /// Dicts with these keys (one per column), in this order.
    Record(Vec<&'a str>),
}

/// A sink that takes everything: reading into it only checks the tokens.
pub(crate) struct Check;

impl Sink for Check {
    fn scalar(&mut self, _: Scalar<'_>) -> Result<()> {
        Ok(())
    }
    fn open(&mut self, _: Open<'_>) -> Result<()> {
        Ok(())
    }
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
    fn run(&mut self, _: SeqKind, _: Run<'_>) -> Result<()> {
        Ok(())
    }
    fn table(&mut self, _: &Table<'_>) -> Result<()> {
        Ok(())
    }
}

/// Reads a value's tokens (with the frame payload that holds its bytes)
/// into `sink`.
///
/// The tokens are taken one at a time as serde_json parses them, never
/// held as a list; what the sink keeps is its own affair.
pub(crate) fn parse<S: Sink>(tokens: &str, payload: &[u8], sink: &mut S) -> Result<()> {
    let mut reader = Reader {
        payload,
        payload_used: 0,
        total: count_tokens(tokens),
        seen: 0,
        promised: 0,
        stack: Vec::new(),
        done: false,
        sink,
        error: None,
    };
    let mut de = serde_json::Deserializer::from_str(tokens);
    let parsed = de::DeserializeSeed::deserialize(TokenSeq(&mut reader), &mut de).and_then(|()| de.end());
    if let Some(error) = reader.error {
        return Err(error);
    }
    parsed.map_err(|e| Error::protocol(format!("bad value tokens: {e}")))?;
    if !reader.done {
        return Err(Error::protocol("value tokens ended inside a container"));
    }
    Ok(())
}

/// How many elements the top-level JSON array holds (exact for valid JSON:
/// the commas outside strings at depth 1). It bounds every count a token
/// claims, so a lying count can never make a sink allocate.
fn count_tokens(text: &str) -> usize {
    let (mut depth, mut commas, mut in_string, mut escaped, mut any) = (0usize, 0usize, false, false, false);
    for &b in text.as_bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' | b'[' | b'{' if depth >= 1 => any = true,
            b',' if depth == 1 => commas += 1,
            b']' | b'}' | b',' => {}
            _ if depth >= 1 && !b.is_ascii_whitespace() => any = true,
            _ => {}
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if any {
        commas + 1
    } else {
        0
    }
}

/// One token of the wire form, borrowed from the text where it can be.
enum Token<'de> {
    Null,
    Bool(bool),
    Int(i64),
    /// An int JSON carries that does not fit in i64.
    Big(u64),
    Float(f64),
    Str(Cow<'de, str>),
    Tag(Vec<serde_json::Value>),
}

impl<'de> Deserialize<'de> for Token<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Token<'de>, D::Error> {
        d.deserialize_any(TokenVisitor)
    }
}

struct TokenVisitor;

impl<'de> Visitor<'de> for TokenVisitor {
    type Value = Token<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a value token")
    }
    fn visit_unit<E>(self) -> Result<Token<'de>, E> {
        Ok(Token::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Token<'de>, E> {
        Ok(Token::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Token<'de>, E> {
        Ok(Token::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Token<'de>, E> {
        Ok(i64::try_from(v).map(Token::Int).unwrap_or(Token::Big(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Token<'de>, E> {
        Ok(Token::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Token<'de>, E> {
        Ok(Token::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Token<'de>, E> {
        Ok(Token::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Token<'de>, E> {
        Ok(Token::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Token<'de>, A::Error> {
        let mut parts = Vec::new();
        while let Some(part) = seq.next_element::<serde_json::Value>()? {
            parts.push(part);
        }
        Ok(Token::Tag(parts))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Token<'de>, A::Error> {
        Err(de::Error::custom("unexpected object in value tokens"))
    }
}

/// The reader's state while tokens stream in.
struct Reader<'p, 's, S> {
    payload: &'p [u8],
    /// Where the last payload slice ended: the next may not start before it.
    payload_used: usize,
    total: usize,
    seen: usize,
    /// Slots the open containers still wait for. A new container may claim
    /// room only for tokens nobody else is owed: nested lying counts
    /// (`["l",99999]` ten thousand deep) must not each claim the rest.
    promised: usize,
    /// The slots each open container still waits for.
    stack: Vec<usize>,
    /// The value is complete: any further token is an error.
    done: bool,
    sink: &'s mut S,
    /// The first error, kept as pushy's own (serde only learns that one happened).
    error: Option<Error>,
}

impl<'p, S: Sink> Reader<'p, '_, S> {
    fn push(&mut self, token: Token<'_>) -> Result<()> {
        if self.done {
            return Err(Error::protocol("value tokens after the end of the value"));
        }
        let left = self.total.saturating_sub(self.seen).max(1);
        // The tokens after this one, less those owed to the open containers
        // for their other slots (each one's current slot is being filled by
        // the subtree this token is part of).
        let room = (left - 1 + self.stack.len()).saturating_sub(self.promised);
        self.seen += 1;
        match token {
            Token::Null => self.sink.scalar(Scalar::None)?,
            Token::Bool(b) => self.sink.scalar(Scalar::Bool(b))?,
            Token::Int(i) => self.sink.scalar(Scalar::Int(i))?,
            Token::Big(u) => self.sink.scalar(Scalar::BigInt(&u.to_string()))?,
            Token::Float(f) => self.sink.scalar(Scalar::Float(f))?,
            Token::Str(s) => self.sink.scalar(Scalar::Str(&s))?,
            Token::Tag(parts) => return self.tag(&parts, room),
        }
        self.ended()
    }

    /// A value just ended: it fills a slot of the container above, which
    /// may then be full, and so on up.
    fn ended(&mut self) -> Result<()> {
        while let Some(slots) = self.stack.last_mut() {
            *slots -= 1;
            self.promised = self.promised.saturating_sub(1);
            if *slots > 0 {
                return Ok(());
            }
            self.stack.pop();
            self.sink.close()?;
        }
        self.done = true;
        Ok(())
    }

    /// A container whose `slots` parts follow (a dict's pairs count twice).
    fn open(&mut self, open: Open<'_>, slots: usize) -> Result<()> {
        if slots == 0 {
            self.sink.open(open)?;
            self.sink.close()?;
            return self.ended();
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::protocol("value nested deeper than the limit"));
        }
        self.sink.open(open)?;
        self.promised += slots;
        self.stack.push(slots);
        Ok(())
    }

    /// The payload bytes `off..off + len`, which must come after every
    /// slice taken before: then the values a payload decodes to never hold
    /// more bytes than arrived (a hostile server cannot make one megabyte
    /// into a gigabyte by pointing a thousand tokens at it).
    /// `what`: the values, for the error.
    fn slice(&mut self, off: usize, len: usize, what: &str) -> Option<Result<&'p [u8]>> {
        if off < self.payload_used {
            return Some(Err(Error::protocol(format!("{what} that share payload bytes (a hostile or broken server)"))));
        }
        let end = off.checked_add(len)?;
        let payload = self.payload;
        let bytes = payload.get(off..end)?;
        self.payload_used = end;
        Some(Ok(bytes))
    }

    /// `room`: the tokens that follow and that no open container is owed yet.
    fn tag(&mut self, parts: &[serde_json::Value], room: usize) -> Result<()> {
        use serde_json::Value as J;
        let bad = || Error::protocol(format!("bad value token {}", J::Array(parts.to_vec())));
        let text = |i: usize| parts.get(i).and_then(J::as_str);
        let number = |i: usize| parts.get(i).and_then(J::as_u64).and_then(|n| usize::try_from(n).ok());
        // A container's count can never exceed the tokens that follow and
        // that nobody else is owed: a lying count fails here, before any
        // sink allocates for it.
        let slots = |i: usize, per: usize| -> Result<usize> {
            number(i).and_then(|n| n.checked_mul(per)).filter(|s| *s <= room).ok_or_else(bad)
        };
        let t = text(0).ok_or_else(bad)?;
        let seq = |kind| (kind, text(2));
        match t {
            "l" | "t" | "s" | "f" => {
                let kind = match t {
                    "l" => SeqKind::List,
                    "t" => SeqKind::Tuple,
                    "s" => SeqKind::Set,
                    _ => SeqKind::FrozenSet,
                };
                let n = slots(1, 1)?;
                let (kind, name) = seq(kind);
                return self.open(Open::Seq(kind, n, name), n);
            }
            "d" => {
                let n = slots(1, 2)? / 2;
                return self.open(Open::Dict(n, text(2)), 2 * n);
            }
            "n" => {
                let type_name = text(1).ok_or_else(bad)?;
                let fields: Vec<String> = parts
                    .get(2)
                    .and_then(J::as_array)
                    .ok_or_else(bad)?
                    .iter()
                    .map(|f| f.as_str().map(str::to_owned).ok_or_else(bad))
                    .collect::<Result<_>>()?;
                if fields.len() > room {
                    return Err(bad());
                }
                return self.open(Open::Named(type_name, Fields::Names(&fields)), fields.len());
            }
            "i" => {
                let digits = text(1).ok_or_else(bad)?;
                let body = digits.strip_prefix('-').unwrap_or(digits);
                if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                self.sink.scalar(Scalar::BigInt(digits))?;
            }
            "F" => self.sink.scalar(Scalar::Float(match text(1) {
                Some("nan") => f64::NAN,
                Some("inf") => f64::INFINITY,
                Some("-inf") => f64::NEG_INFINITY,
                _ => return Err(bad()),
            }))?,
            "u" => {
                let cps = parts.get(1).and_then(J::as_array).ok_or_else(bad)?;
                let cps = cps
                    .iter()
                    .map(|c| c.as_u64().filter(|c| *c <= 0x10FFFF).map(|c| c as u32).ok_or_else(bad))
                    .collect::<Result<Vec<u32>>>()?;
                self.sink.scalar(Scalar::WideStr(&cps))?;
            }
            "I" | "D" | "S" => {
                let kind = match text(1) {
                    Some("l") => SeqKind::List,
                    Some("t") => SeqKind::Tuple,
                    _ => return Err(bad()),
                };
                let (off, n) = (number(2).ok_or_else(bad)?, number(3).ok_or_else(bad)?);
                // The payload bounds the count: a lying one fails here,
                // before anything is allocated.
                let len = if t == "S" { number(4).ok_or_else(bad)? } else { n.checked_mul(8).ok_or_else(bad)? };
                let bytes = self.slice(off, len, "packed values").ok_or_else(bad)??;
                let run = match t {
                    "I" => Run::Ints(bytes),
                    "D" => Run::Floats(bytes),
                    _ => Run::Strs(packed_strs(bytes, n)?, n),
                };
                self.sink.run(kind, run)?;
            }
            "T" => {
                let table = self.table(parts).ok_or_else(bad)??;
                self.sink.table(&table)?;
            }
            "b" | "B" => {
                let (off, len) = (number(1).ok_or_else(bad)?, number(2).ok_or_else(bad)?);
                let bytes = self.slice(off, len, "bytes values").ok_or_else(bad)??;
                self.sink.scalar(if t == "b" { Scalar::Bytes(bytes) } else { Scalar::ByteArray(bytes) })?;
            }
            "r" => self.sink.scalar(Scalar::Object(text(1).ok_or_else(bad)?, text(2).ok_or_else(bad)?))?,
            "c" => self.sink.scalar(Scalar::Cycle(text(1).ok_or_else(bad)?))?,
            "x" => self.sink.scalar(Scalar::Deep(text(1).ok_or_else(bad)?))?,
            _ => return Err(bad()),
        }
        self.ended()
    }

    /// A `T` token's table, its columns sliced from the payload one after
    /// another and checked: None for a malformed token. Every column holds
    /// the rows' count of items, so the payload bounds the count (each int
    /// or float is 8 bytes; a str block holds a NUL between two strs).
    fn table<'t>(&mut self, parts: &'t [serde_json::Value]) -> Option<Result<Table<'t>>>
    where
        'p: 't,
    {
        use serde_json::Value as J;
        let seq_kind = |i: usize| match parts.get(i).and_then(J::as_str)? {
            "l" => Some(SeqKind::List),
            "t" => Some(SeqKind::Tuple),
            _ => None,
        };
        let number = |v: Option<&J>| v.and_then(J::as_u64).and_then(|n| usize::try_from(n).ok());
        let (kind, start, rows) = (seq_kind(1)?, number(parts.get(2))?, number(parts.get(3))?);
        let mut at = start;
        let specs = parts.get(5).and_then(J::as_array).filter(|s| !s.is_empty())?;
        let row = match (parts.get(4).and_then(J::as_str)?, parts.get(6)) {
            (_, Some(_)) if parts.len() > 7 => return None,
            ("d", Some(keys)) => {
                let keys: Vec<&str> = keys.as_array()?.iter().map(J::as_str).collect::<Option<_>>()?;
                if keys.len() != specs.len() {
                    return None;
                }
                Row::Record(keys)
            }
            (_, None) => Row::Seq(seq_kind(4)?),
            _ => return None,
        };
        // Two levels: the list and its rows.
        if self.stack.len() + 2 > MAX_DEPTH {
            return Some(Err(Error::protocol("value nested deeper than the limit")));
        }
        let mut columns = Vec::with_capacity(specs.len()); // as many as the tokens' text holds
        for spec in specs {
            let spec = spec.as_array()?;
            let (tag, len) = match (spec.first().and_then(J::as_str)?, spec.len()) {
                (tag @ ("I" | "D"), 1) => (tag, rows.checked_mul(8)?),
                ("S", 2) => ("S", number(spec.get(1))?),
                _ => return None,
            };
            let bytes = match self.slice(at, len, "packed tables")? {
                Ok(bytes) => bytes,
                Err(e) => return Some(Err(e)),
            };
            at += len; // (slice checked that it does not overflow)
            columns.push(match tag {
                "I" => Run::Ints(bytes),
                "D" => Run::Floats(bytes),
                _ => match packed_strs(bytes, rows) {
                    Ok(text) => Run::Strs(text, rows),
                    Err(e) => return Some(Err(e)),
                },
            });
        }
        // Each record repeats the keys: their bytes over all rows may be at
        // most a few times the columns' bytes, so that a long key cannot
        // make one byte of payload into a kilobyte (the server keeps to it).
        if let Row::Record(keys) = &row {
            let key_bytes: usize = keys.iter().map(|k| k.len()).sum();
            if rows.checked_mul(key_bytes)? > KEY_BYTES_PER_BYTE.checked_mul(at - start)? {
                return Some(Err(Error::protocol("a packed table of records whose keys outweigh its columns")));
            }
        }
        Some(Ok(Table { kind, rows, row, columns }))
    }
}

/// An `S` token's block: `n` strs as UTF-8, joined by NUL. The whole block
/// is checked once, and it must hold exactly `n - 1` NULs (none when `n` is
/// 0 or 1), so the count is the block's own.
fn packed_strs(bytes: &[u8], n: usize) -> Result<&str> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::protocol("packed strs that are not UTF-8"))?;
    let nuls = bytes.iter().filter(|b| **b == 0).count();
    if n.saturating_sub(1) != nuls || (n == 0 && !bytes.is_empty()) {
        return Err(Error::protocol(format!("packed strs: {n} announced, the block holds {}", nuls + 1)));
    }
    Ok(text)
}

/// The top-level token array, fed to a [`Reader`] element by element.
struct TokenSeq<'r, 'p, 's, S>(&'r mut Reader<'p, 's, S>);

impl<'de, S: Sink> de::DeserializeSeed<'de> for TokenSeq<'_, '_, '_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: Sink> Visitor<'de> for TokenSeq<'_, '_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of value tokens")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(token) = seq.next_element::<Token<'de>>()? {
            if let Err(e) = self.0.push(token) {
                let message = e.to_string();
                self.0.error = Some(e);
                return Err(de::Error::custom(message));
            }
        }
        Ok(())
    }
}

/// Feeds a tree's events to `sink`, as [`parse`] would feed the same
/// value's tokens (a packed run arrives as the sequence it stands for).
/// Without recursion: a tree may nest as deep as memory allows.
pub(crate) fn walk<S: Sink>(value: &Value, sink: &mut S) -> Result<()> {
    enum Parts<'v> {
        Seq(std::slice::Iter<'v, Value>),
        Dict(std::slice::Iter<'v, (Value, Value)>, Option<&'v Value>),
        Named(std::slice::Iter<'v, (String, Value)>),
    }
    fn emit<'v, S: Sink>(value: &'v Value, sink: &mut S, stack: &mut Vec<Parts<'v>>) -> Result<()> {
        match value {
            Value::Seq(kind, items, name) => {
                sink.open(Open::Seq(*kind, items.len(), name.as_deref()))?;
                stack.push(Parts::Seq(items.iter()));
            }
            Value::Dict(pairs, name) => {
                sink.open(Open::Dict(pairs.len(), name.as_deref()))?;
                stack.push(Parts::Dict(pairs.iter(), None));
            }
            Value::Named(name, fields) => {
                sink.open(Open::Named(name, Fields::Tree(fields)))?;
                stack.push(Parts::Named(fields.iter()));
            }
            scalar => sink.scalar(scalar.scalar().unwrap_or(Scalar::None))?,
        }
        Ok(())
    }
    let mut stack = Vec::new();
    emit(value, sink, &mut stack)?;
    while let Some(top) = stack.last_mut() {
        let next = match top {
            Parts::Seq(items) => items.next(),
            Parts::Dict(pairs, value) => value.take().or_else(|| {
                pairs.next().map(|(k, v)| {
                    *value = Some(v);
                    k
                })
            }),
            Parts::Named(fields) => fields.next().map(|(_, v)| v),
        };
        match next {
            Some(child) => emit(child, sink, &mut stack)?,
            None => {
                stack.pop();
                sink.close()?;
            }
        }
    }
    Ok(())
}
