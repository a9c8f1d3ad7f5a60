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
use std::io::{self, BufWriter, IsTerminal, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256, Sha512};

use crate::base::error::{Error, IoContext, Result};

/// Size of one read from the network or a local file: large enough that a fast transfer costs few
/// system calls.
const BLOCK: usize = 256 * 1024;

/// Write buffer of a `.part` file. Smaller than a typical block on purpose: BufWriter passes a
/// write at least this large straight to the file, so fast transfers are not copied once more,
/// while a trickle of small network chunks is still gathered.
const WRITE_BUFFER: usize = 64 * 1024;

/// After this many bytes the kernel is told to start writing the `.part` to disk. The fsync that
/// makes a cache entry durable then finds little left to write, instead of stalling at the end for
/// the whole file (most of a second for a stage tarball on an ordinary disk).
const WRITEBACK: u64 = 8 << 20;

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
    /// Show a progress bar on stderr (never drawn when stderr is not a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            progress: io::stderr().is_terminal(),
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

pub struct Fetcher {
    cache: PathBuf,
    opts: Options,
    // Built on the first HTTP fetch: a reqwest blocking client starts a runtime thread, which
    // cache hits and local copies do not need.
    client: OnceCell<Client>,
}

impl Fetcher {
    pub fn new(cache: impl Into<PathBuf>, opts: Options) -> Fetcher {
        Fetcher {
            cache: cache.into(),
            opts,
            client: OnceCell::new(),
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
        let bar = self.progress_bar(source);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = attempt_once(client, url, source, part, &bar);
            // Whatever happened, the disk holds what was hashed: a later process resumes from it.
            part.flush()?;
            match outcome {
                Ok(()) => {
                    bar.finish_and_clear();
                    return Ok(());
                }
                Err(Failure::Fatal(e)) => {
                    bar.abandon();
                    return Err(e);
                }
                Err(Failure::Transient(kind, why)) if attempt >= self.opts.attempts.max(1) => {
                    bar.abandon();
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
                    bar.set_message(format!("{} (retry in {wait:?}: {why})", short_name(source)));
                    std::thread::sleep(wait);
                    bar.set_message(short_name(source));
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

    fn progress_bar(&self, source: &str) -> ProgressBar {
        if !self.opts.progress {
            return ProgressBar::hidden();
        }
        // indicatif draws nothing when stderr is not a terminal, so logs of CI stay clean even
        // when a caller asks for progress.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(short_name(source));
        bar
    }
}

/// Why one attempt failed: worth another try or not.
enum Failure {
    Fatal(Error),
    Transient(io::ErrorKind, String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Fatal(e)
    }
}

fn attempt_once(
    client: &Client,
    url: &Url,
    source: &str,
    part: &mut Partial,
    bar: &ProgressBar,
) -> std::result::Result<(), Failure> {
    let offset = part.len;
    let mut request = client.get(url.clone());
    if offset > 0 {
        request = request.header(RANGE, format!("bytes={offset}-"));
    }
    let mut response = request.send().map_err(|e| {
        if e.is_builder() || e.is_redirect() {
            Failure::Fatal(Error::input(source, error_chain(&e)))
        } else if e.is_timeout() {
            Failure::Transient(
                io::ErrorKind::TimedOut,
                format!("timed out waiting for the response: {}", error_chain(&e)),
            )
        } else {
            Failure::Transient(
                io::ErrorKind::ConnectionAborted,
                format!("request failed: {}", error_chain(&e)),
            )
        }
    })?;
    let status = response.status();
    match status {
        StatusCode::PARTIAL_CONTENT if offset > 0 => {
            if content_range(&response).0 != Some(offset) {
                // Bytes other than the ones asked for: start over rather than splice blindly.
                part.restart()?;
                return Err(Failure::Transient(
                    io::ErrorKind::InvalidData,
                    format!("HTTP 206 for another range than bytes={offset}-; starting over"),
                ));
            }
        }
        // A server that ignores Range sends the whole file again: start the file over.
        StatusCode::OK => part.restart()?,
        StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 => {
            // Nothing after `offset`: the partial file may already be the whole file (the break
            // came after the last byte). If not, it is longer than the file and cannot be right.
            if content_range(&response).1 == Some(offset) {
                return Ok(());
            }
            part.restart()?;
            return Err(Failure::Transient(
                io::ErrorKind::InvalidData,
                format!("HTTP 416 for bytes={offset}-; starting over"),
            ));
        }
        s if s.is_server_error() => {
            return Err(Failure::Transient(
                io::ErrorKind::Other,
                format!("HTTP {s}"),
            ))
        }
        s => {
            let why = if s.is_client_error() {
                "a client error does not go away by asking again"
            } else {
                "nbgen expects 200 or 206"
            };
            return Err(Failure::Fatal(Error::input(
                source,
                format!("HTTP {s}; not retried ({why})"),
            )));
        }
    }
    if let (Some(limit), Some(len)) = (part.limit, response.content_length()) {
        let total = if status == StatusCode::PARTIAL_CONTENT {
            offset + len
        } else {
            len
        };
        if total > limit {
            part.oversize = true;
            return Err(Failure::Fatal(Error::input(
                source,
                format!(
                    "the server announces {total} bytes (Content-Length) but the file is known to be {limit} bytes; refused before reading, and the partial download was deleted"
                ),
            )));
        }
    }
    if let Some(len) = response.content_length() {
        bar.set_length(part.len + len);
    }
    bar.set_position(part.len);
    let mut buf = vec![0u8; BLOCK];
    loop {
        match response.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                part.append_limited(&buf[..n], source)?;
                bar.inc(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let (kind, what) = if is_timeout(&e) {
                    (io::ErrorKind::TimedOut, "read timed out")
                } else {
                    (io::ErrorKind::ConnectionAborted, "transfer broken")
                };
                return Err(Failure::Transient(
                    kind,
                    format!("{what} after byte {}: {}", part.len, error_chain(&e)),
                ));
            }
        }
    }
}

/// The first byte and the total length a `Content-Range: bytes first-last/total` (or
/// `bytes */total`) header names.
fn content_range(response: &reqwest::blocking::Response) -> (Option<u64>, Option<u64>) {
    let Some(value) = response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return (None, None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes ") else {
        return (None, None);
    };
    let (range, total) = spec.split_once('/').unwrap_or((spec, "*"));
    let first = range
        .split_once('-')
        .and_then(|(first, _)| first.trim().parse().ok());
    (first, total.trim().parse().ok())
}

fn copy_local(path: &Path, part: &mut Partial) -> Result<()> {
    // The path came from the caller's matrix or command line: a missing file is bad input.
    let mut file = File::open(path).map_err(|e| Error::io(path, e).into_input())?;
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        part.append_limited(&buf[..n], &path.display().to_string())?;
    }
}

/// Where a fetch reads from.
enum Origin {
    Http(Url),
    File(PathBuf),
}

impl Origin {
    fn parse(source: &str) -> Result<Origin> {
        let Some((scheme, _)) = source.split_once("://") else {
            return Ok(Origin::File(PathBuf::from(source)));
        };
        let bad = |why: String| Error::input(source, why);
        match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => Url::parse(source)
                .map(Origin::Http)
                .map_err(|e| bad(format!("not a valid URL: {e}"))),
            "file" => Url::parse(source)
                .map_err(|e| bad(format!("not a valid URL: {e}")))?
                .to_file_path()
                .map(Origin::File)
                .map_err(|()| bad("not a local file URL".into())),
            _ => Err(bad(format!(
                "unsupported URL scheme {scheme:?}: nbgen fetches http, https and file URLs and plain paths"
            ))),
        }
    }
}

/// A streaming hasher for either algorithm.
enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algo: Algo) -> Hasher {
        match algo {
            Algo::Sha256 => Hasher::Sha256(Sha256::new()),
            Algo::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// The `.part` file of one download with the hash of exactly its bytes.
///
/// Resuming needs the hash state of the bytes already on disk. Within one process the hasher is
/// simply kept across attempts, so nothing is read twice. A `.part` left by an earlier process is
/// read back and hashed once when it is opened: sha2 cannot save a hasher's state, and storing a
/// state beside the file would be one more thing that can disagree with the file's bytes.
struct Partial<'t> {
    path: PathBuf,
    out: BufWriter<File>,
    algo: Algo,
    hasher: Hasher,
    /// Bytes hashed; the file holds exactly these once `out` is flushed.
    len: u64,
    /// Bytes appended since writeback was last started.
    unsynced: u64,
    tap: Option<&'t mut dyn Write>,
    /// The known size of the file, past which no byte is written.
    limit: Option<u64>,
    /// The transfer went past `limit`: what is on disk is wrong and must not be resumed.
    oversize: bool,
}

impl<'t> Partial<'t> {
    fn open(
        path: &Path,
        algo: Algo,
        tap: Option<&'t mut dyn Write>,
        resume: bool,
    ) -> Result<Partial<'t>> {
        // O_NOFOLLOW: a symlink planted at the .part name would make nbgen write (or hash and
        // serve) whatever it points to.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!resume)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::io(
                    path,
                    io::Error::other(
                        "is a symlink, which nbgen never follows in its cache; remove it and fetch again",
                    ),
                ),
                _ => Error::io(path, e),
            })?;
        let (mut hasher, mut len, mut tap) = (Hasher::new(algo), 0u64, tap);
        let mut buf = vec![0u8; BLOCK];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(path, e)),
            };
            hasher.update(&buf[..n]);
            feed(&mut tap, &buf[..n]);
            len += n as u64;
        }
        // The read left the position at the end, where the next bytes belong.
        Ok(Partial {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            algo,
            hasher,
            len,
            unsynced: 0,
            tap,
            limit: None,
            oversize: false,
        })
    }

    /// Appends `bytes` unless that takes the file past its known size; then nothing is written,
    /// the partial file is marked for deletion, and the error says why.
    fn append_limited(&mut self, bytes: &[u8], source: &str) -> Result<()> {
        if let Some(limit) = self.limit {
            if self.len + bytes.len() as u64 > limit {
                self.oversize = true;
                return Err(Error::input(
                    source,
                    format!(
                        "the body exceeds the file's known size of {limit} bytes; stopped reading, and the partial download was deleted"
                    ),
                ));
            }
        }
        self.append(bytes)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).at(&self.path)?;
        self.hasher.update(bytes);
        feed(&mut self.tap, bytes);
        self.len += bytes.len() as u64;
        self.unsynced += bytes.len() as u64;
        if self.unsynced >= WRITEBACK {
            self.flush()?;
            start_writeback(self.out.get_ref());
            self.unsynced = 0;
        }
        Ok(())
    }

    /// Empties the file to receive the whole body again.
    fn restart(&mut self) -> Result<()> {
        self.out.flush().at(&self.path)?;
        let file = self.out.get_mut();
        file.set_len(0).at(&self.path)?;
        file.seek(SeekFrom::Start(0)).at(&self.path)?;
        self.hasher = Hasher::new(self.algo);
        // The tap cannot take back what it saw.
        if self.len > 0 {
            self.tap = None;
        }
        self.len = 0;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().at(&self.path)
    }

    /// Verifies the digest and moves the file into the cache, or deletes it.
    fn finish(self, source: &str, expected: &Expected, final_path: &Path) -> Result<Fetched> {
        self.finish_with(|actual| {
            if actual == expected.hex {
                Ok(final_path.to_path_buf())
            } else {
                Err(Error::input(
                    source,
                    format!(
                        "{} mismatch: expected {}, got {actual}; the download was deleted and nothing entered the cache",
                        expected.algo.label(),
                        expected.hex
                    ),
                ))
            }
        })
    }

    /// Completes the file: `place` sees the digest of what arrived and says where it belongs in
    /// the cache, or refuses it, in which case the partial file is deleted.
    fn finish_with(mut self, place: impl FnOnce(&str) -> Result<PathBuf>) -> Result<Fetched> {
        self.flush()?;
        let tapped = match self.tap.take() {
            Some(tap) => tap.flush().is_ok(),
            None => false,
        };
        let actual = std::mem::replace(&mut self.hasher, Hasher::new(self.algo)).hex();
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        let final_path = match place(&actual) {
            Ok(p) => p,
            Err(e) => {
                drop(file);
                fs::remove_file(&self.path).at(&self.path)?;
                return Err(e);
            }
        };
        let final_path = final_path.as_path();
        // Read-only: a cache entry is trusted for its name, so nothing should edit it in place.
        file.set_permissions(fs::Permissions::from_mode(0o444))
            .at(&self.path)?;
        file.sync_all().at(&self.path)?;
        drop(file);
        fs::rename(&self.path, final_path).at(final_path)?;
        // Make the rename itself durable, so a crash cannot leave a name without its bytes.
        if let Some(dir) = final_path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).at(dir)?;
        }
        Ok(Fetched {
            path: final_path.to_path_buf(),
            cached: false,
            tapped,
        })
    }
}

/// Asks the kernel to start writing `file`'s dirty pages to disk, without waiting for it. Only an
/// optimisation: the fsync before the rename is what reports a failed write.
fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open (borrowed from a live File) and no memory is passed;
    // SYNC_FILE_RANGE_WRITE only queues writeback of the whole file (offset 0, length 0 = to end).
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Writes `bytes` to the tap, if there still is one.
fn feed(tap: &mut Option<&mut dyn Write>, bytes: &[u8]) {
    // A consumer that stopped reading does not stop the download: the file still goes into the
    // cache, and `tapped` tells the caller to read it from there.
    if let Some(t) = tap {
        if t.write_all(bytes).is_err() {
            *tap = None;
        }
    }
}

/// An exclusive lock on one cache entry's download, so two nbgen processes never write the same
/// `.part`. The lock file is removed on release; a waiter that then finds it locked a removed file
/// opens and locks the new one instead.
struct Lock {
    path: PathBuf,
    _file: File,
}

impl Lock {
    fn acquire(path: &Path) -> Result<Lock> {
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .at(path)?;
            rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
                .map_err(|e| Error::io(path, e.into()))?;
            let held = file.metadata().at(path)?;
            match fs::metadata(path) {
                Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                    return Ok(Lock {
                        path: path.to_path_buf(),
                        _file: file,
                    })
                }
                _ => continue,
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held (the file closes after this), so no one locks a stale name.
        let _ = fs::remove_file(&self.path);
    }
}

/// The last path segment of a URL or path, for the progress bar.
fn short_name(source: &str) -> String {
    source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(source)
        .to_string()
}

/// An error with its causes: reqwest's own message alone hides why a request failed.
fn error_chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Whether a body read failed for lack of data in time. reqwest wraps its timeout in an
/// `io::Error` of kind Other, so the chain is searched for the reqwest error or a TimedOut.
fn is_timeout(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::TimedOut {
        return true;
    }
    let mut cause: Option<&(dyn StdError + 'static)> = e.get_ref().map(|inner| inner as _);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() {
                return true;
            }
        }
        if let Some(io) = c.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::TimedOut {
                return true;
            }
        }
        cause = c.source();
    }
    false
}

#[cfg(test)]
mod tests;
