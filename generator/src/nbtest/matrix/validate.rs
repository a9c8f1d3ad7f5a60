//! From the matrix as written to the typed [`Matrix`](super::Matrix): every value checked, every
//! error at its file, line and column.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use toml::Spanned;

use super::raw::*;
use super::*;
use crate::base::error::{Error, Result};
use crate::base::names;
use crate::base::toml_input::Locator;
use crate::nbtest::shared_inputs::table;

pub(super) static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9._-]+$").unwrap());
static MODULE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]+$").unwrap());
static SCRIPT_ARG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.=+-]*$").unwrap());
pub(super) static FEATURE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9-]*$").unwrap());

/// The one patch make-kernel applies to a fixture tree when INTERMODULE is patched or
/// built-patched; an entry lists it so that what the report says about the tree is true.
const FIXTURE_PATCH: &str = "kernel-2.6.16-intermodule.patch";

/// The validated [defaults] and top-level [stage].
#[derive(Clone)]
pub(super) struct Defaults {
    pub(super) stage: Option<Stage>,
    packages: Option<Vec<String>>,
    keywords: Option<String>,
    use_flags: Vec<String>,
    profile: Option<String>,
}

pub(super) struct Ctx<'a> {
    pub(super) loc: Locator<'a>,
    pub(super) root: &'a Path,
}

impl Ctx<'_> {
    pub(super) fn err<T>(&self, at: &Spanned<T>, message: impl Into<String>) -> Error {
        self.loc.err(at, message)
    }

    pub(super) fn matching(
        &self,
        value: &Spanned<String>,
        re: &Regex,
        what: &str,
    ) -> Result<String> {
        self.loc.matching(value, re, what)
    }

    pub(super) fn matrix(&self, path: &Path, raw: RawMatrix) -> Result<Matrix> {
        let defaults = self.defaults(&raw)?;
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
            if raw.variant.is_empty() {
                entries.push(self.entry(e, &defaults)?);
            } else {
                entries.extend(self.entry_variants(e, &raw.variant, &defaults)?);
            }
        }
        Ok(Matrix {
            path: path.to_path_buf(),
            entries,
            stand_ins: self.stand_ins(&raw)?,
            snapshot: self.snapshot(&raw)?,
        })
    }

    /// What every entry gets unless it says otherwise: [defaults] and the top-level [stage].
    fn defaults(&self, raw: &RawMatrix) -> Result<Defaults> {
        let d = &raw.defaults;
        self.variant_rules(raw)?;
        Ok(Defaults {
            stage: raw.stage.as_ref().map(|s| self.stage(s)).transpose()?,
            packages: d.packages.as_ref().map(|p| self.atoms(p)).transpose()?,
            keywords: d
                .accept_keywords
                .as_ref()
                .map(|k| self.keywords(k))
                .transpose()?,
            use_flags: self.use_flags(&d.use_flags)?,
            profile: d.profile.as_ref().map(|p| self.profile(p)).transpose()?,
        })
    }

    pub(super) fn entry(&self, e: &RawEntry, d: &Defaults) -> Result<Entry> {
        let name = self.matching(&e.name, &NAME, "entry name (want [a-z0-9._-]+)")?;
        let kernel = self.kernel(&e.kernel)?;
        let is_fixture = self.fixture_rules(&name, e, &kernel)?;
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
        self.patch_rules(&name, e, &kernel, &patches)?;
        let distfiles = self.distfiles(&e.distfiles)?;
        let checks = match &e.checks {
            Some(c) => self.checks(c)?,
            None => Checks::default(),
        };
        let (expect, setup) = self.expect_and_setup(e)?;
        let config = self.config(e, expect.as_ref())?;
        let (packages, steps) = self.packages_and_steps(e, d, &name)?;
        let overlay = self.overlay_kind(e)?;
        let mut use_flags = d.use_flags.clone();
        use_flags.extend(self.use_flags(&e.use_flags)?);
        let accept_keywords = match &e.accept_keywords {
            Some(k) => Some(self.keywords(k)?),
            None => d.keywords.clone(),
        };
        let profile = self.own_or_default(
            e,
            e.profile.as_ref().map(|p| self.profile(p)),
            &d.profile,
            "profile: set profile here or in [defaults]",
        )?;
        let stage = self.own_or_default(
            e,
            e.stage.as_ref().map(|s| self.stage(s)),
            &d.stage,
            "stage: add [entry.stage] or a top-level [stage]",
        )?;
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
        Ok(Entry {
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
            expect,
            setup,
            config,
            steps,
            overlay,
        })
    }

    /// The entry's packages (its own or the defaults') and steps: at least one of them.
    fn packages_and_steps(
        &self,
        e: &RawEntry,
        d: &Defaults,
        name: &str,
    ) -> Result<(Vec<String>, Vec<super::Step>)> {
        let packages = self.own_or_default(
            e,
            e.packages.as_ref().map(|p| self.atoms(p)),
            &d.packages,
            "packages: set packages here or in [defaults]",
        )?;
        let steps = self.steps(e)?;
        if packages.is_empty() && steps.is_empty() {
            return Err(self.err(
                &e.name,
                format!("entry {name:?} has an empty package list and no steps"),
            ));
        }
        Ok((packages, steps))
    }

    /// The entry's own value (already checked), else the default, else an error saying the entry
    /// has no `what`.
    fn own_or_default<T: Clone>(
        &self,
        e: &RawEntry,
        own: Option<Result<T>>,
        default: &Option<T>,
        what: &str,
    ) -> Result<T> {
        match (own, default) {
            (Some(v), _) => v,
            (None, Some(v)) => Ok(v.clone()),
            (None, None) => Err(self.err(
                &e.name,
                format!("entry {:?} has no {what}", e.name.get_ref()),
            )),
        }
    }

    /// A fixture kernel must be declared (`fixture = true`) and named (its name holds "fixture"),
    /// and a real one must be neither: reports must not hide what the tree is. Returns whether it
    /// is a fixture.
    fn fixture_rules(&self, name: &str, e: &RawEntry, kernel: &Kernel) -> Result<bool> {
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
        Ok(is_fixture)
    }

    /// A fixture gets exactly the patch its intermodule state needs; a shared kernel gets none.
    fn patch_rules(
        &self,
        name: &str,
        e: &RawEntry,
        kernel: &Kernel,
        patches: &[String],
    ) -> Result<()> {
        if let Kernel::Fixture(f) = kernel {
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
                    format!("entry {name:?}: testkit/real-kernel/prepare applies no patches to a shared kernel tarball"),
                ));
            }
        }
        Ok(())
    }

    fn stand_ins(&self, raw: &RawMatrix) -> Result<Option<PathBuf>> {
        Ok(match &raw.stand_ins {
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
        })
    }

    fn snapshot(&self, raw: &RawMatrix) -> Result<Option<Download>> {
        Ok(match &raw.snapshot {
            None => None,
            Some(s) => match self.stage(s)? {
                Stage::Url(d) => Some(d),
                _ => {
                    return Err(self.err(s, "snapshot: give it as url = \"...\" (sha512 optional)"))
                }
            },
        })
    }

    pub(super) fn atoms(&self, values: &[Spanned<String>]) -> Result<Vec<String>> {
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
        self.loc
            .tokens(value, &names::ACCEPT_KEYWORD, "accept_keywords", "keyword")
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

    pub(super) fn stage(&self, s: &Spanned<RawStage>) -> Result<Stage> {
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
    /// A path below the shared directory that the shared inputs table lists (its digest is there).
    fn shared_path(&self, value: &Spanned<String>) -> Result<PathBuf> {
        let rel = self.matching(
            value,
            &names::RELATIVE_PATH,
            "path (a relative path below the shared directory, NB_SHARED)",
        )?;
        let table = crate::nbtest::shared_inputs::table::load(&self.root.join(table::TABLE))?;
        if table::find(&table, &rel).is_err() {
            return Err(self.err(
                value,
                format!(
                    "{rel} is not in {}: list it there with its sources and content digest",
                    table::TABLE
                ),
            ));
        }
        Ok(PathBuf::from(rel))
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
                let repack = crate::nbtest::shared_inputs::repack(r.path.get_ref(), &name).ok_or_else(|| {
                    self.err(
                        &r.path,
                        format!(
                            "cannot make {name:?} from {:?}: nbgen copies a tarball of the same compression, or turns .tar.xz into .tgz/.tar.gz",
                            r.path.get_ref()
                        ),
                    )
                })?;
                Ok(SharedDistfile { name, path, repack })
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
            if let Some(v) = &raw.compat {
                return Err(self.err(
                    v,
                    "compat belongs to a kernel from the shared directory (path = \"...\")",
                ));
            }
        }
        match (&raw.fixture, &raw.url, &raw.path) {
            (None, None, Some(p)) => self.shared_kernel(raw, p),
            (Some(f), None, None) => self.fixture_kernel(raw, f),
            (None, Some(u), None) => Ok(Kernel::Tarball(Download {
                url: self.url(u)?,
                sha512: self.sha512(&raw.sha512)?,
            })),
            _ => Err(self.err(k, "a kernel needs exactly one of fixture, url or path")),
        }
    }

    /// A kernel tarball of the shared directory: its path there (its digest is the shared inputs
    /// table's) and the compat script.
    fn shared_kernel(&self, raw: &RawKernel, p: &Spanned<String>) -> Result<Kernel> {
        if let Some(d) = &raw.sha512 {
            return Err(self.err(
                d,
                "a kernel from the shared directory is checked by its content digest in ci/shared-inputs.toml, not sha512",
            ));
        }
        let path = self.shared_path(p)?;
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
                    "a kernel from the shared directory needs compat = \"...\": the script testkit/real-kernel/prepare applies to the tree for today's toolchain",
                ))
            }
        };
        Ok(Kernel::Shared(SharedKernel { path, compat }))
    }
}
