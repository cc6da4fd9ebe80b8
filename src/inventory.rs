//! Ansible inventories (`--inventory`), read as Ansible reads them: INI
//! files (groups, `[group:children]`, `[group:vars]`, ranges `web[01:03]`),
//! YAML files, directories of them, executable dynamic inventories, and
//! plugin configs through `ansible-inventory`; all become one model, that of
//! Ansible's inventory JSON. The per-host variables pushy uses:
//! `ansible_host`, `ansible_port`, `ansible_user`,
//! `ansible_ssh_private_key_file`, `ansible_python_interpreter`,
//! `ansible_become`, `ansible_become_user`, `ansible_connection=local`.
//! Patterns select hosts with Ansible's rules (see [`Inventory::select`]);
//! `tests/inventory.rs` checks them against Ansible itself.

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
    /// `ansible_ssh_private_key_file`
    pub key: Option<String>,
    /// `ansible_python_interpreter`
    pub python: Option<String>,
    /// `ansible_become` (true or false)
    pub become_: Option<bool>,
    /// `ansible_become_user`
    pub become_user: Option<String>,
    /// `ansible_connection=local`: this machine, no ssh.
    pub local: bool,
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
    /// Reads an inventory as Ansible would: an INI or YAML file; an
    /// executable (a dynamic inventory, run with `--list`, printing
    /// Ansible's JSON); a directory (every file in it, merged); a plugin's
    /// config (`plugin: aws_ec2`) through `ansible-inventory --list` when it
    /// is installed. Errors name the file and line.
    pub fn load(path: &Path) -> pushy::Result<Inventory> {
        let mut inv = Inventory::default();
        inv.load_into(path)?;
        Ok(inv)
    }

    fn load_into(&mut self, path: &Path) -> pushy::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let unreadable = |e: &dyn std::fmt::Display| {
            Error::new(ErrorKind::Usage, format!("cannot read inventory {}: {e}", path.display()))
        };
        let meta = std::fs::metadata(path).map_err(|e| unreadable(&e))?;
        if meta.is_dir() {
            let mut entries: Vec<_> =
                std::fs::read_dir(path).map_err(|e| unreadable(&e))?.flatten().map(|e| e.path()).collect();
            entries.sort();
            for entry in entries {
                let name = entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                // As Ansible: hidden files, backups and host_vars/group_vars are no inventories.
                let skip = name.starts_with('.')
                    || name.ends_with('~')
                    || [".orig", ".bak", ".ini.bak", ".cfg", ".retry", ".pyc", ".pyo"]
                        .iter()
                        .any(|x| name.ends_with(x))
                    || name == "host_vars"
                    || name == "group_vars";
                if !skip {
                    self.load_into(&entry)?;
                }
            }
            return Ok(());
        }
        if meta.permissions().mode() & 0o111 != 0 {
            let out = std::process::Command::new(path).arg("--list").stdin(std::process::Stdio::null()).output();
            let out = out.map_err(|e| unreadable(&e))?;
            if !out.status.success() {
                let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!("the inventory script {} failed: {said}", path.display()),
                ));
            }
            return self.merge_json(&out.stdout, &path.display().to_string());
        }
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(&e))?;
        let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
            || text.trim_start().starts_with("---")
            || text.lines().any(|l| l.trim_end() == "all:");
        if yaml {
            let origin = path.display().to_string();
            return match yaml_to_json(&text, &origin)? {
                Some(json) => self.merge_json(json.to_string().as_bytes(), &origin),
                // A plugin's config (`plugin: aws_ec2`): Ansible's business.
                None => self.through_ansible(path),
            };
        }
        let parsed = Inventory::parse(&text, &path.display().to_string())?;
        self.merge(parsed);
        Ok(())
    }

    /// Any source Ansible understands, through `ansible-inventory --list`.
    fn through_ansible(&mut self, path: &Path) -> pushy::Result<()> {
        let out = std::process::Command::new("ansible-inventory")
            .arg("-i")
            .arg(path)
            .arg("--list")
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|_| {
                Error::new(
                    ErrorKind::Usage,
                    format!("{} is an inventory plugin's config, which Ansible reads", path.display()),
                )
                .with_hint("install ansible-core (for ansible-inventory)")
            })?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(Error::new(
                ErrorKind::Usage,
                format!("ansible-inventory cannot read {}: {said}", path.display()),
            ));
        }
        self.merge_json(&out.stdout, &path.display().to_string())
    }

    /// Adds another inventory's hosts, groups and variables to this one.
    fn merge(&mut self, other: Inventory) {
        for name in other.order {
            let host = other.hosts[&name].clone();
            if !self.hosts.contains_key(&name) {
                self.order.push(name.clone());
            }
            self.hosts.insert(name, host);
        }
        for (group, members) in other.groups {
            self.groups.entry(group).or_default().extend(members);
        }
        for (group, kids) in other.children {
            self.children.entry(group).or_default().extend(kids);
        }
        for (group, vars) in other.group_vars {
            self.group_vars.entry(group).or_default().extend(vars);
        }
    }

    /// Ansible's inventory JSON (`--list` of a script or of
    /// `ansible-inventory`): groups with `hosts`, `children` and `vars`,
    /// and `_meta.hostvars`.
    fn merge_json(&mut self, json: &[u8], origin: &str) -> pushy::Result<()> {
        let bad = |why: String| {
            Error::new(ErrorKind::Usage, format!("{origin}: not Ansible inventory JSON: {why}")).with_hint(
                "a dynamic inventory prints {\"group\": {\"hosts\": [...]}, \"_meta\": {\"hostvars\": {...}}}",
            )
        };
        let doc: serde_json::Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        let groups = doc.as_object().ok_or_else(|| bad("not an object".into()))?;
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        let mut inv = Inventory::default();
        let add_host = |inv: &mut Inventory, name: &str| {
            if !inv.hosts.contains_key(name) {
                inv.hosts.insert(name.to_string(), InventoryHost { name: name.to_string(), ..Default::default() });
                inv.order.push(name.to_string());
            }
        };
        for (group, body) in groups.iter().filter(|(g, _)| *g != "_meta") {
            inv.groups.entry(group.clone()).or_default();
            // The old form: a group is a list of hosts.
            let (hosts, children, vars) = match body {
                serde_json::Value::Array(hosts) => (Some(hosts), None, None),
                serde_json::Value::Object(o) => (
                    o.get("hosts").and_then(|h| h.as_array()),
                    o.get("children").and_then(|c| c.as_array()),
                    o.get("vars").and_then(|v| v.as_object()),
                ),
                _ => return Err(bad(format!("group {group:?} is neither a list nor an object"))),
            };
            for host in hosts.into_iter().flatten().filter_map(|h| h.as_str()) {
                add_host(&mut inv, host);
                inv.groups.entry(group.clone()).or_default().insert(host.to_string());
            }
            for kid in children.into_iter().flatten().filter_map(|k| k.as_str()) {
                inv.children.entry(group.clone()).or_default().insert(kid.to_string());
            }
            for (k, v) in vars.into_iter().flatten() {
                inv.group_vars.entry(group.clone()).or_default().push((k.clone(), text(v)));
            }
        }
        // Host order as Ansible's: from `all` down, each group's hosts as
        // listed, then its children in turn (JSON objects come sorted).
        let listed = |group: &str, key: &str| -> Vec<String> {
            let body = groups.get(group);
            let list = match (body, key) {
                (Some(serde_json::Value::Array(hosts)), "hosts") => Some(hosts),
                (Some(serde_json::Value::Object(o)), key) => o.get(key).and_then(|v| v.as_array()),
                _ => None,
            };
            list.into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
        };
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = vec!["all".into(), "ungrouped".into()];
        todo.extend(groups.keys().filter(|g| *g != "_meta").cloned());
        todo.reverse();
        while let Some(group) = todo.pop() {
            if !seen.insert(group.clone()) {
                continue;
            }
            order.extend(listed(&group, "hosts"));
            for kid in listed(&group, "children").into_iter().rev() {
                todo.push(kid);
            }
        }
        let mut rank = std::collections::HashMap::new();
        for host in order {
            let next = rank.len();
            rank.entry(host).or_insert(next);
        }
        inv.order.sort_by_key(|h| rank.get(h).copied().unwrap_or(usize::MAX));
        let hostvars = doc.get("_meta").and_then(|m| m.get("hostvars")).and_then(|h| h.as_object());
        for (name, vars) in hostvars.into_iter().flatten() {
            add_host(&mut inv, name);
            let host = inv.hosts.get_mut(name).expect("just added");
            for (k, v) in vars.as_object().into_iter().flatten() {
                apply(host, k, &text(v)).map_err(|why| bad(format!("{name}: {why}")))?;
            }
        }
        inv.apply_group_vars(origin)?;
        self.merge(inv);
        Ok(())
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
                    for name in crate::hosts::ranges(pattern).map_err(|e| bad(&e.to_string()))? {
                        if !inv.hosts.contains_key(&name) {
                            inv.order.push(name.clone());
                        }
                        let host = inv
                            .hosts
                            .entry(name.clone())
                            .or_insert_with(|| InventoryHost { name: name.clone(), ..Default::default() });
                        for (k, v) in &vars {
                            apply(host, k, v).map_err(|why| bad(&why))?;
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
        inv.apply_group_vars(origin)?;
        Ok(inv)
    }

    /// Group variables apply to the hosts of the group (and its children)
    /// unless the host set them itself.
    fn apply_group_vars(&mut self, origin: &str) -> pushy::Result<()> {
        let inv = self;
        for (group, vars) in inv.group_vars.clone() {
            for name in inv.members(&group) {
                let host = inv.hosts.get_mut(&name).expect("members are hosts");
                for (k, v) in &vars {
                    let unset = match k.as_str() {
                        "ansible_host" => host.address.is_none(),
                        "ansible_port" => host.port.is_none(),
                        "ansible_user" => host.user.is_none(),
                        "ansible_ssh_private_key_file" | "ansible_private_key_file" => host.key.is_none(),
                        "ansible_python_interpreter" => host.python.is_none(),
                        "ansible_become" => host.become_.is_none(),
                        "ansible_become_user" => host.become_user.is_none(),
                        "ansible_connection" => !host.local,
                        _ => false,
                    };
                    if unset {
                        apply(host, k, v)
                            .map_err(|why| Error::new(ErrorKind::Usage, format!("{origin}: [{group}:vars]: {why}")))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every group and host name, for completions.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.groups.keys().cloned().chain(self.order.iter().cloned())
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

    /// The hosts a pattern selects, in inventory order, as Ansible selects
    /// them (`inventory/manager.py`): terms split on `,` (or `:`), each a
    /// group or host name, a glob (`web*`), a regex (`~web0[12]`), or `all`;
    /// the plain terms are joined, then `&TERM` keeps only hosts also in
    /// TERM, then `!TERM` removes TERM's hosts.
    pub fn select(&self, pattern: &str) -> pushy::Result<Vec<InventoryHost>> {
        let terms = split_pattern(pattern);
        let mut chosen: BTreeSet<String> = BTreeSet::new();
        // Ansible's order: plain terms, then intersections, then exclusions.
        let rank = |t: &&str| if t.starts_with('!') { 2 } else { usize::from(t.starts_with('&')) };
        let mut ordered: Vec<&str> = terms.clone();
        ordered.sort_by_key(rank);
        let mut any_plain = false;
        for term in ordered {
            if let Some(rest) = term.strip_prefix('!') {
                let out = self.term(rest)?;
                chosen.retain(|h| !out.contains(h));
            } else if let Some(rest) = term.strip_prefix('&') {
                let keep = self.term(rest)?;
                chosen.retain(|h| keep.contains(h));
            } else {
                any_plain = true;
                let found = self.term(term)?;
                if found.is_empty() {
                    return Err(Error::new(
                        ErrorKind::Usage,
                        format!("no host or group matches {term:?} in the inventory"),
                    )
                    .with_hint("--list-hosts shows what a pattern selects"));
                }
                chosen.extend(found);
            }
        }
        if !any_plain {
            return Err(Error::new(ErrorKind::Usage, format!("the pattern {pattern:?} selects nothing to start from"))
                .with_hint("begin with a group, a host or `all`, then &TERM and !TERM"));
        }
        Ok(self.order.iter().filter(|h| chosen.contains(*h)).map(|h| self.hosts[h].clone()).collect())
    }

    /// The hosts one term names: groups first (by name, glob or regex),
    /// then hosts the same way. `TERM[N]`, `TERM[N:M]` (both ends counted,
    /// negative from the end) pick from TERM's hosts in inventory order.
    fn term(&self, term: &str) -> pushy::Result<BTreeSet<String>> {
        if let Some((base, from, to)) = subscript(term) {
            let matched = self.term(base)?;
            let hosts: Vec<String> = self.order.iter().filter(|h| matched.contains(*h)).cloned().collect();
            let len = hosts.len() as i64;
            let at = |i: i64| if i < 0 { len + i } else { i };
            let (a, b) = (at(from.unwrap_or(0)), at(to.unwrap_or(len - 1)));
            return Ok(hosts
                .into_iter()
                .enumerate()
                .filter(|(i, _)| (a..=b).contains(&(*i as i64)))
                .map(|(_, h)| h)
                .collect());
        }
        let mut found = BTreeSet::new();
        if term == "all" || term == "*" {
            found.extend(self.order.iter().cloned());
            return Ok(found);
        }
        let matches: Box<dyn Fn(&str) -> bool> = if let Some(re) = term.strip_prefix('~') {
            let re = regex::Regex::new(&format!("^(?:{re})")).map_err(|e| {
                Error::new(ErrorKind::Usage, format!("bad regex in pattern {term:?}: {e}"))
                    .with_hint("a ~TERM is a Python-style regular expression matched at the start of a name")
            })?;
            Box::new(move |name: &str| re.is_match(name))
        } else if term.contains(['*', '?', '[']) {
            let term = term.to_string();
            Box::new(move |name: &str| glob(&term, name))
        } else {
            let term = term.to_string();
            Box::new(move |name: &str| name == term)
        };
        for group in self.groups.keys().filter(|g| matches(g)) {
            found.extend(self.members(group));
        }
        found.extend(self.order.iter().filter(|h| matches(h)).cloned());
        Ok(found)
    }
}

/// `NAME[N]`, `NAME[N:M]`, `NAME[N:]`, `NAME[:M]` (numbers, maybe negative):
/// the name and the ends (`[N]` is `N..=N`).
fn subscript(term: &str) -> Option<(&str, Option<i64>, Option<i64>)> {
    let inner = term.strip_suffix(']')?;
    let open = inner.rfind('[')?;
    let (base, range) = (&inner[..open], &inner[open + 1..]);
    let number = |s: &str| if s.is_empty() { Ok(None) } else { s.parse::<i64>().map(Some) };
    if base.is_empty() || base.starts_with('~') {
        return None;
    }
    match range.split_once(':') {
        None => number(range).ok().flatten().map(|n| (base, Some(n), Some(n))),
        Some((a, b)) => Some((base, number(a).ok()?, number(b).ok()?)),
    }
}

/// A pattern's terms: split on `,` when it has one, else on `:` (the older
/// form), never inside a `~regex` or a `[range]`.
fn split_pattern(pattern: &str) -> Vec<&str> {
    let sep = if pattern.contains(',') { ',' } else { ':' };
    let mut terms = Vec::new();
    let (mut start, mut depth) = (0, 0i32);
    for (at, c) in pattern.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if c == sep && depth == 0 && !pattern[start..].starts_with('~') => {
                terms.push(&pattern[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    terms.push(&pattern[start..]);
    terms.into_iter().map(str::trim).filter(|t| !t.is_empty()).collect()
}

fn apply(host: &mut InventoryHost, key: &str, value: &str) -> Result<(), String> {
    let value = value.trim_matches(|c| c == '"' || c == '\'');
    match key {
        "ansible_host" | "ansible_ssh_host" => host.address = Some(value.to_string()),
        "ansible_port" | "ansible_ssh_port" => {
            host.port = Some(value.parse().map_err(|_| format!("bad port {value:?}"))?)
        }
        "ansible_user" | "ansible_ssh_user" => host.user = Some(value.to_string()),
        "ansible_ssh_private_key_file" | "ansible_private_key_file" => host.key = Some(value.to_string()),
        // `auto` and friends are Ansible's discovery: pushy discovers anyway.
        "ansible_python_interpreter" if !value.starts_with("auto") => host.python = Some(value.to_string()),
        "ansible_become" => {
            host.become_ = Some(match value.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => true,
                "false" | "no" | "0" | "off" => false,
                _ => return Err(format!("ansible_become is {value:?}, not a boolean")),
            })
        }
        "ansible_become_user" => host.become_user = Some(value.to_string()),
        "ansible_connection" => host.local = value == "local",
        _ => {} // other variables mean nothing to pushy
    }
    Ok(())
}

/// A YAML inventory (`all: {hosts: {h: vars}, vars: {}, children: {g: ...}}`)
/// as Ansible's inventory JSON, or `None` for a plugin's config.
fn yaml_to_json(text: &str, origin: &str) -> pushy::Result<Option<serde_json::Value>> {
    use serde_json::{Map, Value as J};
    use yaml_rust2::Yaml;
    let bad = |why: String| {
        Error::new(ErrorKind::Usage, format!("{origin}: {why}"))
            .with_hint("a YAML inventory maps groups to hosts, vars and children, as Ansible's does")
    };
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| bad(e.to_string()))?;
    let Some(Yaml::Hash(top)) = docs.into_iter().next() else { return Err(bad("not a mapping of groups".into())) };
    if top.contains_key(&Yaml::String("plugin".into())) {
        return Ok(None);
    }
    fn scalar(y: &Yaml) -> J {
        match y {
            Yaml::String(s) | Yaml::Real(s) => J::String(s.clone()),
            Yaml::Integer(i) => J::from(*i),
            Yaml::Boolean(b) => J::Bool(*b),
            Yaml::Array(items) => J::Array(items.iter().map(scalar).collect()),
            Yaml::Hash(h) => {
                J::Object(h.iter().filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), scalar(v)))).collect())
            }
            _ => J::Null,
        }
    }
    let mut groups: Map<String, J> = Map::new();
    let mut hostvars: Map<String, J> = Map::new();
    // Depth-first over the groups, each seen once; a group may appear as
    // several groups' child and gather hosts from each mention.
    let mut todo: Vec<(String, Yaml)> =
        top.iter().filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v.clone()))).collect();
    todo.reverse();
    while let Some((name, body)) = todo.pop() {
        let entry =
            groups.entry(name.clone()).or_insert_with(|| serde_json::json!({"hosts": [], "children": [], "vars": {}}));
        let Yaml::Hash(body) = body else { continue }; // `group:` with nothing under it
        if let Some(Yaml::Hash(hosts)) = body.get(&Yaml::String("hosts".into())) {
            for (host, vars) in hosts {
                let host = host.as_str().map(str::to_string).or_else(|| host.as_i64().map(|i| i.to_string()));
                let Some(host) = host else { return Err(bad(format!("a host name in {name} is not a string"))) };
                for host in crate::hosts::ranges(&host).map_err(|e| bad(e.to_string()))? {
                    let list = entry["hosts"].as_array_mut().expect("made as an array");
                    if !list.iter().any(|h| h == &J::String(host.clone())) {
                        list.push(J::String(host.clone()));
                    }
                    let mine = hostvars.entry(host).or_insert_with(|| J::Object(Map::new()));
                    if let J::Object(new) = scalar(vars) {
                        mine.as_object_mut().expect("made as an object").extend(new);
                    }
                }
            }
        }
        if let Some(Yaml::Hash(vars)) = body.get(&Yaml::String("vars".into())) {
            if let J::Object(vars) = scalar(&Yaml::Hash(vars.clone())) {
                entry["vars"].as_object_mut().expect("made as an object").extend(vars);
            }
        }
        if let Some(Yaml::Hash(children)) = body.get(&Yaml::String("children".into())) {
            let mut kids: Vec<(String, Yaml)> = Vec::new();
            for (kid, kid_body) in children {
                let Some(kid) = kid.as_str() else { continue };
                let list = entry["children"].as_array_mut().expect("made as an array");
                if !list.iter().any(|k| k == kid) {
                    list.push(J::String(kid.to_string()));
                }
                kids.push((kid.to_string(), kid_body.clone()));
            }
            todo.extend(kids.into_iter().rev());
        }
    }
    let mut doc = Map::new();
    doc.extend(groups);
    doc.insert("_meta".into(), serde_json::json!({"hostvars": hostvars}));
    Ok(Some(J::Object(doc)))
}

/// fnmatch-style matching, as Ansible's: `*`, `?` and `[abc]` classes.
fn glob(pattern: &str, text: &str) -> bool {
    fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
        let end = p.iter().skip(1).position(|&b| b == b']')? + 1;
        let (negate, set) = match p.get(1) {
            Some(b'!') => (true, &p[2..end]),
            _ => (false, &p[1..end]),
        };
        let mut hit = false;
        let mut i = 0;
        while i < set.len() {
            if i + 2 < set.len() && set[i + 1] == b'-' {
                hit |= set[i] <= c && c <= set[i + 2];
                i += 3;
            } else {
                hit |= set[i] == c;
                i += 1;
            }
        }
        Some((hit != negate, end + 1))
    }
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(b'['), Some(&c)) => match class(p, c) {
                Some((true, used)) => go(&p[used..], &t[1..]),
                Some((false, _)) => false,
                None => c == b'[' && go(&p[1..], &t[1..]),
            },
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
    fn patterns_as_ansible_reads_them() {
        let inv = Inventory::parse(INV, "hosts.ini").unwrap();
        let names = |p: &str| inv.select(p).unwrap().into_iter().map(|h| h.name).collect::<Vec<_>>();
        assert_eq!(names("prod:&web"), ["web01", "web02"]);
        assert_eq!(names("prod:!db"), ["web01", "web02"]);
        assert_eq!(names("all,!web,&prod"), ["db1"]);
        assert_eq!(names("!db,prod"), ["web01", "web02"]); // exclusions come last whatever the order
        assert_eq!(names("~web0[12]"), ["web01", "web02"]);
        assert_eq!(names("~(web|db)1"), ["db1"]); // a regex matches at the start
        assert_eq!(names("web[0]"), ["web01"]); // a subscript, as Ansible's
        assert_eq!(names("prod[1:2]"), ["web02", "db1"]); // both ends counted
        assert_eq!(names("prod[-1]"), ["db1"]);
        assert_eq!(names("web0[!1]"), ["web02"]); // a glob class
        assert_eq!(names("p*"), ["web01", "web02", "db1"]); // a glob over group names
        assert!(inv.select("!web").is_err(), "nothing to start from");
        assert!(inv.select("~(").is_err(), "a bad regex is an error");
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
