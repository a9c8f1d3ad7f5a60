//! The declarative spec as it is written in TOML. Every table rejects unknown fields, and values
//! that validation may complain about keep their position so errors can name the line.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::base::error::Result;
use crate::base::toml_input;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub package: Vec<PackageSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    pub category: Spanned<String>,
    pub name: Spanned<String>,
    /// The ebuild template, a path under generator/templates.
    pub template: Spanned<String>,
    pub description: Spanned<String>,
    /// Defaults to the overlay's homepage, for packages with no upstream of their own.
    pub homepage: Option<Spanned<String>>,
    /// The ebuild's S, when it is not the default ${WORKDIR}/${P}.
    pub source_dir: Option<String>,
    pub license: Spanned<String>,
    #[serde(default = "default_slot")]
    pub slot: Spanned<String>,
    pub keywords: Vec<Spanned<String>>,
    #[serde(default)]
    pub iuse: Vec<Spanned<String>>,
    #[serde(default)]
    pub restrict: Vec<Spanned<String>>,
    #[serde(default)]
    pub depend: Vec<String>,
    #[serde(default)]
    pub rdepend: Vec<String>,
    pub longdescription: Option<String>,
    #[serde(default)]
    pub version: Vec<VersionSpec>,
    #[serde(default)]
    pub file: Vec<FileSpec>,
    /// Free-form values for the package's templates (sysctl settings, paths, module names...).
    #[serde(default)]
    pub vars: toml::Table,
}

fn default_slot() -> Spanned<String> {
    Spanned::new(0..0, "0".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSpec {
    pub version: Spanned<String>,
    /// Overrides the package's ebuild template, for versions built in another way.
    pub template: Option<Spanned<String>>,
    /// The kernel series ("2.4" or "2.6") this version builds for, if it is a kernel module.
    pub kernel_series: Option<Spanned<String>>,
    /// Files in kernel-fragments/ whose options become the ebuild's CONFIG_CHECK, in order (a
    /// later file wins for the same option, as in `nbgen kconfig merge`).
    #[serde(default)]
    pub kernel_fragments: Vec<Spanned<String>>,
    /// Overrides the package's keywords for this version.
    pub keywords: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub distfile: Vec<DistfileSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistfileSpec {
    pub name: Spanned<String>,
    /// Where portage fetches it from; absent for fetch-restricted files the user places by hand.
    pub uri: Option<String>,
    pub size: Option<u64>,
    pub blake2b: Option<Spanned<String>>,
    /// Only for portage 2.0's digest files and Manifest1 lines; no Manifest2 line carries it.
    pub md5: Option<Spanned<String>>,
    pub rmd160: Option<Spanned<String>>,
    pub sha1: Option<Spanned<String>>,
    pub sha256: Option<Spanned<String>>,
    pub sha512: Option<Spanned<String>>,
    /// Where the digests come from: a historical Manifest, or nbgen hashing a given file.
    pub source: Option<String>,
}

/// One file placed in the package's files/ directory, from exactly one origin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub dest: Spanned<String>,
    /// A template under generator/templates, rendered with the package's context.
    pub template: Option<Spanned<String>>,
    /// A file under generator/verbatim/files, copied as it is (shipped scripts without markup).
    pub verbatim: Option<Spanned<String>>,
    /// A file under patches/, copied verbatim.
    pub patch: Option<Spanned<String>>,
    /// A file under kernel-fragments/, copied verbatim.
    pub fragment: Option<Spanned<String>>,
    /// Values for a template used by several files, as `file.<name>` in it.
    #[serde(default)]
    pub vars: toml::Table,
}

impl Spec {
    pub fn parse(path: &Path, text: &str) -> Result<Spec> {
        toml_input::parse(path, text)
    }
}
