//! A throwaway copy of the nb-overlay workspace for tests: the real identity and spec, patches/ and
//! kernel-fragments/, in a temporary directory, with the nbgen binary run against it.

#![allow(dead_code)]

/// The start of a small spec, up to a distfile table, shared by the tests that write their own.
#[allow(unused_macros)]
macro_rules! lib_compat_spec_head {
    () => {
        r#"[[package]]
category = "sys-libs"
name = "lib-compat"
template = "ebuild/lib-compat.ebuild"
description = "Compatibility libraries"
homepage = "https://www.gentoo.org/"
license = "GPL-2"
keywords = ["~x86"]

[[package.version]]
version = "1.4"

[[package.version.distfile]]
"#
    };
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Ws {
    pub dir: tempfile::TempDir,
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl Ws {
    /// A copy of the real workspace's inputs (no members, so cargo metadata needs no sources).
    pub fn copy() -> Ws {
        let dir = tempfile::tempdir().unwrap();
        let root = repo_root();
        let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let cargo = cargo.replace("members = [\"generator\"]", "members = []");
        assert!(
            cargo.contains("members = []"),
            "workspace members line changed"
        );
        std::fs::write(dir.path().join("Cargo.toml"), cargo).unwrap();
        std::fs::create_dir_all(dir.path().join("generator")).unwrap();
        std::fs::copy(
            root.join("generator/spec.toml"),
            dir.path().join("generator/spec.toml"),
        )
        .unwrap();
        for sub in ["patches", "kernel-fragments"] {
            copy_dir(&root.join(sub), &dir.path().join(sub));
        }
        Ws { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn spec_path(&self) -> PathBuf {
        self.path().join("generator/spec.toml")
    }

    pub fn spec(&self) -> String {
        std::fs::read_to_string(self.spec_path()).unwrap()
    }

    pub fn set_spec(&self, text: &str) {
        std::fs::write(self.spec_path(), text).unwrap();
    }

    /// Replaces `from` by `to` in the spec, insisting that `from` is there.
    pub fn edit_spec(&self, from: &str, to: &str) {
        let spec = self.spec();
        assert!(spec.contains(from), "spec has no {from:?}");
        self.set_spec(&spec.replacen(from, to, 1));
    }

    pub fn overlay(&self) -> PathBuf {
        self.path().join("overlay")
    }

    /// Runs nbgen in this workspace and asserts its exit code; returns (stdout, stderr).
    pub fn run(&self, args: &[&str], code: i32) -> (String, String) {
        run_in(self.path(), &self.path().join("Cargo.toml"), args, code)
    }

    /// Every entry directly in the workspace directory, sorted.
    pub fn top_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// Runs nbgen in `dir` against the workspace of `manifest` and asserts its exit code; returns
/// (stdout, stderr).
pub fn run_in(dir: &Path, manifest: &Path, args: &[&str], code: i32) -> (String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "nbgen {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
