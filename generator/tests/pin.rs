//! `nbgen digest` and `nbgen pin`: digests from a given file, recorded in the spec with their source.

#[macro_use]
mod common;

use common::Ws;

const SPEC: &str = concat!(
    lib_compat_spec_head!(),
    r#"name = "demo-1.tar.bz2"
uri = "mirror://gentoo/demo-1.tar.bz2"
"#
);

// SHA-1, SHA-256, SHA-512 and BLAKE2b-512 of "abc" (FIPS 180-2; RFC 7693 appendix A) and its
// RIPEMD-160 (the algorithm's reference vectors).
const ABC_SHA1: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";
const ABC_RMD160: &str = "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc";
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_BLAKE2B: &str = "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923";
const ABC_SHA512: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

fn ws_with_file(content: &[u8]) -> (Ws, std::path::PathBuf) {
    let ws = Ws::copy();
    ws.set_spec(SPEC);
    let file = ws.path().join("demo-1.tar.bz2");
    std::fs::write(&file, content).unwrap();
    (ws, file)
}

#[test]
fn digest_prints_the_full_dist_line() {
    let (ws, file) = ws_with_file(b"abc");
    let (out, _) = ws.run(&["digest", file.to_str().unwrap()], 0);
    assert_eq!(
        out,
        format!(
            "DIST demo-1.tar.bz2 3 BLAKE2B {ABC_BLAKE2B} RMD160 {ABC_RMD160} SHA1 {ABC_SHA1} SHA256 {ABC_SHA256} SHA512 {ABC_SHA512}\n"
        )
    );
}

#[test]
fn digest_of_a_missing_file_is_bad_input() {
    let (ws, _) = ws_with_file(b"abc");
    let (_, err) = ws.run(&["digest", "/nonexistent/demo.tar"], 2);
    assert!(err.contains("/nonexistent/demo.tar"), "{err}");
}

#[test]
fn unpinned_distfile_gets_no_dist_line_until_pinned() {
    let (ws, file) = ws_with_file(b"abc");
    let (_, err) = ws.run(&["regen"], 0);
    assert!(
        err.contains("demo-1.tar.bz2: unpinned, no DIST line"),
        "{err}"
    );
    let manifest =
        std::fs::read_to_string(ws.overlay().join("sys-libs/lib-compat/Manifest")).unwrap();
    assert!(!manifest.contains("DIST "), "{manifest}");
    assert!(
        manifest.contains("EBUILD lib-compat-1.4.ebuild "),
        "{manifest}"
    );

    let (out, _) = ws.run(
        &["pin", file.to_str().unwrap(), "--source", "test vector"],
        0,
    );
    assert!(
        out.contains("demo-1.tar.bz2: recorded BLAKE2B MD5 RMD160 SHA1 SHA256 SHA512"),
        "{out}"
    );
    let spec = ws.spec();
    assert!(
        spec.contains(&format!("sha256 = \"{ABC_SHA256}\"")),
        "{spec}"
    );
    assert!(spec.contains("size = 3"), "{spec}");
    assert!(spec.contains("(test vector)"), "{spec}");
    let manifest =
        std::fs::read_to_string(ws.overlay().join("sys-libs/lib-compat/Manifest")).unwrap();
    let dist: String = manifest
        .lines()
        .filter(|l| l.starts_with("DIST "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        dist,
        format!(
            "DIST demo-1.tar.bz2 3 BLAKE2B {ABC_BLAKE2B} RMD160 {ABC_RMD160} SHA1 {ABC_SHA1} SHA256 {ABC_SHA256} SHA512 {ABC_SHA512}\n"
        )
    );
    // Portage 2.0's digest file gets the MD5 (RFC 1321's "abc" vector) and the SHA1.
    let digest = std::fs::read_to_string(
        ws.overlay()
            .join("sys-libs/lib-compat/files/digest-lib-compat-1.4"),
    )
    .unwrap();
    assert!(
        digest.starts_with("MD5 900150983cd24fb0d6963f7d28e17f72 demo-1.tar.bz2 3\n"),
        "{digest}"
    );
    assert!(
        digest.contains(&format!("SHA1 {ABC_SHA1} demo-1.tar.bz2 3\n")),
        "{digest}"
    );
    // Pinning the same file again changes nothing.
    let (out, _) = ws.run(&["pin", file.to_str().unwrap()], 0);
    assert!(out.contains("already pinned, digests match"), "{out}");
    assert!(out.contains("overlay: 0 files changed"), "{out}");
    ws.run(&["regen", "--check"], 0);
}

#[test]
fn pin_completes_a_historical_sha256_and_keeps_its_source() {
    let (ws, file) = ws_with_file(b"abc");
    ws.set_spec(&format!(
        "{SPEC}size = 3\nsha256 = \"{ABC_SHA256}\"\nsource = \"an old Manifest\"\n"
    ));
    let (out, _) = ws.run(&["pin", file.to_str().unwrap()], 0);
    assert!(
        out.contains("recorded BLAKE2B MD5 RMD160 SHA1 SHA512"),
        "{out}"
    );
    let spec = ws.spec();
    assert!(
        spec.contains(
            "source = \"an old Manifest; BLAKE2B MD5 RMD160 SHA1 SHA512 computed by `nbgen pin`"
        ),
        "{spec}"
    );
}

#[test]
fn pin_refuses_a_file_that_contradicts_the_pinned_digest() {
    let (ws, file) = ws_with_file(b"abd");
    let pinned =
        format!("{SPEC}size = 3\nsha256 = \"{ABC_SHA256}\"\nsource = \"an old Manifest\"\n");
    ws.set_spec(&pinned);
    let (_, err) = ws.run(&["pin", file.to_str().unwrap()], 2);
    assert!(err.contains("SHA256 is "), "{err}");
    assert!(
        err.contains("not the file the spec pins; nothing was written"),
        "{err}"
    );
    assert_eq!(ws.spec(), pinned);
    assert!(!ws.overlay().exists());
}

#[test]
fn pin_refuses_a_size_mismatch() {
    let (ws, file) = ws_with_file(b"abcd");
    let pinned =
        format!("{SPEC}size = 3\nsha256 = \"{ABC_SHA256}\"\nsource = \"an old Manifest\"\n");
    ws.set_spec(&pinned);
    let (_, err) = ws.run(&["pin", file.to_str().unwrap()], 2);
    assert!(err.contains("size is 4 bytes, the spec says 3"), "{err}");
    assert_eq!(ws.spec(), pinned);
}

#[test]
fn pin_of_a_file_the_spec_does_not_name() {
    let (ws, _) = ws_with_file(b"abc");
    let other = ws.path().join("other.tar.gz");
    std::fs::write(&other, b"x").unwrap();
    let (_, err) = ws.run(&["pin", other.to_str().unwrap()], 2);
    assert!(err.contains("no distfile named \"other.tar.gz\""), "{err}");
    assert_eq!(ws.spec(), SPEC);
}

#[test]
fn pin_of_several_files_writes_nothing_when_one_is_refused() {
    let (ws, file) = ws_with_file(b"abc");
    let missing = ws.path().join("missing.tar");
    let (_, err) = ws.run(
        &["pin", file.to_str().unwrap(), missing.to_str().unwrap()],
        2,
    );
    assert!(err.contains("missing.tar"), "{err}");
    assert_eq!(ws.spec(), SPEC);
}
