//! Reading what the build left in out/: each package's outcome from packages.tsv and its logs,
//! the checks of the installed modules, and whether portage refused a wrong distfile.

use super::*;
use crate::nbtest::matrix::{ConfigRun, Step};

/// Judges the checks from what the script's checks left in out/checks/.
pub(super) fn collect_checks(entry: &Entry, dir: &Path) -> Vec<CheckResult> {
    let checks = dir.join("out/checks");
    let release = fs::read_to_string(checks.join("kernel-release")).unwrap_or_default();
    module_check_names(entry)
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
            CheckResult::judged(name, problem.is_some(), format!("check-{name}"), log)
        })
        .collect()
}

/// The modules `modprobe --show-depends` would insert, in order: the file names of its insmod
/// lines without `.ko` (and a compression suffix).
pub(super) fn loaded_modules(show_depends: &str) -> Vec<String> {
    show_depends
        .lines()
        .filter_map(|l| l.strip_prefix("insmod "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|path| path.rsplit('/').next())
        .map(|file| file.split(".ko").next().unwrap_or(file).to_string())
        .collect()
}

/// What portage prints when a distfile already in DISTDIR fails its digests: 2.1.x names the file
/// (`!!! Previously fetched file: 'NAME'`), today's portage its path; 2.0.x says `!!! Digest
/// verification Failed:` and names the path on the next line (pym/portage.py, digestCheckFiles).
pub(super) fn refused(log: &str, distfile: &str) -> bool {
    let is_it = |file: &str| file == distfile || file.ends_with(&format!("/{distfile}"));
    let lines: Vec<&str> = log.lines().collect();
    let by_2_1 = lines
        .iter()
        .filter_map(|l| l.split_once("Previously fetched file: '"))
        .filter_map(|(_, rest)| rest.strip_suffix('\''))
        .any(is_it);
    let by_2_0 = lines.windows(2).any(|pair| {
        pair[0].contains("!!! Digest verification Failed:")
            && pair[1]
                .trim_start_matches(|c: char| c != ' ')
                .split_whitespace()
                .next()
                .is_some_and(is_it)
    });
    by_2_1 || by_2_0
}

/// The banner of a phase that died: portage 2.0/2.1 (`!!! ERROR: cat/pkg-1 failed.`) and today's
/// (`* ERROR: cat/pkg-1::repo failed (config phase):`).
static DIED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^(!!! ERROR: \S+ failed\.$| \* ERROR: \S+ failed \(\w+ phase\))").unwrap()
});

pub(super) static FAILED_PHASE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ERROR: (\S+)::\S+ failed \((\w+) phase\)").unwrap());

/// Reads out/packages.tsv (written by the script) into package results; a package whose emerge
/// failed points at its build log when portage wrote one, else at its emerge output.
pub(super) fn collect_packages(entry: &Entry, dir: &Path) -> Vec<PackageResult> {
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
    let mut results = emerge_results(entry, &by_atom, dir);
    for step in &entry.steps {
        results.push(step_result_of(step, by_atom.get(&step.key()).copied(), dir));
    }
    results
}

/// The rows of the emerges and of `emerge --config`.
fn emerge_results(
    entry: &Entry,
    by_atom: &BTreeMap<String, (i32, u64, usize)>,
    dir: &Path,
) -> Vec<PackageResult> {
    if let Some(distfile) = &entry.refuse_distfile {
        return entry
            .packages
            .iter()
            .map(|atom| {
                let ran = by_atom.get(atom).copied();
                refused_result(atom, ran, Refusal::Distfile(distfile), dir)
            })
            .collect();
    }
    if let Some(message) = entry.expect.as_ref().and_then(|x| x.refused.as_deref()) {
        return entry
            .packages
            .iter()
            .map(|atom| {
                let ran = by_atom.get(atom).copied();
                refused_result(atom, ran, Refusal::Message(message), dir)
            })
            .collect();
    }
    let mut results: Vec<PackageResult> = entry
        .packages
        .iter()
        .map(|atom| step_result(atom, by_atom.get(atom).copied(), dir))
        .collect();
    for atom in &entry.config.atoms {
        let step = ConfigRun::step(atom);
        let ran = by_atom.get(&step).copied().map(|(rc, secs, n)| {
            // Portage 2.0 and 2.1 exit 0 from emerge --config when pkg_config dies: its banner
            // in the log is what says it failed.
            let log = fs::read_to_string(dir.join(format!("out/logs/{n}.emerge.log")))
                .unwrap_or_default();
            (
                if rc == 0 && DIED.is_match(&log) {
                    1
                } else {
                    rc
                },
                secs,
                n,
            )
        });
        results.push(match &entry.config.refused {
            Some(message) => refused_result(&step, ran, Refusal::Message(message), dir),
            None => {
                let mut r = step_result(&step, ran, dir);
                // Not a dependency problem: the package merged, its configuration failed.
                if let Some(f) = r.failure.as_mut().filter(|f| f.phase == "dependencies") {
                    f.phase = "config".to_string();
                }
                r
            }
        });
    }
    results
}

/// A step's row: passed when it exited as it must and its output says and lacks what it must;
/// else failed in phase "step", the phase naming the first thing that was wrong.
fn step_result_of(step: &Step, ran: Option<(i32, u64, usize)>, dir: &Path) -> PackageResult {
    let key = step.key();
    let Some((rc, secs, n)) = ran else {
        return not_run(&key);
    };
    let log = dir.join(format!("out/logs/{n}.step.log"));
    let text = fs::read_to_string(&log).unwrap_or_default();
    let wrong = if !step.exit.accepts(rc) {
        Some(format!("step: exit {rc}, want {}", step.exit))
    } else if let Some(t) = step.says.iter().find(|t| !text.contains(t.as_str())) {
        Some(format!("step: output lacks {t:?}"))
    } else {
        step.lacks
            .iter()
            .find(|t| text.contains(t.as_str()))
            .map(|t| format!("step: output says {t:?}"))
    };
    PackageResult {
        atom: key,
        outcome: Outcome::passed_if(wrong.is_none()),
        duration: Some(Duration::from_secs(secs)),
        failure: wrong.map(|phase| Failure { phase, log }),
    }
}

/// A step that must succeed (an emerge, an `emerge --config`): passed on exit 0, else failed,
/// pointing at portage's build log of the failed phase when it wrote one, else at its output.
fn step_result(atom: &str, ran: Option<(i32, u64, usize)>, dir: &Path) -> PackageResult {
    let Some((rc, secs, n)) = ran else {
        return not_run(atom);
    };
    if rc == 0 {
        return PackageResult {
            atom: atom.to_string(),
            outcome: Outcome::Passed,
            duration: Some(Duration::from_secs(secs)),
            failure: None,
        };
    }
    let emerge_log = dir.join(format!("out/logs/{n}.emerge.log"));
    let text = fs::read_to_string(&emerge_log).unwrap_or_default();
    let (phase, log) = match FAILED_PHASE.captures(&text) {
        Some(c) => {
            let cpv = c[1].replace('/', ":");
            let build_log = fs::read_dir(dir.join("out/build-logs"))
                .ok()
                .and_then(|rd| {
                    rd.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{cpv}:")))
                    })
                })
                .unwrap_or(emerge_log.clone());
            (c[2].to_string(), build_log)
        }
        None => ("dependencies".to_string(), emerge_log.clone()),
    };
    PackageResult {
        atom: atom.to_string(),
        outcome: Outcome::Failed,
        duration: Some(Duration::from_secs(secs)),
        failure: Some(Failure { phase, log }),
    }
}

/// A package whose emerge never started.
pub(super) fn not_run(atom: &str) -> PackageResult {
    PackageResult {
        atom: atom.to_string(),
        outcome: Outcome::NotRun,
        duration: None,
        failure: None,
    }
}
