//! Values that come back from the remote side, by value: a typed tree.
//!
//! # Wire form
//!
//! The server flattens a value into a JSON array of tokens in prefix order
//! (a container's token, then its children), so that no layer (the Python
//! encoder, JSON, this decoder) ever recurses on the value's depth. A scalar
//! that JSON carries exactly is itself: `null`, `true`/`false`, an integer
//! that fits in 64 bits, a float (always written with `.` or `e`), or a
//! string without lone surrogates. Anything else is a short array:
//!
//! | token                    | value                                                     |
//! |--------------------------|-----------------------------------------------------------|
//! | `["l", n]` / `["l", n, T]` | list of the next `n` values (of list subclass `T`)      |
//! | `["t", n]`, `["s", n]`, `["f", n]` | tuple, set, frozenset (optional subclass name)  |
//! | `["d", n]` / `["d", n, T]` | dict of the next `n` key, value pairs                   |
//! | `["n", T, [f1, f2, ...]]`| named structure `T` with one value per field              |
//! | `["i", "digits"]`        | an int outside 64 bits                                    |
//! | `["F", "nan"]`           | `nan`, `inf` or `-inf`                                    |
//! | `["u", [cp, ...]]`       | a str with lone surrogates, as code points                |
//! | `["b", off, len]`, `["B", off, len]` | bytes, bytearray: a slice of the frame payload |
//! | `["I", K, off, n]`, `["D", K, off, n]` | a list (`K` = `"l"`) or tuple (`"t"`) of `n` ints (little-endian int64) or floats (float64) packed in the payload |
//! | `["S", K, off, n, len]`  | a list or tuple of `n` strs: `len` payload bytes at `off`, the strs' UTF-8 joined by NUL (`n - 1` NULs) |
//! | `["T", K, off, n, R, [col, ...]]` | a list or tuple (`K`) of `n` rows, each a list or tuple (`R`) of one item from every column; the columns lie in the payload one after another from `off`, each `["I"]` or `["D"]` (`n` int64s or float64s) or `["S", len]` (`n` strs as above); at least one column; it counts as two levels of depth |
//! | `["T", K, off, n, "d", [col, ...], [key, ...]]` | the same with records: each row a dict of one str key per column, in that order |
//! | `["r", T, "repr"]`       | any other object: its type and `repr()`                   |
//! | `["c", "list"]`          | a reference back to an enclosing container (a cycle)      |
//! | `["x", T]`               | a container nested past the depth limit                   |
//!
//! Payload slices (bytes, packed runs, table columns) come in payload
//! order and never overlap (each starts at or after the end of the one
//! before), so the bytes a value decodes to never exceed the payload that
//! arrived: a hostile server cannot make one megabyte into a gigabyte by
//! pointing a thousand tokens at it. A packed str block (a run or a column)
//! is checked as UTF-8 once, and its NULs must agree with its count exactly
//! (the server packs no str that holds a NUL or a lone surrogate; those go
//! as JSON tokens). So every count is bounded by the bytes that carry it.
//!
//! One reader checks the tokens (`value/tokens.rs`) and hands the value on as
//! events: [`decode`] builds the tree from them, and the printers render
//! a big value straight from them ([`Encoded`]), with no tree at all.

mod encoded;
mod from;
mod to;
pub(crate) mod tokens;

pub use encoded::Encoded;
pub use from::{from_value, DeError, ValueDeserializer};
pub(crate) use to::{encode, REF};
pub use to::{to_value, Bytes};
use tokens::{Open, Run, Scalar, Sink};

use serde_json::value::RawValue;

use crate::error::{Error, Result};

/// How deep a received value may nest. The server cuts its values off at
/// 10 000 levels (`["x", T]`); anything deeper is not pushy's server.
pub const MAX_DEPTH: usize = 10_000;

/// A Python value, received by value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// An int that fits in 64 bits.
    Int(i64),
    /// Any other int, as its decimal digits (with a leading `-` if negative).
    BigInt(String),
    /// A float, including nan and the infinities.
    Float(f64),
    /// A str.
    Str(String),
    /// A str holding lone surrogates (an undecodable filename), as code points.
    WideStr(Vec<u32>),
    /// `bytes`
    Bytes(Vec<u8>),
    /// `bytearray`
    ByteArray(Vec<u8>),
    /// list, tuple, set or frozenset; the name is set for subclasses.
    Seq(SeqKind, Vec<Value>, Option<String>),
    /// A dict as its pairs in order; the name is set for subclasses.
    Dict(Vec<(Value, Value)>, Option<String>),
    /// A namedtuple, struct sequence (`os.stat_result`) or dataclass.
    Named(String, Vec<(String, Value)>),
    /// Anything else: its type name and `repr()`.
    Object(String, String),
    /// A reference back to an enclosing container of this kind.
    Cycle(String),
    /// A container nested too deep to send.
    Deep(String),
}

/// The four sequence types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqKind {
    /// `[...]`
    List,
    /// `(...)`
    Tuple,
    /// `{...}`
    Set,
    /// `frozenset({...})`
    FrozenSet,
}

impl Value {
    /// True for a value with no parts (a scalar, bytes, an opaque object).
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Value::Seq(..) | Value::Dict(..) | Value::Named(..))
    }

    /// The str, if this is one without surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The int, if this is one that fits in 64 bits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Reads the value as a Rust type (see [`from_value`]).
    ///
    /// ```
    /// use pushy::Value;
    /// assert_eq!(Value::Int(7).deserialize::<u8>()?, 7);
    /// # Ok::<(), pushy::Error>(())
    /// ```
    pub fn deserialize<'a, T: serde::Deserialize<'a>>(&'a self) -> Result<T> {
        from_value(self)
    }
}

/// A str with lone surrogates (`Value::WideStr`) back to the bytes it was
/// decoded from: Python's `surrogateescape` stands for an undecodable byte
/// B with U+DC00+B (U+DC80..U+DCFF). Any other lone surrogate becomes
/// `replacement`, or with none makes the whole text `None`.
pub fn surrogate_escaped(cps: &[u32], replacement: Option<char>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(cps.len());
    for &cp in cps {
        match (char::from_u32(cp), replacement) {
            (Some(c), _) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            (None, _) if (0xDC80..=0xDCFF).contains(&cp) => out.push((cp - 0xDC00) as u8),
            (None, Some(r)) => out.extend_from_slice(r.encode_utf8(&mut [0; 4]).as_bytes()),
            (None, None) => return None,
        }
    }
    Some(out)
}

/// Decodes a value from its tokens and the frame payload that holds its bytes.
///
/// The tokens are read one at a time, never held as a
/// list: a list of ten million ints costs its `Value`s and nothing more.
pub fn decode(tokens: &RawValue, payload: &[u8]) -> Result<Value> {
    let mut builder = Builder { stack: Vec::new(), root: None };
    tokens::parse(tokens.get(), payload, &mut builder)?;
    builder.root.ok_or_else(|| Error::protocol("value tokens ended inside a container"))
}

/// A container being filled while events come in.
enum Filling {
    Seq(SeqKind, Vec<Value>, Option<String>),
    Dict(Vec<(Value, Value)>, Option<Value>, Option<String>),
    Named(String, Vec<String>, Vec<Value>),
}

/// The tree-building sink. Its counts are the reader's, already checked
/// against the tokens that follow, so reserving them is safe.
struct Builder {
    stack: Vec<Filling>,
    root: Option<Value>,
}

impl Builder {
    fn attach(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Filling::Seq(_, items, _)) => items.push(value),
            Some(Filling::Dict(pairs, key, _)) => match key.take() {
                Some(k) => pairs.push((k, value)),
                None => *key = Some(value),
            },
            Some(Filling::Named(_, _, values)) => values.push(value),
        }
    }
}

impl Sink for Builder {
    fn scalar(&mut self, scalar: Scalar<'_>) -> Result<()> {
        self.attach(scalar.to_value());
        Ok(())
    }

    fn open(&mut self, open: Open<'_>) -> Result<()> {
        self.stack.push(match open {
            Open::Seq(kind, n, name) => Filling::Seq(kind, Vec::with_capacity(n), name.map(str::to_owned)),
            Open::Dict(n, name) => Filling::Dict(Vec::with_capacity(n), None, name.map(str::to_owned)),
            Open::Named(name, fields) => Filling::Named(
                name.to_owned(),
                fields.iter().map(str::to_owned).collect(),
                Vec::with_capacity(fields.len()),
            ),
        });
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let value = match self.stack.pop() {
            Some(Filling::Seq(kind, items, name)) => Value::Seq(kind, items, name),
            Some(Filling::Dict(pairs, _, name)) => Value::Dict(pairs, name),
            Some(Filling::Named(name, names, values)) => Value::Named(name, names.into_iter().zip(values).collect()),
            None => return Err(Error::protocol("value tokens closed a container that is not open")),
        };
        self.attach(value);
        Ok(())
    }

    fn run(&mut self, kind: SeqKind, run: Run<'_>) -> Result<()> {
        let mut items = Vec::with_capacity(run.len());
        items.extend(run.items().map(Scalar::to_value));
        self.attach(Value::Seq(kind, items, None));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(json: &str, payload: &[u8]) -> Result<Value> {
        decode(&RawValue::from_string(json.to_string()).unwrap(), payload)
    }

    #[test]
    fn packed_numbers() {
        let mut payload = Vec::new();
        for i in [-1i64, 0, i64::MAX] {
            payload.extend_from_slice(&i.to_le_bytes());
        }
        payload.extend_from_slice(&0.5f64.to_le_bytes());
        let v = dec(r#"[["l",2],["I","l",0,3],["D","t",24,1]]"#, &payload).unwrap();
        let ints = Value::Seq(SeqKind::List, vec![Value::Int(-1), Value::Int(0), Value::Int(i64::MAX)], None);
        let floats = Value::Seq(SeqKind::Tuple, vec![Value::Float(0.5)], None);
        assert_eq!(v, Value::Seq(SeqKind::List, vec![ints, floats], None));
        // Past the payload, overlapping, a count that overflows, a bad kind.
        for bad in [
            r#"[["I","l",0,5]]"#,
            r#"[["l",2],["I","l",0,2],["I","l",8,1]]"#,
            r#"[["I","l",8,2305843009213693952]]"#,
            r#"[["I","d",0,1]]"#,
        ] {
            assert!(dec(bad, &payload).is_err(), "{bad}");
        }
    }

    #[test]
    fn packed_strs() {
        let payload = "ab\0\0é\u{1F600}".as_bytes();
        let strs = |items: &[&str]| items.iter().map(|s| Value::Str(s.to_string())).collect::<Vec<_>>();
        let n = payload.len();
        let v = dec(&format!(r#"[["S","t",0,3,{n}]]"#), payload).unwrap();
        assert_eq!(v, Value::Seq(SeqKind::Tuple, strs(&["ab", "", "é\u{1F600}"]), None));
        // No strs and one empty str are both an empty block: the count decides.
        assert_eq!(dec(r#"[["S","l",0,0,0]]"#, b"").unwrap(), Value::Seq(SeqKind::List, vec![], None));
        assert_eq!(dec(r#"[["S","l",0,1,0]]"#, b"").unwrap(), Value::Seq(SeqKind::List, strs(&[""]), None));
        // Two runs, one after the other.
        let two = dec(r#"[["l",2],["S","l",0,2,3],["S","l",3,1,1]]"#, b"a\0bc").unwrap();
        let want =
            vec![Value::Seq(SeqKind::List, strs(&["a", "b"]), None), Value::Seq(SeqKind::List, strs(&["c"]), None)];
        assert_eq!(two, Value::Seq(SeqKind::List, want, None));
        for (bad, payload) in [
            (r#"[["S","l",0,2,3]]"#, &b"a\0\xff"[..]),                     // not UTF-8
            (r#"[["S","l",0,2,3]]"#, &b"\xe9\0b"[..]),                     // a truncated sequence
            (r#"[["S","l",0,2,2]]"#, &"é".as_bytes()[..1]),                // cut inside a char
            (r#"[["S","l",0,3,3]]"#, &b"a\0b"[..]),                        // count too high
            (r#"[["S","l",0,1,3]]"#, &b"a\0b"[..]),                        // count too low
            (r#"[["S","l",0,0,1]]"#, &b"a"[..]),                           // none, yet bytes
            (r#"[["S","l",0,99999999999,3]]"#, &b"a\0b"[..]),              // a lying count
            (r#"[["S","l",1,1,3]]"#, &b"a\0b"[..]),                        // past the payload
            (r#"[["S","l",0,1,18446744073709551615]]"#, &b"ab"[..]),       // a length that overflows
            (r#"[["l",2],["S","l",0,1,2],["S","l",1,1,1]]"#, &b"abc"[..]), // overlapping
            (r#"[["l",2],["b",0,2],["S","l",1,1,1]]"#, &b"abc"[..]),       // overlapping bytes
            (r#"[["S","d",0,1,1]]"#, &b"a"[..]),                           // a bad kind
            (r#"[["S","l",0,1]]"#, &b"a"[..]),                             // no length
        ] {
            assert!(dec(bad, payload).is_err(), "{bad}");
        }
    }

    #[test]
    fn packed_tables() {
        // Three rows of (int, str, float): the columns one after another.
        let mut payload = Vec::new();
        for i in [7i64, -1, 0] {
            payload.extend_from_slice(&i.to_le_bytes());
        }
        payload.extend_from_slice("a\0\0é".as_bytes());
        let s = "a\0\0é".len();
        for f in [0.5f64, -2.0, 1e300] {
            payload.extend_from_slice(&f.to_le_bytes());
        }
        let v = dec(&format!(r#"[["T","l",0,3,"t",[["I"],["S",{s}],["D"]]]]"#), &payload).unwrap();
        let row = |i, t: &str, f| {
            Value::Seq(SeqKind::Tuple, vec![Value::Int(i), Value::Str(t.into()), Value::Float(f)], None)
        };
        let rows = vec![row(7, "a", 0.5), row(-1, "", -2.0), row(0, "é", 1e300)];
        assert_eq!(v, Value::Seq(SeqKind::List, rows, None));
        // A tuple of one-item lists, after a bytes value.
        let v = dec(r#"[["l",2],["b",0,1],["T","t",1,2,"l",[["S",3]]]]"#, b"xa\0b").unwrap();
        let one = |t: &str| Value::Seq(SeqKind::List, vec![Value::Str(t.into())], None);
        let want = vec![Value::Bytes(b"x".to_vec()), Value::Seq(SeqKind::Tuple, vec![one("a"), one("b")], None)];
        assert_eq!(v, Value::Seq(SeqKind::List, want, None));
        // Records: a dict per row, the keys one per column.
        let v = dec(r#"[["T","t",0,2,"d",[["S",3],["I"]],["k","n"]]]"#, b"a\0b\x01\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0")
            .unwrap();
        let record = |k: &str, n| {
            Value::Dict(
                vec![(Value::Str("k".into()), Value::Str(k.into())), (Value::Str("n".into()), Value::Int(n))],
                None,
            )
        };
        assert_eq!(v, Value::Seq(SeqKind::Tuple, vec![record("a", 1), record("b", 2)], None));
        let ints = &payload[..24];
        for (bad, payload) in [
            (r#"[["T","l",0,3,"d",[["I"]]]]"#, ints),           // records without keys
            (r#"[["T","l",0,3,"d",[["I"]],[]]]"#, ints),        // fewer keys than columns
            (r#"[["T","l",0,3,"d",[["I"]],["a","b"]]]"#, ints), // more
            (r#"[["T","l",0,3,"d",[["I"]],[1]]]"#, ints),       // a key that is no str
            (r#"[["T","l",0,3,"d",[["I"]],"a"]]"#, ints),       // keys that are no list
            (r#"[["T","l",0,3,"t",[["I"]],["a"]]]"#, ints),     // keys for tuples
            (r#"[["T","l",0,3,"d",[["I"]],["a"],1]]"#, ints),   // a part too many
            (&r#"[["T","l",0,3,"d",[["I"]],["KEY"]]]"#.replace("KEY", &"k".repeat(33)), ints), // keys outweigh the columns
            (r#"[["T","l",0,4,"t",[["I"]]]]"#, ints), // more rows than the column holds
            (r#"[["T","l",0,3,"t",[["I"],["S",2]]]]"#, &payload[..26]), // a str column with too few strs
            (r#"[["T","l",0,2305843009213693952,"t",[["I"]]]]"#, ints), // a count that overflows
            (r#"[["T","l",0,99999999999,"t",[["S",3]]]]"#, &b"a\0b"[..]), // a lying count
            (r#"[["T","l",0,3,"t",[]]]"#, ints),      // no column
            (r#"[["T","l",0,3,"t",[["I"],["S"]]]]"#, ints), // a str column without length
            (r#"[["T","l",0,3,"t",[["I",24]]]]"#, ints), // an int column with one
            (r#"[["T","l",0,3,"t",[["Q"]]]]"#, ints), // a bad column
            (r#"[["T","l",0,3,"t",["I"]]]"#, ints),   // a column that is not a list
            (r#"[["T","s",0,3,"t",[["I"]]]]"#, ints), // a bad kind
            (r#"[["T","l",0,3,"s",[["I"]]]]"#, ints), // a bad row kind
            (r#"[["T","l",0,3,"t",[["I"]],1]]"#, ints), // a part too many
            (r#"[["T","l",8,3,"t",[["I"]]]]"#, ints), // past the payload
            (r#"[["l",2],["I","l",0,2],["T","l",8,1,"t",[["I"]]]]"#, ints), // overlapping
            (r#"[["T","l",0,1,"t",[["S",2]]]]"#, &b"\xff\xfe"[..]), // not UTF-8
        ] {
            assert!(dec(bad, payload).is_err(), "{bad}");
        }
        // Keys of up to four times the columns' bytes over all rows pass.
        let heavy = r#"[["T","l",0,3,"d",[["I"]],["KEY"]]]"#.replace("KEY", &"k".repeat(32));
        assert!(dec(&heavy, ints).is_ok());
        // A table needs two levels: one opened at the last level is refused.
        let deep = format!("[{}[\"T\",\"l\",0,1,\"t\",[[\"I\"]]]]", r#"["l",1],"#.repeat(MAX_DEPTH - 1));
        assert!(dec(&deep, &7i64.to_le_bytes()).is_err());
        let fits = format!("[{}[\"T\",\"l\",0,1,\"t\",[[\"I\"]]]]", r#"["l",1],"#.repeat(MAX_DEPTH - 2));
        assert!(dec(&fits, &7i64.to_le_bytes()).is_ok());
    }

    #[test]
    fn nested_containers() {
        let v = dec(r#"[["d",1],["t",2],1,2,["s",1],3]"#, b"").unwrap();
        let key = Value::Seq(SeqKind::Tuple, vec![Value::Int(1), Value::Int(2)], None);
        let val = Value::Seq(SeqKind::Set, vec![Value::Int(3)], None);
        assert_eq!(v, Value::Dict(vec![(key, val)], None));
    }

    #[test]
    fn scalars_and_bytes() {
        assert_eq!(dec("[1.0]", b"").unwrap(), Value::Float(1.0));
        assert_eq!(
            dec(r#"[["i","-123456789012345678901234567890"]]"#, b"").unwrap(),
            Value::BigInt("-123456789012345678901234567890".into())
        );
        assert_eq!(dec(r#"[["b",1,2]]"#, b"xyz").unwrap(), Value::Bytes(b"yz".to_vec()));
        let two = Value::Seq(SeqKind::List, vec![Value::Bytes(b"x".to_vec()), Value::Bytes(b"yz".to_vec())], None);
        assert_eq!(dec(r#"[["l",2],["b",0,1],["b",1,2]]"#, b"xyz").unwrap(), two);
        assert!(matches!(dec(r#"[["F","nan"]]"#, b"").unwrap(), Value::Float(f) if f.is_nan()));
    }

    fn nested(depth: usize) -> String {
        let mut s = String::from("[");
        for _ in 0..depth {
            s.push_str(r#"["l",1],"#);
        }
        s + "0]"
    }

    #[test]
    fn deep_nesting_is_decoded_without_recursion_up_to_a_limit() {
        let v = dec(&nested(MAX_DEPTH), b"").unwrap();
        let mut cur = &v;
        let mut seen = 0;
        while let Value::Seq(_, items, _) = cur {
            cur = &items[0];
            seen += 1;
        }
        assert_eq!(seen, MAX_DEPTH);
        assert!(dec(&nested(MAX_DEPTH + 1), b"").is_err());
    }

    #[test]
    fn malformed_tokens_are_errors() {
        for bad in [
            r#"[]"#,
            r#"[1,2]"#,
            r#"[["l",2],1]"#,
            r#"[["l",99999999999]]"#,
            r#"[["b",0,5]]"#,
            r#"[["l",2],["b",0,2],["b",0,2]]"#, // the same bytes twice
            r#"[["l",2],["b",0,2],["b",1,1]]"#, // overlapping
            r#"[["q"]]"#,
            r#"[{"a":1}]"#,
            r#"[["i","12x"]]"#,
            r#"[["n","P",[1]]]"#,
            "{}",
        ] {
            assert!(dec(bad, b"ab").is_err(), "{bad}");
        }
    }
}

/// Property tests: any token text and payload decode to a value or an error,
/// never a panic, and never allocate more than a small multiple of their
/// size (a count is a claim, not a size); values written in the wire
/// grammar decode back exactly. The fuzz target in `fuzz/` does the same at
/// scale.
#[cfg(test)]
pub(crate) mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::proptests::peak_during;

    fn decode_text(text: &str, payload: &[u8]) -> Result<Value> {
        let raw = RawValue::from_string(text.to_string()).map_err(|e| Error::protocol(e.to_string()))?;
        decode(&raw, payload)
    }

    /// What decoding into a tree may cost: a fixed amount plus, per byte
    /// of tokens, a few `Value`s' worth (a token takes at least two bytes),
    /// and per byte of payload a row's worth (a table of one str column
    /// spends one NUL on a row: as records, a dict, its key and its value,
    /// about 170 bytes; a list of one item, about 110).
    fn budget(len: usize, payload: usize) -> usize {
        (64 << 10) + 64 * len + 192 * payload
    }

    /// One token of the grammar, well-formed or not, with counts that may lie.
    fn token() -> impl Strategy<Value = String> {
        let count = prop_oneof![0u64..4, Just(99_999), Just(u64::MAX), any::<u64>()];
        prop_oneof![
            (prop_oneof![Just("l"), Just("t"), Just("s"), Just("f"), Just("d")], count.clone())
                .prop_map(|(t, n)| format!(r#"["{t}",{n}]"#)),
            count.clone().prop_map(|n| format!(r#"["l",{n},"Sub"]"#)),
            proptest::collection::vec("[a-z]{1,3}", 0..4).prop_map(|f| format!(r#"["n","P",{f:?}]"#)),
            (0u64..8, 0u64..8).prop_map(|(o, n)| format!(r#"["b",{o},{n}]"#)),
            (0u64..8, any::<u64>()).prop_map(|(o, n)| format!(r#"["B",{o},{n}]"#)),
            (0u64..8, count.clone(), 0u64..9).prop_map(|(o, n, len)| format!(r#"["S","l",{o},{n},{len}]"#)),
            (0u64..8, count.clone()).prop_map(|(o, n)| format!(r#"["I","t",{o},{n}]"#)),
            (0u64..8, count.clone(), 0u64..9)
                .prop_map(|(o, n, len)| format!(r#"["T","l",{o},{n},"t",[["I"],["S",{len}]]]"#)),
            (0u64..8, count.clone()).prop_map(|(o, n)| format!(r#"["T","t",{o},{n},"l",[["D"]]]"#)),
            (0u64..8, count.clone(), 0u64..65)
                .prop_map(|(o, n, len)| format!(r#"["T","l",{o},{n},"l",[["S",{len}]]]"#)),
            (0u64..8, count.clone(), 0u64..65, "[a-z]{0,300}")
                .prop_map(|(o, n, len, key)| format!(r#"["T","l",{o},{n},"d",[["S",{len}]],["{key}"]]"#)),
            "-?[0-9]{1,30}x?".prop_map(|d| format!(r#"["i","{d}"]"#)),
            prop_oneof![Just("nan"), Just("inf"), Just("-inf"), Just("1")].prop_map(|f| format!(r#"["F","{f}"]"#)),
            proptest::collection::vec(0u64..0x11_0000, 0..4).prop_map(|c| format!(r#"["u",{c:?}]"#)),
            Just(r#"["r","T","<T>"]"#.to_string()),
            Just(r#"["c","list"]"#.to_string()),
            Just(r#"["x","dict"]"#.to_string()),
            Just(r#"["q"]"#.to_string()),
            Just("[]".to_string()),
            Just(r#"{"a":1}"#.to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            Just("18446744073709551615".to_string()),
            Just("1.5e300".to_string()),
            "\\PC{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just("null".to_string()),
            Just("true".to_string()),
        ]
    }

    /// A value of the kinds that compare equal to themselves (no nan).
    pub(crate) fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::None),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            "-?[1-9][0-9]{19,40}".prop_map(Value::BigInt),
            any::<f64>().prop_filter("nan", |f| !f.is_nan()).prop_map(Value::Float),
            "\\PC{0,10}".prop_map(Value::Str),
            proptest::collection::vec(0xD800u32..0xE000, 1..3).prop_map(Value::WideStr),
            proptest::collection::vec(any::<u8>(), 0..10).prop_map(Value::Bytes),
            proptest::collection::vec(any::<u8>(), 0..10).prop_map(Value::ByteArray),
            ("[A-Z][a-z]{0,5}", "\\PC{0,10}").prop_map(|(t, r)| Value::Object(t, r)),
            Just(Value::Cycle("list".into())),
            Just(Value::Deep("dict".into())),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            let kind =
                prop_oneof![Just(SeqKind::List), Just(SeqKind::Tuple), Just(SeqKind::Set), Just(SeqKind::FrozenSet)];
            prop_oneof![
                (kind, proptest::collection::vec(inner.clone(), 0..6), proptest::option::of("[A-Z][a-z]{0,5}"))
                    .prop_map(|(k, items, name)| Value::Seq(k, items, name)),
                (proptest::collection::vec((inner.clone(), inner.clone()), 0..4), proptest::option::of("[A-Z]{1,4}"))
                    .prop_map(|(pairs, name)| Value::Dict(pairs, name)),
                ("[A-Z][a-z]{0,5}", proptest::collection::vec(("[a-z]{1,4}", inner), 0..4))
                    .prop_map(|(name, fields)| Value::Named(name, fields)),
            ]
        })
    }

    /// Lists or tuples of rows of one to three columns, each all ints, all
    /// floats or all strs: what the server packs as a table. Rows are
    /// lists, tuples or records (dicts with the same keys).
    pub(crate) fn tables() -> impl Strategy<Value = Value> {
        let cells = (any::<i64>(), -1e6f64..1e6, "[a-z'é\n]{0,6}");
        (proptest::collection::vec(cells, 0..30), proptest::collection::vec(0u8..3, 1..4), any::<bool>(), 0u8..3)
            .prop_map(|(rows, columns, list, rows_are)| {
                let kind = |list| if list { SeqKind::List } else { SeqKind::Tuple };
                let row = |(i, f, s): (i64, f64, String)| {
                    let cell = |c: &u8| match c {
                        0 => Value::Int(i),
                        1 => Value::Float(f),
                        _ => Value::Str(s.clone()),
                    };
                    let cells = columns.iter().map(cell);
                    match rows_are {
                        0 => Value::Seq(SeqKind::List, cells.collect(), None),
                        1 => Value::Seq(SeqKind::Tuple, cells.collect(), None),
                        _ => Value::Dict(
                            cells.enumerate().map(|(n, v)| (Value::Str(format!("k{n}")), v)).collect(),
                            None,
                        ),
                    }
                };
                Value::Seq(kind(list), rows.into_iter().map(row).collect(), None)
            })
    }

    /// A run's tag and bytes.
    type Block = (&'static str, Vec<u8>);

    /// The block an `I`, `D` or `S` run (or table column) of these items
    /// takes: two or more ints, floats or strs without NUL, else None.
    fn block(items: &[&Value]) -> Option<Block> {
        if items.len() < 2 {
            return None;
        }
        if items.iter().all(|i| matches!(i, Value::Int(_))) {
            return Some(("I", items.iter().filter_map(|i| i.as_i64()).flat_map(i64::to_le_bytes).collect()));
        }
        if items.iter().all(|i| matches!(i, Value::Float(_))) {
            let floats = items.iter().filter_map(|i| if let Value::Float(f) = i { Some(*f) } else { None });
            return Some(("D", floats.flat_map(f64::to_le_bytes).collect()));
        }
        if items.iter().all(|i| i.as_str().is_some_and(|s| !s.contains('\0'))) {
            let text: Vec<&str> = items.iter().filter_map(|i| i.as_str()).collect();
            return Some(("S", text.join("\0").into_bytes()));
        }
        None
    }

    /// The keys and columns of two or more plain dicts with the same str
    /// keys in the same order (at least one), each column a block, else None.
    fn records(items: &[Value]) -> Option<(Vec<&str>, Vec<Block>)> {
        let rows: Vec<&Vec<(Value, Value)>> = items
            .iter()
            .map(|row| match row {
                Value::Dict(pairs, None) => Some(pairs),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let keys: Vec<&str> = rows.first()?.iter().map(|(k, _)| k.as_str()).collect::<Option<_>>()?;
        if keys.is_empty() || rows.iter().any(|r| !r.iter().map(|(k, _)| k.as_str()).eq(keys.iter().map(|k| Some(*k))))
        {
            return None;
        }
        let columns = (0..keys.len())
            .map(|c| block(&rows.iter().map(|pairs| &pairs[c].1).collect::<Vec<_>>()))
            .collect::<Option<_>>()?;
        Some((keys, columns))
    }

    /// The columns of two or more plain lists or tuples of one kind and
    /// one width (at least 1), each column a block, else None.
    fn table(items: &[Value]) -> Option<(&'static str, Vec<Block>)> {
        let rows: Vec<(SeqKind, &Vec<Value>)> = items
            .iter()
            .map(|row| match row {
                Value::Seq(kind @ (SeqKind::List | SeqKind::Tuple), cells, None) => Some((*kind, cells)),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let (kind, width) = (rows.first()?.0, rows.first()?.1.len());
        if width == 0 || rows.iter().any(|(k, cells)| *k != kind || cells.len() != width) {
            return None;
        }
        let columns = (0..width)
            .map(|c| block(&rows.iter().map(|(_, cells)| &cells[c]).collect::<Vec<_>>()))
            .collect::<Option<_>>()?;
        Some((if kind == SeqKind::List { "l" } else { "t" }, columns))
    }

    /// The wire form of a value, as the server writes it (prefix order),
    /// with `packed`, plain lists and tuples of two or more ints, floats or
    /// strs (without NUL) as `I`, `D` and `S` runs, and of two or more rows
    /// whose columns are such runs as `T` tables.
    pub(crate) fn encode(value: &Value, tokens: &mut Vec<serde_json::Value>, payload: &mut Vec<u8>, packed: bool) {
        use serde_json::json;
        if let (true, Value::Seq(kind @ (SeqKind::List | SeqKind::Tuple), items, None)) = (packed, value) {
            let k = if *kind == SeqKind::List { "l" } else { "t" };
            let (off, n) = (payload.len(), items.len());
            if let Some((tag, bytes)) = block(&items.iter().collect::<Vec<_>>()) {
                payload.extend_from_slice(&bytes);
                return tokens.push(match tag {
                    "S" => json!(["S", k, off, n, bytes.len()]),
                    _ => json!([tag, k, off, n]),
                });
            }
            if let Some((row_kind, columns)) = table(items) {
                let mut specs = Vec::new();
                for (tag, bytes) in columns {
                    specs.push(if tag == "S" { json!(["S", bytes.len()]) } else { json!([tag]) });
                    payload.extend_from_slice(&bytes);
                }
                return tokens.push(json!(["T", k, off, n, row_kind, specs]));
            }
            if let Some((keys, columns)) = records(items) {
                let mut specs = Vec::new();
                for (tag, bytes) in columns {
                    specs.push(if tag == "S" { json!(["S", bytes.len()]) } else { json!([tag]) });
                    payload.extend_from_slice(&bytes);
                }
                return tokens.push(json!(["T", k, off, n, "d", specs, keys]));
            }
        }
        let encode = |v: &Value, t: &mut Vec<serde_json::Value>, p: &mut Vec<u8>| encode(v, t, p, packed);
        let named = |mut token: Vec<serde_json::Value>, name: &Option<String>| {
            if let Some(name) = name {
                token.push(json!(name));
            }
            serde_json::Value::Array(token)
        };
        match value {
            Value::None => tokens.push(json!(null)),
            Value::Bool(b) => tokens.push(json!(b)),
            Value::Int(i) => tokens.push(json!(i)),
            Value::BigInt(d) => tokens.push(json!(["i", d])),
            Value::Float(f) if f.is_finite() => tokens.push(json!(f)),
            Value::Float(f) => tokens.push(json!(["F", if *f > 0.0 { "inf" } else { "-inf" }])),
            Value::Str(s) => tokens.push(json!(s)),
            Value::WideStr(cps) => tokens.push(json!(["u", cps])),
            Value::Bytes(b) | Value::ByteArray(b) => {
                let tag = if matches!(value, Value::Bytes(_)) { "b" } else { "B" };
                tokens.push(json!([tag, payload.len(), b.len()]));
                payload.extend_from_slice(b);
            }
            Value::Seq(kind, items, name) => {
                let tag = match kind {
                    SeqKind::List => "l",
                    SeqKind::Tuple => "t",
                    SeqKind::Set => "s",
                    SeqKind::FrozenSet => "f",
                };
                tokens.push(named(vec![json!(tag), json!(items.len())], name));
                items.iter().for_each(|item| encode(item, tokens, payload));
            }
            Value::Dict(pairs, name) => {
                tokens.push(named(vec![json!("d"), json!(pairs.len())], name));
                for (k, v) in pairs {
                    encode(k, tokens, payload);
                    encode(v, tokens, payload);
                }
            }
            Value::Named(name, fields) => {
                let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
                tokens.push(json!(["n", name, names]));
                fields.iter().for_each(|(_, v)| encode(v, tokens, payload));
            }
            Value::Object(t, r) => tokens.push(json!(["r", t, r])),
            Value::Cycle(k) => tokens.push(json!(["c", k])),
            Value::Deep(k) => tokens.push(json!(["x", k])),
        }
    }

    /// The bytes and bytearray contents a value holds, in all.
    fn bytes_in(value: &Value) -> usize {
        match value {
            Value::Bytes(b) | Value::ByteArray(b) => b.len(),
            Value::Seq(_, items, _) => items.iter().map(bytes_in).sum(),
            Value::Dict(pairs, _) => pairs.iter().map(|(k, v)| bytes_in(k) + bytes_in(v)).sum(),
            Value::Named(_, fields) => fields.iter().map(|(_, v)| bytes_in(v)).sum(),
            _ => 0,
        }
    }

    #[test]
    fn the_densest_tables_keep_to_the_budget() {
        // A row per payload byte: one str column of empty strs; as records,
        // with the longest key the reader lets through.
        let payload = vec![0u8; 100_000];
        let (rows, len) = (payload.len() + 1, payload.len());
        let key = "k".repeat(tokens::KEY_BYTES_PER_BYTE * len / rows);
        for text in [
            format!(r#"[["T","l",0,{rows},"l",[["S",{len}]]]]"#),
            format!(r#"[["T","l",0,{rows},"d",[["S",{len}]],["{key}"]]]"#),
        ] {
            let (result, peak) = peak_during(|| decode_text(&text, &payload));
            assert!(result.is_ok(), "{text:.40}");
            assert!(peak <= budget(text.len(), payload.len()), "{peak} bytes for {rows} rows: {text:.40}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}", payload in proptest::collection::vec(any::<u8>(), 0..16)) {
            let (_, peak) = peak_during(|| decode_text(&text, &payload));
            prop_assert!(peak <= budget(text.len(), payload.len()), "{} bytes in, {peak} allocated", text.len());
        }

        #[test]
        fn arbitrary_tokens_never_panic_nor_overallocate(
            tokens in proptest::collection::vec(token(), 0..64),
            payload in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..80),
        ) {
            let text = format!("[{}]", tokens.join(","));
            let (result, peak) = peak_during(|| decode_text(&text, &payload));
            prop_assert!(peak <= budget(text.len(), payload.len()), "{} bytes in, {peak} allocated: {text}", text.len());
            if let Ok(value) = result {
                prop_assert!(bytes_in(&value) <= payload.len(), "{text} decoded to more bytes than arrived");
            }
        }

        #[test]
        fn nested_lying_counts_reserve_nothing(depth in 2usize..3000, filler in 0usize..4000, extra in 0usize..8) {
            // Each container claims about all the tokens left, which passes
            // the count check alone; nested, they may not each reserve them.
            let claim = depth + filler + extra;
            let text = format!("[{}{}0]", format!(r#"["l",{claim}],"#).repeat(depth), "0,".repeat(filler));
            let (result, peak) = peak_during(|| decode_text(&text, b""));
            prop_assert!(result.is_err());
            prop_assert!(peak <= budget(text.len(), 0), "{} bytes in, {peak} allocated", text.len());
        }

        #[test]
        fn tables_round_trip(value in tables()) {
            let (mut tokens, mut payload) = (Vec::new(), Vec::new());
            encode(&value, &mut tokens, &mut payload, true);
            let text = serde_json::to_string(&tokens).unwrap();
            prop_assert_eq!(decode_text(&text, &payload).unwrap(), value);
        }

        #[test]
        fn values_round_trip(value in value(), packed in any::<bool>()) {
            let (mut tokens, mut payload) = (Vec::new(), Vec::new());
            encode(&value, &mut tokens, &mut payload, packed);
            let text = serde_json::to_string(&tokens).unwrap();
            prop_assert_eq!(decode_text(&text, &payload).unwrap(), value);
        }
    }
}
