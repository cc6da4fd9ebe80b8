//! Python's `repr()` of scalars, computed locally: floats, str and bytes.
//! The pretty printer builds on these so that a printed literal reads back
//! with `ast.literal_eval` exactly as the remote value was.

/// `repr(float)`: the shortest digits that round-trip, fixed notation for
/// exponents -4..16, otherwise `1e+100` style, as CPython prints them.
pub fn float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7", "1e100", "0e0".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{sign}{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

/// Appends an int's decimal digits: what `write!(out, "{i}")` writes,
/// without the formatting machinery (a million numbers are a million calls).
pub fn push_int(out: &mut String, i: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = i.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// Whether `repr(s)` is `s` between single quotes: printable ASCII with no
/// quote or backslash, as most names and paths are. The printers write such
/// a str as it is, without the escaping pass.
pub fn plain_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\')
}

/// `repr(str)` for a string given as code points (lone surrogates allowed).
pub fn str_repr(chars: impl Iterator<Item = u32> + Clone) -> String {
    let has_single = chars.clone().any(|c| c == u32::from('\''));
    let has_double = chars.clone().any(|c| c == u32::from('"'));
    let quote = if has_single && !has_double { '"' } else { '\'' };
    let mut out = String::with_capacity(2 + chars.clone().count());
    out.push(quote);
    for cp in chars {
        match char::from_u32(cp) {
            Some('\\') => out.push_str("\\\\"),
            Some('\n') => out.push_str("\\n"),
            Some('\r') => out.push_str("\\r"),
            Some('\t') => out.push_str("\\t"),
            Some(c) if c == quote => {
                out.push('\\');
                out.push(c);
            }
            Some(c) if is_printable(c) => out.push(c),
            _ if cp < 0x100 => out.push_str(&format!("\\x{cp:02x}")),
            _ if cp < 0x10000 => out.push_str(&format!("\\u{cp:04x}")),
            _ => out.push_str(&format!("\\U{cp:08x}")),
        }
    }
    out.push(quote);
    out
}

/// `repr(bytes)`, without the `b` prefix handling of subclasses.
pub fn bytes_repr(bytes: &[u8]) -> String {
    let has_single = bytes.contains(&b'\'');
    let has_double = bytes.contains(&b'"');
    let quote = if has_single && !has_double { b'"' } else { b'\'' };
    let mut out = String::with_capacity(bytes.len() + 3);
    out.push('b');
    out.push(quote as char);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ if b == quote => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// An approximation of `str.isprintable()` for one character: controls,
/// separators other than the space, format characters and private use are
/// escaped, as CPython does.
fn is_printable(c: char) -> bool {
    let cp = u32::from(c);
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(cp,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xFFFE | 0xFFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_strs_are_their_own_repr() {
        for text in ["", "abc", "file-000001 name.txt", "a\"b", "~!@#$%^&*()"] {
            assert!(plain_ascii(text), "{text}");
            assert_eq!(str_repr(text.chars().map(u32::from)), format!("'{text}'"));
        }
        for text in ["it's", "a\\b", "tab\t", "caf\u{e9}", "\u{7f}"] {
            assert!(!plain_ascii(text), "{text:?}");
        }
    }

    #[test]
    fn ints_print_as_rust_formats_them() {
        for i in [0, 1, -1, 9, 10, -10, 1234567890, i64::MAX, i64::MIN, i64::MIN + 1] {
            let mut out = String::from("x");
            push_int(&mut out, i);
            assert_eq!(out, format!("x{i}"));
        }
    }

    #[test]
    fn floats_print_like_python() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (123.456, "123.456"),
            (-2.5, "-2.5"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
            (1.0 / 3.0, "0.3333333333333333"),
        ];
        for (f, want) in cases {
            assert_eq!(float(f), want, "{f:?}");
        }
    }

    #[test]
    fn strings_print_like_python() {
        let s = |t: &str| str_repr(t.chars().map(u32::from));
        assert_eq!(s("it's"), r#""it's""#);
        assert_eq!(s("a'b\"c"), r#"'a\'b"c'"#);
        assert_eq!(s("tab\tnl\n\\ \x00 \x7f é \u{200b}"), r"'tab\tnl\n\\ \x00 \x7f é \u200b'");
        assert_eq!(str_repr([0x61, 0xDCFF].into_iter()), r"'a\udcff'");
        assert_eq!(bytes_repr(b"\x00\xff'a"), r#"b"\x00\xff'a""#);
    }
}
