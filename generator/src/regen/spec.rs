//! The declarative spec as it is written in TOML. Every table rejects unknown fields, and values
//! that validation may complain about keep their position so errors can name the line.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::base::error::{Error, Result};

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
        toml::from_str(text).map_err(|e| {
            let location = match e.span() {
                Some(span) => Locator::new(path, text).at(span.start),
                None => path.display().to_string(),
            };
            // toml's message repeats the position and quotes the line; keep its first sentence.
            let message = e.message().trim().to_string();
            Error::input(location, message)
        })
    }
}

/// Reads a TOML file the user wrote. Text that is not UTF-8 is bad input, named with its line,
/// column and byte offset; a file that cannot be read is an I/O failure.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    utf8_text(&path.display().to_string(), bytes)
}

/// `bytes` as text, or an input error at the first byte that is not UTF-8. `shown` names the file.
pub fn utf8_text(shown: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
        Error::input(
            format!("{shown}:{line}:{col}"),
            format!(
                "invalid UTF-8 at byte {} (counting from 0); the file must be UTF-8 text",
                good.len()
            ),
        )
    })
}

/// Turns byte offsets in the spec into `file:line:column`.
pub struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> Locator<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        Locator { path, text }
    }

    pub fn at(&self, offset: usize) -> String {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{}:{}:{}", self.path.display(), line, col)
    }

    pub fn of<T>(&self, value: &Spanned<T>) -> String {
        self.at(value.span().start)
    }

    /// An input error at `value`'s position.
    pub fn err<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> Error {
        Error::input(self.of(value), message)
    }

    /// `value` if `re` matches it all, else an error naming `what` at its position.
    pub fn matching(
        &self,
        value: &Spanned<String>,
        re: &regex::Regex,
        what: &str,
    ) -> Result<String> {
        if re.is_match(value.get_ref()) {
            Ok(value.get_ref().clone())
        } else {
            Err(self.err(value, format!("invalid {what} {:?}", value.get_ref())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_names_line_column_and_byte() {
        let err = utf8_text("spec.toml", b"a = 1\nb = \"x\xffy\"\n".to_vec()).unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::EXIT_BAD_INPUT);
        assert_eq!(
            err.to_string(),
            "spec.toml:2:7: invalid UTF-8 at byte 12 (counting from 0); the file must be UTF-8 text"
        );
        assert_eq!(utf8_text("x", b"ok\n".to_vec()).unwrap(), "ok\n");
    }
}
