//! `nbgen regen [--check] [--overlay DIR]`.

use std::path::{Path, PathBuf};

use nbgen::base::error::{Result, EXIT_CHECK_FAILED, EXIT_OK};
use nbgen::base::workspace::Workspace;
use nbgen::regen;

use super::print_notes;

pub fn run(manifest_path: Option<&Path>, check: bool, overlay: Option<PathBuf>) -> Result<u8> {
    // An obviously wrong target fails before anything else is read.
    if let Some(dir) = &overlay {
        regen::tree::refuse_obvious(dir)?;
    }
    let ws = Workspace::locate(manifest_path)?;
    let out = overlay.unwrap_or_else(|| ws.overlay_dir());
    let placeholders = ws.identity.placeholders();
    if !placeholders.is_empty() {
        eprintln!(
            "nbgen: warning: Cargo.toml [workspace.metadata.nbgen] still holds placeholders ({}): set the real values before publishing",
            placeholders.join(", ")
        );
    }
    if check {
        let outcome = regen::check(&ws, &out)?;
        print_notes(&outcome.notes);
        if outcome.diff.is_empty() {
            println!("{} is up to date ({} files)", out.display(), outcome.files);
            return Ok(EXIT_OK);
        }
        for line in outcome.diff.lines() {
            println!("{line}");
        }
        println!(
            "{} is stale: {} files differ from what the spec generates; run `nbgen regen`",
            out.display(),
            outcome.diff.count()
        );
        return Ok(EXIT_CHECK_FAILED);
    }
    let outcome = regen::regen(&ws, &out, &mut |_| Ok(()))?;
    print_notes(&outcome.notes);
    for line in outcome.diff.lines() {
        println!("{line}");
    }
    println!(
        "{}: {} files changed ({} in the overlay)",
        out.display(),
        outcome.diff.count(),
        outcome.files
    );
    Ok(EXIT_OK)
}
