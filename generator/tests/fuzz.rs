//! A bounded, seeded fuzz run of the parsers users feed: the spec (loaded, validated and rendered),
//! the test matrix and its lock file, and kernel .config files. Inputs are the real files, mutated
//! byte- and token-wise by a fixed-seed generator, so a failure is repeatable from its seed.
//!
//! In process, every input must give Ok or an error, never a panic. Through the binary, a share of
//! the inputs must exit 0, 1, 2 or 3 (the README's codes), never a panic's 101 or a signal.
//!
//! cargo-fuzz needs a nightly compiler, which CI does not have; this runs on stable within a time
//! budget. `NBGEN_FUZZ_SECS` sets it (ci/test gives 75 s; a plain `cargo test` does 3 s),
//! `NBGEN_FUZZ_SEED` the seed. An input that fails is written to target/fuzz-failures/.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{repo_root, Ws};

/// xorshift64*: tiny, fast and the same on every machine, which is all a repeatable fuzz run needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Pieces that steer TOML and .config parsers into their corners.
const TOKENS: &[&[u8]] = &[
    b"[[package]]\n",
    b"[[package.version]]\n",
    b"[[package.version.distfile]]\n",
    b"[[package.file]]\n",
    b"[[entry]]\n",
    b"[stage]\n",
    b"[snapshot]\n",
    b"[[pin]]\n",
    b"[defaults]\n",
    b"\"",
    b"'''",
    b"\"\"\"",
    b"=",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xae",
    b"#",
    b"..",
    b"/",
    b"../../etc/passwd",
    b"-1",
    b"18446744073709551616",
    b"1e999",
    b"nan",
    b"true",
    b"2.6",
    b"2.4",
    b"version = \"\"\n",
    b"size = 0\n",
    b"CONFIG_",
    b"CONFIG_SMP=y\n",
    b"# CONFIG_SCSI is not set\n",
    b"=m\n",
    b"=\"\n",
    b"# Linux kernel version: 2.6.18\n",
    b"# why: ",
    b"# warn: ",
    b"{{",
    b"}}",
    b"${",
    b"\\u0000",
    b"\\",
];

fn mutate(rng: &mut Rng, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let len = data.len();
        let at = rng.below(len + 1);
        match rng.below(9) {
            0 if len > 0 => data[at.min(len - 1)] ^= 1 << rng.below(8),
            1 => data.insert(at, rng.next() as u8),
            2 if len > 0 => {
                let end = (at + 1 + rng.below(64)).min(len);
                data.drain(at.min(end)..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, t.iter().copied());
            }
            4 if len > 0 => {
                // Duplicate a run, as a copy-paste gone wrong would.
                let start = rng.below(len);
                let end = (start + 1 + rng.below(256)).min(len);
                let piece = data[start..end].to_vec();
                data.splice(at..at, piece);
            }
            5 => data.truncate(at),
            6 if !others.is_empty() => {
                // A line of another seed file, so tables and keys meet in new places.
                let other = &others[rng.below(others.len())];
                let lines: Vec<&[u8]> = other.split(|&b| b == b'\n').collect();
                let line = lines[rng.below(lines.len())];
                let mut piece = line.to_vec();
                piece.push(b'\n');
                data.splice(at..at, piece);
            }
            7 if len > 0 => {
                // Swap two lines.
                let mut lines: Vec<Vec<u8>> =
                    data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(a, b);
                data = lines.join(&b'\n');
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let end = (at + t.len()).min(len);
                data.splice(at..end, t.iter().copied());
            }
        }
    }
    data
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Keeps an input that broke a rule where CI can show it, and says how to repeat the run.
fn failed(kind: &str, input: &[u8], seed: u64, iteration: u64, what: &str) -> ! {
    let dir = repo_root().join("target/fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{kind}-{seed}-{iteration}"));
    std::fs::write(&file, input).unwrap();
    panic!(
        "fuzz: {kind} input {iteration} (NBGEN_FUZZ_SEED={seed}): {what}; the input is in {}",
        file.display()
    );
}

/// A PATH with cargo (nbgen asks it for the workspace) and no container engine, so a matrix that
/// parses stops at engine detection instead of building anything.
fn bare_path(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("cargo"))
                .find(|c| c.is_file())
        })
        .expect("cargo on PATH");
    std::os::unix::fs::symlink(cargo, bin.join("cargo")).unwrap();
    bin
}

/// Runs nbgen and insists on one of the documented exit codes.
fn exit_code_in_range(ws: &Ws, path_env: &Path, args: &[&str]) -> Result<i32, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .args(args)
        .arg("--manifest-path")
        .arg(ws.path().join("Cargo.toml"))
        .current_dir(ws.path())
        .env("PATH", path_env)
        .output()
        .unwrap();
    match out.status.code() {
        Some(c @ 0..=3) => Ok(c),
        other => Err(format!(
            "nbgen {} exited {other:?}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

#[test]
fn parsers_never_panic_and_the_binary_exits_0_to_3() {
    let secs: u64 = std::env::var("NBGEN_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("NBGEN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6e62_6765_6e21);
    let budget = Duration::from_secs(secs);
    let root = repo_root();
    let spec_seed = read(&root.join("generator/spec.toml"));
    let matrix_seeds = [
        read(&root.join("ci/matrix-local.toml")),
        read(&root.join("ci/matrix-era.toml")),
    ];
    let lock_seed = read(&root.join("ci/matrix-era.lock"));
    let mut config_seeds: Vec<Vec<u8>> = std::fs::read_dir(root.join("kernel-fragments"))
        .unwrap()
        .map(|e| read(&e.unwrap().path()))
        .collect();
    for e in std::fs::read_dir(root.join("generator/tests/fixtures/kconfig")).unwrap() {
        config_seeds.push(read(&e.unwrap().path()));
    }
    let all: Vec<Vec<u8>> = [spec_seed.clone(), lock_seed.clone()]
        .into_iter()
        .chain(matrix_seeds.iter().cloned())
        .chain(config_seeds.iter().cloned())
        .collect();

    let ws = Ws::copy();
    let w = nbgen::base::workspace::Workspace::locate(Some(&ws.path().join("Cargo.toml"))).unwrap();
    // Parsed once: what is fuzzed is the spec, not the embedded templates.
    let templates = nbgen::regen::templates::Templates::embedded().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let path_env = bare_path(scratch.path());
    let matrix_path = ws.path().join("fuzz-matrix.toml");
    let lock_path = ws.path().join("fuzz.lock");
    let config_path = ws.path().join("fuzz.config");
    let results = scratch.path().join("results");
    let cache = scratch.path().join("cache");

    // Panics are caught and reported with their input; the default hook would only add noise.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let (mut in_process, mut via_binary) = (0u64, 0u64);
    let mut codes = [0u64; 4];
    let mut i = 0u64;
    while start.elapsed() < budget {
        i += 1;
        // One input in 25 goes through the binary too: a process costs a cargo metadata call.
        let binary = i.is_multiple_of(25);
        match rng.below(4) {
            0 => {
                let input = mutate(&mut rng, &spec_seed, &all);
                std::fs::write(ws.spec_path(), &input).unwrap();
                let r = catch_unwind(AssertUnwindSafe(|| {
                    let overlay = nbgen::regen::model::load(&w, templates)?;
                    nbgen::regen::render::render(&overlay, templates).map(|_| ())
                }));
                if r.is_err() {
                    failed(
                        "spec",
                        &input,
                        seed,
                        i,
                        "loading or rendering the spec panicked",
                    );
                }
                if binary {
                    match exit_code_in_range(&ws, &path_env, &["regen", "--check"]) {
                        Ok(c) => codes[c as usize] += 1,
                        Err(why) => failed("spec", &input, seed, i, &why),
                    }
                }
            }
            1 => {
                let base = &matrix_seeds[rng.below(matrix_seeds.len())];
                let input = mutate(&mut rng, base, &all);
                let r = catch_unwind(AssertUnwindSafe(|| {
                    let text =
                        nbgen::base::toml_input::utf8_text("fuzz-matrix.toml", input.clone())?;
                    nbgen::nbtest::matrix::Matrix::parse(&matrix_path, &text, ws.path()).map(|_| ())
                }));
                if r.is_err() {
                    failed("matrix", &input, seed, i, "Matrix::parse panicked");
                }
                if binary {
                    std::fs::write(&matrix_path, &input).unwrap();
                    let args = [
                        "test",
                        "--matrix",
                        matrix_path.to_str().unwrap(),
                        "--results",
                        results.to_str().unwrap(),
                        "--cache",
                        cache.to_str().unwrap(),
                    ];
                    match exit_code_in_range(&ws, &path_env, &args) {
                        Ok(c) => codes[c as usize] += 1,
                        Err(why) => failed("matrix", &input, seed, i, &why),
                    }
                }
            }
            2 => {
                let input = mutate(&mut rng, &lock_seed, &all);
                std::fs::write(&lock_path, &input).unwrap();
                let r = catch_unwind(AssertUnwindSafe(|| {
                    nbgen::nbtest::matrix::Lock::load(&lock_path).map(|l| l.to_toml())
                }));
                if r.is_err() {
                    failed("lock", &input, seed, i, "Lock::load panicked");
                }
            }
            _ => {
                let base = &config_seeds[rng.below(config_seeds.len())];
                let input = mutate(&mut rng, base, &all);
                let r = catch_unwind(AssertUnwindSafe(|| {
                    let text = nbgen::base::toml_input::utf8_text("fuzz.config", input.clone())?;
                    let config = nbgen::kconfig::parse("fuzz.config", &text)?;
                    let _ = config.series();
                    let fragment = nbgen::kconfig::parse("fuzz.config", &text)?;
                    nbgen::kconfig::check(&config, std::slice::from_ref(&fragment));
                    nbgen::kconfig::merge(&config, &[fragment]);
                    Ok::<(), nbgen::base::error::Error>(())
                }));
                if r.is_err() {
                    failed("config", &input, seed, i, "the .config parser panicked");
                }
                if binary {
                    std::fs::write(&config_path, &input).unwrap();
                    let args = ["kconfig", "check", config_path.to_str().unwrap()];
                    match exit_code_in_range(&ws, &path_env, &args) {
                        Ok(c) => codes[c as usize] += 1,
                        Err(why) => failed("config", &input, seed, i, &why),
                    }
                }
            }
        }
        if binary {
            via_binary += 1;
        } else {
            in_process += 1;
        }
    }
    std::panic::set_hook(hook);
    eprintln!(
        "fuzz: seed {seed}, {secs} s: {in_process} inputs in process, {via_binary} through the binary (exit codes 0/1/2/3: {codes:?})"
    );
    assert!(i >= 10, "the budget ran out after {i} inputs");
    // The mutations must reach the error paths, not only inputs that parse.
    assert!(
        codes[2] > 0 || via_binary == 0,
        "no input was refused as bad input"
    );
}
