//! The GitHub Actions workflows a push runs, rendered from the template ci/github-workflow.yml:
//! ci/test's parts as jobs of their own, and a job per entry of every matrix that passes here
//! (GitHub expands each matrix's entry list); the era matrix, whose stage URLs and snapshot nobody
//! confirmed, in a workflow of its own that only runs when started by hand. The command (`nbgen
//! ci github`, writing only what differs, `--check`) is in the binary's cli/ci.rs.

use std::path::Path;

use serde::Serialize;

use crate::base::error::Result;
use crate::nbtest::matrix::{Entry, Kernel, Matrix, Stage};
use crate::regen::templates::Templates;

const TEMPLATE: &str = "ci/github-workflow.yml";

/// A workflow nbgen writes: its file, when it runs, and what.
pub struct Workflow {
    /// Relative to the workspace root.
    pub file: &'static str,
    pub name: &'static str,
    /// Runs on push and pull requests; otherwise only when started by hand (workflow_dispatch).
    pub on_push: bool,
    /// ci/test's parts, one job each (empty: none).
    pub parts: &'static [&'static str],
    /// Matrix files, relative to the workspace root: a job per entry of each.
    pub matrices: &'static [&'static str],
}

/// The workflows of this repository: the one place that says which matrix runs where.
pub const WORKFLOWS: &[Workflow] = &[
    Workflow {
        file: ".github/workflows/nb-test.yml",
        name: "nb-test",
        on_push: true,
        parts: &[
            "lint",
            "cargo-test",
            "overlay",
            "shell",
            "stage",
            "era-tools",
            "clients",
        ],
        matrices: &[
            "ci/matrix-local.toml",
            "ci/matrix-cases.toml",
            "ci/matrix-era-local.toml",
            "ci/matrix-real.toml",
        ],
    },
    // Unconfirmed stage3 URLs and digests, no ::gentoo snapshot: it stops at its first emerge
    // (its header says so), so no push runs it.
    Workflow {
        file: ".github/workflows/nb-era.yml",
        name: "nb-era",
        on_push: false,
        parts: &[],
        matrices: &["ci/matrix-era.toml"],
    },
];

#[derive(Serialize)]
struct View<'a> {
    command: &'a str,
    name: &'a str,
    on_push: bool,
    parts: &'a [&'a str],
    matrices: Vec<MatrixJob>,
}

#[derive(Serialize)]
struct MatrixJob {
    /// The job id: the matrix file's stem (matrix-cases).
    id: String,
    file: String,
    entries: Vec<String>,
    /// Whether an entry needs the shared inputs (an era stage, a shared kernel or distfile).
    shared: bool,
}

/// Whether `entry` needs the shared directory: a stage built from the era sources, a kernel or
/// a distfile from it.
fn needs_shared(entry: &Entry) -> bool {
    let era_stage = matches!(&entry.stage, Stage::Script { script, .. }
        if script.file_name().is_some_and(|n| n == "make-era-stage"));
    era_stage || matches!(entry.kernel, Kernel::Shared(_)) || !entry.distfiles.is_empty()
}

/// The text of `workflow`, from its matrices loaded below `root`.
pub fn render(workflow: &Workflow, root: &Path, command: &str) -> Result<String> {
    let mut matrices = Vec::new();
    for file in workflow.matrices {
        let m = Matrix::load(&root.join(file), root)?;
        let stem = Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        matrices.push(MatrixJob {
            id: stem,
            file: file.to_string(),
            entries: m.entries.iter().map(|e| e.name.clone()).collect(),
            shared: m.entries.iter().any(needs_shared),
        });
    }
    Templates::embedded()?.render(
        TEMPLATE,
        &View {
            command,
            name: workflow.name,
            on_push: workflow.on_push,
            parts: workflow.parts,
            matrices,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    #[test]
    fn render_is_the_committed_workflows_with_every_entry_and_part() {
        for w in WORKFLOWS {
            let text = render(w, root(), "nbgen ci github").unwrap();
            let committed = std::fs::read_to_string(root().join(w.file)).unwrap();
            assert_eq!(text, committed, "{}", w.file);
            for file in w.matrices {
                let m = Matrix::load(&root().join(file), root()).unwrap();
                for e in &m.entries {
                    assert!(
                        text.contains(&format!("\n          - {}\n", e.name)),
                        "{}",
                        e.name
                    );
                }
                assert!(text.contains(&format!("MATRIX: {file}\n")), "{text}");
            }
            for part in w.parts {
                assert!(text.contains(&format!("\n          - {part}\n")), "{part}");
            }
            assert!(!text.contains("\n\n\n"), "{text}");
        }
    }

    #[test]
    fn no_push_runs_the_era_matrix() {
        for w in WORKFLOWS {
            let text = render(w, root(), "nbgen ci github").unwrap();
            let pushed = text.contains("\n  push:\n");
            assert_eq!(pushed, w.on_push, "{}", w.file);
            if pushed {
                assert!(!text.contains("ci/matrix-era.toml"), "{}", w.file);
            }
        }
    }
}
