//! `nbgen cache list|prune` on caches of fake stages (no engine needed), their bad input, the
//! prune skipped while a run holds the cache, and the prune `nbgen test` does after its run. The
//! image parts need podman: skipped (said so) without it, required under NBGEN_REQUIRE_TOOLS.

mod common;

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use common::repo_root;
use nbgen::nbtest::cache::SharedLock;

const OLD: &str = "feedface00000001";
const NEW: &str = "feedface00000002";

fn nbgen(args: &[&str], env: &[(&str, &str)]) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nbgen"));
    cmd.args(args)
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"))
        // The default cache is elsewhere: only it may claim images no cache explains.
        .env("XDG_CACHE_HOME", scratch.path())
        .env_remove("NBGEN_CACHE_MAX");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn aged(path: &Path, hours: u64) {
    let t = SystemTime::now() - Duration::from_secs(hours * 3600);
    File::open(path).unwrap().set_modified(t).unwrap();
}

fn tarball(cache: &Path, short: &str) -> std::path::PathBuf {
    cache.join("files/sha512").join(short.repeat(8))
}

/// OLD: a tarball and its unpacked root (100 KB), used 3 hours ago; NEW: a tarball of 5 KB, used
/// an hour ago; and a call layer a killed run left two days ago.
fn fake_cache() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path();
    fs::create_dir_all(c.join("files/sha512")).unwrap();
    let root = c.join("roots").join(OLD);
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join(".nbgen-complete"), OLD).unwrap();
    fs::write(root.join("etc/big"), vec![1; 100_000]).unwrap();
    aged(&root, 3);
    for (short, hours) in [(OLD, 3), (NEW, 1)] {
        fs::write(tarball(c, short), vec![0; 5000]).unwrap();
        aged(&tarball(c, short), hours);
    }
    let call = c.join("calls/call.killed");
    fs::create_dir_all(call.join("upper")).unwrap();
    aged(&call, 48);
    dir
}

#[test]
fn list_then_prune_to_a_budget_then_to_nothing() {
    let dir = fake_cache();
    let c = dir.path().to_str().unwrap();
    let out = nbgen(&["cache", "list", "--cache", c], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let old = stdout.find(OLD).expect(&stdout);
    assert!(
        stdout[old..].starts_with(&format!("{OLD}  tarball+root ")),
        "{stdout}"
    );
    assert!(
        stdout.find(NEW).expect(&stdout) > old,
        "least recently used first"
    );
    assert!(stdout.contains("2 stages or files: "), "{stdout}");
    assert!(
        stdout.contains("calls/call.killed (overlay layer"),
        "{stdout}"
    );

    let out = nbgen(
        &["cache", "prune", "--cache", c, "--max", "0", "--dry-run"],
        &[],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains(&format!("would remove {OLD} (tarball+root")),
        "{stdout}"
    );
    assert!(
        stdout.contains("would remove 2 stages or files"),
        "{stdout}"
    );
    assert!(tarball(dir.path(), OLD).exists() && dir.path().join("calls/call.killed").exists());

    // Within 50K only the newer, smaller one fits: the older goes, whole.
    let out = nbgen(&["cache", "prune", "--cache", c, "--max", "50K"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("removed 1 stage or file"), "{stdout}");
    assert!(
        stdout.contains("removed 1 leftover of killed runs"),
        "{stdout}"
    );
    assert!(!tarball(dir.path(), OLD).exists());
    assert_eq!(fs::read_dir(dir.path().join("roots")).unwrap().count(), 0);
    assert!(!dir.path().join("calls/call.killed").exists());
    assert!(tarball(dir.path(), NEW).exists());

    let out = nbgen(&["cache", "prune", "--cache", c, "--max", "0"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let out = nbgen(&["cache", "list", "--cache", c], &[]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("0 stages or files: 0 B on disk"),
        "{stdout}"
    );
}

#[test]
fn a_prune_while_a_run_holds_the_cache_removes_nothing_and_says_why() {
    let dir = fake_cache();
    let c = dir.path().to_str().unwrap();
    let run = SharedLock::acquire(dir.path(), || {}).unwrap();
    let out = nbgen(&["cache", "prune", "--cache", c, "--max", "0"], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("another nbgen test is using the cache; not pruned"),
        "{stderr}"
    );
    assert!(tarball(dir.path(), OLD).exists());
    drop(run);
}

/// Arguments, environment, and what the error must name.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_sizes_and_a_missing_cache_are_bad_input_named() {
    let dir = fake_cache();
    let c = dir.path().to_str().unwrap();
    let cases: [Case; 5] = [
        (
            &["cache", "prune", "--cache", c, "--max", "10X"],
            &[],
            "--max",
        ),
        (
            &["cache", "prune", "--cache", c],
            &[("NBGEN_CACHE_MAX", "lots")],
            "NBGEN_CACHE_MAX",
        ),
        (
            &["test", "--cache", c, "--cache-max", "1Q"],
            &[],
            "--cache-max",
        ),
        (
            &["test", "--cache", c],
            &[("NBGEN_CACHE_MAX", "-1")],
            "NBGEN_CACHE_MAX",
        ),
        (
            &["cache", "list", "--cache", "/nonexistent/nbgen"],
            &[],
            "--cache",
        ),
    ];
    for (args, env, named) in cases {
        let out = nbgen(args, env);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
    assert!(tarball(dir.path(), OLD).exists(), "nothing ran");
}

const STUCK: &str = "feedface000000ff";

/// A unit whose "tarball" is a directory: remove_file fails on it, as on a file nbgen may not
/// delete.
fn unremovable(cache: &Path) {
    fs::create_dir_all(tarball(cache, STUCK).join("x")).unwrap();
}

#[test]
fn a_prune_that_cannot_remove_a_unit_removes_the_rest_and_exits_3() {
    let dir = fake_cache();
    unremovable(dir.path());
    let c = dir.path().to_str().unwrap();
    let out = nbgen(&["cache", "prune", "--cache", c, "--max", "0"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("warning: could not remove {STUCK}")),
        "{stderr}"
    );
    assert!(stdout.contains("removed 2 stages or files"), "{stdout}");
    assert!(!tarball(dir.path(), OLD).exists());
}

/// Whether podman answers; without it the image parts are skipped, loudly, except under
/// NBGEN_REQUIRE_TOOLS.
fn podman_works() -> bool {
    let works = Command::new("podman")
        .args(["images", "--format", "{{.ID}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works && std::env::var_os("NBGEN_REQUIRE_TOOLS").is_some() {
        panic!("podman does not answer: run ci/install-deps as root");
    }
    if !works {
        eprintln!("SKIPPED: podman does not answer; the image part of the cache is not tested");
    }
    works
}

/// Removes the test's image whatever happens to the test.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rmi", "-f", &self.0]).output();
    }
}

#[test]
fn a_stage_image_is_listed_with_its_tarball_and_pruned_with_it() {
    if !podman_works() {
        return;
    }
    let dir = fake_cache();
    let c = dir.path().to_str().unwrap();
    // A digest of this process alone: a parallel run of this test has its own image.
    let short = format!("{:016x}", std::process::id() as u64 | 0xfeed_0000_0000_0000);
    fs::write(tarball(dir.path(), &short), "stage").unwrap();
    let tag = format!("localhost/nb-stage:{short}");
    let guard = ImageGuard(tag.clone());
    let tar = dir.path().join("t.tar");
    let made = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(dir.path().join("roots").join(OLD))
        .arg("etc")
        .status()
        .unwrap();
    assert!(made.success());
    let import = Command::new("podman")
        .arg("import")
        .arg(&tar)
        .arg(&tag)
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", text(&import).1);

    let out = nbgen(&["cache", "list", "--cache", c], &[]);
    let (stdout, _) = text(&out);
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&short))
        .expect(&stdout);
    assert!(line.contains("tarball+image"), "{line}");
    assert!(!line.contains("  ?  "), "the image's size is known: {line}");

    let out = nbgen(&["cache", "prune", "--cache", c, "--max", "0"], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let exists = Command::new("podman")
        .args(["image", "exists", &tag])
        .status()
        .unwrap();
    assert!(!exists.success(), "{tag} was not removed");
    drop(guard);
}

#[test]
fn nbgen_test_prunes_after_its_run() {
    if !podman_works() {
        return;
    }
    let dir = fake_cache();
    let c = dir.path().join("cache");
    fs::create_dir_all(&c).unwrap();
    fs::rename(dir.path().join("files"), c.join("files")).unwrap();
    unremovable(&c);
    let empty = dir.path().join("no-shared");
    fs::create_dir_all(&empty).unwrap();
    // Without the era sources every entry is SKIPPED: a quick run that still ends in a prune.
    let out = nbgen(
        &[
            "test",
            "--engine",
            "podman",
            "--matrix",
            "ci/matrix-era-local.toml",
            "--cache",
            c.to_str().unwrap(),
            "--cache-max",
            "0",
            "--results",
            dir.path().join("results").to_str().unwrap(),
        ],
        &[("NB_SHARED", empty.to_str().unwrap())],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("nbgen test: cache: removed 2 stages or files"),
        "{stderr}"
    );
    assert!(stderr.contains("(budget 0 B)"), "{stderr}");
    // A prune that fails in part is a warning: the run's exit code is the entries'.
    assert!(
        stderr.contains(&format!("warning: could not remove {STUCK}")),
        "{stderr}"
    );
    assert!(!tarball(&c, OLD).exists() && !tarball(&c, NEW).exists());
}
