//! `nbgen ci github`: writes the workflow only when it differs, and `--check` compares without
//! writing, so CI can insist the committed workflow is what the matrix generates.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use clap::Subcommand;
use regex::Regex;

use nbgen::base::error::{Error, IoContext, Result, EXIT_CHECK_FAILED, EXIT_OK};
use nbgen::base::workspace::Workspace;
use nbgen::nbtest::ci_github::{render, DEFAULT_MATRIX, DEFAULT_OUTPUT};
use nbgen::nbtest::matrix::Matrix;

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
    nbgen::base::atomic::write(&output, text.as_bytes())?;
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
