//! `nbgen cache list|prune`, and the prune `nbgen test` does after its run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nbgen::base::error::{Error, Result, EXIT_FAILURE, EXIT_OK};
use nbgen::base::workspace::Workspace;
use nbgen::nbtest::cache::policy::{self, budget, images, store, AfterTest};
use nbgen::nbtest::cache::{self, ExclusiveLock, Inventory, Pruned, SharedLock};

#[derive(clap::Subcommand)]
pub enum CacheCommand {
    /// Print what the cache holds, by stage, least recently used first, and the total.
    ///
    /// One line per short digest (the first 16 hex digits of a SHA512): what is kept under it
    /// (tarball: the verified file in files/; root: the stage unpacked for bwrap in roots/;
    /// snapshot: a portage snapshot unpacked in snapshots/; image: the podman or docker image
    /// localhost/nb-stage:<digest>), the bytes on disk, the image's size, and when a run last
    /// used it. Then what is left of killed runs, which prune removes too.
    List {
        /// The cache; default $XDG_CACHE_HOME/nbgen or ~/.cache/nbgen.
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
    /// Remove the least recently used stages until the cache is within a budget.
    ///
    /// A stage goes whole: its tarball, its unpacked root and its image. Also removed: overlay
    /// layers of killed bwrap runs (calls/, older than a day), partial downloads older than a
    /// week, and half-unpacked or half-removed roots. Kept: real-kernel/ and containers.conf.
    /// Nothing is pruned while an `nbgen test` uses the cache (it says so and exits 0).
    ///
    /// Examples:
    ///   nbgen cache prune --dry-run        # what would go to reach 10 GiB
    ///   nbgen cache prune --max 4G         # what CI does before its runs
    ///   nbgen cache prune --max 0          # empty the cache
    #[command(verbatim_doc_comment)]
    Prune {
        /// The cache; default $XDG_CACHE_HOME/nbgen or ~/.cache/nbgen.
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        /// Budget for tarballs, roots and images together (10G, 500M, 0; binary units);
        /// default $NBGEN_CACHE_MAX, else 10G.
        #[arg(long, value_name = "SIZE", value_parser = cache::parse_size)]
        max: Option<u64>,
        /// Say what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(command: CacheCommand, manifest_path: Option<&Path>) -> Result<u8> {
    match command {
        CacheCommand::List { cache } => {
            let Some(dir) = existing(manifest_path, cache)? else {
                return Ok(EXIT_OK);
            };
            let (images, why) = images(&dir);
            if let Some(why) = why {
                eprintln!("nbgen cache: images not listed: {why}");
            }
            let inv = cache::inventory(&store(&dir, images.as_ref()), SystemTime::now())?;
            print!("{}", table(&dir, &inv, images.name()));
            Ok(EXIT_OK)
        }
        CacheCommand::Prune {
            cache,
            max,
            dry_run,
        } => {
            let budget = budget(max)?;
            let Some(dir) = existing(manifest_path, cache)? else {
                return Ok(EXIT_OK);
            };
            let Some(lock) = ExclusiveLock::try_acquire(&dir)? else {
                eprintln!("nbgen cache: another nbgen test is using the cache; not pruned");
                return Ok(EXIT_OK);
            };
            let (images, _) = images(&dir);
            let store = store(&dir, images.as_ref());
            let pruned = cache::prune(&store, &lock, &BTreeSet::new(), budget, dry_run)?;
            let verb = if dry_run { "would remove" } else { "removed" };
            for unit in &pruned.removed {
                println!("{verb} {}", unit_line(unit));
            }
            for item in &pruned.stale_removed {
                println!(
                    "{verb} {} ({})",
                    item.path.display(),
                    cache::human(item.bytes)
                );
            }
            println!("{}", summary(&pruned, dry_run));
            Ok(warn_failed(&pruned, "nbgen cache"))
        }
    }
}

/// The cache `nbgen test` and `nbgen cache` use (policy::dir).
pub fn dir(manifest_path: Option<&Path>, given: Option<PathBuf>) -> Result<PathBuf> {
    policy::dir(given, || Ok(Workspace::locate(manifest_path)?.root))
}

/// The cache to list or prune; None (said on stderr) when the default one does not exist yet.
/// A directory named with --cache must exist: a typo must not read as an empty cache.
fn existing(manifest_path: Option<&Path>, given: Option<PathBuf>) -> Result<Option<PathBuf>> {
    let named = given.is_some();
    let dir = dir(manifest_path, given)?;
    if dir.is_dir() {
        return Ok(Some(dir));
    }
    if named {
        return Err(Error::input(
            "--cache",
            format!("{}: no such directory", dir.display()),
        ));
    }
    eprintln!(
        "nbgen cache: {} does not exist: nothing cached yet",
        dir.display()
    );
    Ok(None)
}

/// Says what the prune after a run of `nbgen test` did; it never fails the run.
pub fn after_test(lock: SharedLock, dir: &Path, used: &BTreeSet<String>, budget: u64) {
    let say = |text: String| eprintln!("nbgen test: cache: {text}");
    match policy::after_test(lock, dir, used, budget) {
        AfterTest::Busy => say("another nbgen test is using the cache; not pruned".into()),
        AfterTest::NotPruned(why) => say(format!("warning: not pruned: {why}")),
        AfterTest::Pruned(pruned) => {
            let mut text = summary(&pruned, false);
            if pruned.over_budget() {
                text.push_str("; over budget: what this run used is kept");
            }
            say(text);
            warn_failed(&pruned, "nbgen test: cache");
        }
    }
}

/// Warns of every part a prune could not remove; the exit code that deserves.
fn warn_failed(pruned: &Pruned, who: &str) -> u8 {
    for (what, e) in &pruned.failed {
        eprintln!("{who}: warning: could not remove {what}: {e}");
    }
    if pruned.failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }
}

/// One line on what a prune did: "removed 3 stages or files (2.1 GiB) not used since ...;
/// 9.6 GiB kept in 5 (budget 10 GiB)".
fn summary(pruned: &Pruned, dry_run: bool) -> String {
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut text = if pruned.removed.is_empty() {
        "nothing to remove".to_string()
    } else {
        let since = match pruned.removed.iter().filter_map(|u| u.last_used).max() {
            Some(t) => format!("not used since {}", cache::utc_minute(t)),
            None => "never recorded as used".to_string(),
        };
        let n = pruned.removed.len();
        format!(
            "{verb} {n} stage{} or file{} ({}) {since}",
            plural(n),
            plural(n),
            cache::human(pruned.removed_bytes())
        )
    };
    text.push_str(&format!(
        "; {} kept in {} (budget {})",
        cache::human(pruned.kept),
        pruned.kept_units,
        cache::human(pruned.budget)
    ));
    if !pruned.stale_removed.is_empty() {
        let bytes = pruned.stale_removed.iter().map(|s| s.bytes).sum();
        text.push_str(&format!(
            "; {verb} {} leftover{} of killed runs ({})",
            pruned.stale_removed.len(),
            plural(pruned.stale_removed.len()),
            cache::human(bytes)
        ));
    }
    text
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What a unit holds, in words: tarball, root, snapshot, image.
fn holds(unit: &cache::Unit) -> String {
    let mut parts = Vec::new();
    if !unit.files.is_empty() {
        parts.push("tarball");
    }
    for tree in &unit.trees {
        let under = tree.parent().and_then(Path::file_name);
        parts.push(if under.is_some_and(|n| n == "snapshots") {
            "snapshot"
        } else {
            "root"
        });
    }
    if unit.image.is_some() {
        parts.push("image");
    }
    parts.join("+")
}

fn image_size(unit: &cache::Unit) -> String {
    match &unit.image {
        None => "-".into(),
        Some(image) => image.bytes.map_or("?".into(), cache::human),
    }
}

fn last_used(unit: &cache::Unit) -> String {
    unit.last_used.map_or("unknown".into(), cache::utc_minute)
}

fn unit_line(unit: &cache::Unit) -> String {
    format!(
        "{} ({}, {} on disk, image {}, last used {})",
        unit.short,
        holds(unit),
        cache::human(unit.disk_bytes),
        image_size(unit),
        last_used(unit)
    )
}

/// The table of `nbgen cache list`, least recently used first: the order prune removes them.
fn table(dir: &Path, inv: &Inventory, engine: &str) -> String {
    let mut units: Vec<&cache::Unit> = inv.units.iter().collect();
    units.sort_by_key(|u| (u.last_used, u.short.clone()));
    let mut out = format!("cache {} (images: {engine})\n", dir.display());
    let row = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        format!("{a:<16}  {b:<24}  {c:>10}  {d:>10}  {e}\n")
    };
    out.push_str(&row("DIGEST", "HOLDS", "DISK", "IMAGE", "LAST USED"));
    for u in units {
        let disk = cache::human(u.disk_bytes);
        out.push_str(&row(
            &u.short,
            &holds(u),
            &disk,
            &image_size(u),
            &last_used(u),
        ));
    }
    out.push_str(&format!(
        "{} stage{} or file{}: {} on disk + {} in images = {} (default budget {})\n",
        inv.units.len(),
        plural(inv.units.len()),
        plural(inv.units.len()),
        cache::human(inv.disk_bytes()),
        cache::human(inv.image_bytes()),
        cache::human(inv.bytes()),
        cache::human(cache::DEFAULT_BUDGET)
    ));
    for item in &inv.stale {
        let kind = match item.kind {
            cache::StaleKind::Call => "overlay layer of a killed run",
            cache::StaleKind::Partial => "partial download, a week old",
            cache::StaleKind::Debris => "half-made or half-removed tree",
        };
        out.push_str(&format!(
            "stale: {} ({kind}, {}): prune removes it\n",
            item.path.display(),
            cache::human(item.bytes)
        ));
    }
    out
}
