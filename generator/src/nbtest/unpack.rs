//! Unpacks a tar archive (plain, gzip, bzip2 or xz, told apart by their magic bytes) into a
//! directory, streaming, and refuses every entry that could write, or later lead, outside it.
//!
//! Stage tarballs need their modes and symlinks, so those are kept. What is refused, with the
//! archive and the entry named: absolute paths, `..` components, device nodes and fifos (a
//! container gets its /dev from the runtime), hard links to anything but a file already unpacked,
//! and symlinks whose target climbs above the target directory. An absolute symlink target is
//! allowed, because inside the container it means a path below the root; stage tarballs are full of
//! them (OpenRC runlevels, eselect links).
//!
//! Nothing is written through a symlink: every entry's parent directory is resolved on disk
//! component by component, as the kernel would, and refused if it passes a symlink that leads
//! outside (an absolute one included, since the host would follow it to the host's root). Files
//! replace whatever non-directory was at their name instead of writing into it.
//!
//! On error the target holds what was unpacked so far: callers unpack into a fresh directory and
//! remove it when this fails.

use std::collections::{HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use tar::{Archive, EntryType};

use crate::base::error::{Error, IoContext, Result};

mod paths;
mod unpacker;

use paths::*;
use unpacker::*;

/// Read and copy size: large blocks keep a multi-hundred-megabyte stage from costing millions of
/// system calls.
const BLOCK: usize = 256 * 1024;

/// The longest file name Linux filesystems take, in bytes.
const NAME_MAX: usize = 255;

/// More symlinks than this while resolving one path is a loop (Linux gives up at 40 too).
const MAX_HOPS: u32 = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
}

/// Tells the compression from the first bytes of a file; anything unrecognised is read as plain
/// tar, whose own header check then decides.
pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else {
        Compression::None
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Give entries the numeric owner and group the archive records. Only root can; the default
    /// is whether this process runs as root. Without it, setuid and setgid bits are dropped, since
    /// they would then apply to the wrong user.
    pub owners: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { owners: is_root() }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// What an unpack did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub compression: Compression,
    /// Entries unpacked (the archive's own `./` not counted).
    pub entries: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Unpacks `archive` into `dir`/<first 16 hex digits of `sha512`> unless a complete copy is there,
/// and returns that directory. The archive is unpacked beside it and renamed into place with a
/// marker holding the digest, so a half-unpacked tree (a killed run) is never used: the next call
/// unpacks again. The one place for "unpack once per digest" (stage roots, portage snapshots).
pub fn once_per_digest(archive: &Path, sha512: &str, dir: &Path) -> Result<PathBuf> {
    into_digest_dir(sha512, dir, |staging| {
        fs::create_dir_all(staging).at(staging)?;
        unpack(archive, staging, &Options::default()).map(|_| ())
    })
}

/// `dir`/<first 16 hex digits of `sha512`>, made by `fill` (given a staging directory beside it
/// that does not exist yet) unless a complete copy is there; see [`once_per_digest`]. A failed
/// `fill` leaves no staging directory and no copy.
pub fn into_digest_dir(
    sha512: &str,
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let short = &sha512[..16.min(sha512.len())];
    let target = dir.join(short);
    if target.join(COMPLETE).exists() {
        // A use: the cache's pruning evicts the roots used least recently.
        let _ = crate::nbtest::cache::touch(&target);
        return Ok(target);
    }
    fs::create_dir_all(dir).at(dir)?;
    let staging = dir.join(format!(".{short}.partial"));
    let _ = fs::remove_dir_all(&staging);
    if let Err(e) = fill(&staging) {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    fs::write(staging.join(COMPLETE), sha512).at(&staging)?;
    let _ = fs::remove_dir_all(&target);
    fs::rename(&staging, &target).at(&target)?;
    Ok(target)
}

/// The marker of a complete unpacked copy, holding the archive's SHA512.
const COMPLETE: &str = ".nbgen-complete";

/// The tar stream of an archive read from `reader` (plain, gzip, bzip2 or xz, told apart by their
/// magic bytes), and which compression it had; `name` names the archive in errors.
pub fn decoded<'r>(
    name: &str,
    reader: impl Read + 'r,
) -> Result<(Compression, Box<dyn Read + 'r>)> {
    let mut reader = BufReader::with_capacity(BLOCK, reader);
    let corrupt = |e: io::Error| Error::input(name, format!("cannot read the archive: {e}"));
    // A pipe may hand over fewer bytes per read than the longest magic; gather them first.
    let mut head = [0u8; 6];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(corrupt(e)),
        }
    }
    let compression = detect(&head[..got]);
    if head[..got].starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(Error::input(
            name,
            "zstd-compressed archives are not supported (use .tar, .tar.gz, .tar.bz2 or .tar.xz)",
        ));
    }
    let stream = io::Cursor::new(head[..got].to_vec()).chain(reader);
    // The multi-stream decoders: parallel compressors (pigz, pbzip2, xz -T) concatenate streams.
    let decoded: Box<dyn Read + 'r> = match compression {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(stream)),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(stream)),
    };
    Ok((compression, decoded))
}

/// Unpacks the archive file at `archive` into `target` (created if missing).
pub fn unpack(archive: &Path, target: &Path, opts: &Options) -> Result<Summary> {
    // The archive is the caller's input: a missing one is bad input, not an nbgen failure.
    let file = File::open(archive).map_err(|e| Error::io(archive, e).into_input())?;
    unpack_from(&archive.display().to_string(), file, target, opts)
}

/// Unpacks an archive read from `reader` (a file, a pipe, a download in progress) into `target`;
/// `name` names the archive in errors. Reads the stream to its end, so a compressed stream's
/// trailing checksum is checked and a writer feeding a pipe is never left blocked.
pub fn unpack_from(
    name: &str,
    reader: impl Read,
    target: &Path,
    opts: &Options,
) -> Result<Summary> {
    let corrupt = |e: io::Error| Error::input(name, format!("cannot read the archive: {e}"));
    let (compression, decoded) = decoded(name, reader)?;
    fs::create_dir_all(target).at(target)?;
    let mut unpacker = Unpacker {
        name,
        root: target,
        opts,
        known_dirs: HashSet::new(),
        dirs: Vec::new(),
        symlinks: Vec::new(),
        buf: vec![0u8; BLOCK],
        summary: Summary {
            compression,
            entries: 0,
            bytes: 0,
        },
    };
    let mut archive = Archive::new(EofWatch {
        inner: decoded,
        eof: false,
        read: 0,
    });
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let shown = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        unpacker
            .entry(&mut entry)
            .map_err(|e| name_the_entry(e, name, &shown))?;
    }
    let mut rest = archive.into_inner();
    // tar stops at the end-of-archive block of zeros, or quietly at the end of the stream: only
    // the first is a whole archive. An empty file or a tar cut at a header boundary is the second.
    if rest.eof {
        let why = if rest.read == 0 {
            "an empty file or stream, not an archive".to_string()
        } else {
            format!(
                "truncated archive: it ends after {} entries and {} bytes without the end-of-archive marker",
                unpacker.summary.entries, rest.read
            )
        };
        return Err(Error::input(name, why));
    }
    io::copy(&mut rest, &mut io::sink()).map_err(corrupt)?;
    unpacker.finish()
}

/// The decoded tar stream, noting whether tar reached its end (a read that returned nothing).
struct EofWatch<R> {
    inner: R,
    eof: bool,
    read: u64,
}

impl<R: Read> Read for EofWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.read += n as u64;
        Ok(n)
    }
}

/// Names the archive and the entry in an error from writing the entry to disk: the path alone
/// (a long name below the target) does not say which archive asked for it. A name the filesystem
/// cannot hold is the archive's fault, so bad input.
fn name_the_entry(e: Error, archive: &str, entry: &str) -> Error {
    match e {
        Error::Io { path, source } => {
            let location = format!("{archive}: entry {entry:?}");
            if source.raw_os_error() == Some(libc::ENAMETOOLONG) {
                Error::input(
                    location,
                    format!("refused: a name too long for this filesystem ({source})"),
                )
            } else {
                Error::io(
                    Path::new(&format!("{location}: {}", path.display())),
                    source,
                )
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
