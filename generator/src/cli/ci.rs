//! `nbgen ci github`: writes the workflows only when they differ, and `--check` compares without
//! writing, so CI can insist the committed workflows are what the matrices generate.

use std::path::Path;

use clap::Subcommand;

use nbgen::base::error::{Error, IoContext, Result, EXIT_CHECK_FAILED, EXIT_OK};
use nbgen::base::workspace::Workspace;
use nbgen::nbtest::ci_github::{render, WORKFLOWS};

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Write the GitHub Actions workflows a push runs.
    ///
    /// .github/workflows/nb-test.yml (on push, pull requests and by hand): ci/test's parts as
    /// jobs of their own (lint, cargo-test, overlay, shell, stage, era-tools, clients)
    /// and a job per entry of ci/matrix-local.toml, ci/matrix-cases.toml, ci/matrix-era-local.toml
    /// and ci/matrix-real.toml, each running `nbgen test --matrix MATRIX --entry ENTRY` as a
    /// developer does, with the shared inputs fetched (`nbgen shared fetch`) and cached, stages
    /// and each entry's last results cached, results uploaded and the JUnit report shown.
    /// .github/workflows/nb-era.yml: ci/matrix-era.toml, run only by hand (workflow_dispatch)
    /// until its stage URLs, digests and a ::gentoo snapshot are confirmed.
    ///
    /// Files are written only when they change. With --check nothing is written: exit 1 when a
    /// workflow on disk differs from what the matrices generate (commit the regenerated one).
    ///
    /// Exit codes: 0 written or up to date; 1 --check found one stale; 2 bad input (a matrix,
    /// with file and line named).
    ///
    /// Examples:
    ///   nbgen ci github              # write .github/workflows/nb-test.yml and nb-era.yml
    ///   nbgen ci github --check      # CI: exit 1 if a committed workflow is stale
    #[command(verbatim_doc_comment)]
    Github {
        /// Write nothing; exit 1 if a workflow differs from what would be generated.
        #[arg(long)]
        check: bool,
    },
}

/// Runs one `nbgen ci` subcommand; returns the exit code.
pub fn run(command: CiCommand, manifest_path: Option<&Path>) -> Result<u8> {
    let CiCommand::Github { check } = command;
    let ws = Workspace::locate(manifest_path)?;
    let command = "nbgen ci github";
    let mut texts = Vec::new();
    for w in WORKFLOWS {
        texts.push((w, render(w, &ws.root, command)?));
    }
    let mut stale = 0;
    let mut changed = 0;
    for (w, text) in &texts {
        let path = ws.root.join(w.file);
        let on_disk = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&path, e)),
        };
        if on_disk.as_deref() == Some(text.as_bytes()) {
            if check {
                println!("{} is up to date", w.file);
            }
            continue;
        }
        if check {
            stale += 1;
            let what = match &on_disk {
                None => "is missing".to_string(),
                Some(old) => format!(
                    "is stale (first difference at line {})",
                    first_difference(&String::from_utf8_lossy(old), text)
                ),
            };
            println!("{} {what}: run `{command}`", w.file);
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        nbgen::base::atomic::write(&path, text.as_bytes())?;
        changed += 1;
        println!("{}: written", w.file);
    }
    if check {
        return Ok(if stale == 0 {
            EXIT_OK
        } else {
            EXIT_CHECK_FAILED
        });
    }
    println!(
        "{changed} file{} changed ({} workflows)",
        if changed == 1 { "" } else { "s" },
        texts.len()
    );
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
