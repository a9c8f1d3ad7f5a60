//! `nbgen stage run` from the command line, where it must refuse before a container starts: a
//! bad option value is a usage error naming the option (exit 2), a stage or directory that is not
//! there is nbgen's own failure (exit 125), and nothing is left behind.

mod common;

use std::process::Command;

fn stage_run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .arg("--manifest-path")
        .arg(common::repo_root().join("Cargo.toml"))
        .args(["stage", "run"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_values_and_missing_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let stage = format!("{d}/no-stage.tar");
    let (code, err) = stage_run(&["--overlay", &format!("x={d}"), "true"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--overlay") && err.contains("no ebuild repository"),
        "{err}"
    );
    let (code, err) = stage_run(&["--ro", "relative=/", "true"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not an absolute path"), "{err}");
    let (code, err) = stage_run(&["--stage", &stage, "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("no stage tarball") && err.contains(&stage),
        "{err}"
    );
    let (code, err) = stage_run(&["--stage", &stage, "--distdir", &format!("{d}/none"), "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("--distdir") && err.contains("is not a directory"),
        "{err}"
    );
    let (code, err) = stage_run(&[]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "left behind"
    );
}

#[test]
fn help_teaches_with_examples() {
    let out = Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .args(["stage", "run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for part in [
        "--overlay <NAME=DIR>",
        "--eapi0-fix",
        "Exit status",
        "Examples:",
    ] {
        assert!(help.contains(part), "{part}: {help}");
    }
}
