//! The table of shared inputs (ci/shared-inputs.toml): every archive of the shared directory that
//! tests use, where it comes from (public archives of named commits) and its content digest. The
//! one place that pins them: consumers check an input against it by its path below the directory.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::base::error::{Error, Result};
use crate::base::names;
use crate::base::toml_input::{self, Locator};

use super::content;

/// The table's place in the workspace.
pub const TABLE: &str = "ci/shared-inputs.toml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Below the shared directory, e.g. `era/portage-2.0.54.tar.xz`.
    pub path: String,
    /// The one top directory the archive holds.
    pub top: String,
    /// `tree-sha256:<hex>` (content::of_file).
    pub content: String,
    /// The first source gives the tree; each later one replaces or adds its `files`.
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file name a mirror serves it under, and the download's name in messages.
    pub name: String,
    pub url: String,
    /// None for the first source (all of it); the paths (below its top directory) taken from a
    /// later one.
    pub files: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    input: Vec<Spanned<RawInput>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    path: Spanned<String>,
    top: Spanned<String>,
    content: Spanned<String>,
    source: Vec<Spanned<RawSource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    url: Spanned<String>,
    files: Option<Vec<Spanned<String>>>,
}

/// Reads and checks the table at `path`.
pub fn load(path: &Path) -> Result<Vec<Input>> {
    let text = toml_input::read_text(path)?;
    parse(path, &text)
}

/// Checks the table's text; `path` names it in errors, which give the line.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Input>> {
    let raw: RawTable = toml_input::parse(path, text)?;
    let loc = Locator::new(path, text);
    let mut inputs: Vec<Input> = Vec::new();
    for i in &raw.input {
        let i = i.get_ref();
        let rel = "a path below the shared directory (plain names)";
        let input_path = loc.matching(&i.path, &names::RELATIVE_PATH, rel)?;
        if inputs.iter().any(|o| o.path == input_path) {
            return Err(loc.err(&i.path, format!("{input_path} is listed twice")));
        }
        let top = loc.matching(&i.top, &names::FILE_NAME, "top directory (one name)")?;
        let digest = i.content.get_ref();
        let hex = digest.strip_prefix(content::PREFIX).unwrap_or_default();
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(loc.err(
                &i.content,
                format!(
                    "content must be {}<64 lowercase hex digits>",
                    content::PREFIX
                ),
            ));
        }
        if i.source.is_empty() {
            return Err(loc.err(&i.path, format!("{input_path} has no [[input.source]]")));
        }
        let mut sources = Vec::new();
        for (n, s) in i.source.iter().enumerate() {
            sources.push(source(&loc, s, n == 0)?);
        }
        inputs.push(Input {
            path: input_path,
            top,
            content: digest.clone(),
            sources,
        });
    }
    Ok(inputs)
}

fn source(loc: &Locator, s: &Spanned<RawSource>, first: bool) -> Result<Source> {
    let raw = s.get_ref();
    let name = loc.matching(&raw.name, &names::FILE_NAME, "source name (a file name)")?;
    let url = raw.url.get_ref();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(loc.err(&raw.url, "url must be http(s)"));
    }
    let files = match (&raw.files, first) {
        (Some(_), true) => {
            return Err(loc.err(
                s,
                "the first source gives the whole tree: it takes no files",
            ))
        }
        (None, false) => {
            return Err(loc.err(s, "a later source needs files = [...]: the paths it adds"))
        }
        (None, true) => None,
        (Some(f), false) => Some(
            f.iter()
                .map(|p| loc.matching(p, &names::RELATIVE_PATH, "file path (plain names)"))
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    Ok(Source {
        name,
        url: url.clone(),
        files,
    })
}

/// The input listed under `rel` (its path below the shared directory).
pub fn find<'t>(table: &'t [Input], rel: &str) -> Result<&'t Input> {
    table.iter().find(|i| i.path == rel).ok_or_else(|| {
        Error::input(
            TABLE,
            format!("{rel} is not a shared input: add it to {TABLE} with its content digest"),
        )
    })
}
