//! Acquiring what `nbgen test` builds on: the stage tarball (from a script, a path or a URL), the
//! downloads of a matrix (kernels, the portage snapshot) verified against the lock file or pinned
//! there on their first fetch, and unpacked snapshots. Everything passes through the verified,
//! content-addressed cache of `fetch`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, IoContext, Result};
use crate::fetch::{Expected, Fetcher};
use crate::manifest;
use crate::matrix::{Download, Lock, Stage};
use crate::workspace::Workspace;

/// The verified stage tarball in the cache, and its SHA512.
pub fn resolve_stage(
    ws: &Workspace,
    stage: &Stage,
    fetcher: &Fetcher,
    lock: &mut Lock,
) -> Result<(PathBuf, String)> {
    match stage {
        Stage::Script { script } => {
            let path = ws.root.join(script);
            eprintln!(
                "nbgen test: running {} (builds the stage when its inputs changed)",
                script.display()
            );
            let out = run_checked(Command::new("bash").arg(&path).current_dir(&ws.root), &path)?;
            let tarball = PathBuf::from(
                out.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or_default()
                    .trim(),
            );
            let sums = PathBuf::from(format!("{}.sha512", tarball.display()));
            let text = fs::read_to_string(&sums).at(&sums)?;
            let sha512 = text
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let expected = Expected::new("sha512", &sha512)?;
            let cached = fetcher.fetch(&tarball.display().to_string(), &expected)?;
            Ok((cached, sha512))
        }
        Stage::Path { path, sha512 } => {
            let path = ws.root.join(path);
            let sha512 = match sha512 {
                Some(s) => s.clone(),
                None => manifest::measure(&path)?.digests.sha512.expect("measured"),
            };
            let cached = fetcher.fetch(
                &path.display().to_string(),
                &Expected::new("sha512", &sha512)?,
            )?;
            Ok((cached, sha512))
        }
        Stage::Url(d) => fetch_download(d, fetcher, lock),
    }
}

/// A download, verified against its digest from the matrix or the lock file. One that has none
/// yet is fetched, and its digest pinned in the lock file (which nbgen never changes afterwards);
/// the message asks the user to check it against the publisher's digests.
pub fn fetch_download(
    d: &Download,
    fetcher: &Fetcher,
    lock: &mut Lock,
) -> Result<(PathBuf, String)> {
    let (path, sha512) = match lock.expected(d)? {
        Some(sha512) => {
            let mut expected = Expected::new("sha512", &sha512)?;
            // The lock records the size with the digest: a body larger than that is cut off.
            if let Some(pin) = lock.get(&d.url).filter(|p| p.sha512 == sha512) {
                expected = expected.with_size(pin.size);
            }
            (fetcher.fetch(&d.url, &expected)?, sha512)
        }
        None => {
            let (path, sha512) = fetcher.fetch_unpinned(&d.url)?;
            eprintln!(
                "nbgen test: pinned {} as sha512 {sha512} in {}: check it against the publisher's digests before committing",
                d.url,
                lock.path().display()
            );
            (path, sha512)
        }
    };
    let size = fs::metadata(&path).at(&path)?.len();
    lock.pin(&d.url, &sha512, size)?;
    Ok((path, sha512))
}

/// Runs a command, returning its stdout; a failure is an error naming the program and its stderr.
pub fn run_checked(cmd: &mut Command, what: &Path) -> Result<String> {
    let out = cmd.output().at(what)?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        return Err(Error::io(
            what,
            std::io::Error::other(format!(
                "failed ({}): {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Unpacks a portage snapshot into the cache once per digest; returns the tree (the directory
/// holding profiles/, `portage/` in Gentoo's snapshots).
pub fn unpack_snapshot(tarball: &Path, sha512: &str, cache: &Path) -> Result<PathBuf> {
    let dir = cache.join("snapshots").join(&sha512[..16]);
    if !dir.join(".nbgen-complete").exists() {
        let staging = cache
            .join("snapshots")
            .join(format!(".{}.partial", &sha512[..16]));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).at(&staging)?;
        crate::unpack::unpack(tarball, &staging, &crate::unpack::Options::default())?;
        fs::write(staging.join(".nbgen-complete"), sha512).at(&staging)?;
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&staging, &dir).at(&dir)?;
    }
    if dir.join("profiles").is_dir() {
        return Ok(dir);
    }
    fs::read_dir(&dir)
        .at(&dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("profiles").is_dir())
        .ok_or_else(|| {
            Error::input(
                tarball.display().to_string(),
                "no portage tree (no profiles/) in the snapshot",
            )
        })
}
