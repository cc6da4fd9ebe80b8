//! The frame and value decoders on arbitrary bytes: they must never panic,
//! and never allocate past what arrived (a length or a count is a claim,
//! not a size), let alone past the maximum frame size.
//!
//! The input is split at its first byte: that many bytes (mod the length)
//! are value tokens, the rest their payload; the whole input is also read
//! as a stream of frames.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use pushy::protocol::{FrameReader, MAX_FRAME};

/// Counts live bytes and their peak (libFuzzer runs one input at a time).
struct Meter;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        q
    }
}

#[global_allocator]
static METER: Meter = Meter;

/// Runs `f` and checks what it allocated at its peak against the input size.
fn bounded(len: usize, what: &str, f: impl FnOnce()) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    // A 64 KiB read buffer, a first 1 MiB chunk each for a header and a
    // payload, and parsed structures a small multiple of the input.
    let budget = (3 << 20) + 64 * len;
    assert!(peak <= budget, "{what}: {len} bytes in, {peak} bytes allocated");
    assert!(peak as u64 <= MAX_FRAME, "{what}: allocated past the maximum frame");
}

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), "frames", || {
        let mut reader = FrameReader::new(data);
        while let Ok(Some(_frame)) = reader.read() {}
    });
    let Some((&split, rest)) = data.split_first() else { return };
    let at = usize::from(split).min(rest.len());
    let (tokens, payload) = rest.split_at(at);
    let Ok(text) = std::str::from_utf8(tokens) else { return };
    let Ok(raw) = serde_json::value::RawValue::from_string(text.to_string()) else { return };
    bounded(data.len(), "value", || {
        let _ = pushy::value::decode(&raw, payload);
    });
});
