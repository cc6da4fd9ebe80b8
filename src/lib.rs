//! pushy: run Python on remote machines over ssh, with nothing installed
//! there.
//!
//! A [`Session`] starts the system `ssh` to a host (or a local interpreter
//! for [`Target::Local`]), pushes a small Python server over the channel's
//! stdin, and then evaluates code remotely, returning results by value as a
//! [`Value`] tree:
//!
//! ```no_run
//! use pushy::{Session, Target};
//! let mut session = Session::connect(&Target::parse("local:")?)?;
//! let entries = session.eval(r#"os.listdir("/")"#)?;
//! println!("{}", pushy::printer::Pretty { width: 80, color: false }.render(&entries));
//! # Ok::<(), pushy::Error>(())
//! ```
//!
//! The layers follow the data flow, each using only those above it in this
//! list: [`target`] (where), `transport` (start a command there),
//! [`bootstrap`] (push the server), `connect` (which interpreter, sudo, what
//! a failed start means), [`protocol`] (frames), [`session`] (requests, with
//! `stdin` forwarding), [`value`] (results), [`printer`] (output) and
//! [`transfer`] (files, over a session).

pub mod error;

pub mod target;
mod transport;
pub mod bootstrap;
mod connect;
pub mod protocol;
pub mod session;
mod stdin;
pub mod value;
pub mod printer;
pub mod transfer;

pub use error::{Error, ErrorKind, RemoteError, Result};
pub use session::{
    Completeness, Event, Interrupter, Mode, PtySize, Reply, Request, ServerInfo, Session, Stream, Transfer,
    COMPLETION_BUDGET,
};
pub use target::{ConnectOptions, PasswordSource, Reuse, SshTarget, Target};
pub use transport::{control_dir, disconnect, stop_owned_masters};
pub use value::Value;
