//! A small HTTP/1.1 client over `std::net::TcpStream`, for exact control of the bytes on
//! the wire: single requests, raw exchanges, pipelined heads, a strict parser for one
//! response and a lenient one for a stream of them; and gzip and brotli decoding.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime};

/// How long a strict exchange waits for the server at most.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// A parsed HTTP response. Header names are kept in lower case.
#[derive(Debug, Clone)]
pub struct Response {
    /// The version of the status line, such as `HTTP/1.1`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The headers in the order received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked for the strict parser).
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Header `name`, which must be present.
    pub fn expect_header(&self, name: &str) -> &str {
        self.header(name)
            .unwrap_or_else(|| panic!("no `{name}` header in {:?}", self.headers))
    }

    /// The `ETag`, which must be present.
    pub fn etag(&self) -> String {
        self.expect_header("etag").to_string()
    }

    /// A header holding an HTTP date, parsed.
    pub fn date_header(&self, name: &str) -> SystemTime {
        let value = self.expect_header(name);
        httpdate::parse_http_date(value)
            .unwrap_or_else(|e| panic!("`{name}: {value}` is not an HTTP date: {e}"))
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body, which must be UTF-8.
    pub fn utf8(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or_else(|e| panic!("the body is not UTF-8: {e}"))
    }

    /// The status line and headers, for messages.
    pub fn head(&self) -> String {
        let mut head = format!("{} {}", self.version, self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!("\n{name}: {value}"));
        }
        head
    }
}

/// The request bytes for `method path` with `Host`, `Connection: close`, then `headers`
/// exactly as given (and `Content-Length: 0` for a POST or PUT that gives none).
fn request_bytes(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    if matches!(method, "POST" | "PUT")
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        raw.push_str("Content-Length: 0\r\n");
    }
    raw.push_str("\r\n");
    raw
}

/// Sends one request on a new connection (`Connection: close`) and reads the response to
/// the end. `headers` are sent exactly as given, after `Host` and `Connection`.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let raw = request_bytes(addr, method, path, headers);
    let bytes = exchange(addr, raw.as_bytes());
    parse_response(&bytes, method == "HEAD")
}

/// `GET path` with `headers`.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers)
}

/// `GET path` that reports a failure to connect or read (within 5 s each) as an error
/// instead of panicking, for servers that may be going away.
pub fn try_get(addr: SocketAddr, path: &str) -> std::io::Result<Response> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(request_bytes(addr, "GET", path, &[]).as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    if find(&raw, b"\r\n\r\n").is_none() {
        return Err(std::io::Error::other(format!(
            "no complete response head in {:?}",
            summary(&raw)
        )));
    }
    Ok(parse_response(&raw, false))
}

/// Sends `count` pipelined `HEAD path` requests on one connection (the last one asks to
/// close it) and returns the responses in order.
pub fn pipelined_heads(addr: SocketAddr, path: &str, count: usize) -> Vec<Response> {
    let mut raw = String::new();
    for i in 0..count {
        let close = if i + 1 == count {
            "Connection: close\r\n"
        } else {
            ""
        };
        raw.push_str(&format!(
            "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\n{close}\r\n"
        ));
    }
    let bytes = exchange(addr, raw.as_bytes());
    let mut responses = Vec::new();
    let mut rest = &bytes[..];
    while let Some(end) = find(rest, b"\r\n\r\n") {
        responses.push(parse_response(&rest[..end + 4], true));
        rest = &rest[end + 4..];
    }
    assert!(
        rest.is_empty(),
        "bytes after the last response head: {rest:?}"
    );
    assert_eq!(responses.len(), count, "pipelined responses");
    responses
}

/// Writes `raw` on a new connection and reads until the server closes it; panics on any
/// error or after 20 s of silence.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("set a read timeout");
    stream.write_all(raw).expect("send the request");
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("read the response from {addr}: {e}"));
    bytes
}

/// A connection to `addr` from the local address `source` (any address of 127.0.0.0/8 is
/// the loopback's on Linux), as a blocking stream.
pub fn connect_from(source: std::net::IpAddr, addr: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a runtime to connect with");
    let stream = runtime
        .block_on(async {
            let socket = match source {
                std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
            };
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(addr).await?.into_std()
        })
        .unwrap_or_else(|e| panic!("connect to {addr} from {source}: {e}"));
    stream.set_nonblocking(false).expect("a blocking stream");
    stream
}

/// Like [`request`], from the local address `source`.
pub fn request_from(
    source: std::net::IpAddr,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut stream = connect_from(source, addr);
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("set a read timeout");
    stream
        .write_all(request_bytes(addr, method, path, headers).as_bytes())
        .expect("send the request");
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("read the response from {addr}: {e}"));
    parse_response(&bytes, method == "HEAD")
}

/// Writes `raw` on a new connection, ignoring a failed write (the server may close before
/// reading everything, after a 4xx for an oversized head), and reads what comes back until
/// the server closes, resets, or stays silent for `silence`.
pub fn send_raw(addr: SocketAddr, raw: &[u8], silence: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(silence))
        .expect("set a read timeout");
    let _ = stream.write_all(raw);
    read_until_close(&mut stream)
}

/// Reads until the peer closes; a timeout or a reset ends the reading too.
pub fn read_until_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // Timeout, or a reset after the server answered and closed.
            Err(_) => break,
        }
    }
    raw
}

/// Is nothing listening at `addr` (connection refused within 2 s)?
pub fn refused(addr: SocketAddr) -> bool {
    matches!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// A response head (with an empty body) and where its body starts. `None` when `raw` does
/// not start with a readable head.
fn parse_head(raw: &[u8]) -> Option<(Response, usize)> {
    let end = find(raw, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?.to_string();
    let status = parts.next()?.parse().ok()?;
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect();
    let head = Response {
        version,
        status,
        headers,
        body: Vec::new(),
    };
    Some((head, end + 4))
}

/// Parses a complete HTTP/1.1 response. Checks that a `Content-Length` (when sent on a
/// response that has a body) equals the bytes that arrived, and decodes chunked bodies.
pub fn parse_response(raw: &[u8], head_request: bool) -> Response {
    let end = find(raw, b"\r\n\r\n").unwrap_or_else(|| {
        panic!(
            "no end of the response head in {:?}",
            String::from_utf8_lossy(raw)
        )
    });
    let head = std::str::from_utf8(&raw[..end]).expect("the response head is text");
    for line in head.split("\r\n").skip(1) {
        assert!(line.contains(':'), "bad header line: {line}");
    }
    let status_line = head.split("\r\n").next().unwrap_or("");
    let (mut response, body_start) =
        parse_head(raw).unwrap_or_else(|| panic!("bad status line: {status_line}"));
    assert_eq!(response.version, "HTTP/1.1", "status line: {status_line}");
    response.body = raw[body_start..].to_vec();
    let status = response.status;
    let bodiless = head_request || status == 304 || status == 204 || (100..200).contains(&status);
    if bodiless {
        return response;
    }
    if response
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    {
        response.body = dechunk(&response.body);
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().expect("a numeric Content-Length");
        assert_eq!(
            response.body.len(),
            length,
            "Content-Length says {length} but {} bytes arrived (status {status})",
            response.body.len()
        );
    }
    response
}

/// Splits a byte stream into HTTP/1.x responses (Content-Length bodies; none for 1xx,
/// 204, 304, and for the answers to HEAD where `heads` says so, by position). Stops at
/// anything it cannot read, such as garbage or a truncated body.
pub fn parse_responses(raw: &[u8], heads: &[bool]) -> Vec<Response> {
    let mut responses = Vec::new();
    let mut rest = raw;
    while let Some((mut response, body_start)) = parse_head(rest) {
        let is_head = heads.get(responses.len()).copied().unwrap_or(false);
        let status = response.status;
        let length = if is_head || status == 204 || status == 304 || status < 200 {
            0
        } else {
            response
                .header("content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        if rest.len() < body_start + length {
            break;
        }
        response.body = rest[body_start..body_start + length].to_vec();
        responses.push(response);
        rest = &rest[body_start + length..];
    }
    responses
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = find(body, b"\r\n").expect("a chunk size line");
        let size_text = std::str::from_utf8(&body[..line_end]).expect("chunk size text");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hexadecimal chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Does `needle` occur in `haystack`?
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// The first 400 characters of `raw`, for messages.
pub fn summary(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).chars().take(400).collect()
}

/// Gunzips `bytes`.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a valid gzip stream");
    out
}

/// Decompresses a brotli stream.
pub fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("a valid brotli stream");
    out
}
