//! `nbgen ci github`: renders the GitHub Actions workflow that runs a test matrix, one job per
//! entry, from the template ci/github-workflow.yml. Like `regen`, it writes only when the result
//! differs, and `--check` compares without writing, so CI can insist the committed workflow is
//! what the matrix generates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use clap::Subcommand;
use regex::Regex;
use serde::Serialize;

use crate::error::{Error, IoContext, Result, EXIT_CHECK_FAILED, EXIT_OK};
use crate::matrix::{Entry, Matrix};
use crate::report;
use crate::templates::Templates;
use crate::workspace::Workspace;

/// The matrix CI runs unless told otherwise: real stages and kernels, which a laptop rarely wants
/// to download but a CI runner can.
pub const DEFAULT_MATRIX: &str = "ci/matrix-era.toml";
pub const DEFAULT_OUTPUT: &str = ".github/workflows/nb-matrix.yml";
const TEMPLATE: &str = "ci/github-workflow.yml";

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Write the GitHub Actions workflow that runs a test matrix, one job per entry.
    ///
    /// Each job runs on ubuntu-latest, checks out the repository, installs Rust if the runner
    /// lacks it, runs `cargo run --release -p nbgen -- test --matrix MATRIX --entry NAME`, and
    /// uploads target/nb-test/NAME (summary.json, junit.xml, logs) as an artifact, also when the
    /// test failed. Job ids are the entry names with dots turned into underscores.
    ///
    /// The file is written only when it changes. With --check nothing is written: exit 1 when
    /// the workflow on disk differs from what the matrix generates (commit the regenerated one).
    ///
    /// Exit codes: 0 written or up to date; 1 --check found it stale; 2 bad input (the matrix,
    /// with file and line named).
    ///
    /// Examples:
    ///   nbgen ci github                        # .github/workflows/nb-matrix.yml from ci/matrix-era.toml
    ///   nbgen ci github --check                # CI: exit 1 if the committed workflow is stale
    ///   nbgen ci github --matrix ci/matrix-local.toml --output /tmp/local.yml
    #[command(verbatim_doc_comment)]
    Github {
        /// The matrix file (the default is in the workspace root); it must be inside the
        /// workspace, since the workflow runs from the repository root.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_MATRIX)]
        matrix: PathBuf,
        /// Where to write the workflow (the default is in the workspace root).
        #[arg(long, value_name = "FILE", default_value = DEFAULT_OUTPUT)]
        output: PathBuf,
        /// Write nothing; exit 1 if the workflow differs from what would be generated.
        #[arg(long)]
        check: bool,
    },
}

/// Runs one `nbgen ci` subcommand; returns the exit code.
pub fn run(command: CiCommand, manifest_path: Option<&Path>) -> Result<u8> {
    let CiCommand::Github {
        matrix,
        output,
        check,
    } = command;
    let ws = Workspace::locate(manifest_path)?;
    // The defaults are paths in the workspace, so `nbgen ci github` works from any subdirectory;
    // paths given on the command line are taken from the current directory, like other files.
    let matrix_path = if matrix == Path::new(DEFAULT_MATRIX) {
        ws.root.join(DEFAULT_MATRIX)
    } else {
        matrix
    };
    let output = if output == Path::new(DEFAULT_OUTPUT) {
        ws.root.join(DEFAULT_OUTPUT)
    } else {
        output
    };
    let matrix_rel = relative_to_root(&ws.root, &matrix_path)?;
    let output_rel =
        relative_to_root(&ws.root, &output).unwrap_or_else(|_| output.display().to_string());
    let mut command = String::from("nbgen ci github");
    if matrix_rel != DEFAULT_MATRIX {
        command.push_str(&format!(" --matrix {matrix_rel}"));
    }
    if output_rel != DEFAULT_OUTPUT {
        command.push_str(&format!(" --output {output_rel}"));
    }
    let m = Matrix::load(&matrix_path, &ws.root)?;
    let text = render(&m, &matrix_rel, &command)?;
    let on_disk = match std::fs::read(&output) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&output, e)),
    };
    let fresh = on_disk.as_deref() == Some(text.as_bytes());
    if check {
        if fresh {
            println!("{output_rel} is up to date ({} jobs)", m.entries.len());
            return Ok(EXIT_OK);
        }
        let what = match &on_disk {
            None => "is missing".to_string(),
            Some(old) => format!(
                "is stale (first difference at line {})",
                first_difference(&String::from_utf8_lossy(old), &text)
            ),
        };
        println!("{output_rel} {what}: it is not what {matrix_rel} generates; run `{command}`");
        return Ok(EXIT_CHECK_FAILED);
    }
    if fresh {
        println!("{output_rel}: 0 files changed ({} jobs)", m.entries.len());
        return Ok(EXIT_OK);
    }
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    crate::atomic::write(&output, text.as_bytes())?;
    println!("{output_rel}: 1 file changed ({} jobs)", m.entries.len());
    Ok(EXIT_OK)
}

/// Line number (from 1) of the first line where `a` and `b` differ.
fn first_difference(a: &str, b: &str) -> usize {
    let mut la = a.lines();
    let mut lb = b.lines();
    let mut n = 1;
    loop {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (None, None) => return n,
            _ => return n,
        }
    }
}

// What a path may hold to go into the workflow's YAML and shell unquoted.
static PLAIN_PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9._][A-Za-z0-9._/-]*$").unwrap());

/// `path` relative to the workspace root, as the workflow (which runs at the root) must name it.
fn relative_to_root(root: &Path, path: &Path) -> Result<String> {
    let abs = canonical_lenient(path)
        .at(path)
        .map_err(Error::into_input)?;
    let root = std::fs::canonicalize(root).at(root)?;
    let rel = abs.strip_prefix(&root).map_err(|_| {
        Error::input(
            path.display().to_string(),
            format!(
                "not inside the workspace {}: the workflow runs from the repository root and can only name files in it",
                root.display()
            ),
        )
    })?;
    let rel = rel.to_string_lossy().into_owned();
    if !PLAIN_PATH.is_match(&rel) {
        return Err(Error::input(
            path.display().to_string(),
            "the path must be plain (letters, digits, . _ - /) to go into the workflow unquoted",
        ));
    }
    Ok(rel)
}

/// `path` made absolute with symlinks resolved, for a path whose last components may not exist
/// yet (an output file in a directory still to be created): the existing part is canonicalized,
/// the rest appended.
fn canonical_lenient(path: &Path) -> std::io::Result<PathBuf> {
    let mut existing = std::path::absolute(path)?;
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(&existing)?;
    out.extend(rest.iter().rev());
    Ok(out)
}

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
