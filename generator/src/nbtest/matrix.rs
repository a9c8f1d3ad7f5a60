//! The test matrix of `nbgen test`: which stage tarball, which kernel trees and which packages to
//! build, one entry per kernel. Read from TOML (ci/matrix-local.toml, ci/matrix-era.toml), every
//! table rejecting unknown fields, then validated into the typed [`Matrix`]; every error names the
//! file, line and column of the value at fault.
//!
//! Downloads named by URL without a digest are pinned in the matrix's lock file
//! (ci/matrix-era.lock beside ci/matrix-era.toml) on their first verified fetch; see [`Lock`]. A
//! pin is never changed afterwards: a different file behind the same URL is an error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::base::error::{Error, IoContext, Result};
use crate::base::names;
use crate::base::toml_input::{self, Locator};

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    #[serde(default)]
    defaults: RawDefaults,
    /// The stage of every entry that names none of its own.
    stage: Option<Spanned<RawStage>>,
    /// A workspace script that writes stand-in distfiles into the directory it is given.
    stand_ins: Option<Spanned<String>>,
    /// A portage tree snapshot for stages that carry none (Gentoo stage3 tarballs).
    snapshot: Option<Spanned<RawStage>>,
    #[serde(default)]
    entry: Vec<RawEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    packages: Option<Vec<Spanned<String>>>,
    accept_keywords: Option<Spanned<String>>,
    #[serde(default, rename = "use")]
    use_flags: Vec<Spanned<String>>,
    profile: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    url: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    script: Option<Spanned<String>>,
    /// Arguments of a script stage (ci/make-era-stage's portage version and pycrypto choice).
    args: Option<Vec<Spanned<String>>>,
    sha512: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKernel {
    fixture: Option<RawFixture>,
    url: Option<Spanned<String>>,
    sha512: Option<Spanned<String>>,
    /// A tarball in the shared directory, with its SHA256 and the toolchain compatibility script
    /// that ci/real-kernel/prepare applies to the test copy.
    path: Option<Spanned<String>>,
    sha256: Option<Spanned<String>>,
    compat: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDistfile {
    name: Spanned<String>,
    path: Spanned<String>,
    sha256: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    #[serde(default)]
    depmod: bool,
    load_order: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    version: Spanned<String>,
    smp: bool,
    intermodule: Intermodule,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: Spanned<String>,
    kernel: Spanned<RawKernel>,
    #[serde(default)]
    fragments: Vec<Spanned<String>>,
    #[serde(default)]
    patches: Vec<Spanned<String>>,
    packages: Option<Vec<Spanned<String>>>,
    #[serde(default, rename = "use")]
    use_flags: Vec<Spanned<String>>,
    accept_keywords: Option<Spanned<String>>,
    profile: Option<Spanned<String>>,
    fixture: Option<Spanned<bool>>,
    stage: Option<Spanned<RawStage>>,
    #[serde(default)]
    require_features: Vec<Spanned<String>>,
    refuse_distfile: Option<Spanned<String>>,
    #[serde(default)]
    distfiles: Vec<Spanned<RawDistfile>>,
    checks: Option<Spanned<RawChecks>>,
}

// ---------------------------------------------------------------------------------------------
// The validated model.

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
}

/// A distfile made from a file of the shared directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedDistfile {
    /// The name the ebuilds fetch.
    pub name: String,
    /// Below the shared directory.
    pub path: PathBuf,
    pub sha256: String,
    pub repack: crate::nbtest::shared::Repack,
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
    /// A stand-in tree written by ci/ebuild-tests/make-kernel.
    Fixture(Fixture),
    /// A kernel source tarball, configured and built by `nbgen test`.
    Tarball(Download),
    /// A kernel tarball of the shared directory, prepared by ci/real-kernel/prepare.
    Shared(SharedKernel),
}

/// A real kernel tree from the shared directory. ci/real-kernel/prepare unpacks it, applies
/// `compat` to that copy, configures it from defconfig and the entry's fragments and runs
/// `make modules_prepare` in the test stage, caching the tree by a digest of those inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedKernel {
    /// Below the shared directory.
    pub path: PathBuf,
    pub sha256: String,
    /// The compatibility script, relative to the workspace root.
    pub compat: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fixture {
    /// `2.4.N` or `2.6.N`.
    pub version: String,
    pub smp: bool,
    pub intermodule: Intermodule,
}

impl Fixture {
    /// The arguments of `ci/ebuild-tests/make-kernel DIR VERSION SMP INTERMODULE` after DIR.
    pub fn make_kernel_args(&self) -> [String; 3] {
        [
            self.version.clone(),
            if self.smp { "y" } else { "n" }.to_string(),
            self.intermodule.as_str().to_string(),
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
    /// as ci/make-stage does: its file name carries a hash of its inputs, so no fixed path can name
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

static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9._-]+$").unwrap());
static FIXTURE_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^2\.[46]\.[0-9]+$").unwrap());
static SHA512: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9a-f]{128}$").unwrap());
static SHA256: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9a-f]{64}$").unwrap());
static MODULE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]+$").unwrap());
static SCRIPT_ARG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.=+-]*$").unwrap());
static FEATURE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9-]*$").unwrap());

/// The one patch make-kernel applies to a fixture tree when INTERMODULE is patched or
/// built-patched; an entry lists it so that what the report says about the tree is true.
const FIXTURE_PATCH: &str = "kernel-2.6.16-intermodule.patch";

struct Ctx<'a> {
    loc: Locator<'a>,
    root: &'a Path,
}

impl Ctx<'_> {
    fn err<T>(&self, at: &Spanned<T>, message: impl Into<String>) -> Error {
        self.loc.err(at, message)
    }

    fn matching(&self, value: &Spanned<String>, re: &Regex, what: &str) -> Result<String> {
        self.loc.matching(value, re, what)
    }

    fn matrix(&self, path: &Path, raw: RawMatrix) -> Result<Matrix> {
        let default_stage = raw.stage.as_ref().map(|s| self.stage(s)).transpose()?;
        let defaults = &raw.defaults;
        let default_packages = match &defaults.packages {
            Some(p) => Some(self.atoms(p)?),
            None => None,
        };
        let default_keywords = defaults
            .accept_keywords
            .as_ref()
            .map(|k| self.keywords(k))
            .transpose()?;
        let default_use = self.use_flags(&defaults.use_flags)?;
        let default_profile = defaults
            .profile
            .as_ref()
            .map(|p| self.profile(p))
            .transpose()?;
        if raw.entry.is_empty() {
            return Err(Error::input(
                path.display().to_string(),
                "no [[entry]]: a matrix needs at least one",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut entries = Vec::new();
        for e in &raw.entry {
            let name = self.matching(&e.name, &NAME, "entry name (want [a-z0-9._-]+)")?;
            if !seen.insert(name.clone()) {
                return Err(self.err(&e.name, format!("duplicate entry name {name:?}")));
            }
            let kernel = self.kernel(&e.kernel)?;
            let is_fixture = matches!(kernel, Kernel::Fixture(_));
            let declared = e.fixture.as_ref().is_some_and(|f| *f.get_ref());
            if is_fixture && !declared {
                return Err(self.err(
                    &e.kernel,
                    format!("entry {name:?} builds against a fixture kernel: say `fixture = true`"),
                ));
            }
            if !is_fixture && declared {
                let at = e.fixture.as_ref().expect("declared");
                return Err(self.err(
                    at,
                    format!(
                        "entry {name:?} has a real kernel (url or path): `fixture = true` would be false"
                    ),
                ));
            }
            // The name is what people read in reports and CI: it must not hide what the tree is.
            if is_fixture != name.contains("fixture") {
                let why = if is_fixture {
                    "a fixture kernel entry's name must contain \"fixture\""
                } else {
                    "only fixture kernel entries may have \"fixture\" in their name"
                };
                return Err(self.err(&e.name, format!("entry {name:?}: {why}")));
            }
            let fragments = e
                .fragments
                .iter()
                .map(|f| self.file_in(f, "kernel-fragments"))
                .collect::<Result<Vec<_>>>()?;
            let patches = e
                .patches
                .iter()
                .map(|p| self.file_in(p, "patches"))
                .collect::<Result<Vec<_>>>()?;
            if let Kernel::Fixture(f) = &kernel {
                let patched = matches!(
                    f.intermodule,
                    Intermodule::Patched | Intermodule::BuiltPatched
                );
                let want: &[&str] = if patched { &[FIXTURE_PATCH] } else { &[] };
                if patches != want {
                    let want = format!("patches = {want:?}");
                    return Err(self.err(
                        &e.kernel,
                        format!(
                            "entry {name:?}: make-kernel gives a fixture with intermodule = {:?} exactly {want}",
                            f.intermodule.as_str()
                        ),
                    ));
                }
            }
            if matches!(kernel, Kernel::Shared(_)) {
                if let Some(p) = e.patches.first() {
                    return Err(self.err(
                        p,
                        format!("entry {name:?}: ci/real-kernel/prepare applies no patches to a shared kernel tarball"),
                    ));
                }
            }
            let distfiles = self.distfiles(&e.distfiles)?;
            let checks = match &e.checks {
                Some(c) => self.checks(c)?,
                None => Checks::default(),
            };
            let packages = match (&e.packages, &default_packages) {
                (Some(p), _) => self.atoms(p)?,
                (None, Some(p)) => p.clone(),
                (None, None) => {
                    return Err(self.err(
                        &e.name,
                        format!(
                            "entry {name:?} has no packages: set packages here or in [defaults]"
                        ),
                    ))
                }
            };
            if packages.is_empty() {
                return Err(self.err(&e.name, format!("entry {name:?} has an empty package list")));
            }
            let mut use_flags = default_use.clone();
            use_flags.extend(self.use_flags(&e.use_flags)?);
            let accept_keywords = match &e.accept_keywords {
                Some(k) => Some(self.keywords(k)?),
                None => default_keywords.clone(),
            };
            let profile = match (&e.profile, &default_profile) {
                (Some(p), _) => self.profile(p)?,
                (None, Some(p)) => p.clone(),
                (None, None) => {
                    return Err(self.err(
                        &e.name,
                        format!("entry {name:?} has no profile: set profile here or in [defaults]"),
                    ))
                }
            };
            let stage = match (&e.stage, &default_stage) {
                (Some(s), _) => self.stage(s)?,
                (None, Some(s)) => s.clone(),
                (None, None) => {
                    return Err(self.err(
                        &e.name,
                        format!(
                            "entry {name:?} has no stage: add [entry.stage] or a top-level [stage]"
                        ),
                    ))
                }
            };
            let require_features = e
                .require_features
                .iter()
                .map(|f| self.matching(f, &FEATURE, "FEATURES token (want [a-z0-9-]+)"))
                .collect::<Result<Vec<_>>>()?;
            let refuse_distfile = e
                .refuse_distfile
                .as_ref()
                .map(|f| self.matching(f, &names::FILE_NAME, "refuse_distfile (a distfile name)"))
                .transpose()?;
            entries.push(Entry {
                location: self.loc.of(&e.name),
                name,
                kernel,
                fragments,
                patches,
                packages,
                use_flags,
                accept_keywords,
                profile,
                stage,
                fixture: is_fixture,
                require_features,
                refuse_distfile,
                distfiles,
                checks,
            });
        }
        let stand_ins = match &raw.stand_ins {
            Some(script) => {
                let rel = PathBuf::from(script.get_ref());
                // Whether it exists is checked when `nbgen test` runs it, so that a matrix can be
                // read (for `nbgen ci github`) in a copy of the workspace without ci/.
                if rel.is_absolute() {
                    return Err(self.err(
                        script,
                        format!(
                            "stand_ins: {:?} must be a path inside the workspace",
                            script.get_ref()
                        ),
                    ));
                }
                Some(rel)
            }
            None => None,
        };
        let snapshot = match &raw.snapshot {
            None => None,
            Some(s) => match self.stage(s)? {
                Stage::Url(d) => Some(d),
                _ => {
                    return Err(self.err(s, "snapshot: give it as url = \"...\" (sha512 optional)"))
                }
            },
        };
        Ok(Matrix {
            path: path.to_path_buf(),
            entries,
            stand_ins,
            snapshot,
        })
    }

    fn atoms(&self, values: &[Spanned<String>]) -> Result<Vec<String>> {
        let what = "package atom (want cat/pkg, or an operator with cat/pkg-version)";
        values
            .iter()
            .map(|v| {
                let atom = self.matching(v, &names::ATOM, what)?;
                // Without an operator a version is not allowed, and a name ending in one is not a
                // name (PMS 3.1.2): portage would refuse `cat/pkg-8` as an atom.
                let plain = !atom.starts_with(['<', '>', '=', '~']);
                let unslotted = atom.split(':').next().unwrap_or_default();
                if plain && names::NAME_VERSION_TAIL.is_match(unslotted) {
                    return Err(self.err(v, format!("invalid {what} {atom:?}")));
                }
                Ok(atom)
            })
            .collect()
    }

    fn use_flags(&self, values: &[Spanned<String>]) -> Result<Vec<String>> {
        values
            .iter()
            .map(|v| self.matching(v, &names::USE_SETTING, "USE flag"))
            .collect()
    }

    fn keywords(&self, value: &Spanned<String>) -> Result<String> {
        let tokens: Vec<&str> = value.get_ref().split_whitespace().collect();
        if tokens.is_empty() {
            return Err(self.err(value, "accept_keywords is empty"));
        }
        if let Some(bad) = tokens.iter().find(|t| !names::ACCEPT_KEYWORD.is_match(t)) {
            return Err(self.err(value, format!("invalid keyword {bad:?} in accept_keywords")));
        }
        Ok(tokens.join(" "))
    }

    fn profile(&self, value: &Spanned<String>) -> Result<String> {
        // Components cannot start with a dot, so `..` cannot climb out of profiles/.
        self.matching(value, &names::PROFILE, "profile (a path below profiles/)")
    }

    /// A plain file name that must exist in `dir` under the workspace root.
    fn file_in(&self, name: &Spanned<String>, dir: &str) -> Result<String> {
        let n = name.get_ref();
        if !names::FILE_NAME.is_match(n) {
            return Err(self.err(
                name,
                format!("invalid file name {n:?} (a plain name in {dir}/)"),
            ));
        }
        let path = self.root.join(dir).join(n);
        if !path.is_file() {
            return Err(self.err(name, format!("no file {dir}/{n}")));
        }
        Ok(n.clone())
    }

    fn sha512(&self, value: &Option<Spanned<String>>) -> Result<Option<String>> {
        let Some(v) = value else { return Ok(None) };
        if SHA512.is_match(v.get_ref()) {
            Ok(Some(v.get_ref().clone()))
        } else {
            Err(self.err(
                v,
                format!(
                    "sha512 must be 128 lowercase hex digits, got {} characters",
                    v.get_ref().len()
                ),
            ))
        }
    }

    fn url(&self, value: &Spanned<String>) -> Result<String> {
        let u = value.get_ref();
        match reqwest::Url::parse(u) {
            Ok(parsed) if matches!(parsed.scheme(), "https" | "http") && parsed.has_host() => {
                Ok(u.clone())
            }
            Ok(_) => Err(self.err(value, format!("url {u:?} must be http:// or https://"))),
            Err(e) => Err(self.err(value, format!("invalid url {u:?}: {e}"))),
        }
    }

    fn stage(&self, s: &Spanned<RawStage>) -> Result<Stage> {
        let raw = s.get_ref();
        let sha512 = self.sha512(&raw.sha512)?;
        if let (Some(args), None) = (&raw.args, &raw.script) {
            let at = args
                .first()
                .map_or_else(|| self.loc.of(s), |a| self.loc.of(a));
            return Err(Error::input(
                at,
                "args: only a script stage takes arguments",
            ));
        }
        match (&raw.url, &raw.path, &raw.script) {
            (Some(u), None, None) => Ok(Stage::Url(Download {
                url: self.url(u)?,
                sha512,
            })),
            (None, Some(p), None) => Ok(Stage::Path {
                path: self.root.join(p.get_ref()),
                sha512,
            }),
            (None, None, Some(script)) => {
                if let Some(d) = &raw.sha512 {
                    return Err(self.err(
                        d,
                        "a script stage has no fixed digest: it is checked against the .sha512 file the script writes",
                    ));
                }
                let path = self.root.join(script.get_ref());
                if !path.is_file() {
                    return Err(self.err(
                        script,
                        format!("no script {} in the workspace", script.get_ref()),
                    ));
                }
                let args = raw
                    .args
                    .iter()
                    .flatten()
                    .map(|a| {
                        self.matching(a, &SCRIPT_ARG, "script argument (want [A-Za-z0-9_.=+-])")
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Stage::Script { script: path, args })
            }
            _ => Err(self.err(s, "a stage needs exactly one of url, path or script")),
        }
    }

    /// A relative path below the shared directory: plain components only, so it cannot climb out.
    fn shared_path(&self, value: &Spanned<String>) -> Result<PathBuf> {
        self.matching(
            value,
            &names::RELATIVE_PATH,
            "path (a relative path below the shared directory, NB_SHARED)",
        )
        .map(PathBuf::from)
    }

    fn sha256(&self, value: &Spanned<String>) -> Result<String> {
        let v = value.get_ref();
        if SHA256.is_match(v) {
            Ok(v.clone())
        } else {
            Err(self.err(
                value,
                format!(
                    "sha256 must be 64 lowercase hex digits, got {} characters",
                    v.len()
                ),
            ))
        }
    }

    fn distfiles(&self, raw: &[Spanned<RawDistfile>]) -> Result<Vec<SharedDistfile>> {
        let mut seen = BTreeSet::new();
        raw.iter()
            .map(|d| {
                let r = d.get_ref();
                let name = self.matching(&r.name, &names::FILE_NAME, "distfile name")?;
                if !seen.insert(name.clone()) {
                    return Err(self.err(&r.name, format!("distfile {name:?} is named twice")));
                }
                let path = self.shared_path(&r.path)?;
                let repack = crate::nbtest::shared::repack(r.path.get_ref(), &name).ok_or_else(|| {
                    self.err(
                        &r.path,
                        format!(
                            "cannot make {name:?} from {:?}: nbgen copies a tarball of the same compression, or turns .tar.xz into .tgz/.tar.gz",
                            r.path.get_ref()
                        ),
                    )
                })?;
                Ok(SharedDistfile {
                    name,
                    path,
                    sha256: self.sha256(&r.sha256)?,
                    repack,
                })
            })
            .collect()
    }

    fn checks(&self, c: &Spanned<RawChecks>) -> Result<Checks> {
        let raw = c.get_ref();
        let load_order =
            match &raw.load_order {
                None => Vec::new(),
                Some(list) if list.get_ref().is_empty() => return Err(self.err(
                    list,
                    "load_order is empty: name the modules modprobe loads, the one asked for last",
                )),
                Some(list) => list
                    .get_ref()
                    .iter()
                    .map(|m| self.matching(m, &MODULE, "module name (want [A-Za-z0-9_-]+)"))
                    .collect::<Result<_>>()?,
            };
        let checks = Checks {
            depmod: raw.depmod,
            load_order,
        };
        if checks.is_empty() {
            return Err(self.err(
                c,
                "checks asks for nothing: set depmod = true or load_order = [...]",
            ));
        }
        Ok(checks)
    }

    fn kernel(&self, k: &Spanned<RawKernel>) -> Result<Kernel> {
        let raw = k.get_ref();
        if raw.path.is_none() {
            for (field, value) in [("sha256", &raw.sha256), ("compat", &raw.compat)] {
                if let Some(v) = value {
                    return Err(self.err(
                        v,
                        format!("{field} belongs to a kernel from the shared directory (path = \"...\")"),
                    ));
                }
            }
        }
        match (&raw.fixture, &raw.url, &raw.path) {
            (None, None, Some(p)) => {
                if let Some(d) = &raw.sha512 {
                    return Err(self.err(
                        d,
                        "a kernel from the shared directory is checked by sha256 (shared/real/SHA256SUMS), not sha512",
                    ));
                }
                let path = self.shared_path(p)?;
                let sha256 = match &raw.sha256 {
                    Some(s) => self.sha256(s)?,
                    None => {
                        return Err(self.err(
                            p,
                            "a kernel from the shared directory needs its sha256 (from shared/real/SHA256SUMS)",
                        ))
                    }
                };
                let compat = match &raw.compat {
                    Some(c) => {
                        let rel = self.matching(c, &names::RELATIVE_PATH, "compat (a script in the workspace)")?;
                        if !self.root.join(&rel).is_file() {
                            return Err(self.err(c, format!("no script {rel} in the workspace")));
                        }
                        PathBuf::from(rel)
                    }
                    None => {
                        return Err(self.err(
                            p,
                            "a kernel from the shared directory needs compat = \"...\": the script ci/real-kernel/prepare applies to the tree for today's toolchain",
                        ))
                    }
                };
                Ok(Kernel::Shared(SharedKernel {
                    path,
                    sha256,
                    compat,
                }))
            }
            (Some(f), None, None) => {
                if let Some(d) = &raw.sha512 {
                    return Err(
                        self.err(d, "a fixture kernel is written locally: it has no sha512")
                    );
                }
                let version = self.matching(
                    &f.version,
                    &FIXTURE_VERSION,
                    "fixture version (want 2.4.N or 2.6.N)",
                )?;
                let is_26_16_or_17 = version == "2.6.16" || version == "2.6.17";
                if f.intermodule != Intermodule::Built && !is_26_16_or_17 {
                    return Err(self.err(
                        &f.version,
                        format!(
                            "intermodule = {:?} is for 2.6.16 and 2.6.17 only (make-kernel patches those)",
                            f.intermodule.as_str()
                        ),
                    ));
                }
                Ok(Kernel::Fixture(Fixture {
                    version,
                    smp: f.smp,
                    intermodule: f.intermodule,
                }))
            }
            (None, Some(u), None) => Ok(Kernel::Tarball(Download {
                url: self.url(u)?,
                sha512: self.sha512(&raw.sha512)?,
            })),
            _ => Err(self.err(k, "a kernel needs exactly one of fixture, url or path")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The lock file.

/// The digests of downloads the matrix names without one, pinned on their first verified fetch.
/// Kept sorted by URL; an existing pin is never changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    path: PathBuf,
    pins: BTreeMap<String, Pin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub url: String,
    pub sha512: String,
    pub size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLock {
    #[serde(default)]
    pin: Vec<Spanned<Pin>>,
}

/// What [`Lock::pin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    Added,
    /// The same digest and size were pinned already.
    Unchanged,
}

impl Lock {
    /// Reads `path`; a lock file that does not exist yet is an empty one.
    pub fn load(path: &Path) -> Result<Lock> {
        let text = match std::fs::read(path) {
            Ok(b) => crate::base::toml_input::utf8_text(&path.display().to_string(), b)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(path, e)),
        };
        let loc = Locator::new(path, &text);
        let raw: RawLock = toml_input::parse(path, &text)?;
        let mut pins = BTreeMap::new();
        for p in raw.pin {
            let at = loc.of(&p);
            let pin = p.into_inner();
            if !SHA512.is_match(&pin.sha512) {
                return Err(Error::input(
                    at,
                    format!(
                        "pin of {}: sha512 must be 128 lowercase hex digits",
                        pin.url
                    ),
                ));
            }
            if pins.contains_key(&pin.url) {
                return Err(Error::input(at, format!("{} is pinned twice", pin.url)));
            }
            pins.insert(pin.url.clone(), pin);
        }
        Ok(Lock {
            path: path.to_path_buf(),
            pins,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, url: &str) -> Option<&Pin> {
        self.pins.get(url)
    }

    pub fn pins(&self) -> impl Iterator<Item = &Pin> {
        self.pins.values()
    }

    /// The SHA512 a download must have: the matrix's own, else the pinned one, else None (the first
    /// fetch pins it). A matrix digest that contradicts the pin is an error.
    pub fn expected(&self, d: &Download) -> Result<Option<String>> {
        match (&d.sha512, self.pins.get(&d.url)) {
            (Some(m), Some(p)) if *m != p.sha512 => Err(Error::input(
                self.path.display().to_string(),
                format!(
                    "{}: the matrix says sha512 {m}, the lock pins {}; one of them is wrong, and a pin is never silently changed",
                    d.url, p.sha512
                ),
            )),
            (Some(m), _) => Ok(Some(m.clone())),
            (None, Some(p)) => Ok(Some(p.sha512.clone())),
            (None, None) => Ok(None),
        }
    }

    /// Records `url`'s digest and size. Pinning what is pinned already is fine; anything else for a
    /// pinned URL is refused, naming both digests: a pin is never silently changed.
    pub fn pin(&mut self, url: &str, sha512: &str, size: u64) -> Result<Pinned> {
        if !SHA512.is_match(sha512) {
            return Err(Error::input(
                url,
                format!("refusing to pin sha512 {sha512:?}: not 128 lowercase hex digits"),
            ));
        }
        if let Some(old) = self.pins.get(url) {
            if old.sha512 == sha512 && old.size == size {
                return Ok(Pinned::Unchanged);
            }
            return Err(Error::input(
                self.path.display().to_string(),
                format!(
                    "{url} is pinned to sha512 {} ({} bytes) but the file fetched now has sha512 {sha512} ({size} bytes); \
                     a pin is never silently changed: find out why the file changed, and if the new one is right, \
                     delete its [[pin]] from {} by hand",
                    old.sha512,
                    old.size,
                    self.path.display()
                ),
            ));
        }
        self.pins.insert(
            url.to_string(),
            Pin {
                url: url.to_string(),
                sha512: sha512.to_string(),
                size,
            },
        );
        Ok(Pinned::Added)
    }

    /// The file as [`Lock::save`] writes it: a header, then one `[[pin]]` per URL in URL order.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# Written by nbgen: the SHA512 and size of each download the matrix names without a\n\
             # digest, pinned on its first verified fetch. Sorted by URL. nbgen never changes a pin;\n\
             # if a file behind a URL changes, it stops, and a person decides.\n",
        );
        for p in self.pins.values() {
            let _ = write!(
                out,
                "\n[[pin]]\nurl = {}\nsha512 = \"{}\"\nsize = {}\n",
                toml::Value::String(p.url.clone()),
                p.sha512,
                p.size
            );
        }
        out
    }

    /// Writes the lock file through a temporary file and one rename.
    pub fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        crate::base::atomic::write(&self.path, self.to_toml().as_bytes())
    }
}

#[cfg(test)]
mod tests;
