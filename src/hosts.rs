//! Host lists as users write them: `web1,web2,db1`, or `@hosts.txt` (one
//! host per line, `#` comments, blank lines ignored).

use pushy::{Error, ErrorKind};

/// The hosts a HOST argument names, in order, without duplicates.
pub fn expand(spec: &str) -> pushy::Result<Vec<String>> {
    let mut hosts = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        if let Some(path) = part.strip_prefix('@') {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::new(ErrorKind::Usage, format!("cannot read host list {path}: {e}"))
                    .with_hint("@FILE names a file with one host per line")
            })?;
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                if !line.is_empty() {
                    hosts.push(line.to_string());
                }
            }
        } else if !part.is_empty() {
            hosts.push(part.to_string());
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

/// True when a HOST argument may name more than one host.
pub fn is_many(spec: &str) -> bool {
    spec.contains(',') || spec.starts_with('@')
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
}
