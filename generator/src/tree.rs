//! The overlay directory on disk: reading it, comparing it with a rendered tree, and replacing it
//! atomically. A new overlay is written complete into a temporary sibling directory and then
//! exchanged with the old one in a single rename, so a failure at any point leaves the previous
//! overlay as it was and no temporary directory behind.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::render::Tree;

/// Files are written 0644 and directories 0755 whatever the umask, so two machines produce the same
/// tree.
const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    pub fn count(&self) -> usize {
        self.added.len() + self.removed.len() + self.changed.len()
    }

    /// One line per file, sorted by path: `added: x`, `removed: y`, `changed: z`.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<(String, &str)> = Vec::new();
        out.extend(self.added.iter().map(|p| (p.clone(), "added")));
        out.extend(self.removed.iter().map(|p| (p.clone(), "removed")));
        out.extend(self.changed.iter().map(|p| (p.clone(), "changed")));
        out.sort();
        out.into_iter().map(|(p, k)| format!("{k}: {p}")).collect()
    }
}

/// Reads every regular file below `dir` (an absent dir reads as empty). Anything that is neither a
/// file nor a directory counts as a file with no content, so it always shows up as changed.
pub fn read(dir: &Path) -> Result<Tree> {
    let mut tree = BTreeMap::new();
    if !dir.exists() {
        return Ok(tree);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).at(&d)? {
            let entry = entry.at(&d)?;
            let path = entry.path();
            let kind = entry.file_type().at(&path)?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .expect("walk stays below its root")
                .to_string_lossy()
                .into_owned();
            let bytes = if kind.is_file() {
                fs::read(&path).at(&path)?
            } else {
                Vec::new()
            };
            tree.insert(rel, bytes);
        }
    }
    Ok(tree)
}

pub fn diff(on_disk: &Tree, wanted: &Tree) -> Diff {
    let mut d = Diff::default();
    for (path, bytes) in wanted {
        match on_disk.get(path) {
            None => d.added.push(path.clone()),
            Some(old) if old != bytes => d.changed.push(path.clone()),
            Some(_) => {}
        }
    }
    d.removed = on_disk
        .keys()
        .filter(|p| !wanted.contains_key(*p))
        .cloned()
        .collect();
    d
}

/// Called before each file is written; tests use it to inject a failure mid-write.
pub type WriteHook<'a> = &'a mut dyn FnMut(&str) -> std::io::Result<()>;

/// Makes `target` hold exactly `tree`. Returns what changed; when nothing did, nothing is written.
pub fn replace(target: &Path, tree: &Tree, hook: WriteHook) -> Result<Diff> {
    let current = read(target)?;
    let diff = diff(&current, tree);
    if diff.is_empty() {
        return Ok(diff);
    }
    let parent = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "overlay".into());
    // The temporary directory is a sibling, on the same filesystem, so the swap is one rename.
    // Dropping it (on success it then holds the old overlay, on error the half-written new one)
    // removes it.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.nbgen-"))
        .tempdir_in(parent)
        .at(parent)?;
    fs::set_permissions(staging.path(), fs::Permissions::from_mode(DIR_MODE)).at(staging.path())?;
    write_all(staging.path(), tree, hook)?;
    swap(staging.path(), target)?;
    Ok(diff)
}

fn write_all(root: &Path, tree: &Tree, hook: WriteHook) -> Result<()> {
    for (rel, bytes) in tree {
        let path = root.join(rel);
        hook(rel).at(&path)?;
        if let Some(dir) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)
                .at(dir)?;
        }
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&path)
            .at(&path)?;
        f.write_all(bytes).at(&path)?;
        // The mode given to open() is reduced by the umask; set it outright.
        f.set_permissions(fs::Permissions::from_mode(FILE_MODE))
            .at(&path)?;
        f.sync_all().at(&path)?;
    }
    // Directories created above were also subject to the umask.
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).at(&d)? {
            let entry = entry.at(&d)?;
            if entry.file_type().at(&entry.path())?.is_dir() {
                fs::set_permissions(entry.path(), fs::Permissions::from_mode(DIR_MODE))
                    .at(&entry.path())?;
                stack.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Puts `staging` at `target`: an atomic exchange when `target` exists (the old tree lands in
/// `staging`), a plain rename when it does not.
fn swap(staging: &Path, target: &Path) -> Result<()> {
    if target.exists() {
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            staging,
            rustix::fs::CWD,
            target,
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .map_err(|e| {
            Error::io(
                target,
                std::io::Error::other(format!(
                    "cannot exchange it with the freshly generated {}: {e}",
                    staging.display()
                )),
            )
        })
    } else {
        fs::rename(staging, target).at(target)?;
        // The TempDir guard will try to remove `staging`; give it an empty directory to remove.
        fs::create_dir(staging).at(staging)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, &str)]) -> Tree {
        entries
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect()
    }

    fn no_hook() -> impl FnMut(&str) -> std::io::Result<()> {
        |_| Ok(())
    }

    #[test]
    fn diff_names_each_kind() {
        let old = tree(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let new = tree(&[("a", "1"), ("b", "x"), ("d", "4")]);
        let d = diff(&old, &new);
        assert_eq!(d.added, ["d"]);
        assert_eq!(d.changed, ["b"]);
        assert_eq!(d.removed, ["c"]);
        assert_eq!(d.lines(), ["changed: b", "removed: c", "added: d"]);
    }

    #[test]
    fn replace_creates_then_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("overlay");
        let t = tree(&[("x/y/z", "hello\n"), ("top", "t\n")]);
        let d = replace(&target, &t, &mut no_hook()).unwrap();
        assert_eq!(d.added.len(), 2);
        assert_eq!(read(&target).unwrap(), t);
        let d = replace(&target, &t, &mut no_hook()).unwrap();
        assert!(d.is_empty());
        let mode = fs::metadata(target.join("x/y"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, DIR_MODE);
        let mode = fs::metadata(target.join("x/y/z"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, FILE_MODE);
        // Only the overlay is left in the parent: no staging directory.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["overlay"]);
    }

    #[test]
    fn failure_mid_write_leaves_old_overlay_and_no_staging() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("overlay");
        let old = tree(&[("a", "old a\n"), ("b", "old b\n")]);
        replace(&target, &old, &mut no_hook()).unwrap();
        let new = tree(&[("a", "new a\n"), ("b", "new b\n"), ("c", "new c\n")]);
        let mut written = 0;
        let mut fail_second = |_: &str| {
            written += 1;
            if written == 2 {
                Err(std::io::Error::other("injected failure"))
            } else {
                Ok(())
            }
        };
        let err = replace(&target, &new, &mut fail_second).unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
        assert_eq!(read(&target).unwrap(), old);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["overlay"]);
    }

    #[test]
    fn stray_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("overlay");
        fs::create_dir_all(target.join("junk")).unwrap();
        fs::write(target.join("junk/stray"), "x").unwrap();
        let t = tree(&[("a", "1\n")]);
        let d = replace(&target, &t, &mut no_hook()).unwrap();
        assert_eq!(d.removed, ["junk/stray"]);
        assert!(!target.join("junk").exists());
    }
}
