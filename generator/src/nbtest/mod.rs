//! The test flow of `nbgen test`: `matrix` (the matrix and its lock file) -> `stage` (the stage
//! tarball, fetched with `fetch` and unpacked with `unpack`, or made by a script) -> `engine`
//! (podman, docker or bwrap) -> `testrun` (each entry built in a container) -> `report`
//! (summary.json, junit.xml). `shared_inputs` reads the inputs of the shared directory (../shared);
//! `ci_github` writes the GitHub Actions workflow of a matrix; `cache` lists and prunes what
//! the runs keep.

pub mod cache;
pub mod ci_github;
pub mod engine;
pub mod fetch;
pub mod matrix;
pub mod report;
pub mod shared_inputs;
pub mod stage;
pub mod stage_run;
pub mod stream;
pub mod testrun;
pub mod unpack;

use std::path::Path;
use std::time::Duration;

/// What `nbgen test` has to tell while it works. The library only says what happened; the
/// command line (cli/test.rs) words it and decides where it goes.
#[derive(Debug)]
pub enum Note<'a> {
    /// The run starts: the engine, how many entries, how many at a time.
    Started {
        engine: engine::Kind,
        entries: usize,
        jobs: usize,
    },
    /// A stage script is run (it builds the stage when its inputs changed).
    StageScript {
        script: &'a Path,
        args: &'a [String],
    },
    /// The stage tarball an entry gets, verified.
    Stage { tarball: &'a Path, sha512: &'a str },
    /// An entry's stage cannot be had here: the entry is skipped.
    StageUnavailable { entry: &'a str, reason: &'a str },
    /// A file of the shared directory is missing: the entry is skipped.
    EntrySkipped { entry: &'a str, reason: &'a str },
    /// A download without a digest was pinned in the lock file on its first fetch.
    Pinned {
        url: &'a str,
        sha512: &'a str,
        lock: &'a Path,
    },
    /// Something the entries need failed: the entries that need it fail in `phase`.
    Failed { phase: &'a str, error: &'a str },
    /// An entry moves on: "preparing the kernel tree", "emerging 2 packages".
    EntryPhase { entry: &'a str, phase: &'a str },
    /// An entry is done.
    EntryDone {
        entry: &'a str,
        status: report::Status,
    },
    /// A download moves on.
    Download {
        source: &'a str,
        event: Download<'a>,
    },
}

/// How a download goes, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Download<'a> {
    /// An attempt starts with `have` bytes already on disk, of `total` when the server says.
    Started { have: u64, total: Option<u64> },
    /// That many more bytes arrived.
    Received(u64),
    /// An attempt failed; the next one comes after `wait`.
    Retrying { wait: Duration, why: &'a str },
    /// The transfer is over: complete, or given up.
    Ended { complete: bool },
}

/// Where notes go: a function the command line gives.
pub type Notes<'n> = &'n (dyn Fn(Note) + Sync);
