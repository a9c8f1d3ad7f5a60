//! Inputs from the shared directory: real files (the era toolchain, QLogic's source, a real kernel
//! tree, Gentoo's clients) that the repository does not carry, kept beside the checkout in
//! `../shared` (the environment variable `NB_SHARED` overrides it). ci/shared-inputs.toml names
//! each by its path below that directory, with its sources and its content digest (table,
//! content); `nbgen shared fetch` makes the directory from the sources (assemble). The one rule
//! for all of them, here: a file that is not there makes what needs it SKIPPED, with a reason
//! naming the file, `NB_SHARED` and the command that fetches it; a file whose content is not the
//! table's is an error naming both digests.

pub mod assemble;
pub mod content;
pub mod table;

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::base::error::{Error, IoContext, Result};

/// The environment variable naming the shared directory.
pub const ENV: &str = "NB_SHARED";

/// The shared directory of the workspace at `root`: `$NB_SHARED`, else `<root>/../shared`.
pub fn dir(root: &Path) -> PathBuf {
    match std::env::var_os(ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => root.join("..").join("shared"),
    }
}

/// A shared file: checked and ready, or missing (the reason to skip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    Ready(PathBuf),
    Missing(String),
}

/// `rel` below `shared`, checked against the table's content digest. Missing: the reason, naming
/// the file, NB_SHARED and the command that fetches it. Present with other content: an error naming
/// both digests.
pub fn resolve(shared: &Path, rel: &Path, table: &[table::Input]) -> Result<Local> {
    let input = table::find(table, &rel.to_string_lossy())?;
    let path = shared.join(rel);
    match state(shared, input)? {
        State::Good => Ok(Local::Ready(path)),
        State::Missing => Ok(Local::Missing(missing(&path, shared))),
        State::Wrong(got) => Err(Error::Environment(format!(
            "{}: content digest {got}, not the {} that {} pins: the file is damaged or another \
             one (nbgen shared fetch --into DIR makes a good copy)",
            path.display(),
            input.content,
            table::TABLE
        ))),
    }
}

/// A shared directory and the table its inputs are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Dir<'a> {
    pub path: &'a Path,
    pub table: &'a [table::Input],
}

impl Dir<'_> {
    /// `rel` below the directory, checked (see `resolve`).
    pub fn resolve(&self, rel: &Path) -> Result<Local> {
        resolve(self.path, rel, self.table)
    }
}

/// What the shared directory holds of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// There, with the table's content digest.
    Good,
    Missing,
    /// There, with this other content digest.
    Wrong(String),
}

/// The state of `input` in the shared directory `dir`.
pub fn state(dir: &Path, input: &table::Input) -> Result<State> {
    let path = dir.join(&input.path);
    if !path.is_file() {
        return Ok(State::Missing);
    }
    let got = content::of_file(&path)?;
    Ok(if got == input.content {
        State::Good
    } else {
        State::Wrong(got)
    })
}

/// Fetches `input`'s sources with `fetcher` (from `mirror`, `<mirror>/<name>`, when given) and
/// writes the input into `dir` when its content digest is the table's. Returns the URLs fetched
/// and what became of it.
pub fn fetch(
    dir: &Path,
    input: &table::Input,
    fetcher: &crate::nbtest::fetch::Fetcher,
    mirror: Option<&str>,
) -> Result<(Vec<String>, assemble::Assembled)> {
    let mut downloads = Vec::new();
    let mut urls = Vec::new();
    for source in &input.sources {
        let url = assemble::source_url(source, mirror);
        let (path, _) = fetcher.fetch_unpinned(&url)?;
        downloads.push(path);
        urls.push(url);
    }
    let done = assemble::assemble(input, &downloads, &dir.join(&input.path))?;
    Ok((urls, done))
}

/// Why a shared file counts as missing, and how to get it.
pub fn missing(path: &Path, shared: &Path) -> String {
    format!(
        "no {} ({ENV}={}; set {ENV} to the shared directory, or get it with: nbgen shared fetch --into {})",
        path.display(),
        shared.display(),
        shared.display()
    )
}

/// How a shared tarball becomes a distfile of another name: the bytes as they are, or the tar
/// stream decompressed from xz and compressed with gzip (QLogic's archives are .tgz; the shared
/// copy of the real source is .tar.xz).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Repack {
    Copy,
    XzToGzip,
}

const XZ: &[&str] = &[".tar.xz", ".txz"];
const GZIP: &[&str] = &[".tgz", ".tar.gz"];

/// The repacking that turns a file named `from` into one named `to`, judged by their endings;
/// None when nbgen cannot make one from the other.
pub fn repack(from: &str, to: &str) -> Option<Repack> {
    let ends = |name: &str, set: &[&str]| set.iter().any(|s| name.ends_with(s));
    let ending = |name: &str| {
        XZ.iter()
            .chain(GZIP)
            .chain(&[".tar.bz2", ".tbz2", ".tar"])
            .find(|s| name.ends_with(*s))
            .copied()
    };
    if ends(from, XZ) && ends(to, GZIP) {
        return Some(Repack::XzToGzip);
    }
    match (ending(from), ending(to)) {
        (Some(a), Some(b)) if a == b || (ends(a, GZIP) && ends(b, GZIP)) => Some(Repack::Copy),
        _ => None,
    }
}

/// Writes `src` as `dest` the way `how` says. The gzip stream carries no name and no time, so the
/// same input gives the same bytes (and digests) on every run.
pub fn materialize(src: &Path, dest: &Path, how: Repack) -> Result<()> {
    match how {
        Repack::Copy => {
            std::fs::copy(src, dest).at(dest)?;
        }
        Repack::XzToGzip => {
            let input = BufReader::new(File::open(src).at(src)?);
            let mut decoder = xz2::read::XzDecoder::new_multi_decoder(input);
            // Written beside `dest` and renamed: a half-written distfile is never left under its
            // name.
            let mut tmp = tempfile::NamedTempFile::new_in(dest.parent().unwrap_or(Path::new(".")))
                .at(dest)?;
            let mut encoder = flate2::GzBuilder::new().mtime(0).write(
                io::BufWriter::new(tmp.as_file_mut()),
                flate2::Compression::default(),
            );
            io::copy(&mut decoder, &mut encoder).map_err(|e| {
                Error::Environment(format!("repacking {} failed: {e}", src.display()))
            })?;
            encoder.finish().and_then(|mut w| w.flush()).at(dest)?;
            tmp.persist(dest).map_err(|e| Error::io(dest, e.error))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repack_by_endings() {
        assert_eq!(repack("a.tar.xz", "b.tgz"), Some(Repack::XzToGzip));
        assert_eq!(repack("a.txz", "b.tar.gz"), Some(Repack::XzToGzip));
        assert_eq!(repack("a.tgz", "b.tar.gz"), Some(Repack::Copy));
        assert_eq!(repack("a.tar.bz2", "b.tar.bz2"), Some(Repack::Copy));
        assert_eq!(repack("a.tar.bz2", "b.tgz"), None);
        assert_eq!(repack("a.tar.xz", "b.tar.bz2"), None);
        assert_eq!(repack("a.zip", "b.zip"), None);
    }
}
