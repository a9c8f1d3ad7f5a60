//! From the spec as written to the model: every name, version, keyword, digest and reference
//! checked, with errors at the spec's line and column. PMS 3.1: category and package names; 3.2:
//! versions; keywords as PMS 5.2 (the patterns are base/names.rs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use toml::Spanned;

use super::{
    ConfigCheck, Digests, Distfile, FileOrigin, Hash, Overlay, Package, PackageFile, Version,
};
use crate::base::error::{Error, Result};
use crate::base::names;
use crate::base::toml_input::Locator;
use crate::base::workspace::{Identity, Workspace};
use crate::kconfig;
use crate::regen::spec::{DistfileSpec, FileSpec, PackageSpec, Spec, VersionSpec};
use crate::regen::templates::Templates;

/// Reads, parses and validates the spec of `ws`.
pub fn load(ws: &Workspace, templates: &Templates) -> Result<Overlay> {
    let path = ws.spec_path();
    let text = crate::base::toml_input::read_text(&path)?;
    let spec = Spec::parse(&path, &text)?;
    let ctx = Ctx {
        loc: Locator::new(&path, &text),
        templates,
        patches: ws.patches_dir(),
        fragments: ws.fragments_dir(),
        identity_homepage: ws.identity.homepage.clone(),
    };
    ctx.overlay(&ws.identity, spec)
}

struct Ctx<'a> {
    loc: Locator<'a>,
    templates: &'a Templates,
    patches: PathBuf,
    fragments: PathBuf,
    identity_homepage: String,
}

impl Ctx<'_> {
    fn err<T>(&self, at: &Spanned<T>, message: impl Into<String>) -> Error {
        self.loc.err(at, message)
    }

    fn matching(&self, value: &Spanned<String>, re: &Regex, what: &str) -> Result<String> {
        self.loc.matching(value, re, what)
    }

    /// LICENSE: license names, space-separated (all of them apply).
    fn license(&self, value: &Spanned<String>) -> Result<String> {
        self.loc
            .tokens(value, &names::LICENSE_NAME, "license", "license name")
    }

    fn overlay(&self, identity: &Identity, spec: Spec) -> Result<Overlay> {
        let mut seen = BTreeSet::new();
        let mut packages = Vec::new();
        for p in spec.package {
            let key = format!("{}/{}", p.category.get_ref(), p.name.get_ref());
            if !seen.insert(key.clone()) {
                return Err(self.err(&p.name, format!("duplicate package {key}")));
            }
            packages.push(self.package(p)?);
        }
        packages.sort_by(|a, b| (&a.category, &a.name).cmp(&(&b.category, &b.name)));
        let categories: BTreeSet<String> = packages.iter().map(|p| p.category.clone()).collect();
        Ok(Overlay {
            identity: identity.clone(),
            categories: categories.into_iter().collect(),
            packages,
        })
    }

    fn package(&self, p: PackageSpec) -> Result<Package> {
        let category = self.matching(&p.category, &names::CATEGORY_NAME, "category name")?;
        let name = self.matching(&p.name, &names::PACKAGE_NAME, "package name")?;
        if names::NAME_VERSION_TAIL.is_match(&name) {
            return Err(self.err(
                &p.name,
                format!("invalid package name {name:?}: it ends in what looks like a version"),
            ));
        }
        let template = self.template(&p.template)?;
        let description = self.description(&p.description)?;
        let keywords = self.keywords(&p.keywords)?;
        let mut versions = Vec::new();
        let mut seen = BTreeSet::new();
        for v in p.version {
            if !seen.insert(v.version.get_ref().clone()) {
                return Err(self.err(
                    &v.version,
                    format!(
                        "duplicate version {} of {category}/{name}",
                        v.version.get_ref()
                    ),
                ));
            }
            versions.push(self.version(v, &keywords, &template)?);
        }
        if versions.is_empty() {
            return Err(self.err(
                &p.name,
                format!("{category}/{name} has no [[package.version]]"),
            ));
        }
        versions.sort_by(|a, b| a.version.cmp(&b.version));
        let files = self.files(p.file)?;
        Ok(Package {
            category,
            name,
            template,
            description,
            homepage: p
                .homepage
                .map_or_else(|| self.identity_homepage.clone(), |h| h.get_ref().clone()),
            source_dir: p.source_dir,
            license: self.license(&p.license)?,
            slot: self.matching(&p.slot, &names::LICENSE_NAME, "slot")?,
            keywords,
            iuse: self.all(&p.iuse, &names::IUSE_ENTRY, "USE flag")?,
            restrict: self.all(&p.restrict, &names::LICENSE_NAME, "RESTRICT token")?,
            depend: p.depend,
            rdepend: p.rdepend,
            longdescription: p.longdescription.map(|s| s.trim().to_string()),
            files,
            versions,
            vars: serde_json::to_value(p.vars).expect("a TOML table is valid JSON"),
        })
    }

    /// One line for DESCRIPTION: not empty, no double quote, at most 80 characters (pkgcheck's
    /// BadDescription, and what emerge --search shows).
    fn description(&self, value: &Spanned<String>) -> Result<String> {
        let description = value.get_ref().trim().to_string();
        if description.is_empty() || description.contains('"') || description.contains('\n') {
            return Err(self.err(
                value,
                "description must be one non-empty line without double quotes",
            ));
        }
        let n = description.chars().count();
        if n > 80 {
            return Err(self.err(
                value,
                format!("description is {n} characters; keep it to 80"),
            ));
        }
        Ok(description)
    }

    /// The package's files/, each dest once, sorted by dest.
    fn files(&self, specs: Vec<FileSpec>) -> Result<Vec<PackageFile>> {
        let mut files = Vec::new();
        let mut dests = BTreeSet::new();
        for f in specs {
            if !dests.insert(f.dest.get_ref().clone()) {
                return Err(self.err(
                    &f.dest,
                    format!("duplicate file dest {:?}", f.dest.get_ref()),
                ));
            }
            files.push(self.file(f)?);
        }
        files.sort_by(|a, b| a.dest.cmp(&b.dest));
        Ok(files)
    }

    fn all(&self, values: &[Spanned<String>], re: &Regex, what: &str) -> Result<Vec<String>> {
        values.iter().map(|v| self.matching(v, re, what)).collect()
    }

    fn keywords(&self, values: &[Spanned<String>]) -> Result<Vec<String>> {
        let mut out = self.all(values, &names::KEYWORD, "keyword")?;
        // Portage and pkgcheck expect keywords sorted by arch, whatever the ~ prefix.
        out.sort_by(|a, b| {
            a.trim_start_matches(['~', '-'])
                .cmp(b.trim_start_matches(['~', '-']))
        });
        Ok(out)
    }

    fn template(&self, name: &Spanned<String>) -> Result<String> {
        if self.templates.contains(name.get_ref()) {
            Ok(name.get_ref().clone())
        } else {
            Err(self.err(
                name,
                format!(
                    "no template {:?} in generator/templates (add it there and rebuild nbgen)",
                    name.get_ref()
                ),
            ))
        }
    }

    fn version(
        &self,
        v: VersionSpec,
        package_keywords: &[String],
        package_template: &str,
    ) -> Result<Version> {
        let version = self.matching(&v.version, &names::VERSION_STRING, "version")?;
        let template = match &v.template {
            Some(t) => self.template(t)?,
            None => package_template.to_string(),
        };
        let kernel_series = match &v.kernel_series {
            Some(s) if s.get_ref() == "2.4" || s.get_ref() == "2.6" => Some(s.get_ref().clone()),
            Some(s) => {
                return Err(self.err(
                    s,
                    format!(
                        "kernel_series {:?} is neither \"2.4\" nor \"2.6\"",
                        s.get_ref()
                    ),
                ))
            }
            None => None,
        };
        let config_check = self.config_check(&v.kernel_fragments)?;
        let keywords = match &v.keywords {
            Some(k) => self.keywords(k)?,
            None => package_keywords.to_vec(),
        };
        let mut distfiles = Vec::new();
        let mut seen = BTreeSet::new();
        for d in v.distfile {
            if !seen.insert(d.name.get_ref().clone()) {
                return Err(self.err(&d.name, format!("duplicate distfile {}", d.name.get_ref())));
            }
            distfiles.push(self.distfile(d)?);
        }
        distfiles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Version {
            version,
            template,
            keywords,
            kernel_series,
            config_check,
            distfiles,
        })
    }

    /// Reads the fragments and turns their options into CONFIG_CHECK items; a later fragment
    /// overrides an earlier one for the same option.
    fn config_check(&self, fragments: &[Spanned<String>]) -> Result<Vec<ConfigCheck>> {
        let mut parsed = Vec::new();
        for name in fragments {
            let FileOrigin::Copy { path, bytes } =
                self.copy(name, &self.fragments, "kernel-fragments")?
            else {
                unreachable!("copy() reads files")
            };
            let source = format!("kernel-fragments/{}", name.get_ref());
            let text = crate::base::toml_input::utf8_text(&path.display().to_string(), bytes)?;
            parsed.push(kconfig::parse(&source, &text)?);
        }
        kconfig::effective(&parsed)
            .into_iter()
            .map(|(e, fragment)| {
                let at = format!("{}:{}", fragment.source, e.line);
                let Some(why) = &e.why else {
                    return Err(Error::input(
                        at,
                        format!(
                            "CONFIG_{} has no `# why:` line; the ebuild needs it to tell the user",
                            e.name
                        ),
                    ));
                };
                let negate = match &e.value {
                    kconfig::Value::Unset => "!",
                    kconfig::Value::Set(v) if v == "y" || v == "m" => "",
                    kconfig::Value::Set(v) => {
                        return Err(Error::input(
                            at,
                            format!(
                                "CONFIG_{}={v}: an ebuild can check only set or unset options",
                                e.name
                            ),
                        ))
                    }
                };
                let (soft, kind) = if e.warning {
                    ("~", "WARNING")
                } else {
                    ("", "ERROR")
                };
                let want = if negate.is_empty() {
                    "set it (y or m)"
                } else {
                    "disable it"
                };
                Ok(ConfigCheck {
                    token: format!("{soft}{negate}{}", e.name),
                    message_var: format!("{kind}_{}", e.name),
                    message: format!("CONFIG_{}: {why}; {want}", e.name),
                })
            })
            .collect()
    }

    fn distfile(&self, d: DistfileSpec) -> Result<Distfile> {
        let name = self.matching(&d.name, &names::FILE_NAME, "distfile name")?;
        let mut digests = Digests::default();
        for hash in Hash::ALL {
            let Some(v) = spec_digest(&d, hash) else {
                continue;
            };
            let s = v.get_ref();
            let len = hash.hex_len();
            let hex = s
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
            if s.len() != len || !hex {
                return Err(self.err(
                    v,
                    format!(
                        "{} digest of {name} must be {len} lowercase hex digits, got {} characters{}",
                        hash.label(),
                        s.len(),
                        if hex { "" } else { " with non-hex ones" }
                    ),
                ));
            }
            digests.set(hash, s.clone());
        }
        let pinned = digests != Digests::default();
        if pinned && d.size.is_none() {
            return Err(self.err(&d.name, format!("distfile {name} has digests but no size")));
        }
        if pinned && d.source.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err(self.err(
                &d.name,
                format!("distfile {name} has digests but no source saying where they come from"),
            ));
        }
        // EAPI 0 has no `->` renaming: the URI must end in the file's name.
        if let Some(uri) = &d.uri {
            if uri.rsplit('/').next() != Some(name.as_str()) {
                return Err(self.err(
                    &d.name,
                    format!("uri {uri:?} does not end in {name}; EAPI 0 cannot rename a download"),
                ));
            }
        }
        Ok(Distfile {
            name,
            uri: d.uri,
            size: d.size,
            digests,
            source: d.source,
        })
    }

    fn file(&self, f: FileSpec) -> Result<PackageFile> {
        let dest = self.matching(&f.dest, &names::FILE_NAME, "file dest")?;
        let origin = match (&f.template, &f.verbatim, &f.patch, &f.fragment) {
            (Some(t), None, None, None) => FileOrigin::Template(self.template(t)?),
            (None, Some(v), None, None) => self.verbatim(v)?,
            (None, None, Some(p), None) => self.copy(p, &self.patches, "patches")?,
            (None, None, None, Some(k)) => self.copy(k, &self.fragments, "kernel-fragments")?,
            _ => {
                return Err(self.err(
                    &f.dest,
                    format!(
                        "file {dest:?} needs exactly one of template, verbatim, patch or fragment"
                    ),
                ))
            }
        };
        Ok(PackageFile {
            dest,
            origin,
            vars: serde_json::to_value(f.vars).expect("a TOML table is valid JSON"),
        })
    }

    /// A shipped file without markup, from the binary's generator/verbatim/files.
    fn verbatim(&self, name: &Spanned<String>) -> Result<FileOrigin> {
        let rel = name.get_ref();
        if !rel.split('/').all(|part| names::FILE_NAME.is_match(part)) {
            return Err(self.err(
                name,
                format!("invalid file name {rel:?} (a path of plain names in generator/verbatim/files/)"),
            ));
        }
        match crate::regen::templates::verbatim_file(rel) {
            Some(bytes) => Ok(FileOrigin::Copy {
                path: PathBuf::from("generator/verbatim/files").join(rel),
                bytes: bytes.to_vec(),
            }),
            None => Err(self.err(
                name,
                format!(
                    "no verbatim file {rel:?} (files are looked up in generator/verbatim/files/)"
                ),
            )),
        }
    }

    fn copy(&self, name: &Spanned<String>, dir: &Path, dir_name: &str) -> Result<FileOrigin> {
        let rel = name.get_ref();
        if !names::FILE_NAME.is_match(rel) {
            return Err(self.err(
                name,
                format!("invalid file name {rel:?} (a plain name in {dir_name}/)"),
            ));
        }
        let path = dir.join(rel);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(FileOrigin::Copy { path, bytes }),
            Err(e) => Err(self.err(name, format!("cannot read {dir_name}/{rel}: {e}"))),
        }
    }
}

/// The spec's value for one hash of a distfile.
fn spec_digest(d: &DistfileSpec, hash: Hash) -> Option<&Spanned<String>> {
    match hash {
        Hash::Blake2b => d.blake2b.as_ref(),
        Hash::Md5 => d.md5.as_ref(),
        Hash::Rmd160 => d.rmd160.as_ref(),
        Hash::Sha1 => d.sha1.as_ref(),
        Hash::Sha256 => d.sha256.as_ref(),
        Hash::Sha512 => d.sha512.as_ref(),
    }
}
