//! Renders the model into the overlay's files, in memory: a sorted map from relative path to bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::base::error::Result;
use crate::regen::manifest;
use crate::regen::model::{FileOrigin, Overlay, Package, Version};
use crate::regen::templates::Templates;
use crate::regen::view;

/// The generated overlay: relative path -> content. BTreeMap keeps every walk over it sorted.
pub type Tree = BTreeMap<String, Vec<u8>>;

#[derive(Serialize)]
struct PackageCtx<'a> {
    overlay: &'a Overlay,
    package: &'a Package,
}

#[derive(Serialize)]
struct FileCtx<'a> {
    overlay: &'a Overlay,
    package: &'a Package,
    file: &'a serde_json::Value,
}

#[derive(Serialize)]
struct EbuildCtx<'a> {
    overlay: &'a Overlay,
    package: &'a Package,
    version: &'a Version,
    /// The version's values as the ebuild shows them (wrapped, quoted).
    view: view::VersionView,
}

#[derive(Serialize)]
struct ManifestCtx {
    lines: Vec<String>,
}

/// Everything `regen` writes, plus the notes it has to tell the user (partial DIST lines...).
pub struct Rendered {
    pub tree: Tree,
    pub notes: Vec<String>,
}

pub fn render(overlay: &Overlay, templates: &Templates) -> Result<Rendered> {
    let mut tree = Tree::new();
    let mut notes = Vec::new();
    let repository_files = [
        ("profiles/repo_name", "overlay/repo_name"),
        ("profiles/categories", "overlay/categories"),
        ("metadata/layout.conf", "overlay/layout.conf"),
        ("repositories.xml", "overlay/repositories.xml"),
        ("eclass/nb-kernel.eclass", "eclass/nb-kernel.eclass"),
    ];
    for (path, template) in repository_files {
        put(&mut tree, path.into(), templates.render(template, overlay)?);
    }
    for (path, bytes) in crate::regen::templates::verbatim() {
        tree.insert(path, bytes.to_vec());
    }
    for package in &overlay.packages {
        render_package(&mut tree, &mut notes, overlay, package, templates)?;
    }
    Ok(Rendered { tree, notes })
}

/// A package's directory: metadata.xml, one EAPI 0 ebuild per version with its digest file,
/// files/, and the Manifest of it all.
fn render_package(
    tree: &mut Tree,
    notes: &mut Vec<String>,
    overlay: &Overlay,
    package: &Package,
    templates: &Templates,
) -> Result<()> {
    let dir = format!("{}/{}", package.category, package.name);
    let ctx = PackageCtx { overlay, package };
    put(
        tree,
        format!("{dir}/metadata.xml"),
        templates.render("overlay/metadata.xml", &ctx)?,
    );
    for version in &package.versions {
        let pf = format!("{}-{}", package.name, version.version);
        let ctx = EbuildCtx {
            overlay,
            package,
            version,
            view: view::version(package, version),
        };
        put(
            tree,
            format!("{dir}/{pf}.ebuild"),
            templates.render(&version.template, &ctx)?,
        );
        put(
            tree,
            format!("{dir}/{}", manifest::digest_path(&pf)),
            manifest::digest_file(&version.distfiles),
        );
        for d in &version.distfiles {
            notes.extend(manifest::gap(d).map(|g| format!("{dir}: {g}")));
        }
    }
    for file in &package.files {
        let path = format!("{dir}/files/{}", file.dest);
        match &file.origin {
            FileOrigin::Template(name) => {
                let ctx = FileCtx {
                    overlay,
                    package,
                    file: &file.vars,
                };
                put(tree, path, templates.render(name, &ctx)?)
            }
            FileOrigin::Copy { bytes, .. } => {
                tree.insert(path, bytes.clone());
            }
        }
    }
    put_manifest(tree, &dir, package, templates)
}

/// The package directory's thick Manifest: everything rendered into `dir` so far, and the pinned
/// distfiles of every version.
fn put_manifest(
    tree: &mut Tree,
    dir: &str,
    package: &Package,
    templates: &Templates,
) -> Result<()> {
    let prefix = format!("{dir}/");
    let files = tree
        .range(prefix.clone()..)
        .take_while(|(path, _)| path.starts_with(&prefix))
        .map(|(path, bytes)| (&path[prefix.len()..], bytes.as_slice()));
    let distfiles = package.versions.iter().flat_map(|v| &v.distfiles);
    let lines = manifest::package_lines(files, distfiles);
    let text = templates.render("overlay/Manifest", &ManifestCtx { lines })?;
    put(tree, format!("{dir}/Manifest"), text);
    Ok(())
}

fn put(tree: &mut Tree, path: String, text: String) {
    tree.insert(path, text.into_bytes());
}
