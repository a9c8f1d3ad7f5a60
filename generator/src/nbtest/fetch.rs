//! Downloads a file into nbgen's content-addressed cache, verified against a digest the caller
//! already trusts (a stage tarball's SHA512 from a DIGESTS file, a distfile's pin).
//!
//! The cache holds `<cache>/<algo>/<hex digest>`; a file gets there only by an atomic rename after
//! its digest matched, so anything found there is served again without network. A download in
//! progress lives in `<cache>/partial/<hex>.part`, hashed while it streams; a transfer cut off
//! mid-body resumes from the bytes on disk with an HTTP Range request. `file://` URLs and plain
//! paths go through the same verifying copy, so an offline test matrix can use local tarballs.

use std::cell::OnceCell;
use std::error::Error as StdError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256, Sha512};

use crate::base::error::{Error, IoContext, Result};
use crate::nbtest::{Download, Note, Notes};

mod partial;
mod transfer;

use partial::*;
use transfer::*;

/// Size of one read from the network or a local file: large enough that a fast transfer costs few
/// system calls.
const BLOCK: usize = 256 * 1024;

/// The digest algorithms a cache entry can be keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Sha256,
    Sha512,
}

impl Algo {
    /// Accepts the names as Gentoo writes them (`SHA512`) and as the cache directory spells them.
    pub fn from_name(name: &str) -> Option<Algo> {
        match name.to_ascii_lowercase().as_str() {
            "sha256" => Some(Algo::Sha256),
            "sha512" => Some(Algo::Sha512),
            _ => None,
        }
    }

    /// The name of the cache subdirectory.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Algo::Sha256 => "SHA256",
            Algo::Sha512 => "SHA512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algo::Sha256 => 64,
            Algo::Sha512 => 128,
        }
    }
}

/// A digest a file must have, checked before the file may enter the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    algo: Algo,
    hex: String,
    /// The file's size, where it is known with the digest (a lock file pin, a DIST line): a body
    /// that grows past it is cut off, and a larger Content-Length refused before any byte is read.
    size: Option<u64>,
}

impl Expected {
    /// `algo` is `SHA256` or `SHA512` (any case); `hex` must have that algorithm's length. The hex
    /// digits become a file name in the cache, so nothing else may pass.
    pub fn new(algo: &str, hex: &str) -> Result<Expected> {
        let algo = Algo::from_name(algo).ok_or_else(|| {
            Error::input(
                "digest",
                format!("unknown digest algorithm {algo:?}: nbgen verifies SHA256 or SHA512"),
            )
        })?;
        let hex = hex.to_ascii_lowercase();
        if hex.len() != algo.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::input(
                "digest",
                format!(
                    "a {} digest is {} hex digits, not {hex:?}",
                    algo.label(),
                    algo.hex_len()
                ),
            ));
        }
        Ok(Expected {
            algo,
            hex,
            size: None,
        })
    }

    /// The same digest with the file's known size.
    pub fn with_size(mut self, size: u64) -> Expected {
        self.size = Some(size);
        self
    }

    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Parses `algo:hex`, e.g. `sha512:cf83e1...`.
    pub fn parse(text: &str) -> Result<Expected> {
        let (algo, hex) = text.split_once(':').ok_or_else(|| {
            Error::input(
                "digest",
                format!("{text:?} is not ALGO:HEX (e.g. sha512:cf83...)"),
            )
        })?;
        Expected::new(algo, hex)
    }

    pub fn algo(&self) -> Algo {
        self.algo
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }
}

/// How hard and how long to try.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests per fetch, the first included; at least 1.
    pub attempts: u32,
    /// Wait before the second attempt; it doubles for each further one, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    /// Longest wait for the response headers or for any next block of the body. It is not a limit
    /// on the whole transfer: a slow but moving download of a large stage tarball must finish.
    pub read_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// The cache the CLI uses unless told otherwise: `$XDG_CACHE_HOME/nbgen`, else `~/.cache/nbgen`.
/// None when neither variable gives an absolute path.
pub fn default_cache_dir() -> Option<PathBuf> {
    // The XDG base directory spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .map(|dir| dir.join("nbgen"))
}

/// Where a fetched file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The verified file in the cache.
    pub path: PathBuf,
    /// It was already in the cache; nothing was transferred.
    pub cached: bool,
    /// The tap given to [`Fetcher::fetch_tapped`] saw every byte of the file, in order, exactly
    /// once. False after a cache hit, a restart from byte 0 once the tap had seen bytes, or a
    /// failed write to the tap; the caller then reads `path` instead.
    pub tapped: bool,
}

pub struct Fetcher<'n> {
    cache: PathBuf,
    opts: Options,
    // Built on the first HTTP fetch: a reqwest blocking client starts a runtime thread, which
    // cache hits and local copies do not need.
    client: OnceCell<Client>,
    /// Where downloads report how they go (a progress display); none by default.
    notes: Option<Notes<'n>>,
}

impl<'n> Fetcher<'n> {
    pub fn new(cache: impl Into<PathBuf>, opts: Options) -> Fetcher<'n> {
        Fetcher {
            cache: cache.into(),
            opts,
            client: OnceCell::new(),
            notes: None,
        }
    }

    /// The same fetcher, telling `notes` how each download goes ([`Note::Download`]).
    pub fn with_notes<'m>(self, notes: Notes<'m>) -> Fetcher<'m> {
        Fetcher {
            cache: self.cache,
            opts: self.opts,
            client: self.client,
            notes: Some(notes),
        }
    }

    /// Where the file with digest `expected` is, or will be, in the cache.
    pub fn cache_path(&self, expected: &Expected) -> PathBuf {
        self.cache.join(expected.algo.name()).join(&expected.hex)
    }

    /// Returns the cached file with digest `expected`, fetching it from `source` (an http, https
    /// or file URL, or a plain path) first if it is not in the cache.
    pub fn fetch(&self, source: &str, expected: &Expected) -> Result<PathBuf> {
        self.fetch_inner(source, expected, None).map(|f| f.path)
    }

    /// Like [`Fetcher::fetch`], and also writes every byte to `tap` as it arrives, so the caller
    /// can unpack while downloading. The tap sees the bytes before they are verified: whatever it
    /// made of them must be thrown away when this returns an error.
    pub fn fetch_tapped(
        &self,
        source: &str,
        expected: &Expected,
        tap: &mut dyn Write,
    ) -> Result<Fetched> {
        self.fetch_inner(source, expected, Some(tap))
    }

    fn fetch_inner(
        &self,
        source: &str,
        expected: &Expected,
        tap: Option<&mut dyn Write>,
    ) -> Result<Fetched> {
        let final_path = self.cache_path(expected);
        let hit = || Fetched {
            path: final_path.clone(),
            cached: true,
            tapped: false,
        };
        if final_path.is_file() {
            return Ok(hit());
        }
        let origin = Origin::parse(source)?;
        let partial_dir = self.cache.join("partial");
        let algo_dir = self.cache.join(expected.algo.name());
        for dir in [&partial_dir, &algo_dir] {
            fs::create_dir_all(dir).at(dir)?;
        }
        let _lock = Lock::acquire(&partial_dir.join(format!("{}.lock", expected.hex)))?;
        // Another nbgen may have completed this file while this one waited for the lock.
        if final_path.is_file() {
            return Ok(hit());
        }
        let part_path = partial_dir.join(format!("{}.part", expected.hex));
        // A local copy is quick: bytes left by an earlier transfer are not worth resuming.
        let resume = matches!(origin, Origin::Http(_));
        let mut part = Partial::open(&part_path, expected.algo, tap, resume)?;
        part.limit = expected.size;
        // Bytes beyond the known size cannot belong to the file: start it over.
        if expected.size.is_some_and(|limit| part.len > limit) {
            part.restart()?;
        }
        self.transfer(&origin, source, &mut part, resume)?;
        part.finish(source, expected, &final_path)
    }

    /// Fills `part` from `origin`. On failure, downloaded bytes stay for the next try to resume
    /// from; an empty file or a local copy's remains are not worth keeping.
    fn transfer(
        &self,
        origin: &Origin,
        source: &str,
        part: &mut Partial,
        resume: bool,
    ) -> Result<()> {
        let transferred = match origin {
            Origin::Http(url) => self.download(url, source, part),
            Origin::File(path) => copy_local(path, part),
        };
        if transferred.is_err() && (!resume || part.len == 0 || part.oversize) {
            let _ = fs::remove_file(&part.path);
        }
        transferred
    }

    /// Fetches a file whose digest nobody has pinned yet (the first fetch of an era stage or
    /// kernel): its SHA512 is computed while it streams, and it enters the cache under that
    /// digest. The caller pins the digest (the matrix lock file), after which every later fetch
    /// is verified against it. Returns the cached file and its SHA512.
    pub fn fetch_unpinned(&self, source: &str) -> Result<(PathBuf, String)> {
        let origin = Origin::parse(source)?;
        let partial_dir = self.cache.join("partial");
        let algo_dir = self.cache.join(Algo::Sha512.name());
        for dir in [&partial_dir, &algo_dir] {
            fs::create_dir_all(dir).at(dir)?;
        }
        // The partial file is named after the URL, since its digest is what is not known.
        let key = hex::encode(Sha512::digest(source.as_bytes()));
        let _lock = Lock::acquire(&partial_dir.join(format!("url-{key}.lock")))?;
        let part_path = partial_dir.join(format!("url-{key}.part"));
        let resume = matches!(origin, Origin::Http(_));
        let mut part = Partial::open(&part_path, Algo::Sha512, None, resume)?;
        self.transfer(&origin, source, &mut part, resume)?;
        let mut digest = String::new();
        let fetched = part.finish_with(|actual| {
            digest = actual.to_string();
            Ok(algo_dir.join(actual))
        })?;
        Ok((fetched.path, digest))
    }

    fn client(&self) -> Result<&Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        // reqwest's blocking `timeout` bounds each wait separately (for the response headers and
        // for every read of the body), so it is the read timeout, not a whole-transfer deadline.
        let client = Client::builder()
            .connect_timeout(self.opts.connect_timeout)
            .timeout(self.opts.read_timeout)
            .user_agent(concat!("nbgen/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::io(Path::new("HTTP client"), io::Error::other(error_chain(&e))))?;
        Ok(self.client.get_or_init(|| client))
    }

    /// Tries up to `attempts` times; every try asks only for the bytes not yet on disk.
    fn download(&self, url: &Url, source: &str, part: &mut Partial) -> Result<()> {
        let client = self.client()?;
        let meter = Meter {
            source,
            notes: self.notes,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = attempt_once(client, url, source, part, &meter);
            // Whatever happened, the disk holds what was hashed: a later process resumes from it.
            part.flush()?;
            match outcome {
                Ok(()) => {
                    meter.tell(Download::Ended { complete: true });
                    return Ok(());
                }
                Err(Failure::Fatal(e)) => {
                    meter.tell(Download::Ended { complete: false });
                    return Err(e);
                }
                Err(Failure::Transient(kind, why)) if attempt >= self.opts.attempts.max(1) => {
                    meter.tell(Download::Ended { complete: false });
                    let limit = match kind {
                        io::ErrorKind::TimedOut => {
                            format!(" (read timeout {:?})", self.opts.read_timeout)
                        }
                        _ => String::new(),
                    };
                    let plural = if attempt == 1 { "" } else { "s" };
                    // The path of an Io error names the URL here: what failed is the transfer.
                    return Err(Error::io(
                        Path::new(source),
                        io::Error::new(
                            kind,
                            format!("{why}{limit}; gave up after {attempt} attempt{plural}"),
                        ),
                    ));
                }
                Err(Failure::Transient(_, why)) => {
                    let wait = self.backoff(attempt);
                    meter.tell(Download::Retrying { wait, why: &why });
                    std::thread::sleep(wait);
                }
            }
        }
    }

    /// The wait after failed attempt number `attempt` (1-based): backoff, 2 backoff, 4 backoff...
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.opts
            .backoff
            .saturating_mul(factor)
            .min(self.opts.max_backoff)
    }
}

/// Tells the fetcher's notes, if any, how one download goes.
struct Meter<'a> {
    source: &'a str,
    notes: Option<Notes<'a>>,
}

impl Meter<'_> {
    fn tell(&self, event: Download) {
        if let Some(notes) = self.notes {
            notes(Note::Download {
                source: self.source,
                event,
            });
        }
    }
}

#[cfg(test)]
mod tests;
