//! `--raw`: output for pipelines. A str is printed as is (with a newline if
//! it lacks one), bytes are written as bytes, a list, tuple or set prints one
//! item per line, a dict one `key<TAB>value` per line; anything else prints
//! as its one-line literal. `None` prints nothing.

use super::pretty::Pretty;
use crate::value::Value;

/// The bytes `--raw` writes for a value.
pub fn render(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::None => {}
        Value::Seq(_, items, _) => {
            for item in items {
                line(item, &mut out);
            }
        }
        Value::Dict(pairs, _) => {
            for (k, v) in pairs {
                out.extend_from_slice(&item_text(k));
                out.push(b'\t');
                line(v, &mut out);
            }
        }
        other => line(other, &mut out),
    }
    out
}

/// One item of an iterator or container, as a line (bytes stay bytes).
pub fn line(value: &Value, out: &mut Vec<u8>) {
    let text = item_text(value);
    out.extend_from_slice(&text);
    let is_bytes = matches!(value, Value::Bytes(_) | Value::ByteArray(_));
    if !is_bytes && !text.ends_with(b"\n") {
        out.push(b'\n');
    }
}

fn item_text(value: &Value) -> Vec<u8> {
    match value {
        Value::Str(s) => s.as_bytes().to_vec(),
        Value::WideStr(cps) => surrogate_escape(cps),
        Value::Bytes(b) | Value::ByteArray(b) => b.clone(),
        Value::None => Vec::new(),
        other => Pretty { width: usize::MAX, color: false }.render_flat(other).into_bytes(),
    }
}

/// A str with lone surrogates back to the bytes it was decoded from (Python's
/// `surrogateescape`: U+DC80..U+DCFF stand for undecodable bytes).
fn surrogate_escape(cps: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    for &cp in cps {
        match char::from_u32(cp) {
            Some(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            None if (0xDC80..=0xDCFF).contains(&cp) => out.push((cp - 0xDC00) as u8),
            None => out.extend_from_slice("\u{FFFD}".as_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::SeqKind;

    #[test]
    fn raw_output_is_for_pipes() {
        let list = Value::Seq(SeqKind::List, vec![Value::Str("a".into()), Value::Int(2)], None);
        assert_eq!(render(&list), b"a\n2\n");
        assert_eq!(render(&Value::Str("x\n".into())), b"x\n");
        assert_eq!(render(&Value::Bytes(vec![0, 255])), vec![0, 255]);
        assert_eq!(render(&Value::WideStr(vec![0x61, 0xDCFF])), vec![b'a', 0xff, b'\n']);
        assert_eq!(render(&Value::None), b"");
    }
}
