//! `nbgen pin`: measures a distfile the user trusts and records its size and digests in the spec,
//! next to where they came from. A digest already pinned from elsewhere must match, or nothing is
//! written.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::base::error::{Error, Result};
use crate::regen::manifest::{self, Measured};
use crate::regen::model::Hash;

/// What pinning one file did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pinned {
    /// Digests were added or the entry was already complete and equal.
    Recorded {
        name: String,
        added: Vec<&'static str>,
    },
}

/// Pins every file in `files` into the spec at `spec_path`; the spec is rewritten once, atomically,
/// and only if every file was accepted.
pub fn pin(spec_path: &Path, files: &[&Path], source: Option<&str>) -> Result<Vec<Pinned>> {
    let text = crate::base::toml_input::read_text(spec_path)?;
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        Error::input(spec_path.display().to_string(), e.message().to_string())
    })?;
    let mut results = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::input(file.display().to_string(), "not a file name"))?;
        let measured = manifest::measure(file).map_err(Error::into_input)?;
        let entry = find_distfile(&mut doc, &name).ok_or_else(|| {
            Error::input(
                file.display().to_string(),
                format!(
                    "no distfile named {name:?} in {} (add a [[package.version.distfile]] entry first)",
                    spec_path.display()
                ),
            )
        })?;
        results.push(record(entry, &name, file, &measured, source)?);
    }
    let new_text = doc.to_string();
    if new_text != text {
        crate::base::atomic::write(spec_path, new_text.as_bytes())?;
    }
    Ok(results)
}

fn find_distfile<'a>(doc: &'a mut DocumentMut, name: &str) -> Option<&'a mut Table> {
    doc.get_mut("package")?
        .as_array_of_tables_mut()?
        .iter_mut()
        .filter_map(|p| p.get_mut("version").and_then(Item::as_array_of_tables_mut))
        .flat_map(|versions| versions.iter_mut())
        .filter_map(|v| v.get_mut("distfile").and_then(Item::as_array_of_tables_mut))
        .flat_map(|distfiles| distfiles.iter_mut())
        .find(|d| d.get("name").and_then(Item::as_str) == Some(name))
}

fn record(
    entry: &mut Table,
    name: &str,
    file: &Path,
    m: &Measured,
    source: Option<&str>,
) -> Result<Pinned> {
    let refuse = |what: String| {
        Error::input(
            file.display().to_string(),
            format!("{what}: this is not the file the spec pins; nothing was written"),
        )
    };
    if let Some(size) = entry.get("size").and_then(Item::as_integer) {
        if size as u64 != m.size {
            return Err(refuse(format!(
                "size is {} bytes, the spec says {size}",
                m.size
            )));
        }
    }
    let mut added = Vec::new();
    let old_source = entry
        .get("source")
        .and_then(Item::as_str)
        .map(str::to_string);
    for hash in Hash::ALL {
        let (key, label) = (hash.key(), hash.label());
        let value = m.digests.get(hash).expect("measure computes every digest");
        match entry.get(key).and_then(Item::as_str) {
            Some(pinned) if pinned != value => {
                return Err(refuse(format!(
                    "{label} is {value}, the spec pins {pinned} (from {})",
                    old_source.as_deref().unwrap_or("an unnamed source")
                )))
            }
            Some(_) => {}
            None => {
                entry.insert(key, toml_edit::value(value));
                added.push(label);
            }
        }
    }
    if entry.get("size").is_none() {
        entry.insert("size", toml_edit::value(m.size as i64));
    }
    if !added.is_empty() {
        let how = source.map_or_else(
            || format!("computed by `nbgen pin` from a copy of {name}"),
            |s| format!("computed by `nbgen pin` from a copy of {name} ({s})"),
        );
        let text = match old_source {
            Some(old) => format!("{old}; {} {how} that matches it", added.join(" ")),
            None => how,
        };
        entry.insert("source", Item::Value(Value::from(text)));
    }
    Ok(Pinned::Recorded {
        name: name.to_string(),
        added,
    })
}
