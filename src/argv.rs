//! The command line as people type it, put in the order clap reads, before
//! clap sees it. Three habits are honoured:
//!
//! - options before the subcommand, as git and cargo allow:
//!   `pushy -F cfg exec h1 CODE` is `pushy exec -F cfg h1 CODE`;
//! - `pushy HOST CODE`, what an ssh user types first, is `pushy exec HOST CODE`;
//! - `pushy run HOST SCRIPT ARGS...` passes everything after SCRIPT to the
//!   script, `-v`, `-h` and `--help` included (a `--` goes in after SCRIPT).
//!
//! Which options take a value is read from the clap definition itself, so
//! this never drifts from `cli.rs`.

use std::ffi::OsString;

/// The arguments, reordered; `args[0]` is the program. `command` is the
/// clap definition the caller then parses with (built once).
pub fn normalize(args: Vec<OsString>, command: &clap::Command) -> Vec<OsString> {
    let subcommands: Vec<String> = command.get_subcommands().map(|s| s.get_name().to_string()).collect();
    let takes_value = |word: &str| option_takes_value(command, word);
    let Some((program, rest)) = args.split_first() else { return args };
    let words = positions(rest, &takes_value);
    let Some(&first) = words.first() else { return args };
    let mut out = vec![program.clone()];
    let first_word = rest[first].to_string_lossy().into_owned();
    if subcommands.contains(&first_word) {
        // Options before the subcommand move after it.
        out.push(rest[first].clone());
        out.extend(rest[..first].iter().cloned());
        let tail: Vec<OsString> = rest[first + 1..].to_vec();
        if first_word == "run" {
            out.extend(script_args_apart(tail, &takes_value));
        } else {
            out.extend(tail);
        }
        return out;
    }
    if words.len() >= 2 {
        // `pushy HOST CODE`: an exec.
        out.push("exec".into());
        out.extend(rest.iter().cloned());
        return out;
    }
    args
}

/// After `run`: a `--` right after SCRIPT, so every word after it is the
/// script's, however much it looks like one of pushy's options.
fn script_args_apart(tail: Vec<OsString>, takes_value: &dyn Fn(&str) -> bool) -> Vec<OsString> {
    let words = positions(&tail, takes_value);
    let Some(&script) = words.get(1) else { return tail };
    if tail.get(script + 1).is_none() || tail[..script].iter().any(|w| w == "--") {
        return tail;
    }
    let mut out: Vec<OsString> = tail[..=script].to_vec();
    if tail[script + 1] != "--" {
        out.push("--".into());
    }
    out.extend(tail[script + 1..].iter().cloned());
    out
}

/// Where the positional words are: not options, not an option's value;
/// none after `--` is looked at.
fn positions(args: &[OsString], takes_value: &dyn Fn(&str) -> bool) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let word = args[i].to_string_lossy();
        if word == "--" {
            break;
        }
        if word.starts_with('-') && word != "-" {
            if takes_value(&word) {
                i += 1; // its value is the next word
            }
        } else {
            found.push(i);
        }
        i += 1;
    }
    found
}

/// Does this option word take its value from the next word? (`--port 22`
/// and `-p 22` do; `--port=22`, `-p22` and flags do not.)
fn option_takes_value(command: &clap::Command, word: &str) -> bool {
    let mut all: Vec<&clap::Arg> = command.get_arguments().collect();
    for sub in command.get_subcommands() {
        all.extend(sub.get_arguments());
    }
    all.retain(|arg| arg.get_action().takes_values());
    if let Some(long) = word.strip_prefix("--") {
        return !long.contains('=') && all.iter().any(|a| a.get_long() == Some(long));
    }
    let short: Vec<char> = word.chars().skip(1).collect();
    short.len() == 1 && all.iter().any(|a| a.get_short() == Some(short[0]))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn norm(line: &str) -> String {
        let args: Vec<OsString> = std::iter::once("pushy").chain(line.split(' ')).map(OsString::from).collect();
        let out: Vec<String> =
            normalize(args, &Cli::command()).into_iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
        out.join(" ")
    }

    #[test]
    fn options_before_the_subcommand_move_after_it() {
        assert_eq!(norm("-F cfg exec h1 1"), "exec -F cfg h1 1");
        assert_eq!(norm("-p 2222 -v cp a h:b"), "cp -p 2222 -v a h:b");
        assert_eq!(norm("exec -F cfg h1 1"), "exec -F cfg h1 1");
    }

    #[test]
    fn host_and_code_is_an_exec() {
        assert_eq!(norm("web1 os.getpid()"), "exec web1 os.getpid()");
        assert_eq!(norm("-F cfg web1 1 --json"), "exec -F cfg web1 1 --json");
        assert_eq!(norm("web1"), "web1");
        assert_eq!(norm("-F cfg web1"), "-F cfg web1");
    }

    #[test]
    fn run_passes_everything_after_the_script_to_it() {
        assert_eq!(norm("run h ./check.py --verbose /"), "run h ./check.py -- --verbose /");
        assert_eq!(norm("run -F cfg h ./check.py -h"), "run -F cfg h ./check.py -- -h");
        assert_eq!(norm("-v run h s.py --help"), "run -v h s.py -- --help");
        assert_eq!(norm("run h s.py -- -x"), "run h s.py -- -x");
        assert_eq!(norm("run h s.py"), "run h s.py");
        assert_eq!(norm("run --timeout 5 h s.py a"), "run --timeout 5 h s.py -- a");
    }
}
