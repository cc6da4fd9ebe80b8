//! The library's error type: what went wrong, in one line, and what to do next.
//!
//! Errors are sorted by kind because the binary maps kinds to exit codes
//! (usage 2, everything about reaching or talking to the host 255), and a
//! remote exception is not an error of pushy's at all but a [`RemoteError`]
//! the caller may print.

use std::fmt;

/// Broad classes of failure; the CLI turns each into an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller asked for something malformed (a bad host, a bad option).
    Usage,
    /// ssh could not connect, authenticate, or verify the host.
    Connection,
    /// The host has no usable Python 3.
    NoPython,
    /// The other side said something that is not pushy's protocol.
    Protocol,
    /// The remote interpreter or the channel went away mid-session.
    Disconnected,
    /// The remote code raised; see [`Error::remote`].
    Remote,
    /// A local I/O failure (a broken pipe on our own stdout, for instance).
    Io,
    /// A value did not fit the Rust type asked for (see
    /// [`Session::eval_as`](crate::Session::eval_as)), an argument could not
    /// be sent, or a [`RemoteRef`](crate::RemoteRef) was used with a session
    /// it does not belong to.
    Value,
    /// A host's time ran out (see [`Fleet::timeout`](crate::Fleet::timeout)).
    Timeout,
}

/// A pushy error: a one-line message, an optional hint that says what to do
/// next, and for remote exceptions the exception itself.
#[derive(Debug)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
    remote: Option<RemoteError>,
}

/// An exception raised by the remote code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// The exception's class name, e.g. `ZeroDivisionError`.
    pub type_name: String,
    /// `str()` of the exception.
    pub message: String,
    /// The formatted traceback, with pushy's own frames removed.
    pub traceback: String,
}

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Inner { kind, message: message.into(), hint: None, remote: None }))
    }

    /// Adds a hint line ("pass --python PATH", ...).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.0.hint = Some(hint.into());
        self
    }

    pub(crate) fn usage(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }

    pub(crate) fn from_remote(remote: RemoteError) -> Error {
        let message = format!("{}: {}", remote.type_name, remote.message);
        Error(Box::new(Inner { kind: ErrorKind::Remote, message, hint: None, remote: Some(remote) }))
    }

    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// What to do next, if pushy knows.
    pub fn hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }

    /// The remote exception, for [`ErrorKind::Remote`].
    pub fn remote(&self) -> Option<&RemoteError> {
        self.0.remote.as_ref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
