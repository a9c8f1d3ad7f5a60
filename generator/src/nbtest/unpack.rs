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
    let short = &sha512[..16.min(sha512.len())];
    let target = dir.join(short);
    if target.join(COMPLETE).exists() {
        return Ok(target);
    }
    let staging = dir.join(format!(".{short}.partial"));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).at(&staging)?;
    unpack(archive, &staging, &Options::default())?;
    fs::write(staging.join(COMPLETE), sha512).at(&staging)?;
    let _ = fs::remove_dir_all(&target);
    fs::rename(&staging, &target).at(&target)?;
    Ok(target)
}

/// The marker of a complete unpacked copy, holding the archive's SHA512.
const COMPLETE: &str = ".nbgen-complete";

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
    let decoded: Box<dyn Read> = match compression {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(stream)),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(stream)),
    };
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

/// One step of a path being resolved.
enum Step {
    Root,
    Up,
    Name(OsString),
}

fn steps(path: &Path) -> impl Iterator<Item = Step> + '_ {
    path.components().filter_map(|c| match c {
        Component::RootDir | Component::Prefix(_) => Some(Step::Root),
        Component::ParentDir => Some(Step::Up),
        Component::CurDir => None,
        Component::Normal(n) => Some(Step::Name(n.to_os_string())),
    })
}

/// What the resolver does on meeting a symlink with an absolute target.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Absolute {
    /// The host would follow it out of the target: for paths nbgen writes through.
    Refuse,
    /// Read it as the container will, from the target's root: for checking symlink targets.
    Rooted,
}

/// A directory whose metadata is set once everything inside it is written: a read-only directory
/// must not stop its own entries from being unpacked.
struct DirMeta {
    path: PathBuf,
    meta: Meta,
}

/// Mode, owner and time of an entry, as the archive records them.
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
}

struct Unpacker<'a> {
    name: &'a str,
    root: &'a Path,
    opts: &'a Options,
    /// Relative paths known to be real directories all the way down, with no symlink on the way.
    /// Directories are never replaced (an entry that would is refused), so this stays true and
    /// spares a walk of the disk for every entry of a large stage.
    known_dirs: HashSet<PathBuf>,
    dirs: Vec<DirMeta>,
    /// Each symlink made: its physical parent, its target, its entry name. Checked again at the
    /// end, because a later entry can change what a target passes through.
    symlinks: Vec<(Vec<OsString>, PathBuf, String)>,
    buf: Vec<u8>,
    summary: Summary,
}

impl Unpacker<'_> {
    fn refuse(&self, entry: &str, why: &str) -> Error {
        Error::input(
            format!("{}: entry {entry:?}", self.name),
            format!("refused: {why}"),
        )
    }

    fn corrupt(&self, entry: &str, e: io::Error) -> Error {
        Error::input(
            format!("{}: entry {entry:?}", self.name),
            format!("cannot read the archive: {e}"),
        )
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let rel = archive_path(&raw).map_err(|why| self.refuse(&shown, why))?;
        if let Some(long) = rel.iter().find(|c| c.len() > NAME_MAX) {
            return Err(self.refuse(
                &shown,
                &format!(
                    "a name of {} bytes in its path; Linux filesystems hold at most {NAME_MAX}",
                    long.len()
                ),
            ));
        }
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Char | EntryType::Block => {
                return Err(self.refuse(
                    &shown,
                    "a device node (a container gets /dev from its runtime, not from the archive)",
                ))
            }
            EntryType::Fifo => return Err(self.refuse(&shown, "a fifo")),
            // A pax global header describes the archive, not a file.
            EntryType::XGlobalHeader => return Ok(()),
            EntryType::Regular
            | EntryType::Continuous
            | EntryType::GNUSparse
            | EntryType::Directory
            | EntryType::Symlink
            | EntryType::Link => {}
            other => {
                return Err(self.refuse(&shown, &format!("an entry of unsupported type {other:?}")))
            }
        }
        let header = entry.header();
        let meta = Meta {
            mode: header.mode().map_err(|e| self.corrupt(&shown, e))? & 0o7777,
            uid: header.uid().map_err(|e| self.corrupt(&shown, e))?,
            gid: header.gid().map_err(|e| self.corrupt(&shown, e))?,
            mtime: header.mtime().map_err(|e| self.corrupt(&shown, e))?,
        };
        // `./` is the target itself, whose mode and owner are the caller's business.
        let Some(file_name) = rel.file_name().map(OsStr::to_os_string) else {
            return Ok(());
        };
        let (parent, parent_plain) = self.parent_dir(&rel, &shown)?;
        let dest = self.root.join(join(&parent)).join(&file_name);
        match kind {
            EntryType::Directory => {
                self.directory(&dest)?;
                if parent_plain {
                    self.known_dirs.insert(rel.clone());
                }
                self.dirs.push(DirMeta { path: dest, meta });
            }
            EntryType::Symlink => {
                let link = self.link_name(entry, &shown)?;
                self.resolve(&parent, &link, Absolute::Rooted)
                    .map_err(|why| {
                        self.refuse(&shown, &format!("symlink to {}: {why}", link.display()))
                    })?;
                self.clear(&dest, &shown)?;
                std::os::unix::fs::symlink(&link, &dest).at(&dest)?;
                if self.opts.owners {
                    std::os::unix::fs::lchown(&dest, Some(meta.uid as u32), Some(meta.gid as u32))
                        .at(&dest)?;
                }
                self.symlinks.push((parent, link, shown));
            }
            EntryType::Link => {
                let link = self.link_name(entry, &shown)?;
                let source = self.hard_link_source(&link).map_err(|why| {
                    self.refuse(&shown, &format!("hard link to {}: {why}", link.display()))
                })?;
                self.clear(&dest, &shown)?;
                fs::hard_link(&source, &dest).at(&dest)?;
            }
            _ => self.file(entry, &dest, &shown, &meta)?,
        }
        self.summary.entries += 1;
        Ok(())
    }

    fn link_name<R: Read>(&self, entry: &tar::Entry<R>, shown: &str) -> Result<PathBuf> {
        match entry.link_name_bytes() {
            Some(bytes) if !bytes.is_empty() => Ok(PathBuf::from(OsStr::from_bytes(&bytes))),
            _ => Err(self.refuse(shown, "a link without a target")),
        }
    }

    /// The physical directory an entry goes into, created if missing, and whether its textual
    /// path is already that (no symlink on the way).
    fn parent_dir(&mut self, rel: &Path, shown: &str) -> Result<(Vec<OsString>, bool)> {
        let parent = rel.parent().unwrap_or(Path::new(""));
        if parent.as_os_str().is_empty() || self.known_dirs.contains(parent) {
            let plain = parent.iter().map(OsStr::to_os_string).collect();
            return Ok((plain, true));
        }
        let (physical, crossed) = self
            .resolve(&[], parent, Absolute::Refuse)
            .map_err(|why| self.refuse(shown, &format!("its directory {why}")))?;
        // Every step is now a real directory or missing; make the missing ones.
        let mut path = self.root.to_path_buf();
        for name in &physical {
            path.push(name);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(self.refuse(
                        shown,
                        &format!("{} is in its path and not a directory", path.display()),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::DirBuilder::new().mode(0o755).create(&path).at(&path)?;
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        if !crossed {
            self.known_dirs.insert(parent.to_path_buf());
        }
        Ok((physical, !crossed))
    }

    /// Resolves `path` from the physical directory `start` the way the kernel would, following
    /// the symlinks on disk, but without ever leaving the target: returns the physical,
    /// symlink-free components and whether a symlink was crossed, or why the path leaves.
    fn resolve(
        &self,
        start: &[OsString],
        path: &Path,
        absolute: Absolute,
    ) -> std::result::Result<(Vec<OsString>, bool), String> {
        let mut stack: Vec<OsString> = start.to_vec();
        let mut pending: VecDeque<Step> = steps(path).collect();
        let mut hops = 0;
        let mut crossed = false;
        while let Some(step) = pending.pop_front() {
            match step {
                Step::Root => match absolute {
                    Absolute::Rooted => stack.clear(),
                    Absolute::Refuse => {
                        return Err(format!("is absolute ({})", path.display()));
                    }
                },
                Step::Up => {
                    if stack.pop().is_none() {
                        return Err("climbs above the target directory".into());
                    }
                }
                Step::Name(name) => {
                    stack.push(name);
                    let here = self.root.join(join(&stack));
                    // Missing names and names under a file are simply not symlinks (yet); the
                    // final check of symlinks covers names that later become one.
                    let is_link = fs::symlink_metadata(&here)
                        .map(|m| m.file_type().is_symlink())
                        .unwrap_or(false);
                    if !is_link {
                        continue;
                    }
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(format!("passes more than {MAX_HOPS} symlinks (a loop?)"));
                    }
                    let target = fs::read_link(&here).map_err(|e| format!("{e}"))?;
                    let shown = join(&stack).display().to_string();
                    if target.is_absolute() && absolute == Absolute::Refuse {
                        return Err(format!(
                            "passes {shown}, a symlink to the absolute path {}, which the host would follow outside the target",
                            target.display()
                        ));
                    }
                    stack.pop();
                    crossed = true;
                    for s in steps(&target).collect::<Vec<_>>().into_iter().rev() {
                        pending.push_front(s);
                    }
                }
            }
        }
        Ok((stack, crossed))
    }

    /// Where the file a hard link names is, on disk.
    fn hard_link_source(&self, link: &Path) -> std::result::Result<PathBuf, String> {
        // A hard link names another entry of the archive: the same rules as an entry's path.
        let rel = archive_path(link.as_os_str().as_bytes()).map_err(str::to_string)?;
        let (physical, _) = self.resolve(&[], &rel, Absolute::Refuse)?;
        let source = self.root.join(join(&physical));
        match fs::symlink_metadata(&source) {
            Ok(m) if m.is_file() => Ok(source),
            Ok(_) => Err("not a regular file".into()),
            Err(_) => Err("no such file has been unpacked".into()),
        }
    }

    /// Makes room for a new non-directory at `dest`: an old file or symlink there is removed, so
    /// it is replaced and never written through.
    fn clear(&self, dest: &Path, shown: &str) -> Result<()> {
        match fs::symlink_metadata(dest) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(dest, e)),
            Ok(m) if m.is_dir() => {
                Err(self.refuse(shown, "a directory of that name is already there"))
            }
            Ok(_) => fs::remove_file(dest).at(dest),
        }
    }

    fn directory(&self, dest: &Path) -> Result<()> {
        match fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() => return Ok(()),
            // A file or symlink where the archive has a directory gives way, as with GNU tar.
            Ok(_) => fs::remove_file(dest).at(dest)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(dest, e)),
        }
        fs::DirBuilder::new().mode(0o755).create(dest).at(dest)
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        dest: &Path,
        shown: &str,
        meta: &Meta,
    ) -> Result<()> {
        self.clear(dest, shown)?;
        // create_new (O_EXCL) never follows a symlink that might appear at the name; 0600 until
        // the content is in and the archive's mode is set.
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .at(dest)?;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.corrupt(shown, e)),
            };
            out.write_all(&self.buf[..n]).at(dest)?;
            self.summary.bytes += n as u64;
        }
        // Owner first: chown clears setuid and setgid, which the mode then sets.
        let mode = if self.opts.owners {
            std::os::unix::fs::fchown(&out, Some(meta.uid as u32), Some(meta.gid as u32))
                .at(dest)?;
            meta.mode
        } else {
            meta.mode & !0o6000
        };
        out.set_modified(mtime(meta.mtime)).at(dest)?;
        out.set_permissions(fs::Permissions::from_mode(mode))
            .at(dest)
    }

    fn finish(mut self) -> Result<Summary> {
        for (parent, link, shown) in &self.symlinks {
            self.resolve(parent, link, Absolute::Rooted)
                .map_err(|why| {
                    self.refuse(
                        shown,
                        &format!(
                            "symlink to {}: {why}, through entries unpacked after it",
                            link.display()
                        ),
                    )
                })?;
        }
        // Deepest first: a parent made read-only must not hide its children.
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.path.components().count()));
        for d in &dirs {
            // A directory is never replaced once made, but check rather than chmod through a link.
            match fs::symlink_metadata(&d.path) {
                Ok(m) if m.is_dir() => {}
                _ => continue,
            }
            let mode = if self.opts.owners {
                std::os::unix::fs::lchown(
                    &d.path,
                    Some(d.meta.uid as u32),
                    Some(d.meta.gid as u32),
                )
                .at(&d.path)?;
                d.meta.mode
            } else {
                d.meta.mode & !0o6000
            };
            File::open(&d.path)
                .and_then(|f| f.set_modified(mtime(d.meta.mtime)))
                .at(&d.path)?;
            fs::set_permissions(&d.path, fs::Permissions::from_mode(mode)).at(&d.path)?;
        }
        Ok(self.summary)
    }
}

/// An entry's path as a relative path of plain names, or why it is refused.
fn archive_path(raw: &[u8]) -> std::result::Result<PathBuf, &'static str> {
    let mut rel = PathBuf::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => rel.push(n),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path"),
            Component::ParentDir => return Err("a `..` component in its path"),
        }
    }
    Ok(rel)
}

fn join(names: &[OsString]) -> PathBuf {
    names.iter().collect()
}

fn mtime(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

#[cfg(test)]
mod tests;
