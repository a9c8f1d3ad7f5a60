//! The GitHub Actions workflow that runs a test matrix, one job per entry, rendered from the
//! template ci/github-workflow.yml. The command (`nbgen ci github`, writing only when the result
//! differs, `--check`) is in the binary's cli/ci.rs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::nbtest::matrix::{Entry, Matrix};
use crate::nbtest::report;
use crate::regen::templates::Templates;

/// The matrix CI runs unless told otherwise: real stages and kernels, which a laptop rarely wants
/// to download but a CI runner can.
pub const DEFAULT_MATRIX: &str = "ci/matrix-era.toml";
pub const DEFAULT_OUTPUT: &str = ".github/workflows/nb-matrix.yml";
const TEMPLATE: &str = "ci/github-workflow.yml";

#[derive(Serialize)]
struct Workflow<'a> {
    command: &'a str,
    matrix: &'a str,
    jobs: Vec<Job>,
}

#[derive(Serialize)]

struct Job {
    id: String,
    name: String,
    results: String,
}

/// A GitHub job id for an entry: ids may hold letters, digits, `-` and `_` and must start with a
/// letter or `_`; entry names may also hold dots and start with a digit.
pub fn job_id(name: &str) -> String {
    let id = name.replace('.', "_");
    if id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id
    } else {
        format!("_{id}")
    }
}

/// The workflow for `matrix`, which the workflow names as `matrix_rel` (relative to the root).
pub fn render(matrix: &Matrix, matrix_rel: &str, command: &str) -> Result<String> {
    let mut ids: BTreeMap<String, &Entry> = BTreeMap::new();
    let mut jobs = Vec::new();
    for e in &matrix.entries {
        let id = job_id(&e.name);
        if let Some(other) = ids.insert(id.clone(), e) {
            return Err(Error::input(
                e.location.clone(),
                format!(
                    "entry {:?} and entry {:?} (at {}) both become GitHub job id {id}; rename one",
                    e.name, other.name, other.location
                ),
            ));
        }
        jobs.push(Job {
            id,
            name: e.name.clone(),
            results: report::entry_dir(&e.name).display().to_string(),
        });
    }
    Templates::embedded()?.render(
        TEMPLATE,
        &Workflow {
            command,
            matrix: matrix_rel,
            jobs,
        },
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use regex::Regex;

    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    #[test]
    fn job_ids_are_valid_for_github() {
        assert_eq!(job_id("linux-2.6.18"), "linux-2_6_18");
        assert_eq!(job_id("2.6.18-fixture"), "_2_6_18-fixture");
        let valid = Regex::new(r"^[A-Za-z_][A-Za-z0-9_-]*$").unwrap();
        let m = Matrix::load(&root().join("ci/matrix-local.toml"), root()).unwrap();
        for e in &m.entries {
            assert!(valid.is_match(&job_id(&e.name)), "{}", e.name);
        }
    }

    #[test]
    fn colliding_job_ids_are_refused() {
        let r = root();
        let text = std::fs::read_to_string(r.join("ci/matrix-local.toml")).unwrap();
        let text = text
            .replacen("linux-2.6.15-fixture", "linux-2_6_15-fixture", 1)
            .replacen("linux-2.6.18-fixture", "linux-2.6.15-fixture", 1);
        let m = Matrix::parse(Path::new("m.toml"), &text, r).unwrap();
        let e = render(&m, "m.toml", "nbgen ci github").unwrap_err();
        assert!(
            e.to_string()
                .contains("both become GitHub job id linux-2_6_15-fixture"),
            "{e}"
        );
    }

    #[test]
    fn render_is_the_committed_workflow_with_one_job_per_entry() {
        let m = Matrix::load(&root().join(DEFAULT_MATRIX), root()).unwrap();
        let a = render(&m, DEFAULT_MATRIX, "nbgen ci github").unwrap();
        let committed = root().join(".github/workflows/nb-matrix.yml");
        assert_eq!(
            a,
            std::fs::read_to_string(&committed).unwrap(),
            "{}",
            committed.display()
        );
        for e in &m.entries {
            assert!(a.contains(&format!("\n  {}:\n", job_id(&e.name))), "{a}");
            assert!(a.contains(&format!(
                "cargo run --release -p nbgen -- test --matrix ci/matrix-era.toml --entry {}\n",
                e.name
            )));
            assert!(a.contains(&format!("path: target/nb-test/{}\n", e.name)));
        }
        assert_eq!(a.matches("runs-on: ubuntu-latest").count(), m.entries.len());
        assert_eq!(a.matches("if: always()").count(), m.entries.len());
        assert!(!a.contains("\n\n\n"), "{a}");
        assert!(a.ends_with("if-no-files-found: warn\n"), "{a}");
    }
}
