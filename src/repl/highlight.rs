//! Input highlighting, as CPython 3.14's REPL does it: keywords, builtins,
//! strings, numbers, comments and the names that `def` and `class` define,
//! each in the colour of CPython's default theme, and the bracket that
//! matches the one at the cursor.
//!
//! The painter only inserts ANSI escapes, never changes a character
//! (rustyline requires the same display width), and is lenient: it is run
//! on every keystroke over half-typed code, so an unclosed string or bracket
//! is coloured as far as it goes, never an error.

use std::borrow::Cow;
use std::cell::Cell;

/// CPython 3.14's `_colorize` default theme for the REPL.
const KEYWORD: &str = "\x1b[1;34m";
const BUILTIN: &str = "\x1b[36m";
const COMMENT: &str = "\x1b[31m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[33m";
const DEFINITION: &str = "\x1b[1m";
const BRACKET: &str = "\x1b[1;35m";
const RESET: &str = "\x1b[0m";

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

const BUILTINS: &[&str] = &[
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
];

/// One coloured stretch of the input: `[start, end)` in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    color: &'static str,
}

/// The highlighter: colours on or off, and whether the bracket match is
/// shown (not in the final rendering of an accepted line).
pub struct Syntax {
    color: bool,
    brackets: Cell<bool>,
}

impl Syntax {
    /// `color`: false under NO_COLOR, `--color never` or off a terminal.
    pub fn new(color: bool) -> Syntax {
        Syntax { color, brackets: Cell::new(true) }
    }

    /// The line with escapes inserted; the cursor's bracket pair marked.
    pub fn paint<'l>(&self, line: &'l str, cursor: usize) -> Cow<'l, str> {
        if !self.color || line.is_empty() {
            return Cow::Borrowed(line);
        }
        let (mut spans, brackets) = scan(line);
        if self.brackets.get() {
            if let Some((a, b)) = matching_pair(&brackets, line, cursor) {
                spans.push(Span { start: a, end: a + 1, color: BRACKET });
                spans.push(Span { start: b, end: b + 1, color: BRACKET });
                spans.sort_by_key(|s| s.start);
            }
        }
        if spans.is_empty() {
            return Cow::Borrowed(line);
        }
        let mut out = String::with_capacity(line.len() + spans.len() * 10);
        let mut at = 0;
        for span in spans {
            out.push_str(&line[at..span.start]);
            out.push_str(span.color);
            out.push_str(&line[span.start..span.end]);
            out.push_str(RESET);
            at = span.end;
        }
        out.push_str(&line[at..]);
        Cow::Owned(out)
    }

    /// Tells rustyline to repaint on every key (the painter is cheap), and
    /// drops the bracket mark for the final rendering of a line.
    pub fn refresh(&self, final_render: bool) -> bool {
        self.brackets.set(!final_render);
        self.color
    }
}

/// Whether `input` is a complete statement for certain, by looking at it:
/// one line, brackets balanced, no string left open, no `:` or `\` at the
/// end, and no compound statement or decorator (which CPython ends only at
/// an empty line). When this says no, the host's `codeop` decides; when it
/// says yes, a round trip is saved (a plain line costs one, not two).
pub fn surely_complete(input: &str) -> bool {
    if input.contains('\n') {
        return false;
    }
    let code = input.trim();
    let first = code.split(|c: char| !(c == '_' || c.is_alphanumeric())).next().unwrap_or("");
    const COMPOUND: &[&str] = &[
        "if", "elif", "else", "for", "while", "def", "class", "with", "try", "except", "finally", "async", "match",
        "case",
    ];
    if code.is_empty() || code.starts_with('@') || COMPOUND.contains(&first) {
        return false;
    }
    let (spans, brackets) = scan(code);
    let open_string = spans.iter().any(|s| s.color == STRING && !closes(&code[s.start..s.end]));
    let depth = brackets.iter().fold(0i64, |depth, &at| match code.as_bytes()[at] {
        b'(' | b'[' | b'{' => depth + 1,
        _ => depth - 1,
    });
    // A comment is no part of the statement: `f(x)  # done:` is complete.
    let statement = spans.iter().find(|s| s.color == COMMENT).map_or(code, |c| code[..c.start].trim_end());
    let unfinished = statement.ends_with(':') || statement.ends_with('\\');
    !open_string && depth == 0 && !unfinished
}

/// Whether a string literal's text (prefix and quotes included) is closed.
fn closes(literal: &str) -> bool {
    let body = literal.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let quote = if body.starts_with("\"\"\"") || body.starts_with("'''") { &body[..3] } else { &body[..1] };
    body.len() >= 2 * quote.len() && body.ends_with(quote) && !body[..body.len() - quote.len()].ends_with('\\')
}

/// The coloured spans of `line` and the positions of its brackets outside
/// strings and comments.
fn scan(line: &str) -> (Vec<Span>, Vec<usize>) {
    let bytes = line.as_bytes();
    let mut spans = Vec::new();
    let mut brackets = Vec::new();
    let mut after_def = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'#' {
            let end = line[i..].find('\n').map_or(line.len(), |n| i + n);
            spans.push(Span { start: i, end, color: COMMENT });
            i = end;
            continue;
        }
        if let Some(end) = string_at(line, i) {
            spans.push(Span { start: i, end, color: STRING });
            i = end;
            after_def = false;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let mut end = i + 1;
            while end < bytes.len() {
                let d = bytes[end];
                let exponent_sign = (d == b'+' || d == b'-') && matches!(bytes[end - 1], b'e' | b'E');
                if d.is_ascii_alphanumeric() || d == b'_' || d == b'.' || exponent_sign {
                    end += 1;
                } else {
                    break;
                }
            }
            spans.push(Span { start: i, end, color: NUMBER });
            i = end;
            continue;
        }
        let ch = line[i..].chars().next().expect("i is on a char boundary");
        if ch == '_' || ch.is_alphabetic() {
            let end = line[i..]
                .char_indices()
                .find(|&(_, c)| !(c == '_' || c.is_alphanumeric()))
                .map_or(line.len(), |(n, _)| i + n);
            let word = &line[i..end];
            // An attribute (`x.print`) is not the builtin.
            let attribute = line[..i].trim_end_matches([' ', '\t']).ends_with('.');
            let color = if after_def {
                Some(DEFINITION)
            } else if KEYWORDS.contains(&word) {
                Some(KEYWORD)
            } else if !attribute && BUILTINS.contains(&word) {
                Some(BUILTIN)
            } else {
                None
            };
            if let Some(color) = color {
                spans.push(Span { start: i, end, color });
            }
            after_def = word == "def" || word == "class";
            i = end;
            continue;
        }
        if matches!(c, b'(' | b'[' | b'{' | b')' | b']' | b'}') {
            brackets.push(i);
        }
        if !c.is_ascii_whitespace() {
            after_def = false;
        }
        i += ch.len_utf8();
    }
    (spans, brackets)
}

/// If a string literal (with any prefix: r, b, f, rb, ...) starts at `i`,
/// where it ends: after its closing quote, or at the end of the line (or of
/// the input, for a triple-quoted one) if it is not closed yet.
fn string_at(line: &str, i: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut q = i;
    while q < bytes.len() && q - i < 2 && matches!(bytes[q].to_ascii_lowercase(), b'r' | b'b' | b'f' | b'u') {
        q += 1;
    }
    // A prefix belongs to a string only at the start of a word.
    if q > i && i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
        return None;
    }
    let quote = *bytes.get(q).filter(|b| **b == b'\'' || **b == b'"')?;
    let triple = bytes.get(q..q + 3).is_some_and(|t| t.iter().all(|b| *b == quote));
    let mut j = q + if triple { 3 } else { 1 };
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'\n' if !triple => return Some(j),
            b if b == quote && (!triple || bytes.get(j..j + 3).is_some_and(|t| t.iter().all(|b| *b == quote))) => {
                return Some(j + if triple { 3 } else { 1 });
            }
            _ => j += 1,
        }
    }
    Some(bytes.len())
}

/// The bracket just before the cursor, or else at it, and its match.
fn matching_pair(brackets: &[usize], line: &str, cursor: usize) -> Option<(usize, usize)> {
    let bytes = line.as_bytes();
    let at = [cursor.checked_sub(1), Some(cursor)].into_iter().flatten().find(|p| brackets.contains(p))?;
    let (open, close) = match bytes[at] {
        b'(' | b')' => (b'(', b')'),
        b'[' | b']' => (b'[', b']'),
        _ => (b'{', b'}'),
    };
    let mut depth = 0i32;
    if bytes[at] == open {
        for &p in brackets.iter().filter(|&&p| p > at) {
            match bytes[p] {
                b if b == open => depth += 1,
                b if b == close && depth == 0 => return Some((at, p)),
                b if b == close => depth -= 1,
                _ => {}
            }
        }
    } else {
        for &p in brackets.iter().rev().filter(|&&p| p < at) {
            match bytes[p] {
                b if b == close => depth += 1,
                b if b == open && depth == 0 => return Some((p, at)),
                b if b == open => depth -= 1,
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strip(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    fn painted(line: &str) -> String {
        Syntax::new(true).paint(line, usize::MAX).into_owned()
    }

    #[test]
    fn each_kind_gets_its_colour() {
        let line = "def f(x): return len(x) + 1.5e-3  # done";
        let out = painted(line);
        assert!(out.contains(&format!("{KEYWORD}def{RESET}")), "{out:?}");
        assert!(out.contains(&format!("{DEFINITION}f{RESET}")), "{out:?}");
        assert!(out.contains(&format!("{KEYWORD}return{RESET}")), "{out:?}");
        assert!(out.contains(&format!("{BUILTIN}len{RESET}")), "{out:?}");
        assert!(out.contains(&format!("{NUMBER}1.5e-3{RESET}")), "{out:?}");
        assert!(out.contains(&format!("{COMMENT}# done{RESET}")), "{out:?}");
    }

    #[test]
    fn strings_with_prefixes_escapes_and_no_end() {
        let out = painted(r#"x = rb'a\'b' + f"{y}" + "open"#);
        assert!(out.contains(&format!("{STRING}rb'a\\'b'{RESET}")), "{out:?}");
        assert!(out.contains(&format!("{STRING}f\"{{y}}\"{RESET}")), "{out:?}");
        assert!(out.ends_with(&format!("{STRING}\"open{RESET}")), "{out:?}");
        // A keyword inside a string is string, and a name ending in r is not a prefix.
        let out = painted("for'if' or'x'");
        assert!(out.contains(&format!("{STRING}'if'{RESET}")), "{out:?}");
    }

    #[test]
    fn attributes_are_not_builtins() {
        assert!(!painted("sys.print").contains(BUILTIN));
    }

    #[test]
    fn the_bracket_at_the_cursor_and_its_match() {
        let syntax = Syntax::new(true);
        let line = "f(a[1], (b))";
        let out = syntax.paint(line, 3).into_owned(); // just after `[`
        assert!(out.contains(&format!("{BRACKET}[{RESET}")) && out.contains(&format!("{BRACKET}]{RESET}")), "{out:?}");
        let out = syntax.paint(line, line.len()).into_owned(); // after the last `)`
        assert_eq!(out.matches(BRACKET).count(), 2, "{out:?}");
        assert!(out.starts_with(&format!("f{BRACKET}({RESET}")), "{out:?}");
        // Brackets in strings do not count; the final rendering shows none.
        assert_eq!(syntax.paint("g(')')", 2).matches(BRACKET).count(), 2);
        syntax.refresh(true);
        assert!(!syntax.paint(line, 3).contains(BRACKET));
    }

    #[test]
    fn plain_lines_are_complete_without_asking() {
        for line in ["6 * 7", "x = [1, (2, 3)]", "print('a:b')", "f(x)  # done:", "'''doc'''", r"s = 'it\'s'"] {
            assert!(surely_complete(line), "{line}");
        }
        for line in ["def f():", "for i in range(3): i", "x = (1,", "'''open", "y = 1 + \\", "@dec", "a\nb", "s = 'x"] {
            assert!(!surely_complete(line), "{line}");
        }
    }

    #[test]
    fn no_colour_means_the_line_untouched() {
        assert!(matches!(Syntax::new(false).paint("def f(): pass", 3), Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn painting_never_changes_the_text(line in "\\PC{0,80}", cursor in 0usize..90) {
            let syntax = Syntax::new(true);
            let cursor = (0..=cursor.min(line.len())).rev().find(|c| line.is_char_boundary(*c)).unwrap_or(0);
            prop_assert_eq!(strip(&syntax.paint(&line, cursor)), line);
        }

        #[test]
        fn painting_python_like_text_never_changes_it(
            parts in proptest::collection::vec(
                prop_oneof![Just("'"), Just("\""), Just("'''"), Just("#"), Just("("), Just(")"), Just("["),
                            Just("\\"), Just("1e-5"), Just("def"), Just(" "), Just("\n"), Just("rb"), Just("日本")],
                0..30),
            cursor in 0usize..200,
        ) {
            let line = parts.concat();
            let cursor = (0..=cursor.min(line.len())).rev().find(|c| line.is_char_boundary(*c)).unwrap_or(0);
            prop_assert_eq!(strip(&Syntax::new(true).paint(&line, cursor)), line);
        }
    }
}
