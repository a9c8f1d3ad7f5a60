//! `nbgen test`: builds the overlay's packages in throwaway containers made from a stage tarball,
//! one matrix entry per kernel, in parallel, and reports per entry what passed, with the logs.
//!
//! For every entry: the stage is fetched (verified) and made an image once per digest; the kernel
//! tree is prepared (a fixture written by testkit/make-kernel, a kernel.org tarball
//! unpacked, patched and configured from the fragments, or a real tarball of the shared directory
//! readied by testkit/real-kernel/prepare); then a container without network gets the overlay
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

use regex::Regex;
use sha2::{Digest, Sha512};

use crate::base::error::{Error, IoContext, Result};
use crate::base::workspace::Workspace;
use crate::nbtest::engine::{self, Engine, Image, Mount};
use crate::nbtest::fetch::Fetcher;
use crate::nbtest::matrix::{Entry, Kernel, Lock, Matrix, OverlayKind};
use crate::nbtest::report::{
    self, CheckResult, EntryResult, Failure, Outcome, PackageResult, Status,
};
use crate::nbtest::shared_inputs::{self, Local};
use crate::nbtest::stage::{fetch_download, resolve_stage, run_checked, unpack_snapshot, Resolved};
use crate::nbtest::{Note, Notes};
use crate::regen::manifest;
use crate::regen::render;
use crate::regen::tree;

mod entry;
mod kernel;
mod local;
mod results;
mod script;
mod verdict;

use entry::*;
#[cfg(test)]
#[cfg(test)]
use kernel::{edited_config, without_options};
use local::*;
use results::*;
pub use script::entry_key;
use script::*;
use verdict::*;

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
    /// Short digests of the cached files the run used (stage tarballs, kernels, snapshot); their
    /// roots and images share the digest. A prune of the cache after the run keeps them.
    pub used: std::collections::BTreeSet<String>,
}

pub fn run(ws: &Workspace, opts: &Options, notes: Notes) -> Result<Run> {
    let opts = &absolute(opts)?;
    let matrix = Matrix::load(&opts.matrix, &ws.root)?;
    let entries = select(&matrix, &opts.entries)?;
    fs::create_dir_all(&opts.results).at(&opts.results)?;
    let engine = Engine::detect(opts.engine, &opts.cache)?;
    notes(Note::Started {
        engine: engine.kind,
        entries: entries.len(),
        jobs: opts.jobs,
    });
    let fetcher = Fetcher::new(opts.cache.join("files"), Default::default()).with_notes(notes);
    let mut lock = Lock::load(&matrix.lock_path())?;

    // Stand-in distfiles first: the overlay under test pins them.
    let distdir = opts.results.join(".distfiles");
    let stand_ins = stand_ins_in(ws, matrix.stand_ins.as_deref(), &distdir)?;
    let overlay_dir = test_overlay(ws, opts, &stand_ins)?;
    let overlay_hash = tree_hash(&tree::read(&overlay_dir)?);
    let synced = synced_overlay(ws, opts, &entries)?;

    // What the entries build on is acquired first, where the lock file can be written. A failure
    // fails the entries that need it (in its phase), not the run: every entry gets a result.
    let images = acquire_stages(ws, &entries, &engine, &fetcher, &mut lock, notes);
    let kernels = acquire_kernels(&entries, &fetcher, &mut lock, notes);
    let snapshot = acquire_snapshot(&matrix, &fetcher, &mut lock, &opts.cache, notes);
    lock.save()?;
    let locals = acquire_all_locals(ws, &entries, opts, &stand_ins, &distdir, notes);
    let ctx = EntryCtx {
        ws,
        engine: &engine,
        kernels: &kernels,
        snapshot: snapshot.as_ref(),
        overlay_dir: &overlay_dir,
        overlay_hash: &overlay_hash,
        synced: synced.as_ref(),
        distdir: &distdir,
        results_dir: &opts.results,
        cache: &opts.cache,
        force: opts.force,
        notes,
    };
    let results = run_all(&entries, &ctx, opts.jobs, &images, &locals);
    report::write(&opts.results, &opts.matrix.display().to_string(), &results)?;
    Ok(Run {
        results,
        results_dir: opts.results.clone(),
        used: fetcher.used(),
    })
}

/// Each entry's own inputs from the shared directory, checked against the content digests of
/// ci/shared-inputs.toml here: a mismatch (or a table that cannot be read) fails the entry (phase
/// shared-file), a missing file skips it with the reason.
fn acquire_all_locals(
    ws: &Workspace,
    entries: &[&Entry],
    opts: &Options,
    stand_ins: &BTreeMap<String, manifest::Measured>,
    distdir: &Path,
    notes: Notes,
) -> BTreeMap<String, Acquired<Locals>> {
    let shared_dir = shared_inputs::dir(&ws.root);
    let uses_shared = |e: &Entry| matches!(e.kernel, Kernel::Shared(_)) || !e.distfiles.is_empty();
    let table = if entries.iter().any(|e| uses_shared(e)) {
        shared_inputs::table::load(&ws.root.join(shared_inputs::table::TABLE))
            .map_err(|e| e.to_string())
    } else {
        Ok(Vec::new())
    };
    entries
        .iter()
        .map(|entry| {
            let own_overlay = opts.overlay.is_none();
            let local = table
                .as_ref()
                .map_err(|e| Error::input(shared_inputs::table::TABLE, e.clone()));
            let local = local.and_then(|table| {
                acquire_locals(
                    ws,
                    entry,
                    shared_inputs::Dir {
                        path: &shared_dir,
                        table,
                    },
                    stand_ins,
                    distdir,
                    &opts.results,
                    own_overlay,
                )
            });
            if let Ok(Err(reason)) = &local {
                notes(Note::EntrySkipped {
                    entry: &entry.name,
                    reason,
                });
            }
            (
                entry.name.clone(),
                local.map_err(|e| Lacking::new("shared-file", e, notes)),
            )
        })
        .collect()
}

/// The overlay the entries test: the one given, else the spec's with the stand-ins pinned,
/// written beside the results.
fn test_overlay(
    ws: &Workspace,
    opts: &Options,
    stand_ins: &BTreeMap<String, manifest::Measured>,
) -> Result<PathBuf> {
    if let Some(dir) = &opts.overlay {
        return Ok(dir.clone());
    }
    let dir = opts.results.join(".overlay");
    write_test_overlay(ws, stand_ins, &BTreeMap::new(), &dir)?;
    Ok(dir)
}

/// The overlay as users sync it (the spec's, no digest replaced: the stand-ins are what a user
/// has not) and its tree hash, written once beside the results when an entry asks for it
/// (`overlay = "synced"`); None when the user gave the overlay to test, which is used as it is.
fn synced_overlay(
    ws: &Workspace,
    opts: &Options,
    entries: &[&Entry],
) -> Result<Option<(PathBuf, String)>> {
    if opts.overlay.is_some() || !entries.iter().any(|e| e.overlay == OverlayKind::Synced) {
        return Ok(None);
    }
    let dir = opts.results.join(".overlay-synced");
    write_test_overlay(ws, &BTreeMap::new(), &BTreeMap::new(), &dir)?;
    let hash = tree_hash(&tree::read(&dir)?);
    Ok(Some((dir, hash)))
}

/// One stage image per distinct stage of `entries`, by the stage's key; a stage whose sources
/// cannot be had gives the reason (its entries are skipped), one that fails gives its phase.
fn acquire_stages(
    ws: &Workspace,
    entries: &[&Entry],
    engine: &Engine,
    fetcher: &Fetcher,
    lock: &mut Lock,
    notes: Notes,
) -> BTreeMap<String, Acquired<StageImage>> {
    let mut images = BTreeMap::new();
    for entry in entries {
        let key = stage_key(&entry.stage);
        if images.contains_key(&key) {
            continue;
        }
        let streamed = stage_stream(&entry.stage, engine, fetcher, lock);
        let image =
            match streamed.and_then(|()| resolve_stage(ws, &entry.stage, fetcher, lock, notes)) {
                Err(e) => Err(Lacking::new("fetch-stage", e, notes)),
                Ok(Resolved::Ready { tarball, sha512 }) => {
                    notes(Note::Stage {
                        tarball: &tarball,
                        sha512: &sha512,
                    });
                    engine
                        .prepare(&tarball, &sha512)
                        .map(|image| Ok((image, sha512)))
                        .map_err(|e| Lacking::new("import-stage", e, notes))
                }
                Ok(Resolved::Unavailable { reason }) => {
                    notes(Note::StageUnavailable {
                        entry: &entry.name,
                        reason: &reason,
                    });
                    Ok(Err(reason))
                }
            };
        images.insert(key, image);
    }
    images
}

/// A stage named by URL with a known digest: downloaded, hashed and unpacked (bwrap) or imported
/// (podman, docker) in one pass, so that what follows (the fetch, a cache hit; the engine's
/// prepare, a complete root or a tagged image) has nothing left to do.
fn stage_stream(
    stage: &crate::nbtest::matrix::Stage,
    engine: &Engine,
    fetcher: &Fetcher,
    lock: &Lock,
) -> Result<()> {
    let crate::nbtest::matrix::Stage::Url(d) = stage else {
        return Ok(());
    };
    let Some(sha512) = lock.expected(d)? else {
        return Ok(());
    };
    let expected = crate::nbtest::fetch::Expected::new("sha512", &sha512)?;
    engine.prepare_streamed(fetcher, &d.url, &expected)?;
    Ok(())
}

/// The kernel.org tarballs of `entries`, fetched and verified once per URL.
fn acquire_kernels(
    entries: &[&Entry],
    fetcher: &Fetcher,
    lock: &mut Lock,
    notes: Notes,
) -> BTreeMap<String, Acquired<PathBuf>> {
    let mut kernels = BTreeMap::new();
    for entry in entries {
        if let Kernel::Tarball(d) = &entry.kernel {
            if !kernels.contains_key(&d.url) {
                let path = fetch_download(d, fetcher, lock, notes)
                    .map(|(path, _)| path)
                    .map_err(|e| Lacking::new("fetch-kernel", e, notes));
                kernels.insert(d.url.clone(), path);
            }
        }
    }
    kernels
}

/// The stage's key among the images: its content as the matrix gives it.
fn stage_key(stage: &crate::nbtest::matrix::Stage) -> String {
    serde_json::to_string(stage).expect("a stage serializes")
}

/// Runs `entries` on `jobs` threads, telling the notes when each starts and ends; the results in
/// the entries' order.
fn run_all(
    entries: &[&Entry],
    ctx: &EntryCtx,
    jobs: usize,
    images: &BTreeMap<String, Acquired<StageImage>>,
    locals: &BTreeMap<String, Acquired<Locals>>,
) -> Vec<EntryResult> {
    let queue = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<EntryResult>>> = Mutex::new(vec![None; entries.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(entries.len().max(1)) {
            scope.spawn(|| loop {
                let i = queue.fetch_add(1, Ordering::SeqCst);
                let Some(entry) = entries.get(i) else { break };
                ctx.phase(entry, "starting");
                // A shared file with wrong bytes fails the entry whatever else is missing.
                let result = match (&images[&stage_key(&entry.stage)], &locals[&entry.name]) {
                    (_, Err(lacking)) | (Err(lacking), _) => ctx.not_run(entry, lacking),
                    (Ok(Err(reason)), _) | (_, Ok(Err(reason))) => {
                        EntryResult::skipped(&entry.name, &entry::row_names(entry), reason)
                    }
                    (Ok(Ok((image, stage_sha))), Ok(Ok(local))) => {
                        ctx.run_entry(entry, local, image, stage_sha)
                    }
                };
                (ctx.notes)(Note::EntryDone {
                    entry: &entry.name,
                    status: result.status,
                });
                results.lock().unwrap()[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every entry ran"))
        .collect()
}

/// `opts` with every path absolute: scripts run in the workspace root and engines take relative
/// paths for volume names.
fn absolute(opts: &Options) -> Result<Options> {
    let absolute = |p: &Path| std::path::absolute(p).at(p);
    Ok(Options {
        matrix: absolute(&opts.matrix)?,
        results: absolute(&opts.results)?,
        cache: absolute(&opts.cache)?,
        overlay: opts.overlay.as_deref().map(absolute).transpose()?,
        entries: opts.entries.clone(),
        ..*opts
    })
}

/// A fresh `distdir` holding the stand-in distfiles the matrix's script writes (none without one),
/// each measured, by name.
fn stand_ins_in(
    ws: &Workspace,
    script: Option<&Path>,
    distdir: &Path,
) -> Result<BTreeMap<String, manifest::Measured>> {
    let _ = fs::remove_dir_all(distdir);
    fs::create_dir_all(distdir).at(distdir)?;
    match script {
        Some(script) => make_stand_ins(ws, script, distdir),
        None => Ok(BTreeMap::new()),
    }
}

/// A portage tree for stages that carry none: unpacked once per digest, mounted read-only.
fn acquire_snapshot(
    matrix: &Matrix,
    fetcher: &Fetcher,
    lock: &mut Lock,
    cache: &Path,
    notes: Notes,
) -> Option<Acquired<PathBuf>> {
    matrix.snapshot.as_ref().map(|d| {
        fetch_download(d, fetcher, lock, notes)
            .and_then(|(tarball, sha512)| unpack_snapshot(&tarball, &sha512, cache))
            .map_err(|e| Lacking::new("fetch-snapshot", e, notes))
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
mod step_tests;
#[cfg(test)]
mod tests;
