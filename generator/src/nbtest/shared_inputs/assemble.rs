//! A shared input made from its sources: the first source's tree under the input's top directory,
//! a later source's listed files put in (replacing or adding), written as a tar.xz beside its
//! place, checked against the content digest, and only then renamed into place.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use tar::{Archive, Builder, EntryType, Header};

use crate::base::error::{Error, IoContext, Result};

use super::content;
use super::table::{Input, Source};

/// xz's preset for the written input: its consumers read it once per cache miss, and a whole
/// kernel tree takes seconds at 1, a minute at the default 6.
const PRESET: u32 = 1;

/// Where a source is downloaded from: its own URL, or `<mirror>/<name>`.
pub fn source_url(source: &Source, mirror: Option<&str>) -> String {
    match mirror {
        Some(m) => format!("{}/{}", m.trim_end_matches('/'), source.name),
        None => source.url.clone(),
    }
}

/// Puts `input` together from `downloads` (one archive per source, in the table's order) into
/// `dest`. A tree whose digest is not the table's is refused (its digest returned), and nothing
/// is left at `dest` then.
pub fn assemble(input: &Input, downloads: &[PathBuf], dest: &Path) -> Result<Assembled> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).at(dir)?;
    let mut extra: BTreeMap<String, (Header, Vec<u8>)> = BTreeMap::new();
    for (source, path) in input.sources.iter().zip(downloads).skip(1) {
        let wanted = source.files.clone().unwrap_or_default();
        let found = pick(path, &wanted)?;
        for want in &wanted {
            if !found.contains_key(want) {
                return Err(Error::input(
                    &source.name,
                    format!("{want} is not in {} (from {})", source.name, source.url),
                ));
            }
        }
        extra.extend(found);
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name(dest)))
        .tempfile_in(dir)
        .at(dir)?;
    {
        let xz = xz2::write::XzEncoder::new(std::io::BufWriter::new(tmp.as_file_mut()), PRESET);
        let mut out = Builder::new(xz);
        out.follow_symlinks(false);
        copy_tree(&downloads[0], &input.top, &extra, &mut out)?;
        for (rel, (header, data)) in &extra {
            let mut h = header.clone();
            out.append_data(&mut h, format!("{}/{rel}", input.top), data.as_slice())
                .at(dest)?;
        }
        let xz = out.into_inner().at(dest)?;
        xz.finish().and_then(|mut w| w.flush()).at(dest)?;
    }
    let got = content::of_file(tmp.path())?;
    if got != input.content {
        return Ok(Assembled::Refused { got });
    }
    tmp.persist(dest).map_err(|e| Error::io(dest, e.error))?;
    Ok(Assembled::Written)
}

/// What became of an input put together from its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    Written,
    /// The sources hold a tree with this other digest: nothing was written.
    Refused {
        got: String,
    },
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The path below an archive's top directory, or None for the top directory itself.
fn below_top(path: &str) -> Option<String> {
    let path = path.trim_start_matches("./");
    let (_, rest) = path.split_once('/')?;
    let rest = rest.trim_end_matches('/');
    (!rest.is_empty()).then(|| rest.to_string())
}

fn open(path: &Path) -> Result<Archive<Box<dyn Read>>> {
    let file = BufReader::new(File::open(path).at(path)?);
    let (_, tar) = crate::nbtest::unpack::decoded(&path.display().to_string(), file)?;
    Ok(Archive::new(tar))
}

fn bad(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| {
        Error::input(
            path.display().to_string(),
            format!("cannot read the archive: {e}"),
        )
    }
}

/// Calls `f` with each entry of the archive at `path` of one of the `kinds`, and its path below
/// the archive's top directory (the top directory itself is left out).
fn each_entry(
    path: &Path,
    kinds: &[EntryType],
    mut f: impl FnMut(&mut tar::Entry<'_, Box<dyn Read>>, String) -> Result<()>,
) -> Result<()> {
    let mut archive = open(path)?;
    for entry in archive.entries().map_err(bad(path))? {
        let mut entry = entry.map_err(bad(path))?;
        if !kinds.contains(&entry.header().entry_type()) {
            continue;
        }
        let name = entry
            .path()
            .map_err(bad(path))?
            .to_string_lossy()
            .into_owned();
        if let Some(rel) = below_top(&name) {
            f(&mut entry, rel)?;
        }
    }
    Ok(())
}

/// The regular files of the archive at `path` whose paths below its top directory are `wanted`.
fn pick(path: &Path, wanted: &[String]) -> Result<BTreeMap<String, (Header, Vec<u8>)>> {
    let mut found = BTreeMap::new();
    each_entry(path, &[EntryType::Regular], |entry, rel| {
        if wanted.contains(&rel) {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(bad(path))?;
            found.insert(rel, (entry.header().clone(), data));
        }
        Ok(())
    })?;
    Ok(found)
}

/// Every directory, file and symlink of the archive at `from`, moved under `top`, except the
/// files `replaced` gives anew.
fn copy_tree<W: Write>(
    from: &Path,
    top: &str,
    replaced: &BTreeMap<String, (Header, Vec<u8>)>,
    out: &mut Builder<W>,
) -> Result<()> {
    let kinds = [EntryType::Regular, EntryType::Directory, EntryType::Symlink];
    each_entry(from, &kinds, |entry, rel| {
        if replaced.contains_key(&rel) {
            return Ok(());
        }
        let mut h = entry.header().clone();
        let dest = format!("{top}/{rel}");
        if h.entry_type() == EntryType::Symlink {
            let target = entry
                .link_name()
                .map_err(bad(from))?
                .unwrap_or_default()
                .into_owned();
            out.append_link(&mut h, &dest, &target).map_err(bad(from))?;
        } else {
            out.append_data(&mut h, &dest, entry).map_err(bad(from))?;
        }
        Ok(())
    })
}
