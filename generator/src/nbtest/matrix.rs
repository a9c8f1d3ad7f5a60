//! The test matrix of `nbgen test`: which stage tarball, which kernel trees and which packages to
//! build, one entry per kernel. Read from TOML (ci/matrix-local.toml, ci/matrix-era.toml), every
//! table rejecting unknown fields, then validated into the typed [`Matrix`]; every error names the
//! file, line and column of the value at fault.
//!
//! Downloads named by URL without a digest are pinned in the matrix's lock file
//! (ci/matrix-era.lock beside ci/matrix-era.toml) on their first verified fetch; see [`Lock`]. A
//! pin is never changed afterwards: a different file behind the same URL is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, IoContext, Result};
use crate::base::toml_input::{self, Locator};

mod expect;
mod fixture;
mod lock;
mod raw;
mod steps;
mod validate;
mod variant;

pub use expect::{ConfigRun, Expect, FileText, Setup};
pub use lock::{Lock, Pin, Pinned};
pub use steps::{OverlayKind, Step, StepExit};

/// A SHA512 as the matrix and its lock file write it: lowercase hex.
static SHA512: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9a-f]{128}$").unwrap());
use raw::RawMatrix;
use validate::Ctx;

/// A validated matrix. Entries keep the order of the file: it is the order reports list them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    /// The file it was read from, as given.
    pub path: PathBuf,
    pub entries: Vec<Entry>,
    /// A workspace script writing STAND-IN distfiles into the directory it is given; `nbgen test`
    /// pins them in memory in its own copy of the overlay (never in the spec).
    pub stand_ins: Option<PathBuf>,
    /// A portage tree snapshot (portage-YYYYMMDD.tar.bz2) mounted as the stages' ::gentoo, for
    /// stages that carry no tree, as Gentoo's stage3 tarballs do not.
    pub snapshot: Option<Download>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// `[a-z0-9._-]+`, unique in the matrix; names the results directory and the CI job.
    pub name: String,
    /// `file:line:col` of the entry's name, for messages about the entry as a whole. Not part of
    /// its content: moving the entry in the file changes nothing about its build.
    #[serde(skip)]
    pub location: String,
    pub kernel: Kernel,
    /// Names of files in kernel-fragments/, in order (a later one wins, as in `kconfig merge`).
    pub fragments: Vec<String>,
    /// Names of files in patches/, applied in order to the kernel tree.
    pub patches: Vec<String>,
    /// Package atoms to emerge: `cat/pkg`, or with an operator and version.
    pub packages: Vec<String>,
    /// The defaults' USE flags followed by the entry's own.
    pub use_flags: Vec<String>,
    pub accept_keywords: Option<String>,
    /// A profile path below the repository's profiles/, e.g. `default/linux/amd64`.
    pub profile: String,
    pub stage: Stage,
    /// A fixture kernel tree rather than a real kernel: reports must say so.
    pub fixture: bool,
    /// FEATURES that portage must have on in the stage (`strict` for the era stages), checked
    /// before anything is emerged.
    pub require_features: Vec<String>,
    /// A distfile that the entry replaces by bytes of the same size and other content: every
    /// package of the entry passes only when portage refuses that file.
    pub refuse_distfile: Option<String>,
    /// Real distfiles from the shared directory, pinned in the entry's own copy of the overlay in
    /// place of the stand-ins of the same names.
    pub distfiles: Vec<SharedDistfile>,
    /// What is checked on the installed modules after every package passed.
    pub checks: Checks,
    /// What the emerges must end in (installed files, a refusal, log lines); `None`: every
    /// package must merge.
    pub expect: Option<Expect>,
    /// Files, directories and environment the container gets before the emerges.
    pub setup: Setup,
    /// `emerge --config` after the emerges.
    pub config: ConfigRun,
    /// Commands run after `emerge --config`, in order, each judged on its own.
    pub steps: Vec<Step>,
    /// The overlay the container gets: with the stand-ins' digests, or as users sync it.
    pub overlay: OverlayKind,
}

/// A distfile made from a file of the shared directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedDistfile {
    /// The name the ebuilds fetch.
    pub name: String,
    /// Below the shared directory.
    pub path: PathBuf,
    pub repack: crate::nbtest::shared_inputs::Repack,
}

/// Checks of the installed kernel modules, run in the container after the packages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Checks {
    /// `depmod -e` against the kernel tree's exported symbols reports no unknown symbol.
    pub depmod: bool,
    /// `modprobe --show-depends <last>` loads exactly these modules, in this order.
    pub load_order: Vec<String>,
}

impl Checks {
    pub fn is_empty(&self) -> bool {
        !self.depmod && self.load_order.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Kernel {
    /// A stand-in tree written by testkit/make-kernel.
    Fixture(Fixture),
    /// A kernel source tarball, configured and built by `nbgen test`.
    Tarball(Download),
    /// A kernel tarball of the shared directory, prepared by testkit/real-kernel/prepare.
    Shared(SharedKernel),
}

/// A real kernel tree from the shared directory. testkit/real-kernel/prepare unpacks it, applies
/// `compat` to that copy, configures it from defconfig and the entry's fragments and runs
/// `make modules_prepare` in the test stage, caching the tree by a digest of those inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedKernel {
    /// Below the shared directory.
    pub path: PathBuf,
    /// The compatibility script, relative to the workspace root.
    pub compat: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fixture {
    /// `2.4.N` or `2.6.N`.
    pub version: String,
    pub smp: bool,
    pub intermodule: Intermodule,
    pub layout: Layout,
    /// .config options whose lines are removed after make-kernel wrote the tree (a kernel
    /// without an option the ebuild needs).
    pub drop_config: Vec<String>,
    /// .config lines `CONFIG_NAME=value` that replace the option's line (a kernel that builds
    /// something the ebuild must refuse).
    pub set_config: Vec<String>,
}

/// make-kernel's LAYOUT: how far the fixture tree was prepared, and where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Layout {
    /// `make modules_prepare` (2.4: `make dep`) was run; the tree is at /usr/src/linux.
    Prepared,
    /// Configured, never prepared.
    Unprepared,
    /// A `make O=` build: the source tree (DIR/src) mounted at `src` (unless `mount_src` is
    /// false: an output tree whose sources are missing), the output tree (DIR/out) at `out`.
    Split {
        src: String,
        out: String,
        mount_src: bool,
    },
}

impl Fixture {
    /// The arguments of `testkit/make-kernel DIR VERSION SMP INTERMODULE LAYOUT` after
    /// DIR.
    pub fn make_kernel_args(&self) -> [String; 4] {
        [
            self.version.clone(),
            if self.smp { "y" } else { "n" }.to_string(),
            self.intermodule.as_str().to_string(),
            match &self.layout {
                Layout::Prepared => "prepared".to_string(),
                Layout::Unprepared => "unprepared".to_string(),
                Layout::Split { src, out, .. } => format!("split:{src}:{out}"),
            },
        ]
    }
}

/// make-kernel's INTERMODULE argument: how kernel/intermodule.c stands in the fixture tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Intermodule {
    /// As the release has it.
    Built,
    /// The intermodule patch applied, the kernel not rebuilt (System.map does not export it).
    Patched,
    /// Patched and rebuilt.
    BuiltPatched,
}

impl Intermodule {
    pub fn as_str(self) -> &'static str {
        match self {
            Intermodule::Built => "built",
            Intermodule::Patched => "patched",
            Intermodule::BuiltPatched => "built-patched",
        }
    }
}

/// A file fetched by URL. Without `sha512` the digest comes from the lock file, or is pinned there
/// on the first fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Download {
    pub url: String,
    pub sha512: Option<String>,
}

/// Where an entry's stage tarball comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Stage {
    Url(Download),
    /// A tarball on disk; relative paths are taken from the workspace root.
    Path {
        path: PathBuf,
        sha512: Option<String>,
    },
    /// A workspace script that builds (or reuses) the tarball and prints only its path on stdout,
    /// as testkit/make-stage does: its file name carries a hash of its inputs, so no fixed path can name
    /// it. The script also writes `<tarball>.sha512`, which is what the tarball is checked against.
    Script {
        script: PathBuf,
        /// Arguments given to the script, e.g. `["2.1.1", "no-pycrypto"]`.
        args: Vec<String>,
    },
}

impl Matrix {
    /// Reads and validates `path`; fragment and patch names are looked up under `root`, the
    /// workspace root, which is also where relative stage paths and scripts start.
    pub fn load(path: &Path, root: &Path) -> Result<Matrix> {
        let bytes = std::fs::read(path).at(path).map_err(Error::into_input)?;
        let text = crate::base::toml_input::utf8_text(&path.display().to_string(), bytes)?;
        Matrix::parse(path, &text, root)
    }

    pub fn parse(path: &Path, text: &str, root: &Path) -> Result<Matrix> {
        let raw: RawMatrix = toml_input::parse(path, text)?;
        let ctx = Ctx {
            loc: Locator::new(path, text),
            root,
        };
        ctx.matrix(path, raw)
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The lock file beside the matrix: `x.toml` -> `x.lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.path.with_extension("lock")
    }

    /// Every download of the matrix (stages and kernels), each URL once, sorted by URL.
    pub fn downloads(&self) -> Vec<&Download> {
        let mut seen = BTreeMap::new();
        for e in &self.entries {
            if let Stage::Url(d) = &e.stage {
                seen.entry(d.url.as_str()).or_insert(d);
            }
            if let Kernel::Tarball(d) = &e.kernel {
                seen.entry(d.url.as_str()).or_insert(d);
            }
        }
        seen.into_values().collect()
    }
}

#[cfg(test)]
mod tests;
