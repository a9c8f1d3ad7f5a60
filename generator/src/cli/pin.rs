//! `nbgen pin FILE... [--source TEXT]`: record digests in the spec, then regenerate.

use std::path::{Path, PathBuf};

use nbgen::base::error::{Result, EXIT_OK};
use nbgen::base::workspace::Workspace;
use nbgen::regen::{self, pin::Pinned};

use super::print_notes;

pub fn run(manifest_path: Option<&Path>, files: &[PathBuf], source: Option<&str>) -> Result<u8> {
    let ws = Workspace::locate(manifest_path)?;
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    for result in regen::pin::pin(&ws.spec_path(), &refs, source)? {
        let Pinned::Recorded { name, added } = result;
        if added.is_empty() {
            println!("{name}: already pinned, digests match");
        } else {
            println!("{name}: recorded {}", added.join(" "));
        }
    }
    let outcome = regen::regen(&ws, &ws.overlay_dir(), &mut |_| Ok(()))?;
    print_notes(&outcome.notes);
    println!("overlay: {} files changed", outcome.diff.count());
    Ok(EXIT_OK)
}
