//! An entry's kernel tree: a fixture written by testkit/make-kernel, a kernel.org
//! tarball unpacked, patched and configured, or a real tree readied by testkit/real-kernel/prepare.

use super::*;
use crate::nbtest::matrix::{Download, Fixture, Layout, SharedKernel};

impl EntryCtx<'_> {
    /// The entry's kernel tree, ready for building modules: in `dir`/kernel, or for a real tree in
    /// nbgen's cache.
    pub(super) fn prepare_kernel(
        &self,
        entry: &Entry,
        local: &EntryLocal,
        dir: &Path,
    ) -> Result<PathBuf> {
        let tree = dir.join("kernel");
        match &entry.kernel {
            Kernel::Shared(k) => self.real_tree(entry, k, local),
            Kernel::Fixture(f) => self.fixture_tree(f, tree),
            Kernel::Tarball(download) => self.kernel_org_tree(entry, download, &tree),
        }
    }

    /// A real tree of the shared directory, prepared by testkit/real-kernel/prepare (cached there).
    fn real_tree(&self, entry: &Entry, k: &SharedKernel, local: &EntryLocal) -> Result<PathBuf> {
        let tarball = local
            .kernel_tarball
            .as_ref()
            .expect("a shared kernel is acquired before its entry runs");
        let script = self.ws.root.join(PREPARE_REAL_KERNEL);
        // One cache directory per entry: the script keeps only the newest tree of a
        // directory, and entries of other inputs must not remove each other's.
        let cache = self.cache.join("real-kernel").join(&entry.name);
        let out = run_checked(
            Command::new("bash")
                .arg(&script)
                .arg(tarball)
                .arg(self.ws.root.join(&k.compat))
                .args(
                    entry
                        .fragments
                        .iter()
                        .map(|f| self.ws.fragments_dir().join(f)),
                )
                .env("NBGEN", std::env::current_exe().at(&script)?)
                .env("NB_REAL_KERNEL_CACHE", &cache)
                .current_dir(&self.ws.root),
            &script,
        )?;
        let prepared = PathBuf::from(out.lines().last().unwrap_or_default().trim());
        if !prepared.join("Makefile").is_file() {
            return Err(Error::Environment(format!(
                "{} printed {:?}, not a kernel tree",
                script.display(),
                prepared
            )));
        }
        Ok(prepared)
    }

    /// A fixture tree, written by testkit/make-kernel.
    fn fixture_tree(&self, f: &Fixture, tree: PathBuf) -> Result<PathBuf> {
        let script = self.ws.root.join(MAKE_KERNEL);
        run_checked(
            Command::new("bash")
                .arg(&script)
                .arg(&tree)
                .args(f.make_kernel_args())
                .env("NBGEN", std::env::current_exe().at(&script)?),
            &script,
        )?;
        if !f.drop_config.is_empty() || !f.set_config.is_empty() {
            // The configuration lives in the output tree of a make O= build.
            let config = match f.layout {
                Layout::Split { .. } => tree.join("out/.config"),
                _ => tree.join(".config"),
            };
            let text = fs::read_to_string(&config).at(&config)?;
            let kept = edited_config(&text, &f.drop_config, &f.set_config);
            crate::base::atomic::write(&config, kept.as_bytes())?;
        }
        Ok(tree)
    }

    /// A kernel.org tarball unpacked into `tree`, the entry's patches applied and its fragments
    /// merged into .config (the container runs oldconfig and modules_prepare).
    fn kernel_org_tree(&self, entry: &Entry, download: &Download, tree: &Path) -> Result<PathBuf> {
        let tarball = self.kernels[&download.url]
            .as_ref()
            .map_err(|l| Error::Environment(l.error.clone()))?;
        fs::create_dir_all(tree).at(tree)?;
        crate::nbtest::unpack::unpack(tarball, tree, &crate::nbtest::unpack::Options::default())?;
        // kernel.org tarballs hold one top directory, linux-X.Y.Z.
        let top = fs::read_dir(tree)
            .at(tree)?
            .filter_map(|e| e.ok())
            .find(|e| e.path().join("Makefile").is_file())
            .map(|e| e.path())
            .ok_or_else(|| {
                Error::input(
                    download.url.clone(),
                    "no kernel tree (no top-level Makefile) in the tarball",
                )
            })?;
        for p in &entry.patches {
            let patch = self.ws.patches_dir().join(p);
            run_checked(
                Command::new("patch")
                    .args(["-p1", "--forward", "-i"])
                    .arg(&patch)
                    .current_dir(&top),
                &patch,
            )?;
        }
        let fragments: Vec<crate::kconfig::Config> = entry
            .fragments
            .iter()
            .map(|f| {
                crate::kconfig::read(
                    &self.ws.fragments_dir().join(f),
                    &format!("kernel-fragments/{f}"),
                )
            })
            .collect::<Result<_>>()?;
        let base = crate::kconfig::parse("(empty base)", "# CONFIG_NBGEN_BASE is not set\n")?;
        let (text, _) = crate::kconfig::merge(&base, &fragments);
        crate::kconfig::write_atomically(&top.join(".config"), &text)?;
        Ok(top)
    }
}

/// `config` (a .config) without the lines that set any of `options` (`NAME=...`).
/// A fixture's .config with its drop_config options removed and its set_config lines in place of
/// the options they name (kconfig's "is not set" comment of such an option goes too).
pub(super) fn edited_config(config: &str, drop: &[String], set: &[String]) -> String {
    let replaced: Vec<String> = set
        .iter()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.to_string()))
        .collect();
    let mut kept: String = without_options(config, &[drop, &replaced[..]].concat())
        .lines()
        .filter(|l| !replaced.iter().any(|o| *l == format!("# {o} is not set")))
        .map(|l| format!("{l}\n"))
        .collect();
    for line in set {
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

pub(super) fn without_options(config: &str, options: &[String]) -> String {
    config
        .lines()
        .filter(|l| !options.iter().any(|o| l.starts_with(&format!("{o}="))))
        .map(|l| format!("{l}\n"))
        .collect()
}
