//! The records a download streams, typed at one boundary: each item the
//! host sends is read here into a [`Record`], and nothing after this looks
//! a field up by name. What they mean is in `bootstrap/extras.py`
//! (`send_tree`); what is done with them, and what is refused, in
//! [`super::sink`].

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use crate::error::{Error, Result};
use crate::value::Value;

/// One streamed item of a download.
pub(super) enum Record<'v> {
    /// `{"total": n, "name": base}`: the bytes to come, and the root's name.
    Header { total: u64, name: Option<OsString> },
    /// A directory, file or symlink (a file's content follows).
    Entry(Entry<'v>),
    /// Content of the file being received.
    Content(&'v [u8]),
    /// `{"end": true}`: the file's content is complete.
    End,
    /// `{"path": p, "error": why}`: an entry the host could not read.
    Unreadable(String),
}

/// A directory, file or symlink, as the host described it.
pub(super) struct Entry<'v> {
    /// The path as sent, for messages.
    pub raw_path: Option<&'v Value>,
    /// The components, if they are all strings (checked later).
    pub path: Option<Vec<OsString>>,
    pub kind: Kind,
    pub mode: u32,
    /// Access and modification times.
    pub times: Option<(f64, f64)>,
    /// A symlink's target.
    pub target: Option<OsString>,
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
    Symlink,
    Other(String),
}

impl<'v> Record<'v> {
    /// Reads an item; an item that is no record at all is a protocol error.
    pub fn parse(value: &'v Value) -> Result<Record<'v>> {
        if let Value::Bytes(bytes) = value {
            return Ok(Record::Content(bytes));
        }
        let Value::Dict(pairs, _) = value else {
            return Err(Error::protocol("a download item that is neither a record nor file content"));
        };
        let field = |key: &str| pairs.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v);
        if let Some(total) = field("total") {
            let total = total.as_i64().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
            return Ok(Record::Header { total, name: field("name").and_then(os_string) });
        }
        if field("end").is_some() {
            return Ok(Record::End);
        }
        if let Some(error) = field("error") {
            let why = os_string(error).map(|s| s.to_string_lossy().into_owned());
            return Ok(Record::Unreadable(why.unwrap_or_else(|| "an entry could not be read".into())));
        }
        let raw_path = field("path");
        let path = match raw_path {
            Some(Value::Seq(_, parts, _)) => parts.iter().map(os_string).collect(),
            _ => None,
        };
        let kind = match field("type").and_then(Value::as_str) {
            Some("dir") => Kind::Dir,
            Some("file") => Kind::File,
            Some("symlink") => Kind::Symlink,
            other => Kind::Other(other.unwrap_or("").to_string()),
        };
        let mode = field("mode").and_then(Value::as_i64).and_then(|m| u32::try_from(m).ok()).unwrap_or(0o600);
        let times = match (field("atime").and_then(number), field("mtime").and_then(number)) {
            (Some(a), Some(m)) => Some((a, m)),
            _ => None,
        };
        let target = field("target").and_then(os_string);
        Ok(Record::Entry(Entry { raw_path, path, kind, mode, times, target }))
    }
}

/// An upload's reply, `{"files": n, "bytes": n, "errors": [why, ...]}`.
pub(super) fn put_summary(value: &Value) -> Result<super::Summary> {
    let Value::Dict(pairs, _) = value else {
        return Err(Error::protocol("an upload's reply that is not a summary"));
    };
    let field = |key: &str| pairs.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v);
    let count = |key| field(key).and_then(Value::as_i64).and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    let errors = match field("errors") {
        Some(Value::Seq(_, errors, _)) => {
            errors.iter().filter_map(os_string).map(|e| e.to_string_lossy().into_owned()).collect()
        }
        _ => Vec::new(),
    };
    Ok(super::Summary { files: count("files"), bytes: count("bytes"), errors })
}

/// A name as the host sent it: a str, or a str with lone surrogates (an
/// undecodable file name, surrogate-escaped as Python does).
pub(super) fn os_string(value: &Value) -> Option<OsString> {
    match value {
        Value::Str(s) => Some(OsString::from(s)),
        Value::WideStr(points) => crate::value::surrogate_escaped(points, None).map(OsString::from_vec),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn surrogate_escaped_names_become_their_bytes() {
        let value = Value::WideStr(vec!['a' as u32, 0xDCFF, 'b' as u32]);
        assert_eq!(os_string(&value).unwrap().as_bytes(), b"a\xffb");
        assert_eq!(os_string(&Value::WideStr(vec![0xD800])), None);
    }

    #[test]
    fn records_are_typed_once() {
        let dict = |pairs: Vec<(&str, Value)>| {
            Value::Dict(pairs.into_iter().map(|(k, v)| (Value::Str(k.into()), v)).collect(), None)
        };
        let header = dict(vec![("total", Value::Int(5)), ("name", Value::Str("x".into()))]);
        assert!(matches!(Record::parse(&header).unwrap(), Record::Header { total: 5, name: Some(_) }));
        let entry = dict(vec![
            ("path", Value::Seq(crate::value::SeqKind::List, vec![], None)),
            ("type", Value::Str("dir".into())),
            ("mode", Value::Int(0o755)),
        ]);
        let Record::Entry(e) = Record::parse(&entry).unwrap() else { panic!() };
        assert_eq!((e.kind, e.mode, e.path.map(|p| p.len())), (Kind::Dir, 0o755, Some(0)));
        assert!(Record::parse(&Value::Int(1)).is_err());
    }
}
