//! Manifests as Gentoo's tree had them in 2006, and the digest files beside them. Every package
//! directory gets a thick Manifest: a Manifest2 line for each ebuild (EBUILD), file of files/ (AUX),
//! other file (MISC) and distfile (DIST) with the hashes of `Hash::MANIFEST2` (portage 2.1.x's and
//! today's), each file's followed by its Manifest1 lines (`Hash::MANIFEST1`, what portage 2.0 checks
//! under strict). Every ebuild gets `files/digest-${PF}`, the distfile digests portage 2.0 reads. The
//! layout is what portage 2.1's own Manifest writer made for the 2.0 users (its portage_manifest.py):
//! digest files have Manifest1 lines only, never an AUX line. Every hash of a file is computed in one
//! read of it.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use blake2::Blake2b512;
use md5::Md5;
use ripemd::Ripemd160;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::base::error::{Error, IoContext, Result};
use crate::regen::model::{Digests, Distfile, Hash};

/// What nbgen measured of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    pub size: u64,
    pub digests: Digests,
}

/// A set of running hashers, one per `Hash` it was made for.
#[derive(Default)]
struct Hashers {
    blake2b: Option<Blake2b512>,
    md5: Option<Md5>,
    rmd160: Option<Ripemd160>,
    sha1: Option<Sha1>,
    sha256: Option<Sha256>,
    sha512: Option<Sha512>,
}

impl Hashers {
    fn new(set: &[Hash]) -> Self {
        let mut h = Hashers::default();
        for hash in set {
            match hash {
                Hash::Blake2b => h.blake2b = Some(Blake2b512::new()),
                Hash::Md5 => h.md5 = Some(Md5::new()),
                Hash::Rmd160 => h.rmd160 = Some(Ripemd160::new()),
                Hash::Sha1 => h.sha1 = Some(Sha1::new()),
                Hash::Sha256 => h.sha256 = Some(Sha256::new()),
                Hash::Sha512 => h.sha512 = Some(Sha512::new()),
            }
        }
        h
    }

    fn update(&mut self, block: &[u8]) {
        if let Some(h) = &mut self.blake2b {
            h.update(block);
        }
        if let Some(h) = &mut self.md5 {
            h.update(block);
        }
        if let Some(h) = &mut self.rmd160 {
            h.update(block);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(block);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(block);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(block);
        }
    }

    fn finish(self, into: &mut Digests) {
        if let Some(h) = self.blake2b {
            into.set(Hash::Blake2b, hex::encode(h.finalize()));
        }
        if let Some(h) = self.md5 {
            into.set(Hash::Md5, hex::encode(h.finalize()));
        }
        if let Some(h) = self.rmd160 {
            into.set(Hash::Rmd160, hex::encode(h.finalize()));
        }
        if let Some(h) = self.sha1 {
            into.set(Hash::Sha1, hex::encode(h.finalize()));
        }
        if let Some(h) = self.sha256 {
            into.set(Hash::Sha256, hex::encode(h.finalize()));
        }
        if let Some(h) = self.sha512 {
            into.set(Hash::Sha512, hex::encode(h.finalize()));
        }
    }
}

/// The hashes split in two groups of about equal cost, so that two cores hash a large file in
/// parallel. Measured on the development machine (release build, 256 MiB): RIPEMD-160 1.4-2.0 s
/// (no CPU extension helps it), SHA-512 0.8-1.0 s, BLAKE2b 0.6 s, SHA-256 0.35-0.4 s and SHA-1
/// 0.3 s (both with the CPU's SHA extensions); MD5 costs about what SHA-1 without extensions does.
const GROUPS: [&[Hash]; 2] = [
    &[Hash::Md5, Hash::Rmd160, Hash::Sha1],
    &[Hash::Blake2b, Hash::Sha256, Hash::Sha512],
];

/// Files up to this size are hashed on the calling thread; threads would cost more than they save.
const PARALLEL_FROM: u64 = 4 << 20;
const BLOCK: usize = 1 << 20;

/// Every hash of bytes already in memory (the ebuilds and files nbgen renders).
pub fn measure_bytes(bytes: &[u8]) -> Measured {
    let mut hashers = Hashers::new(&Hash::ALL);
    hashers.update(bytes);
    let mut digests = Digests::default();
    hashers.finish(&mut digests);
    Measured {
        size: bytes.len() as u64,
        digests,
    }
}

/// Reads `path` once and computes every hash of it. A large file is read on this thread and each
/// block handed to two hashing threads (one per group), so reading and hashing overlap.
pub fn measure(path: &Path) -> Result<Measured> {
    let mut file = File::open(path).at(path)?;
    let len = file.metadata().at(path)?.len();
    if len < PARALLEL_FROM {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes).at(path)?;
        return Ok(measure_bytes(&bytes));
    }
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for group in GROUPS {
            // Two blocks in flight per worker keep the reader ahead without buffering the file.
            let (tx, rx) = mpsc::sync_channel::<Arc<Vec<u8>>>(2);
            senders.push(tx);
            workers.push(scope.spawn(move || {
                let mut hashers = Hashers::new(group);
                for block in rx {
                    hashers.update(&block);
                }
                hashers
            }));
        }
        let mut size = 0u64;
        let read = loop {
            let mut buf = vec![0u8; BLOCK];
            let n = match read_full(&mut file, &mut buf) {
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            if n == 0 {
                break Ok(());
            }
            buf.truncate(n);
            size += n as u64;
            let block = Arc::new(buf);
            for tx in &senders {
                // A worker only stops receiving by panicking, which join reports below.
                let _ = tx.send(Arc::clone(&block));
            }
        };
        drop(senders);
        let mut digests = Digests::default();
        for worker in workers {
            let hashers = worker
                .join()
                .map_err(|_| Error::io(path, std::io::Error::other("a hashing thread panicked")))?;
            hashers.finish(&mut digests);
        }
        read.at(path)?;
        Ok(Measured { size, digests })
    })
}

/// Fills `buf` as far as the file goes, so that blocks are whole except the last.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The kinds of Manifest entry nbgen writes: the four of Manifest2, and portage 2.0's digest files,
/// which only Manifest1 lines list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Aux,
    Dist,
    Ebuild,
    Misc,
    Digest,
}

impl Kind {
    fn label(self) -> Option<&'static str> {
        match self {
            Kind::Aux => Some("AUX"),
            Kind::Dist => Some("DIST"),
            Kind::Ebuild => Some("EBUILD"),
            Kind::Misc => Some("MISC"),
            Kind::Digest => None,
        }
    }

    /// The kind of a file of a package directory, by its path relative to that directory.
    /// Returns the name the Manifest2 line lists it under (AUX names are relative to files/).
    pub fn of(rel: &str) -> (Kind, &str) {
        if let Some(aux) = rel.strip_prefix("files/") {
            if aux.starts_with(DIGEST_PREFIX) {
                (Kind::Digest, aux)
            } else {
                (Kind::Aux, aux)
            }
        } else if rel.ends_with(".ebuild") && !rel.contains('/') {
            (Kind::Ebuild, rel)
        } else {
            (Kind::Misc, rel)
        }
    }
}

/// The name portage 2.0 reads an ebuild's distfile digests from: files/digest-${PF}.
pub const DIGEST_PREFIX: &str = "digest-";

/// The path of the digest file of the ebuild of `pf` (${PF}), relative to the package directory.
pub fn digest_path(pf: &str) -> String {
    format!("files/{DIGEST_PREFIX}{pf}")
}

/// One Manifest2 line: kind, name, size, then the known hashes in portage's order.
fn line(kind: Kind, name: &str, size: u64, digests: &Digests) -> String {
    let label = kind.label().expect("digest files have no Manifest2 line");
    let mut line = format!("{label} {name} {size}");
    for hash in Hash::MANIFEST2 {
        if let Some(v) = digests.get(hash) {
            line.push_str(&format!(" {} {v}", hash.label()));
        }
    }
    line
}

/// Manifest1 (and digest file) lines: `<HASH> <hex> <path> <size>`, one per hash of `set` known.
fn lines1<'a>(
    set: &'a [Hash],
    path: &'a str,
    size: u64,
    digests: &'a Digests,
) -> impl Iterator<Item = String> + 'a {
    set.iter().filter_map(move |hash| {
        let v = digests.get(*hash)?;
        Some(format!("{} {v} {path} {size}", hash.label()))
    })
}

/// The Manifest2 line of a file nbgen measured.
pub fn entry_line(kind: Kind, name: &str, m: &Measured) -> String {
    line(kind, name, m.size, &m.digests)
}

/// The full DIST line of a file nbgen measured.
pub fn measured_line(name: &str, m: &Measured) -> String {
    entry_line(Kind::Dist, name, m)
}

/// The DIST line for a distfile, or None when nothing about it is known yet (an unpinned file).
pub fn dist_line(d: &Distfile) -> Option<String> {
    Some(line(Kind::Dist, &d.name, d.size?, &d.digests))
}

/// The text of an ebuild's files/digest-${PF}: for each of its pinned distfiles, by name, a line per
/// known hash of `Hash::DIGEST`. Portage 2.0 needs the file even when it lists nothing; portage
/// 2.1.2.2 writes it as its lines, each ending in a newline, and empty when there are none.
pub fn digest_file<'a>(distfiles: impl IntoIterator<Item = &'a Distfile>) -> String {
    let mut distfiles: Vec<&Distfile> = distfiles.into_iter().collect();
    distfiles.sort_by(|a, b| a.name.cmp(&b.name));
    let lines: Vec<String> = distfiles
        .iter()
        .filter_map(|d| {
            Some(lines1(&Hash::DIGEST, &d.name, d.size?, &d.digests).collect::<Vec<_>>())
        })
        .flatten()
        .map(|line| line + "\n")
        .collect();
    lines.concat()
}

/// The lines of a package directory's Manifest, laid out as portage 2.1 wrote them: by kind (AUX,
/// DIST, EBUILD, MISC) and name, each file's Manifest2 line followed by its Manifest1 lines, then the
/// digest files' Manifest1 lines. `files` are paths relative to the directory (the Manifest itself
/// is left out); unpinned distfiles have no line.
pub fn package_lines<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    distfiles: impl IntoIterator<Item = &'a Distfile>,
) -> Vec<String> {
    let mut entries: Vec<(Kind, String, Vec<String>)> = files
        .into_iter()
        .filter(|(rel, _)| *rel != "Manifest")
        .map(|(rel, bytes)| {
            let (kind, name) = Kind::of(rel);
            let m = measure_bytes(bytes);
            let mut lines: Vec<String> = kind
                .label()
                .map(|_| entry_line(kind, name, &m))
                .into_iter()
                .collect();
            lines.extend(lines1(&Hash::MANIFEST1, rel, m.size, &m.digests));
            (kind, name.to_string(), lines)
        })
        .chain(
            distfiles
                .into_iter()
                .filter_map(|d| Some((Kind::Dist, d.name.clone(), vec![dist_line(d)?]))),
        )
        .collect();
    entries.sort();
    entries.dedup();
    entries
        .into_iter()
        .flat_map(|(_, _, lines)| lines)
        .collect()
}

/// Why a distfile's DIST line is incomplete, if it is.
pub fn gap(d: &Distfile) -> Option<String> {
    if d.size.is_none() {
        return Some(format!(
            "{}: unpinned, no DIST line (its digests are not known; run `nbgen pin <path to {}>` with a copy you trust)",
            d.name, d.name
        ));
    }
    let missing: Vec<&str> = Hash::MANIFEST2
        .iter()
        .filter(|h| d.digests.get(**h).is_none())
        .map(|h| h.label())
        .collect();
    let missing = match missing.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => return None,
    };
    Some(format!(
        "{}: partial DIST line, {missing} unknown (digests from: {}); `nbgen pin <path to {}>` adds them",
        d.name,
        d.source.as_deref().unwrap_or("unknown"),
        d.name
    ))
}

#[cfg(test)]
mod tests;
