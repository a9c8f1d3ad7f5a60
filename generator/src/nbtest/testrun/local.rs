//! What the entries build with besides the stage: the stand-in distfiles, the overlay under test
//! (with the stand-ins pinned in memory), and each entry's files of the shared directory.

use super::*;

/// Runs the stand-ins script into `distdir` and measures what it wrote.
pub(super) fn make_stand_ins(
    ws: &Workspace,
    script: &Path,
    distdir: &Path,
) -> Result<BTreeMap<String, manifest::Measured>> {
    let path = ws.root.join(script);
    if !path.is_file() {
        return Err(Error::input(
            script.display().to_string(),
            "stand_ins script not found in the workspace",
        ));
    }
    run_checked(
        Command::new("bash")
            .arg(&path)
            .arg(distdir)
            .current_dir(&ws.root),
        &path,
    )?;
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(distdir).at(distdir)? {
        let entry = entry.at(distdir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        out.insert(name, manifest::measure(&entry.path())?);
    }
    Ok(out)
}

/// What an entry takes from the shared directory: the verified kernel tarball, and for real
/// distfiles its own overlay copy (with their digests) and distfile directory.
#[derive(Debug, Default)]
pub(super) struct EntryLocal {
    pub(super) kernel_tarball: Option<PathBuf>,
    /// The overlay and its tree hash.
    pub(super) overlay: Option<(PathBuf, String)>,
    pub(super) distdir: Option<PathBuf>,
}

/// An entry's shared inputs, or why they cannot be had here (the entry is skipped).
pub(super) type Locals = std::result::Result<EntryLocal, String>;

/// Checks the entry's files of the shared directory and, for real distfiles, writes the entry's
/// distfile directory (the stand-ins, then the real files under the names the ebuilds fetch) and
/// its overlay copy pinning them (unless the user gave an overlay to test).
pub(super) fn acquire_locals(
    ws: &Workspace,
    entry: &Entry,
    shared_dir: shared_inputs::Dir,
    stand_ins: &BTreeMap<String, manifest::Measured>,
    distdir: &Path,
    results: &Path,
    own_overlay: bool,
) -> Result<Locals> {
    let mut local = EntryLocal::default();
    if let Kernel::Shared(k) = &entry.kernel {
        match shared_dir.resolve(&k.path)? {
            Local::Missing(why) => return Ok(Err(why)),
            Local::Ready(p) => local.kernel_tarball = Some(p),
        }
    }
    if entry.distfiles.is_empty() {
        return Ok(Ok(local));
    }
    let mut sources = Vec::new();
    for d in &entry.distfiles {
        match shared_dir.resolve(&d.path)? {
            Local::Missing(why) => return Ok(Err(why)),
            Local::Ready(p) => sources.push((d, p)),
        }
    }
    let dist = results.join(format!(".distfiles-{}", entry.name));
    let _ = fs::remove_dir_all(&dist);
    fs::create_dir_all(&dist).at(&dist)?;
    for name in stand_ins.keys() {
        fs::copy(distdir.join(name), dist.join(name)).at(&dist.join(name))?;
    }
    let mut real = BTreeMap::new();
    for (d, src) in sources {
        let dest = dist.join(&d.name);
        let _ = fs::remove_file(&dest);
        shared_inputs::materialize(&src, &dest, d.repack)?;
        real.insert(d.name.clone(), manifest::measure(&dest)?);
    }
    if own_overlay {
        let overlay = results.join(format!(".overlay-{}", entry.name));
        let replaced = write_test_overlay(ws, stand_ins, &real, &overlay)?;
        if let Some(name) = real.keys().find(|n| !replaced.contains(*n)) {
            return Err(Error::input(
                entry.location.clone(),
                format!(
                    "entry {:?}: distfile {name:?} is no distfile of the overlay's ebuilds",
                    entry.name
                ),
            ));
        }
        let hash = tree_hash(&tree::read(&overlay)?);
        local.overlay = Some((overlay, hash));
    }
    local.distdir = Some(dist);
    Ok(Ok(local))
}

/// The overlay the spec generates, with the stand-ins' digests (then the real files', `real`) in
/// place of the spec's for the same file names: in memory only, into `dir` (never into overlay/
/// or the spec). Returns the names it replaced.
pub(super) fn write_test_overlay(
    ws: &Workspace,
    stand_ins: &BTreeMap<String, manifest::Measured>,
    real: &BTreeMap<String, manifest::Measured>,
    dir: &Path,
) -> Result<std::collections::BTreeSet<String>> {
    let mut replaced = std::collections::BTreeSet::new();
    let rendered = crate::regen::generate_with(ws, |overlay| {
        let distfiles = overlay
            .packages
            .iter_mut()
            .flat_map(|p| &mut p.versions)
            .flat_map(|v| &mut v.distfiles);
        for d in distfiles {
            let (m, source) = match (real.get(&d.name), stand_ins.get(&d.name)) {
                (Some(m), _) => (
                    m,
                    "the real file, from the shared directory, for nbgen test",
                ),
                (None, Some(m)) => (m, "STAND-IN for nbgen test"),
                (None, None) => continue,
            };
            d.size = Some(m.size);
            d.digests = m.digests.clone();
            d.source = Some(source.into());
            replaced.insert(d.name.clone());
        }
    })?;
    tree::replace(dir, &rendered.tree, &mut |_| Ok(()))?;
    Ok(replaced)
}

pub(super) fn tree_hash(tree: &render::Tree) -> String {
    let mut h = Sha512::new();
    for (path, bytes) in tree {
        h.update(path.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())
}
