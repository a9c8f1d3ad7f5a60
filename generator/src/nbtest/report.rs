//! The results of a matrix run, written for people and for CI systems: `summary.json` (every fact,
//! for scripts), `junit.xml` (one testcase per entry and package, which CI systems show as test
//! results) and a short aligned table for the terminal.
//!
//! Output is deterministic apart from durations: entries keep the order they are given in (the
//! matrix's order), packages too, and nothing records a clock time, host or random id.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use crate::base::error::{Error, IoContext, Result};

/// Where `nbgen test` keeps each entry's results, relative to the workspace root: CI uploads
/// `<RESULTS_DIR>/<entry name>` as the entry's artifact.
pub const RESULTS_DIR: &str = "target/nb-test";

/// The results directory of entry `name`, relative to the workspace root.
pub fn entry_dir(name: &str) -> PathBuf {
    Path::new(RESULTS_DIR).join(name)
}

/// How an entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    Failed,
    /// Not run: a previous run passed with the same inputs.
    SkippedCached,
    /// Not run: what it needs cannot be had here (the entry's `skip_reason` says what). Neither
    /// passed nor failed.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::SkippedCached => "skipped-cached",
            Status::Skipped => "skipped",
        }
    }
}

/// How one package of an entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    Failed,
    /// Never started, because the entry failed before it (see the entry's failure).
    NotRun,
    SkippedCached,
    /// The entry was skipped (see its `skip_reason`).
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::NotRun => "not-run",
            Outcome::SkippedCached => "skipped-cached",
            Outcome::Skipped => "skipped",
        }
    }
}

/// Where something failed: the phase (`fetch-stage`, `import-stage`, `fetch-kernel`,
/// `fetch-snapshot`, `kernel`, `setup`, `compile`, `install`...)
/// and the log that shows it, as a path people can open (relative to the results directory when
/// the results travel as an artifact).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub phase: String,
    pub log: PathBuf,
}

impl Failure {
    fn describe(&self) -> String {
        format!(
            "failed in phase {}; log: {}",
            self.phase,
            self.log.display()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageResult {
    /// The atom as the matrix names it.
    pub atom: String,
    pub outcome: Outcome,
    pub duration: Option<Duration>,
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryResult {
    pub name: String,
    pub status: Status,
    pub duration: Duration,
    /// The first failure of the entry: a package's, or the entry's own before any package ran.
    pub failure: Option<Failure>,
    pub packages: Vec<PackageResult>,
    /// Why a [`Status::Skipped`] entry did not run.
    pub skip_reason: Option<String>,
    /// The entry's checks of the installed modules (the matrix's `checks`), after its packages.
    pub checks: Vec<CheckResult>,
}

/// One check of an entry (`depmod`, `load-order`): passed, failed with its log, or not run
/// because a package failed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    pub outcome: Outcome,
    pub failure: Option<Failure>,
}

impl EntryResult {
    /// An entry that cannot run here, with every package skipped for `reason`.
    pub fn skipped(name: &str, atoms: &[String], reason: &str) -> EntryResult {
        EntryResult {
            name: name.to_string(),
            status: Status::Skipped,
            duration: Duration::ZERO,
            failure: None,
            packages: atoms
                .iter()
                .map(|atom| PackageResult {
                    atom: atom.clone(),
                    outcome: Outcome::Skipped,
                    duration: None,
                    failure: None,
                })
                .collect(),
            skip_reason: Some(reason.to_string()),
            checks: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// summary.json: field order is the declaration order below, so the file diffs cleanly.

#[derive(Serialize)]
struct Summary<'a> {
    /// Bumped when a field changes meaning or goes away.
    format: u32,
    matrix: &'a str,
    totals: Totals,
    entries: Vec<EntryJson<'a>>,
}

#[derive(Serialize, Default)]
struct Totals {
    entries: usize,
    passed: usize,
    failed: usize,
    skipped_cached: usize,
    skipped: usize,
    packages: usize,
    packages_failed: usize,
}

#[derive(Serialize)]
struct EntryJson<'a> {
    name: &'a str,
    status: Status,
    duration_seconds: f64,
    failure: Option<&'a Failure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_reason: Option<&'a str>,
    packages: Vec<PackageJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checks: Vec<CheckJson<'a>>,
}

#[derive(Serialize)]
struct CheckJson<'a> {
    name: &'a str,
    outcome: Outcome,
    failure: Option<&'a Failure>,
}

#[derive(Serialize)]
struct PackageJson<'a> {
    atom: &'a str,
    outcome: Outcome,
    duration_seconds: Option<f64>,
    failure: Option<&'a Failure>,
}

/// Seconds with millisecond precision: enough for builds, and no float noise in the file.
fn seconds(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

fn totals(results: &[EntryResult]) -> Totals {
    let mut t = Totals {
        entries: results.len(),
        ..Totals::default()
    };
    for r in results {
        match r.status {
            Status::Passed => t.passed += 1,
            Status::Failed => t.failed += 1,
            Status::SkippedCached => t.skipped_cached += 1,
            Status::Skipped => t.skipped += 1,
        }
        t.packages += r.packages.len();
        t.packages_failed += r
            .packages
            .iter()
            .filter(|p| p.outcome == Outcome::Failed)
            .count();
    }
    t
}

/// summary.json of `results`, run from `matrix` (the matrix file as the user named it).
pub fn summary_json(matrix: &str, results: &[EntryResult]) -> String {
    let summary = Summary {
        format: 1,
        matrix,
        totals: totals(results),
        entries: results
            .iter()
            .map(|r| EntryJson {
                name: &r.name,
                status: r.status,
                duration_seconds: seconds(r.duration),
                failure: r.failure.as_ref(),
                skip_reason: r.skip_reason.as_deref(),
                packages: r
                    .packages
                    .iter()
                    .map(|p| PackageJson {
                        atom: &p.atom,
                        outcome: p.outcome,
                        duration_seconds: p.duration.map(seconds),
                        failure: p.failure.as_ref(),
                    })
                    .collect(),
                checks: r
                    .checks
                    .iter()
                    .map(|c| CheckJson {
                        name: &c.name,
                        outcome: c.outcome,
                        failure: c.failure.as_ref(),
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&summary).expect("plain data serializes");
    text.push('\n');
    text
}

// ---------------------------------------------------------------------------------------------
// junit.xml

/// junit.xml of `results`: one testsuite named after the matrix, one testcase per entry and
/// package (classname the entry, name the atom). An entry with no packages still gets one
/// testcase, named after the entry, so that its failure is not lost.
pub fn junit_xml(matrix: &str, results: &[EntryResult]) -> Result<String> {
    let mut suite = TestSuite::new(matrix);
    let mut total = Duration::ZERO;
    for r in results {
        total += r.duration;
        if r.packages.is_empty() {
            let status = match (r.status, &r.failure) {
                (Status::Passed, _) => TestCaseStatus::success(),
                (Status::SkippedCached, _) => skipped_cached(),
                (Status::Skipped, _) => skipped(r),
                (Status::Failed, f) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    if let Some(f) = f {
                        s.set_message(f.describe()).set_type(f.phase.as_str());
                    } else {
                        s.set_message("failed");
                    }
                    s
                }
            };
            let mut case = TestCase::new(r.name.as_str(), status);
            case.set_classname(r.name.as_str()).set_time(r.duration);
            suite.add_test_case(case);
            continue;
        }
        for p in &r.packages {
            let status = match p.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::SkippedCached => skipped_cached(),
                Outcome::Skipped => skipped(r),
                Outcome::Failed => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    match &p.failure {
                        Some(f) => s.set_message(f.describe()).set_type(f.phase.as_str()),
                        None => s.set_message("failed"),
                    };
                    s
                }
                // Not a failure of the package itself: JUnit's "error" (could not run).
                Outcome::NotRun => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    match &r.failure {
                        Some(f) => {
                            s.set_message(format!("not built: entry {} {}", r.name, f.describe()))
                        }
                        None => s.set_message(format!("not built: entry {} stopped", r.name)),
                    };
                    s
                }
            };
            let mut case = TestCase::new(p.atom.as_str(), status);
            case.set_classname(r.name.as_str());
            if let Some(d) = p.duration {
                case.set_time(d);
            }
            suite.add_test_case(case);
        }
        for c in &r.checks {
            let status = match (c.outcome, &c.failure) {
                (Outcome::Passed, _) => TestCaseStatus::success(),
                (Outcome::SkippedCached, _) => skipped_cached(),
                (Outcome::Skipped, _) => skipped(r),
                (Outcome::Failed, f) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    match f {
                        Some(f) => s.set_message(f.describe()).set_type(f.phase.as_str()),
                        None => s.set_message("failed"),
                    };
                    s
                }
                (Outcome::NotRun, _) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(format!(
                        "not run: entry {} failed before its checks",
                        r.name
                    ));
                    s
                }
            };
            let mut case = TestCase::new(format!("check: {}", c.name), status);
            case.set_classname(r.name.as_str());
            suite.add_test_case(case);
        }
    }
    suite.set_time(total);
    let mut report = Report::new("nbgen test");
    report.set_time(total).add_test_suite(suite);
    report.to_string().map_err(|e| Error::Render {
        template: "junit.xml".into(),
        message: e.to_string(),
    })
}

fn skipped(r: &EntryResult) -> TestCaseStatus {
    let mut s = TestCaseStatus::skipped();
    s.set_message(format!(
        "SKIPPED: {}",
        r.skip_reason.as_deref().unwrap_or("no reason given")
    ));
    s
}

fn skipped_cached() -> TestCaseStatus {
    let mut s = TestCaseStatus::skipped();
    s.set_message("cached: passed before with the same inputs");
    s
}

// ---------------------------------------------------------------------------------------------
// The terminal table.

/// `1m05s`, `12.3s`: short enough for a table column.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// An aligned plain-text table: one row per entry, then a totals line.
pub fn table(results: &[EntryResult]) -> String {
    let header = ["ENTRY", "STATUS", "TIME", "PACKAGES", "FAILED AT"];
    let rows: Vec<[String; 5]> = results
        .iter()
        .map(|r| {
            let passed = r
                .packages
                .iter()
                .filter(|p| p.outcome == Outcome::Passed)
                .count();
            [
                r.name.clone(),
                r.status.as_str().to_string(),
                format_duration(r.duration),
                format!("{passed}/{} passed", r.packages.len()),
                match (&r.failure, &r.skip_reason) {
                    (Some(f), _) => format!("{} ({})", f.phase, f.log.display()),
                    (None, Some(why)) => format!("SKIPPED: {why}"),
                    (None, None) => String::new(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                out.push_str(cell);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(String::from));
    for row in &rows {
        out.push_str(&line(row));
    }
    let t = totals(results);
    out.push_str(&format!(
        "{} entries: {} passed, {} failed, {} skipped (cached)",
        t.entries, t.passed, t.failed, t.skipped_cached
    ));
    if t.skipped > 0 {
        out.push_str(&format!(", {} SKIPPED (cannot run here)", t.skipped));
    }
    out.push('\n');
    out
}

/// Writes summary.json and junit.xml into `dir` (created if need be), each atomically.
pub fn write(dir: &Path, matrix: &str, results: &[EntryResult]) -> Result<()> {
    std::fs::create_dir_all(dir).at(dir)?;
    let xml = junit_xml(matrix, results)?;
    crate::base::atomic::write(
        &dir.join("summary.json"),
        summary_json(matrix, results).as_bytes(),
    )?;
    crate::base::atomic::write(&dir.join("junit.xml"), xml.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> Vec<EntryResult> {
        let pkg = |atom: &str, outcome, failure: Option<Failure>| PackageResult {
            atom: atom.into(),
            outcome,
            duration: Some(Duration::from_millis(1500)),
            failure,
        };
        let compile = Failure {
            phase: "compile".into(),
            log: "linux-2.6.16-fixture/logs/qla2x00-driver.log".into(),
        };
        vec![
            EntryResult {
                name: "linux-2.6.15-fixture".into(),
                status: Status::Passed,
                duration: Duration::from_millis(65_400),
                failure: None,
                packages: vec![
                    pkg("app-backup/netbackup-support", Outcome::Passed, None),
                    pkg(">=sys-block/qla2x00-driver-8", Outcome::Passed, None),
                ],
                skip_reason: None,
                checks: vec![],
            },
            EntryResult {
                name: "linux-2.6.16-fixture".into(),
                status: Status::Failed,
                duration: Duration::from_millis(12_345),
                failure: Some(compile.clone()),
                packages: vec![
                    pkg("app-backup/netbackup-support", Outcome::Passed, None),
                    pkg(
                        ">=sys-block/qla2x00-driver-8",
                        Outcome::Failed,
                        Some(compile),
                    ),
                ],
                skip_reason: None,
                checks: vec![],
            },
            EntryResult {
                name: "linux-2.4.27-smp".into(),
                status: Status::Failed,
                duration: Duration::from_millis(2_000),
                failure: Some(Failure {
                    phase: "fetch-stage".into(),
                    log: "linux-2.4.27-smp/logs/fetch.log".into(),
                }),
                packages: vec![PackageResult {
                    atom: "<sys-block/qla2x00-driver-8".into(),
                    outcome: Outcome::NotRun,
                    duration: None,
                    failure: None,
                }],
                skip_reason: None,
                checks: vec![],
            },
            EntryResult {
                name: "linux-2.6.18".into(),
                status: Status::SkippedCached,
                duration: Duration::ZERO,
                failure: None,
                packages: vec![pkg("sys-libs/lib-compat", Outcome::SkippedCached, None)],
                skip_reason: None,
                checks: vec![],
            },
        ]
    }

    #[test]
    fn summary_has_stable_fields_and_totals() {
        let text = summary_json("ci/matrix-local.toml", &results());
        assert_eq!(text, summary_json("ci/matrix-local.toml", &results()));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["totals"]["entries"], 4);
        assert_eq!(v["totals"]["failed"], 2);
        assert_eq!(v["totals"]["packages_failed"], 1);
        assert_eq!(v["entries"][1]["status"], "failed");
        assert_eq!(v["entries"][1]["failure"]["phase"], "compile");
        assert_eq!(v["entries"][1]["duration_seconds"], 12.345);
        assert_eq!(v["entries"][2]["packages"][0]["outcome"], "not-run");
        assert_eq!(v["entries"][3]["status"], "skipped-cached");
        // Field order is the declaration order, not alphabetical.
        let order = ["\"format\"", "\"matrix\"", "\"totals\"", "\"entries\""];
        let pos: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn junit_names_phase_and_log_of_a_failure() {
        let xml = junit_xml("ci/matrix-local.toml", &results()).unwrap();
        assert_eq!(xml, junit_xml("ci/matrix-local.toml", &results()).unwrap());
        let report = Report::deserialize_from_str(&xml).unwrap();
        let suite = &report.test_suites[0];
        assert_eq!(suite.name.as_str(), "ci/matrix-local.toml");
        assert_eq!(suite.test_cases.len(), 6);
        assert_eq!((suite.failures, suite.errors, suite.skipped), (1, 1, 1));
        let failed = &suite.test_cases[3];
        assert_eq!(
            failed.classname.as_ref().unwrap().as_str(),
            "linux-2.6.16-fixture"
        );
        assert_eq!(failed.name.as_str(), ">=sys-block/qla2x00-driver-8");
        let TestCaseStatus::NonSuccess { message, ty, .. } = &failed.status else {
            panic!("{:?}", failed.status)
        };
        assert_eq!(
            message.as_ref().unwrap().as_str(),
            "failed in phase compile; log: linux-2.6.16-fixture/logs/qla2x00-driver.log"
        );
        assert_eq!(ty.as_ref().unwrap().as_str(), "compile");
        let not_run = &suite.test_cases[4];
        let TestCaseStatus::NonSuccess { message, .. } = &not_run.status else {
            panic!()
        };
        assert!(message.as_ref().unwrap().as_str().contains("fetch-stage"));
        assert!(!xml.contains("timestamp"), "{xml}");
    }

    #[test]
    fn junit_escapes_odd_names() {
        let odd = "a<b>&\"c'\u{1b}[31m\u{7}";
        let r = vec![EntryResult {
            name: odd.into(),
            status: Status::Failed,
            duration: Duration::from_secs(1),
            failure: Some(Failure {
                phase: "<compile & \"link\">".into(),
                log: "logs/<odd> & 'file'.log".into(),
            }),
            packages: vec![],
            skip_reason: None,
            checks: vec![],
        }];
        let xml = junit_xml(odd, &r).unwrap();
        assert!(!xml.contains("a<b>"), "{xml}");
        assert!(xml.contains("&lt;") && xml.contains("&amp;"), "{xml}");
        // It parses back, and what XML can hold survives; the ANSI colour sequence and the bell
        // cannot be held, so quick-junit drops them.
        let report = Report::deserialize_from_str(&xml).unwrap();
        let case = &report.test_suites[0].test_cases[0];
        assert_eq!(case.name.as_str(), "a<b>&\"c'");
        let TestCaseStatus::NonSuccess { message, .. } = &case.status else {
            panic!()
        };
        assert_eq!(
            message.as_ref().unwrap().as_str(),
            "failed in phase <compile & \"link\">; log: logs/<odd> & 'file'.log"
        );
    }

    #[test]
    fn table_is_aligned() {
        let t = table(&results());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 6, "{t}");
        assert!(lines[0].starts_with("ENTRY"));
        // Every column starts at the same place on each row.
        let col = lines[0].find("STATUS").unwrap();
        for l in &lines[1..5] {
            assert_eq!(&l[col - 2..col], "  ", "{t}");
            assert_ne!(&l[col..col + 1], " ", "{t}");
        }
        assert!(
            lines[1].contains("1m05s") && lines[1].contains("2/2 passed"),
            "{t}"
        );
        assert!(lines[2].contains("compile (linux-2.6.16-fixture/logs/qla2x00-driver.log)"));
        assert_eq!(
            lines[5],
            "4 entries: 1 passed, 2 failed, 1 skipped (cached)"
        );
        assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3s");
    }

    #[test]
    fn a_skipped_entry_says_why_everywhere_and_never_passes() {
        let why = "bash-3.1.tar.xz: not in /nowhere/era";
        let atoms = ["sys-libs/lib-compat".to_string()];
        let mut r = results();
        r.push(EntryResult::skipped("era-2.1.1-fixture", &atoms, why));
        let v: serde_json::Value = serde_json::from_str(&summary_json("m.toml", &r)).unwrap();
        assert_eq!(v["totals"]["passed"], 1);
        assert_eq!(v["totals"]["skipped"], 1);
        assert_eq!(v["entries"][4]["status"], "skipped");
        assert_eq!(v["entries"][4]["skip_reason"], why);
        assert_eq!(v["entries"][4]["packages"][0]["outcome"], "skipped");
        assert!(v["entries"][0].get("skip_reason").is_none());
        let report = Report::deserialize_from_str(&junit_xml("m.toml", &r).unwrap()).unwrap();
        let suite = &report.test_suites[0];
        assert_eq!(suite.skipped, 2);
        let case = suite.test_cases.last().unwrap();
        let TestCaseStatus::Skipped { message, .. } = &case.status else {
            panic!("{:?}", case.status)
        };
        assert_eq!(
            message.as_ref().unwrap().as_str(),
            format!("SKIPPED: {why}")
        );
        let t = table(&r);
        let row = t
            .lines()
            .find(|l| l.starts_with("era-2.1.1-fixture"))
            .unwrap();
        let cells: Vec<&str> = row.split("  ").filter(|c| !c.trim().is_empty()).collect();
        assert_eq!(
            cells[1..].iter().map(|c| c.trim()).collect::<Vec<_>>(),
            ["skipped", "0.0s", "0/1 passed", &format!("SKIPPED: {why}")],
            "{t}"
        );
        assert!(
            t.ends_with(
                "5 entries: 1 passed, 2 failed, 1 skipped (cached), 1 SKIPPED (cannot run here)\n"
            ),
            "{t}"
        );
    }

    #[test]
    fn checks_are_phases_of_their_entry_in_both_reports() {
        let failure = Failure {
            phase: "check-load-order".into(),
            log: "linux-2.6.18-real/out/checks/load-order.log".into(),
        };
        let r = vec![EntryResult {
            name: "linux-2.6.18-real".into(),
            status: Status::Failed,
            duration: Duration::from_secs(60),
            failure: Some(failure.clone()),
            packages: vec![PackageResult {
                atom: ">=sys-block/qla2x00-driver-8".into(),
                outcome: Outcome::Passed,
                duration: Some(Duration::from_secs(24)),
                failure: None,
            }],
            skip_reason: None,
            checks: vec![
                CheckResult {
                    name: "depmod".into(),
                    outcome: Outcome::Passed,
                    failure: None,
                },
                CheckResult {
                    name: "load-order".into(),
                    outcome: Outcome::Failed,
                    failure: Some(failure),
                },
            ],
        }];
        let v: serde_json::Value = serde_json::from_str(&summary_json("m.toml", &r)).unwrap();
        assert_eq!(v["entries"][0]["checks"][0]["outcome"], "passed");
        assert_eq!(
            v["entries"][0]["checks"][1]["failure"]["phase"],
            "check-load-order"
        );
        // Entries without checks keep the summary they had.
        let plain: serde_json::Value =
            serde_json::from_str(&summary_json("m.toml", &results())).unwrap();
        assert!(plain["entries"][0].get("checks").is_none());
        let report = Report::deserialize_from_str(&junit_xml("m.toml", &r).unwrap()).unwrap();
        let suite = &report.test_suites[0];
        assert_eq!(suite.test_cases.len(), 3);
        assert_eq!(suite.failures, 1);
        let case = &suite.test_cases[2];
        assert_eq!(case.name.as_str(), "check: load-order");
        assert_eq!(
            case.classname.as_ref().unwrap().as_str(),
            "linux-2.6.18-real"
        );
        let TestCaseStatus::NonSuccess { ty, .. } = &case.status else {
            panic!("{:?}", case.status)
        };
        assert_eq!(ty.as_ref().unwrap().as_str(), "check-load-order");
    }

    #[test]
    fn write_puts_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("results/x");
        write(&out, "m.toml", &results()).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["junit.xml", "summary.json"]);
        assert_eq!(entry_dir("e"), Path::new("target/nb-test/e"));
    }
}
