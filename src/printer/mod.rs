//! Turning values into output bytes: pretty (the default), `--json` and
//! `--raw`. The printer knows nothing of terminals: whether to colour and how
//! wide to wrap are decided by the front end and passed in.

pub mod json;
pub mod pretty;
pub mod raw;
pub mod repr;

pub use pretty::Pretty;

use crate::value::Value;

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
}

impl Printer {
    /// The output for a result value, newline-terminated (empty for a
    /// pretty or raw `None`, as Python's REPL prints nothing for it).
    pub fn value(&self, value: &Value) -> Vec<u8> {
        match self.format {
            Format::Pretty if *value == Value::None => Vec::new(),
            Format::Pretty => (self.pretty.render(value) + "\n").into_bytes(),
            Format::Json => (json::render(value) + "\n").into_bytes(),
            Format::Raw => raw::render(value),
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
                raw::line(value, &mut out);
                out
            }
        }
    }
}
