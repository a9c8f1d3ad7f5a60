//! `nbgen stage run`: one command in a fresh container of a stage, on the engines and with the
//! sandbox `nbgen test` builds in (engine.rs, generator/sandbox/bwrap.args): the test suite's
//! way to try something in a stage by hand or from a script.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, IoContext, Result};
use crate::base::names::REPO_NAME;
use crate::base::shell::{quote, ENV_NAME};
use crate::nbtest::engine::Mount;

/// Where --distdir is bound read-only; the command's /var/cache/distfiles is a copy of it, so
/// that what portage writes there (locks, modes) stays in the container.
const DISTDIR_SOURCE: &str = "/mnt/nb-distdir";

/// The stage's ebuild.sh and the copy testkit/make-stage fixed for EAPI 0.
const EBUILD_SH: &str = "/opt/portage/lib/portage/bin/ebuild.sh";

/// What a command in a stage gets, as the options gave it.
#[derive(Debug, Default)]
pub struct Request {
    /// Ebuild repositories bound read-only at /var/db/repos/NAME and added as ::NAME.
    pub overlays: Vec<(String, PathBuf)>,
    /// Directories or files bound read-only at absolute paths.
    pub read_only: Vec<(String, PathBuf)>,
    pub distdir: Option<PathBuf>,
    /// Bound writable at /out.
    pub out: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    /// Today's portage with testkit/make-stage's fix of ebuild.sh, for EAPI 0 install phases.
    pub eapi0_fix: bool,
    /// One word: a bash command line; more: a command and its arguments.
    pub command: Vec<String>,
}

/// `--overlay NAME=DIR`: a repository name other than gentoo, and a directory holding one.
pub fn overlay_option(value: &str) -> Result<(String, PathBuf)> {
    let (name, dir) = split(value, "--overlay", "NAME=DIR")?;
    if !REPO_NAME.is_match(name) {
        return Err(bad("--overlay", format!("{name:?} is no repository name")));
    }
    if name == "gentoo" {
        return Err(bad("--overlay", "::gentoo is the stage's own tree".into()));
    }
    let dir = PathBuf::from(dir);
    if !dir.join("profiles/repo_name").is_file() {
        return Err(bad(
            "--overlay",
            format!(
                "{} is no ebuild repository (no profiles/repo_name)",
                dir.display()
            ),
        ));
    }
    Ok((name.to_string(), dir))
}

/// `--ro PATH=DIR`: an absolute path in the stage and something that exists here.
pub fn read_only_option(value: &str) -> Result<(String, PathBuf)> {
    let (path, dir) = split(value, "--ro", "PATH=DIR")?;
    if !path.starts_with('/') {
        return Err(bad("--ro", format!("{path:?} is not an absolute path")));
    }
    let dir = PathBuf::from(dir);
    if !dir.exists() {
        return Err(bad("--ro", format!("{} does not exist", dir.display())));
    }
    Ok((path.to_string(), dir))
}

/// `--env NAME=VALUE`.
pub fn env_option(value: &str) -> Result<(String, String)> {
    let (name, v) = split(value, "--env", "NAME=VALUE")?;
    if !ENV_NAME.is_match(name) {
        return Err(bad("--env", format!("{name:?} is no variable name")));
    }
    Ok((name.to_string(), v.to_string()))
}

fn split<'a>(value: &'a str, option: &str, want: &str) -> Result<(&'a str, &'a str)> {
    value
        .split_once('=')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| bad(option, format!("want {want}, got {value:?}")))
}

fn bad(option: &str, message: String) -> Error {
    Error::input(option, message)
}

impl Request {
    /// What the container sees of the host.
    pub fn mounts(&self) -> Result<Vec<Mount>> {
        let ro = |host: &Path, guest: &str| Mount {
            host: host.to_path_buf(),
            guest: guest.to_string(),
            writable: false,
        };
        let mut mounts: Vec<Mount> = self
            .overlays
            .iter()
            .map(|(name, dir)| ro(dir, &format!("/var/db/repos/{name}")))
            .collect();
        mounts.extend(self.read_only.iter().map(|(path, dir)| ro(dir, path)));
        if let Some(d) = &self.distdir {
            if !d.is_dir() {
                return Err(bad(
                    "--distdir",
                    format!("{} is not a directory", d.display()),
                ));
            }
            mounts.push(ro(d, DISTDIR_SOURCE));
        }
        if let Some(out) = &self.out {
            std::fs::create_dir_all(out).at(out)?;
            mounts.push(Mount {
                writable: true,
                ..ro(out, "/out")
            });
        }
        Ok(mounts)
    }

    /// The script the container runs: the fix, the distfiles, the repositories and the
    /// environment, then the command in place of the shell. Its own failures exit 125.
    pub fn script(&self) -> String {
        let mut lines = vec!["set -u".to_string()];
        if self.eapi0_fix {
            lines.push(format!(
                "[ -f {f}.nb-eapi0 ] || {{ echo 'nbgen stage run: --eapi0-fix: this stage has no {EBUILD_SH}.nb-eapi0 (not one of testkit/make-stage'\\''s)' >&2; exit 125; }}",
                f = EBUILD_SH
            ));
            lines.push(format!("cp {EBUILD_SH}.nb-eapi0 {EBUILD_SH} || exit 125"));
        }
        if self.distdir.is_some() {
            lines.push(format!(
                "mkdir -p /var/cache/distfiles && cp -pR {DISTDIR_SOURCE}/. /var/cache/distfiles/ || exit 125"
            ));
        }
        for (name, _) in &self.overlays {
            // Portage 2.0 and 2.1 (the era stages) have no repos.conf: there the command sets
            // PORTDIR_OVERLAY itself.
            lines.push(format!(
                "if [ -d /etc/portage/repos.conf ]; then printf '[%s]\\nlocation = /var/db/repos/%s\\nauto-sync = no\\n' {n} {n} >/etc/portage/repos.conf/{n}.conf || exit 125; fi",
                n = quote(name)
            ));
        }
        for (name, value) in &self.env {
            lines.push(format!("export {name}={}", quote(value)));
        }
        lines.push("cd /".into());
        let command: Vec<String> = match &self.command[..] {
            [line] => vec!["bash".into(), "-c".into(), quote(line)],
            words => words.iter().map(|w| quote(w)).collect(),
        };
        lines.push(format!("exec {}", command.join(" ")));
        lines.join("\n") + "\n"
    }
}

/// A stage tarball in use: testkit/make-stage and make-era-stage leave a tarball alone while
/// someone holds a shared lock on it.
pub struct InUse {
    pub tarball: PathBuf,
    pub sha512: String,
    _lock: std::fs::File,
}

/// The stage tarball, held in use, with its SHA512 from the `.sha512` file beside it (the stage
/// scripts write one), else measured.
pub fn use_stage(tarball: &Path) -> Result<InUse> {
    let file = std::fs::File::open(tarball)
        .map_err(|_| bad("--stage", format!("no stage tarball {}", tarball.display())))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared)
        .map_err(|e| Error::io(tarball, e.into()))?;
    let (tarball, sha512) = given_stage(tarball)?;
    Ok(InUse {
        tarball,
        sha512,
        _lock: file,
    })
}

fn given_stage(tarball: &Path) -> Result<(PathBuf, String)> {
    let listed = Path::new(&format!("{}.sha512", tarball.display())).exists();
    let sha512 = if listed {
        crate::nbtest::stage::listed_sha512(tarball)?
    } else {
        crate::regen::manifest::measure(tarball)?
            .digests
            .sha512
            .expect("measured")
    };
    Ok((tarball.to_path_buf(), sha512))
}

#[cfg(test)]
mod tests;
