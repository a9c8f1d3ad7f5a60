//! The scripts of testkit/ that nbgen test runs, where they must refuse: gcc12-compat edits only
//! the 2.6.18 tree it was written for.

mod common;

use std::process::Command;

#[test]
fn gcc12_compat_refuses_a_tree_it_does_not_fit() {
    let root = common::repo_root();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("linux-2.6.15");
    let made = Command::new(root.join("testkit/make-kernel"))
        .arg(&tree)
        .args(["2.6.15", "y", "built"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let before = std::fs::read(tree.join("Makefile")).unwrap();
    let out = Command::new(root.join("testkit/real-kernel/gcc12-compat"))
        .arg(&tree)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "it edited a fixture tree: {said}");
    assert!(said.contains("Makefile: edit did not apply"), "{said}");
    assert_eq!(
        std::fs::read(tree.join("Makefile")).unwrap(),
        before,
        "the Makefile was changed"
    );
}
