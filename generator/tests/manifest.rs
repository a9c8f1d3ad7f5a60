//! Thick Manifests: every package directory lists each of its files and pinned distfiles with the
//! five hashes portage 2.1 and today's portage verify (Manifest2 lines), and each file again in the
//! Manifest1 lines portage 2.0 checks; every ebuild has its files/digest-${PF}. Checked against
//! independent implementations.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::Ws;

/// The hex digest a coreutils tool (md5sum, sha1sum, sha256sum, b2sum, sha512sum) prints for `path`.
fn coreutils(tool: &str, path: &Path) -> String {
    let out = Command::new(tool).arg(path).output().unwrap();
    assert!(out.status.success(), "{tool} failed");
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().next().unwrap().to_string()
}

/// `HASH hex` pairs of a Manifest line, after kind, name and size.
fn hashes(line: &str) -> Vec<(String, String)> {
    let fields: Vec<&str> = line.split(' ').collect();
    fields[3..]
        .chunks(2)
        .map(|p| (p[0].to_string(), p[1].to_string()))
        .collect()
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    &pairs.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn dist_line_matches_coreutils_and_the_ripemd160_reference_vector() {
    let ws = Ws::copy();
    // One file below and one above the size from which nbgen hashes on two threads.
    let small = ws.path().join("small.tar");
    let large = ws.path().join("large.tar");
    std::fs::write(&small, b"abc").unwrap();
    let data: Vec<u8> = (0..9_437_187u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&large, &data).unwrap();
    let (out, _) = ws.run(
        &["digest", small.to_str().unwrap(), large.to_str().unwrap()],
        0,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for (line, path, size) in [(lines[0], &small, 3usize), (lines[1], &large, data.len())] {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            line.starts_with(&format!("DIST {name} {size} BLAKE2B ")),
            "{line}"
        );
        let pairs = hashes(line);
        let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["BLAKE2B", "RMD160", "SHA1", "SHA256", "SHA512"]);
        assert_eq!(value(&pairs, "SHA1"), coreutils("sha1sum", path));
        assert_eq!(value(&pairs, "SHA256"), coreutils("sha256sum", path));
        assert_eq!(value(&pairs, "BLAKE2B"), coreutils("b2sum", path));
        assert_eq!(value(&pairs, "SHA512"), coreutils("sha512sum", path));
    }
    // RIPEMD-160 of "abc", from the algorithm's reference (Dobbertin, Bosselaers, Preneel).
    assert_eq!(
        value(&hashes(lines[0]), "RMD160"),
        "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
    );
}

#[test]
fn every_package_directory_has_a_thick_manifest_of_all_its_files() {
    let ws = Ws::copy();
    ws.run(&["regen"], 0);
    let overlay = ws.overlay();
    let mut packages = 0;
    for cat in std::fs::read_dir(&overlay).unwrap() {
        let cat = cat.unwrap().path();
        for pkg in std::fs::read_dir(&cat).into_iter().flatten() {
            let pkg = pkg.unwrap().path();
            let has_ebuild = std::fs::read_dir(&pkg)
                .into_iter()
                .flatten()
                .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "ebuild"));
            if !has_ebuild {
                continue;
            }
            packages += 1;
            let manifest = std::fs::read_to_string(pkg.join("Manifest"))
                .unwrap_or_else(|e| panic!("{}: no Manifest: {e}", pkg.display()));
            let mut listed = BTreeSet::new();
            let mut listed1 = BTreeSet::new();
            for line in manifest.lines() {
                let f: Vec<&str> = line.split(' ').collect();
                if matches!(f[0], "MD5" | "RMD160" | "SHA256") && f.len() == 4 {
                    // Manifest1: HASH hex path size, the path relative to the package directory.
                    let path = pkg.join(f[2]);
                    assert_eq!(
                        f[3].parse::<u64>().unwrap(),
                        std::fs::metadata(&path).unwrap().len(),
                        "{line}"
                    );
                    match f[0] {
                        "MD5" => assert_eq!(f[1], coreutils("md5sum", &path), "{line}"),
                        "SHA256" => assert_eq!(f[1], coreutils("sha256sum", &path), "{line}"),
                        _ => assert_eq!(f[1].len(), 40, "{line}"),
                    }
                    listed1.insert((f[0].to_string(), f[2].to_string()));
                    continue;
                }
                let rel = match f[0] {
                    "DIST" => continue,
                    "AUX" => format!("files/{}", f[1]),
                    "EBUILD" | "MISC" => f[1].to_string(),
                    other => panic!("unknown Manifest entry {other}: {line}"),
                };
                let path = pkg.join(&rel);
                let pairs = hashes(line);
                assert_eq!(pairs.len(), 5, "{line}");
                let size: u64 = f[2].parse().unwrap();
                assert_eq!(size, std::fs::metadata(&path).unwrap().len(), "{line}");
                assert_eq!(value(&pairs, "SHA1"), coreutils("sha1sum", &path));
                assert_eq!(value(&pairs, "SHA256"), coreutils("sha256sum", &path));
                assert_eq!(value(&pairs, "BLAKE2B"), coreutils("b2sum", &path));
                assert_eq!(value(&pairs, "SHA512"), coreutils("sha512sum", &path));
                listed.insert(rel);
            }
            let mut on_disk = BTreeSet::new();
            collect(&pkg, &pkg, &mut on_disk);
            on_disk.remove("Manifest");
            // Portage (2.1 and today's) never lists a digest file on a Manifest2 line.
            let digests: BTreeSet<String> = on_disk
                .iter()
                .filter(|p| p.starts_with("files/digest-"))
                .cloned()
                .collect();
            let not_digests: BTreeSet<String> = on_disk.difference(&digests).cloned().collect();
            assert_eq!(
                listed,
                not_digests,
                "{}: Manifest2 lines vs files",
                pkg.display()
            );
            // Every file, digest files included, has the three Manifest1 lines portage 2.1 wrote.
            let want1: BTreeSet<(String, String)> = on_disk
                .iter()
                .flat_map(|p| ["MD5", "RMD160", "SHA256"].map(|h| (h.to_string(), p.clone())))
                .collect();
            assert_eq!(
                listed1,
                want1,
                "{}: Manifest1 lines vs files",
                pkg.display()
            );
            // Every ebuild has its digest file, and nothing else does.
            let want_digests: BTreeSet<String> = on_disk
                .iter()
                .filter_map(|p| p.strip_suffix(".ebuild"))
                .map(|pf| format!("files/digest-{pf}"))
                .collect();
            assert_eq!(
                digests,
                want_digests,
                "{}: digest files vs ebuilds",
                pkg.display()
            );
        }
    }
    assert_eq!(packages, 3, "expected the overlay's three packages");
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            out.insert(p.strip_prefix(root).unwrap().to_str().unwrap().to_string());
        }
    }
}

#[test]
fn lib_compat_dist_line_carries_the_historical_era_hashes() {
    let ws = Ws::copy();
    ws.run(&["regen"], 0);
    let manifest =
        std::fs::read_to_string(ws.overlay().join("sys-libs/lib-compat/Manifest")).unwrap();
    // shared/facts.md: ::gentoo's Manifest of 2012 for lib-compat-1.4.tar.bz2.
    assert!(
        manifest.contains(
            "DIST lib-compat-1.4.tar.bz2 3164171 \
             RMD160 a9fc7d5b0e41df4fc722fd6225c7bae17543897a \
             SHA1 684a81c574da77f5710cf1d5c0fcd138594573b0 \
             SHA256 277ddddcf0e3aadd8b4e27b550a67db0466c350f501953c85df2ad3abbcd195b\n"
        ),
        "{manifest}"
    );
}

// Portage 2.0 reads distfile digests from files/digest-${PF} only, MD5 or SHA1 (facts.md).
#[test]
fn lib_compat_digest_files_carry_what_portage_2_0_verifies() {
    let ws = Ws::copy();
    ws.run(&["regen"], 0);
    let files = ws.overlay().join("sys-libs/lib-compat/files");
    let d14 = std::fs::read_to_string(files.join("digest-lib-compat-1.4")).unwrap();
    // Gentoo's own digest file of 1.4 (gentoo-gitmig, commit 6875e881), and the 2012 Manifest.
    assert!(
        d14.starts_with("MD5 e4c1617d737098f699c8722b88b5a678 lib-compat-1.4.tar.bz2 3164171\n"),
        "{d14}"
    );
    assert!(
        d14.contains(
            "SHA1 684a81c574da77f5710cf1d5c0fcd138594573b0 lib-compat-1.4.tar.bz2 3164171\n"
        ),
        "{d14}"
    );
    // No MD5 is known for 1.4.2: SHA1 is what portage 2.0 checks.
    let d142 = std::fs::read_to_string(files.join("digest-lib-compat-1.4.2")).unwrap();
    assert!(!d142.contains("MD5 "), "{d142}");
    assert!(
        d142.contains(
            "SHA1 c4a336b58e197c6efb25d407531e4859473a9767 lib-compat-1.4.2.tar.bz2 3002557\n"
        ),
        "{d142}"
    );
    // A package without distfiles: the file exists, empty, as portage 2.1.2.2 writes it.
    let nb = ws
        .overlay()
        .join("app-backup/netbackup-support/files/digest-netbackup-support-0.1");
    assert_eq!(std::fs::read(nb).unwrap(), b"");
}

#[test]
fn a_changed_file_in_files_makes_check_fail_with_its_manifest() {
    let ws = Ws::copy();
    ws.run(&["regen"], 0);
    let patch = ws.path().join("patches/kernel-2.6.16-intermodule.patch");
    let mut text = std::fs::read_to_string(&patch).unwrap();
    text.push_str("# a local note\n");
    std::fs::write(&patch, &text).unwrap();
    let (out, _) = ws.run(&["regen", "--check"], 1);
    assert!(
        out.contains("changed: sys-block/qla2x00-driver/files/kernel-2.6.16-intermodule.patch"),
        "{out}"
    );
    assert!(
        out.contains("changed: sys-block/qla2x00-driver/Manifest"),
        "{out}"
    );
    assert!(out.contains("2 files differ"), "{out}");
    ws.run(&["regen"], 0);
    let manifest =
        std::fs::read_to_string(ws.overlay().join("sys-block/qla2x00-driver/Manifest")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.starts_with("AUX kernel-2.6.16-intermodule.patch "))
        .unwrap();
    assert!(line.contains(&format!(" {} ", text.len())), "{line}");
    let installed = ws
        .overlay()
        .join("sys-block/qla2x00-driver/files/kernel-2.6.16-intermodule.patch");
    assert_eq!(
        value(&hashes(line), "SHA256"),
        coreutils("sha256sum", &installed)
    );
}
