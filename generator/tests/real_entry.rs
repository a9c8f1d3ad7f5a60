//! The matrix fields of a real-source, real-kernel entry (kernel from the shared directory, real
//! distfiles, checks): every bad value is refused with its file:line:col, and the shared
//! directory's one rule (missing: skipped with the reason; other content than ci/shared-inputs.toml
//! pins: an error naming both digests) holds.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::Ws;
use nbgen::base::error::EXIT_BAD_INPUT;
use nbgen::nbtest::matrix::{Kernel, Matrix};
use nbgen::nbtest::shared_inputs::{self, Local, Repack};

/// A shared inputs table listing the two files the entry names (digests of no real file).
const TABLE: &str = r#"
[[input]]
path = "real/linux-2.6.18.tar.xz"
top = "linux-2.6.18"
content = "tree-sha256:0000000000000000000000000000000000000000000000000000000000000000"
source = [{ name = "k.tar.gz", url = "https://example.org/k.tar.gz" }]

[[input]]
path = "real/qla2xxx-8.01.07-src.tar.xz"
top = "qla2xxx-8.01.07"
content = "tree-sha256:1111111111111111111111111111111111111111111111111111111111111111"
source = [{ name = "q.tar.gz", url = "https://example.org/q.tar.gz" }]
"#;

fn good() -> String {
    r#"[defaults]
profile = "default/linux/amd64"

[stage]
script = "testkit/make-stage"

[[entry]]
name = "linux-2.6.18-real"
kernel = { path = "real/linux-2.6.18.tar.xz", compat = "testkit/real-kernel/gcc12-compat" }
fragments = ["common.config", "2.6.config"]
packages = [">=sys-block/qla2x00-driver-8"]
distfiles = [
    { name = "qla2xxx-v8.01.07-dist.tgz", path = "real/qla2xxx-8.01.07-src.tar.xz" },
]
checks = { depmod = true, load_order = ["intermodule", "qla2xxx", "qla2300"] }
"#
    .to_string()
}

/// A workspace root holding what the matrix names.
fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for p in [
        "kernel-fragments/common.config",
        "kernel-fragments/2.6.config",
        "testkit/make-stage",
        "testkit/real-kernel/gcc12-compat",
        "patches/p.patch",
    ] {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "# x\n").unwrap();
    }
    std::fs::create_dir_all(dir.path().join("ci")).unwrap();
    std::fs::write(dir.path().join("ci/shared-inputs.toml"), TABLE).unwrap();
    dir
}

fn parse(text: &str) -> nbgen::base::error::Result<Matrix> {
    let r = root();
    Matrix::parse(Path::new("ci/m.toml"), text, r.path())
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

#[test]
fn the_good_entry_parses() {
    let m = parse(&good()).unwrap();
    let e = &m.entries[0];
    assert!(!e.fixture);
    let Kernel::Shared(k) = &e.kernel else {
        panic!("{:?}", e.kernel)
    };
    assert_eq!(k.path, Path::new("real/linux-2.6.18.tar.xz"));
    assert_eq!(k.compat, Path::new("testkit/real-kernel/gcc12-compat"));
    assert_eq!(e.distfiles[0].name, "qla2xxx-v8.01.07-dist.tgz");
    assert_eq!(e.distfiles[0].repack, Repack::XzToGzip);
    assert!(e.checks.depmod);
    assert_eq!(e.checks.load_order, ["intermodule", "qla2xxx", "qla2300"]);
    // Not a download: the matrix stays usable offline.
    assert!(m.downloads().is_empty());
}

#[test]
fn each_bad_value_is_named_with_its_line() {
    let g = good();
    // (replace this, with that, error on the line holding this needle, message part)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("\"real/linux-2.6.18.tar.xz\"", "\"../linux.tar.xz\"", "../linux", "invalid path"),
        ("\"real/linux-2.6.18.tar.xz\"", "\"/abs/linux.tar.xz\"", "/abs/", "invalid path"),
        ("\"real/linux-2.6.18.tar.xz\"", "\"real/linux-2.6.19.tar.xz\"", "linux-2.6.19", "is not in ci/shared-inputs.toml"),
        ("compat = \"", "sha256 = \"ab\", compat = \"", "kernel = {", "unknown field `sha256`"),
        (", compat = \"testkit/real-kernel/gcc12-compat\"", "", "kernel = {", "needs compat"),
        ("testkit/real-kernel/gcc12-compat", "ci/no-such-compat", "no-such-compat", "no script ci/no-such-compat"),
        ("compat = \"", "sha512 = \"ab\", compat = \"", "sha512 = \"ab\"", "not sha512"),
        ("path = \"real/linux-2.6.18.tar.xz\"", "url = \"https://cdn.kernel.org/linux-2.6.18.tar.bz2\"", "kernel = {", "belongs to a kernel from the shared directory"),
        ("path = \"real/linux-2.6.18.tar.xz\"", "fixture = { version = \"2.6.18\", smp = true, intermodule = \"built\" }, path = \"x.tar.xz\"", "kernel = {", "exactly one of fixture, url or path"),
        ("packages = [", "patches = [\"p.patch\"]\npackages = [", "p.patch", "applies no patches"),
        ("packages = [", "fixture = true\npackages = [", "fixture = true", "would be false"),
        ("name = \"qla2xxx-v8.01.07-dist.tgz\"", "name = \"../x.tgz\"", "../x.tgz", "invalid distfile name"),
        ("name = \"qla2xxx-v8.01.07-dist.tgz\"", "name = \"qla2xxx-v8.01.07-dist.tar.bz2\"", "dist.tar.bz2", "cannot make"),
        ("path = \"real/qla2xxx-8.01.07-src.tar.xz\"", "path = \"real/../qla.tar.xz\"", "real/../qla", "invalid path"),
        ("path = \"real/qla2xxx-8.01.07-src.tar.xz\"", "path = \"real/other.tar.xz\"", "real/other", "is not in ci/shared-inputs.toml"),
        ("-src.tar.xz\" },", "-src.tar.xz\" },\n    { name = \"qla2xxx-v8.01.07-dist.tgz\", path = \"a.tgz\" },", "path = \"a.tgz\"", "named twice"),
        ("-src.tar.xz\" }", "-src.tar.xz\", size = 1 }", "size = 1", "unknown field"),
        ("load_order = [\"intermodule\", \"qla2xxx\", \"qla2300\"]", "load_order = []", "load_order = []", "load_order is empty"),
        ("\"qla2300\"]", "\"qla 2300\"]", "qla 2300", "invalid module name"),
        ("checks = { depmod = true, load_order = [\"intermodule\", \"qla2xxx\", \"qla2300\"] }", "checks = { depmod = false }", "depmod = false", "asks for nothing"),
        ("depmod = true", "depmod = true, modinfo = true", "modinfo", "unknown field"),
    ];
    for (from, to, needle, part) in cases {
        assert!(g.contains(from), "case {from:?} matches nothing");
        let text = g.replacen(from, to, 1);
        let e = parse(&text).expect_err(&format!("{from:?} -> {to:?} should fail"));
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT, "{e}");
        let msg = e.to_string();
        let line = line_of(&text, needle);
        assert!(
            msg.starts_with(&format!("ci/m.toml:{line}:")),
            "{from:?} -> {to:?}: want line {line}: {msg}"
        );
        assert!(msg.contains(part), "{from:?} -> {to:?}: {msg}");
    }
}

#[test]
fn nbgen_test_refuses_a_bad_real_entry_before_anything_runs() {
    let ws = Ws::copy();
    for script in ["testkit/make-stage", "testkit/real-kernel/gcc12-compat"] {
        let path = ws.path().join(script);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
    }
    std::fs::create_dir_all(ws.path().join("ci")).unwrap();
    std::fs::write(ws.path().join("ci/shared-inputs.toml"), TABLE).unwrap();
    let bad = good().replace(
        "load_order = [\"intermodule\"",
        "load_order = [\"inter module\"",
    );
    std::fs::write(ws.path().join("real.toml"), &bad).unwrap();
    let results = ws.path().join("results");
    let (_, err) = ws.run(
        &[
            "test",
            "--matrix",
            "real.toml",
            "--results",
            results.to_str().unwrap(),
        ],
        2,
    );
    let line = line_of(&bad, "inter module");
    assert!(err.contains(&format!("real.toml:{line}:")), "{err}");
    assert!(err.contains("invalid module name"), "{err}");
    assert!(!results.exists(), "nothing is written for bad input");
}

/// A tar.xz holding `files` (path, content) below `top`, and the table naming it as `rel`.
fn archive(
    dir: &Path,
    rel: &str,
    top: &str,
    files: &[(&str, &str)],
) -> Vec<shared_inputs::table::Input> {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let xz = xz2::write::XzEncoder::new(std::fs::File::create(&path).unwrap(), 6);
    let mut b = tar::Builder::new(xz);
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, format!("{top}/{name}"), text.as_bytes())
            .unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
    let digest = shared_inputs::content::of_file(&path).unwrap();
    let table = format!(
        "[[input]]\npath = \"{rel}\"\ntop = \"{top}\"\ncontent = \"{digest}\"\nsource = [{{ name = \"a.tar.gz\", url = \"https://example.org/a.tar.gz\" }}]\n"
    );
    shared_inputs::table::parse(Path::new("t.toml"), &table).unwrap()
}

#[test]
fn a_missing_shared_file_is_a_skip_naming_it_nb_shared_and_the_fetch() {
    let made = tempfile::tempdir().unwrap();
    let table = archive(
        made.path(),
        "real/linux-2.6.18.tar.xz",
        "linux-2.6.18",
        &[("Makefile", "x")],
    );
    let dir = tempfile::tempdir().unwrap();
    let got =
        shared_inputs::resolve(dir.path(), Path::new("real/linux-2.6.18.tar.xz"), &table).unwrap();
    let Local::Missing(why) = got else {
        panic!("{got:?}")
    };
    assert!(why.contains("real/linux-2.6.18.tar.xz"), "{why}");
    assert!(
        why.contains(&format!("NB_SHARED={}", dir.path().display())),
        "{why}"
    );
    assert!(why.contains("nbgen shared fetch --into"), "{why}");
}

#[test]
fn a_shared_file_with_other_content_is_an_error_naming_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let rel = "real/linux-2.6.18.tar.xz";
    let table = archive(
        dir.path(),
        rel,
        "linux-2.6.18",
        &[("Makefile", "VERSION = 2\n")],
    );
    let file = dir.path().join(rel);
    assert_eq!(
        shared_inputs::resolve(dir.path(), Path::new(rel), &table).unwrap(),
        Local::Ready(file.clone())
    );
    // One byte of one file changed: the content digest says so, naming both.
    let other = archive(
        dir.path(),
        rel,
        "linux-2.6.18",
        &[("Makefile", "VERSION = 3\n")],
    );
    let e = shared_inputs::resolve(dir.path(), Path::new(rel), &table).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    assert!(
        msg.contains(&format!("not the {}", table[0].content)),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("content digest {},", other[0].content)),
        "{msg}"
    );
    // Not in the table at all: bad input naming the table.
    let e = shared_inputs::resolve(dir.path(), Path::new("real/x.tar.xz"), &table).unwrap_err();
    assert!(e.to_string().contains("ci/shared-inputs.toml"), "{e}");
}

#[test]
fn xz_is_repacked_as_the_same_tar_in_gzip_the_same_bytes_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let tar_bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let src = dir.path().join("src.tar.xz");
    let mut enc = xz2::write::XzEncoder::new(std::fs::File::create(&src).unwrap(), 6);
    enc.write_all(&tar_bytes).unwrap();
    enc.finish().unwrap();
    let a = dir.path().join("a-dist.tgz");
    let b = dir.path().join("b-dist.tgz");
    shared_inputs::materialize(&src, &a, Repack::XzToGzip).unwrap();
    shared_inputs::materialize(&src, &b, Repack::XzToGzip).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&a).unwrap())
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, tar_bytes);
    // Nothing but the two results is left beside them.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a-dist.tgz", "b-dist.tgz", "src.tar.xz"]);
    // A damaged source is an error, and leaves no distfile.
    std::fs::write(&src, b"\xfd7zXZ\0garbage").unwrap();
    let c = dir.path().join("c-dist.tgz");
    let e = shared_inputs::materialize(&src, &c, Repack::XzToGzip).unwrap_err();
    assert!(e.to_string().contains("repacking"), "{e}");
    assert!(!c.exists());
}
