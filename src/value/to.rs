//! Rust data to Python values, with serde: the arguments of
//! [`Session::call`](crate::Session::call) cross by value, in the same token
//! grammar the server uses for results (see [`crate::value`]), so no code
//! text is ever built from them and nothing needs quoting.
//!
//! | Rust                                   | Python                                    |
//! |----------------------------------------|-------------------------------------------|
//! | `()`, `None`, a unit struct            | `None`                                    |
//! | `bool`, `char`/`&str`/`String`         | bool, str                                 |
//! | integers (`i128`/`u128` too), floats   | int, float (`nan` and the infinities too) |
//! | [`Bytes`], or bytes with `serde_bytes`  | bytes                                     |
//! | `Vec`, arrays, sets                    | list                                      |
//! | tuples, tuple structs                  | tuple                                     |
//! | maps, structs                          | dict (a struct's fields as str keys)      |
//! | unit variant `V`                       | `"V"`                                     |
//! | `V(x)`, `V(x, y)`, `V { .. }`          | `{"V": x}`, `{"V": (x, y)}`, `{"V": {..}}` |
//! | a [`RemoteRef`](crate::RemoteRef)      | the remote object itself                  |
//! | a [`Value`]                            | the same Python value (a set stays a set) |
//!
//! A [`Value`] that came back as a repr only (an opaque object, a cycle)
//! cannot be sent back: keep such objects remote with
//! [`Session::eval_ref`](crate::Session::eval_ref).

use std::fmt;

use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, SerializeTuple, Serializer};
use serde_json::{json, Value as Json};

use super::{SeqKind, Value, MAX_DEPTH};
use crate::error::{Error, ErrorKind, Result};

/// Newtype names that mark what serde has no word for. Our serializer
/// rewrites the inner tokens; any other serializer sees the plain inner value.
pub(crate) const REF: &str = "$pushy::RemoteRef";
const SET: &str = "$pushy::set";
const FROZENSET: &str = "$pushy::frozenset";
const BYTEARRAY: &str = "$pushy::bytearray";
const BIGINT: &str = "$pushy::int";
const SURROGATES: &str = "$pushy::str";

/// Bytes that cross as Python `bytes`, as `serde_bytes::ByteBuf` does (a
/// plain `Vec<u8>` is a sequence to serde, so it would go as a list of
/// ints; `serde_bytes` itself works too). Reads bytes and bytearray back.
///
/// ```
/// use pushy::value::{to_value, Bytes, Value};
/// assert_eq!(to_value(&Bytes(b"hi".to_vec()))?, Value::Bytes(b"hi".to_vec()));
/// let back: Bytes = Value::ByteArray(vec![1]).deserialize()?;
/// assert_eq!(back.0, [1]);
/// # Ok::<(), pushy::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Bytes, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Bytes, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Bytes(out))
            }
        }
        d.deserialize_byte_buf(Visit)
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// A value in the wire grammar: its tokens and the bytes they point into.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    /// The tokens, in prefix order.
    pub tokens: Vec<Json>,
    /// The payload that `["b", off, len]` tokens slice.
    pub payload: Vec<u8>,
    /// The value was `()` itself (a call with no arguments).
    pub unit: bool,
}

/// Encodes `value` in the wire grammar; refs must belong to session
/// `session` (`None`: refs are refused).
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, session: Option<u64>) -> Result<Encoded> {
    let mut writer = Writer { out: Encoded::default(), session, depth: 0 };
    value.serialize(&mut writer).map_err(|e| match e.kind {
        Some(kind) => Error::new(kind, e.message),
        None => Error::new(ErrorKind::Value, format!("cannot send the value: {}", e.message)),
    })?;
    Ok(writer.out)
}

/// Converts Rust data to the [`Value`] the server would receive.
///
/// ```
/// use pushy::value::{to_value, SeqKind, Value};
/// let v = to_value(&(1, "a"))?;
/// assert_eq!(v, Value::Seq(SeqKind::Tuple, vec![Value::Int(1), Value::Str("a".into())], None));
/// # Ok::<(), pushy::Error>(())
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    let encoded = encode(value, None)?;
    let text = serde_json::to_string(&encoded.tokens).map_err(|e| Error::new(ErrorKind::Value, e.to_string()))?;
    let raw =
        serde_json::value::RawValue::from_string(text).map_err(|e| Error::new(ErrorKind::Value, e.to_string()))?;
    super::decode(&raw, &encoded.payload)
}

/// A serialization error; `kind` set for one that is not about the data
/// (a ref of another session).
#[derive(Debug)]
pub(crate) struct SerError {
    message: String,
    kind: Option<ErrorKind>,
}

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> SerError {
        SerError { message: msg.to_string(), kind: None }
    }
}

type Res = std::result::Result<(), SerError>;

fn fail(message: impl Into<String>) -> SerError {
    SerError { message: message.into(), kind: None }
}

struct Writer {
    out: Encoded,
    session: Option<u64>,
    depth: usize,
}

impl Writer {
    fn emit(&mut self, token: Json) -> Res {
        self.out.tokens.push(token);
        Ok(())
    }

    /// Opens a container: its token now, its count patched at the end.
    fn open(&mut self, tag: &str) -> std::result::Result<Compound<'_>, SerError> {
        if self.depth >= MAX_DEPTH {
            return Err(fail(format!("the value nests deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let at = self.out.tokens.len();
        self.out.tokens.push(json!([tag, 0]));
        Ok(Compound { w: self, at, count: 0 })
    }

    /// `{variant: ...}`: the dict's token and key; the content follows.
    fn variant(&mut self, variant: &str) -> Res {
        self.emit(json!(["d", 1]))?;
        self.emit(json!(variant))
    }

    fn int_text(&mut self, digits: String) -> Res {
        self.emit(json!(["i", digits]))
    }
}

/// A container being written: `count` is patched into its token at the end.
struct Compound<'w> {
    w: &'w mut Writer,
    at: usize,
    count: u64,
}

impl Compound<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.count += 1;
        value.serialize(&mut *self.w)
    }

    fn close(self) -> Res {
        self.w.out.tokens[self.at][1] = json!(self.count);
        self.w.depth -= 1;
        Ok(())
    }
}

impl<'w> Serializer for &'w mut Writer {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = Compound<'w>;
    type SerializeTuple = Compound<'w>;
    type SerializeTupleStruct = Compound<'w>;
    type SerializeTupleVariant = Compound<'w>;
    type SerializeMap = Compound<'w>;
    type SerializeStruct = Compound<'w>;
    type SerializeStructVariant = Compound<'w>;

    fn serialize_bool(self, v: bool) -> Res {
        self.emit(json!(v))
    }
    fn serialize_i8(self, v: i8) -> Res {
        self.emit(json!(v))
    }
    fn serialize_i16(self, v: i16) -> Res {
        self.emit(json!(v))
    }
    fn serialize_i32(self, v: i32) -> Res {
        self.emit(json!(v))
    }
    fn serialize_i64(self, v: i64) -> Res {
        self.emit(json!(v))
    }
    fn serialize_i128(self, v: i128) -> Res {
        match i64::try_from(v) {
            Ok(small) => self.emit(json!(small)),
            Err(_) => self.int_text(v.to_string()),
        }
    }
    fn serialize_u8(self, v: u8) -> Res {
        self.emit(json!(v))
    }
    fn serialize_u16(self, v: u16) -> Res {
        self.emit(json!(v))
    }
    fn serialize_u32(self, v: u32) -> Res {
        self.emit(json!(v))
    }
    fn serialize_u64(self, v: u64) -> Res {
        self.serialize_u128(v.into())
    }
    fn serialize_u128(self, v: u128) -> Res {
        match i64::try_from(v) {
            Ok(small) => self.emit(json!(small)),
            Err(_) => self.int_text(v.to_string()),
        }
    }
    fn serialize_f32(self, v: f32) -> Res {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Res {
        if v.is_finite() {
            // Written with a `.` or an `e`, so the server reads a float.
            self.emit(Json::Number(serde_json::Number::from_f64(v).ok_or_else(|| fail("a float"))?))
        } else {
            let text = if v.is_nan() {
                "nan"
            } else if v > 0.0 {
                "inf"
            } else {
                "-inf"
            };
            self.emit(json!(["F", text]))
        }
    }
    fn serialize_char(self, v: char) -> Res {
        self.emit(json!(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Res {
        self.emit(json!(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Res {
        let at = self.out.payload.len();
        self.out.payload.extend_from_slice(v);
        self.emit(json!(["b", at, v.len()]))
    }
    fn serialize_none(self) -> Res {
        self.emit(Json::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Res {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Res {
        if self.out.tokens.is_empty() {
            self.out.unit = true;
        }
        self.emit(Json::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Res {
        self.emit(Json::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Res {
        self.emit(json!(variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Res {
        let start = self.out.tokens.len();
        value.serialize(&mut *self)?;
        // What serde has no word for comes as a marked newtype: rewrite the
        // tokens its inner value wrote.
        let tokens = &mut self.out.tokens;
        match name {
            SET | FROZENSET => tokens[start][0] = json!(if name == SET { "s" } else { "f" }),
            BYTEARRAY => tokens[start][0] = json!("B"),
            BIGINT => {
                let digits = tokens[start].as_str().unwrap_or_default().to_string();
                let body = digits.strip_prefix('-').unwrap_or(&digits);
                if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(fail(format!("{digits:?} is not an int")));
                }
                tokens[start] = json!(["i", digits]);
            }
            SURROGATES => {
                let cps: Vec<Json> = tokens.drain(start + 1..).collect();
                tokens[start] = json!(["u", cps]);
            }
            REF => {
                let (session, id) = (tokens[start + 1].as_u64(), tokens[start + 2].as_u64());
                tokens.truncate(start);
                if self.session.is_none() || session != self.session {
                    return Err(SerError {
                        message: "the RemoteRef belongs to another session (or to one that is closed): pass it only to calls on the session that made it".into(),
                        kind: Some(ErrorKind::Value),
                    });
                }
                tokens.push(json!(["R", id]));
            }
            _ => {}
        }
        Ok(())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Res {
        self.variant(variant)?;
        value.serialize(self)
    }

    fn serialize_seq(self, _: Option<usize>) -> std::result::Result<Compound<'w>, SerError> {
        self.open("l")
    }
    fn serialize_tuple(self, _: usize) -> std::result::Result<Compound<'w>, SerError> {
        self.open("t")
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> std::result::Result<Compound<'w>, SerError> {
        self.open("t")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> std::result::Result<Compound<'w>, SerError> {
        self.variant(variant)?;
        self.open("t")
    }
    fn serialize_map(self, _: Option<usize>) -> std::result::Result<Compound<'w>, SerError> {
        self.open("d")
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> std::result::Result<Compound<'w>, SerError> {
        self.open("d")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> std::result::Result<Compound<'w>, SerError> {
        self.variant(variant)?;
        self.open("d")
    }
}

impl SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.item(value)
    }
    fn end(self) -> Res {
        self.close()
    }
}

impl SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.item(value)
    }
    fn end(self) -> Res {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.item(value)
    }
    fn end(self) -> Res {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.item(value)
    }
    fn end(self) -> Res {
        self.close()
    }
}

impl SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Res {
        self.item(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        // The pair counts once: the key did.
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Res {
        self.close()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Res {
        self.item(key)?;
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Res {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Res {
        self.item(key)?;
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Res {
        self.close()
    }
}

/// A `Value` serializes as the Python value it is: sent back as an
/// argument, a set stays a set and a big int keeps its digits. (Other
/// serializers see plain serde data; for JSON use
/// [`crate::printer::json::to_json`], which follows the `--json` mapping.)
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        struct Items<'a>(&'a [Value]);
        impl Serialize for Items<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                self.0.iter().try_for_each(|item| seq.serialize_element(item))?;
                seq.end()
            }
        }
        struct Bytes<'a>(&'a [u8]);
        impl Serialize for Bytes<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        match self {
            Value::None => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::BigInt(digits) => s.serialize_newtype_struct(BIGINT, digits),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(text) => s.serialize_str(text),
            Value::WideStr(cps) => s.serialize_newtype_struct(SURROGATES, cps),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::ByteArray(b) => s.serialize_newtype_struct(BYTEARRAY, &Bytes(b)),
            Value::Seq(SeqKind::List, items, _) => Items(items).serialize(s),
            Value::Seq(SeqKind::Tuple, items, _) => {
                let mut tuple = s.serialize_tuple(items.len())?;
                items.iter().try_for_each(|item| tuple.serialize_element(item))?;
                tuple.end()
            }
            Value::Seq(SeqKind::Set, items, _) => s.serialize_newtype_struct(SET, &Items(items)),
            Value::Seq(SeqKind::FrozenSet, items, _) => s.serialize_newtype_struct(FROZENSET, &Items(items)),
            Value::Dict(pairs, _) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                pairs.iter().try_for_each(|(k, v)| map.serialize_entry(k, v))?;
                map.end()
            }
            Value::Named(_, fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                fields.iter().try_for_each(|(k, v)| map.serialize_entry(k, v))?;
                map.end()
            }
            Value::Object(type_name, _) => Err(ser::Error::custom(format!(
                "a {type_name} object came back as its repr only and cannot be sent back: keep it remote with eval_ref"
            ))),
            Value::Cycle(kind) => Err(ser::Error::custom(format!("a cycle back to a {kind} cannot be sent"))),
            Value::Deep(kind) => Err(ser::Error::custom(format!("a {kind} cut off at the depth limit cannot be sent"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Disk<'a> {
        name: &'a str,
        #[serde(with = "serde_bytes_like")]
        id: Vec<u8>,
        size: u128,
    }

    /// bytes as serde_bytes sends them (without the crate).
    mod serde_bytes_like {
        pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(b)
        }
    }

    #[derive(Serialize)]
    enum Op {
        Stop,
        Move { x: i32 },
    }

    #[test]
    fn rust_data_becomes_python_values() {
        let disk = Disk { name: "sda", id: vec![0, 1], size: u128::MAX };
        let v = to_value(&disk).unwrap();
        let Value::Dict(pairs, None) = &v else { panic!("{v:?}") };
        assert_eq!(pairs[1], (Value::Str("id".into()), Value::Bytes(vec![0, 1])));
        assert_eq!(pairs[2].1, Value::BigInt(u128::MAX.to_string()));
        assert_eq!(to_value(&Op::Stop).unwrap(), Value::Str("Stop".into()));
        let moved = to_value(&Op::Move { x: -1 }).unwrap();
        let inner = Value::Dict(vec![(Value::Str("x".into()), Value::Int(-1))], None);
        assert_eq!(moved, Value::Dict(vec![(Value::Str("Move".into()), inner)], None));
        assert!(matches!(to_value(&f64::NAN).unwrap(), Value::Float(f) if f.is_nan()));
        let map: BTreeMap<i32, Vec<u8>> = [(1, vec![2])].into();
        let list = Value::Seq(SeqKind::List, vec![Value::Int(2)], None);
        assert_eq!(to_value(&map).unwrap(), Value::Dict(vec![(Value::Int(1), list)], None));
    }

    #[test]
    fn values_go_back_as_they_came() {
        for v in [
            Value::Seq(SeqKind::Set, vec![Value::Int(1)], None),
            Value::Seq(SeqKind::FrozenSet, vec![], None),
            Value::ByteArray(vec![9]),
            Value::BigInt("-123456789012345678901234567890".into()),
            Value::WideStr(vec![0x61, 0xDC80]),
            Value::Seq(SeqKind::Tuple, vec![Value::Bytes(vec![1]), Value::Bytes(vec![2, 3])], None),
        ] {
            assert_eq!(to_value(&v).unwrap(), v);
        }
        assert!(to_value(&Value::Object("T".into(), "<T>".into())).is_err());
    }

    #[test]
    fn unit_is_marked_and_refs_need_their_session() {
        assert!(encode(&(), None).unwrap().unit);
        assert!(!encode(&None::<i32>, None).unwrap().unit);
        struct FakeRef;
        impl Serialize for FakeRef {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_newtype_struct(REF, &(7u64, 3u64))
            }
        }
        assert_eq!(encode(&(FakeRef,), Some(7)).unwrap().tokens, vec![json!(["t", 1]), json!(["R", 3])]);
        assert_eq!(encode(&FakeRef, Some(8)).unwrap_err().kind(), ErrorKind::Value);
        assert!(to_value(&FakeRef).is_err());
    }
}
