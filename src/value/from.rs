//! Reading a [`Value`] as a Rust type, with serde: what
//! [`Session::eval_as`](crate::Session::eval_as) and
//! [`Session::call`](crate::Session::call) use.
//!
//! The mapping follows the Python types:
//!
//! | Python                                 | Rust                                             |
//! |----------------------------------------|--------------------------------------------------|
//! | `None`                                 | `()`, `Option::None`, a unit struct              |
//! | bool, float, str                       | `bool`, `f32`/`f64`, `String`/`&str`/`char`      |
//! | int                                    | any integer type that holds it, up to `i128`/`u128` (else an overflow error) |
//! | bytes, bytearray                       | `Vec<u8>`, [`Bytes`](super::Bytes), `&[u8]`, `serde_bytes::ByteBuf` |
//! | list, tuple, set, frozenset            | `Vec`, tuples, arrays, `HashSet`, ...            |
//! | dict                                   | `HashMap`/`BTreeMap`, or a struct by key         |
//! | namedtuple, `os.stat_result`, dataclass| a struct by field name (or a tuple, by position) |
//! | `"Name"`, `{"Name": content}`, an instance of class `Name` | an enum variant `Name`  |
//!
//! A str holding undecodable bytes (lone surrogates) is not a `String`: read
//! it as bytes, which gives the bytes it was decoded from. An object that
//! came back as its repr only is not data, and reading it is an error that
//! says so. A mismatch is an error naming where in the value it happened
//! (`.disks[2].size`), what Rust wanted and what Python had there.

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, U8Deserializer};
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess};
use serde::de::{Error as _, VariantAccess, Visitor};
use serde::Deserialize;

use super::{surrogate_escaped, SeqKind, Value};
use crate::error::{Error, ErrorKind, Result};

/// Reads `value` as a `T`.
///
/// ```
/// use pushy::value::{from_value, SeqKind, Value};
/// let v = Value::Seq(SeqKind::Tuple, vec![Value::Int(1), Value::Str("a".into())], None);
/// let (n, s): (u8, String) = from_value(&v)?;
/// assert_eq!((n, s.as_str()), (1, "a"));
/// # Ok::<(), pushy::Error>(())
/// ```
pub fn from_value<'a, T: Deserialize<'a>>(value: &'a Value) -> Result<T> {
    T::deserialize(ValueDeserializer(value)).map_err(|e| {
        Error::new(
            ErrorKind::Value,
            format!("cannot read the value as {}: {e}", short_type_name(std::any::type_name::<T>())),
        )
    })
}

/// A Rust type's name without its module paths:
/// `Vec<Disk>` for `alloc::vec::Vec<my::inventory::Disk>`.
fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut word = String::new();
    for c in full.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap_or_default());
            word.clear();
            out.push(c);
        }
    }
    out.pop(); // the space that ended the last word
    out
}

/// Where in a value an error happened, one step.
#[derive(Debug, Clone)]
enum Step {
    Index(usize),
    Field(String),
    Key(String),
}

/// A deserialization error: the message serde gave, where it happened, and
/// the Python type found there.
#[derive(Debug)]
pub struct DeError {
    /// Innermost step first (steps are added as the error goes up).
    path: Vec<Step>,
    message: String,
    found: Option<String>,
}

impl DeError {
    fn at(mut self, step: Step) -> DeError {
        self.path.push(step);
        self
    }

    /// Notes the Python value where the error was made (the innermost one:
    /// an error coming up from a child already has its own).
    fn found(mut self, value: &Value) -> DeError {
        if self.found.is_none() {
            self.found = Some(python_type(value));
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str("at the top")?;
        } else {
            f.write_str("at ")?;
            for step in self.path.iter().rev() {
                match step {
                    Step::Index(i) => write!(f, "[{i}]")?,
                    Step::Field(name) => write!(f, ".{name}")?,
                    Step::Key(key) => write!(f, "[{key}]")?,
                }
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(found) = &self.found {
            write!(f, " (Python has a {found} there)")?;
        }
        Ok(())
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> DeError {
        DeError { path: Vec::new(), message: msg.to_string(), found: None }
    }
}

/// The Python type of a value, as a user would name it.
fn python_type(value: &Value) -> String {
    match value {
        Value::None => "None".into(),
        Value::Bool(_) => "bool".into(),
        Value::Int(_) | Value::BigInt(_) => "int".into(),
        Value::Float(_) => "float".into(),
        Value::Str(_) | Value::WideStr(_) => "str".into(),
        Value::Bytes(_) => "bytes".into(),
        Value::ByteArray(_) => "bytearray".into(),
        Value::Seq(_, _, Some(name)) | Value::Dict(_, Some(name)) => name.clone(),
        Value::Seq(kind, _, None) => match kind {
            SeqKind::List => "list",
            SeqKind::Tuple => "tuple",
            SeqKind::Set => "set",
            SeqKind::FrozenSet => "frozenset",
        }
        .into(),
        Value::Dict(_, None) => "dict".into(),
        Value::Named(name, _) | Value::Object(name, _) => name.clone(),
        Value::Cycle(kind) => format!("cycle back to a {kind}"),
        Value::Deep(kind) => format!("{kind} nested too deep to send"),
    }
}

/// A key as a path step shows it: `["name"]`, `[1]`, `[<tuple key>]`.
fn key_label(key: &Value) -> String {
    match key {
        Value::Str(s) => format!("{s:?}"),
        Value::Int(i) => i.to_string(),
        Value::BigInt(digits) => digits.clone(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::None => "None".into(),
        other => format!("<{} key>", python_type(other)),
    }
}

/// The serde [`Deserializer`] over a borrowed [`Value`].
#[derive(Clone, Copy)]
pub struct ValueDeserializer<'a>(pub &'a Value);

impl<'a> IntoDeserializer<'a, DeError> for ValueDeserializer<'a> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> ValueDeserializer<'de> {
    fn any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let value = self.0;
        match value {
            Value::None => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::BigInt(digits) => {
                if let Ok(i) = digits.parse::<i128>() {
                    visitor.visit_i128(i)
                } else if let Ok(u) = digits.parse::<u128>() {
                    visitor.visit_u128(u)
                } else {
                    let short = if digits.len() > 24 {
                        format!("{}... ({} digits)", &digits[..20], digits.len())
                    } else {
                        digits.clone()
                    };
                    Err(de::Error::custom(format!("the int {short} does not fit in 128 bits")))
                }
            }
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::WideStr(cps) => visitor.visit_byte_buf(surrogate_escaped(cps, Some('\u{FFFD}')).unwrap_or_default()),
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_borrowed_bytes(b),
            Value::Seq(_, items, _) => visit_seq(items.iter(), visitor),
            Value::Dict(pairs, _) => visitor.visit_map(Pairs { pairs: pairs.iter(), value: None }),
            Value::Named(_, fields) => visitor.visit_map(Fields { fields: fields.iter(), value: None }),
            Value::Object(type_name, repr) => Err(de::Error::custom(format!(
                "a {type_name} object came back as its repr only ({}): return the parts you need \
                 (its fields, str() or a dict), or keep it remote with eval_ref",
                short(repr)
            ))),
            Value::Cycle(kind) => Err(de::Error::custom(format!("the value refers back to an enclosing {kind}"))),
            Value::Deep(kind) => Err(de::Error::custom(format!("a {kind} nested past the depth limit"))),
        }
    }
}

fn short(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// Visits a sequence, and fails if the visitor left elements unread (a
/// 3-tuple read as a pair is a mismatch, not a truncation).
fn visit_seq<'de, V: Visitor<'de>>(items: std::slice::Iter<'de, Value>, visitor: V) -> Result<V::Value, DeError> {
    let total = items.len();
    let mut seq = Items { items, index: 0 };
    let value = visitor.visit_seq(&mut seq)?;
    if seq.items.len() > 0 {
        return Err(de::Error::custom(format!("{total} items where fewer were expected")));
    }
    Ok(value)
}

macro_rules! via_any {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.any(visitor).map_err(|e| e.found(self.0))
        }
    )*};
}

impl<'de> Deserializer<'de> for ValueDeserializer<'de> {
    type Error = DeError;

    via_any! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::WideStr(_) => Err(de::Error::custom(
                "a str holding undecodable bytes (lone surrogates) cannot be a Rust String: read it as bytes",
            )),
            _ => self.any(visitor),
        }
        .map_err(|e| e.found(self.0))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Str(s) => visitor.visit_borrowed_bytes(s.as_bytes()),
            _ => self.any(visitor),
        }
        .map_err(|e| e.found(self.0))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::None => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Seq(SeqKind::Tuple, items, _) if items.is_empty() => visitor.visit_unit(),
            _ => self.any(visitor),
        }
        .map_err(|e| e.found(self.0))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Bytes(b) | Value::ByteArray(b) => {
                let mut seq = de::value::SeqDeserializer::new(b.iter().copied().map(U8Deserializer::<DeError>::new));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end().map(|()| value)
            }
            Value::Named(_, fields) => {
                let values: Vec<&Value> = fields.iter().map(|(_, v)| v).collect();
                let mut by_position = Positions { values: values.into_iter(), index: 0 };
                let value = visitor.visit_seq(&mut by_position)?;
                match by_position.values.len() {
                    0 => Ok(value),
                    _ => Err(de::Error::custom(format!("{} fields where fewer were expected", fields.len()))),
                }
            }
            _ => self.any(visitor),
        }
        .map_err(|e| e.found(self.0))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.any(visitor).map_err(|e| e.found(self.0))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.any(visitor).map_err(|e| e.found(self.0))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let access = match self.0 {
            Value::Str(name) => Variant { name, content: None },
            Value::Dict(pairs, _) if pairs.len() == 1 => match &pairs[0] {
                (Value::Str(name), content) => Variant { name, content: Some(content) },
                _ => return Err(de::Error::custom("an enum as a dict needs one str key, the variant")),
            },
            // An instance of a class named after the variant: a dataclass
            // `Circle(r=1.0)` reads as `Shape::Circle { r: 1.0 }`.
            Value::Named(type_name, _) => {
                let name = type_name.rsplit('.').next().unwrap_or(type_name);
                Variant { name, content: Some(self.0) }
            }
            _ => {
                return Err(de::Error::custom(
                    "an enum is a str (a unit variant), a dict of one item {variant: content}, \
                     or an instance of a class named as the variant",
                ))
            }
        };
        visitor.visit_enum(access).map_err(|e| e.found(self.0))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

struct Items<'de> {
    items: std::slice::Iter<'de, Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.next() else { return Ok(None) };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueDeserializer(item)).map(Some).map_err(|e| e.at(Step::Index(index)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A named structure's values by position (a namedtuple read as a tuple).
struct Positions<'de> {
    values: std::vec::IntoIter<&'de Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for Positions<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.values.next() else { return Ok(None) };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueDeserializer(item)).map(Some).map_err(|e| e.at(Step::Index(index)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.values.len())
    }
}

struct Pairs<'de> {
    pairs: std::slice::Iter<'de, (Value, Value)>,
    value: Option<&'de (Value, Value)>,
}

impl<'de> MapAccess<'de> for Pairs<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some(pair) = self.pairs.next() else { return Ok(None) };
        self.value = Some(pair);
        seed.deserialize(ValueDeserializer(&pair.0)).map(Some).map_err(|e| e.at(Step::Key(key_label(&pair.0))))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        let pair = self.value.take().ok_or_else(|| de::Error::custom("a dict value asked for before its key"))?;
        seed.deserialize(ValueDeserializer(&pair.1)).map_err(|e| e.at(Step::Key(key_label(&pair.0))))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.pairs.len())
    }
}

struct Fields<'de> {
    fields: std::slice::Iter<'de, (String, Value)>,
    value: Option<&'de (String, Value)>,
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some(field) = self.fields.next() else { return Ok(None) };
        self.value = Some(field);
        seed.deserialize(BorrowedStrDeserializer::new(&field.0)).map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        let field = self.value.take().ok_or_else(|| de::Error::custom("a field's value asked for before its name"))?;
        seed.deserialize(ValueDeserializer(&field.1)).map_err(|e| e.at(Step::Field(field.0.clone())))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len())
    }
}

/// An enum variant: its name and what it holds.
struct Variant<'de> {
    name: &'de str,
    content: Option<&'de Value>,
}

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let name = seed.deserialize(BorrowedStrDeserializer::<DeError>::new(self.name))?;
        Ok((name, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.content {
            None | Some(Value::None) => Ok(()),
            Some(other) => Err(DeError::custom(format!("the unit variant {} holds a value", self.name)).found(other)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        let content = self.content.unwrap_or(&Value::None);
        seed.deserialize(ValueDeserializer(content)).map_err(|e| e.at(Step::Field(self.name.to_string())))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        let content = self.content.unwrap_or(&Value::None);
        ValueDeserializer(content).deserialize_seq(visitor).map_err(|e| e.at(Step::Field(self.name.to_string())))
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], visitor: V) -> Result<V::Value, DeError> {
        let content = self.content.unwrap_or(&Value::None);
        ValueDeserializer(content).deserialize_map(visitor).map_err(|e| e.at(Step::Field(self.name.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use serde::Deserialize;

    use super::*;

    fn list(items: Vec<Value>) -> Value {
        Value::Seq(SeqKind::List, items, None)
    }

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Disk {
        name: String,
        size: u64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Host {
        disks: Vec<Disk>,
        tags: Option<BTreeMap<String, i32>>,
    }

    #[test]
    fn structs_from_dicts_and_named_structures() {
        let disk =
            |n: &str, size| Value::Named("Disk".into(), vec![("name".into(), s(n)), ("size".into(), Value::Int(size))]);
        let v =
            Value::Dict(vec![(s("disks"), list(vec![disk("sda", 5), disk("sdb", 7)])), (s("tags"), Value::None)], None);
        let host: Host = from_value(&v).unwrap();
        assert_eq!(
            host,
            Host {
                disks: vec![Disk { name: "sda".into(), size: 5 }, Disk { name: "sdb".into(), size: 7 }],
                tags: None
            }
        );
    }

    #[test]
    fn a_mismatch_names_the_path_and_both_types() {
        let bad = Value::Named("Disk".into(), vec![("name".into(), s("sdc")), ("size".into(), s("big"))]);
        let v = Value::Dict(vec![(s("disks"), list(vec![bad])), (s("tags"), Value::None)], None);
        let e = from_value::<Host>(&v).unwrap_err().to_string();
        assert!(e.contains("at [\"disks\"][0].size"), "{e}");
        assert!(e.contains("expected u64") && e.contains("Python has a str there"), "{e}");
        assert!(e.contains("Host"), "{e}");
    }

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name("alloc::vec::Vec<my::Disk>"), "Vec<Disk>");
        assert_eq!(short_type_name("(u8, core::option::Option<&str>)"), "(u8, Option<&str>)");
    }

    #[test]
    fn big_ints_fit_or_overflow() {
        let big = Value::BigInt("170141183460469231731687303715884105727".into());
        assert_eq!(from_value::<i128>(&big).unwrap(), i128::MAX);
        assert!(from_value::<i64>(&big).is_err());
        let huge = Value::BigInt("340282366920938463463374607431768211456".into());
        let e = from_value::<u128>(&huge).unwrap_err().to_string();
        assert!(e.contains("does not fit in 128 bits"), "{e}");
        assert!(from_value::<u8>(&Value::Int(256)).unwrap_err().to_string().contains("u8"));
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Shape {
        Point,
        Circle { r: f64 },
        Pair(i32, i32),
    }

    #[test]
    fn enums_sets_and_bytes() {
        assert_eq!(from_value::<Shape>(&s("Point")).unwrap(), Shape::Point);
        let circle = Value::Named("shapes.Circle".into(), vec![("r".into(), Value::Float(1.5))]);
        assert_eq!(from_value::<Shape>(&circle).unwrap(), Shape::Circle { r: 1.5 });
        let pair =
            Value::Dict(vec![(s("Pair"), Value::Seq(SeqKind::Tuple, vec![Value::Int(1), Value::Int(2)], None))], None);
        assert_eq!(from_value::<Shape>(&pair).unwrap(), Shape::Pair(1, 2));
        let set = Value::Seq(SeqKind::Set, vec![Value::Int(3)], None);
        assert_eq!(from_value::<HashSet<i32>>(&set).unwrap(), HashSet::from([3]));
        assert_eq!(from_value::<Vec<u8>>(&Value::Bytes(vec![0, 255])).unwrap(), vec![0, 255]);
        assert!(from_value::<(i32,)>(&Value::Seq(SeqKind::Tuple, vec![Value::Int(1), Value::Int(2)], None)).is_err());
        assert!(from_value::<String>(&Value::WideStr(vec![0x61, 0xDC80])).is_err());
        let e = from_value::<String>(&Value::Object("socket.socket".into(), "<socket>".into())).unwrap_err();
        assert!(e.to_string().contains("eval_ref"), "{e}");
    }
}
