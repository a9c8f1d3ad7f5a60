use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use nbgen::error::{Error, EXIT_CHECK_FAILED, EXIT_OK};
use nbgen::pin::Pinned;
use nbgen::workspace::Workspace;

/// Generates nb-overlay, the Gentoo ebuild repository for NetBackup with QLogic FC HBAs.
///
/// nbgen reads the overlay's identity from [workspace.metadata.nbgen] in the root Cargo.toml and
/// its packages from the spec that table names (generator/spec.toml), renders them through the
/// templates in generator/templates (built into this binary), and writes overlay/.
///
/// Exit codes: 0 success; 1 `regen --check` found overlay/ stale; 2 bad input (the spec,
/// Cargo.toml, a template, a file given on the command line), with the file and line or field
/// named; 3 any other failure (reading or writing the overlay).
#[derive(Parser)]
#[command(name = "nbgen", version, max_term_width = 100)]
struct Cli {
    /// Cargo.toml of the nb-overlay workspace; by default the workspace around the current
    /// directory, so nbgen works from any subdirectory of the checkout.
    #[arg(long, global = true, value_name = "PATH")]
    manifest_path: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render overlay/ from the spec, templates, patches/ and kernel-fragments/.
    ///
    /// The new overlay is written complete into a temporary directory beside it and swapped in with
    /// one atomic rename, so an error at any point leaves the previous overlay/ untouched. Output is
    /// deterministic (sorted, no timestamps, modes 0644/0755); when nothing changed nothing is
    /// written and it says "0 files changed".
    ///
    /// Examples:
    ///   nbgen regen              # bring overlay/ up to date
    ///   nbgen regen --check      # CI: exit 1 and list the files if overlay/ is stale
    #[command(verbatim_doc_comment)]
    Regen {
        /// Write nothing; exit 1 with a per-file summary (added, removed, changed) when the
        /// overlay differs from what would be generated.
        #[arg(long)]
        check: bool,
        /// Directory to generate into instead of <workspace>/overlay.
        #[arg(long, value_name = "DIR")]
        overlay: Option<PathBuf>,
    },
    /// Print the Manifest DIST line (size, BLAKE2B, RMD160, SHA1, SHA256, SHA512) of each file.
    ///
    /// Each file is read once for all five hashes. Nothing is written; use `pin` to record the
    /// digests in the spec.
    Digest {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Record the size and digests of distfiles you trust in the spec, then regenerate.
    ///
    /// Each FILE is matched by its name to a [[package.version.distfile]] entry of the spec.
    /// Digests already pinned there (for example a SHA256 from a historical Gentoo Manifest) must
    /// match the file, or nothing is written. The missing ones are added with their source, and the
    /// Manifests are regenerated.
    ///
    /// Example:
    ///   nbgen pin ~/Downloads/qla2x00-v7.00.01-dist.tgz --source "QLogic download page"
    #[command(verbatim_doc_comment)]
    Pin {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Where the files come from, recorded in the spec beside their digests.
        #[arg(long, value_name = "TEXT")]
        source: Option<String>,
    },
    /// Check a kernel .config against kernel-fragments/, or merge fragments into one.
    ///
    /// kernel-fragments/ holds what the QLogic HBA and NetBackup need from a kernel: common.config
    /// for every series, 2.4.config and 2.6.config for each; every option carries a `# why:` line.
    ///
    /// Examples:
    ///   nbgen kconfig check /usr/src/linux/.config         # exit 1 and list what is lacking
    ///   nbgen kconfig merge .config kernel-fragments/common.config \
    ///       kernel-fragments/2.6.config -o new.config       # then `make oldconfig`
    #[command(verbatim_doc_comment)]
    Kconfig {
        #[command(subcommand)]
        command: nbgen::kconfig::cli::KconfigCommand,
    },
    /// Generate CI configuration from a test matrix (ci/matrix-*.toml).
    ///
    /// Example:
    ///   nbgen ci github          # .github/workflows/nb-matrix.yml, one job per entry
    #[command(verbatim_doc_comment)]
    Ci {
        #[command(subcommand)]
        command: nbgen::ci_github::CiCommand,
    },
    /// Test-build the overlay's packages in containers, one matrix entry per kernel.
    ///
    /// Each entry of the matrix file gets a fresh container made from the stage tarball (fetched
    /// and verified once, imported once per digest), without network, with the overlay mounted
    /// read-only, the distfiles, and its kernel tree at /usr/src/linux; it emerges the entry's
    /// packages. Entries run in parallel. An entry whose inputs (overlay, stage, kernel, entry
    /// text) are unchanged since it last passed is skipped and its result reused.
    ///
    /// Results: <results>/<entry>/ holds run.log, out/logs/*.emerge.log, out/build-logs/,
    /// out/emerge-info.txt, out/contents/ (installed file lists) and out/packages/ (binary
    /// packages); <results>/summary.json and junit.xml cover all entries. Exit 1 when any entry
    /// failed.
    ///
    /// Engines: podman (default where it works), docker, bwrap; --engine picks one, and when none
    /// works the error lists what was tried.
    ///
    /// Examples:
    ///   nbgen test                                   # the offline matrix, ci/matrix-local.toml
    ///   nbgen test --entry linux-2.6.18-fixture      # one entry
    ///   nbgen test --matrix ci/matrix-era.toml       # era stages and kernel.org kernels
    #[command(verbatim_doc_comment)]
    Test {
        /// The matrix file, relative to the workspace root.
        #[arg(long, default_value = "ci/matrix-local.toml", value_name = "FILE")]
        matrix: PathBuf,
        /// Run only this entry (repeatable).
        #[arg(long = "entry", value_name = "NAME")]
        entries: Vec<String>,
        /// Entries at a time; default: the number of cores.
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// The container engine.
        #[arg(long, value_enum)]
        engine: Option<nbgen::engine::Kind>,
        /// Where results go; default <workspace>/target/nb-test.
        #[arg(long, value_name = "DIR")]
        results: Option<PathBuf>,
        /// Cache for stages and kernels; default $XDG_CACHE_HOME/nbgen or ~/.cache/nbgen (else
        /// target/nbgen-cache in the workspace).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        /// Test this overlay directory instead of the one the spec generates.
        #[arg(long, value_name = "DIR")]
        overlay: Option<PathBuf>,
        /// Run entries whose inputs did not change since they passed, too.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("nbgen: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Digest { files } => {
            for f in files {
                let m = nbgen::manifest::measure(&f).map_err(Error::into_input)?;
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                println!("{}", nbgen::manifest::measured_line(&name, &m));
            }
            Ok(EXIT_OK)
        }
        Command::Regen { check, overlay } => {
            let ws = Workspace::locate(cli.manifest_path.as_deref())?;
            let out = overlay.unwrap_or_else(|| ws.overlay_dir());
            let placeholders = ws.identity.placeholders();
            if !placeholders.is_empty() {
                eprintln!(
                    "nbgen: warning: Cargo.toml [workspace.metadata.nbgen] still holds placeholders ({}): set the real values before publishing",
                    placeholders.join(", ")
                );
            }
            if check {
                let outcome = nbgen::check(&ws, &out)?;
                print_notes(&outcome.notes);
                if outcome.diff.is_empty() {
                    println!("{} is up to date ({} files)", out.display(), outcome.files);
                    return Ok(EXIT_OK);
                }
                for line in outcome.diff.lines() {
                    println!("{line}");
                }
                println!(
                    "{} is stale: {} files differ from what the spec generates; run `nbgen regen`",
                    out.display(),
                    outcome.diff.count()
                );
                return Ok(EXIT_CHECK_FAILED);
            }
            let outcome = nbgen::regen(&ws, &out, &mut |_| Ok(()))?;
            print_notes(&outcome.notes);
            for line in outcome.diff.lines() {
                println!("{line}");
            }
            println!(
                "{}: {} files changed ({} in the overlay)",
                out.display(),
                outcome.diff.count(),
                outcome.files
            );
            Ok(EXIT_OK)
        }
        Command::Pin { files, source } => {
            let ws = Workspace::locate(cli.manifest_path.as_deref())?;
            let refs: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
            for result in nbgen::pin::pin(&ws.spec_path(), &refs, source.as_deref())? {
                let Pinned::Recorded { name, added } = result;
                if added.is_empty() {
                    println!("{name}: already pinned, digests match");
                } else {
                    println!("{name}: recorded {}", added.join(" "));
                }
            }
            let outcome = nbgen::regen(&ws, &ws.overlay_dir(), &mut |_| Ok(()))?;
            print_notes(&outcome.notes);
            println!("overlay: {} files changed", outcome.diff.count());
            Ok(EXIT_OK)
        }
        Command::Kconfig { command } => {
            nbgen::kconfig::cli::run(command, cli.manifest_path.as_deref())
        }
        Command::Ci { command } => nbgen::ci_github::run(command, cli.manifest_path.as_deref()),
        Command::Test {
            matrix,
            entries,
            jobs,
            engine,
            results,
            cache,
            overlay,
            force,
        } => {
            let ws = Workspace::locate(cli.manifest_path.as_deref())?;
            // Without XDG_CACHE_HOME or HOME (a bare CI environment) the workspace's target/
            // holds the cache.
            let cache = cache
                .or_else(nbgen::fetch::default_cache_dir)
                .unwrap_or_else(|| ws.root.join("target/nbgen-cache"));
            let opts = nbgen::testrun::Options {
                matrix: ws.root.join(matrix),
                entries,
                jobs: jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                engine,
                results: results.unwrap_or_else(|| ws.root.join(nbgen::report::RESULTS_DIR)),
                cache,
                overlay,
                force,
            };
            let run = nbgen::testrun::run(&ws, &opts)?;
            print!("{}", nbgen::report::table(&run.results));
            println!(
                "results: {} (summary.json, junit.xml)",
                run.results_dir.display()
            );
            let count =
                |s: nbgen::report::Status| run.results.iter().filter(|r| r.status == s).count();
            let failed = count(nbgen::report::Status::Failed);
            // Skipped entries (their stage cannot be had here) are neither passed nor failed.
            let skipped = count(nbgen::report::Status::Skipped);
            let passed = run.results.len() - failed - skipped;
            if skipped > 0 {
                println!("{passed} passed, {failed} failed, {skipped} SKIPPED");
            } else {
                println!("{passed} passed, {failed} failed");
            }
            Ok(if failed == 0 {
                EXIT_OK
            } else {
                EXIT_CHECK_FAILED
            })
        }
    }
}

fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("nbgen: note: {n}");
    }
}
