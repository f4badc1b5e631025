//! Hostile HTTP over raw sockets (std `TcpStream`, exact bytes on the wire): path
//! traversal in every spelling, absurd request lines, unknown methods, oversized heads,
//! HTTP/1.0, pipelining, ranges, smuggling attempts and garbage. A secret file sits beside
//! the articles folder: its contents must never come back. After every hostile exchange a
//! fresh, normal `GET /rss.xml` must still get the whole feed.
//!
//! Slow and many clients: a light slowloris + idle keep-alive run here (`cargo test`), the
//! full 1,000 + 10,000 run is `#[ignore]`d and run by `reliability/slow_clients.sh`.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------------------------------
// Fixture: a server in this process, a secret beside its articles folder
// ---------------------------------------------------------------------------------------

const SECRET: &str = "TOP-SECRET-CANARY-7f3a9c1e";

const ARTICLE: &str = "Print  Send to Friend\n\n12 May 2018\n\nHostile HTTP test story\n\nBody of the story.\n\n12:55 - 2018/05/12 / number : 4242 / Show Count : 1\n";

struct TestServer {
    runtime: tokio::runtime::Runtime,
    server: Option<feedpub::Server>,
    addr: SocketAddr,
    _workspace: Workspace,
    rss: Vec<u8>,
}

impl TestServer {
    fn start(extra_config: &str) -> TestServer {
        let workspace = Workspace::with_config(&format!(
            "articles = \"articles\"\noutput = \"feeds\"\naddr = \"127.0.0.1:0\"\nrescan_interval_secs = 3600\n{extra_config}"
        ));
        workspace.write_article("4242.txt", ARTICLE);
        // Beside the articles, in the output folder's parent, and inside the articles folder
        // as a hidden file: none of them is ever served.
        fs::write(workspace.path("secret.txt"), SECRET).unwrap();
        workspace.write_article(".secret.txt", SECRET);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(feedpub::Server::start(feedpub::ServeOptions {
                config_path: Some(workspace.config.clone()),
                overrides: Default::default(),
            }))
            .expect("the server starts");
        let addr = server.addr();
        let rss = server.snapshot().main.rss.identity.body.to_vec();
        assert!(!rss.is_empty());
        TestServer {
            runtime,
            server: Some(server),
            addr,
            _workspace: workspace,
            rss,
        }
    }

    /// A fresh connection gets the whole RSS feed, byte for byte, in bounded time.
    fn assert_still_serves(&self, after: &str) {
        let started = Instant::now();
        let raw = exchange(
            self.addr,
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let responses = parse_responses(&raw, &[]);
        assert_eq!(
            responses.len(),
            1,
            "after {after}: one response to a normal GET: {:?}",
            String::from_utf8_lossy(&raw)
        );
        assert_eq!(responses[0].status, 200, "after {after}");
        assert_eq!(responses[0].body, self.rss, "after {after}: the whole feed");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "after {after}: a normal GET took {:?}",
            started.elapsed()
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Raw HTTP/1.1
// ---------------------------------------------------------------------------------------

/// How long a hostile exchange waits for the server to say more at most.
const SILENCE: Duration = Duration::from_secs(5);

/// Writes `request` and reads until the server closes (or [`SILENCE`]).
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    send_raw(addr, request, SILENCE)
}

// ---------------------------------------------------------------------------------------
// Path traversal
// ---------------------------------------------------------------------------------------

/// Every spelling of "go up" we know of, in origin-form and absolute-form, each aimed at
/// the secret beside the articles folder, at the hidden secret inside it, and at
/// /etc/passwd.
const TRAVERSALS: &[&str] = &[
    "/../secret.txt",
    "/../../secret.txt",
    "/articles/../../secret.txt",
    "/articles/../secret.txt",
    "/articles/.secret.txt",
    "/articles/..",
    "/articles/.",
    "/articles/%2e%2e",
    "/articles/%2e%2e%2fsecret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/%2E%2E/secret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/articles/..%2f..%2fsecret.txt",
    "/articles/..%2f..%2fetc%2fpasswd",
    "/articles/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/%2fsecret.txt",
    "/articles/%2fetc%2fpasswd",
    "/articles/%2e%2e%5csecret.txt",
    "/..\\secret.txt",
    "/articles/..\\..\\secret.txt",
    "/articles/%5c..%5c..%5csecret.txt",
    "/secret.txt%00.xml",
    "/rss.xml%00",
    "/rss.xml%00/../secret.txt",
    "/articles/%00",
    "/articles/4242%00.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/articles/%c0%ae%c0%ae%c0%afsecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%252e%252e/secret.txt",
    "/articles/%252e%252e%252fsecret.txt",
    "//secret.txt",
    "/.//../secret.txt",
    "/..;/secret.txt",
    "/articles/4242.txt",
    "/articles/4242/../../secret.txt",
    "/tags/..%2f..%2fsecret.txt/rss.xml",
    "/tags/../../secret.txt/rss.xml",
    "/archive/rss/..%2f..%2fsecret.txt",
    "/archive/rss/../../../secret.txt.xml",
    "/feeds/rss.xml",
    "/secret.txt",
    "/feedpub.toml",
    "/etc/passwd",
    "/proc/self/environ",
    "/rss.xml/../../secret.txt",
    "/rss.xml?file=../secret.txt",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
];

#[test]
fn path_traversal_in_every_spelling_never_returns_a_file() {
    let server = TestServer::start("");
    let mut outcomes = Vec::new();
    for path in TRAVERSALS {
        for target in [path.to_string(), format!("http://x{path}")] {
            let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let raw = exchange(server.addr, request.as_bytes());
            assert!(
                !contains(&raw, SECRET.as_bytes()),
                "{target}: the secret came back"
            );
            assert!(
                !contains(&raw, b"root:x:0:0") && !contains(&raw, b"PATH="),
                "{target}: a system file came back"
            );
            assert!(
                !contains(&raw, b"articles = "),
                "{target}: the configuration came back"
            );
            let responses = parse_responses(&raw, &[]);
            let status = responses.first().map(|r| r.status);
            // 404 for a path that names nothing, 400 for a request line hyper refuses;
            // `?file=` on a real feed is the feed itself.
            let allowed: &[u16] = if path.starts_with("/rss.xml?") {
                &[200]
            } else {
                &[400, 404]
            };
            assert!(
                status.is_some_and(|s| allowed.contains(&s)),
                "{target}: got {}",
                summary(&raw)
            );
            outcomes.push(format!("{target} -> {}", status.unwrap()));
        }
    }
    server.assert_still_serves("path traversal");
    // Every spelling was answered (none hung or reset).
    assert_eq!(outcomes.len(), TRAVERSALS.len() * 2);
    let count = |status: &str| outcomes.iter().filter(|o| o.ends_with(status)).count();
    println!(
        "traversal: {} requests, {} x 404, {} x 400, {} x 200 (the feed, for ?file=)",
        outcomes.len(),
        count("-> 404"),
        count("-> 400"),
        count("-> 200")
    );
}

/// Absolute-form request targets go through the same routing: the authority is ignored
/// and `..` is not resolved against anything.
#[test]
fn absolute_form_with_dot_segments_is_not_resolved() {
    let server = TestServer::start("");
    for target in [
        "http://x/../../etc/passwd",
        "http://x/articles/../../../etc/passwd",
        "http://127.0.0.1:1/../secret.txt",
        "file:///etc/passwd",
        "http://x/rss.xml",
    ] {
        let raw = exchange(
            server.addr,
            format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(!contains(&raw, b"root:x:0:0"), "{target}");
        let responses = parse_responses(&raw, &[]);
        let status = responses.first().map(|r| r.status);
        if target == "http://x/rss.xml" {
            assert_eq!(status, Some(200), "{target}: {}", summary(&raw));
            assert_eq!(responses[0].body, server.rss);
        } else {
            assert!(
                matches!(status, Some(400 | 404)),
                "{target}: {}",
                summary(&raw)
            );
        }
    }
    server.assert_still_serves("absolute-form");
}

// ---------------------------------------------------------------------------------------
// Absurd requests
// ---------------------------------------------------------------------------------------

/// (name, request bytes, the status hyper and feedpub answer with, as observed and pinned
/// here; RELIABILITY.md lists them)
fn absurd_requests() -> Vec<(&'static str, Vec<u8>, Vec<u16>)> {
    let long = |n: usize| "a".repeat(n);
    vec![
        (
            "unknown method on a feed",
            b"BREW /rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            vec![405],
        ),
        (
            "DELETE on a feed",
            b"DELETE /rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            vec![405],
        ),
        (
            "POST with a body",
            b"POST /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
                .to_vec(),
            vec![405],
        ),
        (
            "TRACE does not echo",
            b"TRACE / HTTP/1.1\r\nHost: x\r\nX-Echo: reflected-header\r\nConnection: close\r\n\r\n"
                .to_vec(),
            vec![405],
        ),
        (
            "unknown method on an unknown path",
            b"FROB /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            vec![404],
        ),
        (
            "lower-case method",
            b"get /rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            vec![405],
        ),
        (
            "CONNECT",
            b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n".to_vec(),
            vec![404],
        ),
        (
            "asterisk-form GET",
            b"GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            vec![404],
        ),
        (
            "OPTIONS *",
            b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            vec![404],
        ),
        (
            "relative target",
            b"GET ../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "empty target",
            b"GET  HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "no version (HTTP/0.9)",
            b"GET /rss.xml\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "HTTP/9.9",
            b"GET /rss.xml HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "HTTP/2.0 in an HTTP/1 request line",
            b"GET /rss.xml HTTP/2.0\r\nHost: x\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "tabs and extra spaces in the request line",
            b"GET\t/rss.xml  HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "a 10 kB method",
            format!("{} / HTTP/1.1\r\nHost: x\r\n\r\n", "A".repeat(10_000)).into_bytes(),
            vec![405],
        ),
        (
            "obs-fold header",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n"
                .to_vec(),
            vec![400],
        ),
        (
            "header without colon",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "NUL in a header value",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "bare LF line endings",
            b"GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n".to_vec(),
            vec![200],
        ),
        (
            "space before colon",
            b"GET /rss.xml HTTP/1.1\r\nHost : x\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "Content-Length and Transfer-Encoding together (smuggling)",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                .to_vec(),
            // hyper reads the chunked body (Transfer-Encoding wins), answers, and closes the
            // connection (RFC 9112 §6.3): the smuggled second request is never answered.
            vec![200],
        ),
        (
            "two different Content-Lengths",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
                .to_vec(),
            vec![400],
        ),
        (
            "negative Content-Length",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "huge Content-Length",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"
                .to_vec(),
            vec![400],
        ),
        (
            "bad chunk size",
            b"POST /rss.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n"
                .to_vec(),
            vec![405],
        ),
        (
            "unknown Transfer-Encoding",
            b"POST /rss.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "Expect: 100-continue on GET",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
                .to_vec(),
            vec![200],
        ),
        (
            "200 headers",
            {
                let mut r = b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n".to_vec();
                for i in 0..200 {
                    r.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
                }
                r.extend_from_slice(b"\r\n");
                r
            },
            vec![431],
        ),
        (
            "a 20 kB header (max_header_bytes 16384)",
            format!("GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", long(20_000))
                .into_bytes(),
            vec![431],
        ),
        (
            "a 1 MB header",
            format!("GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", long(1 << 20))
                .into_bytes(),
            vec![431],
        ),
        (
            "a 20 kB URI",
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", long(20_000)).into_bytes(),
            vec![431],
        ),
        (
            "a 70 kB URI",
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", long(70_000)).into_bytes(),
            vec![431],
        ),
        (
            "an 8 kB URI (fits the head limit, longer than any resource name)",
            format!(
                "GET /articles/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                long(8_000)
            )
            .into_bytes(),
            vec![414],
        ),
        (
            "a 4 kB URI (within the URI limit)",
            format!(
                "GET /articles/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                long(4_000)
            )
            .into_bytes(),
            vec![404],
        ),
        (
            "invalid UTF-8 and control bytes in the target",
            b"GET /\xff\xfe\x01 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            vec![400],
        ),
        (
            "Range: bytes=0-10 on HEAD",
            b"HEAD /rss.xml HTTP/1.1\r\nHost: x\r\nRange: bytes=0-10\r\nConnection: close\r\n\r\n"
                .to_vec(),
            vec![200],
        ),
        (
            "absurd Accept-Encoding",
            format!(
                "GET /rss.xml HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {}\r\nConnection: close\r\n\r\n",
                "gzip;q=0.5;q=2, ".repeat(500)
            )
            .into_bytes(),
            vec![200],
        ),
        (
            "absurd If-None-Match",
            format!(
                "GET /rss.xml HTTP/1.1\r\nHost: x\r\nIf-None-Match: {}\r\nConnection: close\r\n\r\n",
                "W/\"".repeat(3000)
            )
            .into_bytes(),
            vec![200],
        ),
        (
            "If-Modified-Since far in the future and past",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 31 Dec 9999 23:59:59 GMT\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\nConnection: close\r\n\r\n"
                .to_vec(),
            vec![412],
        ),
    ]
}

#[test]
fn absurd_requests_get_a_client_error_and_the_server_keeps_serving() {
    let server = TestServer::start("");
    let mut observed = Vec::new();
    for (name, request, accepted) in absurd_requests() {
        let raw = exchange(server.addr, &request);
        let heads = [request.starts_with(b"HEAD ")];
        let responses = parse_responses(&raw, &heads);
        assert!(!contains(&raw, SECRET.as_bytes()), "{name}");
        assert!(
            !contains(&raw, b"reflected-header"),
            "{name}: a request header is echoed"
        );
        let status = responses.first().map(|r| r.status);
        assert!(
            status.is_some_and(|s| accepted.contains(&s)),
            "{name}: expected one of {accepted:?}, got {:?}: {}",
            status,
            summary(&raw)
        );
        if let Some(first) = responses.first() {
            if first.status == 405 {
                assert_eq!(first.header("allow"), Some("GET, HEAD"), "{name}");
            }
            if first.status >= 400 {
                // Error responses are complete: a length and that many bytes.
                assert!(first.header("content-length").is_some(), "{name}");
            }
        }
        assert!(
            responses.len() <= 1 || name.starts_with("Expect"),
            "{name}: {} responses to one request: {}",
            responses.len(),
            summary(&raw)
        );
        observed.push(format!("{name}: {:?}", status));
        server.assert_still_serves(name);
    }
    println!("{}", observed.join("\n"));
}

/// hyper's answers to oversized heads, pinned: a head larger than `max_header_bytes` (here
/// the default 16384) gets 431 whether the bulk is in a header or in the URI; hyper only
/// answers 414 for a URI longer than 65534 bytes that fits the buffer, which a 16 kB buffer
/// never lets happen.
#[test]
fn oversized_heads_get_431_and_the_connection_is_closed() {
    let server = TestServer::start("");
    for (what, request) in [
        (
            "header",
            format!(
                "GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "h".repeat(17_000)
            ),
        ),
        (
            "URI",
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "u".repeat(17_000)),
        ),
    ] {
        let started = Instant::now();
        let raw = exchange(server.addr, request.as_bytes());
        let responses = parse_responses(&raw, &[]);
        assert_eq!(responses.len(), 1, "{what}: {}", summary(&raw));
        assert_eq!(responses[0].status, 431, "{what}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{what}: the server closed the connection after answering ({:?})",
            started.elapsed()
        );
    }
    // Just under the limit still works.
    let raw = exchange(
        server.addr,
        format!(
            "GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "h".repeat(15_000)
        )
        .as_bytes(),
    );
    assert_eq!(parse_responses(&raw, &[])[0].status, 200);
    server.assert_still_serves("oversized heads");
}

#[test]
fn http_1_0_gets_a_complete_response_and_the_connection_closes() {
    let server = TestServer::start("");
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"GET /rss.xml HTTP/1.0\r\n\r\n").unwrap();
    let started = Instant::now();
    let raw = read_until_close(&mut stream);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "an HTTP/1.0 connection without keep-alive is closed after the response"
    );
    let responses = parse_responses(&raw, &[]);
    assert_eq!(responses.len(), 1, "{}", summary(&raw));
    let r = &responses[0];
    assert_eq!(r.status, 200);
    assert!(
        r.version == "HTTP/1.0" || r.version == "HTTP/1.1",
        "{}",
        r.version
    );
    assert_eq!(r.body, server.rss);
    assert_eq!(
        r.header("content-length"),
        Some(server.rss.len().to_string().as_str())
    );
    assert_ne!(
        r.header("transfer-encoding"),
        Some("chunked"),
        "HTTP/1.0 has no chunked coding"
    );
    // HTTP/1.0 without Host is valid too.
    let raw = exchange(server.addr, b"GET /healthz HTTP/1.0\r\n\r\n");
    assert_eq!(parse_responses(&raw, &[])[0].status, 200);
    server.assert_still_serves("HTTP/1.0");
}

#[test]
fn pipelined_requests_on_one_connection_are_answered_in_order() {
    let server = TestServer::start("");
    let etag = server
        .server
        .as_ref()
        .unwrap()
        .snapshot()
        .main
        .rss
        .identity
        .etag
        .clone();
    let pipeline = format!(
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n\
         HEAD /atom.xml HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /nope HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /rss.xml HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n\
         GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /atom.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n\
         GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    let raw = exchange(server.addr, pipeline.as_bytes());
    let responses = parse_responses(&raw, &[false, true]);
    let got: Vec<(u16, Option<&str>)> = responses
        .iter()
        .map(|r| (r.status, r.header("content-type")))
        .collect();
    assert_eq!(
        got,
        vec![
            (200, Some("application/rss+xml; charset=utf-8")),
            (200, Some("application/atom+xml; charset=utf-8")),
            (404, Some("text/plain; charset=utf-8")),
            (304, None),
            (200, Some("text/plain; charset=utf-8")),
            (200, Some("application/atom+xml; charset=utf-8")),
        ],
        "six answers in order, nothing after Connection: close"
    );
    assert_eq!(responses[0].body, server.rss);
    assert!(responses[1].body.is_empty(), "HEAD has no body");
    assert_eq!(responses[4].body, b"ok\n");

    // 50 pipelined requests written one byte at a time across the request boundaries.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut many = String::new();
    for i in 0..50 {
        let path = if i % 2 == 0 { "/rss.xml" } else { "/healthz" };
        let close = if i == 49 { "Connection: close\r\n" } else { "" };
        many.push_str(&format!("GET {path} HTTP/1.1\r\nHost: x\r\n{close}\r\n"));
    }
    let (first, second) = many.as_bytes().split_at(many.len() / 2);
    stream.write_all(first).unwrap();
    for byte in second.chunks(997) {
        stream.write_all(byte).unwrap();
    }
    let raw = read_until_close(&mut stream);
    let responses = parse_responses(&raw, &[]);
    assert_eq!(responses.len(), 50);
    for (i, r) in responses.iter().enumerate() {
        assert_eq!(r.status, 200);
        if i % 2 == 0 {
            assert_eq!(r.body, server.rss, "response {i}");
        } else {
            assert_eq!(r.body, b"ok\n", "response {i}");
        }
    }
    server.assert_still_serves("pipelining");
}

#[test]
fn range_requests_get_the_full_body_or_a_correct_partial_one() {
    let server = TestServer::start("");
    for range in [
        "bytes=0-10",
        "bytes=-5",
        "bytes=5-",
        "bytes=0-0,2-3",
        "bytes=999999999-",
        "bytes=10-0",
        "items=0-1",
        "bytes=0-18446744073709551616",
    ] {
        let raw = exchange(
            server.addr,
            format!(
                "GET /rss.xml HTTP/1.1\r\nHost: x\r\nRange: {range}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        let responses = parse_responses(&raw, &[]);
        assert_eq!(responses.len(), 1, "{range}: {}", summary(&raw));
        let r = &responses[0];
        match r.status {
            200 => assert_eq!(r.body, server.rss, "{range}: a 200 carries the whole feed"),
            206 if range == "bytes=0-10" => {
                assert_eq!(r.body, server.rss[..11], "{range}");
                assert_eq!(
                    r.header("content-range"),
                    Some(format!("bytes 0-10/{}", server.rss.len()).as_str())
                );
            }
            other => panic!("{range}: status {other}"),
        }
        assert_ne!(
            r.header("accept-ranges"),
            Some("bytes"),
            "ranges are not advertised when they are not supported"
        );
    }
    server.assert_still_serves("ranges");
}

#[test]
fn garbage_bytes_get_400_or_a_close_and_never_hang_the_server() {
    let server = TestServer::start("");
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random_bytes = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    };
    let mut inputs: Vec<(String, Vec<u8>)> = vec![
        ("only CRLFs".into(), b"\r\n\r\n\r\n\r\n".to_vec()),
        ("NUL bytes".into(), vec![0u8; 1000]),
        ("0xFF bytes".into(), vec![0xFF; 1000]),
        (
            "TLS ClientHello".into(),
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        ),
        (
            "HTTP/2 preface then garbage".into(),
            [
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".as_slice(),
                b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            ]
            .concat(),
        ),
        ("SSH banner".into(), b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
        (
            "a response instead of a request".into(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        (
            "a request then garbage".into(),
            [
                b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".as_slice(),
                b"\x00\x01\x02garbage\r\n\r\n",
            ]
            .concat(),
        ),
    ];
    for i in 0..20 {
        inputs.push((format!("random #{i}"), random_bytes(64 + i * 200)));
    }
    for (name, bytes) in inputs {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(12)))
            .unwrap();
        let _ = stream.write_all(&bytes);
        // Half-close: whatever the server makes of it, it must not wait for more.
        let _ = stream.shutdown(Shutdown::Write);
        let started = Instant::now();
        let raw = read_until_close(&mut stream);
        assert!(
            started.elapsed() < Duration::from_secs(11),
            "{name}: the server held the connection"
        );
        let responses = parse_responses(&raw, &[]);
        for (j, r) in responses.iter().enumerate() {
            let ok = if name == "a request then garbage" && j == 0 {
                r.status == 200
            } else {
                r.status == 400
            };
            assert!(ok, "{name}: response {j} is {}", r.status);
        }
        if responses.is_empty() && !raw.is_empty() {
            // An HTTP/2 answer (SETTINGS / GOAWAY frames) to a preface.
            assert!(name.starts_with("HTTP/2"), "{name}: {}", summary(&raw));
        }
        server.assert_still_serves(&name);
    }
}

// ---------------------------------------------------------------------------------------
// Connections that say nothing
// ---------------------------------------------------------------------------------------

/// A client that connects and sends nothing at all must be closed after the header read
/// timeout like one that sends half a request line; otherwise such connections hold a
/// `max_connections` permit forever.
#[test]
fn silent_and_half_sent_connections_are_closed_after_the_header_timeout() {
    let server = TestServer::start("header_read_timeout_secs = 1\n");
    let open = |first: &[u8]| {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(first).unwrap();
        s
    };
    let cases: Vec<(&str, TcpStream)> = vec![
        ("silent", open(b"")),
        ("half a request line", open(b"GET /rss")),
        (
            "request line, no end of head",
            open(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n"),
        ),
        ("start of the HTTP/2 preface", open(b"PRI * HTTP/2.0\r\n")),
        ("idle after one response", {
            let mut s = open(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            s
        }),
    ];
    // All were opened at once: each must be closed within a few seconds of that.
    let started = Instant::now();
    let mut failures = Vec::new();
    for (name, mut stream) in cases {
        let raw = read_until_close(&mut stream);
        let waited = started.elapsed();
        let responses = parse_responses(&raw, &[]);
        if !responses.iter().all(|r| r.status == 408 || r.status == 400) {
            failures.push(format!("{name}: answered {}", summary(&raw)));
        }
        if waited >= Duration::from_secs(5) {
            failures.push(format!(
                "{name}: still open after {waited:?} with a 1 s header read timeout"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    server.assert_still_serves("silent connections");
}

// ---------------------------------------------------------------------------------------
// Slow and many clients
// ---------------------------------------------------------------------------------------

fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    limit.rlim_cur
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// What one slow/many-clients run measured.
#[derive(Debug)]
struct LoadFigures {
    slowloris: usize,
    idle: usize,
    idle_opened: usize,
    reader_latencies_ms: Vec<f64>,
    reader_failures: usize,
    rss_before_kib: u64,
    rss_during_kib: u64,
    rss_after_kib: u64,
    fds_before: usize,
    fds_during: usize,
    fds_after: usize,
    slowloris_closed_by_server: usize,
}

impl LoadFigures {
    fn percentile(&self, p: f64) -> f64 {
        let mut v = self.reader_latencies_ms.clone();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

/// Holds `slowloris` connections that send a request head one byte per second and `idle`
/// keep-alive connections (one GET each, then silence) against the server at `addr` (whose
/// process is `pid`), while a reader fetches /rss.xml on fresh connections every 100 ms for
/// `hold`. Then drops everything and waits `settle` for the server to let go.
fn slow_and_idle_clients(
    addr: SocketAddr,
    pid: u32,
    slowloris: usize,
    idle: usize,
    hold: Duration,
    settle: Duration,
) -> LoadFigures {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rss_before_kib = vm_rss_kib(pid);
    let fds_before = open_fds(pid);
    let closed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(tokio::sync::Notify::new());

    // Idle keep-alive connections: one complete GET each, read the answer, stay open.
    let idle_streams = runtime.block_on(async {
        let mut streams = Vec::with_capacity(idle);
        for i in 0..idle {
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                continue;
            };
            if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .is_err()
            {
                continue;
            }
            let mut buf = [0u8; 512];
            match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => streams.push(s),
                _ => {}
            }
            if i % 500 == 499 {
                tokio::task::yield_now().await;
            }
        }
        streams
    });
    let idle_opened = idle_streams.len();

    // Slowloris: a byte a second of an endless head.
    let mut slow_tasks = Vec::new();
    for i in 0..slowloris {
        let closed = Arc::clone(&closed);
        let stop = Arc::clone(&stop);
        slow_tasks.push(runtime.spawn(async move {
            tokio::time::sleep(Duration::from_millis((i % 1000) as u64)).await;
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                return;
            };
            let head = b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            let mut n = 0usize;
            let mut buf = [0u8; 256];
            loop {
                let byte = [head.get(n).copied().unwrap_or(b'a')];
                n += 1;
                tokio::select! {
                    _ = stop.notified() => return,
                    r = s.write_all(&byte) => if r.is_err() {
                        closed.fetch_add(1, Ordering::Relaxed);
                        return;
                    },
                }
                tokio::select! {
                    _ = stop.notified() => return,
                    _ = s.read(&mut buf) => {
                        // The server answered (408) or closed: it let go of the connection.
                        closed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }));
    }

    // The reader: a fresh connection every 100 ms, timed from connect to the last byte.
    let deadline = Instant::now() + hold;
    let mut reader_latencies_ms = Vec::new();
    let mut reader_failures = 0;
    let mut rss_during_kib = 0;
    let mut fds_during = 0;
    while Instant::now() < deadline {
        let started = Instant::now();
        let ok = (|| -> std::io::Result<bool> {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
            let raw = read_until_close(&mut s);
            let r = parse_responses(&raw, &[]);
            Ok(r.len() == 1 && r[0].status == 200 && !r[0].body.is_empty())
        })()
        .unwrap_or(false);
        if ok {
            reader_latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        } else {
            reader_failures += 1;
        }
        rss_during_kib = rss_during_kib.max(vm_rss_kib(pid));
        fds_during = fds_during.max(open_fds(pid));
        std::thread::sleep(Duration::from_millis(100));
    }

    stop.notify_waiters();
    runtime.block_on(async {
        for t in slow_tasks {
            t.abort();
        }
    });
    drop(idle_streams);
    std::thread::sleep(settle);
    let figures = LoadFigures {
        slowloris,
        idle,
        idle_opened,
        reader_latencies_ms,
        reader_failures,
        rss_before_kib,
        rss_during_kib,
        rss_after_kib: vm_rss_kib(pid),
        fds_before,
        fds_during,
        fds_after: open_fds(pid),
        slowloris_closed_by_server: closed.load(Ordering::Relaxed),
    };
    runtime.shutdown_timeout(Duration::from_secs(1));
    figures
}

fn report(figures: &LoadFigures) {
    println!(
        "slow-clients: slowloris={} idle={} (opened {}) reader: n={} failures={} p50={:.2}ms p99={:.2}ms max={:.2}ms \
         rss_kib before={} during={} after={} fds before={} during={} after={} slowloris_closed_by_server={}",
        figures.slowloris,
        figures.idle,
        figures.idle_opened,
        figures.reader_latencies_ms.len(),
        figures.reader_failures,
        figures.percentile(0.5),
        figures.percentile(0.99),
        figures.percentile(1.0),
        figures.rss_before_kib,
        figures.rss_during_kib,
        figures.rss_after_kib,
        figures.fds_before,
        figures.fds_during,
        figures.fds_after,
        figures.slowloris_closed_by_server,
    );
}

/// The light version for every `cargo test`: 200 slowloris connections and 1,000 idle
/// keep-alive ones against an in-process server; a reader on fresh connections still gets
/// the whole feed, well within 100 ms at the median (p99 bound generous for a loaded CI
/// machine), and the slowloris connections are closed by the 2 s header timeout.
#[test]
fn slowloris_and_idle_keep_alive_do_not_starve_a_normal_reader() {
    raise_fd_limit();
    let server = TestServer::start("header_read_timeout_secs = 2\n");
    let figures = slow_and_idle_clients(
        server.addr,
        std::process::id(),
        200,
        1000,
        Duration::from_secs(4),
        Duration::from_secs(1),
    );
    report(&figures);
    assert_eq!(
        figures.idle_opened, 1000,
        "every idle connection was served"
    );
    assert_eq!(figures.reader_failures, 0, "{figures:?}");
    assert!(figures.reader_latencies_ms.len() >= 20, "{figures:?}");
    assert!(
        figures.percentile(0.5) < 100.0,
        "median reader latency {:.1} ms",
        figures.percentile(0.5)
    );
    assert!(
        figures.percentile(0.99) < 1000.0,
        "p99 reader latency {:.1} ms",
        figures.percentile(0.99)
    );
    assert!(
        figures.slowloris_closed_by_server >= 190,
        "the 2 s header timeout closed the slowloris connections: {figures:?}"
    );
    server.assert_still_serves("slowloris");
}

/// The full run (`reliability/slow_clients.sh`): 1,000 slowloris connections and 10,000
/// idle keep-alive ones against the `feedpub serve` binary, with the server's RSS and open
/// descriptors from /proc. `max_connections` is raised above the 11,000 held connections
/// (the default 10,000 would queue the reader behind them, by design) and the header read
/// timeout to 60 s so that every connection stays for the whole measurement.
#[test]
#[ignore = "heavy: 11,000 connections; run by reliability/slow_clients.sh"]
fn heavy_slowloris_and_idle_keep_alive_do_not_starve_a_normal_reader() {
    let limit = raise_fd_limit();
    assert!(
        limit >= 12_000,
        "RLIMIT_NOFILE hard limit {limit} is too low"
    );
    let slowloris: usize = env_or("FEEDPUB_SLOWLORIS", 1000);
    let idle: usize = env_or("FEEDPUB_IDLE", 10_000);
    let hold = Duration::from_secs(env_or("FEEDPUB_HOLD_SECS", 10));
    let port = free_port();
    let workspace = Workspace::with_config(&format!(
        "articles = \"articles\"\noutput = \"feeds\"\naddr = \"127.0.0.1:{port}\"\nmax_connections = 15000\nheader_read_timeout_secs = 60\n"
    ));
    for i in 0..200 {
        workspace.write_article(
            &format!("{i:04}.txt"),
            &ARTICLE
                .replace("4242", &format!("{}", 10_000 + i))
                .replace("Hostile HTTP test story", &format!("Story number {i}")),
        );
    }
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut command = serve_command(&workspace.config);
    command.env("RUST_LOG", "warn");
    let mut child = ServerProcess::spawn(command);
    child.wait_healthy(addr, Duration::from_secs(20));
    // Several rounds against the same server: glibc's malloc keeps freed memory in its
    // per-thread arenas, so RSS rises after the first round too, but the growth must die
    // out (retained and reused), not repeat every round (a leak).
    let rounds: usize = env_or("FEEDPUB_ROUNDS", 4).max(2);
    let mut after_rounds = Vec::new();
    let rss_at_start = vm_rss_kib(child.pid());
    for round in 1..=rounds {
        let figures = slow_and_idle_clients(
            addr,
            child.pid(),
            slowloris,
            idle,
            hold,
            Duration::from_secs(5),
        );
        print!("round {round}: ");
        report(&figures);
        assert_eq!(figures.idle_opened, idle);
        assert_eq!(figures.reader_failures, 0, "{figures:?}");
        assert!(
            figures.percentile(0.99) < 100.0,
            "p99 reader latency {:.1} ms",
            figures.percentile(0.99)
        );
        assert!(
            figures.fds_after < figures.fds_before + 50,
            "descriptors were released: {figures:?}"
        );
        after_rounds.push(figures.rss_after_kib);
    }
    child.stop();
    println!("server RSS after each round: {after_rounds:?} KiB");
    let first_growth = after_rounds[0].saturating_sub(rss_at_start);
    let last_growth = after_rounds[rounds - 1].saturating_sub(after_rounds[rounds - 2]);
    assert!(
        last_growth < first_growth / 3,
        "RSS after each round: {after_rounds:?} KiB (from {rss_at_start}): memory keeps growing"
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
