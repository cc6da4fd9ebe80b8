//! Values that come back from the remote side, by value: a typed tree.
//!
//! # Wire form
//!
//! The server flattens a value into a JSON array of tokens in prefix order
//! (a container's token, then its children), so that no layer (the Python
//! encoder, JSON, this decoder) ever recurses on the value's depth. A scalar
//! that JSON carries exactly is itself: `null`, `true`/`false`, an integer
//! that fits in 64 bits, a float (always written with `.` or `e`), or a
//! string without lone surrogates. Anything else is a short array:
//!
//! | token                    | value                                                     |
//! |--------------------------|-----------------------------------------------------------|
//! | `["l", n]` / `["l", n, T]` | list of the next `n` values (of list subclass `T`)      |
//! | `["t", n]`, `["s", n]`, `["f", n]` | tuple, set, frozenset (optional subclass name)  |
//! | `["d", n]` / `["d", n, T]` | dict of the next `n` key, value pairs                   |
//! | `["n", T, [f1, f2, ...]]`| named structure `T` with one value per field              |
//! | `["i", "digits"]`        | an int outside 64 bits                                    |
//! | `["F", "nan"]`           | `nan`, `inf` or `-inf`                                    |
//! | `["u", [cp, ...]]`       | a str with lone surrogates, as code points                |
//! | `["b", off, len]`, `["B", off, len]` | bytes, bytearray: a slice of the frame payload |
//! | `["I", K, off, n]`, `["D", K, off, n]` | a list (`K` = `"l"`) or tuple (`"t"`) of `n` ints (little-endian int64) or floats (float64) packed in the payload |
//!
//! Bytes slices and packed numbers come in payload order and never overlap (each starts at or
//! after the end of the one before), so the bytes a value decodes to never
//! exceed the payload that arrived: a hostile server cannot make one
//! megabyte into a gigabyte by pointing a thousand tokens at it.
//! | `["r", T, "repr"]`       | any other object: its type and `repr()`                   |
//! | `["c", "list"]`          | a reference back to an enclosing container (a cycle)      |
//! | `["x", T]`               | a container nested past the depth limit                   |

mod from;
mod to;

pub use from::{from_value, DeError, ValueDeserializer};
pub(crate) use to::{encode, REF};
pub use to::{to_value, Bytes};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Result};

/// How deep a received value may nest. The server cuts its values off at
/// 10 000 levels (`["x", T]`); anything deeper is not pushy's server.
pub const MAX_DEPTH: usize = 10_000;

/// A Python value, received by value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// An int that fits in 64 bits.
    Int(i64),
    /// Any other int, as its decimal digits (with a leading `-` if negative).
    BigInt(String),
    /// A float, including nan and the infinities.
    Float(f64),
    /// A str.
    Str(String),
    /// A str holding lone surrogates (an undecodable filename), as code points.
    WideStr(Vec<u32>),
    /// `bytes`
    Bytes(Vec<u8>),
    /// `bytearray`
    ByteArray(Vec<u8>),
    /// list, tuple, set or frozenset; the name is set for subclasses.
    Seq(SeqKind, Vec<Value>, Option<String>),
    /// A dict as its pairs in order; the name is set for subclasses.
    Dict(Vec<(Value, Value)>, Option<String>),
    /// A namedtuple, struct sequence (`os.stat_result`) or dataclass.
    Named(String, Vec<(String, Value)>),
    /// Anything else: its type name and `repr()`.
    Object(String, String),
    /// A reference back to an enclosing container of this kind.
    Cycle(String),
    /// A container nested too deep to send.
    Deep(String),
}

/// The four sequence types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqKind {
    /// `[...]`
    List,
    /// `(...)`
    Tuple,
    /// `{...}`
    Set,
    /// `frozenset({...})`
    FrozenSet,
}

impl Value {
    /// True for a value with no parts (a scalar, bytes, an opaque object).
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Value::Seq(..) | Value::Dict(..) | Value::Named(..))
    }

    /// The str, if this is one without surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The int, if this is one that fits in 64 bits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Reads the value as a Rust type (see [`from_value`]).
    ///
    /// ```
    /// use pushy::Value;
    /// assert_eq!(Value::Int(7).deserialize::<u8>()?, 7);
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn deserialize<'a, T: serde::Deserialize<'a>>(&'a self) -> Result<T> {
        from_value(self)
    }
}

/// A str with lone surrogates (`Value::WideStr`) back to the bytes it was
/// decoded from: Python's `surrogateescape` stands for an undecodable byte
/// B with U+DC00+B (U+DC80..U+DCFF). Any other lone surrogate becomes
/// `replacement`, or with none makes the whole text `None`.
pub fn surrogate_escaped(cps: &[u32], replacement: Option<char>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(cps.len());
    for &cp in cps {
        match (char::from_u32(cp), replacement) {
            (Some(c), _) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            (None, _) if (0xDC80..=0xDCFF).contains(&cp) => out.push((cp - 0xDC00) as u8),
            (None, Some(r)) => out.extend_from_slice(r.encode_utf8(&mut [0; 4]).as_bytes()),
            (None, None) => return None,
        }
    }
    Some(out)
}

/// One token of the wire form.
enum Token {
    Scalar(Value),
    Tag(Vec<serde_json::Value>),
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        d.deserialize_any(TokenVisitor)
    }
}

struct TokenVisitor;

impl<'de> Visitor<'de> for TokenVisitor {
    type Value = Token;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a value token")
    }
    fn visit_unit<E>(self) -> Result<Token, E> {
        Ok(Token::Scalar(Value::None))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Token, E> {
        Ok(Token::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Token, E> {
        Ok(Token::Scalar(Value::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Token, E> {
        Ok(Token::Scalar(i64::try_from(v).map(Value::Int).unwrap_or_else(|_| Value::BigInt(v.to_string()))))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Token, E> {
        Ok(Token::Scalar(Value::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Token, E> {
        Ok(Token::Scalar(Value::Str(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Token, E> {
        Ok(Token::Scalar(Value::Str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Token, A::Error> {
        let mut parts = Vec::new();
        while let Some(part) = seq.next_element::<serde_json::Value>()? {
            parts.push(part);
        }
        Ok(Token::Tag(parts))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Token, A::Error> {
        Err(de::Error::custom("unexpected object in value tokens"))
    }
}

/// A container being filled while tokens are read.
enum Open {
    Seq(SeqKind, Vec<Value>, usize, Option<String>),
    Dict(Vec<(Value, Value)>, Option<Value>, usize, Option<String>),
    Named(String, Vec<String>, Vec<Value>),
}

impl Open {
    fn remaining(&self) -> usize {
        match self {
            Open::Seq(_, items, n, _) => n - items.len(),
            Open::Dict(pairs, key, n, _) => 2 * (n - pairs.len()) - usize::from(key.is_some()),
            Open::Named(_, names, values) => names.len() - values.len(),
        }
    }

    fn push(&mut self, value: Value) {
        match self {
            Open::Seq(_, items, _, _) => items.push(value),
            Open::Dict(pairs, key, _, _) => match key.take() {
                Some(k) => pairs.push((k, value)),
                None => *key = Some(value),
            },
            Open::Named(_, names, values) => {
                let _ = names;
                values.push(value)
            }
        }
    }

    fn close(self) -> Value {
        match self {
            Open::Seq(kind, items, _, name) => Value::Seq(kind, items, name),
            Open::Dict(pairs, _, _, name) => Value::Dict(pairs, name),
            Open::Named(name, names, values) => Value::Named(name, names.into_iter().zip(values).collect()),
        }
    }
}

/// Decodes a value from its tokens and the frame payload that holds its bytes.
///
/// The tokens are taken one at a time as serde_json parses them, never held
/// as a list: a list of ten million ints costs its `Value`s and nothing more.
pub fn decode(tokens: &RawValue, payload: &[u8]) -> Result<Value> {
    let text = tokens.get();
    let mut builder = Builder {
        payload,
        payload_used: 0,
        total: count_tokens(text),
        seen: 0,
        promised: 0,
        stack: Vec::new(),
        root: None,
        error: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = de::DeserializeSeed::deserialize(TokenSeq(&mut builder), &mut de).and_then(|()| de.end());
    if let Some(error) = builder.error {
        return Err(error);
    }
    parsed.map_err(|e| Error::protocol(format!("bad value tokens: {e}")))?;
    match (builder.root, builder.stack.is_empty()) {
        (Some(v), true) => Ok(v),
        _ => Err(Error::protocol("value tokens ended inside a container")),
    }
}

/// How many elements the top-level JSON array holds (exact for valid JSON:
/// the commas outside strings at depth 1). It bounds every count a token
/// claims, so a lying count can never make the decoder allocate.
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

/// The decoder's state while tokens stream in.
struct Builder<'p> {
    payload: &'p [u8],
    /// Where the last bytes slice ended: the next may not start before it.
    payload_used: usize,
    total: usize,
    seen: usize,
    /// Slots the open containers still wait for. A new container may reserve
    /// room only for tokens nobody else is owed: nested lying counts
    /// (`["l",99999]` ten thousand deep) must not each reserve the rest.
    promised: usize,
    stack: Vec<Open>,
    root: Option<Value>,
    /// The first error, kept as pushy's own (serde only learns that one happened).
    error: Option<Error>,
}

impl Builder<'_> {
    fn push(&mut self, token: Token) -> Result<()> {
        let left = self.total.saturating_sub(self.seen).max(1);
        // The tokens after this one, less those owed to the open containers
        // for their other slots (each one's current slot is being filled by
        // the subtree this token is part of).
        let room = (left - 1 + self.stack.len()).saturating_sub(self.promised);
        self.seen += 1;
        let mut done = match token {
            Token::Scalar(v) => Some(v),
            Token::Tag(parts) => match tag(parts, self.payload, &mut self.payload_used, room)? {
                Tagged::Value(v) => Some(v),
                Tagged::Open(open) if open.remaining() == 0 => Some(open.close()),
                Tagged::Open(open) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(Error::protocol("value nested deeper than the limit"));
                    }
                    self.promised += open.remaining();
                    self.stack.push(open);
                    None
                }
            },
        };
        // Attach finished values upwards, closing containers that fill up.
        while let Some(value) = done.take() {
            match self.stack.last_mut() {
                None => {
                    if self.root.is_some() {
                        return Err(Error::protocol("value tokens after the end of the value"));
                    }
                    self.root = Some(value);
                }
                Some(top) => {
                    top.push(value);
                    self.promised = self.promised.saturating_sub(1);
                    if top.remaining() == 0 {
                        done = self.stack.pop().map(Open::close);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The top-level token array, fed to a [`Builder`] element by element.
struct TokenSeq<'b, 'p>(&'b mut Builder<'p>);

impl<'de> de::DeserializeSeed<'de> for TokenSeq<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for TokenSeq<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of value tokens")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(token) = seq.next_element::<Token>()? {
            if let Err(e) = self.0.push(token) {
                let message = e.to_string();
                self.0.error = Some(e);
                return Err(de::Error::custom(message));
            }
        }
        Ok(())
    }
}

enum Tagged {
    Value(Value),
    Open(Open),
}

/// `left`: the tokens that follow and that no open container is owed yet.
/// `used`: the payload bytes that earlier bytes tokens took.
fn tag(parts: Vec<serde_json::Value>, payload: &[u8], used: &mut usize, left: usize) -> Result<Tagged> {
    use serde_json::Value as J;
    let bad = || Error::protocol(format!("bad value token {}", serde_json::Value::Array(parts.clone())));
    let name = |i: usize| parts.get(i).and_then(J::as_str).map(str::to_owned);
    let count = |i: usize| -> Result<usize> {
        let n = parts.get(i).and_then(J::as_u64).ok_or_else(bad)? as usize;
        // A count can never exceed the tokens that follow (twice for dicts):
        // a lying count must not make us allocate.
        if n > 2 * left {
            return Err(bad());
        }
        Ok(n)
    };
    let t = parts.first().and_then(J::as_str).ok_or_else(bad)?;
    let seq = |kind| -> Result<Tagged> {
        let n = count(1)?;
        Ok(Tagged::Open(Open::Seq(kind, Vec::with_capacity(n.min(left)), n, name(2))))
    };
    Ok(match t {
        "l" => seq(SeqKind::List)?,
        "t" => seq(SeqKind::Tuple)?,
        "s" => seq(SeqKind::Set)?,
        "f" => seq(SeqKind::FrozenSet)?,
        "d" => {
            let n = count(1)?;
            Tagged::Open(Open::Dict(Vec::with_capacity(n.min(left)), None, n, name(2)))
        }
        "n" => {
            let type_name = name(1).ok_or_else(bad)?;
            let fields: Vec<String> = parts
                .get(2)
                .and_then(J::as_array)
                .ok_or_else(bad)?
                .iter()
                .map(|f| f.as_str().map(str::to_owned).ok_or_else(bad))
                .collect::<Result<_>>()?;
            if fields.len() > left {
                return Err(bad());
            }
            let values = Vec::with_capacity(fields.len());
            Tagged::Open(Open::Named(type_name, fields, values))
        }
        "i" => {
            let digits = name(1).ok_or_else(bad)?;
            let body = digits.strip_prefix('-').unwrap_or(&digits);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            Tagged::Value(Value::BigInt(digits))
        }
        "F" => Tagged::Value(Value::Float(match name(1).as_deref() {
            Some("nan") => f64::NAN,
            Some("inf") => f64::INFINITY,
            Some("-inf") => f64::NEG_INFINITY,
            _ => return Err(bad()),
        })),
        "u" => {
            let cps = parts.get(1).and_then(J::as_array).ok_or_else(bad)?;
            let cps = cps
                .iter()
                .map(|c| c.as_u64().filter(|c| *c <= 0x10FFFF).map(|c| c as u32).ok_or_else(bad))
                .collect::<Result<Vec<u32>>>()?;
            Tagged::Value(Value::WideStr(cps))
        }
        "I" | "D" => {
            let kind = match name(1).as_deref() {
                Some("l") => SeqKind::List,
                Some("t") => SeqKind::Tuple,
                _ => return Err(bad()),
            };
            let off = parts.get(2).and_then(J::as_u64).ok_or_else(bad)? as usize;
            let n = parts.get(3).and_then(J::as_u64).ok_or_else(bad)? as usize;
            if off < *used {
                return Err(Error::protocol("packed numbers that share payload bytes (a hostile or broken server)"));
            }
            // The payload bounds the count: a lying one fails here, before
            // anything is allocated.
            let end = n.checked_mul(8).and_then(|len| off.checked_add(len)).ok_or_else(bad)?;
            let bytes = payload.get(off..end).ok_or_else(bad)?;
            *used = end;
            let words = bytes.chunks_exact(8).map(|w| <[u8; 8]>::try_from(w).expect("8 bytes"));
            let values = if t == "I" {
                words.map(|w| Value::Int(i64::from_le_bytes(w))).collect()
            } else {
                words.map(|w| Value::Float(f64::from_le_bytes(w))).collect()
            };
            Tagged::Value(Value::Seq(kind, values, None))
        }
        "b" | "B" => {
            let off = parts.get(1).and_then(J::as_u64).ok_or_else(bad)? as usize;
            let len = parts.get(2).and_then(J::as_u64).ok_or_else(bad)? as usize;
            if off < *used {
                return Err(Error::protocol("bytes values that share payload bytes (a hostile or broken server)"));
            }
            let end = off.checked_add(len).ok_or_else(bad)?;
            let bytes = payload.get(off..end).ok_or_else(bad)?.to_vec();
            *used = end;
            Tagged::Value(if t == "b" { Value::Bytes(bytes) } else { Value::ByteArray(bytes) })
        }
        "r" => Tagged::Value(Value::Object(name(1).ok_or_else(bad)?, name(2).ok_or_else(bad)?)),
        "c" => Tagged::Value(Value::Cycle(name(1).ok_or_else(bad)?)),
        "x" => Tagged::Value(Value::Deep(name(1).ok_or_else(bad)?)),
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(json: &str, payload: &[u8]) -> Result<Value> {
        decode(&RawValue::from_string(json.to_string()).unwrap(), payload)
    }

    #[test]
    fn packed_numbers() {
        let mut payload = Vec::new();
        for i in [-1i64, 0, i64::MAX] {
            payload.extend_from_slice(&i.to_le_bytes());
        }
        payload.extend_from_slice(&0.5f64.to_le_bytes());
        let v = dec(r#"[["l",2],["I","l",0,3],["D","t",24,1]]"#, &payload).unwrap();
        let ints = Value::Seq(SeqKind::List, vec![Value::Int(-1), Value::Int(0), Value::Int(i64::MAX)], None);
        let floats = Value::Seq(SeqKind::Tuple, vec![Value::Float(0.5)], None);
        assert_eq!(v, Value::Seq(SeqKind::List, vec![ints, floats], None));
        // Past the payload, overlapping, a count that overflows, a bad kind.
        for bad in [
            r#"[["I","l",0,5]]"#,
            r#"[["l",2],["I","l",0,2],["I","l",8,1]]"#,
            r#"[["I","l",8,2305843009213693952]]"#,
            r#"[["I","d",0,1]]"#,
        ] {
            assert!(dec(bad, &payload).is_err(), "{bad}");
        }
    }

    #[test]
    fn nested_containers() {
        let v = dec(r#"[["d",1],["t",2],1,2,["s",1],3]"#, b"").unwrap();
        let key = Value::Seq(SeqKind::Tuple, vec![Value::Int(1), Value::Int(2)], None);
        let val = Value::Seq(SeqKind::Set, vec![Value::Int(3)], None);
        assert_eq!(v, Value::Dict(vec![(key, val)], None));
    }

    #[test]
    fn scalars_and_bytes() {
        assert_eq!(dec("[1.0]", b"").unwrap(), Value::Float(1.0));
        assert_eq!(
            dec(r#"[["i","-123456789012345678901234567890"]]"#, b"").unwrap(),
            Value::BigInt("-123456789012345678901234567890".into())
        );
        assert_eq!(dec(r#"[["b",1,2]]"#, b"xyz").unwrap(), Value::Bytes(b"yz".to_vec()));
        let two = Value::Seq(SeqKind::List, vec![Value::Bytes(b"x".to_vec()), Value::Bytes(b"yz".to_vec())], None);
        assert_eq!(dec(r#"[["l",2],["b",0,1],["b",1,2]]"#, b"xyz").unwrap(), two);
        assert!(matches!(dec(r#"[["F","nan"]]"#, b"").unwrap(), Value::Float(f) if f.is_nan()));
    }

    fn nested(depth: usize) -> String {
        let mut s = String::from("[");
        for _ in 0..depth {
            s.push_str(r#"["l",1],"#);
        }
        s + "0]"
    }

    #[test]
    fn deep_nesting_is_decoded_without_recursion_up_to_a_limit() {
        let v = dec(&nested(MAX_DEPTH), b"").unwrap();
        let mut cur = &v;
        let mut seen = 0;
        while let Value::Seq(_, items, _) = cur {
            cur = &items[0];
            seen += 1;
        }
        assert_eq!(seen, MAX_DEPTH);
        assert!(dec(&nested(MAX_DEPTH + 1), b"").is_err());
    }

    #[test]
    fn malformed_tokens_are_errors() {
        for bad in [
            r#"[]"#,
            r#"[1,2]"#,
            r#"[["l",2],1]"#,
            r#"[["l",99999999999]]"#,
            r#"[["b",0,5]]"#,
            r#"[["l",2],["b",0,2],["b",0,2]]"#, // the same bytes twice
            r#"[["l",2],["b",0,2],["b",1,1]]"#, // overlapping
            r#"[["q"]]"#,
            r#"[{"a":1}]"#,
            r#"[["i","12x"]]"#,
            r#"[["n","P",[1]]]"#,
            "{}",
        ] {
            assert!(dec(bad, b"ab").is_err(), "{bad}");
        }
    }
}

/// Property tests: any token text and payload decode to a value or an error,
/// never a panic, and never allocate more than a small multiple of their
/// size (a count is a claim, not a size); values written in the wire
/// grammar decode back exactly. The fuzz target in `fuzz/` does the same at
/// scale.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::proptests::peak_during;

    fn decode_text(text: &str, payload: &[u8]) -> Result<Value> {
        let raw = RawValue::from_string(text.to_string()).map_err(|e| Error::protocol(e.to_string()))?;
        decode(&raw, payload)
    }

    /// What decoding may cost: a fixed amount plus, per byte of input, a
    /// few `Value`s' worth (a token takes at least two bytes).
    fn budget(len: usize) -> usize {
        (64 << 10) + 64 * len
    }

    /// One token of the grammar, well-formed or not, with counts that may lie.
    fn token() -> impl Strategy<Value = String> {
        let count = prop_oneof![0u64..4, Just(99_999), Just(u64::MAX), any::<u64>()];
        prop_oneof![
            (prop_oneof![Just("l"), Just("t"), Just("s"), Just("f"), Just("d")], count.clone())
                .prop_map(|(t, n)| format!(r#"["{t}",{n}]"#)),
            count.clone().prop_map(|n| format!(r#"["l",{n},"Sub"]"#)),
            proptest::collection::vec("[a-z]{1,3}", 0..4).prop_map(|f| format!(r#"["n","P",{f:?}]"#)),
            (0u64..8, 0u64..8).prop_map(|(o, n)| format!(r#"["b",{o},{n}]"#)),
            (0u64..8, any::<u64>()).prop_map(|(o, n)| format!(r#"["B",{o},{n}]"#)),
            "-?[0-9]{1,30}x?".prop_map(|d| format!(r#"["i","{d}"]"#)),
            prop_oneof![Just("nan"), Just("inf"), Just("-inf"), Just("1")].prop_map(|f| format!(r#"["F","{f}"]"#)),
            proptest::collection::vec(0u64..0x11_0000, 0..4).prop_map(|c| format!(r#"["u",{c:?}]"#)),
            Just(r#"["r","T","<T>"]"#.to_string()),
            Just(r#"["c","list"]"#.to_string()),
            Just(r#"["x","dict"]"#.to_string()),
            Just(r#"["q"]"#.to_string()),
            Just("[]".to_string()),
            Just(r#"{"a":1}"#.to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            Just("18446744073709551615".to_string()),
            Just("1.5e300".to_string()),
            "\\PC{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just("null".to_string()),
            Just("true".to_string()),
        ]
    }

    /// A value of the kinds that compare equal to themselves (no nan).
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::None),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            "-?[1-9][0-9]{19,40}".prop_map(Value::BigInt),
            any::<f64>().prop_filter("nan", |f| !f.is_nan()).prop_map(Value::Float),
            "\\PC{0,10}".prop_map(Value::Str),
            proptest::collection::vec(0xD800u32..0xE000, 1..3).prop_map(Value::WideStr),
            proptest::collection::vec(any::<u8>(), 0..10).prop_map(Value::Bytes),
            proptest::collection::vec(any::<u8>(), 0..10).prop_map(Value::ByteArray),
            ("[A-Z][a-z]{0,5}", "\\PC{0,10}").prop_map(|(t, r)| Value::Object(t, r)),
            Just(Value::Cycle("list".into())),
            Just(Value::Deep("dict".into())),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            let kind =
                prop_oneof![Just(SeqKind::List), Just(SeqKind::Tuple), Just(SeqKind::Set), Just(SeqKind::FrozenSet)];
            prop_oneof![
                (kind, proptest::collection::vec(inner.clone(), 0..6), proptest::option::of("[A-Z][a-z]{0,5}"))
                    .prop_map(|(k, items, name)| Value::Seq(k, items, name)),
                (proptest::collection::vec((inner.clone(), inner.clone()), 0..4), proptest::option::of("[A-Z]{1,4}"))
                    .prop_map(|(pairs, name)| Value::Dict(pairs, name)),
                ("[A-Z][a-z]{0,5}", proptest::collection::vec(("[a-z]{1,4}", inner), 0..4))
                    .prop_map(|(name, fields)| Value::Named(name, fields)),
            ]
        })
    }

    /// The wire form of a value, as the server writes it (prefix order).
    fn encode(value: &Value, tokens: &mut Vec<serde_json::Value>, payload: &mut Vec<u8>) {
        use serde_json::json;
        let named = |mut token: Vec<serde_json::Value>, name: &Option<String>| {
            if let Some(name) = name {
                token.push(json!(name));
            }
            serde_json::Value::Array(token)
        };
        match value {
            Value::None => tokens.push(json!(null)),
            Value::Bool(b) => tokens.push(json!(b)),
            Value::Int(i) => tokens.push(json!(i)),
            Value::BigInt(d) => tokens.push(json!(["i", d])),
            Value::Float(f) if f.is_finite() => tokens.push(json!(f)),
            Value::Float(f) => tokens.push(json!(["F", if *f > 0.0 { "inf" } else { "-inf" }])),
            Value::Str(s) => tokens.push(json!(s)),
            Value::WideStr(cps) => tokens.push(json!(["u", cps])),
            Value::Bytes(b) | Value::ByteArray(b) => {
                let tag = if matches!(value, Value::Bytes(_)) { "b" } else { "B" };
                tokens.push(json!([tag, payload.len(), b.len()]));
                payload.extend_from_slice(b);
            }
            Value::Seq(kind, items, name) => {
                let tag = match kind {
                    SeqKind::List => "l",
                    SeqKind::Tuple => "t",
                    SeqKind::Set => "s",
                    SeqKind::FrozenSet => "f",
                };
                tokens.push(named(vec![json!(tag), json!(items.len())], name));
                items.iter().for_each(|item| encode(item, tokens, payload));
            }
            Value::Dict(pairs, name) => {
                tokens.push(named(vec![json!("d"), json!(pairs.len())], name));
                for (k, v) in pairs {
                    encode(k, tokens, payload);
                    encode(v, tokens, payload);
                }
            }
            Value::Named(name, fields) => {
                let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
                tokens.push(json!(["n", name, names]));
                fields.iter().for_each(|(_, v)| encode(v, tokens, payload));
            }
            Value::Object(t, r) => tokens.push(json!(["r", t, r])),
            Value::Cycle(k) => tokens.push(json!(["c", k])),
            Value::Deep(k) => tokens.push(json!(["x", k])),
        }
    }

    /// The bytes and bytearray contents a value holds, in all.
    fn bytes_in(value: &Value) -> usize {
        match value {
            Value::Bytes(b) | Value::ByteArray(b) => b.len(),
            Value::Seq(_, items, _) => items.iter().map(bytes_in).sum(),
            Value::Dict(pairs, _) => pairs.iter().map(|(k, v)| bytes_in(k) + bytes_in(v)).sum(),
            Value::Named(_, fields) => fields.iter().map(|(_, v)| bytes_in(v)).sum(),
            _ => 0,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}", payload in proptest::collection::vec(any::<u8>(), 0..16)) {
            let (_, peak) = peak_during(|| decode_text(&text, &payload));
            prop_assert!(peak <= budget(text.len()), "{} bytes in, {peak} allocated", text.len());
        }

        #[test]
        fn arbitrary_tokens_never_panic_nor_overallocate(
            tokens in proptest::collection::vec(token(), 0..64),
            payload in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let text = format!("[{}]", tokens.join(","));
            let (result, peak) = peak_during(|| decode_text(&text, &payload));
            prop_assert!(peak <= budget(text.len()), "{} bytes in, {peak} allocated: {text}", text.len());
            if let Ok(value) = result {
                prop_assert!(bytes_in(&value) <= payload.len(), "{text} decoded to more bytes than arrived");
            }
        }

        #[test]
        fn nested_lying_counts_reserve_nothing(depth in 2usize..3000, filler in 0usize..4000, extra in 0usize..8) {
            // Each container claims about all the tokens left, which passes
            // the count check alone; nested, they may not each reserve them.
            let claim = depth + filler + extra;
            let text = format!("[{}{}0]", format!(r#"["l",{claim}],"#).repeat(depth), "0,".repeat(filler));
            let (result, peak) = peak_during(|| decode_text(&text, b""));
            prop_assert!(result.is_err());
            prop_assert!(peak <= budget(text.len()), "{} bytes in, {peak} allocated", text.len());
        }

        #[test]
        fn values_round_trip(value in value()) {
            let (mut tokens, mut payload) = (Vec::new(), Vec::new());
            encode(&value, &mut tokens, &mut payload);
            let text = serde_json::to_string(&tokens).unwrap();
            prop_assert_eq!(decode_text(&text, &payload).unwrap(), value);
        }
    }
}
