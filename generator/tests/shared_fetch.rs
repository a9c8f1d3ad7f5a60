//! `nbgen shared`: the content digest (independent of compression, times, order and owners), the
//! table's checks, and the fetch through a server on 127.0.0.1 serving archives made otherwise:
//! each input accepted by its content digest, a changed byte refused naming the input and both
//! digests, nothing left behind. With ../shared at hand (NB_SHARED), the same for every real
//! input, recompressed, and the table's digests equal those of ../shared.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Ws;
use nbgen::nbtest::shared_inputs::{content, table};

/// The mode that marks a symlink in the test trees (its bytes are the target).
const LINK: u32 = 0o120777;

/// How a test archive is written.
#[derive(Clone, Copy)]
enum Pack {
    Xz,
    Gzip { mtime: u64 },
}

/// Writes `files` (path below `top`, bytes, mode) as a tar archive; `reverse` writes them in the
/// other order, with a directory entry and git archive's pax comment, as GitHub's archives have.
fn archive(path: &Path, pack: Pack, top: &str, files: &[(String, Vec<u8>, u32)], reverse: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let out = std::fs::File::create(path).unwrap();
    let w: Box<dyn Write> = match pack {
        Pack::Xz => Box::new(xz2::write::XzEncoder::new(out, 6)),
        Pack::Gzip { mtime } => Box::new(
            flate2::GzBuilder::new()
                .mtime(mtime as u32)
                .write(out, flate2::Compression::fast()),
        ),
    };
    let mut b = tar::Builder::new(w);
    let mtime = match pack {
        Pack::Xz => 1_158_710_400,
        Pack::Gzip { mtime } => mtime,
    };
    if reverse {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XGlobalHeader);
        let comment = b"52 comment=4ba3a12000000000000000000000000000000000\n";
        h.set_size(comment.len() as u64);
        b.append_data(&mut h, "pax_global_header", &comment[..])
            .unwrap();
        let mut d = tar::Header::new_ustar();
        d.set_entry_type(tar::EntryType::Directory);
        d.set_mode(0o775);
        d.set_size(0);
        d.set_mtime(mtime);
        b.append_data(&mut d, format!("{top}/"), std::io::empty())
            .unwrap();
    }
    let order: Vec<&(String, Vec<u8>, u32)> = if reverse {
        files.iter().rev().collect()
    } else {
        files.iter().collect()
    };
    for (name, data, mode) in order {
        if *mode == LINK {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            h.set_mtime(mtime);
            let target = String::from_utf8_lossy(data).into_owned();
            b.append_link(&mut h, format!("{top}/{name}"), target)
                .unwrap();
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(mtime);
        h.set_uid(if reverse { 1000 } else { 0 });
        b.append_data(&mut h, format!("{top}/{name}"), data.as_slice())
            .unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
}

fn files(list: &[(&str, &str, u32)]) -> Vec<(String, Vec<u8>, u32)> {
    list.iter()
        .map(|(n, d, m)| (n.to_string(), d.as_bytes().to_vec(), *m))
        .collect()
}

/// Serves the files of `dir` over HTTP on 127.0.0.1 until the test ends; returns the base URL.
fn serve(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let name = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let reply = match std::fs::read(dir.join(name)) {
                Ok(body) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    [head.into_bytes(), body].concat()
                }
                Err(_) => {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                }
            };
            let _ = stream.write_all(&reply);
        }
    });
    url
}

fn nbgen(ws: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .current_dir(ws)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_content_digest_ignores_compression_times_order_owners_and_pax_comments() {
    let dir = tempfile::tempdir().unwrap();
    let tree = files(&[
        ("Makefile", "all:\n", 0o664),
        ("configure", "#!/bin/sh\n", 0o775),
    ]);
    let a = dir.path().join("a.tar.xz");
    let b = dir.path().join("b.tar.gz");
    archive(&a, Pack::Xz, "bash-3.1", &tree, false);
    archive(&b, Pack::Gzip { mtime: 42 }, "bash-3.1", &tree, true);
    let da = content::of_file(&a).unwrap();
    assert!(da.starts_with("tree-sha256:"), "{da}");
    assert_eq!(da, content::of_file(&b).unwrap());
    // A changed byte, a lost executable bit, another top directory: another digest.
    for other in [
        files(&[
            ("Makefile", "all:\n\n", 0o664),
            ("configure", "#!/bin/sh\n", 0o775),
        ]),
        files(&[
            ("Makefile", "all:\n", 0o664),
            ("configure", "#!/bin/sh\n", 0o664),
        ]),
    ] {
        archive(&b, Pack::Xz, "bash-3.1", &other, false);
        assert_ne!(da, content::of_file(&b).unwrap());
    }
    archive(&b, Pack::Xz, "bash-3.2", &tree, false);
    assert_ne!(da, content::of_file(&b).unwrap());
}

#[test]
fn bad_tables_name_their_line() {
    let good = "[[input]]\npath = \"era/a.tar.xz\"\ntop = \"a\"\ncontent = \"tree-sha256:0000000000000000000000000000000000000000000000000000000000000000\"\nsource = [{ name = \"a.tar.gz\", url = \"https://example.org/a.tar.gz\" }]\n";
    assert_eq!(table::parse(Path::new("t.toml"), good).unwrap().len(), 1);
    let cases: &[(&str, &str, &str)] = &[
        (
            "tree-sha256:0000",
            "sha256:0000",
            "content must be tree-sha256:",
        ),
        (
            "era/a.tar.xz",
            "../a.tar.xz",
            "invalid a path below the shared directory",
        ),
        ("https://example", "ftp://example", "url must be http(s)"),
        (
            " }]",
            ", files = [\"x\"] }]",
            "the first source gives the whole tree",
        ),
        (
            " }]",
            " }, { name = \"b.tar.gz\", url = \"https://example.org/b\" }]",
            "a later source needs files",
        ),
        ("top = \"a\"", "top = \"a/b\"", "invalid top directory"),
        ("top = \"a\"", "top = \"a\"\nsize = 1", "unknown field"),
    ];
    for (from, to, part) in cases {
        let text = good.replacen(from, to, 1);
        let e = table::parse(Path::new("t.toml"), &text).unwrap_err();
        assert!(e.to_string().contains(part), "{from} -> {to}: {e}");
        assert!(e.to_string().starts_with("t.toml:"), "{e}");
        assert_eq!(e.exit_code(), nbgen::base::error::EXIT_BAD_INPUT);
    }
    let twice = format!("{good}{good}");
    let e = table::parse(Path::new("t.toml"), &twice).unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
}

/// A workspace whose table lists two inputs: one from a single source, one made of two (a tree and
/// a file the second replaces), both pinned to the digests of `want` (the trees they must be).
fn workspace_with_table(want: &Path) -> Ws {
    let ws = Ws::copy();
    let one = files(&[
        ("Makefile", "VERSION = 3\n", 0o664),
        ("configure", "#!/bin/sh\n", 0o775),
    ]);
    let two = files(&[
        ("Makefile", "VERSION = 2\n", 0o664),
        ("vmlinux.lds.S", "SECTIONS\n", 0o664),
    ]);
    archive(
        &want.join("era/bash-3.1.tar.xz"),
        Pack::Xz,
        "bash-3.1",
        &one,
        false,
    );
    archive(
        &want.join("real/linux-2.6.18.tar.xz"),
        Pack::Xz,
        "linux-2.6.18",
        &two,
        false,
    );
    let d1 = content::of_file(&want.join("era/bash-3.1.tar.xz")).unwrap();
    let d2 = content::of_file(&want.join("real/linux-2.6.18.tar.xz")).unwrap();
    let table = format!(
        r#"[[input]]
path = "era/bash-3.1.tar.xz"
top = "bash-3.1"
content = "{d1}"
source = [{{ name = "bash-95732b49.tar.gz", url = "https://github.invalid/bash.tar.gz" }}]

[[input]]
path = "real/linux-2.6.18.tar.xz"
top = "linux-2.6.18"
content = "{d2}"
source = [
    {{ name = "linux-a.tar.gz", url = "https://github.invalid/a.tar.gz" }},
    {{ name = "linux-b.tar.gz", url = "https://github.invalid/b.tar.gz", files = ["vmlinux.lds.S"] }},
]
"#
    );
    std::fs::create_dir_all(ws.path().join("ci")).unwrap();
    std::fs::write(ws.path().join("ci/shared-inputs.toml"), table).unwrap();
    ws
}

#[test]
fn fetch_from_a_local_server_takes_recompressed_sources_and_refuses_a_changed_byte() {
    let want = tempfile::tempdir().unwrap();
    let ws = workspace_with_table(want.path());
    // The mirror: gzip instead of xz, other times, other top directories (as GitHub names them),
    // reversed order, pax comments; the composite's first source lacks the file the second gives.
    let mirror = tempfile::tempdir().unwrap();
    let m = mirror.path();
    let bash = files(&[
        ("Makefile", "VERSION = 3\n", 0o644),
        ("configure", "#!/bin/sh\n", 0o755),
    ]);
    archive(
        &m.join("bash-95732b49.tar.gz"),
        Pack::Gzip { mtime: 7 },
        "bash-95732b49abc",
        &bash,
        true,
    );
    let base = files(&[("Makefile", "VERSION = 2\n", 0o644)]);
    archive(
        &m.join("linux-a.tar.gz"),
        Pack::Gzip { mtime: 9 },
        "linux-2.6.18-4ba3a12",
        &base,
        true,
    );
    let next = files(&[
        ("Makefile", "VERSION = 9\n", 0o644),
        ("vmlinux.lds.S", "SECTIONS\n", 0o644),
    ]);
    archive(
        &m.join("linux-b.tar.gz"),
        Pack::Gzip { mtime: 11 },
        "linux-2.6.18-0b57ceed",
        &next,
        false,
    );
    let url = serve(m.to_path_buf());
    let into = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let dir = into.path().to_str().unwrap();
    let cache_s = cache.path().to_str().unwrap();
    let (rc, out, err) = nbgen(
        ws.path(),
        &[
            "shared", "fetch", "--into", dir, "--mirror", &url, "--cache", cache_s,
        ],
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "fetched  {dir}/era/bash-3.1.tar.xz ({url}/bash-95732b49.tar.gz)"
        )),
        "{out}"
    );
    let (rc, out, err) = nbgen(ws.path(), &["shared", "check", "--dir", dir]);
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(
        out.matches("\nok ").count() + usize::from(out.starts_with("ok ")),
        2,
        "{out}"
    );
    // Fetching again finds them there.
    let (rc, out, _) = nbgen(
        ws.path(),
        &[
            "shared", "fetch", "--into", dir, "--mirror", &url, "--cache", cache_s,
        ],
    );
    assert_eq!(rc, 0);
    assert!(out.contains("(already there)"), "{out}");

    // One changed byte in one file of one source: that input is refused, naming it and both
    // digests, and nothing is written for it; the other still comes.
    let bad = files(&[
        ("Makefile", "VERSION = 4\n", 0o644),
        ("configure", "#!/bin/sh\n", 0o755),
    ]);
    archive(
        &m.join("bash-95732b49.tar.gz"),
        Pack::Gzip { mtime: 7 },
        "bash-95732b49abc",
        &bad,
        true,
    );
    let fresh = tempfile::tempdir().unwrap();
    let fresh_cache = tempfile::tempdir().unwrap();
    let fdir = fresh.path().to_str().unwrap();
    let (rc, out, err) = nbgen(
        ws.path(),
        &[
            "shared",
            "fetch",
            "--into",
            fdir,
            "--mirror",
            &url,
            "--cache",
            fresh_cache.path().to_str().unwrap(),
        ],
    );
    assert_eq!(rc, 1, "{out}{err}");
    let pinned = content::of_file(&want.path().join("era/bash-3.1.tar.xz")).unwrap();
    let got = {
        let p = fresh.path().join("got.tar.gz");
        archive(&p, Pack::Gzip { mtime: 0 }, "bash-3.1", &bad, false);
        content::of_file(&p).unwrap()
    };
    assert!(err.contains("era/bash-3.1.tar.xz"), "{err}");
    assert!(err.contains(&format!("has content digest {got}")), "{err}");
    assert!(
        err.contains(&format!("{url}/bash-95732b49.tar.gz")),
        "{err}"
    );
    assert!(err.contains(&format!("not the {pinned}")), "{err}");
    assert!(!fresh.path().join("era/bash-3.1.tar.xz").exists());
    let left: Vec<_> = std::fs::read_dir(fresh.path().join("era"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "a refused input leaves nothing: {left:?}");
    assert!(
        fresh.path().join("real/linux-2.6.18.tar.xz").is_file(),
        "{out}"
    );
    // check says which is missing, and how to get it.
    let (rc, out, err) = nbgen(ws.path(), &["shared", "check", "--dir", fdir]);
    assert_eq!(rc, 1);
    assert!(
        out.contains(&format!("missing  {fdir}/era/bash-3.1.tar.xz")),
        "{out}"
    );
    assert!(
        err.contains(&format!("nbgen shared fetch --into {fdir}")),
        "{err}"
    );
}

/// The shared directory of this checkout, if there is one.
fn real_shared() -> Option<PathBuf> {
    let dir = std::env::var_os("NB_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo_root().join("../shared"));
    if dir.join("era").is_dir() {
        return Some(dir);
    }
    let why = format!(
        "SKIPPED: no shared directory at {} (nbgen shared fetch --into DIR gets it)",
        dir.display()
    );
    assert!(std::env::var_os("NBGEN_REQUIRE_SHARED").is_none(), "{why}");
    eprintln!("{why}");
    None
}

#[test]
fn the_tables_digests_are_those_of_the_shared_directory() {
    let Some(dir) = real_shared() else { return };
    let (rc, out, err) = nbgen(
        &common::repo_root(),
        &["shared", "check", "--dir", dir.to_str().unwrap()],
    );
    assert_eq!(rc, 0, "{out}{err}");
    let table = table::load(&common::repo_root().join(table::TABLE)).unwrap();
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        table.len(),
        "{out}"
    );
}

/// Every real input, recompressed with gzip under GitHub-style top directories and other times,
/// served from 127.0.0.1: all accepted by their content digests.
#[test]
fn every_real_input_fetches_from_recompressed_copies() {
    let Some(shared) = real_shared() else { return };
    let table = table::load(&common::repo_root().join(table::TABLE)).unwrap();
    let mirror = tempfile::tempdir().unwrap();
    for input in &table {
        let tree = read_tree(&shared.join(&input.path));
        for (n, source) in input.sources.iter().enumerate() {
            let part: Vec<(String, Vec<u8>, u32)> = match &source.files {
                None => tree.clone(),
                Some(keep) => tree
                    .iter()
                    .filter(|(p, ..)| keep.contains(p))
                    .cloned()
                    .collect(),
            };
            let top = format!("{}-github{n}", input.top);
            archive(
                &mirror.path().join(&source.name),
                Pack::Gzip {
                    mtime: 1_600_000_000,
                },
                &top,
                &part,
                true,
            );
        }
    }
    let url = serve(mirror.path().to_path_buf());
    let into = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (rc, out, err) = nbgen(
        &common::repo_root(),
        &[
            "shared",
            "fetch",
            "--into",
            into.path().to_str().unwrap(),
            "--mirror",
            &url,
            "--cache",
            cache.path().to_str().unwrap(),
        ],
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("fetched ")).count(),
        table.len(),
        "{out}"
    );
}

/// Each regular file of an archive below its top directory: (path, bytes, mode).
fn read_tree(path: &Path) -> Vec<(String, Vec<u8>, u32)> {
    let file = std::fs::File::open(path).unwrap();
    let (_, tar) = nbgen::nbtest::unpack::decoded(&path.display().to_string(), file).unwrap();
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() == tar::EntryType::Symlink {
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let rel = name.split_once('/').unwrap().1.to_string();
            let target = e
                .link_name()
                .unwrap()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, target.into_bytes(), LINK));
            continue;
        }
        if e.header().entry_type() != tar::EntryType::Regular {
            assert!(
                matches!(
                    e.header().entry_type(),
                    tar::EntryType::Directory | tar::EntryType::XGlobalHeader
                ),
                "{}: a {:?} entry, which this test's mirror does not copy",
                path.display(),
                e.header().entry_type()
            );
            continue;
        }
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let rel = name.split_once('/').unwrap().1.to_string();
        let mode = e.header().mode().unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push((rel, data, mode));
    }
    out
}
