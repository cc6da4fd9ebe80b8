//! The rustyline helper: tab completion from the remote namespace. Nothing
//! is computed locally: the server answers with rlcompleter's rule (names,
//! attributes, module names, dict keys), never running calls or properties.

use std::cell::RefCell;
use std::rc::Rc;

use pushy::Session;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

/// Completion through the live session.
pub struct RemoteHelper {
    pub session: Rc<RefCell<Session>>,
}

impl Completer for RemoteHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        // Indentation, not completion, at the start of a line (as CPython does).
        if before.trim().is_empty() {
            return Ok((pos, vec![Pair { display: "    ".into(), replacement: "    ".into() }]));
        }
        let Ok(mut session) = self.session.try_borrow_mut() else {
            return Ok((pos, Vec::new()));
        };
        match session.complete(before) {
            Ok((start, items)) => {
                let pairs = items
                    .into_iter()
                    .map(|item| {
                        let display = item.rsplit('.').next().unwrap_or(&item).to_string();
                        Pair { display, replacement: item }
                    })
                    .collect();
                Ok((start, pairs))
            }
            Err(_) => Ok((pos, Vec::new())),
        }
    }
}

impl Hinter for RemoteHelper {
    type Hint = String;
}

impl Highlighter for RemoteHelper {}

impl Validator for RemoteHelper {}

impl Helper for RemoteHelper {}
