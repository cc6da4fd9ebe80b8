//! Local modules served to the host on import: when remote code imports a
//! module the host lacks, the server's last `sys.meta_path` finder asks the
//! client for it (a `find` frame) and the client answers from the
//! directories it serves (a `found` frame), see [`crate::protocol::message`].
//!
//! The host is not trusted. It names a module by its dotted name, never by a
//! path: each part must be an identifier, and the client maps it to
//! `DIR/a/b/c.py` or `DIR/a/b/c/__init__.py` itself. A data file is a name
//! relative to a served package's directory, checked part by part (no empty
//! part, no `.`, `..` or hidden name, no NUL or backslash, so no absolute
//! path). Whatever it names is then resolved (symlinks included) and served
//! only if it lands under the served directory (a data file: under its
//! package's directory) and is a regular file; anything else is refused and
//! its bytes are never read.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest file served: a module or data file bigger than this is
/// refused rather than held in memory and sent as one frame.
pub const MAX_SERVED_FILE: u64 = 256 << 20;

/// Entries of a directory listed for `importlib.resources` (`iterdir`).
const MAX_ENTRIES: usize = 10_000;

/// What a package's answer may carry of its submodules besides (each one
/// checked as if asked for): one round trip for a package and the modules
/// it imports at once, instead of one each, without sending a large
/// package whole when one module of it is used.
const BUNDLE_BYTES: usize = 1 << 20;
const BUNDLE_MODULES: usize = 256;

/// Called with the session's name and what was served or refused (for `-v`).
pub type Report = Arc<dyn Fn(&str, &Served<'_>) + Send + Sync>;

/// The directories whose modules and data files the host may import.
pub struct LocalModules {
    dirs: Vec<ServedDir>,
    report: Option<Report>,
}

/// A served directory: as the user named it (for the file names the host
/// sees, in tracebacks) and resolved (for the checks).
struct ServedDir {
    shown: PathBuf,
    real: PathBuf,
}

/// What a `find` gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// A module's source; `package` when it is a package's `__init__.py`.
    Module {
        /// The file's bytes.
        source: Vec<u8>,
        /// The name the host shows for it (under the directory as named).
        file: String,
        /// A package (its submodules and data files are served too).
        package: bool,
    },
    /// A data file's bytes.
    Data(Vec<u8>),
    /// A directory in a package: its entries, each with whether it is a
    /// directory.
    Dir(Vec<(String, bool)>),
    /// Not served here: the import goes on as if the client were not asked.
    NotFound,
    /// Refused: the host asked for something it may not have.
    Refused(String),
}

/// What was served, for `-v`.
pub enum Served<'a> {
    /// A module, from this local file.
    Module(&'a str, &'a Path),
    /// A data file of a package, from this local file.
    Data(&'a str, &'a str, &'a Path),
    /// A request refused, and why.
    Refused(&'a str, &'a str),
}

impl LocalModules {
    /// Serves `dirs`, in order (the first that has a module wins); a
    /// directory that does not exist is skipped.
    pub fn new(dirs: impl IntoIterator<Item = PathBuf>) -> LocalModules {
        let mut served: Vec<ServedDir> = Vec::new();
        for shown in dirs {
            let Ok(real) = std::fs::canonicalize(&shown) else { continue };
            if real.is_dir() && !served.iter().any(|d| d.real == real) {
                served.push(ServedDir { shown, real });
            }
        }
        LocalModules { dirs: served, report: None }
    }

    /// Reports each module and file served, and each refusal.
    pub fn with_report(mut self, report: Report) -> LocalModules {
        self.report = Some(report);
        self
    }

    /// The directories served, as named.
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(|d| d.shown.as_path())
    }

    /// The answer to a `find`: module `name`, or with `resource`, a data
    /// file (or directory) in package `name`. `session` names the host for
    /// the report.
    pub fn answer(&self, session: &str, name: &str, resource: Option<&str>) -> Answer {
        let (answer, local) = match resource {
            None => self.module(name),
            Some(resource) => self.resource(name, resource),
        };
        if let Some(report) = &self.report {
            match (&answer, &local) {
                (Answer::Module { .. }, Some(path)) => report(session, &Served::Module(name, path)),
                (Answer::Data(_), Some(path)) => report(session, &Served::Data(name, resource.unwrap_or(""), path)),
                (Answer::Refused(why), _) => {
                    let what = match resource {
                        Some(resource) => format!("{name}: {resource}"),
                        None => name.to_string(),
                    };
                    report(session, &Served::Refused(&what, why))
                }
                _ => {}
            }
        }
        answer
    }

    /// The submodules of package `name` (subpackages and theirs too,
    /// breadth first, up to a budget) to send with it, each as
    /// [`answer`](Self::answer) would serve it: (dotted name, answer).
    pub fn bundle(&self, session: &str, name: &str) -> Vec<(String, Answer)> {
        let mut bundle = Vec::new();
        let mut bytes = 0usize;
        let mut packages = std::collections::VecDeque::from([name.to_string()]);
        while let Some(package) = packages.pop_front() {
            let Some(home) = self.module(&package).1.and_then(|init| init.parent().map(Path::to_path_buf)) else {
                continue;
            };
            for (entry, is_dir) in entries(&home) {
                let stem = if is_dir { Some(entry.as_str()) } else { entry.strip_suffix(".py") };
                let Some(stem) = stem.filter(|stem| *stem != "__init__" && is_identifier(stem)) else { continue };
                let full = format!("{package}.{stem}");
                let (answer, local) = self.module(&full);
                let (Answer::Module { source, package: is_package, .. }, Some(local)) = (&answer, local) else {
                    continue;
                };
                if bundle.len() >= BUNDLE_MODULES || bytes + source.len() > BUNDLE_BYTES {
                    return bundle;
                }
                bytes += source.len();
                if *is_package {
                    packages.push_back(full.clone());
                }
                if let Some(report) = &self.report {
                    report(session, &Served::Module(&full, &local));
                }
                bundle.push((full, answer));
            }
        }
        bundle
    }

    /// Module `name`: from the first served directory that has its top
    /// level, as Python's path finder would.
    fn module(&self, name: &str) -> (Answer, Option<PathBuf>) {
        let parts: Vec<&str> = name.split('.').collect();
        if name.len() > 1024 || !parts.iter().all(|p| is_identifier(p)) {
            return (Answer::Refused(format!("{name:?} is not a module name")), None);
        }
        for dir in &self.dirs {
            let Some(found) = self.locate(dir, &parts) else { continue };
            return match found {
                Located::Refused(why) => (Answer::Refused(why), None),
                Located::Missing => (Answer::NotFound, None),
                Located::File { rel, real, package } => match read_regular(&real) {
                    Ok(source) => {
                        // As the user named the directory; a module of the
                        // current directory as Python shows one: `helper.py`.
                        let file = if dir.shown == Path::new(".") { rel } else { dir.shown.join(&rel) };
                        let file = file.display().to_string();
                        (Answer::Module { source, file, package }, Some(real))
                    }
                    Err(why) => (Answer::Refused(why), None),
                },
            };
        }
        (Answer::NotFound, None)
    }

    /// Where module `parts` is under `dir`: `None` if `dir` does not have
    /// its top level (the next directory may).
    fn locate(&self, dir: &ServedDir, parts: &[&str]) -> Option<Located> {
        let mut rel = PathBuf::new();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let package = rel.join(part).join("__init__.py");
            match inside(&dir.real, &package) {
                Inside::File(real) => {
                    if last {
                        return Some(Located::File { rel: package, real, package: true });
                    }
                    rel.push(part);
                    continue;
                }
                Inside::Outside => return Some(Located::Refused(outside(&package))),
                Inside::Missing => {}
            }
            let module = rel.join(format!("{part}.py"));
            let found = match inside(&dir.real, &module) {
                Inside::File(real) if last => Located::File { rel: module, real, package: false },
                Inside::File(_) => Located::Missing, // a module, not a package: no submodules
                Inside::Outside => Located::Refused(outside(&module)),
                Inside::Missing if i == 0 => return None,
                Inside::Missing => Located::Missing,
            };
            return Some(found);
        }
        None
    }

    /// A data file or directory `resource` in package `package`.
    fn resource(&self, package: &str, resource: &str) -> (Answer, Option<PathBuf>) {
        let parts: Vec<&str> = if resource.is_empty() { Vec::new() } else { resource.split('/').collect() };
        if let Some(bad) = parts.iter().find(|p| !is_data_name(p)) {
            return (Answer::Refused(format!("{bad:?} in {resource:?} is not a file name in a package")), None);
        }
        let (answer, local) = self.module(package);
        let file = match (answer, local) {
            (Answer::Module { package: true, .. }, Some(file)) => file,
            (Answer::Refused(why), _) => return (Answer::Refused(why), None),
            _ => return (Answer::NotFound, None),
        };
        let Some(home) = file.parent() else { return (Answer::NotFound, None) };
        let rel: PathBuf = parts.iter().collect();
        let real = match std::fs::canonicalize(home.join(&rel)) {
            Ok(real) => real,
            Err(_) => return (Answer::NotFound, None),
        };
        if !real.starts_with(home) {
            return (Answer::Refused(outside(&rel)), None);
        }
        if real.is_dir() {
            return (Answer::Dir(entries(&real)), None);
        }
        match read_regular(&real) {
            Ok(bytes) => (Answer::Data(bytes), Some(real)),
            Err(why) => (Answer::Refused(why), None),
        }
    }
}

enum Located {
    File { rel: PathBuf, real: PathBuf, package: bool },
    Missing,
    Refused(String),
}

enum Inside {
    File(PathBuf),
    Missing,
    Outside,
}

/// Whether `rel` under `dir` resolves (symlinks followed) to a regular file
/// that is still under `dir`.
fn inside(dir: &Path, rel: &Path) -> Inside {
    match std::fs::canonicalize(dir.join(rel)) {
        Ok(real) if !real.starts_with(dir) => Inside::Outside,
        Ok(real) if real.is_file() => Inside::File(real),
        _ => Inside::Missing,
    }
}

fn outside(rel: &Path) -> String {
    format!("{} leads outside the served directories", rel.display())
}

/// A resolved path's bytes, if it is a regular file of a servable size.
/// Opened without following a symlink (the path is already resolved: one
/// that appears since is refused, not followed) and without blocking (a
/// FIFO put there since must not hang the client).
fn read_regular(real: &Path) -> Result<Vec<u8>, String> {
    let shown = real.display();
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(real)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    if meta.len() > MAX_SERVED_FILE {
        return Err(format!("{shown} is larger than {} MiB", MAX_SERVED_FILE >> 20));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file).take(MAX_SERVED_FILE + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_SERVED_FILE {
        return Err(format!("{shown} is larger than {} MiB", MAX_SERVED_FILE >> 20));
    }
    Ok(bytes)
}

/// A directory's visible entries (sorted; hidden and non-UTF-8 names left
/// out), each with whether it is a directory.
fn entries(dir: &Path) -> Vec<(String, bool)> {
    let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(String, bool)> = read
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            is_data_name(&name).then(|| (name, entry.path().is_dir()))
        })
        .take(MAX_ENTRIES)
        .collect();
    found.sort();
    found
}

/// A Python identifier, as a module name's part (letters, digits and `_`,
/// not starting with a digit): nothing that could be a path.
fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// One part of a data file's name: a plain, visible file name.
fn is_data_name(part: &str) -> bool {
    !part.is_empty() && !part.starts_with('.') && !part.contains(['\0', '\\', '/'])
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A served directory `proj` (with `helper.py`, package `pkg` with
    /// `data.txt` and subpackage `sub`), next to a secret outside it.
    fn tree() -> (tempfile::TempDir, LocalModules) {
        let root = tempfile::tempdir().unwrap();
        let proj = root.path().join("proj");
        std::fs::create_dir_all(proj.join("pkg/sub")).unwrap();
        std::fs::write(proj.join("helper.py"), "X = 1\n").unwrap();
        std::fs::write(proj.join("pkg/__init__.py"), "").unwrap();
        std::fs::write(proj.join("pkg/data.txt"), "data\n").unwrap();
        std::fs::write(proj.join("pkg/sub/__init__.py"), "").unwrap();
        std::fs::write(proj.join("pkg/sub/mod.py"), "Y = 2\n").unwrap();
        std::fs::write(root.path().join("secret.py"), "KEY = 'secret'\n").unwrap();
        std::fs::write(root.path().join("id_rsa"), "PRIVATE KEY\n").unwrap();
        let modules = LocalModules::new([proj]);
        (root, modules)
    }

    fn module_file(answer: Answer) -> (String, bool) {
        match answer {
            Answer::Module { file, package, .. } => (file, package),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn modules_packages_and_data_are_served() {
        let (root, modules) = tree();
        let proj = root.path().join("proj");
        let shown = |rel: &str| proj.join(rel).display().to_string();
        assert_eq!(module_file(modules.answer("h", "helper", None)), (shown("helper.py"), false));
        assert_eq!(module_file(modules.answer("h", "pkg", None)), (shown("pkg/__init__.py"), true));
        assert_eq!(module_file(modules.answer("h", "pkg.sub.mod", None)), (shown("pkg/sub/mod.py"), false));
        assert_eq!(modules.answer("h", "pkg", Some("data.txt")), Answer::Data(b"data\n".to_vec()));
        assert_eq!(
            modules.answer("h", "pkg", Some("")),
            Answer::Dir(vec![("__init__.py".into(), false), ("data.txt".into(), false), ("sub".into(), true)])
        );
        assert_eq!(modules.answer("h", "nothere", None), Answer::NotFound);
        assert_eq!(modules.answer("h", "helper.sub", None), Answer::NotFound);
        assert_eq!(modules.answer("h", "pkg", Some("missing.txt")), Answer::NotFound);
        assert_eq!(modules.answer("h", "helper", Some("x")), Answer::NotFound); // not a package
    }

    #[test]
    fn a_package_brings_its_submodules_within_the_budget() {
        let (root, modules) = tree();
        symlink(root.path().join("secret.py"), root.path().join("proj/pkg/leak.py")).unwrap();
        let names: Vec<String> = modules.bundle("h", "pkg").into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["pkg.sub", "pkg.sub.mod"]); // not the symlink that leads out, nor data
        assert!(modules.bundle("h", "helper").is_empty());
    }

    #[test]
    fn names_that_are_paths_are_refused() {
        let (_root, modules) = tree();
        for name in ["../secret", "..", "/etc/passwd", "a/b", "pkg..sub", "", "x\0y", ".hidden", "pkg.", "1x"] {
            assert!(matches!(modules.answer("h", name, None), Answer::Refused(_)), "{name:?}");
        }
        for resource in ["../../id_rsa", "/etc/passwd", "sub/../../../id_rsa", "a//b", "./data.txt", "x\0", "..\\x"] {
            assert!(matches!(modules.answer("h", "pkg", Some(resource)), Answer::Refused(_)), "{resource:?}");
        }
    }

    #[test]
    fn symlinks_that_lead_out_are_refused() {
        let (root, modules) = tree();
        let proj = root.path().join("proj");
        symlink(root.path().join("secret.py"), proj.join("leak.py")).unwrap();
        symlink(root.path().join("id_rsa"), proj.join("pkg/key.txt")).unwrap();
        symlink(root.path(), proj.join("pkg/up")).unwrap();
        symlink(proj.join("helper.py"), proj.join("alias.py")).unwrap(); // inside: fine
        assert!(matches!(modules.answer("h", "leak", None), Answer::Refused(_)));
        assert!(matches!(modules.answer("h", "pkg", Some("key.txt")), Answer::Refused(_)));
        assert!(matches!(modules.answer("h", "pkg", Some("up/id_rsa")), Answer::Refused(_)));
        assert!(matches!(modules.answer("h", "pkg", Some("up")), Answer::Refused(_)));
        assert!(matches!(modules.answer("h", "alias", None), Answer::Module { .. }));
    }

    #[test]
    fn only_regular_files_are_read() {
        let (root, modules) = tree();
        let fifo = root.path().join("proj/pkg/pipe");
        let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        assert!(matches!(modules.answer("h", "pkg", Some("pipe")), Answer::Refused(_)));
        // and no hang
    }
}
