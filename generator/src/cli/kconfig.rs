//! `nbgen kconfig`: the subcommands and what they print.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};

use nbgen::base::error::{Error, Result, EXIT_CHECK_FAILED, EXIT_OK};
use nbgen::base::workspace::Workspace;
use nbgen::kconfig::{check, merge, read, write_atomically, Config, Series};

/// The `--series` values, spelled as kernel versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeriesArg {
    #[value(name = "2.4")]
    V2_4,
    #[value(name = "2.6")]
    V2_6,
}

impl From<SeriesArg> for Series {
    fn from(s: SeriesArg) -> Series {
        match s {
            SeriesArg::V2_4 => Series::V2_4,
            SeriesArg::V2_6 => Series::V2_6,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KconfigCommand {
    /// List what a kernel .config lacks for the QLogic HBA and NetBackup.
    ///
    /// Each fragment option the config does not satisfy is printed on one line with what is
    /// wanted, what the config has, the reason (the fragment's `# why:` line) and the
    /// fragment file and line. y and m satisfy each other (built in or module, both work);
    /// "not set" is satisfied when the option is absent too.
    ///
    /// By default the fragments are kernel-fragments/common.config of the workspace plus the
    /// series file (2.4.config or 2.6.config). The series is read from the config's header
    /// (`# Linux kernel version: 2.6.16`, or 2.4's `make menuconfig` header); when the header
    /// does not tell, pass --series.
    ///
    /// Exit codes: 0 everything satisfied; 1 something lacking; 2 bad input (not a .config,
    /// a fragment that cannot be read, series unknown), with file and line named.
    ///
    /// Examples:
    ///   nbgen kconfig check /usr/src/linux/.config
    ///   nbgen kconfig check /boot/config-2.4.27 --series 2.4
    ///   nbgen kconfig check .config --fragments kernel-fragments/common.config my.config
    #[command(verbatim_doc_comment)]
    Check {
        /// The kernel .config to check.
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        /// Check against these fragments instead of the workspace's kernel-fragments/.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        fragments: Vec<PathBuf>,
        /// Kernel series of CONFIG, when its header does not say (or says wrong).
        #[arg(long, value_name = "SERIES")]
        series: Option<SeriesArg>,
    },
    /// Merge fragments into a base .config and write the result.
    ///
    /// Later values win, as with the kernel's scripts/kconfig/merge_config.sh: each fragment
    /// overrides the base and the fragments before it, and every overridden value is printed
    /// (option, old -> new, fragment file:line). The output keeps the base's lines in order,
    /// rewrites changed options in place and appends new ones at the end. Run
    /// `make oldconfig` on the result to let the kernel settle dependencies.
    ///
    /// OUT is written through a temporary file and one rename; on any error nothing is
    /// written. Exit codes: 0 written; 2 bad input (missing base, unreadable or malformed
    /// fragment), with file and line named.
    ///
    /// Example:
    ///   nbgen kconfig merge /usr/src/linux/.config \
    ///       kernel-fragments/common.config kernel-fragments/2.6.config -o /tmp/new.config
    #[command(verbatim_doc_comment)]
    Merge {
        /// The .config to start from.
        #[arg(value_name = "BASE")]
        base: PathBuf,
        /// Fragments applied in order; a later value wins.
        #[arg(required = true, value_name = "FRAGMENT")]
        fragments: Vec<PathBuf>,
        /// Where to write the merged .config (may be BASE itself).
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        out: PathBuf,
    },
}

/// Runs one `nbgen kconfig` subcommand; returns the exit code.
pub fn run(command: KconfigCommand, manifest_path: Option<&Path>) -> Result<u8> {
    match command {
        KconfigCommand::Check {
            config,
            fragments,
            series,
        } => run_check(&config, &fragments, series, manifest_path),
        KconfigCommand::Merge {
            base,
            fragments,
            out,
        } => run_merge(&base, &fragments, &out),
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn run_check(
    config_path: &Path,
    fragment_paths: &[PathBuf],
    series: Option<SeriesArg>,
    manifest_path: Option<&Path>,
) -> Result<u8> {
    let config = read(config_path, &shown(config_path))?;
    let fragments = if fragment_paths.is_empty() {
        default_fragments(&config, series, manifest_path)?
    } else {
        fragment_paths
            .iter()
            .map(|p| read(p, &shown(p)))
            .collect::<Result<Vec<_>>>()?
    };
    let findings = check(&config, &fragments);
    let unsatisfied: Vec<_> = findings.iter().filter(|f| !f.satisfied).collect();
    for finding in &unsatisfied {
        println!("{}", finding.describe());
    }
    let lacking: Vec<_> = unsatisfied.iter().filter(|f| !f.warning).collect();
    if lacking.is_empty() {
        println!(
            "{}: all {} options satisfied",
            config.source,
            findings.len()
        );
        Ok(EXIT_OK)
    } else {
        println!(
            "{}: lacks {} of {} options",
            config.source,
            lacking.len(),
            findings.len()
        );
        Ok(EXIT_CHECK_FAILED)
    }
}

/// common.config plus the series file, from the workspace's kernel-fragments/.
fn default_fragments(
    config: &Config,
    flag: Option<SeriesArg>,
    manifest_path: Option<&Path>,
) -> Result<Vec<Config>> {
    let from_header = config.series()?;
    let series = match (flag.map(Series::from), from_header) {
        (Some(flag), Some(header)) if flag != header => {
            eprintln!(
                "nbgen: warning: {} looks like a {} config, checking it as {} as --series says",
                config.source,
                header.as_str(),
                flag.as_str()
            );
            flag
        }
        (Some(s), _) | (None, Some(s)) => s,
        (None, None) => {
            return Err(Error::input(
                config.source.clone(),
                "cannot tell the kernel series: the header has no `# Linux kernel version:` \
                 line (2.4 kernels write none); pass --series 2.4 or --series 2.6",
            ))
        }
    };
    let ws = Workspace::locate(manifest_path)?;
    let dir = ws.fragments_dir();
    ["common.config".to_string(), series.fragment_file()]
        .iter()
        .map(|name| read(&dir.join(name), &format!("kernel-fragments/{name}")))
        .collect()
}

fn run_merge(base_path: &Path, fragment_paths: &[PathBuf], out: &Path) -> Result<u8> {
    // Everything is read and parsed before anything is written.
    let base = read(base_path, &shown(base_path))?;
    let fragments = fragment_paths
        .iter()
        .map(|p| read(p, &shown(p)))
        .collect::<Result<Vec<_>>>()?;
    let (text, overrides) = merge(&base, &fragments);
    write_atomically(out, &text)?;
    for o in &overrides {
        println!("{o}");
    }
    println!(
        "{}: written ({} overridden)",
        out.display(),
        overrides.len()
    );
    Ok(EXIT_OK)
}
