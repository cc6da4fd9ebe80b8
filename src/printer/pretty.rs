//! The default output: Python literal syntax, wrapped to the terminal's width
//! the way `pprint` does, coloured when asked.
//!
//! A value is printed on one line when it fits; otherwise a container opens,
//! puts one element per line indented under its bracket, and closes. Runs of
//! scalars (a long list of numbers) are packed as many per line as fit. What
//! is printed for a literal (numbers, str, bytes, containers of them) reads
//! back with `ast.literal_eval` as the same value.

use colored::{ColoredString, Colorize};

use super::repr;
use crate::value::{SeqKind, Value};

/// Pretty-printer settings.
#[derive(Debug, Clone, Copy)]
pub struct Pretty {
    /// Wrap lines longer than this (in characters).
    pub width: usize,
    /// Emit ANSI colours.
    pub color: bool,
}

impl Pretty {
    /// The value as text, without a trailing newline.
    pub fn render(&self, value: &Value) -> String {
        super::on_stack_for(value, || {
            let mut out = String::new();
            self.write(value, 0, &mut out);
            out
        })
    }

    /// The value on one line, whatever its length.
    pub fn render_flat(&self, value: &Value) -> String {
        super::on_stack_for(value, || {
            let mut out = String::new();
            self.flat(value, &mut out);
            out
        })
    }

    fn paint(&self, out: &mut String, text: &str, style: fn(&str) -> ColoredString) {
        if self.color {
            out.push_str(&style(text).to_string());
        } else {
            out.push_str(text);
        }
    }

    /// Writes `value` starting at column `indent`, wrapping as needed.
    fn write(&self, value: &Value, indent: usize, out: &mut String) {
        let room = self.width.saturating_sub(indent);
        if value.is_scalar() || flat_len(value, room).is_some() {
            self.flat(value, out);
            return;
        }
        let (open, close) = brackets(value);
        out.push_str(&open);
        let inner = indent + open.chars().count();
        let pad = format!(",\n{}", " ".repeat(inner));
        match value {
            Value::Seq(kind, items, _) => {
                if items.iter().all(Value::is_scalar) {
                    self.fill(items, inner, out);
                } else {
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(&pad);
                        }
                        self.write(item, inner, out);
                    }
                }
                if *kind == SeqKind::Tuple && items.len() == 1 {
                    out.push(',');
                }
            }
            Value::Dict(pairs, _) => {
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&pad);
                    }
                    let before = out.len();
                    self.flat(k, out);
                    let key_width = strip_width(&out[before..]);
                    out.push_str(": ");
                    self.write(v, inner + key_width + 2, out);
                }
            }
            Value::Named(_, fields) => {
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&pad);
                    }
                    out.push_str(name);
                    out.push('=');
                    self.write(v, inner + name.chars().count() + 1, out);
                }
            }
            _ => unreachable!("scalars are printed flat"),
        }
        out.push_str(close);
    }

    /// Scalars packed into lines of at most the width.
    fn fill(&self, items: &[Value], indent: usize, out: &mut String) {
        // One buffer for every item, and the line break made once: a list of
        // a million numbers is a million items.
        let mut text = String::new();
        let line_break = format!(",\n{}", " ".repeat(indent));
        let mut column = indent;
        for (i, item) in items.iter().enumerate() {
            text.clear();
            self.flat(item, &mut text);
            let width = if self.color {
                strip_width(&text)
            } else if text.is_ascii() {
                text.len()
            } else {
                text.chars().count()
            };
            if i > 0 {
                // ", " plus the item, and its trailing comma, must fit.
                if column + 2 + width + 1 > self.width {
                    out.push_str(&line_break);
                    column = indent;
                } else {
                    out.push_str(", ");
                    column += 2;
                }
            }
            out.push_str(&text);
            column += width;
        }
    }

    /// The one-line form.
    fn flat(&self, value: &Value, out: &mut String) {
        match value {
            Value::None => self.paint(out, "None", |s| s.magenta()),
            Value::Bool(b) => self.paint(out, if *b { "True" } else { "False" }, |s| s.magenta()),
            Value::Int(i) if !self.color => {
                use std::fmt::Write;
                let _ = write!(out, "{i}"); // into `out`: no String per int
            }
            Value::Int(i) => self.paint(out, &i.to_string(), |s| s.cyan()),
            Value::BigInt(digits) => self.paint(out, digits, |s| s.cyan()),
            Value::Float(f) => self.paint(out, &repr::float(*f), |s| s.cyan()),
            Value::Str(s) if !self.color && repr::plain_ascii(s) => {
                out.push('\'');
                out.push_str(s);
                out.push('\'');
            }
            Value::Str(s) => self.paint(out, &repr::str_repr(s.chars().map(u32::from)), |s| s.green()),
            Value::WideStr(cps) => self.paint(out, &repr::str_repr(cps.iter().copied()), |s| s.green()),
            Value::Bytes(b) => self.paint(out, &repr::bytes_repr(b), |s| s.green()),
            Value::ByteArray(b) => {
                out.push_str("bytearray(");
                self.paint(out, &repr::bytes_repr(b), |s| s.green());
                out.push(')');
            }
            Value::Object(_, text) => self.paint(out, text, |s| s.yellow()),
            Value::Cycle(kind) => self.paint(out, cycle_text(kind), |s| s.red()),
            Value::Deep(_) => self.paint(out, "...", |s| s.red()),
            Value::Seq(kind, items, _) => {
                let (open, close) = brackets(value);
                out.push_str(&open);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.flat(item, out);
                }
                if *kind == SeqKind::Tuple && items.len() == 1 {
                    out.push(',');
                }
                out.push_str(close);
            }
            Value::Dict(pairs, _) => {
                let (open, close) = brackets(value);
                out.push_str(&open);
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.flat(k, out);
                    out.push_str(": ");
                    self.flat(v, out);
                }
                out.push_str(close);
            }
            Value::Named(name, fields) => {
                self.paint(out, name, |s| s.yellow());
                out.push('(');
                for (i, (field, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(field);
                    out.push('=');
                    self.flat(v, out);
                }
                out.push(')');
            }
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
fn brackets(value: &Value) -> (String, &'static str) {
    match value {
        Value::Seq(kind, items, name) => {
            let empty = items.is_empty();
            let (open, close) = match kind {
                SeqKind::List => ("[", "]"),
                SeqKind::Tuple => ("(", ")"),
                SeqKind::Set if empty => ("set(", ")"),
                SeqKind::Set => ("{", "}"),
                SeqKind::FrozenSet if empty => ("frozenset(", ")"),
                SeqKind::FrozenSet => ("frozenset({", "})"),
            };
            match name {
                Some(name) => (format!("{}({open}", short(name)), close_with_paren(close)),
                None => (open.to_string(), close),
            }
        }
        Value::Dict(_, Some(name)) => (format!("{}({{", short(name)), "})"),
        Value::Dict(_, None) => ("{".to_string(), "}"),
        Value::Named(name, _) => (format!("{name}("), ")"),
        _ => (String::new(), ""),
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

/// The printed width of the one-line form, if it is at most `budget`; stops
/// counting as soon as it is over, so a huge value costs nothing here.
fn flat_len(value: &Value, budget: usize) -> Option<usize> {
    let plain = Pretty { width: usize::MAX, color: false };
    let mut used = 0usize;
    let mut add = |n: usize| -> Option<()> {
        used += n;
        (used <= budget).then_some(())
    };
    fn walk(v: &Value, plain: &Pretty, add: &mut dyn FnMut(usize) -> Option<()>) -> Option<()> {
        match v {
            Value::Seq(kind, items, _) => {
                let (open, close) = brackets(v);
                add(open.chars().count() + close.len())?;
                for (i, item) in items.iter().enumerate() {
                    add(if i > 0 { 2 } else { 0 })?;
                    walk(item, plain, add)?;
                }
                if *kind == SeqKind::Tuple && items.len() == 1 {
                    add(1)?;
                }
                Some(())
            }
            Value::Dict(pairs, _) => {
                let (open, close) = brackets(v);
                add(open.chars().count() + close.len())?;
                for (i, (k, val)) in pairs.iter().enumerate() {
                    add(if i > 0 { 4 } else { 2 })?;
                    walk(k, plain, add)?;
                    walk(val, plain, add)?;
                }
                Some(())
            }
            Value::Named(name, fields) => {
                add(name.chars().count() + 2)?;
                for (i, (field, val)) in fields.iter().enumerate() {
                    add(field.chars().count() + 1 + if i > 0 { 2 } else { 0 })?;
                    walk(val, plain, add)?;
                }
                Some(())
            }
            scalar => {
                // Bound the work for a huge scalar: only its length matters.
                if let Value::Str(s) | Value::Object(_, s) = scalar {
                    add(s.len().min(1 << 20) / 4)?;
                }
                let mut text = String::new();
                plain.flat(scalar, &mut text);
                add(text.chars().count())
            }
        }
    }
    walk(value, &plain, &mut add).map(|_| used)
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
}
