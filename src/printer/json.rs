//! `--json`: values as JSON, one document per result (JSON Lines when
//! streaming or with many hosts). Never coloured.
//!
//! # Format
//!
//! | Python                       | JSON                                              |
//! |------------------------------|---------------------------------------------------|
//! | `None`, `True`, `False`      | `null`, `true`, `false`                           |
//! | int (any size)               | number, all digits (exact for `json.loads`)       |
//! | float (finite)               | number, Python's shortest round-trip digits       |
//! | `nan`, `inf`, `-inf`         | `{"$float": "nan"}` (`"inf"`, `"-inf"`)           |
//! | str                          | string (lone surrogates as `\udcxx` escapes)      |
//! | bytes, bytearray             | `{"$bytes": BASE64}`, `{"$bytearray": BASE64}`    |
//! | list, tuple, set, frozenset  | array                                             |
//! | dict                         | object; keys that are not str become their JSON text (`1`, `true`, `null`) or, for other types, their Python repr |
//! | namedtuple, struct sequence, dataclass | object of its fields                    |
//! | datetime, date, time         | ISO 8601 string (`"2024-01-02T03:04:05+00:00"`)   |
//! | timedelta                    | ISO 8601 duration string (`"P1DT2H3M4.5S"`)       |
//! | Decimal, UUID, paths         | string, their `str()`                             |
//! | any other object             | `{"$type": "module.Type", "$repr": "..."}`        |
//! | a cycle back to a container  | `{"$cycle": "list"}`                              |
//! | nested past the depth limit  | `{"$deep": "dict"}`                               |
//!
//! The same mapping gives a [`serde_json::Value`] ([`to_json`], or
//! `serde_json::Value::from(&value)`) and reads one back ([`from_json`], or
//! `Value::from(&json)`): the tagged
//! objects become the values they stand for, an array a list, an object a
//! dict with str keys. A `serde_json::Value` holds no integer beyond 64
//! bits (without serde_json's `arbitrary_precision`), so there such an int
//! becomes the nearest float; read exact digits with `eval_as::<i128>` or
//! from `--json`'s text.

use std::io::Write;

use base64::Engine;

use super::out::Out;
use super::pretty::{FlatText, Pretty};
use super::repr;
use crate::error::Result;
use crate::value::tokens::{self, Check, Open, Scalar, Sink};
use crate::value::{Encoded, Value};

/// The record `--json` prints for a remote exception, one line with its
/// newline: `{"error": {"kind": "raised", "type": ..., "message": ...,
/// "traceback": ...}}`, the same `error` object as in a per-host record.
pub fn error_record(error: &crate::RemoteError) -> String {
    let record = serde_json::json!({"error": {
        "kind": "raised", "type": error.type_name, "message": error.message, "traceback": error.traceback,
    }});
    format!("{record}\n")
}

/// The value as one line of JSON (no trailing newline).
pub fn render(value: &Value) -> String {
    let mut json = Json { out: Out::memory(), stack: Vec::new(), key: None };
    let _ = tokens::walk(value, &mut json); // writing to memory cannot fail
    json.out.into_string()
}

/// Writes a value as it arrived, as one line of JSON with its newline,
/// without building its tree: text goes to `to` in 64 KiB chunks. The
/// tokens are all checked first, so a malformed value writes nothing
/// (`Err`); `Ok(Err)` when writing failed.
pub fn write_encoded(value: &Encoded, to: &mut dyn Write) -> Result<std::io::Result<()>> {
    value.parse(&mut Check)?;
    let mut json = Json { out: Out::writer(to), stack: Vec::new(), key: None };
    if let Err(e) = value.parse(&mut json) {
        return match json.out.take_failure() {
            Some(failure) => Ok(Err(failure)),
            None => Err(e),
        };
    }
    json.out.push('\n');
    Ok(json.out.finish())
}

/// The JSON writer, from a value's events, without recursion.
struct Json<'w> {
    out: Out<'w>,
    stack: Vec<Part>,
    /// A dict key that is a container, being rendered as its Python text:
    /// its open containers and its text so far.
    key: Option<(usize, FlatText)>,
}

/// An open container and how many parts it has had.
enum Part {
    Array(usize),
    Object(usize),
    Fields(Vec<String>, usize),
}

/// Where the next event goes.
enum Slot {
    Value,
    Key,
}

impl Json<'_> {
    /// Writes what goes before the next part.
    fn slot(&mut self) -> Slot {
        let Some(top) = self.stack.last_mut() else { return Slot::Value };
        let out = &mut self.out;
        match top {
            Part::Array(i) => {
                if *i > 0 {
                    out.push(',');
                }
                *i += 1;
                Slot::Value
            }
            Part::Object(i) => {
                *i += 1;
                match *i % 2 {
                    1 if *i > 1 => {
                        out.push(',');
                        Slot::Key
                    }
                    1 => Slot::Key,
                    _ => Slot::Value,
                }
            }
            Part::Fields(names, i) => {
                if *i > 0 {
                    out.push(',');
                }
                push_string(out.text(), names.get(*i).map_or("", String::as_str));
                out.push(':');
                *i += 1;
                Slot::Value
            }
        }
    }
}

impl Sink for Json<'_> {
    fn scalar(&mut self, scalar: Scalar<'_>) -> Result<()> {
        if let Some((_, key)) = &mut self.key {
            return key.scalar(scalar);
        }
        match self.slot() {
            Slot::Key => {
                match scalar {
                    Scalar::WideStr(cps) => push_wide_string(self.out.text(), cps),
                    other => push_string(self.out.text(), &scalar_key_text(other)),
                }
                self.out.push(':');
            }
            Slot::Value => push_scalar(self.out.text(), scalar),
        }
        self.out.spill()
    }

    fn open(&mut self, open: Open<'_>) -> Result<()> {
        if let Some((depth, key)) = &mut self.key {
            *depth += 1;
            return key.open(open);
        }
        if let Slot::Key = self.slot() {
            let mut key = FlatText::new();
            key.open(open)?;
            self.key = Some((1, key));
            return Ok(());
        }
        let part = match open {
            Open::Seq(..) => Part::Array(0),
            Open::Dict(..) => Part::Object(0),
            Open::Named(_, fields) => Part::Fields(fields.iter().map(str::to_owned).collect(), 0),
        };
        self.out.push(if let Part::Array(_) = part { '[' } else { '{' });
        self.stack.push(part);
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some((depth, key)) = &mut self.key {
            key.close()?;
            *depth -= 1;
            if *depth == 0 {
                if let Some((_, key)) = self.key.take() {
                    push_string(self.out.text(), &key.into_string());
                    self.out.push(':');
                }
            }
            return Ok(());
        }
        match self.stack.pop() {
            Some(Part::Array(_)) => self.out.push(']'),
            Some(_) => self.out.push('}'),
            None => {}
        }
        self.out.spill()
    }
}

/// A scalar's JSON.
fn push_scalar(out: &mut String, scalar: Scalar<'_>) {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match scalar {
        Scalar::None => out.push_str("null"),
        Scalar::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Scalar::Int(i) => repr::push_int(out, i),
        Scalar::BigInt(digits) => out.push_str(digits),
        Scalar::Float(f) if f.is_finite() => out.push_str(&repr::float(f)),
        Scalar::Float(f) => tagged(out, "$float", &repr::float(f)),
        Scalar::Str(s) => push_string(out, s),
        Scalar::WideStr(cps) => push_wide_string(out, cps),
        Scalar::Bytes(b) => tagged(out, "$bytes", &b64(b)),
        Scalar::ByteArray(b) => tagged(out, "$bytearray", &b64(b)),
        Scalar::Object(type_name, text) => {
            out.push_str("{\"$type\":");
            push_string(out, type_name);
            out.push_str(",\"$repr\":");
            push_string(out, text);
            out.push('}');
        }
        Scalar::Cycle(kind) => tagged(out, "$cycle", kind),
        Scalar::Deep(kind) => tagged(out, "$deep", kind),
    }
}

/// The value as a [`serde_json::Value`], by the mapping above.
///
/// ```
/// use pushy::printer::json::{from_json, to_json};
/// use pushy::Value;
/// let v = Value::Bytes(b"hi".to_vec());
/// assert_eq!(to_json(&v), serde_json::json!({"$bytes": "aGk="}));
/// assert_eq!(from_json(&to_json(&v)), v);
/// assert_eq!(Value::from(&serde_json::json!([1, "a"])), pushy::value::to_value(&vec![1.into(), serde_json::Value::from("a")])?);
/// # Ok::<(), pushy::Error>(())
/// ```
pub fn to_json(value: &Value) -> serde_json::Value {
    super::on_stack_for(value, || to_json_here(value))
}

fn to_json_here(value: &Value) -> serde_json::Value {
    use serde_json::{json, Map, Number, Value as J};
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match value {
        Value::None => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::BigInt(digits) => match (digits.parse::<u64>(), digits.parse::<f64>()) {
            (Ok(u), _) => J::from(u),
            (_, Ok(f)) => Number::from_f64(f).map_or(J::Null, J::Number),
            _ => J::Null,
        },
        Value::Float(f) => match Number::from_f64(*f) {
            Some(n) => J::Number(n),
            None => json!({"$float": repr::float(*f)}),
        },
        Value::Str(s) => J::String(s.clone()),
        // serde_json's strings are UTF-8: a lone surrogate becomes U+FFFD.
        Value::WideStr(cps) => J::String(cps.iter().map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}')).collect()),
        Value::Bytes(b) => json!({"$bytes": b64(b)}),
        Value::ByteArray(b) => json!({"$bytearray": b64(b)}),
        Value::Seq(_, items, _) => J::Array(items.iter().map(to_json_here).collect()),
        Value::Dict(pairs, _) => {
            let map: Map<String, J> = pairs.iter().map(|(k, v)| (key_text(k), to_json_here(v))).collect();
            J::Object(map)
        }
        Value::Named(_, fields) => J::Object(fields.iter().map(|(k, v)| (k.clone(), to_json_here(v))).collect()),
        Value::Object(type_name, text) => json!({"$type": type_name, "$repr": text}),
        Value::Cycle(kind) => json!({"$cycle": kind}),
        Value::Deep(kind) => json!({"$deep": kind}),
    }
}

/// A [`serde_json::Value`] as a [`Value`], by the mapping above read
/// backwards: `{"$float": "nan"}`, `{"$bytes": ...}` and the other tagged
/// objects become what they stand for; an array is a list; an object a
/// dict with str keys; an integer beyond 64 bits that serde_json read as a
/// float stays a float.
pub fn from_json(json: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    let b64 = |t: &J| t.as_str().and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok());
    match json {
        J::Null => Value::None,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Int(i),
            (_, Some(u), _) => Value::BigInt(u.to_string()),
            (_, _, f) => Value::Float(f.unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(s.clone()),
        J::Array(items) => Value::Seq(crate::value::SeqKind::List, items.iter().map(from_json).collect(), None),
        J::Object(map) => {
            if map.len() == 1 {
                let (tag, inner) = map.iter().next().expect("one entry");
                let tagged = match tag.as_str() {
                    "$float" => match inner.as_str() {
                        Some("nan") => Some(Value::Float(f64::NAN)),
                        Some("inf") => Some(Value::Float(f64::INFINITY)),
                        Some("-inf") => Some(Value::Float(f64::NEG_INFINITY)),
                        _ => None,
                    },
                    "$bytes" => b64(inner).map(Value::Bytes),
                    "$bytearray" => b64(inner).map(Value::ByteArray),
                    "$cycle" => inner.as_str().map(|k| Value::Cycle(k.into())),
                    "$deep" => inner.as_str().map(|k| Value::Deep(k.into())),
                    _ => None,
                };
                if let Some(value) = tagged {
                    return value;
                }
            }
            if let (2, Some(t), Some(r)) =
                (map.len(), map.get("$type").and_then(J::as_str), map.get("$repr").and_then(J::as_str))
            {
                return Value::Object(t.into(), r.into());
            }
            Value::Dict(map.iter().map(|(k, v)| (Value::Str(k.clone()), from_json(v))).collect(), None)
        }
    }
}

impl From<&Value> for serde_json::Value {
    /// By the `--json` mapping (see [`to_json`]).
    fn from(value: &Value) -> serde_json::Value {
        to_json(value)
    }
}

impl From<&serde_json::Value> for Value {
    /// By the `--json` mapping read backwards (see [`from_json`]).
    fn from(json: &serde_json::Value) -> Value {
        from_json(json)
    }
}

/// `{"tag":"text"}`.
fn tagged(out: &mut String, tag: &str, text: &str) {
    out.push_str("{\"");
    out.push_str(tag);
    out.push_str("\":");
    push_string(out, text);
    out.push('}');
}

/// A dict key's text, before quoting.
fn key_text(k: &Value) -> String {
    match k.scalar() {
        Some(Scalar::WideStr(cps)) => cps.iter().map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}')).collect(),
        Some(scalar) => scalar_key_text(scalar),
        None => Pretty { width: usize::MAX, color: false }.render_flat(k),
    }
}

/// A scalar dict key's text, following `json.dumps` for the JSON scalars
/// (the Python repr for the others).
fn scalar_key_text(k: Scalar<'_>) -> String {
    match k {
        Scalar::Str(s) => s.to_owned(),
        Scalar::None | Scalar::Bool(_) | Scalar::Int(_) | Scalar::BigInt(_) | Scalar::Float(_) => {
            let mut text = String::new();
            push_scalar(&mut text, k);
            text.replace('"', "")
        }
        other => {
            let mut text = String::new();
            Pretty { width: usize::MAX, color: false }.scalar_text(other, &mut text);
            text
        }
    }
}

/// A JSON string, escaped exactly as serde_json escapes one.
fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A JSON string for code points that may include lone surrogates, which
/// JSON can only carry as `\uXXXX` escapes.
fn push_wide_string(out: &mut String, cps: &[u32]) {
    use std::fmt::Write;
    out.push('"');
    for &cp in cps {
        match char::from_u32(cp) {
            Some(c) => {
                let mut quoted = String::new();
                push_string(&mut quoted, c.encode_utf8(&mut [0; 4]));
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
            None => {
                let _ = write!(out, "\\u{cp:04x}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::SeqKind;

    #[test]
    fn json_is_lossless_for_scalars() {
        assert_eq!(
            render(&Value::BigInt("1606938044258990275541962092341162602522202993782792835301376".into())),
            "1606938044258990275541962092341162602522202993782792835301376"
        );
        assert_eq!(render(&Value::Float(f64::NAN)), r#"{"$float":"nan"}"#);
        assert_eq!(render(&Value::Float(0.1)), "0.1");
        assert_eq!(render(&Value::Bytes(vec![0, 255])), r#"{"$bytes":"AP8="}"#);
        assert_eq!(render(&Value::WideStr(vec![0x61, 0xDCFF])), r#""a\udcff""#);
    }

    #[test]
    fn serde_json_values_follow_the_same_mapping() {
        let t = Value::Seq(SeqKind::Tuple, vec![Value::Int(1), Value::Int(2)], None);
        let v = Value::Dict(
            vec![
                (t, Value::Float(f64::INFINITY)),
                (Value::Str("b".into()), Value::Bytes(vec![0, 255])),
                (Value::Int(4), Value::Object("T".into(), "<T>".into())),
            ],
            None,
        );
        let j = to_json(&v);
        assert_eq!(j.to_string(), render(&v));
        let back = from_json(&j);
        let Value::Dict(pairs, None) = back else { panic!("{back:?}") };
        assert_eq!(pairs[1].1, Value::Bytes(vec![0, 255]));
        assert!(matches!(pairs[0].1, Value::Float(f) if f == f64::INFINITY));
        assert_eq!(pairs[2].1, Value::Object("T".into(), "<T>".into()));
    }

    #[test]
    fn dict_keys_become_strings() {
        let t = Value::Seq(SeqKind::Tuple, vec![Value::Int(1), Value::Int(2)], None);
        let d = Value::Dict(vec![(t, Value::Int(3)), (Value::Int(4), Value::None)], None);
        assert_eq!(render(&d), r#"{"(1, 2)":3,"4":null}"#);
    }
}
