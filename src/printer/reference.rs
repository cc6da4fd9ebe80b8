//! The pretty and JSON printers as they were before they rendered from
//! events: recursive walks over a tree. Tests only: the printers in
//! `pretty.rs` and `json.rs` must match them byte for byte on every value,
//! width and colour.

use base64::Engine;
use colored::{ColoredString, Colorize};

use super::repr;
use crate::value::{SeqKind, Value};

/// Pretty-printer settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pretty {
    /// Wrap lines longer than this (in characters).
    pub(crate) width: usize,
    /// Emit ANSI colours.
    pub(crate) color: bool,
}

impl Pretty {
    /// The value as text, without a trailing newline.
    pub(crate) fn render(&self, value: &Value) -> String {
        super::on_stack_for(value, || {
            let mut out = String::new();
            self.write(value, 0, &mut out);
            out
        })
    }

    /// The value on one line, whatever its length.
    pub(crate) fn render_flat(&self, value: &Value) -> String {
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

/// `--json`'s text, as it was written.
pub(crate) fn json(value: &Value, out: &mut String) {
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
                json(item, out);
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
                json(v, out);
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
                json(v, out);
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
        Value::WideStr(cps) => wide_string(cps),
        other => string(&key_text(other)),
    }
}

/// A dict key's text, before quoting.
fn key_text(k: &Value) -> String {
    match k {
        Value::Str(s) => s.clone(),
        Value::WideStr(cps) => cps.iter().map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}')).collect(),
        Value::None | Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_) => {
            let mut text = String::new();
            json(k, &mut text);
            text.replace('"', "")
        }
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
