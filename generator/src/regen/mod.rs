//! The regen flow: `spec` (TOML as written) -> `model` (validated) -> `view` and `render` (files in
//! memory, templates from `templates`) -> `tree` (the overlay on disk, replaced atomically).
//! `manifest` hashes files and distfiles for the Manifests; `pin` records a distfile's digests in
//! the spec.

pub mod manifest;
pub mod model;
pub mod pin;
pub mod render;
pub mod spec;
pub mod templates;
pub mod tree;
pub mod view;

use std::path::Path;

use crate::base::error::{self, Result};
use crate::base::workspace::Workspace;
use templates::Templates;
use tree::{Diff, WriteHook};

/// What a regen or check found.
pub struct Outcome {
    pub diff: Diff,
    pub files: usize,
    pub notes: Vec<String>,
}

/// Loads and renders the spec of `ws` without touching the disk.
pub fn generate(ws: &Workspace) -> Result<render::Rendered> {
    generate_with(ws, |_| {})
}

/// Like [`generate`], with `adjust` changing the validated model before it is rendered (nbgen
/// test pins its stand-in distfiles this way, in memory only).
pub fn generate_with(
    ws: &Workspace,
    adjust: impl FnOnce(&mut model::Overlay),
) -> Result<render::Rendered> {
    let templates = Templates::embedded()?;
    let mut overlay = model::load(ws, templates)?;
    adjust(&mut overlay);
    render::render(&overlay, templates)
}

/// Makes `out` exactly what the spec generates. `hook` runs before each file is written.
pub fn regen(ws: &Workspace, out: &Path, hook: WriteHook) -> Result<Outcome> {
    refuse_workspace(ws, out)?;
    let rendered = generate(ws)?;
    let replaced = tree::replace(out, &rendered.tree, hook)?;
    let mut notes = rendered.notes;
    notes.extend(replaced.notes);
    Ok(Outcome {
        diff: replaced.diff,
        files: rendered.tree.len(),
        notes,
    })
}

/// The workspace root or a directory above it can never be the overlay: replacing it would delete
/// the spec and the sources. Decided from the paths alone, before anything is read.
fn refuse_workspace(ws: &Workspace, out: &Path) -> Result<()> {
    tree::refuse_obvious(out)?;
    let out_abs = std::path::absolute(out).map_err(|e| error::Error::io(out, e))?;
    let normal = |p: &Path| -> Vec<std::ffi::OsString> {
        let mut v = Vec::new();
        for c in p.components() {
            match c {
                std::path::Component::ParentDir => {
                    v.pop();
                }
                std::path::Component::Normal(n) => v.push(n.to_os_string()),
                _ => {}
            }
        }
        v
    };
    let (out_n, root_n) = (normal(&out_abs), normal(&ws.root));
    if root_n.starts_with(&out_n) {
        return Err(error::Error::input(
            out.display().to_string(),
            format!(
                "refusing to generate the overlay here: it is the workspace {} or a directory above it; give a directory of its own, e.g. --overlay ./overlay",
                ws.root.display()
            ),
        ));
    }
    Ok(())
}

/// Compares `out` with what the spec generates; writes nothing.
pub fn check(ws: &Workspace, out: &Path) -> Result<Outcome> {
    refuse_workspace(ws, out)?;
    let rendered = generate(ws)?;
    let on_disk = tree::read(out)?;
    let mut notes = rendered.notes;
    notes.extend(tree::stale_notes(out)?);
    Ok(Outcome {
        diff: tree::diff(&on_disk, &rendered.tree),
        files: rendered.tree.len(),
        notes,
    })
}
