//! Turning values into output bytes: pretty (the default), `--json` and
//! `--raw`. The printer knows nothing of terminals: whether to colour and how
//! wide to wrap are decided by the front end and passed in.

pub mod json;
mod out;
pub mod pretty;
#[cfg(test)]
mod reference;
pub mod raw;
pub mod repr;

pub use pretty::Pretty;
pub use raw::ItemEnd;

use crate::error::Result;
use crate::value::{Encoded, Value};

/// Values no deeper than this are rendered on the caller's stack.
const SHALLOW: usize = 64;

/// Stack for each level of a deeper value. The renderers recurse once or
/// twice per level (measured: under 2 KiB a level in a debug build).
const STACK_PER_LEVEL: usize = 4 << 10;

/// Runs `render` on a thread whose stack fits `value`'s depth when the value
/// is deep: [`json::to_json`] recurses on the depth (the printers do not), and a received value may
/// nest [`crate::value::MAX_DEPTH`] levels (a library user's, deeper still),
/// which would overflow the 8 MiB of a main thread, let alone the 2 MiB of
/// a spawned one. Shallow values, almost all, pay one walk and no thread.
pub(crate) fn on_stack_for<T: Send>(value: &Value, render: impl Fn() -> T + Sync) -> T {
    let depth = depth(value);
    if depth <= SHALLOW {
        return render();
    }
    let size = (1 << 20) + depth.saturating_mul(STACK_PER_LEVEL);
    let render = &render;
    std::thread::scope(|scope| {
        match std::thread::Builder::new().name("pushy-render".into()).stack_size(size).spawn_scoped(scope, render) {
            Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => render(), // no thread to be had: try on this stack
        }
    })
}

/// How many containers deep `value` nests, without recursion.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(value, 1usize)];
    while let Some((v, d)) = todo.pop() {
        deepest = deepest.max(d);
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Seq(_, items, _) => Box::new(items.iter()),
            Value::Dict(pairs, _) => Box::new(pairs.iter().flat_map(|(k, x)| [k, x])),
            Value::Named(_, fields) => Box::new(fields.iter().map(|(_, x)| x)),
            _ => continue,
        };
        todo.extend(children.filter(|child| !child.is_scalar()).map(|child| (child, d + 1)));
    }
    deepest
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Python literal syntax, wrapped, maybe coloured.
    Pretty,
    /// One JSON document per result.
    Json,
    /// Text and bytes as they are, one item per line.
    Raw,
}

/// A format with its settings.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Which format.
    pub format: Format,
    /// Width and colour, for the pretty format.
    pub pretty: Pretty,
    /// What ends an item, for the raw format (`-0`: NUL).
    pub item_end: ItemEnd,
}

impl Printer {
    /// The output for a result value, newline-terminated (empty for a
    /// pretty or raw `None`, as Python's REPL prints nothing for it).
    pub fn value(&self, value: &Value) -> Vec<u8> {
        match self.format {
            Format::Pretty if *value == Value::None => Vec::new(),
            Format::Pretty => (self.pretty.render(value) + "\n").into_bytes(),
            Format::Json => (json::render(value) + "\n").into_bytes(),
            Format::Raw => raw::render(value, self.item_end),
        }
    }

    /// Writes the output for a result value; bytes in raw mode go out as
    /// they are, without a copy.
    pub fn write_value(&self, value: &Value, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match (self.format, value) {
            (Format::Raw, Value::Bytes(bytes) | Value::ByteArray(bytes)) => out.write_all(bytes),
            _ => out.write_all(&self.value(value)),
        }
    }

    /// Writes the output for a value as it arrived, as [`write_value`](Self::write_value)
    /// would for its tree, without building the tree in the pretty and
    /// JSON formats: a big value costs its encoded size and 64 KiB. `Err`:
    /// the value is malformed (nothing was written); `Ok(Err)`: writing
    /// failed.
    pub fn write_encoded(&self, value: Encoded, out: &mut dyn std::io::Write) -> Result<std::io::Result<()>> {
        match self.format {
            Format::Pretty => self.pretty.write_encoded(&value, out),
            Format::Json => json::write_encoded(&value, out),
            // Raw output is lines of items: from the tree.
            Format::Raw => Ok(self.write_value(&value.decode()?, out)),
        }
    }

    /// The output for a value as it arrived (see [`write_encoded`](Self::write_encoded)).
    pub fn encoded(&self, value: Encoded) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_encoded(value, &mut out)?.map_err(crate::Error::from)?;
        Ok(out)
    }

    /// The output for one item of a streamed iterator: a line each.
    pub fn item(&self, value: &Value) -> Vec<u8> {
        match self.format {
            Format::Pretty => (self.pretty.render(value) + "\n").into_bytes(),
            Format::Json => (json::render(value) + "\n").into_bytes(),
            Format::Raw => {
                let mut out = Vec::new();
                raw::line(value, &mut out, self.item_end);
                out
            }
        }
    }
}

/// The printers against their references (the tree walks they replaced)
/// and against themselves fed from tokens instead of a tree: byte for
/// byte, on any value, width and colour.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::value::RawValue;

    use super::*;
    use crate::value::proptests::{encode, tables, value};
    use crate::value::SeqKind;

    fn encoded(value: &Value, packed: bool) -> Encoded {
        let (mut tokens, mut payload) = (Vec::new(), Vec::new());
        encode(value, &mut tokens, &mut payload, packed);
        let text = serde_json::to_string(&tokens).unwrap();
        Encoded::new(RawValue::from_string(text).unwrap(), payload)
    }

    /// Values with long runs of scalars too, which fill lines.
    fn values() -> impl Strategy<Value = Value> {
        let run = prop_oneof![
            proptest::collection::vec(any::<i64>().prop_map(Value::Int), 0..40),
            proptest::collection::vec((-1e6f64..1e6).prop_map(Value::Float), 0..40),
            proptest::collection::vec("[a-z\\x00'\"é\n\x1b]{0,40}".prop_map(Value::Str), 0..40),
        ];
        let runs = (run, any::<bool>())
            .prop_map(|(items, list)| Value::Seq(if list { SeqKind::List } else { SeqKind::Tuple }, items, None));
        prop_oneof![
            3 => value(),
            1 => runs.clone(),
            1 => tables(),
            1 => proptest::collection::vec(prop_oneof![runs, value()], 0..4)
                .prop_map(|items| Value::Seq(SeqKind::List, items, None)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn pretty_matches_the_tree_walk_it_replaced(value in values(), color in any::<bool>()) {
            // Widths where layouts change: small ones, and around the
            // value's own one-line width (and its parts', a few apart).
            let flat = reference::Pretty { width: usize::MAX, color: false }.render_flat(&value).chars().count();
            let widths = (0..12).chain((0..48).map(|d| (flat + 8).saturating_sub(d))).chain([80, 1 << 40]);
            for width in widths {
                let (pretty, old) = (Pretty { width, color }, reference::Pretty { width, color });
                prop_assert_eq!(pretty.render(&value), old.render(&value), "width {}", width);
            }
            let (pretty, old) = (Pretty { width: 80, color }, reference::Pretty { width: 80, color });
            prop_assert_eq!(pretty.render_flat(&value), old.render_flat(&value));
        }

        #[test]
        fn json_matches_the_tree_walk_it_replaced(value in values()) {
            let mut old = String::new();
            reference::json(&value, &mut old);
            prop_assert_eq!(json::render(&value), old);
        }

        #[test]
        fn tokens_print_as_their_tree_does(value in values(), width in 0usize..100, packed in any::<bool>()) {
            for format in [Format::Pretty, Format::Json, Format::Raw] {
                let printer = Printer { format, pretty: Pretty { width, color: false }, item_end: ItemEnd::Newline };
                let streamed = printer.encoded(encoded(&value, packed)).unwrap();
                let tree = printer.value(&value);
                prop_assert_eq!(String::from_utf8_lossy(&streamed), String::from_utf8_lossy(&tree));
            }
        }
    }

    #[test]
    fn big_values_are_written_in_chunks() {
        let value = Value::Seq(SeqKind::List, (0..100_000).map(Value::Int).collect(), None);
        for format in [Format::Pretty, Format::Json] {
            let printer = Printer { format, pretty: Pretty { width: 80, color: false }, item_end: ItemEnd::Newline };
            let mut writes = Chunks(Vec::new());
            printer.write_encoded(encoded(&value, true), &mut writes).unwrap().unwrap();
            assert_eq!(writes.0.concat(), printer.value(&value));
            assert!(writes.0.len() > 4 && writes.0.iter().all(|w| w.len() < 80 << 10), "{} writes", writes.0.len());
        }
    }

    #[test]
    fn a_malformed_value_writes_nothing() {
        // Fine until its last token, a packed run whose count lies.
        let bad =
            || Encoded::new(RawValue::from_string(r#"[["l",3],1,2,["S","l",0,2,1]]"#.into()).unwrap(), b"a".to_vec());
        for format in [Format::Pretty, Format::Json] {
            let printer = Printer { format, pretty: Pretty { width: 80, color: false }, item_end: ItemEnd::Newline };
            let mut out = Vec::new();
            assert!(printer.write_encoded(bad(), &mut out).is_err());
            assert!(out.is_empty());
        }
    }

    /// A writer that keeps each write apart.
    struct Chunks(Vec<Vec<u8>>);

    impl std::io::Write for Chunks {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
