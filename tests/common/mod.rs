//! Helpers shared by `tests/server.rs` and `tests/serve_binary.rs`: temporary article
//! folders and configurations, a tiny HTTP/1.1 client over `std::net::TcpStream` (for exact
//! control of request headers), decompression, feed parsing and bounded polling.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tempfile::TempDir;

/// The corpus every server test starts from; `zz_bad*` files are left out.
pub const CORPUS_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/articles/corpus"
);

/// How many items the corpus publishes (`dup_a` and `dup_b` are one article).
pub const CORPUS_ITEMS: usize = 9;

/// How long any polling wait lasts at most.
pub const WAIT: Duration = Duration::from_secs(5);

/// How often polling waits look again.
pub const POLL: Duration = Duration::from_millis(50);

/// A temporary folder holding `articles/`, `feeds/` (the output) and `feedpub.toml`.
pub struct Fixture {
    pub dir: TempDir,
    pub articles: PathBuf,
    pub output: PathBuf,
    pub config: PathBuf,
}

impl Fixture {
    /// A fixture with the corpus copied in and a configuration with `extra` appended.
    pub fn with_corpus(extra: &str) -> Fixture {
        let fixture = Fixture::empty(extra);
        let mut copied = 0;
        for entry in fs::read_dir(CORPUS_DIR).expect("read the corpus folder") {
            let entry = entry.expect("corpus entry");
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("zz_bad") || !name.ends_with(".txt") {
                continue;
            }
            fs::copy(entry.path(), fixture.articles.join(&*name)).expect("copy a corpus file");
            copied += 1;
        }
        assert_eq!(copied, 10, "the corpus should hold 10 good files");
        fixture
    }

    /// A fixture with an empty articles folder.
    pub fn empty(extra: &str) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("feedpub-server-test")
            .tempdir()
            .expect("create a temporary folder");
        let root = dir.path().to_path_buf();
        let articles = root.join("articles");
        fs::create_dir(&articles).expect("create the articles folder");
        let fixture = Fixture {
            articles,
            output: root.join("feeds"),
            config: root.join("feedpub.toml"),
            dir,
        };
        fixture.write_config(extra);
        fixture
    }

    /// The folder everything lives in.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration text: absolute folders, Tehran time, a short debounce, a free
    /// port, then `extra`.
    pub fn config_text(&self, extra: &str) -> String {
        format!(
            "articles = '{}'\noutput = '{}'\ntimezone = \"Asia/Tehran\"\ndebounce_ms = 50\naddr = \"127.0.0.1:0\"\n{extra}\n",
            self.articles.display(),
            self.output.display(),
        )
    }

    /// Writes the configuration file with `extra` appended.
    pub fn write_config(&self, extra: &str) {
        fs::write(&self.config, self.config_text(extra)).expect("write the configuration");
    }

    /// Writes (or replaces) the article file `name`.
    pub fn write_article(&self, name: &str, text: &str) {
        fs::write(self.articles.join(name), text).expect("write an article");
    }

    /// The path of the article file `name`.
    pub fn article_path(&self, name: &str) -> PathBuf {
        self.articles.join(name)
    }
}

impl Drop for Fixture {
    /// A server still running when a test fails may write `feeds/` while the folder is
    /// being removed; try again for a moment so that no temporary folder is left behind.
    fn drop(&mut self) {
        for _ in 0..20 {
            if fs::remove_dir_all(self.dir.path()).is_ok() || !self.dir.path().exists() {
                return;
            }
            std::thread::sleep(POLL);
        }
    }
}

/// An article file in the scraped format: header, date line, title, paragraphs, footer.
pub fn article_text(
    number: u64,
    title: &str,
    when: chrono::NaiveDateTime,
    paragraphs: &[String],
) -> String {
    let mut text = String::from("Print        Send to Friend\n\n");
    text.push_str(&when.format("%-d %b %Y").to_string());
    text.push_str("\n\n");
    text.push_str(title);
    text.push_str("\n\n");
    for p in paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "{}    /    number : {number}    /    Show Count : {}\n",
        when.format("%H:%M - %Y/%m/%d"),
        100 + number % 900
    ));
    text
}

/// A simple generated article numbered `number`, dated `days` days after 1 Jan 2025 at noon.
pub fn simple_article(number: u64, title: &str, days: i64, body: &str) -> String {
    let when = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
        .expect("a date")
        .and_hms_opt(12, 0, 0)
        .expect("a time")
        + chrono::Duration::days(days);
    article_text(
        number,
        title,
        when,
        &[body.to_string(), "A second paragraph.".to_string()],
    )
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
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

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the response to
/// the end. `headers` are sent exactly as given, after `Host` and `Connection`.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
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
    let bytes = exchange(addr, raw.as_bytes());
    parse_response(&bytes, method == "HEAD")
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

/// `GET path` with `headers`.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers)
}

/// Writes `raw` on a new connection and reads until the server closes it.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("set a read timeout");
    stream.write_all(raw).expect("send the request");
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("read the response from {addr}: {e}"));
    bytes
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
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "status line: {status_line}");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {status_line}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line: {line}"));
            (name.trim().to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    let mut response = Response {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
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

/// Parses a feed with `feed-rs`, panicking with the reason when it cannot.
pub fn parse_feed(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes).unwrap_or_else(|e| {
        panic!(
            "not a feed: {e}; the body starts with {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        )
    })
}

/// Reads every XML event of `bytes` with `quick-xml`, failing on any error or an
/// unclosed element.
pub fn check_well_formed(bytes: &[u8]) -> Result<(), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut depth: i64 = 0;
    let mut roots = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Empty(_)) if depth == 0 => roots += 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "XML error at byte {}: {e}",
                    reader.buffer_position()
                ))
            }
        }
    }
    if depth != 0 {
        return Err(format!("document ends with {depth} element(s) open"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

/// The titles of a feed's entries.
pub fn entry_titles(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries
        .iter()
        .map(|e| {
            e.title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// Calls `check` every [`POLL`] until it returns `Some`, for at most `timeout`; panics
/// naming `what` when time runs out.
pub fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(POLL);
    }
}
