//! A value as it arrived, before anything is built from it: its tokens and
//! the frame payload that holds its bytes. A front end that only prints
//! the value renders it from here (see [`crate::printer::Printer::write_encoded`])
//! and never holds its tree: a list of ten million ints stays the 80 MB it
//! took on the wire.

use serde_json::value::RawValue;

use super::tokens::{self, Sink};
use super::Value;
use crate::error::Result;

/// A value's wire form (see [`crate::value`]), not yet decoded.
#[derive(Debug)]
pub struct Encoded {
    tokens: Box<RawValue>,
    payload: Vec<u8>,
}

impl Encoded {
    pub(crate) fn new(tokens: Box<RawValue>, payload: Vec<u8>) -> Encoded {
        Encoded { tokens, payload }
    }

    /// The value as a tree. A bytes value alone (a file's contents) takes
    /// the payload as it is: no copy of what may be hundreds of MiB.
    pub fn decode(mut self) -> Result<Value> {
        if crate::protocol::message::lone_bytes(self.tokens.get()) == Some(self.payload.len() as u64) {
            return Ok(Value::Bytes(std::mem::take(&mut self.payload)));
        }
        super::decode(&self.tokens, &self.payload)
    }

    /// The JSON token text.
    pub fn tokens(&self) -> &str {
        self.tokens.get()
    }

    /// The payload the tokens' slices point into.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Reads the value into `sink`, every token checked.
    pub(crate) fn parse<S: Sink>(&self, sink: &mut S) -> Result<()> {
        tokens::parse(self.tokens.get(), &self.payload, sink)
    }
}
