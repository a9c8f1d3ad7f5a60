//! A download unpacked while it arrives: the stage path of `nbgen test` (bwrap engine, a stage
//! named by URL with a known digest) and of `bench/bench-fetch` (generator/examples/fetch_unpack),
//! which times it against curl, sha512sum and tar run one after another.
//!
//! The download is tapped into a channel that an unpacking thread reads, so the network, the
//! hashing and the writing of the tree overlap. The unpack sees bytes before they are verified;
//! when the digest fails the tree is removed. When the tap could not follow (a cache hit, a
//! restart from byte 0) the verified file is unpacked from the cache instead.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::base::error::{Error, Result};
use crate::nbtest::fetch::{Expected, Fetcher};
use crate::nbtest::unpack::{self, Summary};

/// Blocks in flight between download and unpack; with 1 MiB blocks this bounds the memory used.
const IN_FLIGHT: usize = 16;
const CHUNK: usize = 1 << 20;

/// What [`fetch_unpack`] did.
#[derive(Debug)]
pub struct Streamed {
    /// The verified file in the cache.
    pub path: PathBuf,
    pub summary: Summary,
    /// How the tree was made: "while downloading", "from the cache" or "after downloading".
    pub how: &'static str,
}

/// Fetches `source` (verified against `expected`, kept in `fetcher`'s cache) and unpacks it into
/// `target`, which must not exist yet: on any failure it is removed again.
pub fn fetch_unpack(
    fetcher: &Fetcher,
    source: &str,
    expected: &Expected,
    target: &Path,
) -> Result<Streamed> {
    // The tree is removed on failure, so it must not hold anything of the user's.
    if target.exists() {
        return Err(Error::input(
            target.display().to_string(),
            "already exists; give a directory that does not",
        ));
    }
    let opts = unpack::Options::default();
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let unpacker = {
        let (name, target, opts) = (source.to_string(), target.to_path_buf(), opts.clone());
        std::thread::spawn(move || {
            unpack::unpack_from(&name, ChannelReader::new(rx), &target, &opts)
        })
    };
    let mut tap = ChannelWriter::new(tx);
    let fetched = fetcher.fetch_tapped(source, expected, &mut tap);
    // The fetch flushed the tap; closing the channel is the end of the stream for the unpacker.
    drop(tap);
    let streamed = unpacker.join().expect("the unpack thread does not panic");
    let result = fetched.and_then(|fetched| {
        if fetched.tapped {
            streamed.map(|summary| (fetched, summary, "while downloading"))
        } else {
            discard(target);
            let how = if fetched.cached {
                "from the cache"
            } else {
                "after downloading"
            };
            unpack::unpack(&fetched.path, target, &opts).map(|summary| (fetched, summary, how))
        }
    });
    match result {
        Ok((fetched, summary, how)) => Ok(Streamed {
            path: fetched.path,
            summary,
            how,
        }),
        Err(e) => {
            discard(target);
            Err(e)
        }
    }
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
