//! Inputs from the shared directory: real files (QLogic's source, a real kernel tree) that the
//! repository may not carry, kept beside the checkout in `../shared` (the environment variable
//! `NB_SHARED` overrides it). A matrix names each such file by its path below that directory and
//! its SHA256 (from shared/real/SHA256SUMS). The one rule for all of them, here: a file that is
//! not there makes its entry SKIPPED, with a reason naming the file and `NB_SHARED`; a file with
//! other bytes than the digest says is an error, which fails the entry.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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

/// `rel` below `shared`, checked against `sha256`. Missing: the reason, naming the file and
/// NB_SHARED. Present with other bytes: an error naming both digests.
pub fn resolve(shared: &Path, rel: &Path, sha256: &str) -> Result<Local> {
    let path = shared.join(rel);
    if !path.is_file() {
        return Ok(Local::Missing(format!(
            "no {} ({ENV}={}; set {ENV} to the shared directory)",
            path.display(),
            shared.display()
        )));
    }
    let got = sha256_of(&path)?;
    if got != sha256 {
        return Err(Error::Environment(format!(
            "{}: SHA256 {got}, not the {sha256} the matrix pins (from shared/real/SHA256SUMS): \
             the file is damaged or another one",
            path.display()
        )));
    }
    Ok(Local::Ready(path))
}

fn sha256_of(path: &Path) -> Result<String> {
    let mut file = File::open(path).at(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(hex::encode(h.finalize()))
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
