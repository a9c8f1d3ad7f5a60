//! The cache's policy, for `nbgen test` and `nbgen cache` alike: where it is, its budget, the store
//! a command acts on, and the prune after a test run. The commands print what these return.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{engine_images, parse_size, prune, Images, NoImages, Pruned, SharedLock, Store};
use crate::base::error::{Error, Result};
use crate::nbtest::fetch;

/// The environment variable that sets the budget when no option does.
pub const MAX_ENV: &str = "NBGEN_CACHE_MAX";

/// The cache: `given`, else the XDG default, else (neither HOME nor XDG_CACHE_HOME set, a bare CI
/// environment) target/nbgen-cache below `workspace_root`.
pub fn dir(
    given: Option<PathBuf>,
    workspace_root: impl FnOnce() -> Result<PathBuf>,
) -> Result<PathBuf> {
    match given.or_else(fetch::default_cache_dir) {
        Some(dir) => Ok(dir),
        None => Ok(workspace_root()?.join("target/nbgen-cache")),
    }
}

/// The budget: the option's, else $NBGEN_CACHE_MAX (unset or empty: none), else 10 GiB.
pub fn budget(option: Option<u64>) -> Result<u64> {
    if let Some(bytes) = option {
        return Ok(bytes);
    }
    match std::env::var(MAX_ENV) {
        Ok(text) if text.trim().is_empty() => Ok(super::DEFAULT_BUDGET),
        Ok(text) => parse_size(&text).map_err(|why| Error::input(MAX_ENV, why)),
        Err(std::env::VarError::NotPresent) => Ok(super::DEFAULT_BUDGET),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::input(MAX_ENV, "not UTF-8; give e.g. 10G"))
        }
    }
}

/// The cache `dir` with `images`; the default cache also claims the images no cache explains.
pub fn store<'a>(dir: &'a Path, images: &'a dyn Images) -> Store<'a> {
    let absolute = |p: &Path| std::path::absolute(p).ok();
    let default = fetch::default_cache_dir();
    Store {
        dir,
        images,
        orphan_images: default.is_some_and(|d| absolute(&d) == absolute(dir)),
    }
}

/// The image store, or none with the reason (no podman or docker answers).
pub fn images(dir: &Path) -> (Box<dyn Images>, Option<String>) {
    match engine_images(dir) {
        Ok(store) => (Box::new(store), None),
        Err(why) => (Box::new(NoImages), Some(why)),
    }
}

/// What the prune after a test run did.
pub enum AfterTest {
    /// Another nbgen test holds the cache: nothing pruned.
    Busy,
    /// The prune could not run (the reason); the test run is not failed for it.
    NotPruned(String),
    Pruned(Pruned),
}

/// The prune after a run of `nbgen test`: keeps what the run `used`, within `budget`.
pub fn after_test(lock: SharedLock, dir: &Path, used: &BTreeSet<String>, budget: u64) -> AfterTest {
    let lock = match lock.try_upgrade(dir) {
        Ok(Some(lock)) => lock,
        Ok(None) => return AfterTest::Busy,
        Err(e) => return AfterTest::NotPruned(e.to_string()),
    };
    let (images, _) = images(dir);
    match prune(&store(dir, images.as_ref()), &lock, used, budget, false) {
        Ok(pruned) => AfterTest::Pruned(pruned),
        Err(e) => AfterTest::NotPruned(e.to_string()),
    }
}
