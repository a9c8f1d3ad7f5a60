use super::*;

/// A tree with nbgen's marker, as every rendered overlay has.
fn tree(entries: &[(&str, &str)]) -> Tree {
    let mut t: Tree = entries
        .iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect();
    t.insert(MARKER_FILE.into(), format!("{MARKER_LINE}\n").into_bytes());
    t
}

fn no_hook() -> impl FnMut(&str) -> std::io::Result<()> {
    |_| Ok(())
}

#[test]
fn diff_names_each_kind() {
    let old = tree(&[("a", "1"), ("b", "2"), ("c", "3")]);
    let new = tree(&[("a", "1"), ("b", "x"), ("d", "4")]);
    let d = diff(&old, &new);
    assert_eq!(d.added, ["d"]);
    assert_eq!(d.changed, ["b"]);
    assert_eq!(d.removed, ["c"]);
    assert_eq!(d.lines(), ["changed: b", "removed: c", "added: d"]);
}

#[test]
fn replace_creates_then_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("overlay");
    let t = tree(&[("x/y/z", "hello\n"), ("top", "t\n")]);
    let d = replace(&target, &t, &mut no_hook()).unwrap().diff;
    assert_eq!(d.added.len(), 3);
    assert_eq!(read(&target).unwrap(), t);
    let d = replace(&target, &t, &mut no_hook()).unwrap().diff;
    assert!(d.is_empty());
    let mode = fs::metadata(target.join("x/y"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, DIR_MODE);
    let mode = fs::metadata(target.join("x/y/z"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, FILE_MODE);
    assert_only_the_overlay(dir.path());
}

#[test]
fn failure_mid_write_leaves_old_overlay_and_no_staging() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("overlay");
    let old = tree(&[("a", "old a\n"), ("b", "old b\n")]);
    replace(&target, &old, &mut no_hook()).unwrap();
    let new = tree(&[("a", "new a\n"), ("b", "new b\n"), ("c", "new c\n")]);
    let mut written = 0;
    let mut fail_second = |_: &str| {
        written += 1;
        if written == 2 {
            Err(std::io::Error::other("injected failure"))
        } else {
            Ok(())
        }
    };
    let err = replace(&target, &new, &mut fail_second).unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(read(&target).unwrap(), old);
    assert_only_the_overlay(dir.path());
}

/// The previous overlay, moved aside by the exchange, cannot always be removed (here: a file of it
/// made immutable, which not even root may delete): the new overlay stands and the note names the
/// directory left and the command that removes it. Skipped where chattr is not available.
#[test]
fn a_moved_aside_overlay_that_cannot_be_removed_is_named_with_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("overlay");
    replace(&target, &tree(&[("a/f", "1\n")]), &mut no_hook()).unwrap();
    let file = target.join("a/f");
    let chattr = |flag: &str, path: &Path| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(path)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !chattr("+i", &file) {
        eprintln!("SKIPPED: chattr +i is not available here (needs root and ext4 or xfs)");
        return;
    }
    let new = tree(&[("a/f", "2\n")]);
    let result = replace(&target, &new, &mut no_hook());
    // Whatever happened, the immutable file goes before the directory is dropped.
    let left: Vec<std::path::PathBuf> = staging_dirs(&locate(&target).unwrap()).unwrap();
    for d in &left {
        chattr("-i", &d.join("a/f"));
    }
    chattr("-i", &file);
    let notes = result.unwrap().notes;
    assert_eq!(read(&target).unwrap(), new, "the new overlay stands");
    assert_eq!(left.len(), 1, "{left:?}");
    let shown = left[0].display().to_string();
    assert!(
        notes.iter().any(|n| n.contains(&format!(
            "{shown} (the previous overlay, moved aside) could not be removed"
        )) && n.contains(&format!("rm -rf '{shown}'"))),
        "{notes:?}"
    );
}

#[test]
fn stray_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("overlay");
    let t = tree(&[("a", "1\n")]);
    replace(&target, &t, &mut no_hook()).unwrap();
    fs::create_dir_all(target.join("junk")).unwrap();
    fs::write(target.join("junk/stray"), "x").unwrap();
    let d = replace(&target, &t, &mut no_hook()).unwrap().diff;
    assert_eq!(d.removed, ["junk/stray"]);
    assert!(!target.join("junk").exists());
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_directory_nbgen_did_not_make_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("generator");
    fs::create_dir_all(target.join("src")).unwrap();
    fs::write(target.join("src/main.rs"), "fn main() {}\n").unwrap();
    // An overlay someone else wrote: it has profiles/repo_name but not nbgen's marker.
    fs::create_dir_all(target.join("profiles")).unwrap();
    fs::write(target.join("profiles/repo_name"), "other\n").unwrap();
    let before = read(&target).unwrap();
    let err = replace(&target, &tree(&[("a", "1\n")]), &mut no_hook()).unwrap_err();
    assert_eq!(err.exit_code(), crate::base::error::EXIT_BAD_INPUT);
    let msg = err.to_string();
    assert!(msg.contains("not an overlay nbgen generated"), "{msg}");
    assert!(msg.contains(MARKER_FILE), "{msg}");
    assert_eq!(read(&target).unwrap(), before);
    assert_eq!(names(dir.path()), ["generator"]);
    // A file is refused too, and an empty directory is fine.
    let file = dir.path().join("file");
    fs::write(&file, "keep").unwrap();
    let err = replace(&file, &tree(&[]), &mut no_hook()).unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "keep");
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    replace(&empty, &tree(&[("a", "1\n")]), &mut no_hook()).unwrap();
    assert_eq!(fs::read_to_string(empty.join("a")).unwrap(), "1\n");
}

#[test]
fn obviously_wrong_targets_fail_from_the_path_alone() {
    for bad in ["/", "", ".", "..", "a/..", "/usr", "/etc/"] {
        let err = refuse_obvious(Path::new(bad)).unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::EXIT_BAD_INPUT, "{bad}");
        assert!(err.to_string().contains("refusing"), "{bad}: {err}");
    }
    // replace refuses them before looking at the disk: a hook that would fail is never run.
    let err = replace(Path::new("/"), &tree(&[("a", "1")]), &mut |_| {
        panic!("nothing may be written")
    })
    .unwrap_err();
    assert!(err.to_string().contains("the root"), "{err}");
    for good in ["overlay", "./overlay", "/srv/overlay", "a/b/../overlay"] {
        refuse_obvious(Path::new(good)).unwrap();
    }
}

#[test]
fn a_symlinked_overlay_keeps_its_link_and_its_target_is_regenerated() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("store/real-overlay");
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    let link = dir.path().join("overlay");
    let old = tree(&[("a", "old\n")]);
    replace(&real, &old, &mut no_hook()).unwrap();
    std::os::unix::fs::symlink("store/real-overlay", &link).unwrap();
    let new = tree(&[("a", "new\n"), ("b", "b\n")]);
    let d = replace(&link, &new, &mut no_hook()).unwrap().diff;
    assert_eq!(d.added, ["b"]);
    assert_eq!(d.changed, ["a"]);
    // The link is still the same link, and both it and the target show the new tree.
    let meta = fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink());
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("store/real-overlay")
    );
    assert_eq!(read(&real).unwrap(), new);
    assert_eq!(read(&link).unwrap(), new);
    // No staging directory beside the link or the target.
    assert_eq!(names(dir.path()), ["overlay", "store"]);
    assert_eq!(names(&dir.path().join("store")), ["real-overlay"]);
    // A link to nowhere is refused clearly.
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink("missing", &dangling).unwrap();
    let err = replace(&dangling, &new, &mut no_hook()).unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn stale_staging_directories_are_listed_then_removed_and_odd_ones_reported() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("overlay");
    let t = tree(&[("a", "1\n")]);
    replace(&target, &t, &mut no_hook()).unwrap();
    // What a SIGKILL leaves: a half-written staging directory, and one holding an old tree.
    let stale1 = dir.path().join(".overlay.nbgen-AbC123");
    let stale2 = dir.path().join(".overlay.nbgen-xyz789");
    fs::create_dir_all(stale1.join("sys-libs/x")).unwrap();
    fs::write(stale1.join("sys-libs/x/half"), "h").unwrap();
    fs::create_dir_all(&stale2).unwrap();
    // Something with the prefix that nbgen never makes: a symlink out of the directory.
    let odd = dir.path().join(".overlay.nbgen-link");
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("keep"), "k").unwrap();
    std::os::unix::fs::symlink(outside.path(), &odd).unwrap();
    // Another overlay's staging directory is not this one's business.
    let other = dir.path().join(".other.nbgen-AAAAAA");
    fs::create_dir(&other).unwrap();

    let listed = stale_notes(&target).unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed[0].contains(".overlay.nbgen-AbC123"), "{listed:?}");
    assert!(stale1.exists(), "--check must not remove anything");

    // Even with nothing to change, the run cleans up.
    let r = replace(&target, &t, &mut no_hook()).unwrap();
    assert!(r.diff.is_empty());
    assert!(!stale1.exists() && !stale2.exists());
    assert!(r
        .notes
        .iter()
        .any(|n| n.starts_with("removed ") && n.contains(".overlay.nbgen-AbC123")));
    let odd_note = r
        .notes
        .iter()
        .find(|n| n.contains(".overlay.nbgen-link"))
        .expect("the symlink is reported");
    assert!(odd_note.contains("left alone"), "{odd_note}");
    assert!(fs::symlink_metadata(&odd).is_ok());
    assert_eq!(
        fs::read_to_string(outside.path().join("keep")).unwrap(),
        "k"
    );
    assert!(other.exists());
}

#[test]
fn a_staging_directory_of_a_running_regen_is_never_removed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("overlay");
    let t = tree(&[("a", "1\n")]);
    replace(&target, &t, &mut no_hook()).unwrap();
    // Another run holds the lock and is writing its staging directory.
    let running = ParentLock::try_acquire(dir.path()).unwrap().unwrap();
    let busy = dir.path().join(".overlay.nbgen-busy01");
    fs::create_dir(&busy).unwrap();
    let notes = stale_notes(&target).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("another nbgen is writing"), "{notes:?}");
    let waiter = {
        let target = target.clone();
        let t = t.clone();
        std::thread::spawn(move || replace(&target, &t, &mut no_hook()).unwrap())
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(busy.exists(), "removed while its run held the lock");
    assert!(
        !waiter.is_finished(),
        "a second regen did not wait for the lock"
    );
    // The run ends (its staging directory would be gone by now; this one was killed instead).
    drop(running);
    let r = waiter.join().unwrap();
    assert!(!busy.exists());
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
}

/// Only the overlay is left in `parent`: no staging directory.
fn assert_only_the_overlay(parent: &Path) {
    let names: Vec<_> = fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["overlay"]);
}
