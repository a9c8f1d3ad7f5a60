//! The stage images `nbgen test` imported into podman or docker (`localhost/nb-stage:<short>`),
//! behind a trait so the cache's plan and prune are tested without an engine.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::base::error::{Error, Result};

/// The repository every stage image is tagged in (engine.rs `prepare`).
pub const IMAGE_REPO: &str = "localhost/nb-stage";

/// Further tries of a listing that failed.
const LIST_TRIES: u32 = 3;

/// A stage image: its tag and, where the engine tells it, its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub tag: String,
    pub bytes: Option<u64>,
}

impl ImageInfo {
    /// The 16 hex digits after the repository, or None for a tag nbgen did not make.
    pub fn short(&self) -> Option<&str> {
        let short = self.tag.strip_prefix(IMAGE_REPO)?.strip_prefix(':')?;
        super::is_short(short).then_some(short)
    }
}

/// Where stage images live.
pub trait Images {
    /// The engine's name, for messages.
    fn name(&self) -> &str;
    /// Every image tagged in [`IMAGE_REPO`].
    fn list(&self) -> Result<Vec<ImageInfo>>;
    fn remove(&self, tag: &str) -> Result<()>;
}

/// No engine with images on this machine: nothing to list or remove.
pub struct NoImages;

impl Images for NoImages {
    fn name(&self) -> &str {
        "none"
    }
    fn list(&self) -> Result<Vec<ImageInfo>> {
        Ok(Vec::new())
    }
    fn remove(&self, tag: &str) -> Result<()> {
        Err(Error::Environment(format!(
            "cannot remove image {tag}: no podman or docker answers here"
        )))
    }
}

/// podman's or docker's image store, through its command line.
pub struct EngineImages {
    pub(super) program: String,
    pub(super) conf: Option<PathBuf>,
}

/// The image store of the first of podman and docker that answers, or why none does.
pub fn engine_images(cache: &Path) -> std::result::Result<EngineImages, String> {
    let mut why = Vec::new();
    for program in ["podman", "docker"] {
        // The podman configuration nbgen test wrote, so both see the same storage settings.
        let conf = cache.join("containers.conf");
        let store = EngineImages {
            program: program.to_string(),
            conf: (program == "podman" && conf.is_file()).then_some(conf),
        };
        match store.output(&["images", "--format", "{{.Repository}}:{{.Tag}}"]) {
            Ok(_) => return Ok(store),
            Err(e) => why.push(e.to_string()),
        }
    }
    Err(why.join("; "))
}

impl EngineImages {
    fn output(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(&self.program);
        if let Some(conf) = &self.conf {
            cmd.env("CONTAINERS_CONF", conf);
        }
        let what = format!("{} {}", self.program, args.join(" "));
        let fail = |e: io::Error| Error::io(Path::new(&what), e);
        let out = cmd.args(args).stdin(Stdio::null()).output().map_err(fail)?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            return Err(fail(io::Error::other(format!(
                "{}: {}",
                out.status,
                first.trim()
            ))));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Images for EngineImages {
    fn name(&self) -> &str {
        &self.program
    }

    fn list(&self) -> Result<Vec<ImageInfo>> {
        let args = ["images", "--format", "{{.Repository}}:{{.Tag}}"];
        // podman fails the whole listing when an image vanishes while it reads (another process
        // removing one): measured here as "image not known". A second look finds it gone.
        let mut listed = self.output(&args);
        for _ in 0..LIST_TRIES {
            if listed.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
            listed = self.output(&args);
        }
        let listed = listed?;
        let tags: Vec<&str> = listed
            .lines()
            .map(str::trim)
            .filter(|t| t.starts_with(&format!("{IMAGE_REPO}:")))
            .collect();
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        // One inspect for all: a line per image, in the order asked.
        let mut args = vec!["image", "inspect", "--format", "{{.Size}}"];
        args.extend(&tags);
        let sizes: Vec<Option<u64>> = match self.output(&args) {
            Ok(text) => text.lines().map(|l| l.trim().parse().ok()).collect(),
            Err(_) => Vec::new(),
        };
        Ok(tags
            .iter()
            .enumerate()
            .map(|(i, tag)| ImageInfo {
                tag: tag.to_string(),
                bytes: sizes.get(i).copied().flatten(),
            })
            .collect())
    }

    fn remove(&self, tag: &str) -> Result<()> {
        self.output(&["rmi", tag]).map(|_| ())
    }
}
