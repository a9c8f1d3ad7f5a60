//! A download in progress: the `.part` file, hashed while it is written, its writeback, and the
//! lock that keeps two processes from writing the same one.

use super::*;

/// Write buffer of a `.part` file. Smaller than a typical block on purpose: BufWriter passes a
/// write at least this large straight to the file, so fast transfers are not copied once more,
/// while a trickle of small network chunks is still gathered.
pub(super) const WRITE_BUFFER: usize = 64 * 1024;

/// After this many bytes the kernel is told to start writing the `.part` to disk. The fsync that
/// makes a cache entry durable then finds little left to write, instead of stalling at the end for
/// the whole file (most of a second for a stage tarball on an ordinary disk).
pub(super) const WRITEBACK: u64 = 8 << 20;

/// A streaming hasher for either algorithm.
pub(super) enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub(super) fn new(algo: Algo) -> Hasher {
        match algo {
            Algo::Sha256 => Hasher::Sha256(Sha256::new()),
            Algo::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    pub(super) fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    pub(super) fn hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// The `.part` file of one download with the hash of exactly its bytes.
///
/// Resuming needs the hash state of the bytes already on disk. Within one process the hasher is
/// simply kept across attempts, so nothing is read twice. A `.part` left by an earlier process is
/// read back and hashed once when it is opened: sha2 cannot save a hasher's state, and storing a
/// state beside the file would be one more thing that can disagree with the file's bytes.
pub(super) struct Partial<'t> {
    pub(super) path: PathBuf,
    pub(super) out: BufWriter<File>,
    pub(super) algo: Algo,
    pub(super) hasher: Hasher,
    /// Bytes hashed; the file holds exactly these once `out` is flushed.
    pub(super) len: u64,
    /// Bytes appended since writeback was last started.
    pub(super) unsynced: u64,
    pub(super) tap: Option<&'t mut dyn Write>,
    /// The known size of the file, past which no byte is written.
    pub(super) limit: Option<u64>,
    /// The transfer went past `limit`: what is on disk is wrong and must not be resumed.
    pub(super) oversize: bool,
}

impl<'t> Partial<'t> {
    pub(super) fn open(
        path: &Path,
        algo: Algo,
        tap: Option<&'t mut dyn Write>,
        resume: bool,
    ) -> Result<Partial<'t>> {
        // O_NOFOLLOW: a symlink planted at the .part name would make nbgen write (or hash and
        // serve) whatever it points to.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!resume)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::io(
                    path,
                    io::Error::other(
                        "is a symlink, which nbgen never follows in its cache; remove it and fetch again",
                    ),
                ),
                _ => Error::io(path, e),
            })?;
        let (mut hasher, mut len, mut tap) = (Hasher::new(algo), 0u64, tap);
        let mut buf = vec![0u8; BLOCK];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(path, e)),
            };
            hasher.update(&buf[..n]);
            feed(&mut tap, &buf[..n]);
            len += n as u64;
        }
        // The read left the position at the end, where the next bytes belong.
        Ok(Partial {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            algo,
            hasher,
            len,
            unsynced: 0,
            tap,
            limit: None,
            oversize: false,
        })
    }

    /// Appends `bytes` unless that takes the file past its known size; then nothing is written,
    /// the partial file is marked for deletion, and the error says why.
    pub(super) fn append_limited(&mut self, bytes: &[u8], source: &str) -> Result<()> {
        if let Some(limit) = self.limit {
            if self.len + bytes.len() as u64 > limit {
                self.oversize = true;
                return Err(Error::input(
                    source,
                    format!(
                        "the body exceeds the file's known size of {limit} bytes; stopped reading, and the partial download was deleted"
                    ),
                ));
            }
        }
        self.append(bytes)
    }

    pub(super) fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).at(&self.path)?;
        self.hasher.update(bytes);
        feed(&mut self.tap, bytes);
        self.len += bytes.len() as u64;
        self.unsynced += bytes.len() as u64;
        if self.unsynced >= WRITEBACK {
            self.flush()?;
            start_writeback(self.out.get_ref());
            self.unsynced = 0;
        }
        Ok(())
    }

    /// Empties the file to receive the whole body again.
    pub(super) fn restart(&mut self) -> Result<()> {
        self.out.flush().at(&self.path)?;
        let file = self.out.get_mut();
        file.set_len(0).at(&self.path)?;
        file.seek(SeekFrom::Start(0)).at(&self.path)?;
        self.hasher = Hasher::new(self.algo);
        // The tap cannot take back what it saw.
        if self.len > 0 {
            self.tap = None;
        }
        self.len = 0;
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<()> {
        self.out.flush().at(&self.path)
    }

    /// Verifies the digest and moves the file into the cache, or deletes it.
    pub(super) fn finish(
        self,
        source: &str,
        expected: &Expected,
        final_path: &Path,
    ) -> Result<Fetched> {
        self.finish_with(|actual| {
            if actual == expected.hex {
                Ok(final_path.to_path_buf())
            } else {
                Err(Error::input(
                    source,
                    format!(
                        "{} mismatch: expected {}, got {actual}; the download was deleted and nothing entered the cache",
                        expected.algo.label(),
                        expected.hex
                    ),
                ))
            }
        })
    }

    /// Completes the file: `place` sees the digest of what arrived and says where it belongs in
    /// the cache, or refuses it, in which case the partial file is deleted.
    pub(super) fn finish_with(
        mut self,
        place: impl FnOnce(&str) -> Result<PathBuf>,
    ) -> Result<Fetched> {
        self.flush()?;
        let tapped = match self.tap.take() {
            Some(tap) => tap.flush().is_ok(),
            None => false,
        };
        let actual = std::mem::replace(&mut self.hasher, Hasher::new(self.algo)).hex();
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        let final_path = match place(&actual) {
            Ok(p) => p,
            Err(e) => {
                drop(file);
                fs::remove_file(&self.path).at(&self.path)?;
                return Err(e);
            }
        };
        let final_path = final_path.as_path();
        // Read-only: a cache entry is trusted for its name, so nothing should edit it in place.
        file.set_permissions(fs::Permissions::from_mode(0o444))
            .at(&self.path)?;
        file.sync_all().at(&self.path)?;
        drop(file);
        fs::rename(&self.path, final_path).at(final_path)?;
        // Make the rename itself durable, so a crash cannot leave a name without its bytes.
        if let Some(dir) = final_path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).at(dir)?;
        }
        Ok(Fetched {
            path: final_path.to_path_buf(),
            cached: false,
            tapped,
        })
    }
}

/// Asks the kernel to start writing `file`'s dirty pages to disk, without waiting for it. Only an
/// optimisation: the fsync before the rename is what reports a failed write.
pub(super) fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open (borrowed from a live File) and no memory is passed;
    // SYNC_FILE_RANGE_WRITE only queues writeback of the whole file (offset 0, length 0 = to end).
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Writes `bytes` to the tap, if there still is one.
pub(super) fn feed(tap: &mut Option<&mut dyn Write>, bytes: &[u8]) {
    // A consumer that stopped reading does not stop the download: the file still goes into the
    // cache, and `tapped` tells the caller to read it from there.
    if let Some(t) = tap {
        if t.write_all(bytes).is_err() {
            *tap = None;
        }
    }
}

/// An exclusive lock on one cache entry's download, so two nbgen processes never write the same
/// `.part`. The lock file is removed on release; a waiter that then finds it locked a removed file
/// opens and locks the new one instead.
pub(super) struct Lock {
    pub(super) path: PathBuf,
    pub(super) _file: File,
}

impl Lock {
    pub(super) fn acquire(path: &Path) -> Result<Lock> {
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .at(path)?;
            rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
                .map_err(|e| Error::io(path, e.into()))?;
            let held = file.metadata().at(path)?;
            match fs::metadata(path) {
                Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                    return Ok(Lock {
                        path: path.to_path_buf(),
                        _file: file,
                    })
                }
                _ => continue,
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held (the file closes after this), so no one locks a stale name.
        let _ = fs::remove_file(&self.path);
    }
}
