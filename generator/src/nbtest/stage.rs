//! Acquiring what `nbgen test` builds on: the stage tarball (from a script, a path or a URL), the
//! downloads of a matrix (kernels, the portage snapshot) verified against the lock file or pinned
//! there on their first fetch, and unpacked snapshots. Everything passes through the verified,
//! content-addressed cache of `fetch`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::base::error::{Error, IoContext, Result};
use crate::base::workspace::Workspace;
use crate::nbtest::fetch::{Expected, Fetcher};
use crate::nbtest::matrix::{Download, Lock, Stage};
use crate::nbtest::{Note, Notes};
use crate::regen::manifest;

/// The exit status with which a stage script says that its sources cannot be had (automake's
/// "skipped"); its last line on stdout, `unavailable: <reason>`, says why.
pub const STAGE_UNAVAILABLE: i32 = 77;

/// A stage: the verified tarball in the cache and its SHA512, or why it cannot be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Ready { tarball: PathBuf, sha512: String },
    Unavailable { reason: String },
}

/// Runs a stage script (relative to the workspace `root`) and returns the tarball it printed
/// last and the SHA512 of its `.sha512` file, not yet verified; or the reason it gave for exiting
/// with [`STAGE_UNAVAILABLE`].
pub fn script_stage(
    root: &Path,
    script: &Path,
    args: &[String],
) -> Result<std::result::Result<(PathBuf, String), String>> {
    let out = match run_stage_script(root, &root.join(script), args)? {
        Ok(stdout) => stdout,
        Err(reason) => return Ok(Err(reason)),
    };
    let tarball = PathBuf::from(
        out.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim(),
    );
    let sha512 = listed_sha512(&tarball)?;
    Ok(Ok((tarball, sha512)))
}

/// The SHA512 the stage scripts write beside a tarball, in `<tarball>.sha512` (sha512sum's
/// format), not yet verified; an error naming that file when it holds none.
pub fn listed_sha512(tarball: &Path) -> Result<String> {
    let sums = PathBuf::from(format!("{}.sha512", tarball.display()));
    let text = fs::read_to_string(&sums).at(&sums)?;
    let sha512 = text.split_whitespace().next().unwrap_or_default();
    Expected::new("sha512", sha512)
        .map_err(|e| Error::input(sums.display().to_string(), e.to_string()))?;
    Ok(sha512.to_ascii_lowercase())
}

/// The verified stage tarball in the cache, and its SHA512; or, for a script stage that exits
/// with [`STAGE_UNAVAILABLE`], the reason it gave.
pub fn resolve_stage(
    ws: &Workspace,
    stage: &Stage,
    fetcher: &Fetcher,
    lock: &mut Lock,
    notes: Notes,
) -> Result<Resolved> {
    let ready = |(tarball, sha512)| Resolved::Ready { tarball, sha512 };
    match stage {
        Stage::Script { script, args } => {
            notes(Note::StageScript { script, args });
            let (tarball, sha512) = match script_stage(&ws.root, script, args)? {
                Ok(made) => made,
                Err(reason) => return Ok(Resolved::Unavailable { reason }),
            };
            let expected = Expected::new("sha512", &sha512)?;
            let cached = fetcher.fetch(&tarball.display().to_string(), &expected)?;
            Ok(ready((cached, sha512)))
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
            Ok(ready((cached, sha512)))
        }
        Stage::Url(d) => fetch_download(d, fetcher, lock, notes).map(ready),
    }
}

/// Runs a stage script in `root`: its stdout, or (exit status [`STAGE_UNAVAILABLE`]) the reason
/// its sources cannot be had. Any other failure is an error naming the script.
fn run_stage_script(
    root: &Path,
    script: &Path,
    args: &[String],
) -> Result<std::result::Result<String, String>> {
    let mut cmd = Command::new("bash");
    cmd.arg(script).args(args).current_dir(root);
    // The script checks shared inputs with this same nbgen (nbgen shared check).
    if let Ok(exe) = std::env::current_exe() {
        cmd.env("NBGEN", exe);
    }
    let out = cmd.output().at(script)?;
    if out.status.code() == Some(STAGE_UNAVAILABLE) {
        let stdout = String::from_utf8_lossy(&out.stdout);
        return Ok(Err(unavailable_reason(&stdout, script)));
    }
    checked_output(out, script).map(Ok)
}

/// The reason in a stage script's stdout: its last `unavailable: ` line; a script that gave none
/// still gets a reason that names it.
fn unavailable_reason(stdout: &str, script: &Path) -> String {
    stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("unavailable: "))
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| {
            format!(
                "{} exited with {STAGE_UNAVAILABLE} (unavailable) without saying why",
                script.display()
            )
        })
}

/// A download, verified against its digest from the matrix or the lock file. One that has none
/// yet is fetched, and its digest pinned in the lock file (which nbgen never changes afterwards);
/// the message asks the user to check it against the publisher's digests.
pub fn fetch_download(
    d: &Download,
    fetcher: &Fetcher,
    lock: &mut Lock,
    notes: Notes,
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
            notes(Note::Pinned {
                url: &d.url,
                sha512: &sha512,
                lock: lock.path(),
            });
            (path, sha512)
        }
    };
    let size = fs::metadata(&path).at(&path)?.len();
    lock.pin(&d.url, &sha512, size)?;
    Ok((path, sha512))
}

/// Runs a command, returning its stdout; a failure is an error naming the program and its stderr.
pub fn run_checked(cmd: &mut Command, what: &Path) -> Result<String> {
    checked_output(cmd.output().at(what)?, what)
}

fn checked_output(out: std::process::Output, what: &Path) -> Result<String> {
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
    let dir = crate::nbtest::unpack::once_per_digest(tarball, sha512, &cache.join("snapshots"))?;
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

#[cfg(test)]
mod tests;
