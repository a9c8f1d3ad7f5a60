//! Checks made by the real Gentoo tools rather than by nbgen's own code. They need what
//! `ci/install-deps` installs; `ci/test` sets NBGEN_REQUIRE_TOOLS=1 so that a missing tool fails
//! there instead of skipping.

mod common;

use std::process::Command;

use common::{repo_root, Ws};

/// The tools environment, or None (with a loud line) when it is absent and not required.
fn tools() -> Option<std::path::PathBuf> {
    let env = std::env::var_os("NB_TOOLS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/nbtools"));
    if env.join("env.sh").exists() {
        return Some(env);
    }
    if std::env::var_os("NBGEN_REQUIRE_TOOLS").is_some() {
        panic!("{}/env.sh is missing: run ci/install-deps", env.display());
    }
    eprintln!("SKIPPED: real-tool test needs ci/install-deps (or run ci/test)");
    None
}

#[test]
fn portage_computes_the_same_dist_lines_as_nbgen() {
    let Some(nb_tools) = tools() else { return };
    let ws = Ws::copy();
    let mut files = Vec::new();
    // A one-byte file, a short one, and one larger than nbgen's read block (portage refuses
    // empty distfiles as failed downloads).
    for (name, len) in [
        ("one.tar", 1usize),
        ("short.tar.gz", 3),
        ("large.tar.bz2", 300_000),
    ] {
        let path = ws.path().join(name);
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        std::fs::write(&path, data).unwrap();
        files.push(path);
    }
    let args: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    let mut digest_args = vec!["digest"];
    digest_args.extend(&args);
    let (ours, _) = ws.run(&digest_args, 0);

    let out = Command::new(repo_root().join("ci/portage-digest"))
        .args(&args)
        .env("NB_TOOLS", &nb_tools)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ci/portage-digest failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = String::from_utf8(out.stdout).unwrap();
    let mut ours: Vec<&str> = ours.lines().collect();
    let mut theirs: Vec<&str> = theirs.lines().filter(|l| l.starts_with("DIST ")).collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours.len(), 3);
    assert_eq!(ours, theirs);
}

#[test]
fn portage_writes_the_same_thick_manifests_as_nbgen() {
    let Some(nb_tools) = tools() else { return };
    let ws = Ws::copy();
    ws.run(&["regen"], 0);
    let out = Command::new(repo_root().join("ci/portage-manifest"))
        .arg(ws.overlay())
        .env("NB_TOOLS", &nb_tools)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ci/portage-manifest failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = String::from_utf8(out.stdout).unwrap();
    let mut packages = 0;
    for block in theirs.split("== ").skip(1) {
        let (pkg, lines) = block.split_once('\n').unwrap();
        let ours = std::fs::read_to_string(ws.overlay().join(pkg).join("Manifest")).unwrap();
        // Today's portage writes Manifest2 lines only; the Manifest1 lines for portage 2.0 are
        // left out of the comparison (tests/manifest.rs checks them against md5sum and sha256sum).
        let ours: Vec<&str> = ours
            .lines()
            .filter(|l| {
                ["AUX ", "EBUILD ", "MISC "]
                    .iter()
                    .any(|k| l.starts_with(k))
            })
            .collect();
        let theirs: Vec<&str> = lines.lines().collect();
        assert!(!theirs.is_empty(), "{pkg}: portage listed nothing");
        assert_eq!(ours, theirs, "{pkg}: nbgen's Manifest vs portage's");
        packages += 1;
    }
    assert_eq!(packages, 3, "{theirs}");
}
