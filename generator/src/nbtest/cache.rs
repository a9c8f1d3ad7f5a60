//! What `nbgen test` keeps in its cache, by stage, and the eviction that holds it to a budget.
//!
//! The cache's big items are keyed by the first 16 hex digits of a SHA512 (the "short digest"):
//! the verified file `files/sha512/<hex>` (a stage tarball, a kernel, a snapshot), the unpacked
//! stage `roots/<short>` (bwrap) or snapshot `snapshots/<short>`, and the podman or docker image
//! `localhost/nb-stage:<short>`. Together they are one [`Unit`]: removing only some of them would
//! leave parts that are rebuilt from the others anyway. A unit's last use is the newest mtime of
//! its files and directories, which every run that uses them refreshes ([`touch`]).
//!
//! Besides units, debris of killed runs is found ([`Stale`]): overlay layers `calls/call.*` older
//! than a day, partial downloads `files/partial/*` older than a week, unpacks cut off
//! (`roots/.<short>.partial`, a day old) and removals cut off (`roots/.trash.*`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::base::error::{Error, IoContext, Result};

mod images;
mod lock;
pub mod policy;

pub use images::*;
pub use lock::*;

/// The budget when none is given: 10 GiB.
pub const DEFAULT_BUDGET: u64 = 10 << 30;

/// A call layer is made and removed by one run; one this old was left by a killed run.
pub const STALE_CALL: Duration = Duration::from_secs(24 * 3600);

/// A partial download is kept to be resumed; after a week nobody will.
pub const STALE_PARTIAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Hex digits of a short digest.
pub const SHORT_LEN: usize = 16;

/// The directories holding files by digest, and those holding unpacked trees by short digest.
const FILE_DIRS: [&str; 2] = ["files/sha512", "files/sha256"];
const TREE_DIRS: [&str; 2] = ["roots", "snapshots"];

/// Whether `s` is a short digest as the cache names things: 16 lowercase hex digits.
pub fn is_short(s: &str) -> bool {
    s.len() == SHORT_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Marks a cached file or directory as used now. A cache that cannot be marked (read-only, not
/// ours) must not fail the run that reads it, so the caller ignores the error.
pub fn touch(path: &Path) -> io::Result<()> {
    File::open(path)?.set_modified(SystemTime::now())
}

/// Everything the cache holds under one short digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub short: String,
    /// Verified files: `files/<algo>/<hex>`.
    pub files: Vec<PathBuf>,
    /// Unpacked trees: `roots/<short>`, `snapshots/<short>`.
    pub trees: Vec<PathBuf>,
    pub image: Option<ImageInfo>,
    /// Bytes the files and trees take on disk (hard links counted once).
    pub disk_bytes: u64,
    /// The newest mtime of the files and trees; None for an image alone.
    pub last_used: Option<SystemTime>,
}

impl Unit {
    fn new(short: &str) -> Unit {
        Unit {
            short: short.to_string(),
            files: Vec::new(),
            trees: Vec::new(),
            image: None,
            disk_bytes: 0,
            last_used: None,
        }
    }

    /// The image's size, where the engine told it.
    pub fn image_bytes(&self) -> u64 {
        self.image.as_ref().and_then(|i| i.bytes).unwrap_or(0)
    }

    /// What counts against the budget: disk and image.
    pub fn bytes(&self) -> u64 {
        self.disk_bytes + self.image_bytes()
    }
}

/// What a piece of debris is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StaleKind {
    /// `calls/call.*` older than [`STALE_CALL`].
    Call,
    /// `files/partial/*` older than [`STALE_PARTIAL`].
    Partial,
    /// `roots/.<short>.partial` a day old, or `.trash.*`: an unpack or a removal cut off.
    Debris,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub path: PathBuf,
    pub kind: StaleKind,
    pub bytes: u64,
}

/// The cache's contents.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// By short digest.
    pub units: Vec<Unit>,
    pub stale: Vec<Stale>,
}

impl Inventory {
    pub fn disk_bytes(&self) -> u64 {
        self.units.iter().map(|u| u.disk_bytes).sum()
    }
    pub fn image_bytes(&self) -> u64 {
        self.units.iter().map(Unit::image_bytes).sum()
    }
    pub fn bytes(&self) -> u64 {
        self.units.iter().map(Unit::bytes).sum()
    }
}

/// A cache and where its stage images are.
pub struct Store<'a> {
    pub dir: &'a Path,
    pub images: &'a dyn Images,
    /// Whether images with no file or tree in `dir` belong to it. The engine's images are shared
    /// by every cache on the machine: only the default cache claims those no cache explains, so
    /// that pruning a test's scratch cache never removes the images of the user's.
    pub orphan_images: bool,
}

/// Reads what the cache holds, with its stage images; `now` decides what is stale. A cache that
/// does not exist is empty.
pub fn inventory(store: &Store, now: SystemTime) -> Result<Inventory> {
    let cache = store.dir;
    let mut units: BTreeMap<String, Unit> = BTreeMap::new();
    for dir in FILE_DIRS {
        for (name, path) in entries(&cache.join(dir))? {
            if name.len() > SHORT_LEN && is_short(&name[..SHORT_LEN]) {
                unit(&mut units, &name[..SHORT_LEN]).files.push(path);
            }
        }
    }
    for dir in TREE_DIRS {
        for (name, path) in entries(&cache.join(dir))? {
            if is_short(&name) {
                unit(&mut units, &name).trees.push(path);
            }
        }
    }
    for image in store.images.list()? {
        let Some(short) = image.short().map(str::to_string) else {
            continue;
        };
        if store.orphan_images || units.contains_key(&short) {
            unit(&mut units, &short).image = Some(image);
        }
    }
    let mut seen = HashSet::new();
    for u in units.values_mut() {
        for path in u.files.iter().chain(&u.trees) {
            let meta = fs::symlink_metadata(path).at(path)?;
            u.last_used = u.last_used.max(Some(meta.modified().at(path)?));
            u.disk_bytes += disk_usage(path, &mut seen)?;
        }
    }
    Ok(Inventory {
        units: units.into_values().collect(),
        stale: stale(cache, now)?,
    })
}

fn unit<'a>(units: &'a mut BTreeMap<String, Unit>, short: &str) -> &'a mut Unit {
    units
        .entry(short.to_string())
        .or_insert_with(|| Unit::new(short))
}

/// The entries of `dir` by name, sorted; none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let read = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        read => read.at(dir)?,
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.at(dir)?;
        if let Some(name) = entry.file_name().to_str() {
            out.push((name.to_string(), entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What killed runs left in `cache`, as of `now`.
fn stale(cache: &Path, now: SystemTime) -> Result<Vec<Stale>> {
    let mut out = aged(cache, "calls", "call.", STALE_CALL, StaleKind::Call, now)?;
    let partial = aged(
        cache,
        "files/partial",
        "",
        STALE_PARTIAL,
        StaleKind::Partial,
        now,
    )?;
    out.extend(partial);
    for dir in TREE_DIRS {
        // An unpack in progress stages its tree as `.<short>.partial`: one a day old was cut off.
        // (The lock keeps runs out during a prune; the age keeps out nbgen versions before it.)
        let cut_off = aged(cache, dir, ".", STALE_CALL, StaleKind::Debris, now)?;
        out.extend(
            cut_off
                .into_iter()
                .filter(|s| s.path.extension().is_some_and(|e| e == "partial")),
        );
        // A removal cut off after its rename: nobody uses these, whatever their age.
        for (name, path) in entries(&cache.join(dir))? {
            if name.starts_with(".trash.") {
                out.push(stale_item(path, StaleKind::Debris)?);
            }
        }
    }
    Ok(out)
}

fn stale_item(path: PathBuf, kind: StaleKind) -> Result<Stale> {
    let bytes = disk_usage(&path, &mut HashSet::new())?;
    Ok(Stale { path, kind, bytes })
}

/// The entries of `cache`/`dir` named `prefix*` whose mtime is older than `age` at `now`.
fn aged(
    cache: &Path,
    dir: &str,
    prefix: &str,
    age: Duration,
    kind: StaleKind,
    now: SystemTime,
) -> Result<Vec<Stale>> {
    let mut out = Vec::new();
    for (name, path) in entries(&cache.join(dir))? {
        let modified = fs::symlink_metadata(&path).and_then(|m| m.modified());
        let modified = modified.at(&path)?;
        let old = now.duration_since(modified).is_ok_and(|d| d > age);
        if name.starts_with(prefix) && old {
            out.push(stale_item(path, kind)?);
        }
    }
    Ok(out)
}

/// Bytes `path` takes on disk, a directory with everything below it, symlinks not followed; an
/// inode already in `seen` (a hard link) is not counted again.
fn disk_usage(path: &Path, seen: &mut HashSet<(u64, u64)>) -> Result<u64> {
    let mut total = 0;
    let mut todo = vec![path.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = match fs::symlink_metadata(&p) {
            // Gone meanwhile (a run removing its call layer): it takes nothing.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            meta => meta.at(&p)?,
        };
        if seen.insert((meta.dev(), meta.ino())) {
            total += meta.blocks() * 512;
        }
        if meta.is_dir() {
            for entry in fs::read_dir(&p).at(&p)? {
                todo.push(entry.at(&p)?.path());
            }
        }
    }
    Ok(total)
}

/// Which units to evict: the least recently used first (never used known: first of all), never
/// one in `in_use`, until what remains is within `budget`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Indexes into the units, in eviction order.
    pub evict: Vec<usize>,
    /// Bytes of the units kept.
    pub kept: u64,
    pub budget: u64,
}

impl Plan {
    /// What is kept is still over the budget: the units in use alone exceed it.
    pub fn over_budget(&self) -> bool {
        self.kept > self.budget
    }
}

pub fn plan(units: &[Unit], in_use: &BTreeSet<String>, budget: u64) -> Plan {
    let mut order: Vec<usize> = (0..units.len())
        .filter(|&i| !in_use.contains(&units[i].short))
        .collect();
    order.sort_by(|&a, &b| {
        (units[a].last_used, &units[a].short).cmp(&(units[b].last_used, &units[b].short))
    });
    let mut kept: u64 = units.iter().map(Unit::bytes).sum();
    let mut evict = Vec::new();
    for i in order {
        if kept <= budget {
            break;
        }
        kept -= units[i].bytes();
        evict.push(i);
    }
    Plan {
        evict,
        kept,
        budget,
    }
}

/// What a prune did (or, dry, would do).
#[derive(Debug)]
pub struct Pruned {
    pub removed: Vec<Unit>,
    pub stale_removed: Vec<Stale>,
    /// What could not be removed, by short digest or path, and why; it stays for the next prune.
    pub failed: Vec<(String, Error)>,
    /// The units kept and their bytes.
    pub kept_units: usize,
    pub kept: u64,
    pub budget: u64,
}

impl Pruned {
    pub fn removed_bytes(&self) -> u64 {
        self.removed.iter().map(Unit::bytes).sum()
    }
    pub fn over_budget(&self) -> bool {
        self.kept > self.budget
    }
}

/// Evicts least recently used units of the cache until it is within `budget`, never one of
/// `in_use` (short digests), and removes the stale debris. The exclusive lock proves that no run
/// reads the cache meanwhile. With `dry_run` nothing is removed and the result says what would be.
/// A part that cannot be removed is reported in `failed`; the rest goes on.
pub fn prune(
    store: &Store,
    _lock: &ExclusiveLock,
    in_use: &BTreeSet<String>,
    budget: u64,
    dry_run: bool,
) -> Result<Pruned> {
    let inv = inventory(store, SystemTime::now())?;
    let plan = plan(&inv.units, in_use, budget);
    let mut pruned = Pruned {
        removed: Vec::new(),
        stale_removed: Vec::new(),
        failed: Vec::new(),
        kept_units: inv.units.len() - plan.evict.len(),
        kept: plan.kept,
        budget,
    };
    for &i in &plan.evict {
        let unit = &inv.units[i];
        match if dry_run {
            Ok(())
        } else {
            remove_unit(unit, store.images)
        } {
            Ok(()) => pruned.removed.push(unit.clone()),
            Err(e) => {
                pruned.kept_units += 1;
                pruned.kept += unit.bytes();
                pruned.failed.push((unit.short.clone(), e));
            }
        }
    }
    for item in inv.stale {
        match if dry_run {
            Ok(())
        } else {
            remove_path(&item.path)
        } {
            Ok(()) => pruned.stale_removed.push(item),
            Err(e) => pruned.failed.push((item.path.display().to_string(), e)),
        }
    }
    Ok(pruned)
}

/// Removes the image, then the trees, then the files: the verified file goes last, so a unit cut
/// off halfway is still found (by its file) and removed by the next prune.
fn remove_unit(unit: &Unit, images: &dyn Images) -> Result<()> {
    if let Some(image) = &unit.image {
        images.remove(&image.tag)?;
    }
    for tree in &unit.trees {
        remove_path(tree)?;
    }
    for file in &unit.files {
        fs::remove_file(file).at(file)?;
    }
    Ok(())
}

/// Removes a file, or a directory by first renaming it to `.trash.*` beside it: unpack.rs takes
/// `roots/<short>` as complete when its marker is there, and a tree half-deleted in place would
/// still carry it. A `.trash.*` left by a killed prune is debris the next prune removes.
pub fn remove_path(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).at(path)?;
    if !meta.is_dir() {
        return fs::remove_file(path).at(path);
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let trash = if name.starts_with(".trash.") {
        path.to_path_buf()
    } else {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let trash = path.with_file_name(format!(".trash.{name}.{}.{nanos}", std::process::id()));
        fs::rename(path, &trash).at(path)?;
        trash
    };
    fs::remove_dir_all(&trash).at(&trash)
}

/// Parses a budget: bytes with an optional suffix, binary as `du -h` counts (`10G` is 10 GiB,
/// `500M`, `1.5GiB`, `0`). The error says what was wrong, for a message naming the option.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    parse_size::Config::new()
        .with_binary()
        .parse_size(text.trim())
        .map_err(|e| format!("{text:?} is not a size ({e}); give e.g. 10G, 500M or 0"))
}

/// Bytes for people, binary units with one decimal: `512 B`, `1.5 KiB`, `10 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = if unit == 0 {
        bytes.to_string()
    } else {
        format!("{value:.1}")
    };
    format!(
        "{} {}",
        text.strip_suffix(".0").unwrap_or(&text),
        UNITS[unit]
    )
}

/// A time as `YYYY-MM-DD HH:MM UTC` (a cache's last use needs no finer grain).
pub fn utc_minute(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86400, secs % 86400);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian), in 400-year eras.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

#[cfg(test)]
mod tests;
