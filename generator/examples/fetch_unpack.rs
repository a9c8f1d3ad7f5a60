//! Fetches a tarball into the cache and unpacks it while it downloads, with nbgen's own pipeline
//! (nbgen::nbtest::stream, the path `nbgen test` takes for a stage named by URL): what
//! `bench/bench-fetch` times against curl, sha512sum and tar run one after another.
//!
//!   cargo run --release --example fetch_unpack -- SOURCE ALGO:HEX CACHE_DIR TARGET_DIR

use std::path::Path;
use std::process::ExitCode;

use nbgen::base::error::Result;
use nbgen::nbtest::fetch::{Expected, Fetcher, Options};
use nbgen::nbtest::stream;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, digest, cache, target] = &args[..] else {
        eprintln!("usage: fetch_unpack SOURCE ALGO:HEX CACHE_DIR TARGET_DIR");
        return ExitCode::from(nbgen::base::error::EXIT_BAD_INPUT);
    };
    match run(source, digest, Path::new(cache), Path::new(target)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fetch_unpack: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(source: &str, digest: &str, cache: &Path, target: &Path) -> Result<()> {
    let expected = Expected::parse(digest)?;
    let fetcher = Fetcher::new(cache, Options::default());
    let s = stream::fetch_unpack(&fetcher, source, &expected, target)?;
    eprintln!(
        "fetch_unpack: {} verified, {} entries ({} bytes, {:?}) unpacked {} into {}",
        s.path.display(),
        s.summary.entries,
        s.summary.bytes,
        s.summary.compression,
        s.how,
        target.display()
    );
    Ok(())
}
