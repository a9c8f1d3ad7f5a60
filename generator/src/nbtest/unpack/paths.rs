//! Where an archive's entry would land: its path taken apart step by step, resolved against the
//! target as it is on disk, so that nothing leads outside it.

use super::*;

/// One step of a path being resolved.
pub(super) enum Step {
    Root,
    Up,
    Name(OsString),
}

pub(super) fn steps(path: &Path) -> impl Iterator<Item = Step> + '_ {
    path.components().filter_map(|c| match c {
        Component::RootDir | Component::Prefix(_) => Some(Step::Root),
        Component::ParentDir => Some(Step::Up),
        Component::CurDir => None,
        Component::Normal(n) => Some(Step::Name(n.to_os_string())),
    })
}

/// What the resolver does on meeting a symlink with an absolute target.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Absolute {
    /// The host would follow it out of the target: for paths nbgen writes through.
    Refuse,
    /// Read it as the container will, from the target's root: for checking symlink targets.
    Rooted,
}

/// An entry's path as a relative path of plain names, or why it is refused.
pub(super) fn archive_path(raw: &[u8]) -> std::result::Result<PathBuf, &'static str> {
    let mut rel = PathBuf::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => rel.push(n),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path"),
            Component::ParentDir => return Err("a `..` component in its path"),
        }
    }
    Ok(rel)
}

pub(super) fn join(names: &[OsString]) -> PathBuf {
    names.iter().collect()
}
