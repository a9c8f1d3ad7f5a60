//! The matrix's lock file: digests of downloads pinned on their first verified fetch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{Download, SHA512};
use crate::base::error::{Error, IoContext, Result};
use crate::base::toml_input::{self, Locator};

/// The digests of downloads the matrix names without one, pinned on their first verified fetch.
/// Kept sorted by URL; an existing pin is never changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    path: PathBuf,
    pins: BTreeMap<String, Pin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub url: String,
    pub sha512: String,
    pub size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLock {
    #[serde(default)]
    pin: Vec<Spanned<Pin>>,
}

/// What [`Lock::pin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    Added,
    /// The same digest and size were pinned already.
    Unchanged,
}

impl Lock {
    /// Reads `path`; a lock file that does not exist yet is an empty one.
    pub fn load(path: &Path) -> Result<Lock> {
        let text = match std::fs::read(path) {
            Ok(b) => crate::base::toml_input::utf8_text(&path.display().to_string(), b)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(path, e)),
        };
        let loc = Locator::new(path, &text);
        let raw: RawLock = toml_input::parse(path, &text)?;
        let mut pins = BTreeMap::new();
        for p in raw.pin {
            let at = loc.of(&p);
            let pin = p.into_inner();
            if !SHA512.is_match(&pin.sha512) {
                return Err(Error::input(
                    at,
                    format!(
                        "pin of {}: sha512 must be 128 lowercase hex digits",
                        pin.url
                    ),
                ));
            }
            if pins.contains_key(&pin.url) {
                return Err(Error::input(at, format!("{} is pinned twice", pin.url)));
            }
            pins.insert(pin.url.clone(), pin);
        }
        Ok(Lock {
            path: path.to_path_buf(),
            pins,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, url: &str) -> Option<&Pin> {
        self.pins.get(url)
    }

    pub fn pins(&self) -> impl Iterator<Item = &Pin> {
        self.pins.values()
    }

    /// The SHA512 a download must have: the matrix's own, else the pinned one, else None (the first
    /// fetch pins it). A matrix digest that contradicts the pin is an error.
    pub fn expected(&self, d: &Download) -> Result<Option<String>> {
        match (&d.sha512, self.pins.get(&d.url)) {
            (Some(m), Some(p)) if *m != p.sha512 => Err(Error::input(
                self.path.display().to_string(),
                format!(
                    "{}: the matrix says sha512 {m}, the lock pins {}; one of them is wrong, and a pin is never silently changed",
                    d.url, p.sha512
                ),
            )),
            (Some(m), _) => Ok(Some(m.clone())),
            (None, Some(p)) => Ok(Some(p.sha512.clone())),
            (None, None) => Ok(None),
        }
    }

    /// Records `url`'s digest and size. Pinning what is pinned already is fine; anything else for a
    /// pinned URL is refused, naming both digests: a pin is never silently changed.
    pub fn pin(&mut self, url: &str, sha512: &str, size: u64) -> Result<Pinned> {
        if !SHA512.is_match(sha512) {
            return Err(Error::input(
                url,
                format!("refusing to pin sha512 {sha512:?}: not 128 lowercase hex digits"),
            ));
        }
        if let Some(old) = self.pins.get(url) {
            if old.sha512 == sha512 && old.size == size {
                return Ok(Pinned::Unchanged);
            }
            return Err(Error::input(
                self.path.display().to_string(),
                format!(
                    "{url} is pinned to sha512 {} ({} bytes) but the file fetched now has sha512 {sha512} ({size} bytes); \
                     a pin is never silently changed: find out why the file changed, and if the new one is right, \
                     delete its [[pin]] from {} by hand",
                    old.sha512,
                    old.size,
                    self.path.display()
                ),
            ));
        }
        self.pins.insert(
            url.to_string(),
            Pin {
                url: url.to_string(),
                sha512: sha512.to_string(),
                size,
            },
        );
        Ok(Pinned::Added)
    }

    /// The file as [`Lock::save`] writes it: a header, then one `[[pin]]` per URL in URL order.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# Written by nbgen: the SHA512 and size of each download the matrix names without a\n\
             # digest, pinned on its first verified fetch. Sorted by URL. nbgen never changes a pin;\n\
             # if a file behind a URL changes, it stops, and a person decides.\n",
        );
        for p in self.pins.values() {
            let _ = write!(
                out,
                "\n[[pin]]\nurl = {}\nsha512 = \"{}\"\nsize = {}\n",
                toml::Value::String(p.url.clone()),
                p.sha512,
                p.size
            );
        }
        out
    }

    /// Writes the lock file through a temporary file and one rename.
    pub fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        crate::base::atomic::write(&self.path, self.to_toml().as_bytes())
    }
}
