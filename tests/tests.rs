//! pushy's integration tests: the real binary against `local:` and a real
//! OpenSSH server on 127.0.0.1 (see `support::sshd`), one module per area.

mod code_cache;
mod copy;
mod exec;
mod fleet;
mod generated;
mod harness;
mod helpers;
mod hostile;
mod inventory;
mod library;
mod manners;
mod modules;
mod pipelines;
mod python;
mod reach;
mod repl;
mod ssh;
mod support;
mod terminal;
mod untrusted;
