//! The kernel patches in patches/, applied with the real `patch` (GNU patch, as CI installs it) to
//! fixture kernel/Makefiles in tests/fixtures/kernel/.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const INTERMODULE: &str = "kernel-2.6.16-intermodule.patch";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A throwaway kernel tree holding only kernel/Makefile, copied from a fixture.
fn tree_with(makefile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("kernel")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/kernel")
            .join(makefile),
        dir.path().join("kernel/Makefile"),
    )
    .unwrap();
    dir
}

/// Runs `patch -p1 [extra] < patches/<name>` in `tree`. A missing `patch` fails the test: CI
/// installs it, and a silent skip would hide that the patch was never tried.
fn patch(tree: &Path, name: &str, extra: &[&str]) -> Output {
    let input = std::fs::File::open(repo_root().join("patches").join(name)).unwrap();
    Command::new("patch")
        // --no-backup-if-mismatch: GNU patch keeps a .orig when a hunk lands at an offset (as on
        // 2.6.17); the test tree should hold only what the patch itself changes.
        .args(["-p1", "--batch", "--forward", "--no-backup-if-mismatch"])
        .args(extra)
        .current_dir(tree)
        .stdin(Stdio::from(input))
        .output()
        .expect("`patch` must be installed to test patches/ (Debian: apt-get install patch)")
}

fn makefile(tree: &Path) -> String {
    std::fs::read_to_string(tree.join("kernel/Makefile")).unwrap()
}

fn entries(tree: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(tree.join("kernel"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn assert_applies(fixture: &str) {
    let tree = tree_with(fixture);
    let dry = patch(tree.path(), INTERMODULE, &["--dry-run"]);
    assert!(dry.status.success(), "dry run on {fixture}: {dry:?}");
    let applied = patch(tree.path(), INTERMODULE, &[]);
    assert!(applied.status.success(), "apply on {fixture}: {applied:?}");
    let text = makefile(tree.path());
    assert!(
        text.contains("\t    hrtimer.o intermodule.o\n"),
        "intermodule.o is not in obj-y:\n{text}"
    );
    assert!(
        text.contains("\n#obj-$(CONFIG_OBSOLETE_INTERMODULE) += intermodule.o\n"),
        "the CONFIG_OBSOLETE_INTERMODULE line is not commented out:\n{text}"
    );
    assert!(
        !text.contains("\nobj-$(CONFIG_OBSOLETE_INTERMODULE)"),
        "an active CONFIG_OBSOLETE_INTERMODULE line is left:\n{text}"
    );
    // Exactly the two lines changed, nothing else.
    let before = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/kernel")
            .join(fixture),
    )
    .unwrap();
    let changed = before
        .lines()
        .zip(text.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(changed, 2);
    assert_eq!(before.lines().count(), text.lines().count());
    assert_eq!(
        entries(tree.path()),
        ["Makefile"],
        "patch left .orig or .rej files"
    );
}

#[test]
fn intermodule_patch_applies_to_2_6_16() {
    assert_applies("Makefile-2.6.16");
}

#[test]
fn intermodule_patch_applies_to_2_6_17_with_an_offset() {
    assert_applies("Makefile-2.6.17");
}

#[test]
fn intermodule_patch_is_refused_on_2_6_18_and_changes_nothing() {
    let tree = tree_with("Makefile-2.6.18");
    let before = makefile(tree.path());
    // The dry run comes first, as the patch header tells users, so a refusal leaves no half-applied
    // Makefile behind.
    let dry = patch(tree.path(), INTERMODULE, &["--dry-run"]);
    assert!(!dry.status.success(), "2.6.18 must be refused: {dry:?}");
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("FAILED"),
        "{dry:?}"
    );
    assert_eq!(makefile(tree.path()), before);
    assert_eq!(entries(tree.path()), ["Makefile"]);
}

#[test]
fn intermodule_patch_has_a_header_saying_why_and_for_which_kernels() {
    let text = std::fs::read_to_string(repo_root().join("patches").join(INTERMODULE)).unwrap();
    let header = &text[..text
        .find("\n--- a/kernel/Makefile\n")
        .expect("diff of kernel/Makefile")];
    for needle in [
        "Why:",
        "2.6.16",
        "2.6.17",
        "2.6.15",
        "2.6.18",
        "patch -p1 --dry-run",
    ] {
        assert!(header.contains(needle), "header lacks {needle:?}");
    }
    assert!(text.contains("\n+++ b/kernel/Makefile\n"));
}
