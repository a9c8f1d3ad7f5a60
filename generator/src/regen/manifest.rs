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
mod tests {
    use super::*;

    fn measure_bytes_via_file(bytes: &[u8]) -> Measured {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, bytes).unwrap();
        measure(&path).unwrap()
    }

    // Known vectors: FIPS 180-2 for "abc" (SHA-1, SHA-256, SHA-512), RFC 7693 appendix A for
    // BLAKE2b-512, the RIPEMD-160 reference (Dobbertin, Bosselaers, Preneel) for RMD160.
    #[test]
    fn abc_vectors() {
        let m = measure_bytes(b"abc");
        assert_eq!(m.size, 3);
        assert_eq!(
            m.digests.sha1.as_deref(),
            Some("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            m.digests.rmd160.as_deref(),
            Some("8eb208f7e05d987a9b044a8e98c6b087f15a0bfc")
        );
        assert_eq!(
            m.digests.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            m.digests.sha512.as_deref(),
            Some("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
        );
        assert_eq!(
            m.digests.blake2b.as_deref(),
            Some("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
        );
    }

    // The empty input, across a read loop that sees no block at all.
    #[test]
    fn empty_vectors() {
        let m = measure_bytes_via_file(b"");
        assert_eq!(m, measure_bytes(b""));
        assert_eq!(m.size, 0);
        assert_eq!(
            m.digests.sha256.as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    // A file hashed on two threads, in blocks with a short last one, must hash the same as the
    // whole buffer at once.
    #[test]
    fn parallel_file_matches_one_shot() {
        let len = PARALLEL_FROM as usize + 3 * BLOCK + 17;
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let m = measure_bytes_via_file(&data);
        assert_eq!(m, measure_bytes(&data));
        assert_eq!(m.size, len as u64);
        assert_eq!(
            m.digests.sha256.unwrap(),
            hex::encode(Sha256::digest(&data))
        );
        assert_eq!(
            m.digests.blake2b.unwrap(),
            hex::encode(Blake2b512::digest(&data))
        );
    }

    #[test]
    fn missing_file_names_path() {
        let err = measure(Path::new("/nonexistent/nbgen-test")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/nbgen-test"));
    }

    fn distfile(size: Option<u64>, digests: Digests) -> Distfile {
        Distfile {
            name: "x.tar.bz2".into(),
            uri: None,
            size,
            digests,
            source: Some("a Manifest".into()),
        }
    }

    #[test]
    fn partial_and_unpinned_lines() {
        let only256 = distfile(
            Some(7),
            Digests {
                sha256: Some("aa".into()),
                ..Default::default()
            },
        );
        assert_eq!(dist_line(&only256).unwrap(), "DIST x.tar.bz2 7 SHA256 aa");
        let gap_text = gap(&only256).unwrap();
        assert!(
            gap_text.contains("BLAKE2B, RMD160, SHA1 and SHA512 unknown"),
            "{gap_text}"
        );
        let unpinned = distfile(None, Digests::default());
        assert_eq!(dist_line(&unpinned), None);
        assert!(gap(&unpinned).unwrap().contains("unpinned"));
    }

    #[test]
    fn full_line_has_portage_order() {
        let d = distfile(
            Some(1),
            Digests {
                blake2b: Some("b".into()),
                rmd160: Some("r".into()),
                sha1: Some("s".into()),
                sha256: Some("c".into()),
                sha512: Some("d".into()),
            },
        );
        assert_eq!(
            dist_line(&d).unwrap(),
            "DIST x.tar.bz2 1 BLAKE2B b RMD160 r SHA1 s SHA256 c SHA512 d"
        );
        assert_eq!(gap(&d), None);
    }

    #[test]
    fn package_lines_classify_files_and_leave_out_the_manifest() {
        let files: Vec<(&str, &[u8])> = vec![
            ("metadata.xml", b"m"),
            ("files/sub/x.patch", b"p"),
            ("Manifest", b"old"),
            ("foo-1.ebuild", b"e"),
        ];
        let d = distfile(Some(7), Digests::default());
        let lines = package_lines(files, [&d]);
        let heads: Vec<String> = lines
            .iter()
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            heads,
            [
                "AUX sub/x.patch 1",
                "DIST x.tar.bz2 7",
                "EBUILD foo-1.ebuild 1",
                "MISC metadata.xml 1"
            ]
        );
    }
}
