//! `--raw`: output for pipelines. A str is printed as is (with a newline if
//! it lacks one), bytes are written as bytes, a list, tuple or set prints one
//! item per line, a dict one `key<TAB>value` per line; an item that is a row
//! (a tuple or list of scalars) prints its fields tab-separated, so `sort -n
//! | cut -f2` works; anything else prints as its one-line literal. `None`
//! prints nothing. With `-0` every item ends with NUL instead, always, so a
//! file name holding a newline stays one item for `xargs -0`.

use super::pretty::Pretty;
use crate::value::{SeqKind, Value};

/// What ends an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ItemEnd {
    /// A newline, unless the item already ends with one (bytes: nothing).
    #[default]
    Newline,
    /// A NUL after every item, bytes and newline-ended text included.
    Nul,
}

/// The bytes `--raw` writes for a value.
pub fn render(value: &Value, end: ItemEnd) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::None => {}
        Value::Seq(_, items, _) => {
            for item in items {
                line(item, &mut out, end);
            }
        }
        Value::Dict(pairs, _) => {
            for (k, v) in pairs {
                out.extend_from_slice(&item_text(k));
                out.push(b'\t');
                line(v, &mut out, end);
            }
        }
        other => line(other, &mut out, end),
    }
    out
}

/// One item of an iterator or container, as a line (bytes stay bytes; a
/// row's fields are tab-separated).
pub fn line(value: &Value, out: &mut Vec<u8>, end: ItemEnd) {
    let text = match value {
        Value::Seq(SeqKind::List | SeqKind::Tuple, fields, _) if fields.iter().all(Value::is_scalar) => {
            let fields: Vec<Vec<u8>> = fields.iter().map(item_text).collect();
            fields.join(&b'\t')
        }
        other => item_text(other),
    };
    out.extend_from_slice(&text);
    let is_bytes = matches!(value, Value::Bytes(_) | Value::ByteArray(_));
    match end {
        ItemEnd::Nul => out.push(0),
        ItemEnd::Newline if !is_bytes && !text.ends_with(b"\n") => out.push(b'\n'),
        ItemEnd::Newline => {}
    }
}

fn item_text(value: &Value) -> Vec<u8> {
    match value {
        Value::Str(s) => s.as_bytes().to_vec(),
        Value::WideStr(cps) => crate::value::surrogate_escaped(cps, Some('\u{FFFD}')).unwrap_or_default(),
        Value::Bytes(b) | Value::ByteArray(b) => b.clone(),
        Value::None => Vec::new(),
        other => Pretty { width: usize::MAX, color: false }.render_flat(other).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(value: &Value) -> Vec<u8> {
        render(value, ItemEnd::Newline)
    }

    #[test]
    fn raw_output_is_for_pipes() {
        let list = Value::Seq(SeqKind::List, vec![Value::Str("a".into()), Value::Int(2)], None);
        assert_eq!(raw(&list), b"a\n2\n");
        assert_eq!(raw(&Value::Str("x\n".into())), b"x\n");
        assert_eq!(raw(&Value::Bytes(vec![0, 255])), vec![0, 255]);
        assert_eq!(raw(&Value::WideStr(vec![0x61, 0xDCFF])), vec![b'a', 0xff, b'\n']);
        assert_eq!(raw(&Value::None), b"");
    }

    #[test]
    fn rows_print_tab_separated() {
        let row = |n: i64, name: &str| Value::Seq(SeqKind::Tuple, vec![Value::Int(n), Value::Str(name.into())], None);
        let rows = Value::Seq(SeqKind::List, vec![row(10, "b"), row(9, "a")], None);
        assert_eq!(raw(&rows), b"10\tb\n9\ta\n");
        // A row holding a container is no row: its literal.
        let nested = Value::Seq(SeqKind::List, vec![Value::Seq(SeqKind::List, vec![rows], None)], None);
        assert!(raw(&nested).starts_with(b"[["));
    }

    #[test]
    fn nul_ends_every_item() {
        let names = Value::Seq(SeqKind::List, vec![Value::Str("a\nb".into()), Value::Str("c\n".into())], None);
        assert_eq!(render(&names, ItemEnd::Nul), b"a\nb\0c\n\0");
    }
}
