//! `nbgen stage run`: a command in a fresh container of a stage, its output on the terminal and
//! its exit status nbgen's.

use std::path::{Path, PathBuf};

use nbgen::base::error::{Error, Result};
use nbgen::base::workspace::Workspace;
use nbgen::nbtest::cache::SharedLock;
use nbgen::nbtest::stage_run::{self, Request};
use nbgen::nbtest::{engine, stage};

#[derive(clap::Subcommand)]
pub enum StageCommand {
    /// Run COMMAND as root in a fresh container of a stage, without network.
    ///
    /// Every call starts from the stage as it was built and leaves nothing behind on the host but
    /// what it writes to --out. One COMMAND word is a bash command line; more are a command and
    /// its arguments (no shell in between). The container is that of `nbgen test`: the same
    /// engines, and with bwrap the sandbox of generator/sandbox/bwrap.args (no network, its own
    /// PID, IPC and UTS namespaces, root without the capabilities that reach the host's kernel).
    ///
    /// Exit status: COMMAND's; 125 when nbgen could not run it (no stage, no engine, a --distdir
    /// that is no directory); 2 for a usage error or a bad option value (named).
    ///
    /// Examples:
    ///   nbgen stage run 'emerge --info'
    ///   nbgen stage run --eapi0-fix --overlay nb-overlay=overlay --out /tmp/res \
    ///       'ebuild /var/db/repos/nb-overlay/sys-libs/lib-compat/lib-compat-1.4.2.ebuild clean install'
    ///   nbgen stage run --stage target/era-stage/nb-era-stage-X.tar -- emerge --version
    #[command(verbatim_doc_comment)]
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The stage tarball; default: what testkit/make-stage prints (building it if needed).
    #[arg(long, value_name = "TAR")]
    stage: Option<PathBuf>,
    /// The container engine (default: podman where it works, else docker, else bwrap).
    #[arg(long, value_enum)]
    engine: Option<engine::Kind>,
    /// Cache for imported images and unpacked roots, as `nbgen test --cache`.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Bind the ebuild repository DIR read-only at /var/db/repos/NAME and add it as ::NAME in
    /// repos.conf (an era stage has none: there COMMAND sets PORTDIR_OVERLAY). Repeatable.
    #[arg(long = "overlay", value_name = "NAME=DIR", value_parser = stage_run::overlay_option)]
    overlays: Vec<(String, PathBuf)>,
    /// Bind DIR (or a file) read-only at PATH, e.g. /usr/src/linux=/tmp/linux-2.6.18. Repeatable.
    #[arg(long = "ro", value_name = "PATH=DIR", value_parser = stage_run::read_only_option)]
    read_only: Vec<(String, PathBuf)>,
    /// DIR's files as DISTDIR (/var/cache/distfiles), copied into the container: what portage
    /// writes there stays in it.
    #[arg(long, value_name = "DIR")]
    distdir: Option<PathBuf>,
    /// Bind DIR writable at /out, for results to look at from the host (created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Set an environment variable for COMMAND. Repeatable.
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = stage_run::env_option)]
    env: Vec<(String, String)>,
    /// Today's portage with testkit/make-stage's fix of ebuild.sh (ED and EROOT read-only only
    /// from EAPI 3 on), without which it cannot install EAPI 0 ebuilds. Users do not have it.
    #[arg(long)]
    eapi0_fix: bool,
    /// The command.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// nbgen's own failure, as podman run says it: the command never ran.
const EXIT_NOT_RUN: u8 = 125;

pub fn run(command: StageCommand, manifest_path: Option<&Path>) -> Result<u8> {
    let StageCommand::Run(args) = command;
    match run_in_stage(args, manifest_path) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("nbgen stage run: error: {e}");
            Ok(EXIT_NOT_RUN)
        }
    }
}

fn run_in_stage(args: RunArgs, manifest_path: Option<&Path>) -> Result<u8> {
    let request = Request {
        overlays: args.overlays,
        read_only: args.read_only,
        distdir: args.distdir,
        out: args.out,
        env: args.env,
        eapi0_fix: args.eapi0_fix,
        command: args.command,
    };
    let mounts = request.mounts()?;
    let tarball = match args.stage {
        Some(tar) => tar,
        None => {
            let ws = Workspace::locate(manifest_path)?;
            eprintln!(
                "nbgen stage run: testkit/make-stage (builds the stage when its inputs changed)"
            );
            stage::script_stage(&ws.root, Path::new("testkit/make-stage"), &[])?
                .map_err(|reason| Error::input("testkit/make-stage", reason))?
                .0
        }
    };
    let stage = stage_run::use_stage(&tarball)?;
    let cache = super::cache::dir(manifest_path, args.cache)?;
    // A prune waits while the image is in use.
    let _lock = SharedLock::acquire(&cache, || {
        eprintln!("nbgen stage run: waiting for `nbgen cache prune` to finish with the cache")
    })?;
    let engine = engine::Engine::detect(args.engine, &cache)?;
    let image = engine.prepare(&stage.tarball, &stage.sha512)?;
    let code = engine.run_attached(&image, &mounts, &request.script())?;
    Ok(u8::try_from(code).unwrap_or(EXIT_NOT_RUN))
}
