//! `nbgen test`: builds the overlay's packages in throwaway containers made from a stage tarball,
//! one matrix entry per kernel, in parallel, and reports per entry what passed, with the logs.
//!
//! For every entry: the stage is fetched (verified) and made an image once per digest; the kernel
//! tree is prepared (a fixture written by ci/ebuild-tests/make-kernel, a kernel.org tarball
//! unpacked, patched and configured from the fragments, or a real tarball of the shared directory
//! readied by ci/real-kernel/prepare); then a container without network gets the overlay
//! read-only, the distfiles (an entry with real distfiles gets its own overlay copy pinning them)
//! and the kernel tree, emerges the entry's packages and runs the entry's checks of the installed
//! modules. An entry whose inputs are unchanged since it last passed is not run again.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use regex::Regex;
use sha2::{Digest, Sha512};

use crate::base::error::{Error, IoContext, Result};
use crate::base::workspace::Workspace;
use crate::nbtest::engine::{self, Engine, Image, Mount};
use crate::nbtest::fetch::Fetcher;
use crate::nbtest::matrix::{Entry, Kernel, Lock, Matrix};
use crate::nbtest::report::{
    self, CheckResult, EntryResult, Failure, Outcome, PackageResult, Status,
};
use crate::nbtest::shared::{self, Local};
use crate::nbtest::stage::{fetch_download, resolve_stage, run_checked, unpack_snapshot, Resolved};
use crate::regen::manifest;
use crate::regen::render;
use crate::regen::tree;

/// The script that writes fixture kernel trees.
const MAKE_KERNEL: &str = "ci/ebuild-tests/make-kernel";
/// The build script of every entry, rendered for it (generator/templates/nbtest/entry.sh).
const SCRIPT_TEMPLATE: &str = "nbtest/entry.sh";
/// The kernel/Makefile copies that make-kernel puts in fixture trees of 2.6.16 to 2.6.18.
const FIXTURE_MAKEFILES: &str = "generator/tests/fixtures/kernel";

/// The script that prepares a real kernel tree from the shared directory (cached by its inputs).
const PREPARE_REAL_KERNEL: &str = "ci/real-kernel/prepare";

pub struct Options {
    pub matrix: PathBuf,
    /// Entries to run; empty means all.
    pub entries: Vec<String>,
    pub jobs: usize,
    pub engine: Option<engine::Kind>,
    pub results: PathBuf,
    pub cache: PathBuf,
    /// Test this overlay instead of the one the spec generates (used to prove that a broken
    /// ebuild fails its entry).
    pub overlay: Option<PathBuf>,
    /// Run entries even when their inputs are unchanged since they passed.
    pub force: bool,
}

/// What `run` hands back: the results, and where the reports went.
pub struct Run {
    pub results: Vec<EntryResult>,
    pub results_dir: PathBuf,
}

pub fn run(ws: &Workspace, opts: &Options) -> Result<Run> {
    // Scripts run in the workspace root and engines take relative paths for volume names: from
    // here on every path is absolute.
    let absolute = |p: &Path| std::path::absolute(p).at(p);
    let opts = &Options {
        matrix: absolute(&opts.matrix)?,
        results: absolute(&opts.results)?,
        cache: absolute(&opts.cache)?,
        overlay: opts.overlay.as_deref().map(absolute).transpose()?,
        entries: opts.entries.clone(),
        ..*opts
    };
    let matrix = Matrix::load(&opts.matrix, &ws.root)?;
    let entries = select(&matrix, &opts.entries)?;
    fs::create_dir_all(&opts.results).at(&opts.results)?;
    let engine = Engine::detect(opts.engine, &opts.cache)?;
    eprintln!(
        "nbgen test: engine {}, {} entries, {} at a time",
        engine.kind,
        entries.len(),
        opts.jobs
    );
    let fetcher = Fetcher::new(
        opts.cache.join("files"),
        crate::nbtest::fetch::Options::default(),
    );
    let mut lock = Lock::load(&matrix.lock_path())?;

    // Stand-in distfiles first: the overlay under test pins them.
    let distdir = opts.results.join(".distfiles");
    let _ = fs::remove_dir_all(&distdir);
    fs::create_dir_all(&distdir).at(&distdir)?;
    let stand_ins = match &matrix.stand_ins {
        Some(script) => make_stand_ins(ws, script, &distdir)?,
        None => BTreeMap::new(),
    };
    let overlay_dir = match &opts.overlay {
        Some(dir) => dir.clone(),
        None => {
            let dir = opts.results.join(".overlay");
            write_test_overlay(ws, &stand_ins, &BTreeMap::new(), &dir)?;
            dir
        }
    };
    let overlay_hash = tree_hash(&tree::read(&overlay_dir)?);

    // What the entries build on is acquired first, where the lock file can be written. A failure
    // here fails the entries that need it (its phase: fetch-stage, import-stage, fetch-kernel,
    // fetch-snapshot), not the run: every entry still gets a result and the reports are written.
    // One image per distinct stage; a stage whose sources cannot be had skips its entries (the
    // inner Err, its reason).
    let mut images: BTreeMap<String, Acquired<StageImage>> = BTreeMap::new();
    for entry in &entries {
        let key = format!("{:?}", entry.stage);
        if images.contains_key(&key) {
            continue;
        }
        let image = match resolve_stage(ws, &entry.stage, &fetcher, &mut lock) {
            Err(e) => Err(Lacking::new("fetch-stage", e)),
            Ok(Resolved::Ready { tarball, sha512 }) => {
                eprintln!(
                    "nbgen test: stage {} (sha512 {}...)",
                    tarball.display(),
                    &sha512[..16]
                );
                engine
                    .prepare(&tarball, &sha512)
                    .map(|image| Ok((image, sha512)))
                    .map_err(|e| Lacking::new("import-stage", e))
            }
            Ok(Resolved::Unavailable { reason }) => {
                eprintln!("nbgen test: SKIPPED: the stage of {}: {reason}", entry.name);
                Ok(Err(reason))
            }
        };
        images.insert(key, image);
    }
    let mut kernels: BTreeMap<String, Acquired<PathBuf>> = BTreeMap::new();
    for entry in &entries {
        if let Kernel::Tarball(d) = &entry.kernel {
            if !kernels.contains_key(&d.url) {
                let path = fetch_download(d, &fetcher, &mut lock)
                    .map(|(path, _)| path)
                    .map_err(|e| Lacking::new("fetch-kernel", e));
                kernels.insert(d.url.clone(), path);
            }
        }
    }
    // A portage tree for stages that carry none: unpacked once per digest, mounted read-only.
    let snapshot = matrix.snapshot.as_ref().map(|d| {
        fetch_download(d, &fetcher, &mut lock)
            .and_then(|(tarball, sha512)| unpack_snapshot(&tarball, &sha512, &opts.cache))
            .map_err(|e| Lacking::new("fetch-snapshot", e))
    });
    lock.save()?;
    // Files of the shared directory, checked against their SHA256 here: a mismatch fails the
    // entry (phase shared-file), a missing file skips it with the reason.
    let shared_dir = shared::dir(&ws.root);
    let mut locals: BTreeMap<String, Acquired<Locals>> = BTreeMap::new();
    for entry in &entries {
        let acquired = acquire_locals(
            ws,
            entry,
            &shared_dir,
            &stand_ins,
            &distdir,
            &opts.results,
            opts.overlay.is_none(),
        )
        .map_err(|e| Lacking::new("shared-file", e));
        if let Ok(Err(reason)) = &acquired {
            eprintln!("nbgen test: SKIPPED: {}: {reason}", entry.name);
        }
        locals.insert(entry.name.clone(), acquired);
    }

    let progress = MultiProgress::new();
    let queue = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<EntryResult>>> = Mutex::new(vec![None; entries.len()]);
    let ctx = EntryCtx {
        ws,
        engine: &engine,
        kernels: &kernels,
        snapshot: snapshot.as_ref(),
        overlay_dir: &overlay_dir,
        overlay_hash: &overlay_hash,
        distdir: &distdir,
        results_dir: &opts.results,
        cache: &opts.cache,
        force: opts.force,
    };
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1).min(entries.len().max(1)) {
            scope.spawn(|| loop {
                let i = queue.fetch_add(1, Ordering::SeqCst);
                let Some(entry) = entries.get(i) else { break };
                let bar = progress.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]").unwrap(),
                );
                bar.set_prefix(entry.name.clone());
                bar.enable_steady_tick(Duration::from_millis(200));
                // A shared file with wrong bytes fails the entry whatever else is missing.
                let result = match (&images[&format!("{:?}", entry.stage)], &locals[&entry.name]) {
                    (_, Err(lacking)) | (Err(lacking), _) => ctx.not_run(entry, lacking),
                    (Ok(Err(reason)), _) | (_, Ok(Err(reason))) => {
                        EntryResult::skipped(&entry.name, &entry.packages, reason)
                    }
                    (Ok(Ok((image, stage_sha))), Ok(Ok(local))) => {
                        ctx.run_entry(entry, local, image, stage_sha, &bar)
                    }
                };
                bar.finish_with_message(result.status.as_str().to_string());
                results.lock().unwrap()[i] = Some(result);
            });
        }
    });
    let results: Vec<EntryResult> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every entry ran"))
        .collect();
    report::write(&opts.results, &opts.matrix.display().to_string(), &results)?;
    Ok(Run {
        results,
        results_dir: opts.results.clone(),
    })
}

fn select<'a>(matrix: &'a Matrix, names: &[String]) -> Result<Vec<&'a Entry>> {
    if names.is_empty() {
        return Ok(matrix.entries.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            matrix.entry(n).ok_or_else(|| {
                let known: Vec<&str> = matrix.entries.iter().map(|e| e.name.as_str()).collect();
                Error::input(
                    matrix.path.display().to_string(),
                    format!("no entry {n:?}; the matrix has {}", known.join(", ")),
                )
            })
        })
        .collect()
}

/// Runs the stand-ins script into `distdir` and measures what it wrote.
fn make_stand_ins(
    ws: &Workspace,
    script: &Path,
    distdir: &Path,
) -> Result<BTreeMap<String, manifest::Measured>> {
    let path = ws.root.join(script);
    if !path.is_file() {
        return Err(Error::input(
            script.display().to_string(),
            "stand_ins script not found in the workspace",
        ));
    }
    run_checked(
        Command::new("bash")
            .arg(&path)
            .arg(distdir)
            .current_dir(&ws.root),
        &path,
    )?;
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(distdir).at(distdir)? {
        let entry = entry.at(distdir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        out.insert(name, manifest::measure(&entry.path())?);
    }
    Ok(out)
}

/// What an entry takes from the shared directory: the verified kernel tarball, and for real
/// distfiles its own overlay copy (with their digests) and distfile directory.
#[derive(Debug, Default)]
struct EntryLocal {
    kernel_tarball: Option<PathBuf>,
    /// The overlay and its tree hash.
    overlay: Option<(PathBuf, String)>,
    distdir: Option<PathBuf>,
}

/// An entry's shared inputs, or why they cannot be had here (the entry is skipped).
type Locals = std::result::Result<EntryLocal, String>;

/// Checks the entry's files of the shared directory and, for real distfiles, writes the entry's
/// distfile directory (the stand-ins, then the real files under the names the ebuilds fetch) and
/// its overlay copy pinning them (unless the user gave an overlay to test).
fn acquire_locals(
    ws: &Workspace,
    entry: &Entry,
    shared_dir: &Path,
    stand_ins: &BTreeMap<String, manifest::Measured>,
    distdir: &Path,
    results: &Path,
    own_overlay: bool,
) -> Result<Locals> {
    let mut local = EntryLocal::default();
    if let Kernel::Shared(k) = &entry.kernel {
        match shared::resolve(shared_dir, &k.path, &k.sha256)? {
            Local::Missing(why) => return Ok(Err(why)),
            Local::Ready(p) => local.kernel_tarball = Some(p),
        }
    }
    if entry.distfiles.is_empty() {
        return Ok(Ok(local));
    }
    let mut sources = Vec::new();
    for d in &entry.distfiles {
        match shared::resolve(shared_dir, &d.path, &d.sha256)? {
            Local::Missing(why) => return Ok(Err(why)),
            Local::Ready(p) => sources.push((d, p)),
        }
    }
    let dist = results.join(format!(".distfiles-{}", entry.name));
    let _ = fs::remove_dir_all(&dist);
    fs::create_dir_all(&dist).at(&dist)?;
    for name in stand_ins.keys() {
        fs::copy(distdir.join(name), dist.join(name)).at(&dist.join(name))?;
    }
    let mut real = BTreeMap::new();
    for (d, src) in sources {
        let dest = dist.join(&d.name);
        let _ = fs::remove_file(&dest);
        shared::materialize(&src, &dest, d.repack)?;
        real.insert(d.name.clone(), manifest::measure(&dest)?);
    }
    if own_overlay {
        let overlay = results.join(format!(".overlay-{}", entry.name));
        let replaced = write_test_overlay(ws, stand_ins, &real, &overlay)?;
        if let Some(name) = real.keys().find(|n| !replaced.contains(*n)) {
            return Err(Error::input(
                entry.location.clone(),
                format!(
                    "entry {:?}: distfile {name:?} is no distfile of the overlay's ebuilds",
                    entry.name
                ),
            ));
        }
        let hash = tree_hash(&tree::read(&overlay)?);
        local.overlay = Some((overlay, hash));
    }
    local.distdir = Some(dist);
    Ok(Ok(local))
}

/// The overlay the spec generates, with the stand-ins' digests (then the real files', `real`) in
/// place of the spec's for the same file names: in memory only, into `dir` (never into overlay/
/// or the spec). Returns the names it replaced.
fn write_test_overlay(
    ws: &Workspace,
    stand_ins: &BTreeMap<String, manifest::Measured>,
    real: &BTreeMap<String, manifest::Measured>,
    dir: &Path,
) -> Result<std::collections::BTreeSet<String>> {
    let mut replaced = std::collections::BTreeSet::new();
    let rendered = crate::regen::generate_with(ws, |overlay| {
        let distfiles = overlay
            .packages
            .iter_mut()
            .flat_map(|p| &mut p.versions)
            .flat_map(|v| &mut v.distfiles);
        for d in distfiles {
            let (m, source) = match (real.get(&d.name), stand_ins.get(&d.name)) {
                (Some(m), _) => (
                    m,
                    "the real file, from the shared directory, for nbgen test",
                ),
                (None, Some(m)) => (m, "STAND-IN for nbgen test"),
                (None, None) => continue,
            };
            d.size = Some(m.size);
            d.digests = m.digests.clone();
            d.source = Some(source.into());
            replaced.insert(d.name.clone());
        }
    })?;
    tree::replace(dir, &rendered.tree, &mut |_| Ok(()))?;
    Ok(replaced)
}

fn tree_hash(tree: &render::Tree) -> String {
    let mut h = Sha512::new();
    for (path, bytes) in tree {
        h.update(path.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())
}

/// A stage's image and SHA512, or the reason its entries are skipped.
type StageImage = std::result::Result<(Image, String), String>;

/// Something the entries build on, or why it could not be had.
type Acquired<T> = std::result::Result<T, Lacking>;

/// A stage, kernel or snapshot that could not be fetched or prepared: the failed phase, and the
/// error, which goes into the log of every entry that needed it.
#[derive(Debug)]
struct Lacking {
    phase: &'static str,
    error: String,
}

impl Lacking {
    fn new(phase: &'static str, e: Error) -> Lacking {
        eprintln!("nbgen test: {phase} failed: {e}");
        Lacking {
            phase,
            error: e.to_string(),
        }
    }
}

/// An entry that failed before anything ran in a container: every package is not run.
fn failed_before(entry: &Entry, start: Instant, phase: &str, log: PathBuf) -> EntryResult {
    EntryResult {
        name: entry.name.clone(),
        status: Status::Failed,
        duration: start.elapsed(),
        failure: Some(Failure {
            phase: phase.to_string(),
            log,
        }),
        packages: entry
            .packages
            .iter()
            .map(|atom| PackageResult {
                atom: atom.clone(),
                outcome: Outcome::NotRun,
                duration: None,
                failure: None,
            })
            .collect(),
        skip_reason: None,
        checks: checks_with(entry, Outcome::NotRun),
    }
}

/// The entry's checks, each with `outcome` and no failure.
fn checks_with(entry: &Entry, outcome: Outcome) -> Vec<CheckResult> {
    check_names(entry)
        .into_iter()
        .map(|name| CheckResult {
            name: name.to_string(),
            outcome,
            failure: None,
        })
        .collect()
}

fn check_names(entry: &Entry) -> Vec<&'static str> {
    let mut names = Vec::new();
    if entry.checks.depmod {
        names.push("depmod");
    }
    if !entry.checks.load_order.is_empty() {
        names.push("load-order");
    }
    names
}

struct EntryCtx<'a> {
    ws: &'a Workspace,
    engine: &'a Engine,
    /// Fetched and verified kernel tarballs, by URL.
    kernels: &'a BTreeMap<String, Acquired<PathBuf>>,
    /// The unpacked portage tree, mounted at /usr/portage.
    snapshot: Option<&'a Acquired<PathBuf>>,
    overlay_dir: &'a Path,
    overlay_hash: &'a str,
    distdir: &'a Path,
    results_dir: &'a Path,
    /// nbgen's cache: prepared real kernel trees go to real-kernel/<entry name>/.
    cache: &'a Path,
    force: bool,
}

impl EntryCtx<'_> {
    /// The result of an entry whose stage could not be had: failed in that phase, its log holding
    /// the error.
    fn not_run(&self, entry: &Entry, lacking: &Lacking) -> EntryResult {
        let start = Instant::now();
        let dir = self.results_dir.join(&entry.name);
        let _ = fs::remove_dir_all(&dir);
        let log = dir.join(format!("{}.log", lacking.phase));
        let _ =
            fs::create_dir_all(&dir).and_then(|()| fs::write(&log, format!("{}\n", lacking.error)));
        failed_before(entry, start, lacking.phase, log)
    }

    fn run_entry(
        &self,
        entry: &Entry,
        local: &EntryLocal,
        image: &Image,
        stage_sha: &str,
        bar: &ProgressBar,
    ) -> EntryResult {
        // A kernel or snapshot that could not be had fails the entry, even one that passed before.
        let lacking = match (&entry.kernel, self.snapshot) {
            (Kernel::Tarball(d), _) if self.kernels[&d.url].is_err() => {
                self.kernels[&d.url].as_ref().err()
            }
            (_, Some(Err(lacking))) => Some(lacking),
            _ => None,
        };
        if let Some(lacking) = lacking {
            return self.not_run(entry, lacking);
        }
        let start = Instant::now();
        let dir = self.results_dir.join(&entry.name);
        let (overlay_dir, overlay_hash) = match &local.overlay {
            Some((dir, hash)) => (dir.as_path(), hash.as_str()),
            None => (self.overlay_dir, self.overlay_hash),
        };
        let distdir = local.distdir.as_deref().unwrap_or(self.distdir);
        let key = self.key(entry, overlay_hash, stage_sha);
        let key_file = dir.join("inputs.sha512");
        if !self.force && fs::read_to_string(&key_file).ok().as_deref() == Some(key.as_str()) {
            return EntryResult {
                name: entry.name.clone(),
                status: Status::SkippedCached,
                duration: start.elapsed(),
                failure: None,
                packages: entry
                    .packages
                    .iter()
                    .map(|atom| PackageResult {
                        atom: atom.clone(),
                        outcome: Outcome::SkippedCached,
                        duration: None,
                        failure: None,
                    })
                    .collect(),
                skip_reason: None,
                checks: checks_with(entry, Outcome::SkippedCached),
            };
        }
        let _ = fs::remove_dir_all(&dir);
        let failed_before = |phase: &str, log: PathBuf| failed_before(entry, start, phase, log);
        if let Err(e) = fs::create_dir_all(dir.join("out")) {
            return failed_before("setup", dir.join(format!("cannot create: {e}")));
        }
        bar.set_message("preparing the kernel tree");
        let kernel_log = dir.join("kernel.log");
        let kernel = match self.prepare_kernel(entry, local, &dir) {
            Ok(k) => k,
            Err(e) => {
                let _ = fs::write(&kernel_log, format!("{e}\n"));
                return failed_before("kernel", kernel_log);
            }
        };
        bar.set_message(format!("emerging {} packages", entry.packages.len()));
        let mut mounts = vec![
            Mount {
                host: overlay_dir.to_path_buf(),
                guest: "/var/db/repos/nb-overlay".into(),
                writable: false,
            },
            Mount {
                host: kernel.clone(),
                guest: "/usr/src/linux".into(),
                writable: matches!(entry.kernel, Kernel::Tarball(_)),
            },
            Mount {
                host: distdir.to_path_buf(),
                guest: "/var/cache/distfiles".into(),
                writable: true,
            },
            Mount {
                host: dir.join("out"),
                guest: "/out".into(),
                writable: true,
            },
        ];
        if let Some(Ok(tree)) = self.snapshot {
            mounts.push(Mount {
                host: tree.to_path_buf(),
                guest: "/usr/portage".into(),
                writable: false,
            });
        }
        let run_log = dir.join("run.log");
        let code = match self.engine.run(image, &mounts, &script(entry), &run_log) {
            Ok(c) => c,
            Err(e) => {
                let _ = fs::write(&run_log, format!("{e}\n"));
                return failed_before("container", run_log);
            }
        };
        let packages = collect_packages(entry, &dir);
        let all_passed = packages.iter().all(|p| p.outcome == Outcome::Passed);
        let checks = if code == 0 && all_passed {
            collect_checks(entry, &dir)
        } else {
            checks_with(entry, Outcome::NotRun)
        };
        let failure = packages
            .iter()
            .find_map(|p| p.failure.clone())
            .or_else(|| {
                (code != 0 || !all_passed).then(|| Failure {
                    phase: "container".into(),
                    log: run_log.clone(),
                })
            })
            .or_else(|| checks.iter().find_map(|c| c.failure.clone()));
        let status = if failure.is_none() {
            Status::Passed
        } else {
            Status::Failed
        };
        if status == Status::Passed {
            let _ = fs::write(&key_file, &key);
        }
        EntryResult {
            name: entry.name.clone(),
            status,
            duration: start.elapsed(),
            failure,
            packages,
            skip_reason: None,
            checks,
        }
    }

    fn key(&self, entry: &Entry, overlay_hash: &str, stage_sha: &str) -> String {
        entry_key(&self.ws.root, entry, overlay_hash, stage_sha)
    }

    fn prepare_kernel(&self, entry: &Entry, local: &EntryLocal, dir: &Path) -> Result<PathBuf> {
        let tree = dir.join("kernel");
        match &entry.kernel {
            Kernel::Shared(k) => {
                let tarball = local
                    .kernel_tarball
                    .as_ref()
                    .expect("a shared kernel is acquired before its entry runs");
                let script = self.ws.root.join(PREPARE_REAL_KERNEL);
                // One cache directory per entry: the script keeps only the newest tree of a
                // directory, and entries of other inputs must not remove each other's.
                let cache = self.cache.join("real-kernel").join(&entry.name);
                let out = run_checked(
                    Command::new("bash")
                        .arg(&script)
                        .arg(tarball)
                        .arg(self.ws.root.join(&k.compat))
                        .args(
                            entry
                                .fragments
                                .iter()
                                .map(|f| self.ws.fragments_dir().join(f)),
                        )
                        .env("NBGEN", std::env::current_exe().at(&script)?)
                        .env("NB_REAL_KERNEL_CACHE", &cache)
                        .current_dir(&self.ws.root),
                    &script,
                )?;
                let prepared = PathBuf::from(out.lines().last().unwrap_or_default().trim());
                if !prepared.join("Makefile").is_file() {
                    return Err(Error::Environment(format!(
                        "{} printed {:?}, not a kernel tree",
                        script.display(),
                        prepared
                    )));
                }
                Ok(prepared)
            }
            Kernel::Fixture(f) => {
                let script = self.ws.root.join(MAKE_KERNEL);
                let [version, smp, intermodule] = f.make_kernel_args();
                run_checked(
                    Command::new("bash")
                        .arg(&script)
                        .arg(&tree)
                        .args([&version, &smp, &intermodule])
                        .env("NBGEN", std::env::current_exe().at(&script)?),
                    &script,
                )?;
                Ok(tree)
            }
            Kernel::Tarball(download) => {
                let tarball = self.kernels[&download.url]
                    .as_ref()
                    .map_err(|l| Error::Environment(l.error.clone()))?;
                fs::create_dir_all(&tree).at(&tree)?;
                crate::nbtest::unpack::unpack(
                    tarball,
                    &tree,
                    &crate::nbtest::unpack::Options::default(),
                )?;
                // kernel.org tarballs hold one top directory, linux-X.Y.Z.
                let top = fs::read_dir(&tree)
                    .at(&tree)?
                    .filter_map(|e| e.ok())
                    .find(|e| e.path().join("Makefile").is_file())
                    .map(|e| e.path())
                    .ok_or_else(|| {
                        Error::input(
                            download.url.clone(),
                            "no kernel tree (no top-level Makefile) in the tarball",
                        )
                    })?;
                for p in &entry.patches {
                    let patch = self.ws.patches_dir().join(p);
                    run_checked(
                        Command::new("patch")
                            .args(["-p1", "--forward", "-i"])
                            .arg(&patch)
                            .current_dir(&top),
                        &patch,
                    )?;
                }
                let fragments: Vec<crate::kconfig::Config> = entry
                    .fragments
                    .iter()
                    .map(|f| {
                        crate::kconfig::read(
                            &self.ws.fragments_dir().join(f),
                            &format!("kernel-fragments/{f}"),
                        )
                    })
                    .collect::<Result<_>>()?;
                let base =
                    crate::kconfig::parse("(empty base)", "# CONFIG_NBGEN_BASE is not set\n")?;
                let (text, _) = crate::kconfig::merge(&base, &fragments);
                crate::kconfig::write_atomically(&top.join(".config"), &text)?;
                Ok(top)
            }
        }
    }
}

/// Everything that decides an entry's outcome, hashed: if none of it changed since the entry
/// passed, running it again would tell nothing new. The entry's content (not its place in the
/// matrix file), the script it runs in the container as rendered for it, the overlay and the
/// stage, and the files its kernel tree is made from: for a fixture the script and its kernel
/// Makefile, for a shared kernel the prepare and compat scripts (the tarball is in the entry as
/// its SHA256), and the fragments.
pub fn entry_key(root: &Path, entry: &Entry, overlay_hash: &str, stage_sha: &str) -> String {
    let content = serde_json::to_string(entry).expect("an entry serializes");
    let mut h = Sha512::new();
    for part in [content.as_str(), &script(entry), overlay_hash, stage_sha] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // Workspace-relative names, so that another checkout of the same tree has the same keys.
    let mut files: Vec<PathBuf> = entry
        .fragments
        .iter()
        .map(|f| Path::new("kernel-fragments").join(f))
        .collect();
    match &entry.kernel {
        Kernel::Fixture(f) => {
            files.push(MAKE_KERNEL.into());
            files.push(Path::new(FIXTURE_MAKEFILES).join(format!("Makefile-{}", f.version)));
        }
        Kernel::Shared(k) => {
            files.push(PREPARE_REAL_KERNEL.into());
            files.push(k.compat.clone());
        }
        Kernel::Tarball(_) => {}
    }
    for f in files {
        // A file that does not exist (most fixture versions have no Makefile of their own) counts
        // as empty, and its name still goes in.
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(fs::read(root.join(&f)).unwrap_or_default());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// The build inside the container, from generator/templates/nbtest/entry.sh. A real kernel tree is
/// configured and prepared there (its toolchain is the stage's); a fixture tree is ready as it is.
/// It works with both kinds of stage: ours (portage of today, repos.conf, /etc/portage/make.conf)
/// and Gentoo's of the era (portage 2.1: /etc/make.conf, /etc/make.profile, PORTDIR_OVERLAY, the
/// tree at /usr/portage). An entry that proves a wrong distfile is refused gets a private DISTDIR
/// holding a copy of the distfiles in which that one is replaced by bytes of the same size.
fn script(entry: &Entry) -> String {
    let quote = crate::base::shell::quote;
    let ctx = serde_json::json!({
        "profile": quote(&entry.profile),
        "keywords": entry.accept_keywords.clone().unwrap_or_default(),
        "use_flags": entry.use_flags.join(" "),
        "atoms": entry.packages.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        "refuse": entry.refuse_distfile.as_deref().map(quote),
        "prepare_kernel": matches!(entry.kernel, Kernel::Tarball(_)),
        "require_features": entry.require_features,
        "checks": !entry.checks.is_empty(),
        "depmod": entry.checks.depmod,
        "load_order_last": entry.checks.load_order.last().map(|m| quote(m)),
    });
    crate::regen::templates::Templates::embedded()
        .and_then(|t| t.render(SCRIPT_TEMPLATE, &ctx))
        .expect("the embedded entry script renders")
}

/// Judges the checks from what the script's checks left in out/checks/.
fn collect_checks(entry: &Entry, dir: &Path) -> Vec<CheckResult> {
    let checks = dir.join("out/checks");
    let release = fs::read_to_string(checks.join("kernel-release")).unwrap_or_default();
    check_names(entry)
        .into_iter()
        .map(|name| {
            let log = checks.join(format!("{name}.log"));
            let rc = fs::read_to_string(checks.join(format!("{name}.rc"))).ok();
            let text = fs::read_to_string(&log).unwrap_or_default();
            let problem = if release.trim().is_empty() {
                Some("the kernel tree has no include/config/kernel.release".to_string())
            } else if rc.as_deref().map(str::trim) != Some("0") {
                Some(format!(
                    "{name} exited with {}",
                    rc.as_deref().unwrap_or("nothing").trim()
                ))
            } else if name == "depmod" {
                text.lines()
                    .any(|l| l.contains("unknown symbol"))
                    .then(|| "depmod -e found unknown symbols".to_string())
            } else {
                let got = loaded_modules(&text);
                (got != entry.checks.load_order).then(|| {
                    format!(
                        "modprobe loads [{}], the matrix wants [{}]",
                        got.join(", "),
                        entry.checks.load_order.join(", ")
                    )
                })
            };
            if let Some(p) = &problem {
                // The verdict goes under the command's output, where the report points.
                let _ = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .and_then(|mut f| {
                        std::io::Write::write_all(&mut f, format!("nbgen test: {p}\n").as_bytes())
                    });
            }
            CheckResult {
                name: name.to_string(),
                outcome: if problem.is_none() {
                    Outcome::Passed
                } else {
                    Outcome::Failed
                },
                failure: problem.map(|_| Failure {
                    phase: format!("check-{name}"),
                    log,
                }),
            }
        })
        .collect()
}

/// The modules `modprobe --show-depends` would insert, in order: the file names of its insmod
/// lines without `.ko` (and a compression suffix).
fn loaded_modules(show_depends: &str) -> Vec<String> {
    show_depends
        .lines()
        .filter_map(|l| l.strip_prefix("insmod "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|path| path.rsplit('/').next())
        .map(|file| file.split(".ko").next().unwrap_or(file).to_string())
        .collect()
}

/// What portage prints when a distfile already in DISTDIR fails its Manifest's digests: 2.1.x
/// names the file (`!!! Previously fetched file: 'NAME'`), today's portage its path.
fn refused(log: &str, distfile: &str) -> bool {
    log.lines()
        .filter_map(|l| l.split_once("Previously fetched file: '"))
        .filter_map(|(_, rest)| rest.strip_suffix('\''))
        .any(|file| file == distfile || file.ends_with(&format!("/{distfile}")))
}

static FAILED_PHASE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ERROR: (\S+)::\S+ failed \((\w+) phase\)").unwrap());

/// Reads out/packages.tsv (written by the script) into package results; a package whose emerge
/// failed points at its build log when portage wrote one, else at its emerge output.
fn collect_packages(entry: &Entry, dir: &Path) -> Vec<PackageResult> {
    let tsv = fs::read_to_string(dir.join("out/packages.tsv")).unwrap_or_default();
    let mut by_atom: BTreeMap<String, (i32, u64, usize)> = BTreeMap::new();
    for (i, line) in tsv.lines().enumerate() {
        let mut f = line.split('\t');
        let (Some(atom), Some(rc), Some(secs)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        by_atom.insert(
            atom.to_string(),
            (rc.parse().unwrap_or(1), secs.parse().unwrap_or(0), i + 1),
        );
    }
    if let Some(distfile) = &entry.refuse_distfile {
        return entry
            .packages
            .iter()
            .map(|atom| refusal_result(atom, by_atom.get(atom).copied(), distfile, dir))
            .collect();
    }
    entry
        .packages
        .iter()
        .map(|atom| match by_atom.get(atom) {
            None => PackageResult {
                atom: atom.clone(),
                outcome: Outcome::NotRun,
                duration: None,
                failure: None,
            },
            Some(&(0, secs, _)) => PackageResult {
                atom: atom.clone(),
                outcome: Outcome::Passed,
                duration: Some(Duration::from_secs(secs)),
                failure: None,
            },
            Some(&(_, secs, n)) => {
                let emerge_log = dir.join(format!("out/logs/{n}.emerge.log"));
                let text = fs::read_to_string(&emerge_log).unwrap_or_default();
                let (phase, log) = match FAILED_PHASE.captures(&text) {
                    Some(c) => {
                        let cpv = c[1].replace('/', ":");
                        let build_log = fs::read_dir(dir.join("out/build-logs"))
                            .ok()
                            .and_then(|rd| {
                                rd.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
                                    p.file_name().is_some_and(|n| {
                                        n.to_string_lossy().starts_with(&format!("{cpv}:"))
                                    })
                                })
                            })
                            .unwrap_or(emerge_log.clone());
                        (c[2].to_string(), build_log)
                    }
                    None => ("dependencies".to_string(), emerge_log.clone()),
                };
                PackageResult {
                    atom: atom.clone(),
                    outcome: Outcome::Failed,
                    duration: Some(Duration::from_secs(secs)),
                    failure: Some(Failure { phase, log }),
                }
            }
        })
        .collect()
}

/// A package of a `refuse_distfile` entry passes when its emerge failed because portage refused
/// the altered distfile, and fails when the emerge went through or stopped for another reason.
fn refusal_result(
    atom: &str,
    ran: Option<(i32, u64, usize)>,
    distfile: &str,
    dir: &Path,
) -> PackageResult {
    let Some((rc, secs, n)) = ran else {
        return PackageResult {
            atom: atom.to_string(),
            outcome: Outcome::NotRun,
            duration: None,
            failure: None,
        };
    };
    let log = dir.join(format!("out/logs/{n}.emerge.log"));
    let text = fs::read_to_string(&log).unwrap_or_default();
    let failure = if rc == 0 {
        Some("accepted-wrong-distfile")
    } else if !refused(&text, distfile) {
        Some("failed-without-refusing-distfile")
    } else {
        None
    };
    PackageResult {
        atom: atom.to_string(),
        outcome: if failure.is_none() {
            Outcome::Passed
        } else {
            Outcome::Failed
        },
        duration: Some(Duration::from_secs(secs)),
        failure: failure.map(|phase| Failure {
            phase: phase.to_string(),
            log,
        }),
    }
}

#[cfg(test)]
mod tests;
