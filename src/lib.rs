//! pushy: run Python on remote machines over ssh, with nothing installed
//! there.
//!
//! A [`Session`] starts the system `ssh` to a host (or a local interpreter
//! for [`Target::Local`]), pushes a small Python server over the channel's
//! stdin, and then evaluates code remotely, returning results by value as a
//! [`Value`] tree:
//!
//! ```
//! use pushy::{Session, Target};
//! let mut session = Session::connect(&Target::parse("local:")?)?;
//! let entries = session.eval(r#"os.listdir("/")"#)?;
//! println!("{}", pushy::printer::Pretty { width: 80, color: false }.render(&entries));
//! # Ok::<(), pushy::Error>(())
//! ```
//!
//! Remote objects "as if they were local", typed with serde ([`remote`]):
//! values read into Rust types, calls whose arguments cross by value, and
//! objects kept remote behind a [`RemoteRef`]; and one job on many hosts
//! with a [`Fleet`]:
//!
//! ```
//! use pushy::{Fleet, Session, Target};
//! #[derive(serde::Deserialize)]
//! struct Load { one: f64, five: f64, fifteen: f64 }
//! let mut s = Session::connect(&Target::parse("local:")?)?;
//! let names: Vec<String> = s.eval_as("os.listdir('/')")?;
//! let size = s.call::<u64>("os.path.getsize", ("/etc/hosts",))?;
//! let file = s.eval_ref("open('/etc/hosts', 'rb')")?;
//! let head: Vec<u8> = file.call_method(&mut s, "read", (16,))?;
//! for done in Fleet::parse("local:,local:")?.run(|_, s| s.eval_as::<Load>(
//!     "dict(zip(['one', 'five', 'fifteen'], os.getloadavg()))")) {
//!     println!("{}: {:.2}", done.host.name, done.result?.one);
//! }
//! # let _ = (names, size, head);
//! # Ok::<(), pushy::Error>(())
//! ```
//!
//! The layers follow the data flow, each using only those above it in this
//! list: [`target`] (where), `transport` (start a command there),
//! [`bootstrap`] (push the server), `connect` (which interpreter, sudo, what
//! a failed start means), [`protocol`] (frames), [`session`] (requests, with
//! `stdin` forwarding, and [`local_modules`] served to the host's imports),
//! [`value`] (results, and serde both ways), [`remote`] (typed calls and
//! remote objects), [`printer`] (output), [`transfer`] (files, over a
//! session) and [`fleet`] (many hosts).

#![warn(missing_docs)]

pub mod error;

pub mod target;
mod transport;
pub mod bootstrap;
mod connect;
pub mod protocol;
pub mod session;
pub mod local_modules;
mod stdin;
pub mod value;
pub mod printer;
pub mod transfer;
pub mod remote;
pub mod fleet;

pub use error::{Error, ErrorKind, RemoteError, Result};
pub use fleet::{Fleet, Host, HostResult};
pub use local_modules::LocalModules;
pub use remote::RemoteRef;
pub use session::{
    Completeness, Event, Interrupter, Mode, PtySize, Reply, Request, ServerInfo, Session, Stream, Transfer,
    COMPLETION_BUDGET,
};
pub use stdin::Feed;
pub use target::{ConnectOptions, PasswordSource, Reuse, SshTarget, Target};
pub use transport::{control_dir, disconnect, stop_owned_masters};
pub use value::Value;
