//! One attempt at a transfer: an HTTP request (resuming with Range from what is on disk) or a
//! local copy, and how its failures are told apart (retry or give up).

use super::*;

/// Why one attempt failed: worth another try or not.
pub(super) enum Failure {
    Fatal(Error),
    Transient(io::ErrorKind, String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Fatal(e)
    }
}

pub(super) fn attempt_once(
    client: &Client,
    url: &Url,
    source: &str,
    part: &mut Partial,
    meter: &Meter,
) -> std::result::Result<(), Failure> {
    let offset = part.len;
    let mut request = client.get(url.clone());
    if offset > 0 {
        request = request.header(RANGE, format!("bytes={offset}-"));
    }
    let mut response = request.send().map_err(|e| request_failure(&e, source))?;
    if !accept(&response, offset, part, source)? {
        return Ok(());
    }
    check_announced_length(&response, offset, part, source)?;
    meter.tell(Download::Started {
        have: part.len,
        total: response.content_length().map(|len| part.len + len),
    });
    read_body(&mut response, source, part, meter)
}

/// A request that got no response: a bad URL or redirect is final, a timeout or a broken
/// connection worth another try.
fn request_failure(e: &reqwest::Error, source: &str) -> Failure {
    if e.is_builder() || e.is_redirect() {
        Failure::Fatal(Error::input(source, error_chain(e)))
    } else if e.is_timeout() {
        Failure::Transient(
            io::ErrorKind::TimedOut,
            format!("timed out waiting for the response: {}", error_chain(e)),
        )
    } else {
        Failure::Transient(
            io::ErrorKind::ConnectionAborted,
            format!("request failed: {}", error_chain(e)),
        )
    }
}

/// Whether the response's body is to be read (false: the partial file is already whole), after
/// starting the file over where the server sends it from the beginning.
fn accept(
    response: &reqwest::blocking::Response,
    offset: u64,
    part: &mut Partial,
    source: &str,
) -> std::result::Result<bool, Failure> {
    let status = response.status();
    match status {
        StatusCode::PARTIAL_CONTENT if offset > 0 => {
            if content_range(response).0 != Some(offset) {
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
            if content_range(response).1 == Some(offset) {
                return Ok(false);
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
    Ok(true)
}

/// A body announced larger than the file is known to be is refused before it is read.
fn check_announced_length(
    response: &reqwest::blocking::Response,
    offset: u64,
    part: &mut Partial,
    source: &str,
) -> std::result::Result<(), Failure> {
    if let (Some(limit), Some(len)) = (part.limit, response.content_length()) {
        let total = if response.status() == StatusCode::PARTIAL_CONTENT {
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
    Ok(())
}

/// Streams the body into the partial file; a broken or stalled transfer is worth another try.
fn read_body(
    response: &mut reqwest::blocking::Response,
    source: &str,
    part: &mut Partial,
    meter: &Meter,
) -> std::result::Result<(), Failure> {
    let mut buf = vec![0u8; BLOCK];
    loop {
        match response.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                part.append_limited(&buf[..n], source)?;
                meter.tell(Download::Received(n as u64));
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
pub(super) fn content_range(response: &reqwest::blocking::Response) -> (Option<u64>, Option<u64>) {
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

pub(super) fn copy_local(path: &Path, part: &mut Partial) -> Result<()> {
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
pub(super) enum Origin {
    Http(Url),
    File(PathBuf),
}

impl Origin {
    pub(super) fn parse(source: &str) -> Result<Origin> {
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

/// An error with its causes: reqwest's own message alone hides why a request failed.
pub(super) fn error_chain(e: &dyn StdError) -> String {
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
pub(super) fn is_timeout(e: &io::Error) -> bool {
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
