//! `nbgen shared check|fetch|digest`: the shared inputs ci/shared-inputs.toml names.

use std::path::{Path, PathBuf};

use nbgen::base::error::{Error, Result, EXIT_CHECK_FAILED, EXIT_FAILURE, EXIT_OK};
use nbgen::base::workspace::Workspace;
use nbgen::nbtest::fetch::{self, Fetcher};
use nbgen::nbtest::shared_inputs::assemble::Assembled;
use nbgen::nbtest::shared_inputs::{self, content, table, State};

#[derive(clap::Subcommand)]
pub enum SharedCommand {
    /// Check the shared directory: every input of ci/shared-inputs.toml there with its content
    /// digest.
    ///
    /// One line per input: ok, missing, or wrong with both digests. Exit 0 when all are there
    /// and right, 1 when one is missing or wrong (the last line says how to fetch them), 2 when
    /// the table is bad, 3 when a file cannot be read.
    ///
    /// Examples:
    ///   nbgen shared check --dir ../shared
    ///   nbgen shared check era/bash-3.1.tar.xz        # one input
    #[command(verbatim_doc_comment)]
    Check {
        /// The shared directory; default $NB_SHARED, else ../shared beside the workspace.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Only these inputs (their paths in the table, e.g. era/bash-3.1.tar.xz).
        paths: Vec<String>,
    },
    /// Fetch the shared inputs into a directory laid out like ../shared.
    ///
    /// Each input that is not already there with its content digest is made from its sources
    /// (public archives of named commits; a later source adds or replaces listed files), written
    /// as <DIR>/<path> under its top directory, and checked against its content digest before it
    /// takes its name: a source with other content is refused, naming the input and both
    /// digests, and nothing is written. Downloads are cached like nbgen test's.
    ///
    /// Exit 0 when all are there, 1 when a source held other content (named, with both digests),
    /// 2 bad input, 3 a download or write failed.
    ///
    /// Examples:
    ///   nbgen shared fetch --into ../shared
    ///   nbgen shared fetch --into /tmp/s --mirror http://127.0.0.1:8000   # <mirror>/<name>
    #[command(verbatim_doc_comment)]
    Fetch {
        /// Where to write them; default $NB_SHARED, else ../shared beside the workspace.
        #[arg(long, value_name = "DIR")]
        into: Option<PathBuf>,
        /// Fetch every source as <URL>/<its name> (a mirror, or a local copy served over http).
        #[arg(long, value_name = "URL")]
        mirror: Option<String>,
        /// The download cache; default $XDG_CACHE_HOME/nbgen or ~/.cache/nbgen.
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        /// Only these inputs (their paths in the table, e.g. era/bash-3.1.tar.xz).
        paths: Vec<String>,
    },
    /// Print the content digest of archives (what ci/shared-inputs.toml pins).
    ///
    /// The digest covers each file's path, executable bit and SHA256 and each symlink's target,
    /// not the compression, times, owners or order: the same tree compressed otherwise has it.
    ///
    /// Example:
    ///   nbgen shared digest ../shared/era/bash-3.1.tar.xz
    #[command(verbatim_doc_comment)]
    Digest {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(command: SharedCommand, manifest_path: Option<&Path>) -> Result<u8> {
    match command {
        SharedCommand::Digest { files } => {
            for f in files {
                println!("{}  {}", content::of_file(&f)?, f.display());
            }
            Ok(EXIT_OK)
        }
        SharedCommand::Check { dir, paths } => check(manifest_path, dir, &paths),
        SharedCommand::Fetch {
            into,
            mirror,
            cache,
            paths,
        } => fetch(manifest_path, into, mirror, cache, &paths),
    }
}

/// `nbgen shared check`: one line per input; exit 1 when one is missing or wrong.
fn check(manifest_path: Option<&Path>, dir: Option<PathBuf>, paths: &[String]) -> Result<u8> {
    let ws = Workspace::locate(manifest_path)?;
    let table = table::load(&ws.root.join(table::TABLE))?;
    for p in paths {
        table::find(&table, p)?;
    }
    let dir = dir.unwrap_or_else(|| shared_inputs::dir(&ws.root));
    let mut bad = 0;
    let chosen: Vec<&table::Input> = table
        .iter()
        .filter(|i| paths.is_empty() || paths.contains(&i.path))
        .collect();
    for input in &chosen {
        let shown = dir.join(&input.path);
        match shared_inputs::state(&dir, input)? {
            State::Good => println!("ok       {}", shown.display()),
            State::Missing => {
                bad += 1;
                println!("missing  {}", shown.display());
            }
            State::Wrong(got) => {
                bad += 1;
                println!(
                    "wrong    {}: content {got}, pinned {}",
                    shown.display(),
                    input.content
                );
            }
        }
    }
    if bad == 0 {
        return Ok(EXIT_OK);
    }
    eprintln!(
        "nbgen shared check: {bad} of {} inputs missing or wrong; get them with: nbgen shared fetch --into {}",
        chosen.len(),
        dir.display()
    );
    Ok(EXIT_CHECK_FAILED)
}

/// `nbgen shared fetch`: each input not already there, from its sources.
fn fetch(
    manifest_path: Option<&Path>,
    into: Option<PathBuf>,
    mirror: Option<String>,
    cache: Option<PathBuf>,
    paths: &[String],
) -> Result<u8> {
    let ws = Workspace::locate(manifest_path)?;
    let table = table::load(&ws.root.join(table::TABLE))?;
    for p in paths {
        table::find(&table, p)?;
    }
    let dir = into.unwrap_or_else(|| shared_inputs::dir(&ws.root));
    let cache = match cache.or_else(fetch::default_cache_dir) {
        Some(c) => c,
        None => {
            return Err(Error::input(
                "--cache",
                "no cache directory: set XDG_CACHE_HOME or HOME, or give --cache",
            ))
        }
    };
    let fetcher = Fetcher::new(cache, fetch::Options::default());
    let (mut refused, mut failed) = (0, 0);
    for input in table
        .iter()
        .filter(|i| paths.is_empty() || paths.contains(&i.path))
    {
        let shown = dir.join(&input.path);
        if shared_inputs::state(&dir, input)? == State::Good {
            println!("ok       {} (already there)", shown.display());
            continue;
        }
        eprintln!(
            "nbgen shared fetch: {} from {} source(s)",
            input.path,
            input.sources.len()
        );
        match shared_inputs::fetch(&dir, input, &fetcher, mirror.as_deref()) {
            Ok((urls, Assembled::Written)) => {
                println!("fetched  {} ({})", shown.display(), urls.join(", "))
            }
            Ok((urls, Assembled::Refused { got })) => {
                refused += 1;
                eprintln!(
                    "nbgen shared fetch: {}: refused: what {} hold has content digest {got}, \
                     not the {} that {} pins (a source changed or is not the archive it \
                     names); nothing was written",
                    input.path,
                    urls.join(", "),
                    input.content,
                    table::TABLE
                );
            }
            Err(e) => {
                failed += 1;
                eprintln!("nbgen shared fetch: {}: {e}", input.path);
            }
        }
    }
    Ok(match (refused, failed) {
        (0, 0) => EXIT_OK,
        (_, 0) => EXIT_CHECK_FAILED,
        _ => EXIT_FAILURE,
    })
}
