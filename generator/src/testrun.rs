//! `nbgen test`: builds the overlay's packages in throwaway containers made from a stage tarball,
//! one matrix entry per kernel, in parallel, and reports per entry what passed, with the logs.
//!
//! For every entry: the stage is fetched (verified) and made an image once per digest; the kernel
//! tree is prepared (a fixture written by ci/ebuild-tests/make-kernel, or a kernel.org tarball
//! unpacked, patched and configured from the fragments); then a container without network gets the
//! overlay read-only, the distfiles and the kernel tree, and emerges the entry's packages. An entry
//! whose inputs are unchanged since it last passed is not run again.

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

use crate::engine::{self, Engine, Image, Mount};
use crate::error::{Error, IoContext, Result};
use crate::fetch::Fetcher;
use crate::manifest;
use crate::matrix::{Entry, Kernel, Lock, Matrix};
use crate::render;
use crate::report::{self, EntryResult, Failure, Outcome, PackageResult, Status};
use crate::stage::{fetch_download, resolve_stage, run_checked, unpack_snapshot, Resolved};
use crate::tree;
use crate::workspace::Workspace;

/// The script that writes fixture kernel trees.
const MAKE_KERNEL: &str = "ci/ebuild-tests/make-kernel";

/// Bumped when the build script changes, so cached results of an older script are not reused.
const SCRIPT_VERSION: &str = "nbgen-test-2";

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
    let fetcher = Fetcher::new(opts.cache.join("files"), crate::fetch::Options::default());
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
            write_test_overlay(ws, &stand_ins, &dir)?;
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
                let result = match &images[&format!("{:?}", entry.stage)] {
                    Ok(Ok((image, stage_sha))) => ctx.run_entry(entry, image, stage_sha, &bar),
                    Ok(Err(reason)) => EntryResult::skipped(&entry.name, &entry.packages, reason),
                    Err(lacking) => ctx.not_run(entry, lacking),
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

/// The overlay the spec generates, with the stand-ins' digests in place of the spec's for the
/// same file names: in memory only, into `dir` (never into overlay/ or the spec).
fn write_test_overlay(
    ws: &Workspace,
    stand_ins: &BTreeMap<String, manifest::Measured>,
    dir: &Path,
) -> Result<()> {
    let rendered = crate::generate_with(ws, |overlay| {
        let distfiles = overlay
            .packages
            .iter_mut()
            .flat_map(|p| &mut p.versions)
            .flat_map(|v| &mut v.distfiles);
        for d in distfiles {
            if let Some(m) = stand_ins.get(&d.name) {
                d.size = Some(m.size);
                d.digests = m.digests.clone();
                d.source = Some("STAND-IN for nbgen test".into());
            }
        }
    })?;
    tree::replace(dir, &rendered.tree, &mut |_| Ok(()))?;
    Ok(())
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
    }
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
        let key = self.key(entry, stage_sha);
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
            };
        }
        let _ = fs::remove_dir_all(&dir);
        let failed_before = |phase: &str, log: PathBuf| failed_before(entry, start, phase, log);
        if let Err(e) = fs::create_dir_all(dir.join("out")) {
            return failed_before("setup", dir.join(format!("cannot create: {e}")));
        }
        bar.set_message("preparing the kernel tree");
        let kernel_log = dir.join("kernel.log");
        let kernel = match self.prepare_kernel(entry, &dir) {
            Ok(k) => k,
            Err(e) => {
                let _ = fs::write(&kernel_log, format!("{e}\n"));
                return failed_before("kernel", kernel_log);
            }
        };
        bar.set_message(format!("emerging {} packages", entry.packages.len()));
        let mut mounts = vec![
            Mount {
                host: self.overlay_dir.to_path_buf(),
                guest: "/var/db/repos/nb-overlay".into(),
                writable: false,
            },
            Mount {
                host: kernel.clone(),
                guest: "/usr/src/linux".into(),
                writable: matches!(entry.kernel, Kernel::Tarball(_)),
            },
            Mount {
                host: self.distdir.to_path_buf(),
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
        let failure = packages.iter().find_map(|p| p.failure.clone()).or_else(|| {
            (code != 0 || packages.iter().any(|p| p.outcome != Outcome::Passed)).then(|| Failure {
                phase: "container".into(),
                log: run_log.clone(),
            })
        });
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
        }
    }

    /// Everything that decides the entry's outcome: if none of it changed since the entry passed,
    /// running it again would tell nothing new.
    fn key(&self, entry: &Entry, stage_sha: &str) -> String {
        let mut h = Sha512::new();
        for part in [
            SCRIPT_VERSION,
            self.overlay_hash,
            stage_sha,
            &format!("{entry:?}"),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        // Fixture trees come from a script and the fragments; their text is an input too.
        h.update(fs::read(self.ws.root.join(MAKE_KERNEL)).unwrap_or_default());
        for f in &entry.fragments {
            h.update(fs::read(self.ws.fragments_dir().join(f)).unwrap_or_default());
        }
        hex::encode(h.finalize())
    }

    fn prepare_kernel(&self, entry: &Entry, dir: &Path) -> Result<PathBuf> {
        let tree = dir.join("kernel");
        match &entry.kernel {
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
                crate::unpack::unpack(tarball, &tree, &crate::unpack::Options::default())?;
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

/// The build inside the container. A real kernel tree is configured and prepared there (its
/// toolchain is the stage's); a fixture tree is ready as it is. It works with both kinds of stage:
/// ours (portage of today, repos.conf, /etc/portage/make.conf) and Gentoo's of the era (portage
/// 2.1: /etc/make.conf, /etc/make.profile, PORTDIR_OVERLAY, the tree at /usr/portage).
fn script(entry: &Entry) -> String {
    let atoms: Vec<String> = entry.packages.iter().map(|a| shell_word(a)).collect();
    let prepare_kernel = match entry.kernel {
        Kernel::Tarball(_) => "(cd /usr/src/linux && yes '' | make oldconfig && make modules_prepare) >/out/kernel-prepare.log 2>&1 || { echo 'kernel: make oldconfig/modules_prepare failed' >&2; exit 3; }\n",
        Kernel::Fixture(_) => "",
    };
    format!(
        r#"set -u
conf=/etc/portage/make.conf
[ -f "$conf" ] || conf=/etc/make.conf
# portage 2.1's portageq knows no get_repo_path: it prints its usage and exits 0.
if [ -d /etc/portage/repos.conf ]; then
	gentoo=$(portageq get_repo_path / gentoo 2>/dev/null) || gentoo=""
else
	gentoo=$(portageq portdir 2>/dev/null) || gentoo=""
fi
[ -n "$gentoo" ] || gentoo=/usr/portage
if [ -d /etc/portage/repos.conf ]; then
	ln -sfn "$gentoo/profiles/"{profile} /etc/portage/make.profile || exit 3
	printf '[nb-overlay]\nlocation = /var/db/repos/nb-overlay\nauto-sync = no\n' >/etc/portage/repos.conf/nb-overlay.conf || exit 3
else
	ln -sfn "$gentoo/profiles/"{profile} /etc/make.profile || exit 3
	echo 'PORTDIR_OVERLAY="/var/db/repos/nb-overlay"' >>"$conf" || exit 3
fi
mkdir -p /out/logs /out/build-logs /out/packages /out/contents
cat >>"$conf" <<'EOF'
ACCEPT_KEYWORDS="{keywords}"
USE="{use_flags}"
FEATURES="${{FEATURES}} buildpkg"
PKGDIR="/out/packages"
PORTAGE_LOGDIR="/out/build-logs"
EOF
{refuse}{prepare_kernel}emerge --info >/out/emerge-info.txt 2>&1
{features}: >/out/packages.tsv
i=0
for atom in {atoms}; do
	i=$((i + 1))
	start=$(date +%s)
	emerge --oneshot --verbose "$atom" >"/out/logs/$i.emerge.log" 2>&1
	rc=$?
	printf '%s\t%s\t%s\n' "$atom" "$rc" "$(($(date +%s) - start))" >>/out/packages.tsv
done
for d in /var/db/pkg/*/*; do
	[ -f "$d/CONTENTS" ] || continue
	c=${{d%/*}}; c=${{c##*/}}
	cp "$d/CONTENTS" "/out/contents/$c:${{d##*/}}.CONTENTS"
done
"#,
        profile = shell_word(&entry.profile),
        keywords = entry.accept_keywords.clone().unwrap_or_default(),
        use_flags = entry.use_flags.join(" "),
        atoms = atoms.join(" "),
        features = require_features(entry),
        refuse = refuse_distfile(entry),
    )
}

/// Stops the script (exit 3, before any package) unless portage has each required FEATURES
/// token on.
fn require_features(entry: &Entry) -> String {
    entry
        .require_features
        .iter()
        .map(|f| {
            format!(
                r#"case " $(portageq envvar FEATURES) " in *' {f} '*) ;; *) echo 'FEATURES lack {f}: see /out/emerge-info.txt' >&2; exit 3 ;; esac
"#
            )
        })
        .collect()
}

/// For an entry that proves a wrong distfile is refused: a private DISTDIR holding the
/// distfiles, with the named one replaced by bytes of the same size and other content (every
/// byte changed), so the shared distfiles stay intact.
fn refuse_distfile(entry: &Entry) -> String {
    let Some(name) = &entry.refuse_distfile else {
        return String::new();
    };
    format!(
        r#"nb_dist=/var/tmp/nb-distfiles
mkdir -p "$nb_dist" && cp -pR /var/cache/distfiles/. "$nb_dist/" || exit 3
f="$nb_dist/"{name}
[ -f "$f" ] || {{ echo "refuse_distfile: no "{name}" among the distfiles" >&2; exit 3; }}
tr '\000-\377' '\377\000-\376' <"$f" >"$f.new" && mv "$f.new" "$f" || exit 3
echo 'DISTDIR="/var/tmp/nb-distfiles"' >>"$conf" || exit 3
"#,
        name = shell_word(name)
    )
}

/// What portage prints when a distfile already in DISTDIR fails its Manifest's digests: 2.1.x
/// names the file (`!!! Previously fetched file: 'NAME'`), today's portage its path.
fn refused(log: &str, distfile: &str) -> bool {
    log.lines()
        .filter_map(|l| l.split_once("Previously fetched file: '"))
        .filter_map(|(_, rest)| rest.strip_suffix('\''))
        .any(|file| file == distfile || file.ends_with(&format!("/{distfile}")))
}

fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
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
mod tests {
    use super::*;

    fn entry(extra: &str) -> Entry {
        let text = format!(
            r#"[stage]
path = "stage.tar"
[[entry]]
name = "era-2.1.1-fixture"
kernel = {{ fixture = {{ version = "2.6.18", smp = true, intermodule = "built" }} }}
packages = ["sys-libs/lib-compat"]
profile = "default/linux/x86"
fixture = true
{extra}
"#
        );
        let m = Matrix::parse(Path::new("m.toml"), &text, Path::new("/nonexistent")).unwrap();
        m.entries[0].clone()
    }

    #[test]
    fn required_features_are_checked_before_any_package() {
        let e = entry(r#"require_features = ["strict"]"#);
        let s = script(&e);
        let check = s.find("*' strict '*) ;;").expect(&s);
        assert!(check < s.find("for atom in").unwrap(), "{s}");
        assert!(!script(&entry("")).contains("FEATURES lack"));
    }

    #[test]
    fn a_refusal_entry_alters_only_its_private_copy() {
        let e = entry(r#"refuse_distfile = "lib-compat-1.4.tar.bz2""#);
        let s = script(&e);
        assert!(s.contains("f=\"$nb_dist/\"'lib-compat-1.4.tar.bz2'"), "{s}");
        assert!(s.contains("DISTDIR=\"/var/tmp/nb-distfiles\""), "{s}");
        // The script's byte rotation keeps the size and changes every byte.
        let tr = s.lines().find(|l| l.starts_with("tr ")).expect(&s);
        let tr = &tr[..tr.find(" <").unwrap()];
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d");
        let bytes: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        fs::write(&f, &bytes).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(r#"{tr} <"$1""#))
            .arg("sh")
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(out.stdout.len(), bytes.len());
        assert!(out.stdout.iter().zip(&bytes).all(|(a, b)| a != b));
    }

    #[test]
    fn a_refusal_passes_only_when_portage_refused_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("out/logs")).unwrap();
        let log = dir.path().join("out/logs/1.emerge.log");
        let name = "lib-compat-1.4.tar.bz2";
        fs::write(
            &log,
            format!(
                "!!! Previously fetched file: '{name}'\n!!! Reason: Failed on SHA1 verification\n"
            ),
        )
        .unwrap();
        let r = refusal_result("sys-libs/lib-compat", Some((1, 3, 1)), name, dir.path());
        assert_eq!((r.outcome, r.failure), (Outcome::Passed, None));
        // Today's portage names the path; another file's refusal does not count.
        assert!(refused(
            &format!("!!! Previously fetched file: '/var/tmp/nb-distfiles/{name}'\n"),
            name
        ));
        assert!(!refused(
            &format!("!!! Previously fetched file: '/x/old-{name}'\n"),
            name
        ));
        // Emerged anyway: the wrong file was accepted.
        let r = refusal_result("sys-libs/lib-compat", Some((0, 3, 1)), name, dir.path());
        assert_eq!(r.outcome, Outcome::Failed);
        assert_eq!(r.failure.unwrap().phase, "accepted-wrong-distfile");
        // Failed, but for another reason (or for another file).
        let r = refusal_result(
            "sys-libs/lib-compat",
            Some((1, 3, 1)),
            "other.tar",
            dir.path(),
        );
        assert_eq!(r.failure.unwrap().phase, "failed-without-refusing-distfile");
        let r = refusal_result("sys-libs/lib-compat", None, name, dir.path());
        assert_eq!(r.outcome, Outcome::NotRun);
    }
}
