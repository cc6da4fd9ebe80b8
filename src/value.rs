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
//! | `["r", T, "repr"]`       | any other object: its type and `repr()`                   |
//! | `["c", "list"]`          | a reference back to an enclosing container (a cycle)      |
//! | `["x", T]`               | a container nested past the depth limit                   |

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
pub fn decode(tokens: &RawValue, payload: &[u8]) -> Result<Value> {
    let tokens: Vec<Token> =
        serde_json::from_str(tokens.get()).map_err(|e| Error::protocol(format!("bad value tokens: {e}")))?;
    let total = tokens.len();
    let mut stack: Vec<Open> = Vec::new();
    let mut root = None;
    for (i, token) in tokens.into_iter().enumerate() {
        let left = total - i;
        let mut done = match token {
            Token::Scalar(v) => Some(v),
            Token::Tag(parts) => match tag(parts, payload, left)? {
                Tagged::Value(v) => Some(v),
                Tagged::Open(open) if open.remaining() == 0 => Some(open.close()),
                Tagged::Open(open) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(Error::protocol("value nested deeper than the limit"));
                    }
                    stack.push(open);
                    None
                }
            },
        };
        // Attach finished values upwards, closing containers that fill up.
        while let Some(value) = done.take() {
            match stack.last_mut() {
                None => {
                    if root.is_some() {
                        return Err(Error::protocol("value tokens after the end of the value"));
                    }
                    root = Some(value);
                }
                Some(top) => {
                    top.push(value);
                    if top.remaining() == 0 {
                        done = stack.pop().map(Open::close);
                    }
                }
            }
        }
    }
    match (root, stack.is_empty()) {
        (Some(v), true) => Ok(v),
        _ => Err(Error::protocol("value tokens ended inside a container")),
    }
}

enum Tagged {
    Value(Value),
    Open(Open),
}

fn tag(parts: Vec<serde_json::Value>, payload: &[u8], left: usize) -> Result<Tagged> {
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
        "b" | "B" => {
            let off = parts.get(1).and_then(J::as_u64).ok_or_else(bad)? as usize;
            let len = parts.get(2).and_then(J::as_u64).ok_or_else(bad)? as usize;
            let bytes = off.checked_add(len).and_then(|end| payload.get(off..end)).ok_or_else(bad)?.to_vec();
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
