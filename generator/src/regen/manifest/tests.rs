use super::*;

fn measure_bytes_via_file(bytes: &[u8]) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, bytes).unwrap();
    measure(&path).unwrap()
}

// Known vectors: FIPS 180-2 for "abc" (SHA-1, SHA-256, SHA-512), RFC 7693 appendix A for
// BLAKE2b-512, the RIPEMD-160 reference (Dobbertin, Bosselaers, Preneel) for RMD160, RFC 1321
// appendix A.5 for MD5.
#[test]
fn abc_vectors() {
    let m = measure_bytes(b"abc");
    assert_eq!(m.size, 3);
    assert_eq!(
        m.digests.md5.as_deref(),
        Some("900150983cd24fb0d6963f7d28e17f72")
    );
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
            md5: Some("m".into()),
            rmd160: Some("r".into()),
            sha1: Some("s".into()),
            sha256: Some("c".into()),
            sha512: Some("d".into()),
        },
    );
    // No MD5 on a Manifest2 line: only digest files and Manifest1 lines carry it.
    assert_eq!(
        dist_line(&d).unwrap(),
        "DIST x.tar.bz2 1 BLAKE2B b RMD160 r SHA1 s SHA256 c SHA512 d"
    );
    assert_eq!(gap(&d), None);
}

// files/digest-${PF} as portage 2.1 wrote it: by file name, then hash name, MD5 only where known,
// SHA1 kept for portage 2.0; nothing for an unpinned file, and empty when nothing is left
// (ci/era-manifest-check compares with what portage 2.1.2.2 writes).
#[test]
fn digest_file_lines() {
    let mut a = distfile(
        Some(5),
        Digests {
            md5: Some("m".into()),
            rmd160: Some("r".into()),
            sha1: Some("s".into()),
            sha256: Some("c".into()),
            blake2b: Some("b".into()),
            sha512: Some("d".into()),
        },
    );
    a.name = "b.tgz".into();
    let mut b = distfile(
        Some(3),
        Digests {
            sha1: Some("t".into()),
            ..Default::default()
        },
    );
    b.name = "a.tgz".into();
    let unpinned = distfile(None, Digests::default());
    assert_eq!(
        digest_file([&a, &unpinned, &b]),
        "SHA1 t a.tgz 3\nMD5 m b.tgz 5\nRMD160 r b.tgz 5\nSHA1 s b.tgz 5\nSHA256 c b.tgz 5\n"
    );
    assert_eq!(digest_file([&unpinned]), "");
    assert_eq!(digest_file([]), "");
}

#[test]
fn package_lines_classify_files_and_leave_out_the_manifest() {
    let files: Vec<(&str, &[u8])> = vec![
        ("metadata.xml", b"m"),
        ("files/sub/x.patch", b"p"),
        ("files/digest-foo-1", b""),
        ("Manifest", b"old"),
        ("foo-1.ebuild", b"e"),
    ];
    let d = distfile(Some(7), Digests::default());
    let lines = package_lines(files, [&d]);
    let heads: Vec<String> = lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            match f[0] {
                "AUX" | "DIST" | "EBUILD" | "MISC" => f[..3].join(" "),
                _ => format!("{} {} {}", f[0], f[2], f[3]),
            }
        })
        .collect();
    // Each file's Manifest2 line, then its Manifest1 lines (path relative to the package
    // directory); the digest file has Manifest1 lines only, last, as portage 2.1 wrote them.
    assert_eq!(
        heads,
        [
            "AUX sub/x.patch 1",
            "MD5 files/sub/x.patch 1",
            "RMD160 files/sub/x.patch 1",
            "SHA256 files/sub/x.patch 1",
            "DIST x.tar.bz2 7",
            "EBUILD foo-1.ebuild 1",
            "MD5 foo-1.ebuild 1",
            "RMD160 foo-1.ebuild 1",
            "SHA256 foo-1.ebuild 1",
            "MISC metadata.xml 1",
            "MD5 metadata.xml 1",
            "RMD160 metadata.xml 1",
            "SHA256 metadata.xml 1",
            "MD5 files/digest-foo-1 0",
            "RMD160 files/digest-foo-1 0",
            "SHA256 files/digest-foo-1 0",
        ]
    );
    // MD5 of "p" (RFC 1321's algorithm; md5sum agrees).
    assert!(lines.contains(&"MD5 83878c91171338902e0fe0fb97a8c47a files/sub/x.patch 1".to_string()));
}
