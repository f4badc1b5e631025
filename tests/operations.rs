//! Operations through `feedpub serve` on a real socket: the access log (parsed back line by
//! line, hostile input included, reopened on SIGHUP after a rotation), `X-Forwarded-For`
//! only from trusted proxies, `/metrics` behind the admin token with counters that follow the
//! requests, and polite polling's 429.

mod common;

use std::fs;
use std::net::IpAddr;
use std::time::Duration;

use common::*;

const STARTUP: Duration = Duration::from_secs(30);
const TOKEN: &str = "metrics-token-0123456789";

fn start(extra: &str) -> (Workspace, ServerProcess) {
    let workspace = Workspace::with_corpus(&format!(
        "stats = false\naccess_log = \"access.log\"\ntrusted_proxies = [\"127.0.0.2\"]\nadmin_token = \"{TOKEN}\"\n{extra}"
    ));
    let mut server = ServerProcess::spawn(serve_command(&workspace.config));
    server.wait_for_banner(STARTUP);
    (workspace, server)
}

/// One line of the combined log format, read back.
#[derive(Debug, PartialEq, Eq)]
struct Line {
    client: String,
    request: String,
    status: u16,
    bytes: u64,
    referer: String,
    agent: String,
}

/// Reads a combined-format line strictly: every field where it must be, quoted fields with
/// only escaped quotes inside.
fn parse_line(line: &str) -> Line {
    fn bad<T>(line: &str) -> T {
        panic!("not a combined log line: {line:?}")
    }
    let (client, rest) = line.split_once(" - - [").unwrap_or_else(|| bad(line));
    let (time, rest) = rest.split_once("] \"").unwrap_or_else(|| bad(line));
    assert!(
        time.ends_with(" +0000") && time.len() == 26,
        "time {time:?} in {line:?}"
    );
    let quoted = |s: &str| -> (String, String) {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next().unwrap_or_else(|| bad(line))),
                '"' => return (out, chars.collect()),
                c => out.push(c),
            }
        }
        bad(line)
    };
    let (request, rest) = quoted(rest);
    let mut fields = rest.trim_start().splitn(3, ' ');
    let status = fields
        .next()
        .unwrap_or_else(|| bad(line))
        .parse()
        .unwrap_or_else(|_| bad(line));
    let bytes = fields
        .next()
        .unwrap_or_else(|| bad(line))
        .parse()
        .unwrap_or_else(|_| bad(line));
    let rest = fields.next().unwrap_or_else(|| bad(line));
    let (referer, rest) = quoted(rest.strip_prefix('"').unwrap_or_else(|| bad(line)));
    let (agent, rest) = quoted(rest.strip_prefix(" \"").unwrap_or_else(|| bad(line)));
    assert_eq!(rest, "", "nothing after the User-Agent in {line:?}");
    Line {
        client: client.to_string(),
        request,
        status,
        bytes,
        referer,
        agent,
    }
}

fn log_lines(workspace: &Workspace, name: &str, at_least: usize) -> Vec<Line> {
    let path = workspace.path(name);
    wait_for(Duration::from_secs(10), "the access log's lines", || {
        let text = fs::read_to_string(&path).ok()?;
        let lines: Vec<&str> = text.lines().collect();
        (lines.len() >= at_least).then(|| lines.into_iter().map(parse_line).collect())
    })
}

#[test]
fn every_response_is_one_combined_line_and_hostile_agents_cannot_forge_lines() {
    let (workspace, server) = start("");
    let addr = server.addr();
    let first = get(
        addr,
        "/rss.xml?utm=x",
        &[
            (
                "user-agent",
                "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers)",
            ),
            ("referer", "https://example.org/"),
        ],
    );
    assert_eq!(first.status, 200);
    let etag = first.etag();
    assert_eq!(
        get(
            addr,
            "/rss.xml",
            &[("if-none-match", &etag), ("user-agent", "newsboat/2.30")]
        )
        .status,
        304
    );
    assert_eq!(get(addr, "/no-such-page", &[]).status, 404);
    // A User-Agent with quotes, a backslash, a tab, a byte that is not ASCII, and 10 KB.
    let mut raw =
        b"GET /atom.xml HTTP/1.1\r\nHost: x\r\nUser-Agent: evil\" 200 0 \"-\" \"forged\\\tz"
            .to_vec();
    raw.push(0xff);
    raw.extend_from_slice("A".repeat(10_000).as_bytes());
    raw.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    let answer = exchange(addr, &raw);
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", summary(&answer));
    // X-Forwarded-For: believed from the trusted proxy only.
    let spoof = [("x-forwarded-for", "198.51.100.7")];
    request_from(
        "127.0.0.1".parse().unwrap(),
        addr,
        "GET",
        "/feed.json",
        &spoof,
    );
    request_from(
        "127.0.0.2".parse().unwrap(),
        addr,
        "GET",
        "/feed.json",
        &spoof,
    );
    request_from(
        "127.0.0.2".parse().unwrap(),
        addr,
        "GET",
        "/feed.json",
        &[("x-forwarded-for", "not an address")],
    );

    let lines = log_lines(&workspace, "access.log", 7);
    assert_eq!(lines.len(), 7, "{lines:?}");
    // Lines of different request threads may be out of time order (README): each is
    // found by what its request was.
    let find = |what: &str, is: &dyn Fn(&Line) -> bool| -> &Line {
        let found: Vec<&Line> = lines.iter().filter(|l| is(l)).collect();
        assert_eq!(found.len(), 1, "{what}: {lines:?}");
        found[0]
    };
    assert_eq!(
        *find("the first poll", &|l| l.request.contains("utm=x")),
        Line {
            client: "127.0.0.1".into(),
            request: "GET /rss.xml?utm=x HTTP/1.1".into(),
            status: 200,
            bytes: first.body.len() as u64,
            referer: "https://example.org/".into(),
            agent: "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers)".into(),
        }
    );
    let conditional = find("the conditional poll", &|l| l.agent == "newsboat/2.30");
    assert_eq!(
        (
            conditional.request.as_str(),
            conditional.status,
            conditional.bytes
        ),
        ("GET /rss.xml HTTP/1.1", 304, 0)
    );
    let missing = find("the 404", &|l| l.request.contains("/no-such-page"));
    assert_eq!(
        (
            missing.status,
            missing.referer.as_str(),
            missing.agent.as_str()
        ),
        (404, "-", "-")
    );
    let agent = &find("the hostile agent", &|l| l.agent.starts_with("evil")).agent;
    assert!(agent.starts_with("evil\" 200 0 \"-\" \"forged"), "{agent}");
    assert!(agent.ends_with("A..."), "cut: {} bytes", agent.len());
    assert!(agent.len() < 1100);
    let text = fs::read_to_string(workspace.path("access.log")).unwrap();
    assert!(
        text.contains(r#" "evil\" 200 0 \"-\" \"forged\\\x09z\xFFAAAA"#),
        "escaped as nginx does: {text}"
    );
    // From 127.0.0.1 (untrusted: its X-Forwarded-For is ignored), from the trusted proxy
    // 127.0.0.2 (its X-Forwarded-For is taken), and from the proxy with a malformed one
    // (the peer is logged).
    let mut clients: Vec<&str> = lines
        .iter()
        .filter(|l| l.request.starts_with("GET /feed.json"))
        .map(|l| l.client.as_str())
        .collect();
    clients.sort_unstable();
    assert_eq!(clients, ["127.0.0.1", "127.0.0.2", "198.51.100.7"]);
}

#[test]
fn sighup_reopens_the_access_log_after_logrotate_moved_it() {
    let (workspace, server) = start("");
    let addr = server.addr();
    get(addr, "/rss.xml", &[("user-agent", "before")]);
    log_lines(&workspace, "access.log", 1);
    fs::rename(workspace.path("access.log"), workspace.path("access.log.1")).unwrap();
    server.hup();
    wait_until(Duration::from_secs(10), "the log to be reopened", || {
        server.stderr().contains("access log reopened")
    });
    get(addr, "/atom.xml", &[("user-agent", "after")]);
    let lines = log_lines(&workspace, "access.log", 1);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].agent, "after");
    let rotated = fs::read_to_string(workspace.path("access.log.1")).unwrap();
    assert!(rotated.contains("\"before\"") && !rotated.contains("\"after\""));
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[test]
fn metrics_are_for_the_admin_token_and_follow_the_requests() {
    let (_workspace, server) = start("");
    let addr = server.addr();
    assert_eq!(get(addr, "/metrics", &[]).status, 401);
    let wrong = get(
        addr,
        "/metrics",
        &[("authorization", "Bearer metrics-token-0123456788")],
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    let auth = format!("Bearer {TOKEN}");
    let scrape = || {
        let r = get(addr, "/metrics", &[("authorization", &auth)]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        r.text()
    };
    let series = "feedpub_responses_total{route=\"feed\",status=\"304\",encoding=\"none\"}";
    let before = metric(&scrape(), series);
    let etag = get(addr, "/rss.xml", &[]).etag();
    for _ in 0..3 {
        assert_eq!(
            get(addr, "/rss.xml", &[("if-none-match", &etag)]).status,
            304
        );
    }
    let text = scrape();
    assert_eq!(metric(&text, series) - before, 3.0, "{text}");
    assert!(
        metric(
            &text,
            "feedpub_responses_total{route=\"feed\",status=\"200\",encoding=\"identity\"}"
        ) >= 1.0
    );
    assert!(
        metric(
            &text,
            "feedpub_request_duration_seconds_count{route=\"feed\"}"
        ) >= 4.0
    );
    let published = check_feed("rss.xml", &get(addr, "/rss.xml", &[]).body)
        .entries
        .len();
    assert_eq!(
        metric(&text, "feedpub_articles{state=\"published\"}"),
        published as f64,
        "{text}"
    );
    assert!(metric(&text, "feedpub_open_connections") >= 1.0);
    assert!(text.contains("feedpub_build_info{version=\""));

    // Without an admin token there are no metrics at all.
    let workspace = Workspace::with_corpus("stats = false");
    let mut bare = ServerProcess::spawn(serve_command(&workspace.config));
    let bare_addr = bare.wait_for_banner(STARTUP);
    assert_eq!(
        get(bare_addr, "/metrics", &[("authorization", &auth)]).status,
        404
    );
}

#[test]
fn an_unconditional_poll_too_soon_gets_429_and_a_conditional_one_never_does() {
    let (_workspace, server) = start("min_poll_interval_secs = 60");
    let addr = server.addr();
    let reader = [("user-agent", "impatient-reader/1.0")];
    let first = get(addr, "/rss.xml", &reader);
    assert_eq!(first.status, 200);
    let again = get(addr, "/rss.xml", &reader);
    assert_eq!(again.status, 429);
    let retry: u64 = again.expect_header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(again.header("cache-control"), Some("no-store"));
    // Never refused: a conditional request, HEAD, pages, another agent, a WebSub hub.
    let etag = first.etag();
    assert_eq!(
        get(
            addr,
            "/rss.xml",
            &[
                ("user-agent", "impatient-reader/1.0"),
                ("if-none-match", &etag)
            ]
        )
        .status,
        304
    );
    assert_eq!(
        get(
            addr,
            "/rss.xml",
            &[
                ("user-agent", "impatient-reader/1.0"),
                ("if-modified-since", "Mon, 01 Jan 2024 00:00:00 GMT")
            ]
        )
        .status,
        200
    );
    assert_eq!(request(addr, "HEAD", "/rss.xml", &reader).status, 200);
    assert_eq!(get(addr, "/", &reader).status, 200);
    assert_eq!(
        get(addr, "/rss.xml", &[("user-agent", "another-reader")]).status,
        200
    );
    for _ in 0..2 {
        assert_eq!(
            get(addr, "/rss.xml", &[("user-agent", "Superfeedr bot/2.0")]).status,
            200
        );
    }
    // Other feeds are other polls; the same client from another address is another client.
    assert_eq!(get(addr, "/atom.xml", &reader).status, 200);
    let other: IpAddr = "127.0.0.3".parse().unwrap();
    assert_eq!(
        request_from(other, addr, "GET", "/rss.xml", &reader).status,
        200
    );
    let auth = format!("Bearer {TOKEN}");
    let text = get(addr, "/metrics", &[("authorization", &auth)]).text();
    assert_eq!(metric(&text, "feedpub_refused_polls_total"), 1.0, "{text}");
    assert_eq!(
        metric(
            &text,
            "feedpub_responses_total{route=\"feed\",status=\"429\",encoding=\"identity\"}"
        ),
        1.0
    );
}
