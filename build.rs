//! Assembles and compresses the pushed program at build time, so the binary
//! embeds exactly the bytes stage 0 will read and inflate: the extras
//! (`bootstrap/extras.py`) as a string literal `_EXTRAS_SOURCE`, compiled by
//! the server only when first needed, then the server (`bootstrap/server.py`).

use std::io::Write;
use std::path::PathBuf;

fn main() {
    for file in ["bootstrap/server.py", "bootstrap/extras.py", "bootstrap/stage0.py"] {
        println!("cargo:rerun-if-changed={file}");
    }
    let server =
        std::fs::read_to_string("bootstrap/server.py").expect("bootstrap/server.py is part of the source tree");
    let extras =
        std::fs::read_to_string("bootstrap/extras.py").expect("bootstrap/extras.py is part of the source tree");
    let program = format!("_EXTRAS_SOURCE = {}\n{server}", python_ascii_literal(&extras));
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(program.as_bytes()).expect("compressing into memory cannot fail");
    let compressed = encoder.finish().expect("compressing into memory cannot fail");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("server.py.z"), compressed).expect("OUT_DIR is writable");
}

/// A Python string literal for `text`, as Python's own `ascii()` writes it.
fn python_ascii_literal(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}
