//! Black-box tests of the subscriber statistics: `feedpub serve` as a child process with a
//! real SQLite file, polled over real sockets from several loopback addresses; the
//! `/stats` endpoints, a restart, the bytes of the database, `feedpub stats` and
//! `feedpub stats import`.

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

const TOKEN: &str = "test-admin-token-0123456789";
const START: Duration = Duration::from_secs(30);
const WRITTEN: Duration = Duration::from_secs(10);

/// The seven User-Agents of the issue, and what each one counts.
const AGGREGATORS: &[(&str, &str, u64)] = &[
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers; like FeedFetcher-Google)", "Feedly", 123),
    ("Mozilla/5.0 (compatible; Inoreader/1.0; +http://www.inoreader.com/feed-fetcher; 45 subscribers; )", "Inoreader", 45),
    ("NewsBlur Feed Fetcher - 12 subscribers - https://www.newsblur.com/site/6712/name (Mozilla/5.0 ...)", "NewsBlur", 12),
    ("Feedbin feed-id:1234 - 56 subscribers", "Feedbin", 56),
    ("Mozilla/5.0 (compatible; theoldreader.com; 7 subscribers; feed-id=5f2a...)", "The Old Reader", 7),
    ("Netvibes (https://www.netvibes.com/; 3 subscribers; feedID: 9876)", "Netvibes", 3),
    ("Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 4 subscribers; feed-id=1234567)", "Google Feedfetcher", 4),
];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn stats_workspace(extra: &str) -> Workspace {
    Workspace::with_corpus(&format!("admin_token = \"{TOKEN}\"\n{extra}"))
}

fn start(ws: &Workspace) -> ServerProcess {
    let mut server = ServerProcess::start(&ws.config, START);
    server.wait_for_banner(START);
    server
}

fn poll(server: &ServerProcess, from: &str, path: &str, agent: &str) -> u16 {
    request_from(
        ip(from),
        server.addr(),
        "GET",
        path,
        &[("User-Agent", agent)],
    )
    .status
}

fn stats_json(server: &ServerProcess) -> Value {
    let auth = format!("Bearer {TOKEN}");
    let r = get(server.addr(), "/stats.json", &[("Authorization", &auth)]);
    assert_eq!(r.status, 200, "{}", r.head());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    serde_json::from_slice(&r.body).expect("/stats.json is JSON")
}

/// Waits until the figures say `subscribers` in total (the writer writes once a second).
fn wait_for_total(server: &ServerProcess, subscribers: u64) -> Value {
    poll_for(WRITTEN, || {
        let json = stats_json(server);
        (json["subscribers"] == subscribers).then_some(json)
    })
    .unwrap_or_else(|| {
        panic!(
            "the statistics never reached {subscribers}: {:#}",
            stats_json(server)
        )
    })
}

fn feed<'a>(json: &'a Value, path: &str) -> &'a Value {
    json["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no {path} in {json:#}"))
}

fn aggregator(feed: &Value, name: &str) -> u64 {
    feed["aggregators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["subscribers"].as_u64())
        .unwrap_or_else(|| panic!("no {name} in {feed:#}"))
}

/// Every byte the database keeps: the file, its WAL and its shared memory.
fn database_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        if let Ok(b) = std::fs::read(&name) {
            bytes.extend(b);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn real_polls_count_aggregators_by_their_reports_and_direct_readers_by_address_and_agent() {
    // Short feeds, so that the history has archive pages.
    let ws = stats_workspace("max_items = 5\narchive_page_size = 5");
    ws.write_article(
        "tagged.md",
        "+++\ntitle = \"Roadworks\"\ndate = 2020-06-01T10:00:00Z\nid = \"tagged\"\ntags = [\"Roads\"]\n+++\nBody.\n",
    );
    let server = start(&ws);
    // Aggregators: each of the User-Agents; Feedly's earlier, smaller report is
    // replaced by its newer one; Feedbin holds a second subscription (another feed-id).
    assert_eq!(poll(&server, "127.0.0.1", "/rss.xml", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 100 subscribers; like FeedFetcher-Google)"), 200);
    for (agent, _, _) in AGGREGATORS {
        assert_eq!(
            poll(&server, "127.0.0.1", "/rss.xml", agent),
            200,
            "{agent}"
        );
    }
    assert_eq!(
        poll(
            &server,
            "127.0.0.1",
            "/rss.xml",
            "Feedbin feed-id:999 - 2 subscribers"
        ),
        200
    );
    // Direct readers: distinct (address, User-Agent) pairs.
    assert_eq!(
        poll(
            &server,
            "127.44.0.2",
            "/rss.xml",
            "newsboat/2.30 (Linux x86_64)"
        ),
        200
    );
    assert_eq!(
        poll(
            &server,
            "127.44.0.2",
            "/rss.xml",
            "newsboat/2.30 (Linux x86_64)"
        ),
        200
    );
    assert_eq!(
        poll(
            &server,
            "127.44.0.3",
            "/rss.xml",
            "newsboat/2.30 (Linux x86_64)"
        ),
        200
    );
    assert_eq!(
        poll(&server, "127.44.0.3", "/rss.xml", "feedparser/6.0.11"),
        200
    );
    let head = request_from(
        ip("127.44.0.4"),
        server.addr(),
        "HEAD",
        "/rss.xml",
        &[("User-Agent", "curl/8.5.0")],
    );
    assert_eq!(head.status, 200);
    // A conditional poll answered 304 is a poll.
    let tag = get(server.addr(), "/rss.xml", &[]).etag();
    let revalidated = request_from(
        ip("127.44.0.5"),
        server.addr(),
        "GET",
        "/rss.xml",
        &[("User-Agent", "sfeed/2.0"), ("If-None-Match", &tag)],
    );
    assert_eq!(revalidated.status, 304);
    // A redirect is not a poll; the request it leads to is.
    assert_eq!(poll(&server, "127.44.0.6", "/feed", "follower/1.0"), 301);
    assert_eq!(
        poll(&server, "127.44.0.7", "/feed", "redirected-only/1.0"),
        301
    );
    assert_eq!(poll(&server, "127.44.0.6", "/rss.xml", "follower/1.0"), 200);
    // Pages, archives, errors and other methods are not polls.
    assert_eq!(poll(&server, "127.44.0.8", "/", "browser/1.0"), 200);
    assert_eq!(
        poll(
            &server,
            "127.44.0.8",
            "/tags/no-such-tag/rss.xml",
            "browser/1.0"
        ),
        404
    );
    assert_eq!(
        poll(&server, "127.44.0.8", "/archive/rss/1.xml", "browser/1.0"),
        200
    );
    let post = request_from(
        ip("127.44.0.8"),
        server.addr(),
        "POST",
        "/rss.xml",
        &[("User-Agent", "browser/1.0")],
    );
    assert_eq!(post.status, 405);
    // A spoofed X-Forwarded-For from an untrusted peer changes nothing: same pair.
    let spoofed = request_from(
        ip("127.44.0.3"),
        server.addr(),
        "GET",
        "/rss.xml",
        &[
            ("User-Agent", "feedparser/6.0.11"),
            ("X-Forwarded-For", "198.51.100.1"),
        ],
    );
    assert_eq!(spoofed.status, 200);
    // A tag feed is a feed of its own.
    let tag_path = "/tags/roads/rss.xml";
    assert_eq!(
        poll(
            &server,
            "127.44.0.9",
            tag_path,
            "newsboat/2.30 (Linux x86_64)"
        ),
        200
    );

    let aggregated: u64 = AGGREGATORS.iter().map(|a| a.2).sum::<u64>() + 2;
    // newsboat@.2, newsboat@.3, feedparser@.3, curl@.4, sfeed@.5, follower@.6, and the
    // test's own request for the ETag (no User-Agent, from 127.0.0.1).
    let direct = 7;
    let json = wait_for_total(&server, aggregated + direct + 1);
    assert_eq!(json["window_hours"], 24);
    let rss = feed(&json, "/rss.xml");
    assert_eq!(rss["direct_clients"], direct);
    assert_eq!(rss["subscribers"], aggregated + direct);
    for (_, name, count) in AGGREGATORS {
        let want = if *name == "Feedbin" {
            count + 2
        } else {
            *count
        };
        assert_eq!(aggregator(rss, name), want, "{name}");
    }
    let tagged = feed(&json, tag_path);
    assert_eq!(
        (
            tagged["direct_clients"].as_u64(),
            tagged["subscribers"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(json["feeds"].as_array().unwrap().len(), 2, "{json:#}");
    let history = json["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["subscribers"], aggregated + direct + 1);
    // The conditional poll shows in how sfeed polls.
    let sfeed = json["readers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "sfeed")
        .unwrap();
    assert_eq!(sfeed["conditional_share"], 1.0);

    // The page for people: the same figures, one chart point for the one day.
    let auth = format!("Bearer {TOKEN}");
    let page = get(server.addr(), "/stats", &[("Authorization", &auth)]);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let html = page.text();
    assert_eq!(html.matches("<circle class=\"day\"").count(), 1);
    assert!(
        html.contains("Feedly") && html.contains("newsboat"),
        "{html}"
    );
    assert!(!html.contains("<script"));

    // A restart (kill -9 after the figures were written) finds the same figures.
    let before = json;
    drop(server);
    let server = start(&ws);
    let after = stats_json(&server);
    assert_eq!(after["subscribers"], before["subscribers"]);
    assert_eq!(after["feeds"], before["feeds"]);
    assert_eq!(after["history"], before["history"]);
    drop(server);

    // No client address is in the database, as text or in binary form.
    let bytes = database_bytes(&ws.path("feedpub-stats.sqlite"));
    assert!(bytes.len() > 4096, "the database was found");
    for address in ["127.44.0.2", "127.44.0.3", "127.44.0.5", "127.44.0.6"] {
        let v4: std::net::Ipv4Addr = address.parse().unwrap();
        assert!(!contains(&bytes, address.as_bytes()), "{address} as text");
        assert!(!contains(&bytes, &v4.octets()), "{address} as 4 bytes");
        assert!(
            !contains(&bytes, &v4.to_ipv6_mapped().octets()),
            "{address} as 16 bytes"
        );
        assert!(!contains(&bytes, format!("::ffff:{address}").as_bytes()));
    }
}

#[test]
fn the_statistics_are_for_the_token_holder_only_and_never_cached() {
    let ws = stats_workspace("");
    let server = start(&ws);
    for headers in [
        vec![],
        vec![("Authorization", "Bearer wrong-token-0123456789")],
        vec![("Authorization", "Basic dGVzdA==")],
    ] {
        for path in ["/stats", "/stats.json"] {
            let r = get(server.addr(), path, &headers);
            assert_eq!(r.status, 401, "{path} {headers:?}");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
            assert_eq!(r.header("cache-control"), Some("no-store"));
            assert!(!r.text().contains("subscribers"));
        }
    }
    let post = request(server.addr(), "POST", "/stats.json", &[]);
    assert_eq!(post.status, 405);
    // The token is never logged.
    assert!(!server.stderr().contains(TOKEN));
}

#[test]
fn without_an_admin_token_the_statistics_are_not_served_and_with_stats_off_nothing_is_touched() {
    let ws = Workspace::with_corpus("");
    let server = start(&ws);
    let auth = format!("Bearer {TOKEN}");
    for path in ["/stats", "/stats.json"] {
        assert_eq!(
            get(server.addr(), path, &[("Authorization", &auth)]).status,
            404
        );
    }
    drop(server);
    assert!(
        ws.path("feedpub-stats.sqlite").exists(),
        "recording is on by default"
    );

    let off = stats_workspace("stats = false\nstats_db = \"elsewhere.sqlite\"");
    let server = start(&off);
    assert_eq!(poll(&server, "127.0.0.1", "/rss.xml", "newsboat/2.30"), 200);
    assert_eq!(
        get(server.addr(), "/stats.json", &[("Authorization", &auth)]).status,
        404
    );
    drop(server);
    assert!(!off.path("elsewhere.sqlite").exists());
    assert!(!off.path("elsewhere.sqlite.key").exists());
}

#[test]
fn an_unusable_database_stops_the_start_with_exit_2_naming_the_file() {
    let ws = stats_workspace("stats_db = \"broken.sqlite\"");
    std::fs::write(
        ws.path("broken.sqlite"),
        "not a database at all, but a text file ".repeat(50),
    )
    .unwrap();
    let (status, _, stderr) = serve_to_exit(&ws.config);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broken.sqlite"), "{stderr}");

    // Locked: a second server on the database of a running one.
    let ws = stats_workspace("");
    let _first = start(&ws);
    let (status, _, stderr) = serve_to_exit(&ws.config);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("feedpub-stats.sqlite") && stderr.contains("in use"),
        "{stderr}"
    );
}

/// A combined-format line.
fn log_line(ip: &str, day: u32, path: &str, status: u16, agent: &str) -> String {
    format!("{ip} - - [{day:02}/Nov/2026:10:00:00 +0000] \"GET {path} HTTP/1.1\" {status} 512 \"-\" \"{agent}\"\n")
}

#[test]
fn import_adds_the_polls_of_combined_logs_once_and_reports_what_it_skipped() {
    let ws = stats_workspace("");
    let mut log = String::new();
    for day in 1..=4 {
        for reader in 0..day {
            log.push_str(&log_line(
                &format!("192.0.2.{reader}"),
                day,
                "/rss.xml",
                200,
                "newsboat/2.30",
            ));
        }
        log.push_str(&log_line(
            "198.51.100.9",
            day,
            "/atom.xml",
            304,
            &format!("Feedbin feed-id:5 - {} subscribers", day * 10),
        ));
    }
    log.push_str(&log_line("192.0.2.50", 4, "/feed", 301, "redirected/1.0"));
    log.push_str(&log_line("192.0.2.51", 4, "/", 200, "browser/1.0"));
    log.push_str("this line is not in the combined format\n");
    std::fs::write(ws.path("access.log"), &log).unwrap();

    let import = || {
        Run::of(
            feedpub(ws.root())
                .args(["stats", "import", "--config"])
                .arg(&ws.config)
                .arg(ws.path("access.log")),
        )
    };
    let first = import();
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stdout.contains("imported 14 poll(s)"), "{first:?}");
    let skipped = format!(
        "1 lines skipped, first at {}:17",
        ws.path("access.log").display()
    );
    assert!(first.stdout.contains(&skipped), "{first:?}");
    let again = import();
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains("imported 0 poll(s)") && again.stdout.contains("14 already imported"),
        "{again:?}"
    );

    let shown = Run::of(
        feedpub(ws.root())
            .args(["stats", "--json", "--config"])
            .arg(&ws.config),
    );
    assert_eq!(shown.code, 0, "{shown:?}");
    let json: Value = serde_json::from_str(&shown.stdout).unwrap();
    let history: Vec<(String, u64)> = json["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_string(),
                d["subscribers"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        (1..=4u64)
            .map(|d| (format!("2026-11-{d:02}"), d + d * 10))
            .collect::<Vec<_>>()
    );
    let table = Run::of(
        feedpub(ws.root())
            .args(["stats", "--config"])
            .arg(&ws.config),
    );
    assert_eq!(table.code, 0, "{table:?}");
    assert!(
        table.stdout.contains("2026-11-04") && table.stdout.contains("44"),
        "{table:?}"
    );
    let bytes = database_bytes(&ws.path("feedpub-stats.sqlite"));
    assert!(!contains(&bytes, b"192.0.2.1") && !contains(&bytes, &[192, 0, 2, 1]));
}

#[test]
fn stats_without_a_database_is_a_clear_error() {
    let ws = stats_workspace("");
    let run = Run::of(
        feedpub(ws.root())
            .args(["stats", "--config"])
            .arg(&ws.config),
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("feedpub-stats.sqlite"), "{run:?}");
}

/// The figures' total, or `None` while the server cannot answer.
fn total(addr: std::net::SocketAddr) -> Option<u64> {
    let auth = format!("Bearer {TOKEN}");
    let r = get(addr, "/stats.json", &[("Authorization", &auth)]);
    let json: Value = serde_json::from_slice(&r.body).ok()?;
    json["subscribers"].as_u64()
}

#[test]
fn kill_9_while_polls_arrive_never_corrupts_the_database_and_loses_at_most_the_last_batch() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let ws = stats_workspace("");
    let db = ws.path("feedpub-stats.sqlite");
    let next_reader = Arc::new(AtomicU64::new(0));
    let mut written = 0;
    for round in 0..4 {
        let server = start(&ws);
        let addr = server.addr();
        // Everything written before this start is still there.
        let now = poll_for(WRITTEN, || total(addr)).expect("the figures are served");
        assert!(
            now >= written,
            "round {round}: {now} < {written} written before the kill"
        );
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (stop, next) = (Arc::clone(&stop), Arc::clone(&next_reader));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let agent = format!("reader-{n}/1.0");
                    let _ = std::panic::catch_unwind(|| {
                        request_from(
                            ip("127.0.0.1"),
                            addr,
                            "GET",
                            "/rss.xml",
                            &[("User-Agent", &agent)],
                        )
                    });
                }
            })
        };
        // Some polls are written, then more arrive, and the server is killed mid-batch.
        std::thread::sleep(Duration::from_millis(1500));
        written =
            poll_for(WRITTEN, || total(addr).filter(|&t| t > now)).expect("new polls are written");
        std::thread::sleep(Duration::from_millis(300 + 250 * round));
        drop(server); // SIGKILL
        stop.store(true, Ordering::Relaxed);
        poller.join().unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}");
    }
}

/// A tmpfs mounted for the length of a test, when the test may mount one.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_drops_statistics_with_one_warning_and_feeds_are_still_served() {
    let ws = stats_workspace("stats_db = \"small/stats.sqlite\"");
    let Some(_tmpfs) = Tmpfs::mount(&ws.path("small"), "96k") else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here");
        return;
    };
    let server = start(&ws);
    let long = "x".repeat(240);
    let started = std::time::Instant::now();
    let mut full = false;
    for n in 0..4000 {
        let agent = format!("filler-{n}-{long}");
        assert_eq!(
            poll(&server, "127.0.0.1", "/rss.xml", &agent),
            200,
            "poll {n}"
        );
        if n % 200 == 199 {
            std::thread::sleep(Duration::from_millis(1100));
            if server.stderr().contains("statistics dropped") {
                full = true;
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the disk never filled"
        );
    }
    assert!(full, "the disk never filled: {}", server.stderr());
    // More polls, more failed writes: still one warning, and feeds are served.
    for n in 0..300 {
        assert_eq!(
            poll(
                &server,
                "127.0.0.1",
                "/rss.xml",
                &format!("more-{n}-{long}")
            ),
            200
        );
    }
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(get(server.addr(), "/atom.xml", &[]).status, 200);
    let log = server.stderr();
    assert_eq!(log.matches("statistics dropped").count(), 1, "{log}");
    assert!(
        log.contains("statistics dropped: the disk is full"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let ws = stats_workspace("trusted_proxies = [\"127.0.0.1\"]");
    let server = start(&ws);
    let addr = server.addr();
    let agent = ("User-Agent", "newsboat/2.30 (Linux x86_64)");
    // Through the trusted proxy: one client per forwarded address (the last untrusted one).
    for forwarded in [
        "198.51.100.1",
        "198.51.100.2",
        "203.0.113.7, 198.51.100.2",
        "198.51.100.3, 127.0.0.1",
    ] {
        let r = request_from(
            ip("127.0.0.1"),
            addr,
            "GET",
            "/rss.xml",
            &[agent, ("X-Forwarded-For", forwarded)],
        );
        assert_eq!(r.status, 200);
    }
    // From anyone else the header is ignored: one client, whatever it says.
    for forwarded in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        let r = request_from(
            ip("127.55.0.2"),
            addr,
            "GET",
            "/rss.xml",
            &[agent, ("X-Forwarded-For", forwarded)],
        );
        assert_eq!(r.status, 200);
    }
    let json = wait_for_total(&server, 4);
    assert_eq!(feed(&json, "/rss.xml")["direct_clients"], 4, "{json:#}");
    drop(server);
    let bytes = database_bytes(&ws.path("feedpub-stats.sqlite"));
    for address in ["198.51.100.1", "198.51.100.3", "192.0.2.1"] {
        assert!(!contains(&bytes, address.as_bytes()), "{address}");
    }
}
