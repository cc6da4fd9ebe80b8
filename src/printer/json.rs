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

fn tagged(out: &mut String, tag: &str, json: &str) {
    out.push_str(&format!("{{\"{tag}\":{json}}}"));
}

/// A dict key as a JSON object key, following `json.dumps` for scalars.
fn key(k: &Value) -> String {
    match k {
        Value::Str(s) => string(s),
        Value::WideStr(cps) => wide_string(cps),
        Value::None | Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_) => {
            string(&render(k).replace('"', ""))
        }
        other => string(&Pretty { width: usize::MAX, color: false }.render_flat(other)),
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
    fn dict_keys_become_strings() {
        let t = Value::Seq(SeqKind::Tuple, vec![Value::Int(1), Value::Int(2)], None);
        let d = Value::Dict(vec![(t, Value::Int(3)), (Value::Int(4), Value::None)], None);
        assert_eq!(render(&d), r#"{"(1, 2)":3,"4":null}"#);
    }
}
