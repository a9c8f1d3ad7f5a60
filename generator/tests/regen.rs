//! `nbgen regen`: determinism, idempotence, --check, atomicity, and the committed overlay.

mod common;

use common::{repo_root, Ws};
use nbgen::regen::tree;

#[test]
fn regen_is_idempotent_and_check_passes_after_it() {
    let ws = Ws::copy();
    let (out, _) = ws.run(&["regen"], 0);
    assert!(out.contains("added: profiles/repo_name"), "{out}");
    let first = tree::read(&ws.overlay()).unwrap();
    let (out, _) = ws.run(&["regen"], 0);
    assert!(out.contains(": 0 files changed"), "{out}");
    assert_eq!(tree::read(&ws.overlay()).unwrap(), first);
    let (out, _) = ws.run(&["regen", "--check"], 0);
    assert!(out.contains("is up to date"), "{out}");
}

#[test]
fn two_regens_into_fresh_directories_are_byte_identical() {
    let ws = Ws::copy();
    let a = ws.path().join("a");
    let b = ws.path().join("b");
    ws.run(&["regen", "--overlay", a.to_str().unwrap()], 0);
    ws.run(&["regen", "--overlay", b.to_str().unwrap()], 0);
    let ta = tree::read(&a).unwrap();
    assert!(ta.len() >= 10, "overlay has only {} files", ta.len());
    assert_eq!(ta, tree::read(&b).unwrap());
    // Modes do not depend on the umask.
    use std::os::unix::fs::PermissionsExt;
    for rel in ta.keys() {
        let mode = std::fs::metadata(a.join(rel)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{rel}");
    }
}

#[test]
fn check_reports_each_kind_of_difference_and_writes_nothing() {
    let ws = Ws::copy();
    ws.run(&["regen"], 0);
    let o = ws.overlay();
    std::fs::write(o.join("profiles/repo_name"), "other\n").unwrap();
    std::fs::remove_file(o.join("repositories.xml")).unwrap();
    std::fs::write(o.join("stray-file"), "x").unwrap();
    let before = tree::read(&o).unwrap();
    let (out, _) = ws.run(&["regen", "--check"], 1);
    assert!(out.contains("changed: profiles/repo_name"), "{out}");
    assert!(out.contains("added: repositories.xml"), "{out}");
    assert!(out.contains("removed: stray-file"), "{out}");
    assert!(out.contains("3 files differ"), "{out}");
    assert_eq!(tree::read(&o).unwrap(), before, "--check must not write");
    // A regen repairs all three.
    let (out, _) = ws.run(&["regen"], 0);
    assert!(out.contains(": 3 files changed"), "{out}");
    ws.run(&["regen", "--check"], 0);
}

#[test]
fn failure_mid_regen_keeps_previous_overlay_and_leaves_no_temporary_directory() {
    let ws = Ws::copy();
    ws.run(&["regen"], 0);
    let before = tree::read(&ws.overlay()).unwrap();
    let entries = ws.top_entries();
    // A spec change makes the next regen write, and the hook fails it halfway.
    ws.edit_spec("value = \"220\"", "value = \"221\"");
    let w = nbgen::base::workspace::Workspace::locate(Some(&ws.path().join("Cargo.toml"))).unwrap();
    let mut n = 0;
    let mut fail_halfway = |_: &str| {
        n += 1;
        if n == 5 {
            Err(std::io::Error::other("injected write failure"))
        } else {
            Ok(())
        }
    };
    let err = match nbgen::regen::regen(&w, &ws.overlay(), &mut fail_halfway) {
        Err(e) => e,
        Ok(_) => panic!("the injected failure did not stop regen"),
    };
    assert!(err.to_string().contains("injected write failure"), "{err}");
    assert_eq!(tree::read(&ws.overlay()).unwrap(), before);
    assert_eq!(
        ws.top_entries(),
        entries,
        "a temporary directory was left behind"
    );
    // Without the fault the change goes through.
    let (out, _) = ws.run(&["regen"], 0);
    assert!(
        out.contains("changed: app-backup/netbackup-support/files/sysctl-netbackup.conf"),
        "{out}"
    );
}

#[test]
fn committed_overlay_is_what_the_spec_generates() {
    let root = repo_root();
    let w = nbgen::base::workspace::Workspace::locate(Some(&root.join("Cargo.toml"))).unwrap();
    let outcome = nbgen::regen::check(&w, &w.overlay_dir()).unwrap();
    assert!(
        outcome.diff.is_empty(),
        "overlay/ is stale, run `cargo run -p nbgen -- regen`:\n{}",
        outcome.diff.lines().join("\n")
    );
}

#[test]
fn works_from_a_subdirectory() {
    let root = repo_root();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .args(["regen", "--check"])
        .current_dir(root.join("overlay/profiles"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn partial_dist_lines_are_reported() {
    let ws = Ws::copy();
    let (_, err) = ws.run(&["regen"], 0);
    assert!(
        err.contains(
            "lib-compat-1.4.tar.bz2: partial DIST line, BLAKE2B and SHA512 unknown (digests from:"
        ),
        "{err}"
    );
    let manifest =
        std::fs::read_to_string(ws.overlay().join("sys-libs/lib-compat/Manifest")).unwrap();
    let dist: Vec<&str> = manifest
        .lines()
        .filter(|l| l.starts_with("DIST "))
        .collect();
    // ::gentoo's three lib-compat versions, with the digests of its 2012 Manifest (facts.md).
    assert_eq!(
        dist,
        [
            "DIST lib-compat-1.4.1.tar.bz2 3167654 \
             RMD160 dfa303033ce7abe2c531b71ed2348030755485cc \
             SHA1 3e24bdfaca07c6023b755860c01280df09c6812f \
             SHA256 b341bcf6ef78c072825613631b8ae1160c7da033d752ebc32c8e353ad32bbf04",
            "DIST lib-compat-1.4.2.tar.bz2 3002557 \
             RMD160 a0be41d1efca920db0232d2f0bd54613092709e8 \
             SHA1 c4a336b58e197c6efb25d407531e4859473a9767 \
             SHA256 89861c0ba899e8f9c81561422007d0c6961fce60eb5d2967fff2618230ed562c \
             SHA512 aa801434db2749f5f6f42fb12aaa4e518474e8a2b75e7d2e93733d99ebdbc52615c879f575b708dafa15bd1e8bd8362697a6d1f5a38691dd4664cd6fbb51ae14",
            "DIST lib-compat-1.4.tar.bz2 3164171 \
             RMD160 a9fc7d5b0e41df4fc722fd6225c7bae17543897a \
             SHA1 684a81c574da77f5710cf1d5c0fcd138594573b0 \
             SHA256 277ddddcf0e3aadd8b4e27b550a67db0466c350f501953c85df2ad3abbcd195b",
        ]
    );
}

/// ci/pkgcheck-kept.conf may excuse a missing Manifest entry only for packages whose distfiles are
/// really unpinned: when someone pins them, this fails until the exception is dropped.
#[test]
fn kept_missing_manifest_matches_unpinned_distfiles() {
    let root = repo_root();
    let kept = std::fs::read_to_string(root.join("ci/pkgcheck-kept.conf")).unwrap();
    let mut excused: Vec<String> = kept
        .lines()
        .filter_map(|l| l.split('#').next()?.split_whitespace().next())
        .filter_map(|k| k.strip_prefix("MissingManifest@"))
        .map(str::to_string)
        .collect();
    let w = nbgen::base::workspace::Workspace::locate(Some(&root.join("Cargo.toml"))).unwrap();
    let templates = nbgen::regen::templates::Templates::embedded().unwrap();
    let overlay = nbgen::regen::model::load(&w, templates).unwrap();
    let mut unpinned: Vec<String> = overlay
        .packages
        .iter()
        .filter(|p| {
            p.versions
                .iter()
                .flat_map(|v| &v.distfiles)
                .any(|d| d.size.is_none())
        })
        .map(|p| format!("{}/{}", p.category, p.name))
        .collect();
    excused.sort();
    unpinned.sort();
    assert_eq!(excused, unpinned);
    assert!(
        !unpinned.is_empty(),
        "the QLogic archives are unpinned today; update this test when they are pinned"
    );
}

#[test]
fn the_rendered_overlay_carries_the_marker_that_lets_regen_replace_it() {
    let w =
        nbgen::base::workspace::Workspace::locate(Some(&repo_root().join("Cargo.toml"))).unwrap();
    let rendered = nbgen::regen::generate(&w).unwrap();
    let marker = rendered
        .tree
        .get(tree::MARKER_FILE)
        .expect("the overlay has the marker file");
    assert!(marker.starts_with(tree::MARKER_LINE.as_bytes()));
}

#[test]
fn regen_into_a_directory_nbgen_did_not_make_is_refused_and_touches_nothing() {
    let ws = Ws::copy();
    let before = tree::read(&ws.path().join("generator")).unwrap();
    let entries = ws.top_entries();
    let (_, err) = ws.run(&["regen", "--overlay", "generator"], 2);
    assert!(err.contains("not an overlay nbgen generated"), "{err}");
    assert!(err.contains("generator"), "{err}");
    assert_eq!(tree::read(&ws.path().join("generator")).unwrap(), before);
    assert_eq!(ws.top_entries(), entries);
    // The workspace itself, and the root, are refused from the path alone.
    for bad in [".", "/", ws.path().to_str().unwrap(), "generator/.."] {
        let (_, err) = ws.run(&["regen", "--overlay", bad], 2);
        assert!(
            err.contains("refusing to generate the overlay here"),
            "{bad}: {err}"
        );
        let (_, err) = ws.run(&["regen", "--check", "--overlay", bad], 2);
        assert!(err.contains("refusing"), "--check {bad}: {err}");
    }
    assert_eq!(ws.top_entries(), entries);
}

#[test]
fn a_symlinked_overlay_is_regenerated_behind_its_link() {
    let ws = Ws::copy();
    let real = ws.path().join("elsewhere");
    ws.run(&["regen", "--overlay", real.to_str().unwrap()], 0);
    std::os::unix::fs::symlink("elsewhere", ws.overlay()).unwrap();
    ws.edit_spec("value = \"220\"", "value = \"221\"");
    let (out, _) = ws.run(&["regen"], 0);
    assert!(
        out.contains("changed: app-backup/netbackup-support/files/sysctl-netbackup.conf"),
        "{out}"
    );
    let meta = std::fs::symlink_metadata(ws.overlay()).unwrap();
    assert!(meta.file_type().is_symlink(), "the link was replaced");
    let sysctl = "app-backup/netbackup-support/files/sysctl-netbackup.conf";
    let via_link = std::fs::read_to_string(ws.overlay().join(sysctl)).unwrap();
    assert!(via_link.contains("221"), "{via_link}");
    assert_eq!(
        tree::read(&real).unwrap(),
        tree::read(&ws.overlay()).unwrap()
    );
    ws.run(&["regen", "--check"], 0);
    assert!(
        !ws.top_entries().iter().any(|e| e.contains(".nbgen-")),
        "{:?}",
        ws.top_entries()
    );
}

#[test]
fn stale_staging_directories_are_mentioned_by_check_and_removed_by_regen() {
    let ws = Ws::copy();
    ws.run(&["regen"], 0);
    let stale = ws.path().join(".overlay.nbgen-Kill3d");
    std::fs::create_dir_all(stale.join("profiles")).unwrap();
    std::fs::write(stale.join("profiles/repo_name"), "half").unwrap();
    let (out, err) = ws.run(&["regen", "--check"], 0);
    assert!(out.contains("is up to date"), "{out}");
    assert!(
        err.contains(".overlay.nbgen-Kill3d is a staging directory left by an interrupted regen"),
        "{err}"
    );
    assert!(stale.exists());
    let (_, err) = ws.run(&["regen"], 0);
    assert!(err.contains("removed "), "{err}");
    assert!(!stale.exists());
    let (_, err) = ws.run(&["regen", "--check"], 0);
    assert!(!err.contains("staging"), "{err}");
}
