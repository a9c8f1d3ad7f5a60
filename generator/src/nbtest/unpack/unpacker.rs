//! Writing the entries of one archive under the target: files, directories, links, with their
//! modes and times, each refused when it could write or lead outside the target.

use super::*;

/// A directory whose metadata is set once everything inside it is written: a read-only directory
/// must not stop its own entries from being unpacked.
pub(super) struct DirMeta {
    pub(super) path: PathBuf,
    pub(super) meta: Meta,
}

/// Mode, owner and time of an entry, as the archive records them.
pub(super) struct Meta {
    pub(super) mode: u32,
    pub(super) uid: u64,
    pub(super) gid: u64,
    pub(super) mtime: u64,
}

pub(super) struct Unpacker<'a> {
    pub(super) name: &'a str,
    pub(super) root: &'a Path,
    pub(super) opts: &'a Options,
    /// Relative paths known to be real directories all the way down, with no symlink on the way.
    /// Directories are never replaced (an entry that would is refused), so this stays true and
    /// spares a walk of the disk for every entry of a large stage.
    pub(super) known_dirs: HashSet<PathBuf>,
    pub(super) dirs: Vec<DirMeta>,
    /// Each symlink made: its physical parent, its target, its entry name. Checked again at the
    /// end, because a later entry can change what a target passes through.
    pub(super) symlinks: Vec<(Vec<OsString>, PathBuf, String)>,
    pub(super) buf: Vec<u8>,
    pub(super) summary: Summary,
}

impl Unpacker<'_> {
    pub(super) fn refuse(&self, entry: &str, why: &str) -> Error {
        Error::input(
            format!("{}: entry {entry:?}", self.name),
            format!("refused: {why}"),
        )
    }

    pub(super) fn corrupt(&self, entry: &str, e: io::Error) -> Error {
        Error::input(
            format!("{}: entry {entry:?}", self.name),
            format!("cannot read the archive: {e}"),
        )
    }

    pub(super) fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
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
        if !self.admissible(kind, &shown)? {
            return Ok(());
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
            EntryType::Symlink => self.symlink(entry, parent, &dest, shown, &meta)?,
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

    /// Whether an entry of `kind` is unpacked (false: it describes the archive, not a file); a
    /// device node, a fifo or an unknown type is refused.
    fn admissible(&self, kind: EntryType, shown: &str) -> Result<bool> {
        match kind {
            EntryType::Char | EntryType::Block => Err(self.refuse(
                shown,
                "a device node (a container gets /dev from its runtime, not from the archive)",
            )),
            EntryType::Fifo => Err(self.refuse(shown, "a fifo")),
            // A pax global header describes the archive, not a file.
            EntryType::XGlobalHeader => Ok(false),
            EntryType::Regular
            | EntryType::Continuous
            | EntryType::GNUSparse
            | EntryType::Directory
            | EntryType::Symlink
            | EntryType::Link => Ok(true),
            other => Err(self.refuse(shown, &format!("an entry of unsupported type {other:?}"))),
        }
    }

    /// A symlink whose target resolves inside the root (checked again at the end, when later
    /// entries may have changed what it passes through).
    fn symlink<R: Read>(
        &mut self,
        entry: &tar::Entry<R>,
        parent: Vec<OsString>,
        dest: &Path,
        shown: String,
        meta: &Meta,
    ) -> Result<()> {
        let link = self.link_name(entry, &shown)?;
        self.resolve(&parent, &link, Absolute::Rooted)
            .map_err(|why| self.refuse(&shown, &format!("symlink to {}: {why}", link.display())))?;
        self.clear(dest, &shown)?;
        std::os::unix::fs::symlink(&link, dest).at(dest)?;
        if self.opts.owners {
            std::os::unix::fs::lchown(dest, Some(meta.uid as u32), Some(meta.gid as u32))
                .at(dest)?;
        }
        self.symlinks.push((parent, link, shown));
        Ok(())
    }

    pub(super) fn link_name<R: Read>(&self, entry: &tar::Entry<R>, shown: &str) -> Result<PathBuf> {
        match entry.link_name_bytes() {
            Some(bytes) if !bytes.is_empty() => Ok(PathBuf::from(OsStr::from_bytes(&bytes))),
            _ => Err(self.refuse(shown, "a link without a target")),
        }
    }

    /// The physical directory an entry goes into, created if missing, and whether its textual
    /// path is already that (no symlink on the way).
    pub(super) fn parent_dir(&mut self, rel: &Path, shown: &str) -> Result<(Vec<OsString>, bool)> {
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
    pub(super) fn resolve(
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
    pub(super) fn hard_link_source(&self, link: &Path) -> std::result::Result<PathBuf, String> {
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
    pub(super) fn clear(&self, dest: &Path, shown: &str) -> Result<()> {
        match fs::symlink_metadata(dest) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(dest, e)),
            Ok(m) if m.is_dir() => {
                Err(self.refuse(shown, "a directory of that name is already there"))
            }
            Ok(_) => fs::remove_file(dest).at(dest),
        }
    }

    pub(super) fn directory(&self, dest: &Path) -> Result<()> {
        match fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() => return Ok(()),
            // A file or symlink where the archive has a directory gives way, as with GNU tar.
            Ok(_) => fs::remove_file(dest).at(dest)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(dest, e)),
        }
        fs::DirBuilder::new().mode(0o755).create(dest).at(dest)
    }

    pub(super) fn file<R: Read>(
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

    pub(super) fn finish(mut self) -> Result<Summary> {
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

pub(super) fn mtime(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}
