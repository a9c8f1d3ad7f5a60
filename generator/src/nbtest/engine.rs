//! Container engines that `nbgen test` runs builds in: podman (daemonless; the default where it
//! works), docker (where a daemon answers), and bubblewrap over an overlayfs view of an unpacked
//! stage where neither exists. Detection says what it tried, so "no engine" is never a mystery.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::base::error::{Error, IoContext, Result};
use crate::base::shell;
use crate::nbtest::unpack;
use crate::regen::templates::Templates;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Podman,
    Docker,
    Bwrap,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Podman => "podman",
            Kind::Docker => "docker",
            Kind::Bwrap => "bwrap",
        })
    }
}

/// A usable engine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: Kind,
    /// nbgen's cache, where podman's configuration and bwrap's unpacked roots live.
    cache: PathBuf,
}

/// What a job sees of the host: one directory each, read-only unless `writable`.
#[derive(Debug, Clone)]
pub struct Mount {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

/// A stage made ready to run: an image name (podman, docker) or an unpacked root (bwrap).
#[derive(Debug, Clone)]
pub enum Image {
    Tagged(String),
    Root(PathBuf),
}

/// Podman as measured on these machines: runc (crun fails on this kernel's hybrid cgroups),
/// cgroupfs, no default ulimits.
const CONTAINERS_CONF: &str =
    "[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = \"cgroupfs\"\n";

impl Engine {
    /// The engine to use: `wanted` if given and usable, else the first usable of podman, docker,
    /// bwrap. The error lists every engine tried and why it was passed over.
    pub fn detect(wanted: Option<Kind>, cache: &Path) -> Result<Engine> {
        let order = match wanted {
            Some(k) => vec![k],
            None => vec![Kind::Podman, Kind::Docker, Kind::Bwrap],
        };
        let mut tried = Vec::new();
        for kind in order {
            let engine = Engine {
                kind,
                cache: cache.to_path_buf(),
            };
            match engine.probe() {
                Ok(()) => return Ok(engine),
                Err(why) => tried.push(format!("{kind}: {why}")),
            }
        }
        Err(Error::Environment(format!(
            "no container engine can run the builds; tried {}. Install podman and runc (Debian: apt-get install podman runc), start a docker daemon, or install bubblewrap and run as root",
            tried.join("; ")
        )))
    }

    fn probe(&self) -> std::result::Result<(), String> {
        match self.kind {
            Kind::Podman => {
                self.write_podman_conf().map_err(|e| e.to_string())?;
                run_quiet(self.command("podman").args([
                    "info",
                    "--format",
                    "{{.Host.OCIRuntime.Name}}",
                ]))
            }
            Kind::Docker => {
                run_quiet(Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]))
            }
            Kind::Bwrap => {
                run_quiet(Command::new("bwrap").arg("--version"))?;
                run_quiet(Command::new("unshare").arg("--version"))?;
                // Mounting the overlayfs view needs root in the initial namespace.
                if unsafe { libc::geteuid() } != 0 {
                    return Err("needs root to mount the stage's overlayfs view".into());
                }
                Ok(())
            }
        }
    }

    fn podman_conf(&self) -> PathBuf {
        self.cache.join("containers.conf")
    }

    fn write_podman_conf(&self) -> Result<()> {
        fs::create_dir_all(&self.cache).at(&self.cache)?;
        let path = self.podman_conf();
        if fs::read_to_string(&path).ok().as_deref() != Some(CONTAINERS_CONF) {
            fs::write(&path, CONTAINERS_CONF).at(&path)?;
        }
        Ok(())
    }

    /// podman or docker, configured as detection found it works.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        if self.kind == Kind::Podman {
            cmd.env("CONTAINERS_CONF", self.podman_conf());
            cmd.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"]);
        }
        cmd
    }

    fn program(&self) -> &'static str {
        match self.kind {
            Kind::Podman => "podman",
            Kind::Docker => "docker",
            Kind::Bwrap => "bwrap",
        }
    }

    /// Makes the verified stage tarball runnable, once per digest: `import` for podman and docker
    /// (offline; nothing is pulled), an unpacked root for bwrap.
    pub fn prepare(&self, tarball: &Path, sha512: &str) -> Result<Image> {
        match self.kind {
            Kind::Podman | Kind::Docker => {
                let tag = stage_tag(sha512);
                if !self.image_exists(&tag) {
                    let out = self
                        .command(self.program())
                        .arg("import")
                        .arg(tarball)
                        .arg(&tag)
                        .output()
                        .at(tarball)?;
                    if !out.status.success() {
                        return Err(self.import_failed(tarball, &out.stderr));
                    }
                }
                Ok(Image::Tagged(tag))
            }
            Kind::Bwrap => {
                let root = unpack::once_per_digest(tarball, sha512, &self.cache.join("roots"))?;
                Ok(Image::Root(root))
            }
        }
    }

    fn image_exists(&self, tag: &str) -> bool {
        self.command(self.program())
            .args(["image", "inspect", tag])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn import_failed(&self, what: &Path, stderr: &[u8]) -> Error {
        Error::io(
            what,
            std::io::Error::other(format!(
                "{} import failed: {}",
                self.kind,
                String::from_utf8_lossy(stderr).trim()
            )),
        )
    }

    /// A stage named by URL whose digest is known, downloaded and made runnable in one pass, the
    /// tarball kept in the cache: bwrap unpacks it into the root for that digest
    /// (nbtest/stream.rs); podman and docker import it from a pipe under a temporary tag, which
    /// becomes the stage's tag only once the download is verified. None when the pass could not
    /// make the image (the file was already in the cache, or the import could not follow): the
    /// caller fetches, a cache hit by then, and [`Engine::prepare`]s the verified file.
    pub fn prepare_streamed(
        &self,
        fetcher: &crate::nbtest::fetch::Fetcher,
        url: &str,
        expected: &crate::nbtest::fetch::Expected,
    ) -> Result<Option<Image>> {
        if self.kind != Kind::Bwrap {
            return self.import_streamed(fetcher, url, expected);
        }
        let root = unpack::into_digest_dir(expected.hex(), &self.cache.join("roots"), |staging| {
            crate::nbtest::stream::fetch_unpack(fetcher, url, expected, staging).map(|_| ())
        })?;
        Ok(Some(Image::Root(root)))
    }

    fn import_streamed(
        &self,
        fetcher: &crate::nbtest::fetch::Fetcher,
        url: &str,
        expected: &crate::nbtest::fetch::Expected,
    ) -> Result<Option<Image>> {
        let tag = stage_tag(expected.hex());
        if self.image_exists(&tag) {
            return Ok(Some(Image::Tagged(tag)));
        }
        if fetcher.cache_path(expected).is_file() {
            return Ok(None);
        }
        // Named after this process: two runs importing the same stage do not share it.
        let incoming = format!(
            "{}-incoming:{}-{}",
            crate::nbtest::cache::IMAGE_REPO,
            &expected.hex()[..16],
            std::process::id()
        );
        let mut child = self
            .command(self.program())
            .args(["import", "-", &incoming])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .at(Path::new(self.program()))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let fetched = fetcher.fetch_tapped(url, expected, &mut stdin);
        // End of the stream for the import.
        drop(stdin);
        let imported = child.wait_with_output().at(Path::new(self.program()));
        let untag = |name: &str| {
            let _ = self
                .command(self.program())
                .args(["rmi", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        match (fetched, imported) {
            (Ok(f), Ok(out)) if f.tapped && out.status.success() => {
                let tagged = self
                    .command(self.program())
                    .args(["tag", &incoming, &tag])
                    .output()
                    .at(Path::new(self.program()))?;
                untag(&incoming);
                if !tagged.status.success() {
                    return Err(self.import_failed(&f.path, &tagged.stderr));
                }
                Ok(Some(Image::Tagged(tag)))
            }
            (fetched, _) => {
                untag(&incoming);
                fetched.map(|_| None)
            }
        }
    }

    /// Runs `script` with bash in a fresh container from `image`, without network, with `mounts`;
    /// everything it prints goes to `log`. Returns its exit code.
    pub fn run(&self, image: &Image, mounts: &[Mount], script: &str, log: &Path) -> Result<i32> {
        let log_file = fs::File::create(log).at(log)?;
        let err_file = log_file.try_clone().at(log)?;
        let status = self
            .command_for(image, mounts, script)?
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .status()
            .at(log)?;
        Ok(status.code().unwrap_or(128))
    }

    /// As [`Engine::run`], with the caller's stdout and stderr (`nbgen stage run`).
    pub fn run_attached(&self, image: &Image, mounts: &[Mount], script: &str) -> Result<i32> {
        let program = Path::new(self.program());
        let status = self
            .command_for(image, mounts, script)?
            .stdin(Stdio::null())
            .status()
            .at(program)?;
        Ok(status.code().unwrap_or(128))
    }

    /// The command that runs `script` in a fresh container of `image` with `mounts`.
    fn command_for(&self, image: &Image, mounts: &[Mount], script: &str) -> Result<Command> {
        // podman and docker take a relative host path for the name of a volume.
        let mounts: Vec<Mount> = mounts
            .iter()
            .map(|m| {
                Ok(Mount {
                    host: std::path::absolute(&m.host).at(&m.host)?,
                    ..m.clone()
                })
            })
            .collect::<Result<_>>()?;
        let mounts = &mounts[..];
        Ok(match (self.kind, image) {
            (Kind::Podman | Kind::Docker, Image::Tagged(tag)) => {
                let mut cmd = self.command(self.program());
                cmd.args(["run", "--rm", "--network=none"]);
                for m in mounts {
                    let mode = if m.writable { "rw" } else { "ro" };
                    cmd.arg("-v")
                        .arg(format!("{}:{}:{mode}", m.host.display(), m.guest));
                }
                cmd.arg(tag).args(["bash", "-c", script]);
                cmd
            }
            (Kind::Bwrap, Image::Root(root)) => self.bwrap_command(root, mounts, script)?,
            _ => unreachable!("prepare() makes the image kind of its engine"),
        })
    }

    /// bwrap over an overlayfs view of the unpacked root, mounted inside a private mount namespace
    /// (so the host never sees it), with a throwaway upper layer: every run starts from the stage.
    fn bwrap_command(&self, root: &Path, mounts: &[Mount], script: &str) -> Result<Command> {
        let calls = self.cache.join("calls");
        fs::create_dir_all(&calls).at(&calls)?;
        let call = tempfile::Builder::new()
            .prefix("call.")
            .tempdir_in(&calls)
            .at(&calls)?
            .keep();
        for sub in ["upper", "work", "merged"] {
            fs::create_dir_all(call.join(sub)).at(&call)?;
        }
        let mut bwrap = vec![
            "bwrap".to_string(),
            "--bind".into(),
            call.join("merged").display().to_string(),
            "/".into(),
            "--proc".into(),
            "/proc".into(),
            "--dev".into(),
            "/dev".into(),
            "--tmpfs".into(),
            "/tmp".into(),
        ];
        bwrap.extend(sandbox_args());
        for m in mounts {
            bwrap.push(if m.writable { "--bind" } else { "--ro-bind" }.into());
            bwrap.push(m.host.display().to_string());
            bwrap.push(m.guest.clone());
        }
        bwrap.extend(["bash".into(), "-c".into(), script.to_string()]);
        let quoted: Vec<String> = bwrap.iter().map(|a| shell::quote(a)).collect();
        let ctx = serde_json::json!({
            "lower": shell::quote(&root.display().to_string()),
            "call": shell::quote(&call.display().to_string()),
            "bwrap": quoted.join(" "),
        });
        let inner = Templates::embedded()?.render("nbtest/bwrap-call.sh", &ctx)?;
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", &inner]);
        Ok(cmd)
    }
}

/// The tag of the stage image with SHA512 `sha512` (hex).
fn stage_tag(sha512: &str) -> String {
    format!("{}:{}", crate::nbtest::cache::IMAGE_REPO, &sha512[..16])
}

/// The sandbox's bwrap options: generator/sandbox/bwrap.args.
const SANDBOX: &str = include_str!("../../sandbox/bwrap.args");

/// The words of SANDBOX: one option and its arguments a line, `#` comments.
fn sandbox_args() -> impl Iterator<Item = String> {
    SANDBOX
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace().map(str::to_string))
}

fn run_quiet(cmd: &mut Command) -> std::result::Result<(), String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    match cmd.stdin(Stdio::null()).output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!("{program} not found")),
        Err(e) => Err(format!("{program}: {e}")),
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message");
            Err(format!(
                "{program} is installed but failed: {}",
                first.trim()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_clears_the_environment_and_drops_capabilities() {
        let args: Vec<String> = sandbox_args().collect();
        let has = |pair: [&str; 2]| args.windows(2).any(|w| w[0] == pair[0] && w[1] == pair[1]);
        assert!(args.iter().any(|a| a == "--clearenv"), "{args:?}");
        assert!(args.iter().any(|a| a == "--unshare-net"), "{args:?}");
        assert!(has(["--cap-drop", "CAP_SYS_MODULE"]), "{args:?}");
        assert!(has(["--cap-drop", "CAP_SYS_ADMIN"]), "{args:?}");
        assert!(args.iter().all(|a| !a.starts_with('#')), "{args:?}");
    }
}
