//! The default output: Python literal syntax, wrapped to the terminal's width
//! the way `pprint` does, coloured when asked.
//!
//! A value is printed on one line when it fits; otherwise a container opens,
//! puts one element per line indented under its bracket, and closes. Runs of
//! scalars (a long list of numbers) are packed as many per line as fit. What
//! is printed for a literal (numbers, str, bytes, containers of them) reads
//! back with `ast.literal_eval` as the same value.
//!
//! # From events
//!
//! One printer, driven by a value's events (see `value/tokens.rs`): from a
//! tree ([`Pretty::render`]) or straight from the tokens that arrived
//! ([`Pretty::write_encoded`], which never builds the tree). Two passes:
//!
//! 1. `Measure` finds, for each container in prefix order, its one-line
//!    width (counted only up to the line width: a huge container costs a
//!    line's worth) and whether all its items are scalars. The second fact
//!    decides between filling lines with items and one item per line, and
//!    it may depend on the last of a million items: no bounded lookahead
//!    could give it, so it is measured first, at 4 bytes a container.
//!    Reading the tokens this first time also checks them all, so a
//!    malformed value prints nothing.
//! 2. `Render` writes the text, deciding each container's layout from
//!    its measure and its column, without recursion and without looking
//!    ahead, into 64 KiB chunks.

use std::borrow::Cow;
use std::io::Write;

use colored::{ColoredString, Colorize};

use super::out::Out;
use super::repr;
use crate::error::Result;
use crate::value::tokens::{self, Open, Run, Scalar, Sink};
use crate::value::{Encoded, SeqKind, Value};

/// Pretty-printer settings.
#[derive(Debug, Clone, Copy)]
pub struct Pretty {
    /// Wrap lines longer than this (in characters).
    pub width: usize,
    /// Emit ANSI colours.
    pub color: bool,
}

/// A measure's low bits: the one-line width, or this for "wider than the
/// line". A width of this or more puts everything on one line.
const OVER: u32 = 0x7FFF_FFFF;
/// A measure's high bit: all the container's items are scalars.
const ALL_SCALAR: u32 = 1 << 31;

impl Pretty {
    /// The value as text, without a trailing newline.
    pub fn render(&self, value: &Value) -> String {
        let mut measure = Measure::new(self);
        if !self.all_flat() {
            let _ = tokens::walk(value, &mut measure); // measuring a tree cannot fail
        }
        let mut render = Render::new(*self, &measure.layouts, Out::memory());
        let _ = tokens::walk(value, &mut render); // nor can writing to memory
        render.out.into_string()
    }

    /// The value on one line, whatever its length.
    pub fn render_flat(&self, value: &Value) -> String {
        Pretty { width: usize::MAX, ..*self }.render(value)
    }

    /// Writes a value as it arrived, with a newline (nothing at all for
    /// `None`, as Python's REPL prints nothing for it), without building
    /// its tree: text goes to `to` in 64 KiB chunks. `Err` for a malformed
    /// value (then nothing was written), `Ok(Err)` when writing failed.
    pub fn write_encoded(&self, value: &Encoded, to: &mut dyn Write) -> Result<std::io::Result<()>> {
        let mut measure = Measure::new(self);
        value.parse(&mut measure)?;
        if measure.root_none {
            return Ok(Ok(()));
        }
        let mut render = Render::new(*self, &measure.layouts, Out::writer(to));
        if let Err(e) = value.parse(&mut render) {
            return match render.out.take_failure() {
                Some(failure) => Ok(Err(failure)),
                None => Err(e),
            };
        }
        render.out.push('\n');
        Ok(render.out.finish())
    }

    /// Whether every container fits whatever its width.
    fn all_flat(&self) -> bool {
        self.width >= OVER as usize
    }

    /// A scalar's one-line form.
    pub(crate) fn scalar_text(&self, scalar: Scalar<'_>, out: &mut String) {
        let paint = |out: &mut String, text: &str, style: fn(&str) -> ColoredString| {
            if self.color {
                out.push_str(&style(text).to_string());
            } else {
                out.push_str(text);
            }
        };
        match scalar {
            Scalar::None => paint(out, "None", |s| s.magenta()),
            Scalar::Bool(b) => paint(out, if b { "True" } else { "False" }, |s| s.magenta()),
            Scalar::Int(i) if !self.color => repr::push_int(out, i), // no String per int
            Scalar::Int(i) => paint(out, &i.to_string(), |s| s.cyan()),
            Scalar::BigInt(digits) => paint(out, digits, |s| s.cyan()),
            Scalar::Float(f) => paint(out, &repr::float(f), |s| s.cyan()),
            Scalar::Str(s) if !self.color && repr::plain_ascii(s) => {
                out.push('\'');
                out.push_str(s);
                out.push('\'');
            }
            Scalar::Str(s) => paint(out, &repr::str_repr(s.chars().map(u32::from)), |s| s.green()),
            Scalar::WideStr(cps) => paint(out, &repr::str_repr(cps.iter().copied()), |s| s.green()),
            Scalar::Bytes(b) => paint(out, &repr::bytes_repr(b), |s| s.green()),
            Scalar::ByteArray(b) => {
                out.push_str("bytearray(");
                paint(out, &repr::bytes_repr(b), |s| s.green());
                out.push(')');
            }
            Scalar::Object(_, text) => paint(out, text, |s| s.yellow()),
            Scalar::Cycle(kind) => paint(out, cycle_text(kind), |s| s.red()),
            Scalar::Deep(_) => paint(out, "...", |s| s.red()),
        }
    }
}

fn cycle_text(kind: &str) -> &'static str {
    match kind {
        "list" => "[...]",
        "tuple" => "(...)",
        "dict" => "{...}",
        _ => "...",
    }
}

/// Opening and closing text of a container, as Python's repr writes them.
fn brackets(open: &Open<'_>) -> (Cow<'static, str>, &'static str) {
    match *open {
        Open::Seq(kind, n, name) => {
            let empty = n == 0;
            let (open, close) = match kind {
                SeqKind::List => ("[", "]"),
                SeqKind::Tuple => ("(", ")"),
                SeqKind::Set if empty => ("set(", ")"),
                SeqKind::Set => ("{", "}"),
                SeqKind::FrozenSet if empty => ("frozenset(", ")"),
                SeqKind::FrozenSet => ("frozenset({", "})"),
            };
            match name {
                Some(name) => (format!("{}({open}", short(name)).into(), close_with_paren(close)),
                None => (open.into(), close),
            }
        }
        Open::Dict(_, Some(name)) => (format!("{}({{", short(name)).into(), "})"),
        Open::Dict(_, None) => ("{".into(), "}"),
        Open::Named(name, _) => (format!("{name}(").into(), ")"),
    }
}

fn close_with_paren(close: &'static str) -> &'static str {
    match close {
        "]" => "])",
        ")" => "))",
        "}" => "})",
        "})" => "}))",
        _ => close,
    }
}

/// `collections.OrderedDict` prints as `OrderedDict(...)`, as Python does.
fn short(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Whether a container is a one-item tuple, which prints a trailing comma.
fn one_tuple(open: &Open<'_>) -> bool {
    matches!(open, Open::Seq(SeqKind::Tuple, 1, _))
}

/// Display width of text that may hold ANSI colour codes.
fn strip_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// The first pass: each container's one-line width (up to the line width)
/// and whether its items are all scalars, in prefix order.
///
/// The width is counted as the printer always has: the plain one-line text,
/// plus, for a str or an object's repr, a quarter of its length in bytes
/// (which once bounded the work for a huge scalar, and so decides where
/// lines break today).
struct Measure {
    plain: Pretty,
    /// Count up to this; `None`: nothing to measure (all on one line).
    cap: Option<u64>,
    /// One-line characters so far, from the start of the value.
    pos: u64,
    stack: Vec<Measuring>,
    layouts: Vec<u32>,
    /// Open containers, when there is nothing to measure.
    depth: usize,
    root_none: bool,
    text: String,
}

struct Measuring {
    start: u64,
    index: usize,
    shape: Shape<u64>,
    items: usize,
    all_scalar: bool,
}

/// What separates a container's parts. For a named structure, its fields
/// (their names, or their widths).
enum Shape<F> {
    Seq,
    Dict,
    Named(Vec<F>),
}

impl Measure {
    fn new(pretty: &Pretty) -> Measure {
        Measure {
            plain: Pretty { width: usize::MAX, color: false },
            cap: (!pretty.all_flat()).then_some(pretty.width as u64),
            pos: 0,
            stack: Vec::new(),
            layouts: Vec::new(),
            depth: 0,
            root_none: false,
            text: String::new(),
        }
    }

    /// Counts the separator before the next part of the innermost
    /// container; false once that container is already too wide (so is
    /// every container around it), when nothing more needs counting.
    fn part(&mut self, cap: u64) -> bool {
        let Some(top) = self.stack.last_mut() else { return false };
        let i = top.items;
        top.items += 1;
        self.pos += match &top.shape {
            Shape::Seq if i > 0 => 2,
            Shape::Seq => 0,
            Shape::Dict if i % 2 == 1 => 0,
            Shape::Dict if i > 0 => 4,
            Shape::Dict => 2,
            Shape::Named(widths) => widths.get(i).copied().unwrap_or(0) + 1 + if i > 0 { 2 } else { 0 },
        };
        self.pos - top.start <= cap
    }

    fn too_wide(&self, cap: u64) -> bool {
        self.stack.last().is_some_and(|top| self.pos - top.start > cap)
    }
}

impl Sink for Measure {
    fn scalar(&mut self, scalar: Scalar<'_>) -> Result<()> {
        let Some(cap) = self.cap else {
            self.root_none |= self.depth == 0 && scalar == Scalar::None;
            return Ok(());
        };
        if self.stack.is_empty() {
            self.root_none = scalar == Scalar::None;
            return Ok(());
        }
        if !self.part(cap) {
            return Ok(());
        }
        if let Scalar::Str(s) | Scalar::Object(_, s) = scalar {
            self.pos += (s.len().min(1 << 20) / 4) as u64;
            if self.too_wide(cap) {
                return Ok(()); // no need to format it
            }
        }
        self.text.clear();
        self.plain.scalar_text(scalar, &mut self.text);
        self.pos += if self.text.is_ascii() { self.text.len() } else { self.text.chars().count() } as u64;
        Ok(())
    }

    fn open(&mut self, open: Open<'_>) -> Result<()> {
        let Some(cap) = self.cap else {
            self.depth += 1;
            return Ok(());
        };
        if let Some(top) = self.stack.last_mut() {
            top.all_scalar = false;
        }
        self.part(cap);
        let (text, close) = brackets(&open);
        let start = self.pos;
        self.pos += (text.chars().count() + close.len() + usize::from(one_tuple(&open))) as u64;
        let shape = match open {
            Open::Seq(..) => Shape::Seq,
            Open::Dict(..) => Shape::Dict,
            Open::Named(_, fields) => Shape::Named(fields.iter().map(|f| f.chars().count() as u64).collect()),
        };
        self.stack.push(Measuring { start, index: self.layouts.len(), shape, items: 0, all_scalar: true });
        self.layouts.push(0);
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let Some(cap) = self.cap else {
            self.depth = self.depth.saturating_sub(1);
            return Ok(());
        };
        if let Some(done) = self.stack.pop() {
            let width = self.pos - done.start;
            let mut word = if width > cap { OVER } else { width as u32 };
            if done.all_scalar {
                word |= ALL_SCALAR;
            }
            self.layouts[done.index] = word;
        }
        Ok(())
    }

    fn run(&mut self, kind: SeqKind, run: Run<'_>) -> Result<()> {
        let Some(cap) = self.cap else { return Ok(()) };
        self.open(Open::Seq(kind, run.len(), None))?;
        // Only as far as the line width: a million numbers cost a line.
        for item in run.items() {
            if self.too_wide(cap) {
                break;
            }
            self.scalar(item)?;
        }
        self.close()
    }
}

/// The second pass: the text, from the events and the measures.
struct Render<'l, 'w> {
    pretty: Pretty,
    layouts: &'l [u32],
    /// The next container's index in `layouts`.
    next: usize,
    out: Out<'w>,
    stack: Vec<Rendering>,
    /// A dict key that is a container, being written on its own (its width
    /// sets the indent of its value): the stack depth of its container,
    /// and its text so far.
    key: Option<(usize, String)>,
    text: String,
}

struct Rendering {
    shape: Shape<String>,
    layout: Layout,
    items: usize,
    close: &'static str,
    one_tuple: bool,
}

enum Layout {
    /// On one line.
    Flat,
    /// Scalars, as many to a line as fit.
    Fill { indent: usize, column: usize },
    /// One part per line; `value`: the indent of a dict's current value.
    Lines { inner: usize, value: usize },
}

/// Where the next part goes.
enum Place {
    Root,
    Flat,
    /// A dict key in a container broken over lines.
    Key,
    /// On a line of its own, at this indent.
    Line(usize),
}

impl<'l, 'w> Render<'l, 'w> {
    fn new(pretty: Pretty, layouts: &'l [u32], out: Out<'w>) -> Render<'l, 'w> {
        Render { pretty, layouts, next: 0, out, stack: Vec::new(), key: None, text: String::new() }
    }

    /// Writes separators before the next part, and says where it goes.
    fn place(&mut self) -> Place {
        let Render { stack, key, out, .. } = self;
        let Some(top) = stack.last_mut() else { return Place::Root };
        let i = top.items;
        top.items += 1;
        let mut put = |text: &str| match key {
            Some((_, key)) => key.push_str(text),
            None => out.push_str(text),
        };
        match (&top.shape, &top.layout) {
            (Shape::Seq, Layout::Flat | Layout::Fill { .. }) => {
                if i > 0 {
                    put(", ");
                }
                Place::Flat
            }
            (Shape::Dict, Layout::Flat | Layout::Fill { .. }) => {
                put(if i % 2 == 1 {
                    ": "
                } else if i > 0 {
                    ", "
                } else {
                    ""
                });
                Place::Flat
            }
            (Shape::Named(fields), Layout::Flat | Layout::Fill { .. }) => {
                if i > 0 {
                    put(", ");
                }
                put(fields.get(i).map_or("", String::as_str));
                put("=");
                Place::Flat
            }
            (Shape::Seq, Layout::Lines { inner, .. }) => {
                if i > 0 {
                    line_break(out, *inner);
                }
                Place::Line(*inner)
            }
            (Shape::Dict, Layout::Lines { inner, value }) => {
                if i % 2 == 1 {
                    return Place::Line(*value);
                }
                if i > 0 {
                    line_break(out, *inner);
                }
                Place::Key
            }
            (Shape::Named(fields), Layout::Lines { inner, .. }) => {
                if i > 0 {
                    line_break(out, *inner);
                }
                let name = fields.get(i).map_or("", String::as_str);
                out.push_str(name);
                out.push('=');
                Place::Line(inner + name.chars().count() + 1)
            }
        }
    }

    /// Writes text where the current part goes.
    fn put(&mut self, text: &str) {
        match &mut self.key {
            Some((_, key)) => key.push_str(text),
            None => self.out.push_str(text),
        }
    }

    /// A dict key is written: its value goes after it, indented past it.
    fn key_done(&mut self, text: &str) {
        let width = strip_width(text);
        self.out.push_str(text);
        self.out.push_str(": ");
        if let Some(Rendering { layout: Layout::Lines { inner, value }, .. }) = self.stack.last_mut() {
            *value = *inner + width + 2;
        }
    }

    /// Whether container `index`'s one-line form fits from `indent` on.
    fn fits(&self, index: usize, indent: usize) -> bool {
        if self.pretty.all_flat() {
            return true;
        }
        let width = self.layouts.get(index).map_or(0, |w| w & OVER);
        width != OVER && width as usize <= self.pretty.width.saturating_sub(indent)
    }

    fn all_scalar(&self, index: usize) -> bool {
        self.layouts.get(index).is_some_and(|w| w & ALL_SCALAR != 0)
    }

    /// Scalars filling lines: `, ` or a line break before each but the first.
    fn fill(&mut self, scalar: Scalar<'_>) {
        self.text.clear();
        self.pretty.scalar_text(scalar, &mut self.text);
        let width = if self.pretty.color {
            strip_width(&self.text)
        } else if self.text.is_ascii() {
            self.text.len()
        } else {
            self.text.chars().count()
        };
        let max = self.pretty.width;
        let Some(Rendering { layout: Layout::Fill { indent, column }, items, .. }) = self.stack.last_mut() else {
            return;
        };
        if *items > 0 {
            // ", " plus the item, and its trailing comma, must fit.
            if *column + 2 + width + 1 > max {
                line_break(&mut self.out, *indent);
                *column = *indent;
            } else {
                self.out.push_str(", ");
                *column += 2;
            }
        }
        *items += 1;
        self.out.push_str(&self.text);
        *column += width;
    }
}

/// `,` and a new line indented by `indent`.
fn line_break(out: &mut Out<'_>, indent: usize) {
    out.push_str(",\n");
    out.spaces(indent);
}

impl Sink for Render<'_, '_> {
    fn scalar(&mut self, scalar: Scalar<'_>) -> Result<()> {
        if let Some(Rendering { layout: Layout::Fill { .. }, .. }) = self.stack.last() {
            self.fill(scalar);
            return self.out.spill();
        }
        let place = self.place();
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        self.pretty.scalar_text(scalar, &mut text);
        match place {
            Place::Key => self.key_done(&text),
            _ => self.put(&text),
        }
        self.text = text;
        if self.key.is_some() {
            return Ok(());
        }
        self.out.spill()
    }

    fn open(&mut self, open: Open<'_>) -> Result<()> {
        let place = self.place();
        let index = self.next;
        self.next += 1;
        let indent = match place {
            Place::Root => Some(0),
            Place::Line(indent) => Some(indent),
            Place::Flat | Place::Key => None,
        };
        if let Place::Key = place {
            self.key = Some((self.stack.len(), String::new()));
        }
        let (text, close) = brackets(&open);
        let shape = match open {
            Open::Seq(..) => Shape::Seq,
            Open::Dict(..) => Shape::Dict,
            Open::Named(_, fields) => Shape::Named(fields.iter().map(str::to_owned).collect()),
        };
        let layout = match indent {
            Some(indent) if !self.fits(index, indent) => {
                let inner = indent + text.chars().count();
                self.put(&text);
                match shape {
                    Shape::Seq if self.all_scalar(index) => Layout::Fill { indent: inner, column: inner },
                    _ => Layout::Lines { inner, value: inner },
                }
            }
            _ => {
                match open {
                    // On one line the type's name is coloured, as a repr's is.
                    Open::Named(name, _) if self.pretty.color => {
                        let painted = name.yellow().to_string();
                        self.put(&painted);
                        self.put("(");
                    }
                    _ => self.put(&text),
                }
                Layout::Flat
            }
        };
        let one_tuple = one_tuple(&open);
        self.stack.push(Rendering { shape, layout, items: 0, close, one_tuple });
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let Some(done) = self.stack.pop() else { return Ok(()) };
        if done.one_tuple {
            self.put(",");
        }
        self.put(done.close);
        match self.key.take() {
            Some((depth, text)) if depth == self.stack.len() => self.key_done(&text),
            other => self.key = other,
        }
        if self.key.is_some() {
            return Ok(());
        }
        self.out.spill()
    }
}

/// The one-line form of a value whose events come one at a time (a dict
/// key that is a container, under `--json`).
pub(crate) struct FlatText(Render<'static, 'static>);

impl FlatText {
    pub(crate) fn new() -> FlatText {
        FlatText(Render::new(Pretty { width: usize::MAX, color: false }, &[], Out::memory()))
    }

    pub(crate) fn into_string(self) -> String {
        self.0.out.into_string()
    }
}

impl Sink for FlatText {
    fn scalar(&mut self, scalar: Scalar<'_>) -> Result<()> {
        self.0.scalar(scalar)
    }
    fn open(&mut self, open: Open<'_>) -> Result<()> {
        self.0.open(open)
    }
    fn close(&mut self) -> Result<()> {
        self.0.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::SeqKind::*;

    fn p(width: usize) -> Pretty {
        Pretty { width, color: false }
    }

    fn ints(n: i64) -> Value {
        Value::Seq(List, (0..n).map(Value::Int).collect(), None)
    }

    #[test]
    fn containers_print_as_python_literals() {
        let v = Value::Dict(
            vec![(
                Value::Seq(Tuple, vec![Value::Int(1), Value::Int(2)], None),
                Value::Seq(Set, vec![Value::Int(3)], None),
            )],
            None,
        );
        assert_eq!(p(80).render(&v), "{(1, 2): {3}}");
        assert_eq!(p(80).render(&Value::Seq(Tuple, vec![Value::Int(1)], None)), "(1,)");
        assert_eq!(p(80).render(&Value::Seq(FrozenSet, vec![], None)), "frozenset()");
        assert_eq!(p(80).render(&Value::Seq(Set, vec![], None)), "set()");
        assert_eq!(p(80).render(&Value::Dict(vec![], Some("collections.OrderedDict".into()))), "OrderedDict({})");
    }

    #[test]
    fn long_lists_wrap_within_the_width() {
        let text = p(20).render(&ints(30));
        assert!(text.lines().count() > 1, "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 20), "{text}");
        assert_eq!(text.replace(['\n', ' '], ""), p(10_000).render(&ints(30)).replace(' ', ""));
    }

    #[test]
    fn nested_values_break_one_per_line() {
        let v = Value::Seq(List, vec![ints(8), ints(8), ints(8)], None);
        let text = p(30).render(&v);
        assert_eq!(text.lines().next().unwrap(), "[[0, 1, 2, 3, 4, 5, 6, 7],");
        assert!(text.lines().nth(1).unwrap().starts_with(" [0"));
    }

    #[test]
    fn colour_is_only_added_when_asked() {
        let color = Pretty { width: 80, color: true };
        colored::control::set_override(true);
        assert!(color.render(&Value::Int(1)).contains('\x1b'));
        assert!(!p(80).render(&Value::Int(1)).contains('\x1b'));
    }

    #[test]
    fn dict_values_indent_past_their_keys() {
        let key = Value::Seq(Tuple, vec![Value::Str("k".into()), Value::Int(1)], None);
        let v = Value::Dict(vec![(key, ints(12)), (Value::Str("b".into()), Value::Int(2))], None);
        assert_eq!(
            p(24).render(&v),
            "{('k', 1): [0, 1, 2, 3,\n            4, 5, 6, 7,\n            8, 9, 10,\n            11],\n 'b': 2}"
        );
    }

    #[test]
    fn deep_values_render_without_recursion() {
        let mut v = Value::Int(0);
        for _ in 0..200_000 {
            v = Value::Seq(List, vec![v], None);
        }
        let text = p(80).render(&v);
        assert_eq!(text, format!("{}0{}", "[".repeat(200_000), "]".repeat(200_000)));
        // (Dropping a tree that deep recurses: leak it, as the point is the printer.)
        std::mem::forget(v);
    }
}
