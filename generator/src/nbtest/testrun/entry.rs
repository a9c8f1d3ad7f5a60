//! One entry in its container: its inputs checked against the cache key, its kernel tree, the
//! build, and its result; or the result of an entry whose inputs could not be had.

use super::*;
use crate::nbtest::matrix::{ConfigRun, Fixture, Layout};

/// A stage's image and SHA512, or the reason its entries are skipped.
pub(super) type StageImage = std::result::Result<(Image, String), String>;

/// Something the entries build on, or why it could not be had.
pub(super) type Acquired<T> = std::result::Result<T, Lacking>;

/// A stage, kernel or snapshot that could not be fetched or prepared: the failed phase, and the
/// error, which goes into the log of every entry that needed it.
#[derive(Debug)]
pub(super) struct Lacking {
    pub(super) phase: &'static str,
    pub(super) error: String,
}

impl Lacking {
    pub(super) fn new(phase: &'static str, e: Error, notes: Notes) -> Lacking {
        let error = e.to_string();
        notes(Note::Failed {
            phase,
            error: &error,
        });
        Lacking { phase, error }
    }
}

/// An entry that failed before anything ran in a container: every package is not run.
pub(super) fn failed_before(
    entry: &Entry,
    start: Instant,
    phase: &str,
    log: PathBuf,
) -> EntryResult {
    EntryResult {
        failure: Some(Failure {
            phase: phase.to_string(),
            log,
        }),
        ..with_outcome(entry, start, Status::Failed, Outcome::NotRun)
    }
}

/// The rows of an entry's results: its packages, its `emerge --config` runs, its steps.
pub(super) fn row_names(entry: &Entry) -> Vec<String> {
    let config = entry.config.atoms.iter().map(|a| ConfigRun::step(a));
    let steps = entry.steps.iter().map(|s| s.key());
    entry
        .packages
        .iter()
        .cloned()
        .chain(config)
        .chain(steps)
        .collect()
}

/// The entry's checks, each with `outcome` and no failure.
pub(super) fn checks_with(entry: &Entry, outcome: Outcome) -> Vec<CheckResult> {
    check_names(entry)
        .into_iter()
        .map(|name| CheckResult {
            name: name.to_string(),
            outcome,
            failure: None,
        })
        .collect()
}

/// The entry's checks: those of the installed modules, then its expectations.
pub(super) fn check_names(entry: &Entry) -> Vec<&'static str> {
    let mut names = module_check_names(entry);
    names.extend(entry.expect.iter().flat_map(|x| x.check_names()));
    names
}

/// The checks of the installed modules (the matrix's `checks`).
pub(super) fn module_check_names(entry: &Entry) -> Vec<&'static str> {
    let mut names = Vec::new();
    if entry.checks.depmod {
        names.push("depmod");
    }
    if !entry.checks.load_order.is_empty() {
        names.push("load-order");
    }
    names
}

pub(super) struct EntryCtx<'a> {
    pub(super) ws: &'a Workspace,
    pub(super) engine: &'a Engine,
    /// Fetched and verified kernel tarballs, by URL.
    pub(super) kernels: &'a BTreeMap<String, Acquired<PathBuf>>,
    /// The unpacked portage tree, mounted at /usr/portage.
    pub(super) snapshot: Option<&'a Acquired<PathBuf>>,
    pub(super) overlay_dir: &'a Path,
    pub(super) overlay_hash: &'a str,
    /// The overlay as users sync it, for the entries that ask for it, and its hash.
    pub(super) synced: Option<&'a (PathBuf, String)>,
    pub(super) distdir: &'a Path,
    pub(super) results_dir: &'a Path,
    /// nbgen's cache: prepared real kernel trees go to real-kernel/<entry name>/.
    pub(super) cache: &'a Path,
    pub(super) force: bool,
    /// Where the entries tell which phase they are in.
    pub(super) notes: Notes<'a>,
}

impl EntryCtx<'_> {
    pub(super) fn phase(&self, entry: &Entry, phase: &str) {
        (self.notes)(Note::EntryPhase {
            entry: &entry.name,
            phase,
        });
    }

    /// The result of an entry whose stage could not be had: failed in that phase, its log holding
    /// the error.
    pub(super) fn not_run(&self, entry: &Entry, lacking: &Lacking) -> EntryResult {
        let start = Instant::now();
        let dir = self.results_dir.join(&entry.name);
        let _ = fs::remove_dir_all(&dir);
        let log = dir.join(format!("{}.log", lacking.phase));
        let _ =
            fs::create_dir_all(&dir).and_then(|()| fs::write(&log, format!("{}\n", lacking.error)));
        failed_before(entry, start, lacking.phase, log)
    }

    pub(super) fn run_entry(
        &self,
        entry: &Entry,
        local: &EntryLocal,
        image: &Image,
        stage_sha: &str,
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
        let (overlay_dir, overlay_hash) = match (&local.overlay, entry.overlay, self.synced) {
            (Some((dir, hash)), _, _) | (None, OverlayKind::Synced, Some((dir, hash))) => {
                (dir.as_path(), hash.as_str())
            }
            _ => (self.overlay_dir, self.overlay_hash),
        };
        let distdir = local.distdir.as_deref().unwrap_or(self.distdir);
        let key = self.key(entry, overlay_hash, stage_sha);
        let key_file = dir.join("inputs.sha512");
        if !self.force && fs::read_to_string(&key_file).ok().as_deref() == Some(key.as_str()) {
            return with_outcome(entry, start, Status::SkippedCached, Outcome::SkippedCached);
        }
        let _ = fs::remove_dir_all(&dir);
        let failed_before = |phase: &str, log: PathBuf| failed_before(entry, start, phase, log);
        if let Err(e) = fs::create_dir_all(dir.join("out")) {
            return failed_before("setup", dir.join(format!("cannot create: {e}")));
        }
        self.phase(entry, "preparing the kernel tree");
        let kernel_log = dir.join("kernel.log");
        let kernel = match self.prepare_kernel(entry, local, &dir) {
            Ok(k) => k,
            Err(e) => {
                let _ = fs::write(&kernel_log, format!("{e}\n"));
                return failed_before("kernel", kernel_log);
            }
        };
        self.phase(
            entry,
            &format!(
                "emerging {} packages, {} steps",
                entry.packages.len(),
                entry.steps.len()
            ),
        );
        let mounts = self.mounts(entry, overlay_dir, &kernel, distdir, &dir);
        let run_log = dir.join("run.log");
        let code = match self.engine.run(image, &mounts, &script(entry), &run_log) {
            Ok(c) => c,
            Err(e) => {
                let _ = fs::write(&run_log, format!("{e}\n"));
                return failed_before("container", run_log);
            }
        };
        let result = judge(entry, &dir, code, run_log, start);
        if result.status == Status::Passed {
            let _ = fs::write(&key_file, &key);
        }
        result
    }

    /// What the entry's container gets: the overlay (read-only), the kernel tree (writable only
    /// for a kernel.org tree, which is configured inside), the distfiles, /out, and the snapshot.
    fn mounts(
        &self,
        entry: &Entry,
        overlay_dir: &Path,
        kernel: &Path,
        distdir: &Path,
        dir: &Path,
    ) -> Vec<Mount> {
        let mut mounts = vec![
            Mount {
                host: overlay_dir.to_path_buf(),
                guest: "/var/db/repos/nb-overlay".into(),
                writable: false,
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
        mounts.extend(kernel_mounts(entry, kernel));
        if let Some(Ok(tree)) = self.snapshot {
            mounts.push(Mount {
                host: tree.to_path_buf(),
                guest: "/usr/portage".into(),
                writable: false,
            });
        }
        mounts
    }

    fn key(&self, entry: &Entry, overlay_hash: &str, stage_sha: &str) -> String {
        entry_key(&self.ws.root, entry, overlay_hash, stage_sha)
    }
}

/// The kernel tree at /usr/src/linux, or a make O= fixture's source and output trees where the
/// entry puts them.
pub(super) fn kernel_mounts(entry: &Entry, kernel: &Path) -> Vec<Mount> {
    let mount = |host: PathBuf, guest: &str| Mount {
        host,
        guest: guest.into(),
        writable: matches!(entry.kernel, Kernel::Tarball(_)),
    };
    match &entry.kernel {
        Kernel::Fixture(Fixture {
            layout:
                Layout::Split {
                    src,
                    out,
                    mount_src,
                },
            ..
        }) => {
            let mut mounts = vec![mount(kernel.join("out"), out)];
            if *mount_src {
                mounts.push(mount(kernel.join("src"), src));
            }
            mounts
        }
        _ => vec![mount(kernel.to_path_buf(), "/usr/src/linux")],
    }
}

/// The entry's result from what its container did: each package's outcome, then the checks (run
/// only when every package passed), the first failure named with its phase and log.
pub(super) fn judge(
    entry: &Entry,
    dir: &Path,
    code: i32,
    run_log: PathBuf,
    start: Instant,
) -> EntryResult {
    let packages = collect_packages(entry, dir);
    let all_passed = packages.iter().all(|p| p.outcome == Outcome::Passed);
    let mut checks = if code == 0 && all_passed {
        let mut checks = collect_checks(entry, dir);
        checks.extend(
            entry
                .expect
                .iter()
                .flat_map(|x| collect_expectations(x, dir)),
        );
        checks
    } else {
        checks_with(entry, Outcome::NotRun)
    };
    // A refusal is judged on the packages (each must be refused): the check shows their verdict.
    if let Some(check) = checks.iter_mut().find(|c| c.name == "refused") {
        check.outcome = Outcome::passed_if(all_passed);
        check.failure = packages.iter().find_map(|p| p.failure.clone());
    }
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

/// An entry none of whose packages ran, with `status`: every package and check `outcome`.
fn with_outcome(entry: &Entry, start: Instant, status: Status, outcome: Outcome) -> EntryResult {
    EntryResult {
        name: entry.name.clone(),
        status,
        duration: start.elapsed(),
        failure: None,
        packages: row_names(entry)
            .into_iter()
            .map(|atom| PackageResult {
                atom,
                outcome,
                duration: None,
                failure: None,
            })
            .collect(),
        skip_reason: None,
        checks: checks_with(entry, outcome),
    }
}
