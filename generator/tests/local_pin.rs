//! overlay/scripts/nb-local-pin on the host, against what nbgen computes: the DIST line, the
//! archive's lines in files/digest-${PF} and that file's Manifest1 lines are nbgen's, every other
//! file as synced; a rerun changes nothing and follows a sync; bad input is named and changes
//! nothing. Real portages read what it writes in the matrices (user-pin-fixture,
//! era-*-local-pin-fixture); ci/shell-tests/test-local-pin.sh has the script's edge cases.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use nbgen::regen::manifest::{self, digest_file, measured_line, package_lines};
use nbgen::regen::model::Distfile;

const PKG: &str = "sys-block/qla2x00-driver";
const PF: &str = "qla2x00-driver-8.01.07";
const ARCHIVE: &str = "qla2xxx-v8.01.07-dist.tgz";

struct Pinned {
    _dir: tempfile::TempDir,
    overlay: PathBuf,
    local: PathBuf,
    archive: PathBuf,
}

/// A copy of the overlay as synced, an archive nb-overlay has no digest for, and the local
/// overlay nb-local-pin wrote for it.
fn pinned() -> (Pinned, String) {
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("nb-overlay");
    let status = Command::new("cp")
        .arg("-R")
        .arg(common::repo_root().join("overlay"))
        .arg(&overlay)
        .status()
        .unwrap();
    assert!(status.success());
    let archive = dir.path().join(ARCHIVE);
    fs::write(
        &archive,
        b"bytes of an archive the overlay has no digest for\n",
    )
    .unwrap();
    let p = Pinned {
        local: dir.path().join("nb-local"),
        _dir: dir,
        overlay,
        archive,
    };
    let out = p.pin(&[], &p.archive);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    (p, said)
}

impl Pinned {
    fn pin(&self, env: &[(&str, &str)], archive: &Path) -> std::process::Output {
        Command::new("sh")
            .arg(self.overlay.join("scripts/nb-local-pin"))
            .arg("--local")
            .arg(&self.local)
            .arg(archive)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    fn local_file(&self, rel: &str) -> String {
        fs::read_to_string(self.local.join(PKG).join(rel)).unwrap_or_default()
    }

    /// Every file of the local overlay with its bytes, to see that something did not change it.
    fn local_state(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut dirs = vec![self.local.clone()];
        while let Some(d) = dirs.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    out.push((p.clone(), fs::read(&p).unwrap()));
                }
            }
        }
        out.sort();
        out
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn archive_distfile(archive: &Path) -> Distfile {
    let m = manifest::measure(archive).unwrap();
    Distfile {
        name: ARCHIVE.into(),
        uri: None,
        size: Some(m.size),
        digests: m.digests,
        source: None,
    }
}

#[test]
fn the_local_copy_carries_nbgens_lines_and_the_rest_as_synced() {
    let (p, said) = pinned();
    let m = manifest::measure(&p.archive).unwrap();
    let manifest = p.local_file("Manifest");
    let dist = measured_line(ARCHIVE, &m);
    assert!(
        manifest.lines().any(|l| l == dist),
        "want {dist}\n{manifest}"
    );
    // Portage 2.0 reads the archive's digest from files/digest-${PF}.
    let d = archive_distfile(&p.archive);
    let digest_rel = manifest::digest_path(PF);
    let digest = p.local_file(&digest_rel);
    assert_eq!(digest, digest_file([&d]));
    // That file's Manifest1 lines are the new file's, as nbgen writes them.
    let want: Vec<String> = package_lines([(digest_rel.as_str(), digest.as_bytes())], [])
        .into_iter()
        .collect();
    let marker = format!(" {digest_rel} ");
    let got: Vec<&str> = manifest.lines().filter(|l| l.contains(&marker)).collect();
    assert_eq!(got, want);
    // Every other line as synced, in order, and every other file the same.
    let synced = fs::read_to_string(p.overlay.join(PKG).join("Manifest")).unwrap();
    let others = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.contains(&marker) && !l.starts_with(&format!("DIST {ARCHIVE} ")))
            .map(String::from)
            .collect()
    };
    assert_eq!(others(&manifest), others(&synced));
    let mut compared = 0;
    for dir in ["", "files/"] {
        for e in fs::read_dir(p.overlay.join(PKG).join(dir)).unwrap() {
            let path = e.unwrap().path();
            let rel = format!("{dir}{}", path.file_name().unwrap().to_string_lossy());
            if path.is_file() && rel != "Manifest" && rel != digest_rel {
                let synced = fs::read_to_string(&path).unwrap();
                assert_eq!(p.local_file(&rel), synced, "{rel}");
                compared += 1;
            }
        }
    }
    // The ebuilds, metadata.xml, the other digest file, the patch and the modules files.
    assert!(compared >= 7, "compared {compared} files");
    // What to add, for portage 2.0 and 2.1 and for today's.
    let local = p.local.display();
    assert!(said.contains("portage 2.0 and 2.1"), "{said}");
    assert!(
        said.contains(&format!(
            "PORTDIR_OVERLAY=\"{} {local}\"",
            p.overlay.display()
        )),
        "{said}"
    );
    assert!(said.contains(&format!("location = {local}")), "{said}");
}

#[test]
fn a_rerun_changes_nothing_and_follows_a_sync() {
    let (p, _) = pinned();
    let before = p.local_state();
    assert!(p.pin(&[], &p.archive).status.success());
    assert_eq!(p.local_state(), before);
    let leftovers: Vec<_> = before
        .iter()
        .filter(|(f, _)| {
            f.to_string_lossy().contains(".new") || f.to_string_lossy().contains(".old")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A sync that changed metadata.xml: the next run copies the new one.
    let meta = p.overlay.join(PKG).join("metadata.xml");
    let mut synced = fs::read_to_string(&meta).unwrap();
    synced.push_str("<!-- synced -->\n");
    fs::write(&meta, &synced).unwrap();
    assert!(p.pin(&[], &p.archive).status.success());
    assert_eq!(p.local_file("metadata.xml"), synced);
}

#[test]
fn bad_input_is_named_and_changes_nothing() {
    let (p, _) = pinned();
    let before = p.local_state();
    let unknown = p.archive.with_file_name("unknown-archive.tgz");
    fs::write(&unknown, "x").unwrap();
    let missing = p.archive.with_file_name("does-not-exist.tgz");
    for (archive, says) in [
        (&unknown, "unknown-archive.tgz: no single package"),
        (&missing, "does-not-exist.tgz: no readable file"),
    ] {
        let out = p.pin(&[], archive);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }
    assert_eq!(p.local_state(), before);
    let out = Command::new("sh")
        .arg(p.overlay.join("scripts/nb-local-pin"))
        .args(["--local", "relative/dir"])
        .arg(&p.archive)
        .output()
        .unwrap();
    assert!(
        !out.status.success() && text(&out).contains("absolute path"),
        "{}",
        text(&out)
    );
}

#[test]
fn without_sha1_and_sha256_tools_it_refuses_and_writes_nothing() {
    let (p, _) = pinned();
    let bin = p.local.with_file_name("nohash-bin");
    fs::create_dir_all(&bin).unwrap();
    for tool in [
        "sh", "sed", "grep", "cat", "cp", "mv", "rm", "mkdir", "wc", "tr", "dirname", "head",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        std::os::unix::fs::symlink(path, bin.join(tool)).unwrap();
    }
    let local = p.local.with_file_name("nohash-local");
    let out = Command::new(bin.join("sh"))
        .arg(p.overlay.join("scripts/nb-local-pin"))
        .arg("--local")
        .arg(&local)
        .arg(&p.archive)
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("no tool for SHA1 and SHA256"),
        "{}",
        text(&out)
    );
    assert!(!local.join(PKG).exists());
}

/// overlay/README's command, as ci/readme-block gives it to every test that runs README commands,
/// with the test's overlay, DISTDIR and --local (which keeps the copy out of the host's /usr/local).
#[test]
fn the_users_readme_command_runs() {
    let root = common::repo_root();
    let block = Command::new(root.join("ci/readme-block"))
        .arg("nb-local-pin")
        .output()
        .unwrap();
    let block = String::from_utf8_lossy(&block.stdout).into_owned();
    let command: Vec<&str> = block.lines().filter(|l| !l.starts_with('#')).collect();
    let layman = "/var/lib/layman/nb-overlay/scripts/nb-local-pin";
    let distdir = "/usr/portage/distfiles/";
    assert_eq!(
        command,
        [format!("sh {layman} {distdir}{ARCHIVE}")],
        "overlay/README's nb-local-pin block is not the command this test knows"
    );
    let (p, _) = pinned();
    fs::remove_dir_all(&p.local).unwrap();
    let ours = command[0]
        .replace(
            layman,
            &format!(
                "{} --local {}",
                p.overlay.join("scripts/nb-local-pin").display(),
                p.local.display()
            ),
        )
        .replace(
            distdir,
            &format!("{}/", p.archive.parent().unwrap().display()),
        );
    let out = Command::new("bash").args(["-euc", &ours]).output().unwrap();
    assert!(out.status.success(), "{ours}: {}", text(&out));
    assert!(p
        .local_file("Manifest")
        .contains(&format!("DIST {ARCHIVE} ")));
}
