//! The user's terminal while a REPL call runs: the remote code reads lines
//! from it (`input()`, `getpass`, `pdb`); `help()` pages through the local
//! `$PAGER` ([`crate::terminal::page`]).
//!
//! A line is read only when the server asks for one (a `read` frame), and
//! through the same line editor as the prompts: what it read past the line
//! it returns (type-ahead, a paste) stays in its buffer for the next read or
//! prompt, so no key typed ahead is lost or given to the wrong reader.
//! While the call runs and nobody reads, the terminal's echo is off (see
//! [`Repl::eval`](super::Repl)): keys typed ahead show when a prompt takes
//! them, not in the middle of the call's output, and a password typed
//! before its prompt appears is never shown.

use std::io::{BufRead, Write};

use rustyline::config::Configurer;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{ColorMode, Editor};

use super::helper::{Line, RemoteHelper};
use crate::interrupt::CtrlC;

/// Where a running call's reads come from.
pub enum Keys<'e> {
    /// The line editor on the user's terminal.
    Editor(&'e mut Editor<RemoteHelper, DefaultHistory>),
    /// Piped stdin: the script's next line, as `python3 < script` reads it.
    Piped,
}

/// The last line of the call's output that has no newline yet: `input()`
/// prints its prompt itself, and the editor shows it again as its prompt
/// (else it would start a new line below it).
#[derive(Default)]
pub struct Tail(String);

impl Tail {
    /// Output went to stdout.
    pub fn wrote(&mut self, bytes: &[u8]) {
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) => {
                self.0.clear();
                self.0.push_str(&String::from_utf8_lossy(&bytes[end + 1..]));
            }
            None => self.0.push_str(&String::from_utf8_lossy(bytes)),
        }
        if self.0.len() > 4096 {
            // Not a prompt: a long line without newlines.
            self.0.clear();
        }
    }

    /// A value was shown (ending its line).
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl Keys<'_> {
    /// A line for the remote code (with its newline), or empty at the end of
    /// input; `None` when the user pressed Ctrl-C (the call is interrupted
    /// instead of answered).
    pub fn read(&mut self, tail: &mut Tail, prompt: &str, echo: bool, ctrl_c: &CtrlC) -> Option<Vec<u8>> {
        // The host's prompt is text to show, never terminal control.
        let prompt: String = prompt.chars().filter(|c| !c.is_control()).take(200).collect();
        match self {
            Keys::Piped => {
                if !prompt.is_empty() {
                    let _ = std::io::stderr().write_all(prompt.as_bytes());
                }
                let mut line = Vec::new();
                let _ = std::io::stdin().lock().read_until(b'\n', &mut line);
                tail.clear();
                Some(line)
            }
            Keys::Editor(_) if line_editor_unsupported() => {
                // The line editor would read with whatever the terminal
                // does, which during a call is neither echo nor line
                // editing: the terminal's own line mode reads the line.
                tail.clear();
                let _cooked = crate::terminal::change(0, |t| {
                    t.c_lflag |= libc::ICANON | libc::ECHO;
                });
                crate::terminal::read_line(&prompt, echo, &|| ctrl_c.fired())
            }
            Keys::Editor(editor) => {
                let mut out = std::io::stdout().lock();
                // The output's unfinished line becomes the editor's prompt,
                // drawn over itself from the line's start; one that is not
                // plain text (or too long to be a prompt) is left alone.
                let shown = if tail.0.is_empty() {
                    prompt
                } else if tail.0.chars().any(char::is_control) || tail.0.chars().count() > 100 {
                    let _ = out.write_all(b"\n");
                    prompt
                } else {
                    let _ = out.write_all(b"\r");
                    format!("{}{prompt}", tail.0)
                };
                let _ = out.flush();
                drop(out);
                tail.clear();
                let answer = read_line(editor, &shown, echo);
                match answer {
                    Ok(mut text) => {
                        text.push('\n');
                        Some(text.into_bytes())
                    }
                    Err(ReadlineError::Interrupted) => {
                        ctrl_c.interrupt();
                        None
                    }
                    // Ctrl-D, or the terminal failed: the end of input.
                    Err(_) => Some(Vec::new()),
                }
            }
        }
    }
}

/// The terminals rustyline does not edit on (it reads them as a pipe).
fn line_editor_unsupported() -> bool {
    std::env::var("TERM").is_ok_and(|term| ["dumb", "cons25", "emacs"].iter().any(|t| term.eq_ignore_ascii_case(t)))
}

fn read_line(editor: &mut Editor<RemoteHelper, DefaultHistory>, prompt: &str, echo: bool) -> rustyline::Result<String> {
    let kind = if echo { Line::Plain } else { Line::Secret };
    if let Some(helper) = editor.helper() {
        helper.line.set(kind);
    }
    let cursor = if echo {
        None
    } else {
        // The mask is drawn by the highlighter, which rustyline calls only
        // with colour on: forced for this line (NO_COLOR would show the
        // secret). The cursor hides: it would count the characters.
        editor.set_color_mode(ColorMode::Forced);
        editor.set_cursor_visibility(false).ok().flatten()
    };
    let answer = editor.readline(prompt);
    drop(cursor);
    editor.set_color_mode(ColorMode::Enabled);
    if let Some(helper) = editor.helper() {
        helper.line.set(Line::Code);
    }
    answer
}
