//! fetch against a real HTTP server on 127.0.0.1, started and stopped by each test: digest
//! mismatch, a transfer cut mid-body and resumed, 404 and 500, a stalled server, the cache.
//!
//! The server is a few lines over std::net so each test can misbehave exactly as it needs to
//! (send half a body and close, ignore Range, never answer) and count the requests it saw.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nbgen::base::error::{Error, EXIT_BAD_INPUT, EXIT_FAILURE};
use nbgen::nbtest::fetch::{Expected, Fetcher, Options};
use nbgen::nbtest::{Download, Note};
use sha2::{Digest, Sha256, Sha512};

#[derive(Debug, Clone)]
struct Request {
    path: String,
    /// Header names lowercased.
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first byte of a `Range: bytes=N-` header.
    fn range_start(&self) -> Option<usize> {
        self.header("range")?
            .strip_prefix("bytes=")?
            .strip_suffix('-')?
            .parse()
            .ok()
    }
}

/// What a test's server does with request number `n` (0-based); `stop` turns true when the test
/// is over, so a stalling handler knows when to let go.
type Handler = dyn Fn(usize, &Request, &mut TcpStream, &AtomicBool) + Send + Sync;

struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(
        handler: impl Fn(usize, &Request, &mut TcpStream, &AtomicBool) + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Polled, so the accept loop can notice `stop` without a connection arriving.
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut connections = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let stream = match listener.accept() {
                        Ok((stream, _)) => stream,
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    };
                    let (requests, stop, handler) =
                        (requests.clone(), stop.clone(), handler.clone());
                    connections.push(std::thread::spawn(move || {
                        serve_connection(stream, &requests, &stop, &*handler)
                    }));
                }
                for c in connections {
                    let _ = c.join();
                }
            })
        };
        Server {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request (every connection carries one: responses say `Connection: close`), records
/// it, and hands it to the handler.
fn serve_connection(
    mut stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    stop: &AtomicBool,
    handler: &Handler,
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let request = Request { path, headers };
    let n = {
        let mut all = requests.lock().unwrap();
        all.push(request.clone());
        all.len() - 1
    };
    handler(n, &request, &mut stream, stop);
}

fn head(stream: &mut TcpStream, status: &str, extra: &[String]) {
    let mut text = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for h in extra {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    let _ = stream.write_all(text.as_bytes());
}

/// Answers like a static file server: 206 for a Range request, 200 otherwise.
fn serve(body: &[u8], req: &Request, stream: &mut TcpStream) {
    match req.range_start() {
        Some(start) if start < body.len() => {
            head(
                stream,
                "206 Partial Content",
                &[
                    format!("Content-Length: {}", body.len() - start),
                    format!(
                        "Content-Range: bytes {start}-{}/{}",
                        body.len() - 1,
                        body.len()
                    ),
                ],
            );
            let _ = stream.write_all(&body[start..]);
        }
        _ => {
            head(
                stream,
                "200 OK",
                &[format!("Content-Length: {}", body.len())],
            );
            let _ = stream.write_all(body);
        }
    }
}

/// A megabyte that compresses badly and has no repeating blocks.
fn body() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha512(bytes: &[u8]) -> Expected {
    Expected::new("SHA512", &hex::encode(Sha512::digest(bytes))).unwrap()
}

/// Small waits, so the retry tests take milliseconds.
fn quick() -> Options {
    Options {
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
    }
}

/// The names in a cache subdirectory (none when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn digest_mismatch_leaves_nothing_behind() {
    let served = body();
    let server = Server::start(move |_, req, s, _| serve(&served, req, s));
    let cache = tempfile::tempdir().unwrap();
    let expected = sha512(b"not what the server sends");
    let url = server.url("/stage3.tar.xz");
    let err = Fetcher::new(cache.path(), quick())
        .fetch(&url, &expected)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains(expected.hex()), "{text}");
    assert!(
        text.contains(&hex::encode(Sha512::digest(body()))),
        "{text}"
    );
    assert_eq!(err.exit_code(), EXIT_BAD_INPUT);
    assert_eq!(names(&cache.path().join("sha512")), Vec::<String>::new());
    // Neither the .part nor the lock file is left.
    assert_eq!(names(&cache.path().join("partial")), Vec::<String>::new());
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.requests()[0].path, "/stage3.tar.xz");
}

#[test]
fn transfer_cut_mid_body_resumes_with_range() {
    let served = body();
    let half = served.len() / 2;
    let server = Server::start(move |n, req, s, _| {
        if n == 0 {
            // The whole length announced, half the bytes sent, then the connection closes.
            head(s, "200 OK", &[format!("Content-Length: {}", served.len())]);
            let _ = s.write_all(&served[..half]);
            let _ = s.flush();
            let _ = s.shutdown(std::net::Shutdown::Both);
        } else {
            serve(&served, req, s);
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let mut tap = Vec::new();
    let fetched = Fetcher::new(cache.path(), quick())
        .fetch_tapped(&server.url("/stage.tar"), &sha512(&body()), &mut tap)
        .unwrap();
    assert_eq!(std::fs::read(&fetched.path).unwrap(), body());
    // The tap saw the file once, in order, across the break.
    assert!(fetched.tapped && !fetched.cached);
    assert_eq!(tap, body());
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].header("range"), None);
    assert_eq!(requests[1].range_start(), Some(half), "{requests:?}");
    assert_eq!(names(&cache.path().join("partial")), Vec::<String>::new());
}

// The notes tell a progress display where a download is, across a break and its resumption.
#[test]
fn a_download_tells_its_progress_across_a_break() {
    let served = body();
    let len = served.len() as u64;
    let half = served.len() / 2;
    let server = Server::start(move |n, req, s, _| {
        if n == 0 {
            head(s, "200 OK", &[format!("Content-Length: {}", served.len())]);
            let _ = s.write_all(&served[..half]);
            let _ = s.flush();
            let _ = s.shutdown(std::net::Shutdown::Both);
        } else {
            serve(&served, req, s);
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let notes = |note: Note| {
        if let Note::Download { event, .. } = note {
            seen.lock().unwrap().push(match event {
                Download::Started { have, total } => format!("started {have} of {total:?}"),
                Download::Received(n) => format!("received {n}"),
                Download::Retrying { .. } => "retrying".to_string(),
                Download::Ended { complete } => format!("ended {complete}"),
            });
        }
    };
    Fetcher::new(cache.path(), quick())
        .with_notes(&notes)
        .fetch(&server.url("/stage.tar"), &sha512(&body()))
        .unwrap();
    let seen = seen.into_inner().unwrap();
    // Received notes between the others are summed: reads come in blocks of any size.
    let mut events: Vec<String> = Vec::new();
    let mut received = 0u64;
    for e in &seen {
        match e.strip_prefix("received ") {
            Some(n) => received += n.parse::<u64>().unwrap(),
            None => {
                if received > 0 {
                    events.push(format!("received {received}"));
                    received = 0;
                }
                events.push(e.clone());
            }
        }
    }
    let expected = [
        format!("started 0 of Some({len})"),
        format!("received {half}"),
        "retrying".to_string(),
        format!("started {half} of Some({len})"),
        format!("received {}", len - half as u64),
        "ended true".to_string(),
    ];
    assert_eq!(events, expected, "{seen:?}");
}

// A .part left by an earlier nbgen is hashed again and continued, not downloaded again.
#[test]
fn part_left_by_an_earlier_run_is_resumed() {
    let served = body();
    let server = Server::start(move |_, req, s, _| serve(&served, req, s));
    let cache = tempfile::tempdir().unwrap();
    let expected = sha512(&body());
    std::fs::create_dir_all(cache.path().join("partial")).unwrap();
    std::fs::write(
        cache
            .path()
            .join(format!("partial/{}.part", expected.hex())),
        &body()[..1000],
    )
    .unwrap();
    let path = Fetcher::new(cache.path(), quick())
        .fetch(&server.url("/x"), &expected)
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body());
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].range_start(), Some(1000));
}

// A server without Range support answers 200 with the whole file: start over, and a tap that
// already saw the old bytes is let go.
#[test]
fn server_ignoring_range_restarts_from_zero() {
    let served = body();
    let server = Server::start(move |_, _, s, _| {
        head(s, "200 OK", &[format!("Content-Length: {}", served.len())]);
        let _ = s.write_all(&served);
    });
    let cache = tempfile::tempdir().unwrap();
    let expected = sha512(&body());
    std::fs::create_dir_all(cache.path().join("partial")).unwrap();
    std::fs::write(
        cache
            .path()
            .join(format!("partial/{}.part", expected.hex())),
        b"stale bytes of something else",
    )
    .unwrap();
    let mut tap = Vec::new();
    let fetched = Fetcher::new(cache.path(), quick())
        .fetch_tapped(&server.url("/x"), &expected, &mut tap)
        .unwrap();
    assert_eq!(std::fs::read(&fetched.path).unwrap(), body());
    assert!(!fetched.tapped);
    assert_eq!(server.requests()[0].range_start(), Some(29));
}

#[test]
fn not_found_is_not_retried() {
    let server =
        Server::start(|_, _, s, _| head(s, "404 Not Found", &["Content-Length: 0".into()]));
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("/missing.tar.xz");
    let err = Fetcher::new(
        cache.path(),
        Options {
            attempts: 4,
            ..quick()
        },
    )
    .fetch(&url, &sha512(b"x"))
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&url) && text.contains("404"), "{text}");
    assert_eq!(err.exit_code(), EXIT_BAD_INPUT);
    assert_eq!(server.requests().len(), 1);
    assert_eq!(names(&cache.path().join("sha512")), Vec::<String>::new());
    assert_eq!(names(&cache.path().join("partial")), Vec::<String>::new());
}

#[test]
fn server_error_is_retried_a_bounded_number_of_times() {
    let server = Server::start(|_, _, s, _| {
        head(
            s,
            "500 Internal Server Error",
            &["Content-Length: 0".into()],
        )
    });
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("/stage.tar");
    let err = Fetcher::new(
        cache.path(),
        Options {
            attempts: 3,
            ..quick()
        },
    )
    .fetch(&url, &sha512(b"x"))
    .unwrap_err();
    let text = err.to_string();
    assert_eq!(server.requests().len(), 3, "{text}");
    assert!(text.contains(&url) && text.contains("500"), "{text}");
    assert!(text.contains("gave up after 3 attempts"), "{text}");
    assert_eq!(err.exit_code(), EXIT_FAILURE);
    assert_eq!(names(&cache.path().join("partial")), Vec::<String>::new());
}

fn assert_timed_out(err: &Error) {
    match err {
        Error::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::TimedOut, "{err}");
            assert!(err.to_string().contains("timed out"), "{err}");
        }
        other => panic!("expected a timeout, got {other}"),
    }
}

/// Holds the connection open, saying nothing more, until the test ends.
fn stall(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn server_that_never_answers_times_out() {
    let server = Server::start(|_, _, _, stop| stall(stop));
    let cache = tempfile::tempdir().unwrap();
    let opts = Options {
        attempts: 2,
        read_timeout: Duration::from_millis(300),
        ..quick()
    };
    let err = Fetcher::new(cache.path(), opts)
        .fetch(&server.url("/slow"), &sha512(b"x"))
        .unwrap_err();
    assert_timed_out(&err);
    assert!(
        err.to_string().contains("gave up after 2 attempts"),
        "{err}"
    );
}

#[test]
fn server_that_stalls_mid_body_times_out() {
    let server = Server::start(|_, _, s, stop| {
        head(s, "200 OK", &["Content-Length: 1000".into()]);
        let _ = s.write_all(&[0u8; 100]);
        stall(stop);
    });
    let cache = tempfile::tempdir().unwrap();
    let opts = Options {
        attempts: 1,
        read_timeout: Duration::from_millis(300),
        ..quick()
    };
    let err = Fetcher::new(cache.path(), opts)
        .fetch(&server.url("/slow"), &sha512(b"x"))
        .unwrap_err();
    assert_timed_out(&err);
    // What arrived stays for a later resume.
    assert_eq!(names(&cache.path().join("partial")).len(), 1);
}

#[test]
fn cache_hit_makes_no_request() {
    let served = body();
    let server = Server::start(move |_, req, s, _| serve(&served, req, s));
    let cache = tempfile::tempdir().unwrap();
    let expected = Expected::new("sha256", &hex::encode(Sha256::digest(body()))).unwrap();
    let url = server.url("/distfile.tar.gz");
    let first = Fetcher::new(cache.path(), quick())
        .fetch(&url, &expected)
        .unwrap();
    assert_eq!(first, cache.path().join("sha256").join(expected.hex()));
    assert_eq!(
        std::fs::metadata(&first).unwrap().permissions().mode() & 0o777,
        0o444
    );
    assert_eq!(server.requests().len(), 1);
    let mut tap = Vec::new();
    let second = Fetcher::new(cache.path(), quick())
        .fetch_tapped(&url, &expected, &mut tap)
        .unwrap();
    assert_eq!(second.path, first);
    assert!(second.cached && !second.tapped && tap.is_empty());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn local_paths_and_file_urls_are_verified_too() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("stage3.tar");
    std::fs::write(&local, body()).unwrap();
    let expected = sha512(&body());
    for source in [
        local.display().to_string(),
        format!("file://{}", local.display()),
    ] {
        let cache = tempfile::tempdir().unwrap();
        let path = Fetcher::new(cache.path(), quick())
            .fetch(&source, &expected)
            .unwrap();
        assert_eq!(std::fs::read(path).unwrap(), body());
        let err = Fetcher::new(cache.path(), quick())
            .fetch(&source, &sha512(b"other"))
            .unwrap_err();
        assert!(err.to_string().contains("mismatch"), "{err}");
        assert_eq!(names(&cache.path().join("partial")), Vec::<String>::new());
    }
    let err = Fetcher::new(dir.path().join("cache"), quick())
        .fetch(
            &dir.path().join("absent.tar").display().to_string(),
            &expected,
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), EXIT_BAD_INPUT);
}

// The break came after the last byte: the .part is the whole file, the server answers 416 with
// the total length, and the file is verified without another byte.
#[test]
fn part_holding_the_whole_file_is_accepted_on_416() {
    let len = body().len();
    let server = Server::start(move |_, _, s, _| {
        head(
            s,
            "416 Range Not Satisfiable",
            &[
                format!("Content-Range: bytes */{len}"),
                "Content-Length: 0".into(),
            ],
        )
    });
    let cache = tempfile::tempdir().unwrap();
    let expected = sha512(&body());
    std::fs::create_dir_all(cache.path().join("partial")).unwrap();
    std::fs::write(
        cache
            .path()
            .join(format!("partial/{}.part", expected.hex())),
        body(),
    )
    .unwrap();
    let path = Fetcher::new(cache.path(), quick())
        .fetch(&server.url("/x"), &expected)
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body());
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.requests()[0].range_start(), Some(len));
}

#[test]
fn refused_connection_is_retried_then_reported() {
    // A port that was just free: nothing listens there any more.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/stage.tar");
    let err = Fetcher::new(
        cache.path(),
        Options {
            attempts: 2,
            ..quick()
        },
    )
    .fetch(&url, &sha512(b"x"))
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("gave up after 2 attempts"), "{text}");
    assert_eq!(err.exit_code(), EXIT_FAILURE);
}

#[test]
fn unpinned_download_enters_the_cache_under_its_digest_then_verifies_as_pinned() {
    let served = body();
    let server = Server::start(move |_, req, s, _| serve(&served, req, s));
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("/stage3-x86-2006.1.tar.bz2");
    let fetcher = Fetcher::new(cache.path(), quick());
    let (path, digest) = fetcher.fetch_unpinned(&url).unwrap();
    assert_eq!(digest, hex::encode(Sha512::digest(body())));
    assert_eq!(path, cache.path().join("sha512").join(&digest));
    assert_eq!(std::fs::read(&path).unwrap(), body());
    assert!(names(&cache.path().join("partial"))
        .iter()
        .all(|n| n.ends_with(".lock")));
    // From now on the digest is known: a fetch against it is a cache hit, no request.
    let again = fetcher.fetch(&url, &sha512(&body())).unwrap();
    assert_eq!(again, path);
    assert_eq!(server.requests().len(), 1);
}

/// Sends the body, then more bytes without end until the client hangs up or the test is over:
/// no Content-Length, so only the known size can stop the client.
fn endless(body: &[u8], stream: &mut TcpStream, stop: &AtomicBool) -> usize {
    head(stream, "200 OK", &[]);
    let mut sent = 0;
    if stream.write_all(body).is_err() {
        return sent;
    }
    sent += body.len();
    let junk = vec![0x5au8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) && sent < (256 << 20) {
        if stream.write_all(&junk).is_err() {
            break;
        }
        sent += junk.len();
    }
    sent
}

#[test]
fn an_endless_body_stops_at_the_known_size_and_leaves_no_part() {
    let served = body();
    let sent = Arc::new(Mutex::new(0usize));
    let server = {
        let sent = sent.clone();
        Server::start(move |_, _, s, stop| *sent.lock().unwrap() = endless(&served, s, stop))
    };
    let cache = tempfile::tempdir().unwrap();
    let expected = sha512(&body()).with_size(body().len() as u64);
    let url = server.url("/endless");
    let err = Fetcher::new(cache.path(), quick())
        .fetch(&url, &expected)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(
        text.contains(&format!(
            "exceeds the file's known size of {} bytes",
            body().len()
        )),
        "{text}"
    );
    assert!(text.contains("deleted"), "{text}");
    assert_eq!(err.exit_code(), EXIT_BAD_INPUT);
    assert_eq!(names(&cache.path().join("partial")), Vec::<String>::new());
    assert_eq!(names(&cache.path().join("sha512")), Vec::<String>::new());
    // Not retried: asking again would only bring the same endless body.
    assert_eq!(server.requests().len(), 1);
    drop(server);
    // The client hung up long before the server's own limit.
    assert!(*sent.lock().unwrap() < 64 << 20, "{}", sent.lock().unwrap());
}

#[test]
fn a_content_length_above_the_known_size_is_refused_before_reading() {
    let server = Server::start(|_, _, s, _| {
        head(s, "200 OK", &["Content-Length: 1099511627776".into()]);
        let _ = s.write_all(&[0u8; 4096]);
    });
    let cache = tempfile::tempdir().unwrap();
    let expected = sha512(&body()).with_size(body().len() as u64);
    let err = Fetcher::new(cache.path(), quick())
        .fetch(&server.url("/huge"), &expected)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("announces 1099511627776 bytes"), "{text}");
    assert!(
        text.contains(&format!("known to be {} bytes", body().len())),
        "{text}"
    );
    assert_eq!(err.exit_code(), EXIT_BAD_INPUT);
    assert_eq!(names(&cache.path().join("partial")), Vec::<String>::new());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_part_file_that_is_a_symlink_is_never_followed() {
    let served = body();
    let server = Server::start(move |_, req, s, _| serve(&served, req, s));
    let cache = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    let expected = sha512(&body());
    std::fs::create_dir_all(cache.path().join("partial")).unwrap();
    let part = cache
        .path()
        .join(format!("partial/{}.part", expected.hex()));
    std::os::unix::fs::symlink(&victim, &part).unwrap();
    let err = Fetcher::new(cache.path(), quick())
        .fetch(&server.url("/x"), &expected)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("is a symlink"), "{text}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(names(&cache.path().join("sha512")), Vec::<String>::new());
    assert!(server.requests().is_empty());
}

#[test]
fn the_size_pinned_in_the_lock_file_limits_a_download() {
    let served = body();
    let server = Server::start(move |_, _, s, stop| {
        endless(&served, s, stop);
    });
    let url = server.url("/kernel.tar.bz2");
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join("matrix.lock");
    std::fs::write(
        &lock_path,
        format!(
            "[[pin]]\nurl = \"{url}\"\nsha512 = \"{}\"\nsize = {}\n",
            hex::encode(Sha512::digest(body())),
            body().len()
        ),
    )
    .unwrap();
    let mut lock = nbgen::nbtest::matrix::Lock::load(&lock_path).unwrap();
    let cache = dir.path().join("cache");
    let fetcher = Fetcher::new(&cache, quick());
    let download = nbgen::nbtest::matrix::Download {
        url: url.clone(),
        sha512: None,
    };
    let err =
        nbgen::nbtest::stage::fetch_download(&download, &fetcher, &mut lock, &|_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("known size of {} bytes", body().len())),
        "{err}"
    );
    assert_eq!(names(&cache.join("partial")), Vec::<String>::new());
}

/// `nbgen test`'s stage path for bwrap: a stage named by URL is downloaded, verified and unpacked
/// in one pass into the root for its digest; the tarball stays in the cache, and a second run
/// takes the complete root without asking the server again. A wrong digest leaves no root.
#[test]
fn a_url_stage_is_unpacked_while_it_downloads_once_per_digest() {
    use nbgen::nbtest::engine::{Engine, Image, Kind};
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let data = body();
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    tar.append_data(&mut header, "etc/stage-file", &data[..])
        .unwrap();
    let gz = tar.into_inner().unwrap().finish().unwrap();
    let served = gz.clone();
    let server = Server::start(move |_, req, stream, _| serve(&served, req, stream));
    let dir = tempfile::tempdir().unwrap();
    let engine = match Engine::detect(Some(Kind::Bwrap), &dir.path().join("engine")) {
        Ok(e) => e,
        Err(e) if std::env::var_os("NBGEN_REQUIRE_TOOLS").is_none() => {
            eprintln!("SKIPPED: no bwrap engine here: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let fetcher = Fetcher::new(dir.path().join("cache"), quick());
    let url = server.url("/stage.tar.gz");

    let wrong = sha512(b"other bytes");
    assert!(engine.prepare_streamed(&fetcher, &url, &wrong).is_err());
    assert!(
        names(&dir.path().join("engine/roots")).is_empty(),
        "a failed stream leaves nothing"
    );

    let expected = sha512(&gz);
    let Some(Image::Root(root)) = engine.prepare_streamed(&fetcher, &url, &expected).unwrap()
    else {
        panic!("bwrap prepares a root");
    };
    assert_eq!(std::fs::read(root.join("etc/stage-file")).unwrap(), data);
    assert!(
        fetcher.cache_path(&expected).is_file(),
        "the tarball is kept in the cache"
    );
    let asked = server.requests().len();
    let again = engine.prepare_streamed(&fetcher, &url, &expected).unwrap();
    assert!(matches!(again, Some(Image::Root(r)) if r == root));
    assert_eq!(
        server.requests().len(),
        asked,
        "a complete root is not fetched again"
    );
}
