//! The content digest of a shared input: what an archive holds, whatever compressed, stamped or
//! ordered it. One line per file (`file 644|755 <sha256> <path>`) or symlink (`link <target>
//! <path>`), sorted by path; directories, owners, times and tar's extended headers (git archive's
//! commit comment among them) leave no line. The digest is the SHA256 of those lines, written
//! `tree-sha256:<hex>`; two archives with it hold the same tree.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};
use tar::{Archive, EntryType};

use crate::base::error::{Error, IoContext, Result};

/// The prefix that names the kind of digest, so that another kind can follow without ambiguity.
pub const PREFIX: &str = "tree-sha256:";

/// The content digest of the archive file at `path`.
pub fn of_file(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).at(path)?;
    of_reader(&path.display().to_string(), file)
}

/// The content digest of an archive read from `reader`; `name` names it in errors.
pub fn of_reader(name: &str, reader: impl Read) -> Result<String> {
    let lines = lines(name, reader)?;
    Ok(of_lines(&lines))
}

/// The digest of lines as `lines` gives them (path to line).
pub fn of_lines(lines: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for line in lines.values() {
        h.update(line.as_bytes());
        h.update(b"\n");
    }
    format!("{PREFIX}{}", hex::encode(h.finalize()))
}

/// Each file's and symlink's line, by path.
pub fn lines(name: &str, reader: impl Read) -> Result<BTreeMap<String, String>> {
    let (_, tar) = crate::nbtest::unpack::decoded(name, reader)?;
    let bad = |e: std::io::Error| Error::input(name, format!("cannot read the archive: {e}"));
    let mut archive = Archive::new(tar);
    let mut out = BTreeMap::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let path = path.trim_start_matches("./").to_string();
        let line = match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous => {
                let mode = entry.header().mode().map_err(bad)?;
                let mut h = Sha256::new();
                std::io::copy(&mut entry, &mut HashWriter(&mut h)).map_err(bad)?;
                let exec = if mode & 0o111 != 0 { "755" } else { "644" };
                format!("file {exec} {} {path}", hex::encode(h.finalize()))
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(bad)?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("link {target} {path}")
            }
            EntryType::Link => {
                return Err(Error::input(
                    name,
                    format!("{path}: a hard link; shared inputs hold files and symlinks only"),
                ))
            }
            _ => continue,
        };
        if out.insert(path.clone(), line).is_some() {
            return Err(Error::input(
                name,
                format!("{path} is in the archive twice"),
            ));
        }
    }
    Ok(out)
}

struct HashWriter<'h>(&'h mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
