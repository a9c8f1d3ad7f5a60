//! What runs in the container for an entry (generator/templates/nbtest/entry.sh, rendered for
//! it), and the key that says whether an entry's inputs changed since it passed.

use super::*;
use crate::nbtest::matrix::Setup;

/// The script that writes fixture kernel trees.
pub(super) const MAKE_KERNEL: &str = "testkit/make-kernel";

/// The build script of every entry, rendered for it (generator/templates/nbtest/entry.sh).
pub(super) const SCRIPT_TEMPLATE: &str = "nbtest/entry.sh";

/// The kernel/Makefile copies that make-kernel puts in fixture trees of 2.6.16 to 2.6.18.
pub(super) const FIXTURE_MAKEFILES: &str = "generator/tests/fixtures/kernel";

/// The script that prepares a real kernel tree from the shared directory (cached by its inputs).
pub(super) const PREPARE_REAL_KERNEL: &str = "testkit/real-kernel/prepare";

/// Everything that decides an entry's outcome, hashed: if none of it changed since the entry
/// passed, running it again would tell nothing new. The entry's content (not its place in the
/// matrix file), the script it runs in the container as rendered for it, the overlay and the
/// stage, and the files its kernel tree is made from: for a fixture the script and its kernel
/// Makefile, for a shared kernel the prepare and compat scripts (the tarball is in the entry as
/// its SHA256), and the fragments.
pub fn entry_key(root: &Path, entry: &Entry, overlay_hash: &str, stage_sha: &str) -> String {
    let content = serde_json::to_string(entry).expect("an entry serializes");
    let mut h = Sha512::new();
    for part in [content.as_str(), &script(entry), overlay_hash, stage_sha] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // Workspace-relative names, so that another checkout of the same tree has the same keys.
    let mut files: Vec<PathBuf> = entry
        .fragments
        .iter()
        .map(|f| Path::new("kernel-fragments").join(f))
        .collect();
    match &entry.kernel {
        Kernel::Fixture(f) => {
            files.push(MAKE_KERNEL.into());
            files.push(Path::new(FIXTURE_MAKEFILES).join(format!("Makefile-{}", f.version)));
        }
        Kernel::Shared(k) => {
            files.push(PREPARE_REAL_KERNEL.into());
            files.push(k.compat.clone());
        }
        Kernel::Tarball(_) => {}
    }
    // The shared files' identity is their content digest, which the table holds.
    if matches!(entry.kernel, Kernel::Shared(_)) || !entry.distfiles.is_empty() {
        files.push(crate::nbtest::shared_inputs::table::TABLE.into());
    }
    for f in files {
        // A file that does not exist (most fixture versions have no Makefile of their own) counts
        // as empty, and its name still goes in.
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(fs::read(root.join(&f)).unwrap_or_default());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// The build inside the container, from generator/templates/nbtest/entry.sh. A real kernel tree is
/// configured and prepared there (its toolchain is the stage's); a fixture tree is ready as it is.
/// It works with both kinds of stage: ours (portage of today, repos.conf, /etc/portage/make.conf)
/// and Gentoo's of the era (portage 2.1: /etc/make.conf, /etc/make.profile, PORTDIR_OVERLAY, the
/// tree at /usr/portage). An entry that proves a wrong distfile is refused gets a private DISTDIR
/// holding a copy of the distfiles in which that one is replaced by bytes of the same size.
pub(super) fn script(entry: &Entry) -> String {
    let quote = crate::base::shell::quote;
    let ctx = serde_json::json!({
        "profile": quote(&entry.profile),
        "keywords": entry.accept_keywords.clone().unwrap_or_default(),
        "use_flags": entry.use_flags.join(" "),
        "atoms": entry.packages.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        "config_atoms": entry.config.atoms.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        "steps": entry.steps.iter().map(|s| serde_json::json!({"run": quote(&s.run), "key": quote(&s.key())})).collect::<Vec<_>>(),
        "refuse": entry.refuse_distfile.as_deref().map(quote),
        "prepare_kernel": matches!(entry.kernel, Kernel::Tarball(_)),
        "require_features": entry.require_features,
        "checks": !entry.checks.is_empty(),
        "depmod": entry.checks.depmod,
        "load_order_last": entry.checks.load_order.last().map(|m| quote(m)),
        "setup": setup_lines(&entry.setup),
        "expect": entry.expect.is_some(),
        "expect_files": entry.expect.iter().flat_map(|x| x.files()).map(quote).collect::<Vec<_>>().join(" "),
    });
    crate::regen::templates::Templates::embedded()
        .and_then(|t| t.render(SCRIPT_TEMPLATE, &ctx))
        .expect("the embedded entry script renders")
}

/// The shell lines that give the container the entry's setup: files written, directories made,
/// variables exported for the emerges. Empty without one.
fn setup_lines(setup: &Setup) -> String {
    let quote = crate::base::shell::quote;
    let mut lines = Vec::new();
    for (path, text) in &setup.files {
        let (path, text) = (quote(path), quote(text));
        lines.push(format!(
            "mkdir -p \"$(dirname {path})\" && printf '%s' {text} >{path} || exit 3"
        ));
    }
    for dir in &setup.dirs {
        lines.push(format!("mkdir -p {} || exit 3", quote(dir)));
    }
    for (name, value) in &setup.env {
        lines.push(format!("export {name}={}", quote(value)));
    }
    lines.join("\n")
}
