//! `<cache>/.lock`: every `nbgen test` holds it shared for its whole run, and a prune holds it
//! exclusively, so nothing a run may still read is removed under it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use rustix::fs::{flock, FlockOperation};

use crate::base::error::{IoContext, Result};

/// The lock file's name in the cache.
pub const LOCK_FILE: &str = ".lock";

/// A run's hold on the cache: pruning waits until it is released.
#[derive(Debug)]
pub struct SharedLock {
    file: File,
}

/// Held while pruning: no run uses the cache meanwhile.
#[derive(Debug)]
pub struct ExclusiveLock {
    _file: File,
}

fn open(cache: &Path) -> Result<File> {
    fs::create_dir_all(cache).at(cache)?;
    let path = cache.join(LOCK_FILE);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .at(&path)
}

/// Takes the lock as `op`; None when it is busy and `op` does not wait.
fn take(file: &File, op: FlockOperation, path: &Path) -> Result<bool> {
    loop {
        match flock(file, op) {
            Ok(()) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(false),
            Err(e) => return Err(io::Error::from(e)).at(path),
        }
    }
}

impl SharedLock {
    /// Takes the shared lock on `cache` (created if missing). A prune in progress is waited for:
    /// `waiting` is called once before the wait, so the caller can say why nothing happens.
    pub fn acquire(cache: &Path, waiting: impl FnOnce()) -> Result<SharedLock> {
        let file = open(cache)?;
        let path = cache.join(LOCK_FILE);
        if !take(&file, FlockOperation::NonBlockingLockShared, &path)? {
            waiting();
            take(&file, FlockOperation::LockShared, &path)?;
        }
        Ok(SharedLock { file })
    }

    /// Turns this hold into the exclusive one, without waiting; None when another run holds the
    /// cache too. Linux drops the shared hold before it tries (flock(2) converts non-atomically),
    /// so the lock is consumed either way: this is the last thing a run does with the cache.
    pub fn try_upgrade(self, cache: &Path) -> Result<Option<ExclusiveLock>> {
        let held = take(
            &self.file,
            FlockOperation::NonBlockingLockExclusive,
            &cache.join(LOCK_FILE),
        )?;
        Ok(held.then_some(ExclusiveLock { _file: self.file }))
    }
}

impl ExclusiveLock {
    /// The exclusive lock on `cache`, without waiting; None while a run (or a prune) holds it.
    pub fn try_acquire(cache: &Path) -> Result<Option<ExclusiveLock>> {
        let file = open(cache)?;
        let held = take(
            &file,
            FlockOperation::NonBlockingLockExclusive,
            &cache.join(LOCK_FILE),
        )?;
        Ok(held.then_some(ExclusiveLock { _file: file }))
    }
}
