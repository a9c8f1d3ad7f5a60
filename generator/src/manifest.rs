//! Manifest2 DIST lines: computing a distfile's size and digests (one read for all three hashes) and
//! writing the lines portage expects, with the hashes in portage's sorted order.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use blake2::Blake2b512;
use sha2::{Digest, Sha256, Sha512};

use crate::error::{IoContext, Result};
use crate::model::{Digests, Distfile};

/// What nbgen measured of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    pub size: u64,
    pub digests: Digests,
}

/// Reads `path` once, feeding every block to all three hashers.
pub fn measure(path: &Path) -> Result<Measured> {
    let mut file = File::open(path).at(path)?;
    let mut blake = Blake2b512::new();
    let mut s256 = Sha256::new();
    let mut s512 = Sha512::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        let block = &buf[..n];
        blake.update(block);
        s256.update(block);
        s512.update(block);
        size += n as u64;
    }
    Ok(Measured {
        size,
        digests: Digests {
            blake2b: Some(hex::encode(blake.finalize())),
            sha256: Some(hex::encode(s256.finalize())),
            sha512: Some(hex::encode(s512.finalize())),
        },
    })
}

/// The full DIST line of a file nbgen measured.
pub fn measured_line(name: &str, m: &Measured) -> String {
    let d = Distfile {
        name: name.to_string(),
        uri: None,
        size: Some(m.size),
        digests: m.digests.clone(),
        source: None,
    };
    dist_line(&d).expect("a measured file has a size")
}

/// The DIST line for a distfile, or None when nothing about it is known yet (an unpinned file).
pub fn dist_line(d: &Distfile) -> Option<String> {
    let size = d.size?;
    let mut line = format!("DIST {} {}", d.name, size);
    // Portage sorts hash names; BLAKE2B < SHA256 < SHA512 already is that order.
    for (label, value) in [
        ("BLAKE2B", &d.digests.blake2b),
        ("SHA256", &d.digests.sha256),
        ("SHA512", &d.digests.sha512),
    ] {
        if let Some(v) = value {
            line.push_str(&format!(" {label} {v}"));
        }
    }
    Some(line)
}

/// Why a distfile's DIST line is incomplete, if it is.
pub fn gap(d: &Distfile) -> Option<String> {
    if d.size.is_none() {
        return Some(format!(
            "{}: unpinned, no DIST line (its digests are not known; run `nbgen pin <path to {}>` with a copy you trust)",
            d.name, d.name
        ));
    }
    let missing: Vec<&str> = [
        ("BLAKE2B", &d.digests.blake2b),
        ("SHA256", &d.digests.sha256),
        ("SHA512", &d.digests.sha512),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(l, _)| *l)
    .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "{}: partial DIST line, {} unknown (digests from: {}); `nbgen pin <path to {}>` adds them",
        d.name,
        missing.join(" and "),
        d.source.as_deref().unwrap_or("unknown"),
        d.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure_bytes(bytes: &[u8]) -> Measured {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, bytes).unwrap();
        measure(&path).unwrap()
    }

    // Known vectors: FIPS 180-2 for "abc" (SHA-256, SHA-512), RFC 7693 appendix A for BLAKE2b-512.
    #[test]
    fn abc_vectors() {
        let m = measure_bytes(b"abc");
        assert_eq!(m.size, 3);
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
        let m = measure_bytes(b"");
        assert_eq!(m.size, 0);
        assert_eq!(
            m.digests.sha256.as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    // A file larger than one read block must hash the same as the whole buffer at once.
    #[test]
    fn multi_block_file_matches_one_shot() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let m = measure_bytes(&data);
        assert_eq!(m.size, 200_000);
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
            gap_text.contains("BLAKE2B and SHA512 unknown"),
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
                sha256: Some("c".into()),
                sha512: Some("d".into()),
            },
        );
        assert_eq!(
            dist_line(&d).unwrap(),
            "DIST x.tar.bz2 1 BLAKE2B b SHA256 c SHA512 d"
        );
        assert_eq!(gap(&d), None);
    }
}
