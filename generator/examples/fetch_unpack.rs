//! Fetches a tarball into the cache and unpacks it while it downloads: the pipeline
//! `ci/bench-fetch` times against curl, sha512sum and tar run one after another.
//!
//!   cargo run --release --example fetch_unpack -- SOURCE ALGO:HEX CACHE_DIR TARGET_DIR
//!
//! The download is tapped into a channel that an unpacking thread reads, so the network, the
//! hashing and the writing of the tree overlap. The unpack sees bytes before they are verified;
//! when the digest fails the tree is removed. When the tap could not follow (a cache hit, a
//! restart from byte 0) the verified file is unpacked from the cache instead.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use nbgen::base::error::{Error, Result};
use nbgen::nbtest::fetch::{Expected, Fetcher, Options};
use nbgen::nbtest::unpack;

/// Blocks in flight between download and unpack; with 1 MiB blocks this bounds the memory used.
const IN_FLIGHT: usize = 16;
const CHUNK: usize = 1 << 20;

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
    // The tree is removed on failure, so it must not hold anything of the user's.
    if target.exists() {
        return Err(Error::input(
            target.display().to_string(),
            "already exists; give a directory that does not",
        ));
    }
    let fetcher = Fetcher::new(cache, Options::default());
    let opts = unpack::Options::default();
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let unpacker = {
        let (name, target, opts) = (source.to_string(), target.to_path_buf(), opts.clone());
        std::thread::spawn(move || {
            unpack::unpack_from(&name, ChannelReader::new(rx), &target, &opts)
        })
    };
    let mut tap = ChannelWriter::new(tx);
    let fetched = fetcher.fetch_tapped(source, &expected, &mut tap);
    // The fetch flushed the tap; closing the channel is the end of the stream for the unpacker.
    drop(tap);
    let streamed = unpacker.join().expect("the unpack thread does not panic");
    let fetched = match fetched {
        Ok(f) => f,
        Err(e) => {
            discard(target);
            return Err(e);
        }
    };
    let (summary, how) = if fetched.tapped {
        match streamed {
            Ok(s) => (s, "while downloading"),
            Err(e) => {
                discard(target);
                return Err(e);
            }
        }
    } else {
        discard(target);
        let how = if fetched.cached {
            "from the cache"
        } else {
            "after downloading"
        };
        match unpack::unpack(&fetched.path, target, &opts) {
            Ok(s) => (s, how),
            Err(e) => {
                discard(target);
                return Err(e);
            }
        }
    };
    eprintln!(
        "fetch_unpack: {} verified, {} entries ({} bytes, {:?}) unpacked {how} into {}",
        fetched.path.display(),
        summary.entries,
        summary.bytes,
        summary.compression,
        target.display()
    );
    Ok(())
}

fn discard(target: &Path) {
    let _ = std::fs::remove_dir_all(target);
}

/// The download side of the channel: gathers bytes into blocks and hands each block over whole,
/// so a byte is copied once on its way to the unpacker. A send fails only when the unpacker has
/// stopped reading; the fetch then lets go of the tap and finishes the download on its own.
struct ChannelWriter {
    tx: SyncSender<Vec<u8>>,
    block: Vec<u8>,
}

impl ChannelWriter {
    fn new(tx: SyncSender<Vec<u8>>) -> Self {
        ChannelWriter {
            tx,
            block: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(CHUNK));
        self.tx
            .send(block)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the unpacker stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

/// The unpack side: a `Read` over the blocks the download sends; a closed channel is the end.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    block: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: Receiver<Vec<u8>>) -> Self {
        ChannelReader {
            rx,
            block: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.block.len() {
            match self.rx.recv() {
                Ok(block) => {
                    self.block = block;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.block.len() - self.pos);
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
