//! Black-box tests of the HTTP server: a real `feedpub::Server` on 127.0.0.1:0, real TCP
//! connections from a small HTTP/1.1 client, real article files in temporary folders.
//!
//! Routes, conditional requests, content-coding negotiation, regeneration on change,
//! consistency under concurrent reads and writes, and the `feeds/` output folder.

mod common;

use std::collections::HashMap;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use feedpub::{Overrides, ServeOptions, Server};

const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";
const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";
const SNOWFALL: &str = "Snowfall closes Chalus road for six hours";
const SNOWFALL_FILE: &str = "001_070a48c3a9ab93ac.txt";
const PERSIAN_TITLE: &str = "نجات سه کوهنورد گرفتار در ارتفاعات دماوند";

/// Starts a server on the fixture's configuration.
async fn start(fixture: &Workspace) -> Server {
    Server::start(ServeOptions {
        config_path: Some(fixture.config.clone()),
        overrides: Overrides::default(),
    })
    .await
    .unwrap_or_else(|e| panic!("the server should start: {e}"))
}

/// A fixture with the corpus and a server on it.
async fn corpus_server(extra: &str) -> (Workspace, Server) {
    let fixture = Workspace::with_corpus(extra);
    let server = start(&fixture).await;
    (fixture, server)
}

/// A fixture with the corpus and a server on it that is known to watch the folder.
async fn watched_corpus_server(extra: &str) -> (Workspace, Server) {
    let (fixture, server) = corpus_server(extra).await;
    let (addr, articles) = (server.addr(), fixture.articles.clone());
    blocking(move || ensure_watching(addr, &articles)).await;
    (fixture, server)
}

/// One request on a new connection, from a blocking thread.
async fn fetch(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let method = method.to_string();
    let path = path.to_string();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    blocking(move || {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        request(addr, &method, &path, &headers)
    })
    .await
}

async fn fetch_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    fetch(addr, "GET", path, headers).await
}

fn assert_status(response: &Response, status: u16, what: &str) {
    assert_eq!(
        response.status,
        status,
        "{what}: expected {status}, got {} with headers {:?} and body {:?}",
        response.status,
        response.headers,
        String::from_utf8_lossy(&response.body[..response.body.len().min(300)])
    );
}

// ---------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_xml_is_served_as_rss_with_the_corpus_items() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(server.addr(), "/rss.xml", &[]).await;
    assert_status(&r, 200, "GET /rss.xml");
    assert_eq!(r.header("content-type"), Some(RSS_TYPE));
    check_well_formed(&r.body).unwrap();
    let feed = parse_feed(&r.body);
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::RSS2);
    assert_eq!(feed.entries.len(), CORPUS_ITEMS);
    let titles = entry_titles(&feed);
    assert!(titles.iter().any(|t| t == SNOWFALL), "{titles:?}");
    assert!(titles.iter().any(|t| t == PERSIAN_TITLE), "{titles:?}");
    server.shutdown().await;
}

/// The protocol of a plain connection is read from its first bytes, which the server then
/// reads again: HTTP/2 with prior knowledge (curl) gets the feed and a 304 for its ETag, and
/// an HTTP/1.1 request longer than that first read is answered whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_with_prior_knowledge_and_long_http1_heads_are_served_on_one_port() {
    let (_fixture, server) = corpus_server("").await;
    let addr = server.addr();
    let url = format!("http://{addr}/rss.xml");
    let curl = move |args: Vec<String>| {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--http2-prior-knowledge", "-o", "/dev/null"])
            .args(["-w", "%{http_version} %{http_code} %{size_download}"])
            .args(&args)
            .arg(&url)
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plain = fetch_get(addr, "/rss.xml", &[]).await;
    assert_status(&plain, 200, "GET /rss.xml over HTTP/1.1");
    let etag = plain.header("etag").unwrap().to_string();
    let c = curl.clone();
    let h2 = blocking(move || c(Vec::new())).await;
    assert_eq!(h2, format!("2 200 {}", plain.body.len()));
    let h2 = blocking(move || curl(vec!["-H".into(), format!("If-None-Match: {etag}")])).await;
    assert_eq!(h2, "2 304 0");

    // A head of about 9 KB: more than the first read, less than max_header_bytes.
    let long = "x".repeat(9000);
    let r = fetch_get(addr, "/rss.xml", &[("X-Long", long.as_str())]).await;
    assert_status(&r, 200, "a 9 KB request head");
    assert_eq!(r.body, plain.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atom_xml_is_served_as_atom_with_the_corpus_items() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(server.addr(), "/atom.xml", &[]).await;
    assert_status(&r, 200, "GET /atom.xml");
    assert_eq!(r.header("content-type"), Some(ATOM_TYPE));
    check_well_formed(&r.body).unwrap();
    let feed = parse_feed(&r.body);
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(feed.entries.len(), CORPUS_ITEMS);
    assert!(entry_titles(&feed).iter().any(|t| t == SNOWFALL));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_page_is_html_that_links_both_feeds() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(server.addr(), "/", &[]).await;
    assert_status(&r, 200, "GET /");
    assert!(
        r.expect_header("content-type").starts_with("text/html"),
        "{:?}",
        r.header("content-type")
    );
    let html = r.text();
    assert!(
        html.contains(r#"<link rel="alternate" type="application/rss+xml""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<link rel="alternate" type="application/atom+xml""#),
        "{html}"
    );
    assert!(html.contains("/articles/70101.html"), "{html}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn article_page_is_html_with_its_title() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(server.addr(), "/articles/70101.html", &[]).await;
    assert_status(&r, 200, "GET /articles/70101");
    assert!(r.expect_header("content-type").starts_with("text/html"));
    let html = r.text();
    assert!(html.contains(SNOWFALL), "{html}");
    assert!(
        html.contains("Heavy snowfall closed the Chalus road"),
        "{html}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persian_article_page_declares_farsi_and_direction() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(server.addr(), "/articles/70102.html", &[]).await;
    assert_status(&r, 200, "GET /articles/70102");
    assert!(r.expect_header("content-type").starts_with("text/html"));
    let html = r.text();
    assert!(html.contains(r#"lang="fa""#), "{html}");
    assert!(html.contains("dir="), "{html}");
    assert!(html.contains(PERSIAN_TITLE), "{html}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_returns_200_plain_text() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(server.addr(), "/healthz", &[]).await;
    assert_status(&r, 200, "GET /healthz");
    assert!(r.expect_header("content-type").starts_with("text/plain"));
    assert_eq!(r.text().trim(), "ok");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_path_returns_404() {
    let (_fixture, server) = corpus_server("").await;
    for path in ["/nope", "/rss.xml/extra", "/articles/", "/../etc/passwd"] {
        let r = fetch_get(server.addr(), path, &[]).await;
        assert_status(&r, 404, path);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_article_returns_404() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(server.addr(), "/articles/nope", &[]).await;
    assert_status(&r, 404, "GET /articles/nope");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_put_delete_on_rss_return_405_allowing_get_and_head() {
    let (_fixture, server) = corpus_server("").await;
    for method in ["POST", "PUT", "DELETE"] {
        let r = fetch(server.addr(), method, "/rss.xml", &[]).await;
        assert_status(&r, 405, method);
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_returns_the_get_headers_without_a_body() {
    let (_fixture, server) = corpus_server("").await;
    let addr = server.addr();
    for path in ["/rss.xml", "/atom.xml", "/", "/articles/70101.html"] {
        for encoding in [None, Some("gzip"), Some("br")] {
            let headers: Vec<(&str, &str)> = encoding
                .map(|e| vec![("Accept-Encoding", e)])
                .unwrap_or_default();
            let got = fetch(addr, "GET", path, &headers).await;
            let head = fetch(addr, "HEAD", path, &headers).await;
            let what = format!("{path} with {encoding:?}");
            assert_status(&got, 200, &what);
            assert_status(&head, 200, &what);
            assert!(
                head.body.is_empty(),
                "{what}: HEAD sent {} bytes",
                head.body.len()
            );
            assert_eq!(
                head.header("content-length"),
                Some(got.body.len().to_string().as_str()),
                "{what}: HEAD Content-Length vs GET body length"
            );
            for name in [
                "etag",
                "content-type",
                "content-encoding",
                "last-modified",
                "cache-control",
                "vary",
            ] {
                assert_eq!(head.header(name), got.header(name), "{what}: `{name}`");
            }
            assert!(head.header("etag").is_some(), "{what}: no ETag");
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_and_rss_redirect_permanently_to_rss_xml() {
    let (_fixture, server) = corpus_server("").await;
    for path in ["/feed", "/rss"] {
        let r = fetch_get(server.addr(), path, &[]).await;
        assert_status(&r, 301, path);
        assert_eq!(r.header("location"), Some("/rss.xml"), "{path}");
    }
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Conditional requests on /rss.xml
// ---------------------------------------------------------------------------------------

/// The validators of `/rss.xml` (identity): ETag and Last-Modified as sent.
async fn rss_validators(addr: SocketAddr) -> (String, String) {
    let r = fetch_get(addr, "/rss.xml", &[]).await;
    assert_status(&r, 200, "GET /rss.xml");
    (r.etag(), r.expect_header("last-modified").to_string())
}

async fn conditional_status(headers: &[(&str, &str)]) -> u16 {
    let (_fixture, server) = corpus_server("").await;
    let (etag, last_modified) = rss_validators(server.addr()).await;
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                v.replace("{etag}", &etag)
                    .replace("{last_modified}", &last_modified),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let r = fetch_get(server.addr(), "/rss.xml", &refs).await;
    if r.status == 304 {
        assert!(r.body.is_empty(), "a 304 with a body");
    }
    server.shutdown().await;
    r.status
}

/// An HTTP date `offset` seconds from `date`.
fn shifted(date: &str, offset: i64) -> String {
    let t = httpdate::parse_http_date(date).expect("an HTTP date");
    let t = if offset >= 0 {
        t + Duration::from_secs(offset as u64)
    } else {
        t - Duration::from_secs(offset.unsigned_abs())
    };
    httpdate::fmt_http_date(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_exact_etag_returns_304() {
    assert_eq!(
        conditional_status(&[("If-None-Match", "{etag}")]).await,
        304
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_list_containing_the_etag_returns_304() {
    assert_eq!(
        conditional_status(&[("If-None-Match", "\"other\", {etag}, \"more\"")]).await,
        304
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_wildcard_returns_304() {
    assert_eq!(conditional_status(&[("If-None-Match", "*")]).await, 304);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_weak_form_of_the_etag_returns_304() {
    assert_eq!(
        conditional_status(&[("If-None-Match", "W/{etag}")]).await,
        304
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_other_etag_returns_200() {
    assert_eq!(
        conditional_status(&[("If-None-Match", "\"0123456789abcdef\"")]).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_modified_since_older_than_last_modified_returns_200() {
    let (_fixture, server) = corpus_server("").await;
    let (_, last_modified) = rss_validators(server.addr()).await;
    let older = shifted(&last_modified, -1);
    let r = fetch_get(server.addr(), "/rss.xml", &[("If-Modified-Since", &older)]).await;
    assert_status(&r, 200, "If-Modified-Since one second before Last-Modified");
    assert!(!r.body.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_modified_since_equal_to_last_modified_returns_304() {
    assert_eq!(
        conditional_status(&[("If-Modified-Since", "{last_modified}")]).await,
        304
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_modified_since_newer_than_last_modified_returns_304() {
    let (_fixture, server) = corpus_server("").await;
    let (_, last_modified) = rss_validators(server.addr()).await;
    let newer = shifted(&last_modified, 3600);
    let r = fetch_get(server.addr(), "/rss.xml", &[("If-Modified-Since", &newer)]).await;
    assert_status(&r, 304, "If-Modified-Since an hour after Last-Modified");
    assert!(r.body.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_mismatch_wins_over_newer_if_modified_since() {
    let (_fixture, server) = corpus_server("").await;
    let (_, last_modified) = rss_validators(server.addr()).await;
    let newer = shifted(&last_modified, 3600);
    let r = fetch_get(
        server.addr(),
        "/rss.xml",
        &[
            ("If-None-Match", "\"stale-tag\""),
            ("If-Modified-Since", &newer),
        ],
    )
    .await;
    assert_status(
        &r,
        200,
        "mismatching If-None-Match with a newer If-Modified-Since",
    );
    assert!(!r.body.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_modified_carries_validators_and_cache_headers_without_body() {
    let (_fixture, server) = corpus_server("").await;
    let (etag, last_modified) = rss_validators(server.addr()).await;
    let r = fetch_get(server.addr(), "/rss.xml", &[("If-None-Match", &etag)]).await;
    assert_status(&r, 304, "If-None-Match with the current ETag");
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("last-modified"), Some(last_modified.as_str()));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=300, stale-while-revalidate=60, stale-if-error=86400")
    );
    let vary = r.expect_header("vary").to_ascii_lowercase();
    assert!(vary.contains("accept-encoding"), "Vary: {vary}");
    r.date_header("date");
    assert!(r.body.is_empty(), "a 304 sent {} body bytes", r.body.len());
    if let Some(length) = r.header("content-length") {
        // A 304 may only repeat the length of the selected representation.
        let full = fetch_get(server.addr(), "/rss.xml", &[]).await;
        assert_eq!(length, full.body.len().to_string());
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_max_age_setting_is_sent_in_cache_control() {
    let (_fixture, server) = corpus_server("cache_max_age = 42").await;
    let r = fetch_get(server.addr(), "/rss.xml", &[]).await;
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=42, stale-while-revalidate=60, stale-if-error=86400")
    );
    server.shutdown().await;
    // Each stale directive can be set, or left out with 0.
    let (_fixture, server) = corpus_server(
        "cache_max_age = 42\nstale_while_revalidate_secs = 0\nstale_if_error_secs = 3600",
    )
    .await;
    let r = fetch_get(server.addr(), "/rss.xml", &[]).await;
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=42, stale-if-error=3600")
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_mismatch_returns_412() {
    assert_eq!(
        conditional_status(&[("If-Match", "\"not-the-current-tag\"")]).await,
        412
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_current_etag_returns_200() {
    assert_eq!(conditional_status(&[("If-Match", "{etag}")]).await, 200);
}

// ---------------------------------------------------------------------------------------
// Content codings
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_accepted_returns_a_gzip_body_that_inflates_to_the_identity_body() {
    let (_fixture, server) = corpus_server("").await;
    let identity = fetch_get(server.addr(), "/rss.xml", &[]).await;
    let gzip = fetch_get(server.addr(), "/rss.xml", &[("Accept-Encoding", "gzip")]).await;
    assert_status(&gzip, 200, "gzip");
    assert_eq!(identity.header("content-encoding"), None);
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(gzip.header("content-type"), Some(RSS_TYPE));
    assert!(gzip.body.len() < identity.body.len());
    assert_eq!(gunzip(&gzip.body), identity.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn br_accepted_returns_a_brotli_body_that_decompresses_to_the_identity_body() {
    let (_fixture, server) = corpus_server("").await;
    let identity = fetch_get(server.addr(), "/atom.xml", &[]).await;
    let br = fetch_get(server.addr(), "/atom.xml", &[("Accept-Encoding", "br")]).await;
    assert_status(&br, 200, "br");
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.header("content-type"), Some(ATOM_TYPE));
    assert_eq!(unbrotli(&br.body), identity.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_coding_varies_on_accept_encoding_with_a_distinct_etag() {
    let (_fixture, server) = corpus_server("").await;
    let mut tags = Vec::new();
    for accept in [None, Some("gzip"), Some("br")] {
        let headers: Vec<(&str, &str)> = accept
            .map(|a| vec![("Accept-Encoding", a)])
            .unwrap_or_default();
        let r = fetch_get(server.addr(), "/rss.xml", &headers).await;
        assert_status(&r, 200, &format!("{accept:?}"));
        let vary = r.expect_header("vary").to_ascii_lowercase();
        assert!(vary.contains("accept-encoding"), "{accept:?}: Vary: {vary}");
        tags.push(r.etag());
    }
    assert_ne!(tags[0], tags[1]);
    assert_ne!(tags[1], tags[2]);
    assert_ne!(tags[0], tags[2]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn higher_q_value_chooses_br_over_gzip() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(
        server.addr(),
        "/rss.xml",
        &[("Accept-Encoding", "gzip;q=0.5, br;q=0.9")],
    )
    .await;
    assert_status(&r, 200, "gzip;q=0.5, br;q=0.9");
    assert_eq!(r.header("content-encoding"), Some("br"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_q_value_excludes_br() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(
        server.addr(),
        "/rss.xml",
        &[("Accept-Encoding", "br;q=0, gzip")],
    )
    .await;
    assert_status(&r, 200, "br;q=0, gzip");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusing_identity_alone_returns_406() {
    let (_fixture, server) = corpus_server("").await;
    let r = fetch_get(
        server.addr(),
        "/rss.xml",
        &[("Accept-Encoding", "identity;q=0")],
    )
    .await;
    assert_status(&r, 406, "identity;q=0");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_etag_revalidates_to_304_when_gzip_is_accepted() {
    let (_fixture, server) = corpus_server("").await;
    let first = fetch_get(server.addr(), "/rss.xml", &[("Accept-Encoding", "gzip")]).await;
    let tag = first.etag();
    let again = fetch_get(
        server.addr(),
        "/rss.xml",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", &tag)],
    )
    .await;
    assert_status(&again, 304, "the gzip ETag with gzip accepted");
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    assert!(again.body.is_empty());
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Last-Modified and Date
// ---------------------------------------------------------------------------------------

/// `Last-Modified` later than `Date`, as a message; `None` when in order.
fn last_modified_after_date(r: &Response) -> Option<String> {
    let lm = r.header("last-modified")?;
    (r.date_header("last-modified") > r.date_header("date")).then(|| {
        format!(
            "status {}: Last-Modified {lm} is later than Date {}",
            r.status,
            r.expect_header("date")
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_modified_is_never_later_than_date() {
    let (fixture, server) = corpus_server("").await;
    let addr = server.addr();
    let articles = fixture.articles.clone();
    blocking(move || {
        // At rest: every resource, coding and status.
        for path in ["/rss.xml", "/atom.xml", "/", "/articles/70101.html"] {
            for accept in ["identity", "gzip", "br"] {
                let r = get(addr, path, &[("Accept-Encoding", accept)]);
                assert_status(&r, 200, path);
                assert_eq!(last_modified_after_date(&r), None, "{path} {accept}");
                let revalidated = get(
                    addr,
                    path,
                    &[("Accept-Encoding", accept), ("If-None-Match", &r.etag())],
                );
                assert_status(&revalidated, 304, path);
                assert_eq!(
                    last_modified_after_date(&revalidated),
                    None,
                    "{path} {accept}"
                );
            }
        }
        // While articles change several times a second, so that Last-Modified keeps
        // moving (and, with two changes within one second, runs ahead of the clock).
        let stop = AtomicBool::new(false);
        let checked = AtomicUsize::new(0);
        let violations: Mutex<Vec<String>> = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut revision = 0;
                while !stop.load(Ordering::Relaxed) {
                    revision += 1;
                    fs::write(
                        articles.join("changing.txt"),
                        simple_article(
                            95_000,
                            "A changing story",
                            30,
                            &format!("Revision {revision}."),
                        ),
                    )
                    .unwrap();
                    std::thread::sleep(Duration::from_millis(150));
                }
            });
            let readers: Vec<_> = ["/rss.xml", "/atom.xml", "/", "/rss.xml"]
                .into_iter()
                .map(|path| {
                    let (checked, violations) = (&checked, &violations);
                    s.spawn(move || {
                        let deadline = Instant::now() + Duration::from_secs(4);
                        while Instant::now() < deadline {
                            // Pipelined requests are answered in one go, which is when the
                            // clock is most likely to pass a second between the `Date` and
                            // the `Last-Modified` of one response.
                            let mut responses = pipelined_heads(addr, path, 16);
                            responses.push(get(addr, path, &[]));
                            for r in responses {
                                assert_status(&r, 200, path);
                                if let Some(v) = last_modified_after_date(&r) {
                                    violations.lock().unwrap().push(format!("{path}: {v}"));
                                }
                                checked.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for reader in readers {
                reader.join().unwrap();
            }
            stop.store(true, Ordering::Relaxed);
        });
        let violations = violations.into_inner().unwrap();
        let checked = checked.load(Ordering::Relaxed);
        assert!(
            violations.is_empty(),
            "{} of {checked} responses had a Last-Modified later than their Date, e.g. {:?}",
            violations.len(),
            &violations[..violations.len().min(3)]
        );
        assert!(checked > 100, "only {checked} responses");
    })
    .await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Regeneration
// ---------------------------------------------------------------------------------------

/// GET /rss.xml and parse it.
fn rss_now(addr: SocketAddr) -> (Response, feed_rs::model::Feed) {
    let r = get(addr, "/rss.xml", &[]);
    assert_status(&r, 200, "GET /rss.xml");
    let feed = parse_feed(&r.body);
    (r, feed)
}

/// Waits until the server demonstrably reacts to file events: writes a probe article
/// (again, with new text, every 500 ms) until it is published, then deletes it and waits
/// until it is gone. Needed because the watcher is installed only some time after
/// `Server::start` returns (see `article_written_as_soon_as_start_returns_is_picked_up`).
fn ensure_watching(addr: SocketAddr, articles: &Path) {
    let probe = articles.join("000_watch_probe.txt");
    let deadline = Instant::now() + WAIT;
    let mut revision = 0;
    'probe: loop {
        revision += 1;
        let marker = format!("Probe revision {revision}.");
        fs::write(&probe, simple_article(99_999, "Watch probe", 0, &marker)).unwrap();
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            // Any revision will do: a slow regeneration may publish an older one.
            if get(addr, "/articles/99999.html", &[]).status == 200 {
                break 'probe;
            }
            std::thread::sleep(POLL);
        }
        assert!(
            Instant::now() < deadline,
            "the server never noticed a probe article"
        );
    }
    fs::remove_file(&probe).unwrap();
    wait_for(WAIT, "the probe article to be unpublished", || {
        let gone = get(addr, "/articles/99999.html", &[]).status == 404
            && parse_feed(&get(addr, "/rss.xml", &[]).body).entries.len() == CORPUS_ITEMS;
        gone.then_some(())
    });
}

/// A change made right after `Server::start` returns must be noticed: `start` promises to
/// have started "serving and watching". The runtime's two workers are kept busy while the
/// server starts and the article is written (as on a loaded machine), which makes the
/// outcome independent of scheduling luck; without that the test fails about 3 times in 4
/// on a 2-CPU machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn article_written_as_soon_as_start_returns_is_picked_up() {
    let fixture = Workspace::with_corpus("");
    let busy = std::sync::Arc::new(AtomicUsize::new(0));
    let release = std::sync::Arc::new(AtomicBool::new(false));
    let blockers: Vec<_> = (0..2)
        .map(|_| {
            let (busy, release) = (busy.clone(), release.clone());
            tokio::spawn(async move {
                busy.fetch_add(1, Ordering::SeqCst);
                let deadline = Instant::now() + WAIT;
                while !release.load(Ordering::SeqCst) {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                true
            })
        })
        .collect();
    let deadline = Instant::now() + WAIT;
    while busy.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        busy.load(Ordering::SeqCst),
        2,
        "both workers should be busy"
    );
    let server = start(&fixture).await;
    fixture.write_article(
        "right_after_start.txt",
        &simple_article(80_010, "Written right after start", 3, "Early news."),
    );
    release.store(true, Ordering::SeqCst);
    for blocker in blockers {
        assert!(
            blocker.await.unwrap(),
            "the workers were freed before the article was written, so the test proves nothing"
        );
    }
    let addr = server.addr();
    blocking(move || {
        wait_for(WAIT, "the article written right after start", || {
            let (_, feed) = rss_now(addr);
            (feed.entries.len() == CORPUS_ITEMS + 1).then_some(())
        })
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_article_appears_with_a_new_etag_and_a_later_last_modified() {
    let (fixture, server) = watched_corpus_server("").await;
    let addr = server.addr();
    let articles = fixture.articles.clone();
    blocking(move || {
        let (before, feed) = rss_now(addr);
        assert_eq!(feed.entries.len(), CORPUS_ITEMS);
        let before_lm = before.date_header("last-modified");
        fs::write(
            articles.join("new_article.txt"),
            simple_article(80001, "Brand new article appears", 10, "Fresh news today."),
        )
        .unwrap();
        let (after, feed) = wait_for(WAIT, "the new article in /rss.xml", || {
            let (r, feed) = rss_now(addr);
            (feed.entries.len() == CORPUS_ITEMS + 1).then_some((r, feed))
        });
        assert!(entry_titles(&feed)
            .iter()
            .any(|t| t == "Brand new article appears"));
        assert_ne!(after.etag(), before.etag());
        // Last-Modified must move forward; it may be held back to the Date of the
        // response within the first second, so look again until it has.
        let later = wait_for(WAIT, "a later Last-Modified", || {
            let (r, _) = rss_now(addr);
            (r.date_header("last-modified") > before_lm).then_some(r)
        });
        assert_eq!(later.etag(), after.etag());
        // The old validators no longer match.
        let stale = get(
            addr,
            "/rss.xml",
            &[("If-Modified-Since", before.expect_header("last-modified"))],
        );
        assert_status(&stale, 200, "If-Modified-Since the old Last-Modified");
        let stale = get(addr, "/rss.xml", &[("If-None-Match", &before.etag())]);
        assert_status(&stale, 200, "If-None-Match the old ETag");
        let page = get(addr, "/articles/80001.html", &[]);
        assert_status(&page, 200, "the new article's page");
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_article_changes_the_etag() {
    let (fixture, server) = watched_corpus_server("").await;
    let addr = server.addr();
    let path = fixture.article_path(SNOWFALL_FILE);
    blocking(move || {
        let (before, _) = rss_now(addr);
        let text = fs::read_to_string(&path).unwrap();
        let edited = text.replace("Heavy snowfall closed", "Freezing rain closed");
        assert_ne!(text, edited);
        fs::write(&path, edited).unwrap();
        let after = wait_for(WAIT, "the edit in /rss.xml", || {
            let (r, _) = rss_now(addr);
            (r.etag() != before.etag()).then_some(r)
        });
        assert!(after.text().contains("Freezing rain closed"));
        assert!(!after.text().contains("Heavy snowfall closed"));
        assert_eq!(parse_feed(&after.body).entries.len(), CORPUS_ITEMS);
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_article_disappears_and_changes_the_etag() {
    let (fixture, server) = watched_corpus_server("").await;
    let addr = server.addr();
    let path = fixture.article_path(SNOWFALL_FILE);
    blocking(move || {
        let (before, _) = rss_now(addr);
        assert_status(
            &get(addr, "/articles/70101.html", &[]),
            200,
            "before deleting",
        );
        fs::remove_file(&path).unwrap();
        let (after, feed) = wait_for(WAIT, "the deletion in /rss.xml", || {
            let (r, feed) = rss_now(addr);
            (feed.entries.len() == CORPUS_ITEMS - 1).then_some((r, feed))
        });
        assert!(!entry_titles(&feed).iter().any(|t| t == SNOWFALL));
        assert_ne!(after.etag(), before.etag());
        let atom = parse_feed(&get(addr, "/atom.xml", &[]).body);
        assert!(!entry_titles(&atom).iter().any(|t| t == SNOWFALL));
        assert_status(
            &get(addr, "/articles/70101.html", &[]),
            404,
            "after deleting",
        );
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touching_a_file_without_changing_it_keeps_the_etag() {
    let (fixture, server) = corpus_server("").await;
    let addr = server.addr();
    let (before, generation) = (
        fetch_get(addr, "/rss.xml", &[]).await,
        server.snapshot().generation,
    );
    let atom_before = fetch_get(addr, "/atom.xml", &[]).await;
    for name in [SNOWFALL_FILE, "dup_a.txt", "dup_b.txt"] {
        filetime::set_file_mtime(fixture.article_path(name), filetime::FileTime::now()).unwrap();
    }
    server.regenerate();
    tokio::time::sleep(Duration::from_millis(600)).await;
    server.regenerate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = fetch_get(addr, "/rss.xml", &[]).await;
    let atom_after = fetch_get(addr, "/atom.xml", &[]).await;
    assert_eq!(after.etag(), before.etag());
    assert_eq!(
        after.header("last-modified"),
        before.header("last-modified")
    );
    assert_eq!(after.body, before.body);
    assert_eq!(atom_after.etag(), atom_before.etag());
    assert_eq!(server.snapshot().generation, generation);
    let revalidated = fetch_get(addr, "/rss.xml", &[("If-None-Match", &before.etag())]).await;
    assert_status(&revalidated, 304, "the old ETag after a touch");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_config_keeps_the_last_good_feed_and_a_fixed_config_applies() {
    let (fixture, server) = watched_corpus_server("title = \"First title\"").await;
    let addr = server.addr();
    let (before, feed) = blocking(move || rss_now(addr)).await;
    assert_eq!(
        feed.title.as_ref().map(|t| t.content.as_str()),
        Some("First title")
    );

    fixture.write_config("title = \"Broken title\"\nmax_items = \"x\"");
    server.regenerate();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let during = fetch_get(addr, "/rss.xml", &[]).await;
    assert_status(&during, 200, "/rss.xml with a broken configuration");
    assert_eq!(during.etag(), before.etag());
    assert_eq!(during.body, before.body);
    let health = fetch_get(addr, "/healthz", &[]).await;
    assert_status(&health, 200, "/healthz with a broken configuration");
    assert_eq!(health.text().trim(), "ok");

    fixture.write_config("title = \"A renamed feed from the fixed configuration\"");
    let renamed = blocking(move || {
        wait_for(WAIT, "the new title in /rss.xml", || {
            let (r, feed) = rss_now(addr);
            let title = feed.title.map(|t| t.content).unwrap_or_default();
            (title == "A renamed feed from the fixed configuration").then_some(r)
        })
    })
    .await;
    assert_ne!(renamed.etag(), before.etag());
    let atom = parse_feed(&fetch_get(addr, "/atom.xml", &[]).await.body);
    assert_eq!(
        atom.title.map(|t| t.content).as_deref(),
        Some("A renamed feed from the fixed configuration")
    );
    assert_eq!(atom.entries.len(), CORPUS_ITEMS);
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_readers_during_changes_always_get_complete_consistent_feeds() {
    let (fixture, server) = watched_corpus_server("").await;
    let addr = server.addr();
    let articles = fixture.articles.clone();
    let snowfall = fixture.article_path(SNOWFALL_FILE);
    let (distinct, changes, responses, gzipped) = blocking(move || {
        let stop = AtomicBool::new(false);
        let responses = AtomicUsize::new(0);
        let gzipped = AtomicUsize::new(0);
        // ETag -> the exact bytes first seen with it.
        let seen: Mutex<HashMap<String, Vec<u8>>> = Mutex::new(HashMap::new());
        let original = fs::read_to_string(&snowfall).unwrap();
        let changes = std::thread::scope(|s| {
            let mutator = s.spawn(|| {
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    match n % 3 {
                        0 => fs::write(
                            articles.join(format!("burst_{n}.txt")),
                            simple_article(
                                90_000 + n,
                                &format!("Burst article {n}"),
                                n as i64 % 40,
                                "Burst.",
                            ),
                        )
                        .unwrap(),
                        1 => fs::write(
                            &snowfall,
                            original.replace("six hours", &format!("{n} hours")),
                        )
                        .unwrap(),
                        _ => {
                            let _ = fs::remove_file(articles.join(format!("burst_{}.txt", n - 2)));
                        }
                    }
                    n += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                n
            });
            let readers: Vec<_> = (0..16)
                .map(|t| {
                    let (seen, responses, gzipped) = (&seen, &responses, &gzipped);
                    s.spawn(move || {
                        let gzip = t % 4 == 0;
                        let headers: &[(&str, &str)] = if gzip {
                            &[("Accept-Encoding", "gzip")]
                        } else {
                            &[]
                        };
                        // At least 50 rounds, and on until more than one generation was
                        // served (a fast machine reads 50 rounds before the first change).
                        let started = std::time::Instant::now();
                        let more_than_one = || seen.lock().unwrap().len() > 4;
                        for i in 0.. {
                            if i >= 50 && (more_than_one() || started.elapsed().as_secs() > 30) {
                                break;
                            }
                            for path in ["/rss.xml", "/atom.xml"] {
                                let r = get(addr, path, headers);
                                let what = format!("reader {t}, round {i}, {path}");
                                assert_status(&r, 200, &what);
                                let etag = r.etag();
                                // A change is served as identity for the moment its
                                // compressed variants take (see `serve`), then as gzip.
                                let body = if gzip && r.header("content-encoding") == Some("gzip") {
                                    assert!(etag.ends_with("-gzip\""), "{what}: {etag}");
                                    gzipped.fetch_add(1, Ordering::Relaxed);
                                    gunzip(&r.body)
                                } else if gzip {
                                    assert_eq!(r.header("content-encoding"), None, "{what}");
                                    assert!(!etag.ends_with("-gzip\""), "{what}: {etag}");
                                    r.body.clone()
                                } else {
                                    assert_eq!(r.header("content-encoding"), None, "{what}");
                                    r.body.clone()
                                };
                                if let Err(e) = check_well_formed(&body) {
                                    panic!("{what}: {e}");
                                }
                                let feed = parse_feed(&body);
                                assert!(feed.entries.len() >= CORPUS_ITEMS - 1, "{what}");
                                let expected_type = if path == "/rss.xml" {
                                    RSS_TYPE
                                } else {
                                    ATOM_TYPE
                                };
                                assert_eq!(r.header("content-type"), Some(expected_type), "{what}");
                                let mut seen = seen.lock().unwrap();
                                let first =
                                    seen.entry(etag.clone()).or_insert_with(|| r.body.clone());
                                assert!(
                                    *first == r.body,
                                    "{what}: ETag {etag} was sent with two different bodies"
                                );
                                responses.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for reader in readers {
                if let Err(panic) = reader.join() {
                    stop.store(true, Ordering::Relaxed);
                    std::panic::resume_unwind(panic);
                }
            }
            stop.store(true, Ordering::Relaxed);
            mutator.join().unwrap()
        });
        let distinct = seen.lock().unwrap().len();
        let gzipped = gzipped.load(Ordering::Relaxed);
        (
            distinct,
            changes,
            responses.load(Ordering::Relaxed),
            gzipped,
        )
    })
    .await;
    assert!(responses >= 16 * 50 * 2, "{responses} responses");
    // Four readers of sixteen accept gzip; most of their answers are gzip.
    assert!(
        gzipped * 8 > responses,
        "{gzipped} gzip answers of {responses}"
    );
    assert!(changes > 3, "only {changes} changes were made");
    // Two formats (and two codings) of more than one generation were served.
    assert!(distinct > 4, "only {distinct} distinct ETags were seen");
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The output folder
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_folder_holds_the_served_feeds_and_follows_changes() {
    let (fixture, server) = watched_corpus_server("").await;
    let addr = server.addr();
    let rss_file = fixture.output.join("rss.xml");
    let atom_file = fixture.output.join("atom.xml");
    // The disk copy follows the served snapshot (which is swapped in first), so wait for
    // it to catch up with the probe the fixture added and removed.
    let (rss_bytes, atom_bytes) = {
        let (rss_file, atom_file) = (rss_file.clone(), atom_file.clone());
        blocking(move || {
            wait_for(WAIT, "feeds/ to hold the served feeds", || {
                let rss = fs::read(&rss_file).ok()?;
                let atom = fs::read(&atom_file).ok()?;
                let current = get(addr, "/rss.xml", &[]).body == rss
                    && get(addr, "/atom.xml", &[]).body == atom;
                current.then_some((rss, atom))
            })
        })
        .await
    };
    assert_eq!(parse_feed(&rss_bytes).entries.len(), CORPUS_ITEMS);
    assert_eq!(parse_feed(&atom_bytes).entries.len(), CORPUS_ITEMS);
    assert_eq!(fetch_get(addr, "/rss.xml", &[]).await.body, rss_bytes);
    assert_eq!(fetch_get(addr, "/atom.xml", &[]).await.body, atom_bytes);

    fixture.write_article(
        "output_change.txt",
        &simple_article(80002, "Written to the output folder", 5, "Output news."),
    );
    let rss_after = blocking(move || {
        let rss_after = wait_for(WAIT, "feeds/ to hold the new article", || {
            let rss = fs::read(&rss_file).ok()?;
            let atom = fs::read(&atom_file).ok()?;
            let both = parse_feed(&rss).entries.len() == CORPUS_ITEMS + 1
                && parse_feed(&atom).entries.len() == CORPUS_ITEMS + 1;
            both.then_some(rss)
        });
        // The files are written just after the new snapshot is served.
        wait_for(WAIT, "the served feeds to equal the files", || {
            let same = get(addr, "/rss.xml", &[]).body == fs::read(&rss_file).ok()?
                && get(addr, "/atom.xml", &[]).body == fs::read(&atom_file).ok()?;
            same.then_some(())
        });
        rss_after
    })
    .await;
    assert!(entry_titles(&parse_feed(&rss_after))
        .iter()
        .any(|t| t == "Written to the output folder"));
    // `feed.json` and the tag feeds are written after `rss.xml` and `atom.xml`: a temporary
    // file may exist for a moment, but none is left behind.
    let output = fixture.output.clone();
    blocking(move || {
        wait_for(WAIT, "no temporary file in feeds/", || {
            let leftovers = fs::read_dir(&output)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".tmp"))
                .count();
            (leftovers == 0).then_some(())
        })
    })
    .await;
    server.shutdown().await;
}

/// A change to an old article (beyond the newest items and the home page) changes no feed,
/// but it is served, and later changes build on it: the article's page follows the edit, and
/// after a change that does alter the feeds, the archive holds the edit too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_to_old_articles_are_served_and_kept_for_later_changes() {
    let fixture =
        Workspace::empty("max_items = 5\narchive_page_size = 5\nrescan_interval_secs = 3600");
    for i in 1..=120u64 {
        fixture.write_article(
            &format!("{i:03}.txt"),
            &simple_article(i, &format!("Story {i}"), i as i64, "Body."),
        );
    }
    let server = start(&fixture).await;
    let addr = server.addr();
    let generation = server.snapshot().generation;

    fixture.write_article(
        "001.txt",
        &simple_article(1, "Story 1, corrected", 1, "Body."),
    );
    blocking(move || {
        wait_for(WAIT, "the edited old article's page", || {
            get(addr, "/articles/1.html", &[])
                .text()
                .contains("Story 1, corrected")
                .then_some(())
        });
    })
    .await;
    assert_eq!(
        server.snapshot().generation,
        generation,
        "no feed changed: the article is beyond the newest items and the home page"
    );

    // Deleting another old article changes the feeds (the count of archive pages); the
    // archive holds the earlier edit, and not the deleted article.
    std::fs::remove_file(fixture.article_path("002.txt")).unwrap();
    let oldest_page = blocking(move || {
        wait_for(WAIT, "the deleted article's page to go", || {
            (get(addr, "/articles/2.html", &[]).status == 404).then_some(())
        });
        get(addr, "/archive/rss/1.xml", &[]).text()
    })
    .await;
    assert!(server.snapshot().generation > generation);
    assert!(oldest_page.contains("Story 1, corrected"), "{oldest_page}");
    assert!(
        !oldest_page.contains("<title>Story 2</title>"),
        "{oldest_page}"
    );
    assert!(
        oldest_page.contains("<title>Story 6</title>"),
        "{oldest_page}"
    );
    server.shutdown().await;
}
