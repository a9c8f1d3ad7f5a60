//! `nbgen digest FILE...`: the Manifest DIST line of each file.

use std::path::PathBuf;

use nbgen::base::error::{Error, Result, EXIT_OK};
use nbgen::regen::manifest;

pub fn run(files: &[PathBuf]) -> Result<u8> {
    for f in files {
        let m = manifest::measure(f).map_err(Error::into_input)?;
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("{}", manifest::measured_line(&name, &m));
    }
    Ok(EXIT_OK)
}
