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
    /// Passed when `ok`, else failed.
    pub fn passed_if(ok: bool) -> Outcome {
        if ok {
            Outcome::Passed
        } else {
            Outcome::Failed
        }
    }

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

impl CheckResult {
    /// A check that ran: passed unless `failed`, else failed in `phase` with its evidence in `log`.
    pub fn judged(name: &str, failed: bool, phase: String, log: PathBuf) -> CheckResult {
        CheckResult {
            name: name.to_string(),
            outcome: Outcome::passed_if(!failed),
            failure: failed.then_some(Failure { phase, log }),
        }
    }
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
            suite.add_test_case(entry_case(r));
            continue;
        }
        for p in &r.packages {
            suite.add_test_case(package_case(r, p));
        }
        for c in &r.checks {
            let mut case = TestCase::new(format!("check: {}", c.name), check_status(r, c));
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

/// An entry without packages: one test case for the entry itself.
fn entry_case(r: &EntryResult) -> TestCase {
    let status = match r.status {
        Status::Passed => TestCaseStatus::success(),
        Status::SkippedCached => skipped_cached(),
        Status::Skipped => skipped(r),
        Status::Failed => failed(r.failure.as_ref()),
    };
    let mut case = TestCase::new(r.name.as_str(), status);
    case.set_classname(r.name.as_str()).set_time(r.duration);
    case
}

fn package_case(r: &EntryResult, p: &PackageResult) -> TestCase {
    let status = match p.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::SkippedCached => skipped_cached(),
        Outcome::Skipped => skipped(r),
        Outcome::Failed => failed(p.failure.as_ref()),
        // Not a failure of the package itself: JUnit's "error" (could not run).
        Outcome::NotRun => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            match &r.failure {
                Some(f) => s.set_message(format!("not built: entry {} {}", r.name, f.describe())),
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
    case
}

fn check_status(r: &EntryResult, c: &CheckResult) -> TestCaseStatus {
    match c.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::SkippedCached => skipped_cached(),
        Outcome::Skipped => skipped(r),
        Outcome::Failed => failed(c.failure.as_ref()),
        Outcome::NotRun => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(format!(
                "not run: entry {} failed before its checks",
                r.name
            ));
            s
        }
    }
}

/// A JUnit failure naming the phase and the log, or just "failed" where there is none.
fn failed(failure: Option<&Failure>) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    match failure {
        Some(f) => s.set_message(f.describe()).set_type(f.phase.as_str()),
        None => s.set_message("failed"),
    };
    s
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

/// The end of the log of every failed package and check, `lines` lines each, under a heading naming
/// the entry, what failed and the log: what the terminal shows below the table.
pub fn failure_tails(results: &[EntryResult], lines: usize) -> String {
    let mut out = String::new();
    for r in results {
        let packages = r.packages.iter().map(|p| (p.atom.as_str(), &p.failure));
        let checks = r.checks.iter().map(|c| (c.name.as_str(), &c.failure));
        let mut seen = Vec::new();
        for (what, failure) in packages.chain(checks) {
            let Some(f) = failure else { continue };
            // A refusal's package and check share one log: shown once.
            if seen.contains(&&f.log) {
                continue;
            }
            seen.push(&f.log);
            let text = std::fs::read_to_string(&f.log)
                .unwrap_or_else(|e| format!("(cannot read {}: {e})\n", f.log.display()));
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!(
                "--- {}: {what} failed in phase {} ({}):\n",
                r.name,
                f.phase,
                f.log.display()
            ));
            for l in &all[all.len().saturating_sub(lines)..] {
                out.push_str(&format!("    {l}\n"));
            }
        }
    }
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
mod tests;
