//! Shared helpers for the integration tests.
//!
//! `sshd` starts one real OpenSSH server on 127.0.0.1 per test process, with a
//! client config (`ssh -F`) whose host aliases cover the cases pushy must
//! handle: a plain login, a `.bashrc` that prints junk, fish/tcsh/dash login
//! shells, a changed host key, a refused key and a closed port.

pub mod pushy;
pub mod sshd;
