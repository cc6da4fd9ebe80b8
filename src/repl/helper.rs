//! The rustyline helper: tab completion from the remote namespace, and input
//! highlighting. Nothing of completion is computed locally: the server
//! answers with rlcompleter's rule (names, attributes, module names, dict
//! keys), never running calls or properties. Highlighting is local
//! ([`super::highlight`]).
//!
//! A completion has a time budget ([`pushy::COMPLETION_BUDGET`]) and Ctrl-C
//! cancels it; keys typed meanwhile stay queued in the terminal for the line
//! editor, none is read here.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use pushy::{Completeness, Session, COMPLETION_BUDGET};
use rustyline::completion::{Completer, Pair};
use std::borrow::Cow;

use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::highlight::{self, Syntax};
use crate::interrupt::CtrlC;

/// Completion through the live session.
pub struct RemoteHelper {
    pub session: Rc<RefCell<Session>>,
    pub ctrl_c: CtrlC,
    pub syntax: Syntax,
    /// What the line being read is for.
    pub line: Cell<Line>,
}

/// What the editor is reading.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// Python for the REPL: completion, highlighting, blocks.
    Code,
    /// A line the remote code reads (`input()`): plain text.
    Plain,
    /// A password (`getpass`): plain text, shown as nothing.
    Secret,
}

impl Completer for RemoteHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let Some(before) = line.get(..pos).filter(|_| self.line.get() == Line::Code) else {
            return Ok((pos.min(line.len()), Vec::new()));
        };
        // Indentation, not completion, at the start of a line (as CPython does).
        if before.trim().is_empty() {
            return Ok((pos, vec![Pair { display: "    ".into(), replacement: "    ".into() }]));
        }
        let Ok(mut session) = self.session.try_borrow_mut() else {
            return Ok((pos, Vec::new()));
        };
        self.ctrl_c.reset();
        let answer = {
            let _signals = CtrlCSignals::enable();
            session.complete_within(before, COMPLETION_BUDGET)
        };
        match answer {
            Ok(Some((start, items))) => {
                let pairs = items
                    .into_iter()
                    .map(|item| {
                        let display = item.rsplit('.').next().unwrap_or(&item).to_string();
                        Pair { display, replacement: item }
                    })
                    .collect();
                Ok((start, pairs))
            }
            // Over budget, cancelled or failed: no candidates, and the line
            // stays as typed. A lost session shows at the next request.
            Ok(None) | Err(_) => Ok((pos, Vec::new())),
        }
    }
}

/// While a completion waits, Ctrl-C must reach the interrupt handler as
/// SIGINT: the line editor's raw mode turns it into a byte that nobody reads
/// until the completion is over. Turning ISIG on (TCSANOW: nothing queued is
/// flushed or reinterpreted) affects only keys pressed from now on, so
/// type-ahead stays in order. Quit and suspend stay off: only Ctrl-C gains
/// a meaning. The terminal's previous settings come back on drop.
struct CtrlCSignals {
    saved: Option<libc::termios>,
}

impl CtrlCSignals {
    fn enable() -> CtrlCSignals {
        // SAFETY: termios calls on fd 0 with a structure tcgetattr fills in
        // whole before it is read.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 || saved.c_lflag & libc::ISIG != 0 {
                return CtrlCSignals { saved: None };
            }
            let mut signals = saved;
            signals.c_lflag |= libc::ISIG;
            signals.c_cc[libc::VQUIT] = libc::_POSIX_VDISABLE;
            signals.c_cc[libc::VSUSP] = libc::_POSIX_VDISABLE;
            if libc::tcsetattr(0, libc::TCSANOW, &signals) != 0 {
                return CtrlCSignals { saved: None };
            }
            CtrlCSignals { saved: Some(saved) }
        }
    }
}

impl Drop for CtrlCSignals {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the structure tcgetattr filled in.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, saved) };
        }
    }
}

impl Hinter for RemoteHelper {
    type Hint = String;
}

impl Highlighter for RemoteHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        match self.line.get() {
            Line::Code => self.syntax.paint(line, pos),
            Line::Plain => Cow::Borrowed(line),
            // As many blanks as the text is wide: the cursor stays where
            // the editor puts it, and nothing of the secret shows.
            Line::Secret => Cow::Owned(" ".repeat(line.chars().count())),
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        match self.line.get() {
            Line::Code => self.syntax.refresh(kind == CmdKind::ForcedRefresh),
            Line::Plain => false,
            Line::Secret => kind != CmdKind::MoveCursor,
        }
    }
}

/// A block is one editable buffer: Enter asks the host whether the input is
/// complete by CPython's own rule (`codeop`), and while it is not, Enter
/// starts a new line of the same buffer, so earlier lines can still be
/// edited and the up-arrow recalls the whole block. Invalid input counts as
/// complete: running it shows the error.
impl Validator for RemoteHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if self.line.get() != Line::Code
            || input.trim().is_empty()
            || input.trim_start().starts_with(':')
            || highlight::surely_complete(input)
        {
            return Ok(ValidationResult::Valid(None));
        }
        let Ok(mut session) = self.session.try_borrow_mut() else {
            return Ok(ValidationResult::Valid(None));
        };
        match session.check(input) {
            Ok(Completeness::Incomplete) => Ok(ValidationResult::Incomplete),
            // Complete, invalid, or no answer: the run says which.
            _ => Ok(ValidationResult::Valid(None)),
        }
    }
}

impl Helper for RemoteHelper {}
