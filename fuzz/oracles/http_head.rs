//! The contract of the server over one HTTP/1 connection, checked by the `http_head` fuzz
//! target and by `tests/fuzz_replay.rs` over every kept input: arbitrary bytes are sent as
//! what a client writes before it closes its side, through hyper's server connection and
//! the real handler (`feedpub::http::server::serve_http1`) over an in-memory pipe, serving a
//! small real site (nine of the seeds, feeds of five items so that archive pages exist,
//! redirects and a retired feed). Then:
//!
//! - nothing panics, and the server comes to rest: it closes the connection, or waits for
//!   more from the client, within a bounded number of polls;
//! - what it wrote is a sequence of well-formed HTTP/1 responses: a status line
//!   `HTTP/1.x NNN reason`, header fields of token names and printable ASCII values, a body
//!   framed by `Content-Length` (or chunks), nothing after the last one;
//! - no status is 5xx: every request, however broken, is the client's error or answered.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, UNIX_EPOCH};

use arc_swap::ArcSwap;
use feedpub::http::operations::Operations;
use feedpub::http::server::{serve_http1, Limits};
use feedpub::{Article, Config, Overrides, Snapshot};
use tokio::io::{AsyncRead, AsyncWriteExt, DuplexStream, ReadBuf};

/// The site's configuration: the seeds' own, with short feeds, moves and a retired feed.
const CONFIG: &str = r#"
title = "Police News (English)"
description = "English-language news from the police news site, published by feedpub."
site_url = "https://police-news.example.org/en"
base_url = "https://feeds.example.org"
language = "en"
languages = ["en", "fa"]
timezone = "Asia/Tehran"
author = { name = "Police News desk" }
id_prefix = "tag:police-news.example.org,2018:news:"
max_items = 5
archive_page_size = 2
icon = "icon.png"
hubs = ["https://hub.example.org/"]
redirects = { "/index.xml" = "/rss.xml", "/old/" = "/feed/" }
gone = ["/retired.xml"]
"#;

/// The articles: scraped text and Markdown in both front-matter forms, English and Persian.
const SEEDS: &[(&str, &[u8])] = &[
    (
        "000_bb7615a41bd90a68.txt",
        include_bytes!("../../seeds/000_bb7615a41bd90a68.txt"),
    ),
    (
        "001_aaab98506c840da6.txt",
        include_bytes!("../../seeds/001_aaab98506c840da6.txt"),
    ),
    (
        "002_8a57120cb612ed69.txt",
        include_bytes!("../../seeds/002_8a57120cb612ed69.txt"),
    ),
    (
        "003_ed5889b336a4360c.txt",
        include_bytes!("../../seeds/003_ed5889b336a4360c.txt"),
    ),
    (
        "004_8782319ddd2e240b.txt",
        include_bytes!("../../seeds/004_8782319ddd2e240b.txt"),
    ),
    (
        "005_9391869929f167ee.txt",
        include_bytes!("../../seeds/005_9391869929f167ee.txt"),
    ),
    (
        "021_winter-driving-advice.md",
        include_bytes!("../../seeds/021_winter-driving-advice.md"),
    ),
    (
        "022_cyber-police-phishing-warning.md",
        include_bytes!("../../seeds/022_cyber-police-phishing-warning.md"),
    ),
    (
        "023_traffic-plan-new-year.md",
        include_bytes!("../../seeds/023_traffic-plan-new-year.md"),
    ),
];

/// The client every request comes from.
const PEER: &str = "203.0.113.7:40000";

struct Site {
    runtime: tokio::runtime::Runtime,
    state: Arc<ArcSwap<Snapshot>>,
    limits: Limits,
}

/// The site, built once per process.
fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let config = Config::parse(Path::new("fuzz.toml"), CONFIG, &Overrides::default())
            .expect("the site's configuration is valid");
        let articles: Vec<Arc<Article>> = SEEDS
            .iter()
            .map(|(name, bytes)| {
                let parsed = Article::from_bytes(&Path::new("seeds").join(name), bytes)
                    .expect("every seed parses");
                Arc::new(parsed.article)
            })
            .collect();
        let limits = Limits {
            header_read_timeout: config.header_read_timeout,
            max_header_bytes: config.max_header_bytes,
            max_connections: 1,
            shutdown_timeout: config.shutdown_timeout,
        };
        // A fixed time: the same site, byte for byte, in every run.
        let now = UNIX_EPOCH + Duration::from_secs(1_798_761_600);
        let snapshot = Snapshot::build(Arc::new(config), &articles, None, None, now)
            .expect("the seeds render");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        Site {
            runtime,
            state: Arc::new(ArcSwap::from_pointee(snapshot)),
            limits,
        }
    })
}

/// Checks the contract for `data` sent as a client's bytes; `Err` says what broke.
pub fn check(data: &[u8]) -> Result<(), String> {
    let answer = exchange(data)?;
    check_responses(&answer).map(drop).map_err(|e| {
        format!(
            "{e}\nrequest: {:?}\nresponse: {:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&answer)
        )
    })
}

/// Sends `data` over a new connection and returns what the server wrote by the time it
/// rests: it has closed the connection, or it waits for more from the client and nothing
/// else can wake it. (The client never closes its side: hyper drops a response still to be
/// written when the client's end of the stream arrives first.)
pub fn exchange(data: &[u8]) -> Result<Vec<u8>, String> {
    let site = site();
    let peer: SocketAddr = PEER.parse().map_err(|e| format!("{PEER}: {e}"))?;
    site.runtime.block_on(async {
        // Room for every answer to the longest input: the server never waits for the
        // client to read, so what it wrote is whole when it rests.
        let (mut client, server) = tokio::io::duplex(32 << 20);
        client
            .write_all(data)
            .await
            .map_err(|e| format!("sending the request: {e}"))?;
        let serving = serve_http1(
            server,
            Arc::clone(&site.state),
            &site.limits,
            None,
            Operations::default(),
            peer,
        );
        let mut serving = pin!(serving);
        let woken = Arc::new(Woken(AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&woken));
        let mut answer = Vec::new();
        for _ in 0..MAX_POLLS {
            woken.0.store(false, Ordering::SeqCst);
            let done = serving
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready();
            read_available(&mut client, &mut answer)?;
            if done || !woken.0.load(Ordering::SeqCst) {
                return Ok(answer);
            }
            // Back to the runtime: its timers, and tokio's budget of operations per poll.
            tokio::task::yield_now().await;
        }
        Err(format!(
            "the server is still busy after {MAX_POLLS} polls; request: {:?}",
            String::from_utf8_lossy(data)
        ))
    })
}

/// How many times the connection is polled before the server is taken to be spinning.
const MAX_POLLS: usize = 100_000;

/// Whether the server's task was woken since the flag was cleared.
struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Appends what the server has written so far to `answer`.
fn read_available(client: &mut DuplexStream, answer: &mut Vec<u8>) -> Result<(), String> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(&mut *client).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => return Ok(()),
            Poll::Ready(Ok(())) => answer.extend_from_slice(buf.filled()),
            Poll::Ready(Err(e)) => return Err(format!("reading the response: {e}")),
            Poll::Pending => return Ok(()),
        }
    }
}

/// Checks that `bytes` are whole HTTP/1 responses, none 5xx, and returns their statuses.
pub fn check_responses(mut bytes: &[u8]) -> Result<Vec<u16>, String> {
    let mut statuses = Vec::new();
    while !bytes.is_empty() {
        let end = find(bytes, b"\r\n\r\n").ok_or("a response head without its blank line")?;
        let head = &bytes[..end];
        bytes = &bytes[end + 4..];
        let head = std::str::from_utf8(head).map_err(|_| "a response head that is not ASCII")?;
        let mut lines = head.split("\r\n");
        let status = status_of(lines.next().unwrap_or_default())?;
        if status >= 500 {
            return Err(format!("status {status}"));
        }
        statuses.push(status);
        let mut length = None;
        let mut chunked = false;
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("header line {line:?} without a colon"))?;
            if name.is_empty() || !name.bytes().all(is_token) {
                return Err(format!("header name {name:?}"));
            }
            if !value
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
            {
                return Err(format!("header {name}: value {value:?}"));
            }
            if name.eq_ignore_ascii_case("content-length") {
                let n: usize = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("Content-Length {value:?}"))?;
                if length.replace(n).is_some() {
                    return Err("two Content-Length fields".into());
                }
            }
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        // 1xx, 204 and 304 have no body; a HEAD's response is followed at once by the next
        // response or the end.
        if status < 200 || status == 204 || status == 304 || next_is_response(bytes) {
            continue;
        }
        bytes = if chunked {
            skip_chunks(bytes)?
        } else {
            let n = length.ok_or_else(|| format!("a {status} without Content-Length"))?;
            bytes
                .get(n..)
                .ok_or_else(|| format!("a body of {} bytes, not {n}", bytes.len()))?
        };
    }
    Ok(statuses)
}

fn status_of(line: &str) -> Result<u16, String> {
    let rest = line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))
        .ok_or_else(|| format!("status line {line:?}"))?;
    let (code, reason) = rest.split_at_checked(3).unwrap_or((rest, ""));
    if !code.bytes().all(|b| b.is_ascii_digit()) || !(reason.is_empty() || reason.starts_with(' '))
    {
        return Err(format!("status line {line:?}"));
    }
    let status: u16 = code.parse().map_err(|_| format!("status line {line:?}"))?;
    if !(100..=599).contains(&status) {
        return Err(format!("status line {line:?}"));
    }
    Ok(status)
}

fn next_is_response(bytes: &[u8]) -> bool {
    bytes.is_empty() || bytes.starts_with(b"HTTP/1.")
}

fn skip_chunks(mut bytes: &[u8]) -> Result<&[u8], String> {
    loop {
        let end = find(bytes, b"\r\n").ok_or("a chunk size without its line end")?;
        let size = std::str::from_utf8(&bytes[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .ok_or("a chunk size that is not hexadecimal")?;
        bytes = &bytes[end + 2..];
        if size == 0 {
            let end = find(bytes, b"\r\n").ok_or("chunks without their last line")?;
            return Ok(&bytes[end + 2..]);
        }
        bytes = bytes
            .get(size..)
            .and_then(|b| b.strip_prefix(b"\r\n"))
            .ok_or("a chunk shorter than its size")?;
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
