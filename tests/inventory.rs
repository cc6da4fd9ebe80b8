//! Inventories as Ansible reads them: for INI, YAML, directory and script
//! inventories and Ansible's patterns, `pushy exec --list-hosts` must select
//! exactly the hosts `ansible PATTERN -i INV --list-hosts` selects. Ansible
//! comes from the throwaway venv `.ci/run` makes (`PUSHY_ANSIBLE_BIN`, else
//! `/tmp/pushy-ansible/bin`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::done::Exit;
use crate::support::pushy::{private_dir, pushy};

/// The directory holding `ansible` and `ansible-inventory`.
fn ansible_bin() -> PathBuf {
    let dir =
        std::env::var_os("PUSHY_ANSIBLE_BIN").map(PathBuf::from).unwrap_or_else(|| "/tmp/pushy-ansible/bin".into());
    assert!(
        dir.join("ansible").exists(),
        "ansible-core is needed for this test: `python3 -m venv /tmp/pushy-ansible && \
         /tmp/pushy-ansible/bin/pip install ansible-core` (.ci/run does), or set PUSHY_ANSIBLE_BIN"
    );
    dir
}

/// PATH with Ansible first (pushy reads YAML through ansible-inventory).
fn path_with(bin: &Path) -> std::ffi::OsString {
    let mut paths = vec![bin.to_path_buf()];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap()
}

/// The hosts Ansible selects, sorted.
fn ansible_selects(bin: &Path, inventory: &Path, pattern: &str) -> Vec<String> {
    let out = Command::new(bin.join("ansible"))
        .args([pattern, "-i"])
        .arg(inventory)
        .arg("--list-hosts")
        .env("PATH", path_with(bin))
        .env("ANSIBLE_LOCALHOST_WARNING", "False")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False")
        .output()
        .expect("run ansible");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut hosts: Vec<String> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("hosts ("))
        .skip(1)
        .map(|l| l.trim().to_string())
        .collect();
    hosts.retain(|h| !h.is_empty());
    hosts.sort();
    hosts
}

/// The hosts pushy selects, sorted (none when it says nothing matches).
fn pushy_selects(bin: &Path, inventory: &Path, pattern: &str) -> Vec<String> {
    let done = pushy()
        .env("PATH", path_with(bin))
        .args(["exec", "--inventory", &inventory.display().to_string(), pattern, "--list-hosts"])
        .run();
    done.exits_one_of(&[Exit::Code(0), Exit::Code(2)]);
    if !done.stderr().is_empty() {
        // Nothing matched: a usage error, where Ansible lists no host.
        done.stderr_has("matches").code(2);
        return Vec::new();
    }
    let mut hosts: Vec<String> = done.stdout().lines().map(str::to_string).collect();
    hosts.sort();
    hosts
}

const INI: &str = "\
lonely ansible_host=10.0.0.9
[web]
web[01:03] ansible_user=deploy
[db]
db1 ansible_port=2222
db2
[prod:children]
web
db
[staging]
web03
db2
[db:vars]
ansible_user=postgres
";

const YAML: &str = "\
all:
  hosts:
    lonely:
  children:
    web:
      hosts:
        web01:
        web02:
        web03:
    db:
      hosts:
        db1:
          ansible_port: 2222
        db2:
    prod:
      children:
        web:
        db:
    staging:
      hosts:
        web03:
        db2:
";

const SCRIPT: &str = r#"#!/bin/sh
cat <<'JSON'
{
  "web": {"hosts": ["web01", "web02", "web03"], "vars": {"ansible_user": "deploy"}},
  "db": {"hosts": ["db1", "db2"]},
  "prod": {"children": ["web", "db"]},
  "staging": {"hosts": ["web03", "db2"]},
  "ungrouped": {"hosts": ["lonely"]},
  "_meta": {"hostvars": {"db1": {"ansible_port": 2222}}}
}
JSON
"#;

const PATTERNS: &[&str] = &[
    "all",
    "web",
    "prod",
    "db1",
    "web,db1",
    "prod:&staging",
    "prod:!staging",
    "all:!prod",
    "prod,&staging,!db",
    "~web0[12]",
    "~(web|db)2",
    "web0*",
    "w*:!web02",
    "web[0]",
    "prod[1:3]",
    "web0[!1]",
    "nosuch",
];

fn compare(inventory: &Path) {
    let bin = ansible_bin();
    let mut differ = Vec::new();
    for pattern in PATTERNS {
        let (theirs, ours) = (ansible_selects(&bin, inventory, pattern), pushy_selects(&bin, inventory, pattern));
        if theirs != ours {
            differ.push(format!("{pattern:?}: ansible {theirs:?}, pushy {ours:?}"));
        }
    }
    assert!(differ.is_empty(), "{}:\n{}", inventory.display(), differ.join("\n"));
}

#[test]
fn ini_inventories_select_as_ansible_does() {
    let dir = private_dir();
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(&inventory, INI).unwrap();
    compare(&inventory);
}

#[test]
fn yaml_inventories_select_as_ansible_does() {
    let dir = private_dir();
    let inventory = dir.path().join("hosts.yml");
    std::fs::write(&inventory, YAML).unwrap();
    compare(&inventory);
}

#[test]
fn script_inventories_select_as_ansible_does() {
    use std::os::unix::fs::PermissionsExt;
    let dir = private_dir();
    let inventory = dir.path().join("inventory.sh");
    std::fs::write(&inventory, SCRIPT).unwrap();
    std::fs::set_permissions(&inventory, std::fs::Permissions::from_mode(0o755)).unwrap();
    compare(&inventory);
}

#[test]
fn inventory_directories_select_as_ansible_does() {
    let dir = private_dir();
    let inventory = dir.path().join("inventory");
    std::fs::create_dir(&inventory).unwrap();
    // Two files: the groups of one, hosts of the other.
    let (first, second) = INI.split_at(INI.find("[db]").unwrap());
    std::fs::write(inventory.join("10-web.ini"), first).unwrap();
    std::fs::write(inventory.join("20-db.ini"), second).unwrap();
    compare(&inventory);
}

#[test]
fn a_yaml_inventory_needs_no_ansible_and_its_variables_apply() {
    let dir = private_dir();
    let inventory = dir.path().join("hosts.yaml");
    std::fs::write(
        &inventory,
        "all:\n  children:\n    web:\n      hosts:\n        web[01:02]:\n          ansible_port: 2200\n      vars:\n        ansible_user: deploy\n    here:\n      hosts:\n        box:\n          ansible_connection: local\n",
    )
    .unwrap();
    let inv = inventory.display().to_string();
    // PATH as it is (no Ansible venv on it): read natively.
    pushy().args(["exec", "--inventory", &inv, "web", "--list-hosts"]).run().success().stdout_is("web01\nweb02\n");
    // ansible_connection=local: no ssh at all.
    pushy().args(["exec", "--inventory", &inv, "here", "6 * 7"]).run().success().stdout_is("42\n");
}
