//! unpack: hostile archives are refused with nothing written outside the target, and a good stage
//! in every compression comes out with its modes, symlinks and hard links.
//!
//! Every scene is a temporary directory holding `target/` and a sibling `sentinel/` with one file;
//! after each refusal the sentinel must be exactly as it was and nothing else may have appeared.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nbgen::nbtest::unpack::{self, Compression, Options};
use tar::{Builder, EntryType, Header};

struct Scene {
    dir: tempfile::TempDir,
    target: PathBuf,
    sentinel: PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    let sentinel = dir.path().join("sentinel");
    fs::create_dir(&sentinel).unwrap();
    fs::write(sentinel.join("secret"), "keep").unwrap();
    Scene {
        dir,
        target,
        sentinel,
    }
}

impl Scene {
    fn assert_nothing_outside(&self) {
        let mut top: Vec<_> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        top.sort();
        assert!(
            top == ["sentinel"] || top == ["sentinel", "target"],
            "{top:?}"
        );
        let inside: Vec<_> = fs::read_dir(&self.sentinel)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(inside, ["secret"]);
        let secret = self.sentinel.join("secret");
        assert_eq!(fs::read_to_string(&secret).unwrap(), "keep");
        // No hard link to it appeared anywhere either.
        assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);
    }

    fn unpack(&self, archive: Vec<u8>) -> nbgen::base::error::Result<unpack::Summary> {
        unpack::unpack_from(
            "hostile.tar",
            &archive[..],
            &self.target,
            &Options::default(),
        )
    }
}

/// A header with `path` written into the raw name field: the Builder's safe API refuses `..` and
/// absolute paths, which is exactly what these archives need.
fn raw(path: &[u8], kind: EntryType, size: u64, link: Option<&[u8]>) -> Header {
    let mut h = Header::new_gnu();
    h.as_old_mut().name[..path.len()].copy_from_slice(path);
    if let Some(link) = link {
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    h
}

fn archive(entries: &[(Header, &[u8])]) -> Vec<u8> {
    let mut b = Builder::new(Vec::new());
    for (h, data) in entries {
        b.append(h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn assert_refused(err: nbgen::base::error::Error, entry: &str) {
    let text = err.to_string();
    assert!(text.contains("hostile.tar"), "names the archive: {text}");
    assert!(
        text.contains(&format!("{entry:?}")),
        "names {entry}: {text}"
    );
    assert!(text.contains("refused"), "{text}");
    assert_eq!(err.exit_code(), nbgen::base::error::EXIT_BAD_INPUT);
}

#[test]
fn dotdot_path_is_refused() {
    let s = scene();
    let tar = archive(&[(
        raw(b"../sentinel/pwned", EntryType::Regular, 4, None),
        b"evil",
    )]);
    let err = s.unpack(tar).unwrap_err();
    assert_refused(err, "../sentinel/pwned");
    s.assert_nothing_outside();
}

#[test]
fn absolute_path_is_refused() {
    let s = scene();
    let path = format!("{}/pwned", s.sentinel.display());
    let tar = archive(&[(raw(path.as_bytes(), EntryType::Regular, 4, None), b"evil")]);
    let err = s.unpack(tar).unwrap_err();
    assert!(err.to_string().contains("absolute"), "{err}");
    assert_refused(err, &path);
    s.assert_nothing_outside();
}

#[test]
fn escaping_symlink_then_file_through_it_is_refused() {
    let s = scene();
    let tar = archive(&[
        (
            raw(b"evil", EntryType::Symlink, 0, Some(b"../sentinel")),
            b"",
        ),
        (raw(b"evil/pwned", EntryType::Regular, 4, None), b"evil"),
    ]);
    let err = s.unpack(tar).unwrap_err();
    assert!(err.to_string().contains("climbs above"), "{err}");
    assert_refused(err, "evil");
    s.assert_nothing_outside();
}

// An absolute symlink is allowed (stages need them, and in the container it points inside), but a
// file written through it would land on the host: that entry is refused.
#[test]
fn file_through_an_absolute_symlink_is_refused() {
    let s = scene();
    let link = s.sentinel.display().to_string();
    let tar = archive(&[
        (
            raw(b"abs", EntryType::Symlink, 0, Some(link.as_bytes())),
            b"",
        ),
        (raw(b"abs/pwned", EntryType::Regular, 4, None), b"evil"),
    ]);
    let err = s.unpack(tar).unwrap_err();
    assert!(err.to_string().contains("absolute path"), "{err}");
    assert_refused(err, "abs/pwned");
    s.assert_nothing_outside();
}

// A symlink already in the target (planted by an earlier unpack, say) is resolved on disk.
#[test]
fn file_through_a_symlink_already_on_disk_is_refused() {
    let s = scene();
    fs::create_dir(&s.target).unwrap();
    std::os::unix::fs::symlink("../sentinel", s.target.join("planted")).unwrap();
    let tar = archive(&[(raw(b"planted/pwned", EntryType::Regular, 4, None), b"evil")]);
    let err = s.unpack(tar).unwrap_err();
    assert_refused(err, "planted/pwned");
    s.assert_nothing_outside();
}

// Each symlink is fine where it is made, but a later one changes what the first passes through:
// d/l -> x/../.. stays inside until d/x -> .. makes it climb out. The final check catches it.
#[test]
fn symlink_made_escaping_by_a_later_entry_is_refused() {
    let s = scene();
    let tar = archive(&[
        (raw(b"d/", EntryType::Directory, 0, None), b""),
        (raw(b"d/l", EntryType::Symlink, 0, Some(b"x/../..")), b""),
        (raw(b"d/x", EntryType::Symlink, 0, Some(b"..")), b""),
    ]);
    let err = s.unpack(tar).unwrap_err();
    assert!(err.to_string().contains("unpacked after it"), "{err}");
    assert_refused(err, "d/l");
    s.assert_nothing_outside();
}

#[test]
fn hard_link_outside_is_refused() {
    for absolute in [false, true] {
        let s = scene();
        let link = if absolute {
            format!("{}/secret", s.sentinel.display())
        } else {
            "../sentinel/secret".to_string()
        };
        let tar = archive(&[(raw(b"hl", EntryType::Link, 0, Some(link.as_bytes())), b"")]);
        let err = s.unpack(tar).unwrap_err();
        assert_refused(err, "hl");
        s.assert_nothing_outside();
    }
}

#[test]
fn device_node_and_fifo_are_refused() {
    for (name, kind) in [
        ("dev/null", EntryType::Char),
        ("dev/sda", EntryType::Block),
        ("run/fifo", EntryType::Fifo),
    ] {
        let s = scene();
        let mut h = raw(name.as_bytes(), kind, 0, None);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        h.set_cksum();
        let err = s.unpack(archive(&[(h, b"")])).unwrap_err();
        assert_refused(err, name);
        s.assert_nothing_outside();
        assert!(!s.target.join(name).exists());
    }
}

// A relative symlink that stays inside may be a directory the archive writes through, as the
// kernel would: lib -> usr/lib, then lib/libfoo.so lands in usr/lib.
#[test]
fn file_through_an_inside_symlink_lands_inside() {
    let s = scene();
    let tar = archive(&[
        (raw(b"usr/lib/", EntryType::Directory, 0, None), b""),
        (raw(b"lib", EntryType::Symlink, 0, Some(b"usr/lib")), b""),
        (raw(b"lib/libfoo.so", EntryType::Regular, 3, None), b"elf"),
    ]);
    s.unpack(tar).unwrap();
    assert_eq!(
        fs::read_to_string(s.target.join("usr/lib/libfoo.so")).unwrap(),
        "elf"
    );
    assert!(fs::symlink_metadata(s.target.join("lib"))
        .unwrap()
        .file_type()
        .is_symlink());
    s.assert_nothing_outside();
}

/// A header as the Builder's safe API fills it in: size, owner and time set, path left to it.
fn header(kind: EntryType, mode: u32, mtime: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h
}

/// A small stage: directories (one read-only), files with modes, a relative and an absolute
/// symlink, a hard link.
fn good_stage() -> Vec<u8> {
    let mut b = Builder::new(Vec::new());
    let dir = |b: &mut Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut h = header(EntryType::Directory, mode, 1_600_000_000);
        b.append_data(&mut h, path, &b""[..]).unwrap();
    };
    dir(&mut b, "./", 0o755);
    dir(&mut b, "./bin/", 0o755);
    dir(&mut b, "./etc/", 0o750);
    dir(&mut b, "./ro/", 0o555);
    let file = |b: &mut Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]| {
        let mut h = header(EntryType::Regular, mode, 1_700_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    };
    file(&mut b, "./bin/tool", 0o755, b"#!/bin/sh\necho tool\n");
    file(&mut b, "./bin/su", 0o4755, b"setuid\n");
    file(&mut b, "./etc/conf", 0o640, b"key=value\n");
    file(&mut b, "./ro/file", 0o444, b"read only\n");
    // A file larger than one copy block.
    let big: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
    file(&mut b, "./bin/big", 0o644, &big);
    let link = |b: &mut Builder<Vec<u8>>, kind: EntryType, path: &str, to: &str| {
        let mut h = header(kind, 0o777, 1_700_000_000);
        b.append_link(&mut h, path, to).unwrap();
    };
    link(&mut b, EntryType::Symlink, "./etc/link", "conf");
    link(&mut b, EntryType::Symlink, "./etc/abs", "/etc/conf");
    link(&mut b, EntryType::Link, "./bin/tool2", "./bin/tool");
    b.into_inner().unwrap()
}

fn compress(tar: &[u8], how: Compression) -> Vec<u8> {
    match how {
        Compression::None => tar.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(tar).unwrap();
            e.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(tar).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(tar).unwrap();
            e.finish().unwrap()
        }
    }
}

/// A reader that hands over at most 3 bytes at a time, like a slow pipe.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(3).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn good_stage_round_trips_in_every_compression() {
    let tar = good_stage();
    for how in [
        Compression::None,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
    ] {
        let s = scene();
        // One name for all: the magic bytes, not the name, decide.
        let path = s.dir.path().join("stage.tar");
        fs::write(&path, compress(&tar, how)).unwrap();
        let opts = Options::default();
        let summary = unpack::unpack(&path, &s.target, &opts).unwrap();
        fs::remove_file(&path).unwrap();
        assert_eq!(summary.compression, how);
        check_stage(&s.target, opts.owners);
        // Again from a trickling stream, replacing what is there. ro/ is 0555 now, which only
        // root could write into: open it up, as a user would before unpacking over it.
        fs::set_permissions(s.target.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
        let packed = compress(&tar, how);
        unpack::unpack_from("stream", Trickle(&packed), &s.target, &opts).unwrap();
        check_stage(&s.target, opts.owners);
        s.assert_nothing_outside();
        // Let the temporary directory be removed even when the tests do not run as root.
        fs::set_permissions(s.target.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn check_stage(t: &Path, owners: bool) {
    assert_eq!(
        fs::read_to_string(t.join("bin/tool")).unwrap(),
        "#!/bin/sh\necho tool\n"
    );
    assert_eq!(mode(&t.join("bin/tool")), 0o755);
    assert_eq!(mode(&t.join("etc/conf")), 0o640);
    assert_eq!(mode(&t.join("etc")), 0o750);
    assert_eq!(mode(&t.join("ro")), 0o555);
    assert_eq!(mode(&t.join("ro/file")), 0o444);
    // setuid only survives with the owner restored.
    assert_eq!(mode(&t.join("bin/su")), if owners { 0o4755 } else { 0o755 });
    let big: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(fs::read(t.join("bin/big")).unwrap(), big);
    assert_eq!(
        fs::read_link(t.join("etc/link")).unwrap(),
        Path::new("conf")
    );
    assert_eq!(
        fs::read_to_string(t.join("etc/link")).unwrap(),
        "key=value\n"
    );
    assert_eq!(
        fs::read_link(t.join("etc/abs")).unwrap(),
        Path::new("/etc/conf")
    );
    let tool = fs::metadata(t.join("bin/tool")).unwrap();
    let tool2 = fs::metadata(t.join("bin/tool2")).unwrap();
    assert_eq!(tool.ino(), tool2.ino());
    assert_eq!(tool.mtime(), 1_700_000_000);
    assert_eq!(fs::metadata(t.join("etc")).unwrap().mtime(), 1_600_000_000);
}

#[test]
fn truncated_archive_names_the_archive() {
    let s = scene();
    let packed = compress(&good_stage(), Compression::Gzip);
    let cut = &packed[..packed.len() / 2];
    let err = unpack::unpack_from("cut.tar.gz", cut, &s.target, &Options::default()).unwrap_err();
    assert!(err.to_string().contains("cut.tar.gz"), "{err}");
    s.assert_nothing_outside();
    if s.target.join("ro").exists() {
        fs::set_permissions(s.target.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn an_empty_file_is_not_an_archive() {
    for how in [Compression::None, Compression::Gzip, Compression::Xz] {
        let s = scene();
        let empty = compress(b"", how);
        let err = unpack::unpack_from("empty.tar", &empty[..], &s.target, &Options::default())
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("empty.tar: "), "{how:?}: {text}");
        assert!(text.contains("empty file"), "{how:?}: {text}");
        assert_eq!(err.exit_code(), nbgen::base::error::EXIT_BAD_INPUT);
        s.assert_nothing_outside();
    }
}

#[test]
fn a_tar_cut_at_a_header_boundary_is_truncated() {
    // Two whole entries and no end-of-archive marker: every header and block is intact.
    let mut b = Builder::new(Vec::new());
    for (path, data) in [("./a", &b"first\n"[..]), ("./b", &b"second\n"[..])] {
        let mut h = header(EntryType::Regular, 0o644, 1_700_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    }
    let whole = b.into_inner().unwrap();
    let cut = &whole[..whole.len() - 1024];
    assert_eq!(cut.len() % 512, 0);
    for (name, bytes) in [
        ("cut.tar", cut.to_vec()),
        ("cut.tar.gz", compress(cut, Compression::Gzip)),
    ] {
        let s = scene();
        let err =
            unpack::unpack_from(name, &bytes[..], &s.target, &Options::default()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{name}: truncated archive")),
            "{text}"
        );
        assert!(text.contains("after 2 entries"), "{text}");
        assert_eq!(err.exit_code(), nbgen::base::error::EXIT_BAD_INPUT);
        s.assert_nothing_outside();
    }
    // The same archive with its marker is fine.
    let s = scene();
    unpack::unpack_from("whole.tar", &whole[..], &s.target, &Options::default()).unwrap();
    assert_eq!(fs::read_to_string(s.target.join("b")).unwrap(), "second\n");
}

#[test]
fn over_long_names_are_refused_naming_the_archive_and_entry() {
    // One name longer than any Linux filesystem holds (a GNU long-name entry carries it).
    let long_name = format!("./{}", "n".repeat(300));
    // Names each short enough, in a path longer than PATH_MAX.
    let deep = format!("./{}/f", vec!["d".repeat(250); 20].join("/"));
    for (path, expect) in [
        (long_name.as_str(), "a name of 300 bytes"),
        (deep.as_str(), "too long"),
    ] {
        let s = scene();
        let mut b = Builder::new(Vec::new());
        let mut h = header(EntryType::Regular, 0o644, 1_700_000_000);
        h.set_size(2);
        b.append_data(&mut h, path, &b"x\n"[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let err = unpack::unpack_from("long.tar", &bytes[..], &s.target, &Options::default())
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("long.tar: entry \""), "{text}");
        assert!(text.contains(expect), "{text}");
        assert_eq!(
            err.exit_code(),
            nbgen::base::error::EXIT_BAD_INPUT,
            "{text}"
        );
        s.assert_nothing_outside();
    }
}

/// An archive is unpacked once per digest: a second call takes the complete copy without reading
/// the archive, a copy without its marker (a killed run) is unpacked again, and a leftover
/// `.partial` directory is replaced.
#[test]
fn once_per_digest_reuses_a_complete_copy_and_redoes_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("a.tar");
    fs::write(
        &tar,
        archive(&[(raw(b"f", EntryType::Regular, 2, None), b"1\n")]),
    )
    .unwrap();
    let sha512 = "ab".repeat(64);
    let cache = dir.path().join("cache");
    fs::create_dir_all(cache.join(format!(".{}.partial", &sha512[..16]))).unwrap();
    let first = unpack::once_per_digest(&tar, &sha512, &cache).unwrap();
    assert_eq!(first, cache.join(&sha512[..16]));
    assert_eq!(fs::read_to_string(first.join("f")).unwrap(), "1\n");
    assert!(!cache.join(format!(".{}.partial", &sha512[..16])).exists());
    // The archive changes under the same digest: the complete copy is taken as it is.
    fs::write(
        &tar,
        archive(&[(raw(b"f", EntryType::Regular, 2, None), b"2\n")]),
    )
    .unwrap();
    let again = unpack::once_per_digest(&tar, &sha512, &cache).unwrap();
    assert_eq!(fs::read_to_string(again.join("f")).unwrap(), "1\n");
    // Without the marker the copy is not trusted: unpacked again.
    fs::remove_file(first.join(".nbgen-complete")).unwrap();
    let redone = unpack::once_per_digest(&tar, &sha512, &cache).unwrap();
    assert_eq!(fs::read_to_string(redone.join("f")).unwrap(), "2\n");
}
