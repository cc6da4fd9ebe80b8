//! Compresses the pushed server program (`bootstrap/server.py`) at build time,
//! so the binary embeds exactly the bytes stage 0 will read and inflate.

use std::io::Write;
use std::path::PathBuf;

fn main() {
    let source = "bootstrap/server.py";
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-changed=bootstrap/stage0.py");
    let program = std::fs::read(source).expect("bootstrap/server.py is part of the source tree");
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&program).expect("compressing into memory cannot fail");
    let compressed = encoder.finish().expect("compressing into memory cannot fail");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("server.py.z"), compressed).expect("OUT_DIR is writable");
}
