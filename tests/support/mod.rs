//! Shared helpers for the integration tests.
//!
//! `pushy` builds a run of the binary under test, `running` is the one
//! process runner behind it (watchdog included), `done` the finished run
//! that checks itself, and `pty` the same command on a terminal. `sshd`
//! starts one real OpenSSH server on 127.0.0.1 per test process, with a
//! client config (`ssh -F`) whose host aliases cover the cases pushy must
//! handle: a plain login, a `.bashrc` that prints junk, fish/tcsh/dash login
//! shells, a changed host key, a refused key and a closed port. `needs`
//! fails a test that cannot run, naming what is missing.

pub mod pushy;
pub mod running;
pub mod done;
pub mod pty;
pub mod needs;
pub mod sshd;
