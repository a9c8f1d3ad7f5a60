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

mod entry;
mod kernel;
mod local;
mod results;
mod script;

use entry::*;
use local::*;
use results::*;
pub use script::entry_key;
use script::*;

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

#[cfg(test)]
mod tests;
