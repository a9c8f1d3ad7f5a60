//! Manifest2 files: every package directory gets a thick Manifest listing its ebuilds (EBUILD),
//! files/ (AUX), other files (MISC) and distfiles (DIST), each line with every hash nbgen knows
//! (`model::Hash::ALL`): the ones portage 2.1.x verifies and the ones today's portage does, all
//! computed in one read of the file.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use blake2::Blake2b512;
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
/// 0.3 s (both with the CPU's SHA extensions).
const GROUPS: [&[Hash]; 2] = [
    &[Hash::Rmd160, Hash::Sha1],
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

/// The kinds of Manifest2 entry nbgen writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Aux,
    Dist,
    Ebuild,
    Misc,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Aux => "AUX",
            Kind::Dist => "DIST",
            Kind::Ebuild => "EBUILD",
            Kind::Misc => "MISC",
        }
    }

    /// The kind of a file of a package directory, by its path relative to that directory.
    /// Returns the name the Manifest lists it under (AUX names are relative to files/).
    pub fn of(rel: &str) -> (Kind, &str) {
        if let Some(aux) = rel.strip_prefix("files/") {
            (Kind::Aux, aux)
        } else if rel.ends_with(".ebuild") && !rel.contains('/') {
            (Kind::Ebuild, rel)
        } else {
            (Kind::Misc, rel)
        }
    }
}

/// One Manifest line: kind, name, size, then the known hashes in portage's order.
fn line(kind: Kind, name: &str, size: u64, digests: &Digests) -> String {
    let mut line = format!("{} {name} {size}", kind.label());
    for hash in Hash::ALL {
        if let Some(v) = digests.get(hash) {
            line.push_str(&format!(" {} {v}", hash.label()));
        }
    }
    line
}

/// The line of a file nbgen measured.
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

/// The lines of a package directory's Manifest: one per file in it (paths relative to the
/// directory, the Manifest itself excluded) and one per pinned distfile, sorted and unique.
pub fn package_lines<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    distfiles: impl IntoIterator<Item = &'a Distfile>,
) -> Vec<String> {
    let mut lines: Vec<String> = files
        .into_iter()
        .filter(|(rel, _)| *rel != "Manifest")
        .map(|(rel, bytes)| {
            let (kind, name) = Kind::of(rel);
            entry_line(kind, name, &measure_bytes(bytes))
        })
        .chain(distfiles.into_iter().filter_map(dist_line))
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// Why a distfile's DIST line is incomplete, if it is.
pub fn gap(d: &Distfile) -> Option<String> {
    if d.size.is_none() {
        return Some(format!(
            "{}: unpinned, no DIST line (its digests are not known; run `nbgen pin <path to {}>` with a copy you trust)",
            d.name, d.name
        ));
    }
    let missing: Vec<&str> = Hash::ALL
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
