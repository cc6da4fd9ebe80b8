//! pushy on a pseudo-terminal (rexpect), for the REPL and prompts: the same
//! command, environment and control directory as [`super::pushy::Pushy`]
//! builds for a piped run. rexpect kills the process when the session is
//! dropped, and times out each expectation after [`TIMEOUT_MS`].

use std::ops::{Deref, DerefMut};
use std::path::Path;

use rexpect::session::{spawn_command, PtySession};

use super::pushy::{Control, Pushy};

/// How long one expectation may wait (generous: CI machines have two cores).
const TIMEOUT_MS: u64 = 30_000;

/// A pushy on a pty; dereferences to rexpect's session.
pub struct Pty {
    session: PtySession,
    control: Control,
}

impl Pty {
    pub(super) fn start(pushy: Pushy) -> Pty {
        let shown = pushy.shown();
        let session = spawn_command(pushy.command(), Some(TIMEOUT_MS))
            .unwrap_or_else(|e| panic!("cannot start {shown} on a pty: {e}"));
        Pty { session, control: pushy.control }
    }

    /// The control directory this process uses.
    pub fn control_dir(&self) -> &Path {
        self.control.path()
    }
}

impl Deref for Pty {
    type Target = PtySession;

    fn deref(&self) -> &PtySession {
        &self.session
    }
}

impl DerefMut for Pty {
    fn deref_mut(&mut self) -> &mut PtySession {
        &mut self.session
    }
}
