use std::cell::RefCell;

use super::*;

const HOUR: Duration = Duration::from_secs(3600);

fn at(hours: u64) -> Option<SystemTime> {
    Some(SystemTime::UNIX_EPOCH + HOUR * hours as u32)
}

fn unit(short: &str, bytes: u64, last_used: Option<SystemTime>) -> Unit {
    Unit {
        disk_bytes: bytes,
        last_used,
        ..Unit::new(&short.repeat(16)[..16])
    }
}

fn shorts(units: &[Unit], plan: &Plan) -> Vec<String> {
    plan.evict
        .iter()
        .map(|&i| units[i].short[..1].to_string())
        .collect()
}

fn in_use(letters: &[&str]) -> BTreeSet<String> {
    letters.iter().map(|l| l.repeat(16)).collect()
}

#[test]
fn the_plan_evicts_least_recently_used_first_until_within_budget() {
    let units = [
        unit("a", 100, at(30)),
        unit("b", 100, at(10)),
        unit("c", 100, at(20)),
        unit("d", 100, at(40)),
    ];
    let plan = plan(&units, &BTreeSet::new(), 250);
    assert_eq!(shorts(&units, &plan), ["b", "c"]);
    assert_eq!(plan.kept, 200);
    assert!(!plan.over_budget());
    // Within budget already: nothing goes.
    assert!(super::plan(&units, &BTreeSet::new(), 400).evict.is_empty());
}

#[test]
fn the_plan_evicts_images_whose_use_is_unknown_first_and_counts_their_size() {
    let mut image_only = unit("e", 0, None);
    image_only.image = Some(ImageInfo {
        tag: format!("{IMAGE_REPO}:{}", "e".repeat(16)),
        bytes: Some(300),
    });
    let units = [unit("a", 100, at(1)), image_only];
    let plan = plan(&units, &BTreeSet::new(), 150);
    assert_eq!(shorts(&units, &plan), ["e"]);
    assert_eq!(plan.kept, 100);
}

#[test]
fn the_plan_never_evicts_what_the_run_used() {
    let units = [unit("a", 100, at(1)), unit("b", 100, at(2))];
    let plan = plan(&units, &in_use(&["a"]), 100);
    assert_eq!(shorts(&units, &plan), ["b"]);
    // What was used alone is over the budget: kept all the same, and said.
    let plan = super::plan(&units, &in_use(&["a", "b"]), 100);
    assert!(plan.evict.is_empty());
    assert!(plan.over_budget());
}

#[test]
fn a_zero_budget_keeps_only_what_the_run_used() {
    let units = [
        unit("a", 1, at(3)),
        unit("b", 1, at(2)),
        unit("c", 0, at(1)),
    ];
    let plan = plan(&units, &in_use(&["b"]), 0);
    assert_eq!(shorts(&units, &plan), ["c", "a"]);
    assert_eq!(plan.kept, 1);
    let all = super::plan(&units, &BTreeSet::new(), 0);
    assert_eq!(all.evict.len(), 3, "a unit of 0 bytes goes too");
}

#[test]
fn sizes_parse_in_binary_units_and_bad_ones_are_refused() {
    assert_eq!(parse_size("10G"), Ok(10 << 30));
    assert_eq!(parse_size("500M"), Ok(500 << 20));
    assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
    assert_eq!(parse_size("0"), Ok(0));
    assert_eq!(parse_size(" 4g "), Ok(4 << 30));
    for bad in ["", "10X", "-1", "ten", "99999999999999999999"] {
        let err = parse_size(bad).unwrap_err();
        assert!(err.contains("is not a size"), "{bad:?}: {err}");
    }
}

#[test]
fn sizes_and_times_read_as_people_write_them() {
    assert_eq!(human(0), "0 B");
    assert_eq!(human(1023), "1023 B");
    assert_eq!(human(1536), "1.5 KiB");
    assert_eq!(human(10 << 30), "10 GiB");
    assert_eq!(human(2_254_857_830), "2.1 GiB");
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_903_500);
    assert_eq!(utc_minute(t), "2026-11-28 22:05 UTC");
    assert_eq!(utc_minute(SystemTime::UNIX_EPOCH), "1970-01-01 00:00 UTC");
    // A leap day.
    let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
    assert_eq!(utc_minute(leap), "2000-02-29 00:00 UTC");
}

#[test]
fn a_prune_is_refused_while_a_run_holds_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let run = SharedLock::acquire(dir.path(), || panic!("nothing to wait for")).unwrap();
    assert!(ExclusiveLock::try_acquire(dir.path()).unwrap().is_none());
    // Two runs: the one that finishes first may not prune under the other.
    let other = SharedLock::acquire(dir.path(), || panic!("shared locks share")).unwrap();
    assert!(run.try_upgrade(dir.path()).unwrap().is_none());
    drop(other);
    let prune = ExclusiveLock::try_acquire(dir.path()).unwrap();
    assert!(prune.is_some(), "free once the runs are done");
}

#[test]
fn a_run_waits_for_a_prune_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let prune = ExclusiveLock::try_acquire(dir.path()).unwrap().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let path = dir.path().to_path_buf();
    let run =
        std::thread::spawn(move || SharedLock::acquire(&path, || tx.send(()).unwrap()).map(|_| ()));
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the run says it waits");
    assert!(!run.is_finished());
    drop(prune);
    run.join().unwrap().unwrap();
}

/// Images held in memory, for the plan and prune without an engine.
#[derive(Default)]
struct FakeImages {
    images: RefCell<Vec<ImageInfo>>,
    refuse: bool,
}

impl FakeImages {
    fn with(shorts: &[&str], bytes: u64) -> FakeImages {
        let images = shorts
            .iter()
            .map(|s| ImageInfo {
                tag: format!("{IMAGE_REPO}:{s}"),
                bytes: Some(bytes),
            })
            .collect();
        FakeImages {
            images: RefCell::new(images),
            refuse: false,
        }
    }
}

impl FakeImages {
    fn tags(&self) -> Vec<String> {
        self.images.borrow().iter().map(|i| i.tag.clone()).collect()
    }
}

impl Images for FakeImages {
    fn name(&self) -> &str {
        "fake"
    }
    fn list(&self) -> Result<Vec<ImageInfo>> {
        Ok(self.images.borrow().clone())
    }
    fn remove(&self, tag: &str) -> Result<()> {
        if self.refuse {
            return Err(Error::Environment(format!(
                "{tag} is in use by a container"
            )));
        }
        self.images.borrow_mut().retain(|i| i.tag != tag);
        Ok(())
    }
}

fn set_age(path: &Path, age: Duration) {
    File::open(path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

fn store<'a>(dir: &'a Path, images: &'a dyn Images, orphan_images: bool) -> Store<'a> {
    Store {
        dir,
        images,
        orphan_images,
    }
}

const A: &str = "aaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbb";

/// A cache with unit A (tarball and root, used 2 hours ago) and unit B (tarball, 1 hour ago).
fn fake_cache() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path();
    fs::create_dir_all(c.join("files/sha512")).unwrap();
    fs::create_dir_all(c.join("roots").join(A).join("etc")).unwrap();
    fs::write(c.join("roots").join(A).join(".nbgen-complete"), "a").unwrap();
    fs::write(c.join("roots").join(A).join("etc/passwd"), vec![1; 10000]).unwrap();
    for (short, age) in [(A, 2), (B, 1)] {
        let file = c.join("files/sha512").join(short.repeat(8));
        fs::write(&file, vec![0; 5000]).unwrap();
        set_age(&file, HOUR * age);
    }
    set_age(&c.join("roots").join(A), HOUR * 2);
    dir
}

#[test]
fn the_inventory_groups_files_roots_and_images_by_short_digest() {
    let dir = fake_cache();
    let images = FakeImages::with(&[A, "cccccccccccccccc"], 7000);
    let inv = inventory(&store(dir.path(), &images, true), SystemTime::now()).unwrap();
    let shorts: Vec<&str> = inv.units.iter().map(|u| u.short.as_str()).collect();
    assert_eq!(shorts, [A, B, "cccccccccccccccc"]);
    let a = &inv.units[0];
    assert_eq!((a.files.len(), a.trees.len()), (1, 1));
    assert!(a.disk_bytes >= 15000, "{}", a.disk_bytes);
    assert_eq!(a.image_bytes(), 7000);
    assert!(inv.units[1].last_used > a.last_used);
    // An image without its tarball: its last use is unknown.
    assert_eq!(inv.units[2].last_used, None);
    assert_eq!(inv.bytes(), inv.disk_bytes() + 14000);
    assert!(inv.stale.is_empty());
}

#[test]
fn a_scratch_cache_does_not_claim_the_images_of_other_caches() {
    let dir = fake_cache();
    let images = FakeImages::with(&[A, "cccccccccccccccc"], 7000);
    let inv = inventory(&store(dir.path(), &images, false), SystemTime::now()).unwrap();
    let shorts: Vec<&str> = inv.units.iter().map(|u| u.short.as_str()).collect();
    assert_eq!(shorts, [A, B]);
    assert_eq!(inv.image_bytes(), 7000, "A's image is its own");
    let lock = ExclusiveLock::try_acquire(dir.path()).unwrap().unwrap();
    let scratch = store(dir.path(), &images, false);
    prune(&scratch, &lock, &BTreeSet::new(), 0, false).unwrap();
    let left = images.tags();
    assert_eq!(left, [format!("{IMAGE_REPO}:cccccccccccccccc")]);
}

#[test]
fn killed_runs_leave_stale_items_the_inventory_finds_by_age() {
    let dir = fake_cache();
    let c = dir.path();
    for (name, age) in [("call.old", 25), ("call.live", 1), ("other", 48)] {
        fs::create_dir_all(c.join("calls").join(name).join("upper")).unwrap();
        set_age(&c.join("calls").join(name), HOUR * age);
    }
    fs::create_dir_all(c.join("files/partial")).unwrap();
    for (name, age) in [("x.part", 8 * 24), ("y.part", 6 * 24)] {
        fs::write(c.join("files/partial").join(name), "bytes").unwrap();
        set_age(&c.join("files/partial").join(name), HOUR * age);
    }
    fs::create_dir_all(c.join("roots").join(format!(".{B}.partial"))).unwrap();
    set_age(&c.join("roots").join(format!(".{B}.partial")), HOUR * 25);
    // Another run may be unpacking this one right now.
    fs::create_dir_all(c.join("roots").join(format!(".{A}.partial"))).unwrap();
    fs::create_dir_all(c.join("roots/.trash.x.1.2")).unwrap();
    let inv = inventory(&store(c, &NoImages, false), SystemTime::now()).unwrap();
    let mut found: Vec<(String, StaleKind)> = inv
        .stale
        .iter()
        .map(|s| {
            (
                s.path.strip_prefix(c).unwrap().display().to_string(),
                s.kind,
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("calls/call.old".to_string(), StaleKind::Call),
            ("files/partial/x.part".to_string(), StaleKind::Partial),
            (format!("roots/.{B}.partial"), StaleKind::Debris),
            ("roots/.trash.x.1.2".to_string(), StaleKind::Debris),
        ]
    );
}

#[test]
fn a_prune_removes_the_oldest_unit_whole_and_keeps_the_one_in_use() {
    let dir = fake_cache();
    let c = dir.path();
    let images = FakeImages::with(&[A, B], 1000);
    let lock = ExclusiveLock::try_acquire(c).unwrap().unwrap();
    let dry = prune(&store(c, &images, false), &lock, &BTreeSet::new(), 0, true).unwrap();
    assert_eq!(dry.removed.len(), 2);
    assert!(
        c.join("roots").join(A).is_dir(),
        "a dry run removes nothing"
    );
    assert_eq!(images.images.borrow().len(), 2);

    let used = BTreeSet::from([B.to_string()]);
    let pruned = prune(&store(c, &images, false), &lock, &used, 0, false).unwrap();
    assert_eq!(pruned.removed.len(), 1);
    assert_eq!(pruned.removed[0].short, A);
    assert_eq!((pruned.kept_units, pruned.failed.len()), (1, 0));
    assert!(pruned.over_budget());
    let roots: Vec<_> = fs::read_dir(c.join("roots")).unwrap().collect();
    assert!(roots.is_empty(), "no root, no trash left: {roots:?}");
    assert!(!c.join("files/sha512").join(A.repeat(8)).exists());
    assert!(c.join("files/sha512").join(B.repeat(8)).exists());
    let left = images.tags();
    assert_eq!(left, [format!("{IMAGE_REPO}:{B}")]);
}

#[test]
fn a_unit_whose_image_cannot_be_removed_keeps_its_tarball_and_is_reported() {
    let dir = fake_cache();
    let c = dir.path();
    let images = FakeImages {
        refuse: true,
        ..FakeImages::with(&[A], 1000)
    };
    let lock = ExclusiveLock::try_acquire(c).unwrap().unwrap();
    let pruned = prune(&store(c, &images, false), &lock, &BTreeSet::new(), 0, false).unwrap();
    assert_eq!(pruned.failed.len(), 1);
    assert_eq!(pruned.failed[0].0, A);
    assert!(pruned.failed[0].1.to_string().contains("in use"));
    // Found again by the next prune through its tarball.
    assert!(c.join("files/sha512").join(A.repeat(8)).exists());
    assert_eq!(pruned.kept_units, 1);
    assert_eq!(pruned.removed.len(), 1, "B had no image and went");
}

#[test]
fn a_root_is_renamed_away_before_it_is_deleted_and_debris_is_cleared() {
    let dir = fake_cache();
    let c = dir.path();
    let root = c.join("roots").join(A);
    // A removal cut off after the rename leaves only trash, which is no root.
    let trash = c.join("roots/.trash.cut");
    fs::create_dir_all(trash.join("usr")).unwrap();
    fs::write(trash.join(".nbgen-complete"), "a").unwrap();
    remove_path(&root).unwrap();
    assert!(!root.exists());
    let inv = inventory(&store(c, &NoImages, false), SystemTime::now()).unwrap();
    assert_eq!(inv.stale.len(), 1);
    assert_eq!(inv.stale[0].kind, StaleKind::Debris);
    let lock = ExclusiveLock::try_acquire(c).unwrap().unwrap();
    let pruned = prune(
        &store(c, &NoImages, false),
        &lock,
        &BTreeSet::new(),
        u64::MAX,
        false,
    )
    .unwrap();
    assert_eq!((pruned.removed.len(), pruned.stale_removed.len()), (0, 1));
    assert!(!trash.exists());
}

#[test]
fn a_listing_that_fails_while_an_image_vanishes_is_tried_again() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("podman");
    // Fails its first listing as podman does when an image is removed meanwhile.
    let script = format!(
        "#!/bin/sh\n\
         n=$(cat {d}/n 2>/dev/null || echo 0); echo $((n + 1)) > {d}/n\n\
         if [ \"$n\" = 0 ]; then echo 'Error: image not known' >&2; exit 125; fi\n\
         case \"$1\" in images) echo {IMAGE_REPO}:{A}; echo other:1;; image) echo 4096;; esac\n",
        d = dir.path().display()
    );
    fs::write(&fake, script).unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let store = EngineImages {
        program: fake.display().to_string(),
        conf: None,
    };
    let listed = store.list().unwrap();
    assert_eq!(
        listed,
        [ImageInfo {
            tag: format!("{IMAGE_REPO}:{A}"),
            bytes: Some(4096),
        }]
    );
}
