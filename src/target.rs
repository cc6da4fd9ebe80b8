//! Where the code runs: an ssh destination (with the ssh flags users know) or
//! `local:`, a local interpreter reached through the very same bootstrap.
//!
//! Validation happens here, before anything is spawned: a host that could be
//! read by ssh as an option (`-oProxyCommand=...`) or that carries shell or
//! control characters never reaches ssh.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

/// A place to run Python.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A local interpreter, started directly (no ssh, no shell).
    Local,
    /// A host reached with the system `ssh`.
    Ssh(SshTarget),
}

/// An ssh destination and the ssh flags that shape the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshTarget {
    /// `host`, `user@host`, or an alias from the user's ssh config.
    pub destination: String,
    /// `-p PORT`
    pub port: Option<u16>,
    /// `-l USER`
    pub user: Option<String>,
    /// `-i KEY`, in order.
    pub identities: Vec<PathBuf>,
    /// `-F CONFIG`
    pub config: Option<PathBuf>,
    /// `-J JUMP`
    pub jump: Option<String>,
    /// `-o OPTION`, in order.
    pub options: Vec<String>,
}

/// How to connect, beyond where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The remote interpreter; `None` tries `python3`, then `python` (if it is Python 3).
    pub python: Option<String>,
    /// Keep the ssh master this long after the last use, so the next call is fast.
    pub persist: Duration,
    /// What to do with ssh masters.
    pub reuse: Reuse,
    /// Bound on establishing the ssh connection (`ConnectTimeout`).
    pub connect_timeout: Option<Duration>,
    /// Run the interpreter as this user through sudo (`--sudo` is root).
    pub become_user: Option<String>,
    /// Where sudo's password comes from, when a rule asks for one.
    pub password: Option<PasswordSource>,
}

/// Supplies sudo's password on demand (the CLI asks on the terminal, once);
/// `None` means there is none to give. The library never prompts itself.
#[derive(Clone)]
pub struct PasswordSource(pub Arc<dyn Fn() -> Option<String> + Send + Sync>);

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordSource(..)")
    }
}

impl PartialEq for PasswordSource {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PasswordSource {}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            python: None,
            persist: Duration::from_secs(60),
            reuse: Reuse::Keep,
            connect_timeout: None,
            become_user: None,
            password: None,
        }
    }
}

/// Sharing of ssh connections (masters) between pushy runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Use a master an earlier run left, or start one and leave it for the
    /// next run; it idles out after `persist`.
    Keep,
    /// Use a master an earlier run left; one started now ends with the session.
    Attach,
    /// A fresh master of this session's own, ended with it.
    Never,
}

/// `word` as a shell reads it back: as it is when plain, else in single
/// quotes; with control characters, in `$'...'` with escapes, so a hint
/// stays on one line. For hints that suggest a command to paste.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b)) {
        word.to_string()
    } else if word.chars().any(char::is_control) {
        let escaped: String = word
            .chars()
            .map(|c| match c {
                '\\' | '\'' => format!("\\{c}"),
                '\n' => "\\n".to_string(),
                '\t' => "\\t".to_string(),
                c if c.is_control() => format!("\\x{:02x}", c as u32),
                c => c.to_string(),
            })
            .collect();
        format!("$'{escaped}'")
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

impl Target {
    /// Parses `local:` or an ssh destination (`host`, `user@host`,
    /// `ssh://user@host:port`). Only `local:` means this machine: a bare
    /// `local` is an ssh host name like any other.
    pub fn parse(text: &str) -> Result<Target> {
        if text == "local:" {
            return Ok(Target::Local);
        }
        Ok(Target::Ssh(SshTarget::parse(text)?))
    }

    /// A short name for messages and prompts.
    pub fn display_name(&self) -> String {
        match self {
            Target::Local => "local:".to_string(),
            Target::Ssh(ssh) => ssh.destination.clone(),
        }
    }
}

impl SshTarget {
    /// An ssh destination with no extra flags.
    pub fn parse(text: &str) -> Result<SshTarget> {
        let mut target = SshTarget::default();
        let mut rest = text;
        if let Some(url) = text.strip_prefix("ssh://") {
            rest = url.trim_end_matches('/');
            if let Some((host, port)) = rest.rsplit_once(':') {
                if !host.ends_with(']') || host.starts_with('[') {
                    let port = port.parse::<u16>().map_err(|_| Error::usage(format!("bad port in '{text}'")))?;
                    target.port = Some(port);
                    rest = host;
                }
            }
        }
        check_host(rest)?;
        target.destination = rest.to_string();
        Ok(target)
    }

    /// The ssh arguments (before the destination) that these flags stand for.
    pub fn ssh_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(config) = &self.config {
            args.push("-F".to_string());
            args.push(config.display().to_string());
        }
        if let Some(port) = self.port {
            args.push("-p".to_string());
            args.push(port.to_string());
        }
        if let Some(user) = &self.user {
            args.push("-l".to_string());
            args.push(user.clone());
        }
        for key in &self.identities {
            args.push("-i".to_string());
            args.push(key.display().to_string());
        }
        if let Some(jump) = &self.jump {
            args.push("-J".to_string());
            args.push(jump.clone());
        }
        for option in &self.options {
            args.push("-o".to_string());
            args.push(option.clone());
        }
        args
    }
}

/// Refuses destinations ssh could misread: option-like, empty, or carrying
/// whitespace, quotes or shell metacharacters.
fn check_host(host: &str) -> Result<()> {
    if host.is_empty() {
        return Err(Error::usage("empty host").with_hint("give a host as in `ssh HOST`, or local:"));
    }
    if host.starts_with('-') {
        return Err(Error::usage(format!(
            "refusing host '{host}': it begins with '-' and ssh would read it as an option"
        ))
        .with_hint("pass ssh options with -o, -p, -l, -i, -F or -J"));
    }
    if let Some(bad) = host.chars().find(|c| !(c.is_alphanumeric() || "._-@:[]%+".contains(*c))) {
        return Err(Error::usage(format!("refusing host {host:?}: it contains {bad:?}"))
            .with_hint("hosts are names, addresses or ssh config aliases"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_hosts() {
        assert_eq!(Target::parse("local:").unwrap(), Target::Local);
        assert!(matches!(Target::parse("local").unwrap(), Target::Ssh(ssh) if ssh.destination == "local"));
    }

    #[test]
    fn shell_words_paste_back_on_one_line() {
        assert_eq!(shell_word("web1"), "web1");
        assert_eq!(shell_word("/my cfg"), "'/my cfg'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("a\nb'c"), "$'a\\nb\\'c'");
        let Target::Ssh(t) = Target::parse("root@web1").unwrap() else { panic!() };
        assert_eq!(t.destination, "root@web1");
        let Target::Ssh(t) = Target::parse("ssh://me@db:2222").unwrap() else { panic!() };
        assert_eq!((t.destination.as_str(), t.port), ("me@db", Some(2222)));
    }

    #[test]
    fn hostile_hosts_are_refused() {
        for bad in ["-oProxyCommand=touch /tmp/x", "host;rm -rf /", "a b", "h\nx", "", "$(id)", "h'q"] {
            let err = Target::parse(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Usage, "{bad:?}");
        }
    }
}
