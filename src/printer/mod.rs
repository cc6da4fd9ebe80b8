//! Turning values into output bytes: pretty (the default), `--json` and
//! `--raw`. The printer knows nothing of terminals: whether to colour and how
//! wide to wrap are decided by the front end and passed in.

pub mod json;
pub mod pretty;
pub mod raw;
pub mod repr;

pub use pretty::Pretty;
pub use raw::ItemEnd;

use crate::value::Value;

/// Values no deeper than this are rendered on the caller's stack.
const SHALLOW: usize = 64;

/// Stack for each level of a deeper value. The renderers recurse once or
/// twice per level (measured: under 2 KiB a level in a debug build).
const STACK_PER_LEVEL: usize = 4 << 10;

/// Runs `render` on a thread whose stack fits `value`'s depth when the value
/// is deep: the renderers recurse on the depth, and a received value may
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
