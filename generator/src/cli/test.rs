//! `nbgen test`: runs a matrix and prints the table of its entries.

use std::path::{Path, PathBuf};

use nbgen::base::error::{Result, EXIT_CHECK_FAILED, EXIT_OK};
use nbgen::base::workspace::Workspace;
use nbgen::nbtest::cache::SharedLock;
use nbgen::nbtest::{cache, engine, report, testrun, Note};

use super::progress;

/// The options of `nbgen test`.
#[derive(clap::Args)]
pub struct Args {
    /// The matrix file, relative to the workspace root.
    #[arg(long, default_value = "ci/matrix-local.toml", value_name = "FILE")]
    pub matrix: PathBuf,
    /// Run only this entry (repeatable).
    #[arg(long = "entry", value_name = "NAME")]
    pub entries: Vec<String>,
    /// Entries at a time; default: the number of cores.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// The container engine.
    #[arg(long, value_enum)]
    pub engine: Option<engine::Kind>,
    /// Where results go; default <workspace>/target/nb-test.
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// Cache for stages and kernels; default $XDG_CACHE_HOME/nbgen or ~/.cache/nbgen (else
    /// target/nbgen-cache in the workspace).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// After the run, remove the least recently used stages of the cache (never those this run
    /// used) until tarballs, roots and images take at most SIZE (10G, 500M, 0 = keep only what
    /// this run used); default $NBGEN_CACHE_MAX, else 10G. See `nbgen cache --help`.
    #[arg(long, value_name = "SIZE", value_parser = cache::parse_size)]
    pub cache_max: Option<u64>,
    /// Test this overlay directory instead of the one the spec generates.
    #[arg(long, value_name = "DIR")]
    pub overlay: Option<PathBuf>,
    /// Run entries whose inputs did not change since they passed, too.
    #[arg(long)]
    pub force: bool,
}

pub fn run(manifest_path: Option<&Path>, args: Args) -> Result<u8> {
    let ws = Workspace::locate(manifest_path)?;
    // A bad budget is said before the run, not after it.
    let budget = nbgen::nbtest::cache::policy::budget(args.cache_max)?;
    let cache = super::cache::dir(manifest_path, args.cache)?;
    // Held until the prune after the run: a prune by another process waits for it.
    let lock = SharedLock::acquire(&cache, || {
        eprintln!("nbgen test: waiting for `nbgen cache prune` to finish with the cache")
    })?;
    let opts = testrun::Options {
        matrix: ws.root.join(args.matrix),
        entries: args.entries,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        engine: args.engine,
        results: args
            .results
            .unwrap_or_else(|| ws.root.join(report::RESULTS_DIR)),
        cache: cache.clone(),
        overlay: args.overlay,
        force: args.force,
    };
    let screen = progress::Screen::new();
    let run = testrun::run(&ws, &opts, &|note| screen.show(note, line))?;
    print!("{}", report::table(&run.results));
    print!("{}", report::failure_tails(&run.results, 15));
    println!(
        "results: {} (summary.json, junit.xml)",
        run.results_dir.display()
    );
    let count = |s: report::Status| run.results.iter().filter(|r| r.status == s).count();
    let failed = count(report::Status::Failed);
    // Skipped entries (their stage cannot be had here) are neither passed nor failed.
    let skipped = count(report::Status::Skipped);
    let passed = run.results.len() - failed - skipped;
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} SKIPPED");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    super::cache::after_test(lock, &cache, &run.used, budget);
    Ok(if failed == 0 {
        EXIT_OK
    } else {
        EXIT_CHECK_FAILED
    })
}

/// The words for what `nbgen test` tells while it works, on stderr (stdout holds the table and
/// the totals); progress notes are drawn by [`progress::Screen`].
fn line(note: Note) -> String {
    match note {
        Note::Started {
            engine,
            entries,
            jobs,
        } => format!("engine {engine}, {entries} entries, {jobs} at a time"),
        Note::StageScript { script, args } => format!(
            "running {}{}{} (builds the stage when its inputs changed)",
            script.display(),
            if args.is_empty() { "" } else { " " },
            args.join(" ")
        ),
        Note::Stage { tarball, sha512 } => format!(
            "stage {} (sha512 {}...)",
            tarball.display(),
            &sha512[..16.min(sha512.len())]
        ),
        Note::StageUnavailable { entry, reason } => {
            format!("SKIPPED: the stage of {entry}: {reason}")
        }
        Note::EntrySkipped { entry, reason } => format!("SKIPPED: {entry}: {reason}"),
        Note::Pinned { url, sha512, lock } => format!(
            "pinned {url} as sha512 {sha512} in {}: check it against the publisher's digests before committing",
            lock.display()
        ),
        Note::Failed { phase, error } => format!("{phase} failed: {error}"),
        Note::EntryPhase { entry, phase } => format!("{entry}: {phase}"),
        Note::EntryDone { entry, status } => format!("{entry}: {}", status.as_str()),
        Note::Download { source, .. } => format!("downloading {source}"),
    }
}
