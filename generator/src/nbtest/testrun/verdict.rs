//! The verdicts on an entry's expectations (the matrix's `expect`, validated in matrix/expect.rs)
//! and on the packages it must see refused, from what its container left in out/: the installed
//! file lists (out/expect/installed/*.CONTENTS), copies of the files whose contents are checked
//! (out/expect/files/), and the emerge and build logs. Each expectation is a check of the entry,
//! its verdict and evidence in out/expect/<name>.log.

use super::*;
use crate::nbtest::matrix::{Expect, FileText};

/// How many lines of a log a failed expectation quotes.
const TAIL: usize = 20;

/// The expectations' checks, in the order [`Expect::check_names`] gives.
pub(super) fn collect_expectations(expect: &Expect, dir: &Path) -> Vec<CheckResult> {
    let out = dir.join("out/expect");
    let _ = fs::create_dir_all(&out);
    let installed = installed_paths(dir);
    let _ = fs::write(out.join("installed.txt"), lines(&installed));
    let logs = logs_text(dir);
    expect
        .check_names()
        .into_iter()
        .map(|name| {
            let problem = match name {
                "refused" => None,
                "installs" => missing_paths(&expect.installs, &installed),
                "absent" => present_texts(&expect.absent, &installed),
                "log" => unsaid(&expect.log, &logs),
                "holds" => file_texts(&expect.holds, dir, true),
                "lacks" => file_texts(&expect.lacks, dir, false),
                _ => not_executable(&expect.executable, dir),
            };
            let log = out.join(format!("{name}.log"));
            // refused.log holds the packages' verdicts (refused_result); judge shows them.
            let text = match &problem {
                _ if name == "refused" => String::new(),
                None => format!("{name}: as expected\n"),
                Some(p) => format!("nbgen test: {name}: {p}\n"),
            };
            if !text.is_empty() {
                let _ = fs::write(&log, text);
            }
            CheckResult::judged(name, problem.is_some(), format!("expect-{name}"), log)
        })
        .collect()
}

/// What a package that must be refused has to be refused for: a distfile portage must reject
/// (`refuse_distfile`: the entry altered it), or a message its logs must say (`expect`'s
/// outcome = "refused"). The one notion of "portage must refuse this".
#[derive(Debug, Clone, Copy)]
pub(super) enum Refusal<'a> {
    Distfile(&'a str),
    Message(&'a str),
}

impl Refusal<'_> {
    /// Whether the logs say this refusal: portage's digest verdict on the distfile in the emerge
    /// log, or the message in any log.
    fn said(&self, emerge_log: &str, logs: &str) -> bool {
        match self {
            Refusal::Distfile(name) => refused(emerge_log, name),
            Refusal::Message(text) => logs.contains(text),
        }
    }

    /// The failure phases: merged anyway, and failed without this refusal.
    fn phases(&self) -> (&'static str, &'static str) {
        match self {
            Refusal::Distfile(_) => (
                "accepted-wrong-distfile",
                "failed-without-refusing-distfile",
            ),
            Refusal::Message(_) => ("it-built", "refused-without-message"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Refusal::Distfile(name) => format!("refusing the altered distfile {name}"),
            Refusal::Message(text) => format!("saying {text:?}"),
        }
    }
}

/// A package that must be refused: it passes when its emerge failed and the logs say the
/// refusal, and fails when it merged or failed for another reason. Its verdict, with the emerge
/// log's end, goes to out/expect/refused.log.
pub(super) fn refused_result(
    atom: &str,
    ran: Option<(i32, u64, usize)>,
    refusal: Refusal,
    dir: &Path,
) -> PackageResult {
    let Some((rc, secs, n)) = ran else {
        return not_run(atom);
    };
    let emerge_log =
        fs::read_to_string(dir.join(format!("out/logs/{n}.emerge.log"))).unwrap_or_default();
    let logs = logs_text(dir);
    let (built, other) = refusal.phases();
    let problem = if rc == 0 {
        Some((
            built,
            format!("{atom}: to be refused, {}: it merged", refusal.describe()),
        ))
    } else if !refusal.said(&emerge_log, &logs) {
        Some((
            other,
            format!(
                "{atom}: emerge failed (exit {rc}), but not {}; the emerge log ends:\n{}",
                refusal.describe(),
                tail(&emerge_log, TAIL)
            ),
        ))
    } else {
        None
    };
    let out = dir.join("out/expect");
    let log = out.join("refused.log");
    let text = match &problem {
        None => format!("{atom}: refused, {}\n", refusal.describe()),
        Some((_, p)) => format!("nbgen test: {p}\n"),
    };
    let _ = fs::create_dir_all(&out).and_then(|()| {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        std::io::Write::write_all(&mut f, text.as_bytes())
    });
    PackageResult {
        atom: atom.to_string(),
        outcome: Outcome::passed_if(problem.is_none()),
        duration: Some(Duration::from_secs(secs)),
        failure: problem.map(|(phase, _)| Failure {
            phase: phase.to_string(),
            log,
        }),
    }
}

/// The paths (relative to the root, sorted) in the CONTENTS files the entry's merges wrote.
pub(super) fn installed_paths(dir: &Path) -> Vec<String> {
    let mut paths: Vec<String> = fs::read_dir(dir.join("out/expect/installed"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| fs::read_to_string(e.path()).ok())
        .flat_map(|text| text.lines().filter_map(contents_path).collect::<Vec<_>>())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// The path of one CONTENTS line (`dir PATH`, `obj PATH MD5 MTIME`, `sym PATH -> TARGET MTIME`,
/// `fif PATH`, `dev PATH`), without its leading slash. A path may hold spaces, so the fields after
/// it are taken off the end.
pub(super) fn contents_path(line: &str) -> Option<String> {
    let (kind, rest) = line.split_once(' ')?;
    let path = match kind {
        "dir" | "fif" | "dev" => rest,
        "obj" => rest.rsplitn(3, ' ').nth(2)?,
        "sym" => rest.split_once(" -> ")?.0,
        _ => return None,
    };
    Some(path.trim_start_matches('/').to_string())
}

/// Every emerge output and portage build log of the entry, as one text.
pub(super) fn logs_text(dir: &Path) -> String {
    let mut files: Vec<PathBuf> = ["out/logs", "out/build-logs"]
        .iter()
        .flat_map(|d| fs::read_dir(dir.join(d)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|f| fs::read(f).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn missing_paths(want: &[String], installed: &[String]) -> Option<String> {
    let missing: Vec<&String> = want
        .iter()
        .filter(|p| installed.binary_search(p).is_err())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "not installed: {}\ninstalled ({} paths, also in installed.txt):\n{}",
            join(&missing),
            installed.len(),
            lines(installed)
        )
    })
}

fn present_texts(texts: &[String], installed: &[String]) -> Option<String> {
    let found: Vec<String> = texts
        .iter()
        .flat_map(|t| installed.iter().filter(move |p| p.contains(t.as_str())))
        .cloned()
        .collect();
    (!found.is_empty()).then(|| format!("installed, though expected absent:\n{}", lines(&found)))
}

fn unsaid(texts: &[String], logs: &str) -> Option<String> {
    let unsaid: Vec<&String> = texts
        .iter()
        .filter(|t| !logs.contains(t.as_str()))
        .collect();
    (!unsaid.is_empty()).then(|| {
        format!(
            "no log says: {}\nthe logs end:\n{}",
            join(&unsaid),
            tail(logs, TAIL)
        )
    })
}

/// Each file's copy holds (`want`) or lacks its text; a file not installed fails either way.
fn file_texts(checks: &[FileText], dir: &Path, want: bool) -> Option<String> {
    let problems: Vec<String> = checks
        .iter()
        .filter_map(|c| {
            let copy = dir.join("out/expect/files").join(&c.file);
            let Ok(bytes) = fs::read(&copy) else {
                return Some(format!("{} is not installed", c.file));
            };
            let text = String::from_utf8_lossy(&bytes);
            (text.contains(c.text.as_str()) != want).then(|| {
                let verb = if want { "does not hold" } else { "holds" };
                let head: Vec<&str> = text.lines().take(10).collect();
                format!(
                    "{} {verb} {:?}; it begins:\n{}",
                    c.file,
                    c.text,
                    head.join("\n")
                )
            })
        })
        .collect();
    (!problems.is_empty()).then(|| problems.join("\n"))
}

/// The copies keep the installed files' modes (`cp -p`).
fn not_executable(files: &[String], dir: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let problems: Vec<String> = files
        .iter()
        .filter_map(
            |f| match fs::metadata(dir.join("out/expect/files").join(f)) {
                Err(_) => Some(format!("{f} is not installed")),
                Ok(m) if m.permissions().mode() & 0o111 == 0 => Some(format!(
                    "{f} is not executable (mode {:o})",
                    m.permissions().mode() & 0o7777
                )),
                Ok(_) => None,
            },
        )
        .collect();
    (!problems.is_empty()).then(|| problems.join("\n"))
}

/// The last `n` lines of `text`.
pub(super) fn tail(text: &str, n: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(n)..].join("\n")
}

fn lines(items: &[String]) -> String {
    items.iter().map(|i| format!("{i}\n")).collect()
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
