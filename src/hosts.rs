//! Host lists as users write them: `web1,web2,db1`, `@hosts.txt` (one host
//! per line, `#` comments, blank lines ignored), `@-` (the same, from
//! stdin), and ranges as Ansible writes them: `web[01:20]` (zero padding
//! kept), `web[1:9:2]` (a step), `db-[a:c]`.

use std::io::Read;

use pushy::{Error, ErrorKind};

/// The hosts a HOST argument names, in order, without duplicates.
pub fn expand(spec: &str) -> pushy::Result<Vec<String>> {
    let mut hosts = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        if let Some(path) = part.strip_prefix('@') {
            let text = if path == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot read the host list from stdin: {e}")))?;
                text
            } else {
                std::fs::read_to_string(path).map_err(|e| {
                    Error::new(ErrorKind::Usage, format!("cannot read host list {path}: {e}"))
                        .with_hint("@FILE names a file with one host per line")
                })?
            };
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                if !line.is_empty() {
                    hosts.extend(ranges(line)?);
                }
            }
        } else if !part.is_empty() {
            hosts.extend(ranges(part)?);
        }
    }
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    if hosts.is_empty() {
        return Err(
            Error::new(ErrorKind::Usage, format!("no hosts in {spec:?}")).with_hint("give HOST, H1,H2 or @FILE")
        );
    }
    Ok(hosts)
}

/// The names a shell completion offers for HOST: `local:`, the hosts of the
/// ssh config (`-F`, else `~/.ssh/config`; no patterns) and of
/// `~/.ssh/known_hosts` (unhashed), and an inventory's groups and hosts.
/// Whatever cannot be read is left out: a completion never fails.
pub fn completions(ssh_config: Option<&std::path::Path>, inventory: Option<&std::path::Path>) -> Vec<String> {
    let mut names = vec!["local:".to_string()];
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let config = ssh_config.map(std::path::Path::to_path_buf).or_else(|| home.as_ref().map(|h| h.join(".ssh/config")));
    if let Some(text) = config.and_then(|c| std::fs::read_to_string(c).ok()) {
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next().is_some_and(|w| w.eq_ignore_ascii_case("host")) {
                names.extend(words.filter(|w| !w.contains(['*', '?', '!'])).map(str::to_string));
            }
        }
    }
    if let Some(text) = home.and_then(|h| std::fs::read_to_string(h.join(".ssh/known_hosts")).ok()) {
        for line in text.lines().filter(|l| !l.starts_with(['#', '|', '@'])) {
            let hosts = line.split_whitespace().next().unwrap_or("");
            for host in hosts.split(',') {
                // `[host]:port` is the host.
                let host = host.strip_prefix('[').and_then(|h| h.split_once(']')).map_or(host, |(h, _)| h);
                if !host.is_empty() {
                    names.push(host.to_string());
                }
            }
        }
    }
    if let Some(inventory) = inventory.and_then(|path| crate::inventory::Inventory::load(path).ok()) {
        names.extend(inventory.names());
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// True when a HOST argument may name more than one host.
pub fn is_many(spec: &str) -> bool {
    spec.contains(',') || spec.starts_with('@') || range_at(spec).is_some()
}

/// A host with its ranges expanded, left to right: `web[01:03]` is web01,
/// web02, web03. Brackets that are no range (`[::1]`, an IPv6 address) are
/// left alone.
pub fn ranges(host: &str) -> pushy::Result<Vec<String>> {
    let Some((open, close, items)) = range_at(host) else { return Ok(vec![host.to_string()]) };
    let items = items.map_err(|why| {
        Error::new(ErrorKind::Usage, format!("bad host range in {host:?}: {why}"))
            .with_hint("ranges are [START:END] or [START:END:STEP], numbers or single letters")
    })?;
    let mut out = Vec::new();
    for item in items {
        for rest in ranges(&host[close + 1..])? {
            out.push(format!("{}{item}{rest}", &host[..open]));
        }
    }
    Ok(out)
}

/// The first `[a:b(:step)]` in `host`: where it opens and closes, and its
/// items (or why it is a bad range).
#[allow(clippy::type_complexity)]
fn range_at(host: &str) -> Option<(usize, usize, Result<Vec<String>, String>)> {
    let open = host.find('[')?;
    let close = open + host[open..].find(']')?;
    let inner = &host[open + 1..close];
    let parts: Vec<&str> = inner.split(':').collect();
    let plain = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric());
    if !(parts.len() == 2 || parts.len() == 3) || !parts.iter().all(plain) {
        return None; // not a range: an IPv6 address, or a literal bracket
    }
    let step = match parts.get(2).map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(step)) if step > 0 => step,
        Some(_) => return Some((open, close, Err("the step is not a positive number".into()))),
    };
    let (a, b) = (parts[0], parts[1]);
    let items = if let (Ok(start), Ok(end)) = (a.parse::<u64>(), b.parse::<u64>()) {
        if start > end {
            Err(format!("{start} is after {end}"))
        } else if (end - start) / step >= 100_000 {
            Err("more than 100000 hosts".to_string())
        } else {
            // Zero padding as written: [01:20] is 01, 02, ... 20.
            let width = if a.starts_with('0') && a.len() > 1 { a.len() } else { 0 };
            Ok((start..=end).step_by(step as usize).map(|n| format!("{n:0width$}")).collect())
        }
    } else if a.len() == 1 && b.len() == 1 && a.bytes().all(|c| c.is_ascii_alphabetic()) {
        let (start, end) = (a.as_bytes()[0], b.as_bytes()[0]);
        if start > end {
            Err(format!("{a} is after {b}"))
        } else {
            Ok((start..=end).step_by(step as usize).map(|c| (c as char).to_string()).collect())
        }
    } else {
        Err(format!("{inner:?} is neither numbers nor single letters"))
    };
    Some((open, close, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_files() {
        assert_eq!(expand("a,b,,a").unwrap(), ["a", "b"]);
        let dir = std::env::temp_dir().join(format!("pushy-hosts-{}", std::process::id()));
        std::fs::write(&dir, "# fleet\nweb1\n\nweb2  # the second\n").unwrap();
        assert_eq!(expand(&format!("@{},db", dir.display())).unwrap(), ["web1", "web2", "db"]);
        std::fs::remove_file(&dir).unwrap();
        assert!(expand("@/nonexistent/list").is_err());
        assert!(expand(",").is_err());
    }

    #[test]
    fn ranges_as_ansible_writes_them() {
        assert_eq!(expand("web[01:03]").unwrap(), ["web01", "web02", "web03"]);
        assert_eq!(expand("h[1:7:3].lan").unwrap(), ["h1.lan", "h4.lan", "h7.lan"]);
        assert_eq!(expand("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
        assert_eq!(expand("r[1:2]n[8:9]").unwrap(), ["r1n8", "r1n9", "r2n8", "r2n9"]);
        assert_eq!(expand("[::1],x").unwrap(), ["[::1]", "x"]);
        assert!(is_many("web[1:2]") && !is_many("[::1]") && !is_many("web1"));
        for bad in ["w[3:1]", "w[1:2:0]", "w[a:10]", "w[1:999999]"] {
            assert!(expand(bad).is_err(), "{bad}");
        }
    }
}
