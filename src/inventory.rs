//! Ansible INI inventories (`--inventory FILE`): groups, `[group:children]`,
//! `[group:vars]`, numeric ranges (`web[01:03]`), and the per-host variables
//! pushy uses (`ansible_host`, `ansible_port`, `ansible_user`). A pattern
//! selects hosts: a group or host name, a glob (`web*`), `all`, or several
//! joined by `,` or `:`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pushy::{Error, ErrorKind};

/// One host as the inventory describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InventoryHost {
    /// The inventory name (the label in output).
    pub name: String,
    /// `ansible_host`: the address to connect to.
    pub address: Option<String>,
    /// `ansible_port`
    pub port: Option<u16>,
    /// `ansible_user`
    pub user: Option<String>,
}

/// A parsed inventory.
#[derive(Debug, Default)]
pub struct Inventory {
    hosts: BTreeMap<String, InventoryHost>,
    /// Host order as first seen, for stable output.
    order: Vec<String>,
    groups: BTreeMap<String, BTreeSet<String>>,
    children: BTreeMap<String, BTreeSet<String>>,
    group_vars: BTreeMap<String, Vec<(String, String)>>,
}

enum Section {
    Hosts(String),
    Children(String),
    Vars(String),
}

impl Inventory {
    /// Reads and parses an inventory file; errors name the file and line.
    pub fn load(path: &Path) -> pushy::Result<Inventory> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot read inventory {}: {e}", path.display())))?;
        Inventory::parse(&text, &path.display().to_string())
    }

    /// Parses inventory text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> pushy::Result<Inventory> {
        let mut inv = Inventory::default();
        let mut section = Section::Hosts("ungrouped".to_string());
        for (number, raw) in text.lines().enumerate() {
            let bad = |why: &str| {
                Error::new(ErrorKind::Usage, format!("{origin}:{}: {why}: {}", number + 1, raw.trim())).with_hint(
                    "pushy reads Ansible INI inventories: [group], [group:children], [group:vars], host key=value",
                )
            };
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(header) = line.strip_prefix('[') {
                let header = header.strip_suffix(']').ok_or_else(|| bad("unclosed section header"))?.trim();
                section = match header.split_once(':') {
                    None => Section::Hosts(header.to_string()),
                    Some((group, "children")) => Section::Children(group.to_string()),
                    Some((group, "vars")) => Section::Vars(group.to_string()),
                    Some(_) => return Err(bad("unknown section kind")),
                };
                let (Section::Hosts(group) | Section::Children(group) | Section::Vars(group)) = &section;
                if group.is_empty() || group.contains(char::is_whitespace) {
                    return Err(bad("bad group name"));
                }
                inv.groups.entry(group.clone()).or_default();
                continue;
            }
            match &section {
                Section::Hosts(group) => {
                    let mut words = line.split_whitespace();
                    let pattern = words.next().ok_or_else(|| bad("empty host line"))?;
                    let vars = words
                        .map(|w| w.split_once('=').ok_or_else(|| bad("expected key=value")))
                        .collect::<pushy::Result<Vec<_>>>()?;
                    for name in expand_range(pattern).map_err(|why| bad(&why))? {
                        let host = inv
                            .hosts
                            .entry(name.clone())
                            .or_insert_with(|| InventoryHost { name: name.clone(), ..Default::default() });
                        for (k, v) in &vars {
                            apply(host, k, v).map_err(|why| bad(&why))?;
                        }
                        if !inv.order.contains(&name) {
                            inv.order.push(name.clone());
                        }
                        inv.groups.entry(group.clone()).or_default().insert(name);
                    }
                }
                Section::Children(group) => {
                    inv.children.entry(group.clone()).or_default().insert(line.to_string());
                }
                Section::Vars(group) => {
                    let (k, v) = line.split_once('=').ok_or_else(|| bad("expected key=value"))?;
                    inv.group_vars.entry(group.clone()).or_default().push((k.trim().to_string(), v.trim().to_string()));
                }
            }
        }
        // Group variables apply to the hosts of the group (and its children)
        // unless the host line set them itself.
        for (group, vars) in inv.group_vars.clone() {
            for name in inv.members(&group) {
                let host = inv.hosts.get_mut(&name).expect("members are hosts");
                for (k, v) in &vars {
                    let unset = match k.as_str() {
                        "ansible_host" => host.address.is_none(),
                        "ansible_port" => host.port.is_none(),
                        "ansible_user" => host.user.is_none(),
                        _ => false,
                    };
                    if unset {
                        apply(host, k, v)
                            .map_err(|why| Error::new(ErrorKind::Usage, format!("{origin}: [{group}:vars]: {why}")))?;
                    }
                }
            }
        }
        Ok(inv)
    }

    /// The hosts of a group, through its children (cycles are harmless).
    fn members(&self, group: &str) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![group.to_string()];
        let mut hosts = BTreeSet::new();
        while let Some(g) = todo.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            if let Some(members) = self.groups.get(&g) {
                hosts.extend(members.iter().cloned());
            }
            if let Some(kids) = self.children.get(&g) {
                todo.extend(kids.iter().cloned());
            }
        }
        self.order.iter().filter(|h| hosts.contains(*h)).cloned().collect()
    }

    /// The hosts a pattern selects, in inventory order.
    pub fn select(&self, pattern: &str) -> pushy::Result<Vec<InventoryHost>> {
        let mut chosen = BTreeSet::new();
        for part in pattern.split([',', ':']).map(str::trim).filter(|p| !p.is_empty()) {
            let before = chosen.len();
            if part == "all" || part == "*" {
                chosen.extend(self.order.iter().cloned());
            } else if self.groups.contains_key(part) {
                chosen.extend(self.members(part));
            } else {
                for name in self.order.iter().filter(|h| glob(part, h)) {
                    chosen.insert(name.clone());
                }
                for group in self.groups.keys().filter(|g| part.contains('*') && glob(part, g)) {
                    chosen.extend(self.members(group));
                }
            }
            if chosen.len() == before && !self.order.iter().any(|h| glob(part, h)) && !self.groups.contains_key(part) {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!("no host or group matches {part:?} in the inventory"),
                ));
            }
        }
        Ok(self.order.iter().filter(|h| chosen.contains(*h)).map(|h| self.hosts[h].clone()).collect())
    }
}

fn apply(host: &mut InventoryHost, key: &str, value: &str) -> Result<(), String> {
    let value = value.trim_matches(|c| c == '"' || c == '\'');
    match key {
        "ansible_host" | "ansible_ssh_host" => host.address = Some(value.to_string()),
        "ansible_port" | "ansible_ssh_port" => {
            host.port = Some(value.parse().map_err(|_| format!("bad port {value:?}"))?)
        }
        "ansible_user" | "ansible_ssh_user" => host.user = Some(value.to_string()),
        _ => {} // other variables mean nothing to pushy
    }
    Ok(())
}

/// `web[01:03]` → web01, web02, web03 (zero padding kept); other names as is.
fn expand_range(pattern: &str) -> Result<Vec<String>, String> {
    let Some((head, rest)) = pattern.split_once('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let (range, tail) = rest.split_once(']').ok_or("unclosed [ in host range")?;
    let (from, to) = range.split_once(':').ok_or("a host range is [FROM:TO]")?;
    let (a, b): (u64, u64) = (from.parse().map_err(|_| "bad range start")?, to.parse().map_err(|_| "bad range end")?);
    if a > b || b - a > 100_000 {
        return Err("bad host range".into());
    }
    let width = if from.starts_with('0') { from.len() } else { 0 };
    Ok((a..=b).map(|i| format!("{head}{i:0width$}{tail}")).collect())
}

/// Shell-style `*` and `?` matching.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INV: &str = "\
lonely ansible_host=10.0.0.9
[web]
web[01:02] ansible_user=deploy
[db]
db1 ansible_host=127.0.0.1 ansible_port=2222
[prod:children]
web
db
[db:vars]
ansible_user=postgres
";

    #[test]
    fn groups_children_ranges_and_vars() {
        let inv = Inventory::parse(INV, "hosts.ini").unwrap();
        let names = |p: &str| inv.select(p).unwrap().into_iter().map(|h| h.name).collect::<Vec<_>>();
        assert_eq!(names("web"), ["web01", "web02"]);
        assert_eq!(names("prod"), ["web01", "web02", "db1"]);
        assert_eq!(names("all"), ["lonely", "web01", "web02", "db1"]);
        assert_eq!(names("web0*,lonely"), ["lonely", "web01", "web02"]);
        let db = &inv.select("db1").unwrap()[0];
        assert_eq!(
            (db.address.as_deref(), db.port, db.user.as_deref()),
            (Some("127.0.0.1"), Some(2222), Some("postgres"))
        );
        assert_eq!(inv.select("web01").unwrap()[0].user.as_deref(), Some("deploy"));
        assert!(inv.select("nosuch").is_err());
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let err = Inventory::parse("[web\nh1\n", "inv.ini").unwrap_err();
        assert!(err.to_string().starts_with("inv.ini:1:"), "{err}");
        let err = Inventory::parse("[web]\nh1 ansible_port=x\n", "inv.ini").unwrap_err();
        assert!(err.to_string().starts_with("inv.ini:2: bad port"), "{err}");
        let err = Inventory::parse("[web]\nh1 novalue\n", "inv.ini").unwrap_err();
        assert!(err.to_string().contains("inv.ini:2"), "{err}");
    }
}
