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

use base64::Engine;

use super::pretty::Pretty;
use super::repr;
use crate::value::Value;

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
    super::on_stack_for(value, || {
        let mut out = String::new();
        write(value, &mut out);
        out
    })
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::None => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::BigInt(digits) => out.push_str(digits),
        Value::Float(f) if f.is_finite() => out.push_str(&repr::float(*f)),
        Value::Float(f) => tagged(out, "$float", &string(&repr::float(*f))),
        Value::Str(s) => out.push_str(&string(s)),
        Value::WideStr(cps) => out.push_str(&wide_string(cps)),
        Value::Bytes(b) => tagged(out, "$bytes", &string(&base64::engine::general_purpose::STANDARD.encode(b))),
        Value::ByteArray(b) => tagged(out, "$bytearray", &string(&base64::engine::general_purpose::STANDARD.encode(b))),
        Value::Seq(_, items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Dict(pairs, _) => {
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&key(k));
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
        Value::Named(_, fields) => {
            out.push('{');
            for (i, (name, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&string(name));
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
        Value::Object(type_name, text) => {
            out.push_str(&format!("{{\"$type\":{},\"$repr\":{}}}", string(type_name), string(text)));
        }
        Value::Cycle(kind) => tagged(out, "$cycle", &string(kind)),
        Value::Deep(kind) => tagged(out, "$deep", &string(kind)),
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

fn tagged(out: &mut String, tag: &str, json: &str) {
    out.push_str(&format!("{{\"{tag}\":{json}}}"));
}

/// A dict key as a JSON object key, following `json.dumps` for scalars.
fn key(k: &Value) -> String {
    match k {
        Value::WideStr(cps) => wide_string(cps),
        other => string(&key_text(other)),
    }
}

/// A dict key's text, before quoting.
fn key_text(k: &Value) -> String {
    match k {
        Value::Str(s) => s.clone(),
        Value::WideStr(cps) => cps.iter().map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}')).collect(),
        Value::None | Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_) => render(k).replace('"', ""),
        other => Pretty { width: usize::MAX, color: false }.render_flat(other),
    }
}

fn string(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serialises")
}

/// A JSON string for code points that may include lone surrogates, which
/// JSON can only carry as `\uXXXX` escapes.
fn wide_string(cps: &[u32]) -> String {
    let mut out = String::from("\"");
    for &cp in cps {
        match char::from_u32(cp) {
            Some(c) => {
                let quoted = string(c.encode_utf8(&mut [0; 4]));
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
            None => out.push_str(&format!("\\u{cp:04x}")),
        }
    }
    out.push('"');
    out
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
