//! Black-box tests of `feedpub serve` as a process: signals (SIGTERM with a response in
//! flight, SIGHUP) and start-up failures. Every child is killed when its handle is dropped.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// How long a start-up may take: the big corpus is compressed three ways by a debug build.
const STARTUP: Duration = Duration::from_secs(180);

/// Starts `feedpub serve` on the workspace's configuration and waits until the whole
/// start-up banner is printed.
fn start(workspace: &Workspace) -> ServerProcess {
    let mut server = ServerProcess::spawn(serve_command(&workspace.config));
    server.wait_for_banner(STARTUP);
    server
}

/// Like [`start`], but returns as soon as the first line, `feedpub is serving on
/// http://ADDR`, arrives.
fn start_announced(workspace: &Workspace) -> ServerProcess {
    let mut server = ServerProcess::spawn(serve_command(&workspace.config));
    server.wait_for_address(STARTUP);
    server
}

/// Writes `count` generated articles of about 1.3 KB each.
fn write_big_corpus(workspace: &Workspace, count: u64) {
    let paragraph = "The municipal council met on Tuesday to discuss the new traffic plan, which \
        includes wider pavements, more bus lanes and a ban on lorries in the old town during \
        the morning rush hour. "
        .repeat(3);
    let base = chrono::NaiveDate::from_ymd_opt(2015, 1, 1)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    for i in 0..count {
        let when = base + chrono::Duration::hours(7 * i as i64);
        let text = article_text(
            100_000 + i,
            &format!("Generated story number {i}"),
            when,
            &[format!("{paragraph}Story {i}."), paragraph.clone()],
        );
        workspace.write_article(&format!("gen_{i:05}.txt"), &text);
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn sigterm_lets_an_in_flight_response_finish_then_exits_zero() {
    let fixture = Workspace::empty("max_items = 3000");
    write_big_corpus(&fixture, 3000);
    let mut server = start(&fixture);
    let addr = server.addr();

    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(
            format!("GET /rss.xml HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    // Read the head and only a few KB of the body.
    let mut received = Vec::new();
    let mut buf = [0u8; 2048];
    while find(&received, b"\r\n\r\n").is_none() || received.len() < 6 * 1024 {
        let n = stream
            .read(&mut buf)
            .expect("read the start of the response");
        assert!(n > 0, "the connection closed early");
        received.extend_from_slice(&buf[..n]);
    }
    let head_end = find(&received, b"\r\n\r\n").unwrap() + 4;
    let head = parse_response(&received[..head_end], true);
    assert_eq!(head.status, 200);
    let content_length: usize = head
        .expect_header("content-length")
        .parse()
        .expect("a numeric Content-Length");
    assert!(
        content_length > 3_000_000,
        "the feed should be several MB, is {content_length} bytes"
    );

    wait_until_catching(server.pid(), libc::SIGTERM, WAIT);
    server.signal(libc::SIGTERM);
    // The server stops listening while our response is still being sent...
    wait_for(WAIT, "new connections to be refused after SIGTERM", || {
        refused(addr).then_some(())
    });
    assert!(
        received.len() - head_end < content_length,
        "the response was complete before SIGTERM; the test needs a bigger feed"
    );
    // ...and still finishes it.
    stream
        .read_to_end(&mut received)
        .expect("read the rest of the in-flight response");
    let status = server.wait_exit(Duration::from_secs(15));
    let body = &received[head_end..];
    assert_eq!(
        body.len(),
        content_length,
        "the in-flight response was cut short; exit status {status:?}; stderr:\n{}",
        server.stderr()
    );
    check_well_formed(body).expect("the in-flight feed is complete XML");
    assert_eq!(parse_feed(body).entries.len(), 3000);

    let status = status.unwrap_or_else(|| {
        panic!(
            "no exit within 15 s of SIGTERM; stderr:\n{}",
            server.stderr()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}; stderr:\n{}",
        server.stderr()
    );
    assert!(refused(addr), "a connection was accepted after shutdown");
}

#[test]
fn sigint_shuts_down_gracefully_with_exit_0() {
    let fixture = Workspace::with_corpus("");
    let mut server = start(&fixture);
    assert_eq!(get(server.addr(), "/healthz", &[]).status, 200);
    wait_until_catching(server.pid(), libc::SIGINT, WAIT);
    server.signal(libc::SIGINT);
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("exit within 15 s of SIGINT");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.stderr());
    assert!(refused(server.addr()));
}

/// SIGHUP regenerates even when no file event announces the change: the article is a
/// symbolic link in the articles folder to a file in a subfolder, which is not watched
/// (and `rescan_interval_secs` is an hour), so only SIGHUP can reveal the new text.
#[test]
fn sighup_regenerates_the_feeds() {
    let fixture = Workspace::with_corpus("rescan_interval_secs = 3600");
    let hidden = fixture.articles.join("sub");
    std::fs::create_dir(&hidden).unwrap();
    let target = hidden.join("real.txt");
    std::fs::write(
        &target,
        simple_article(81_001, "Before the hang-up", 20, "Old text."),
    )
    .unwrap();
    std::os::unix::fs::symlink("sub/real.txt", fixture.article_path("linked.txt")).unwrap();

    let mut server = start(&fixture);
    let addr = server.addr();
    let titles = || entry_titles(&parse_feed(&get(addr, "/rss.xml", &[]).body));
    assert!(titles().iter().any(|t| t == "Before the hang-up"));
    wait_until_catching(server.pid(), libc::SIGHUP, WAIT);

    std::fs::write(
        &target,
        simple_article(81_001, "After the hang-up", 20, "New text."),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        titles().iter().any(|t| t == "Before the hang-up"),
        "the change was noticed without SIGHUP, so this test cannot tell what SIGHUP does"
    );

    server.signal(libc::SIGHUP);
    wait_for(WAIT, "the new title after SIGHUP", || {
        titles()
            .iter()
            .any(|t| t == "After the hang-up")
            .then_some(())
    });
    assert!(server.running(), "SIGHUP stopped the server");
    assert_eq!(get(addr, "/healthz", &[]).status, 200);

    // A new article in the folder followed by SIGHUP appears too (whichever notices it).
    fixture.write_article(
        "sighup_article.txt",
        &simple_article(81_002, "Published after SIGHUP", 21, "Hang-up news."),
    );
    server.signal(libc::SIGHUP);
    wait_for(WAIT, "the new article after SIGHUP", || {
        titles()
            .iter()
            .any(|t| t == "Published after SIGHUP")
            .then_some(())
    });
    assert!(server.running(), "SIGHUP stopped the server");
}

#[test]
fn startup_with_a_missing_articles_folder_fails_naming_the_folder() {
    let fixture = Workspace::empty("");
    std::fs::remove_dir(&fixture.articles).unwrap();
    let (status, stdout, stderr) = serve_to_exit(&fixture.config);
    assert!(!status.success(), "exit status {status}");
    let folder = fixture.articles.display().to_string();
    assert!(
        stderr.contains(&folder),
        "stderr does not name {folder}:\n{stderr}"
    );
    assert!(
        !stdout.contains("feedpub is serving"),
        "claimed to serve:\n{stdout}"
    );
}

#[test]
fn config_with_an_unknown_key_exits_2_naming_the_key() {
    let fixture = Workspace::with_corpus("titel = \"A typo\"");
    let (status, stdout, stderr) = serve_to_exit(&fixture.config);
    assert_eq!(
        status.code(),
        Some(2),
        "exit status {status}; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("titel"),
        "stderr does not name the key:\n{stderr}"
    );
    assert!(
        !stdout.contains("feedpub is serving"),
        "claimed to serve:\n{stdout}"
    );
}

// ---------------------------------------------------------------------------------------
// Signals that arrive as soon as the server announces itself. The announcement is the
// readiness signal a supervisor or script waits for, so signals sent right after it must
// be handled like any other. These tests do not wait for `wait_until_catching`; how often
// they catch the server before its handlers are installed depends on scheduling.
// ---------------------------------------------------------------------------------------

#[test]
fn sighup_sent_as_soon_as_serving_is_announced_does_not_kill_the_server() {
    let fixture = Workspace::with_corpus("");
    let mut server = start_announced(&fixture);
    server.signal(libc::SIGHUP);
    let ended = server.wait_exit(Duration::from_millis(500));
    assert!(
        ended.is_none(),
        "SIGHUP right after `feedpub is serving` ended the process: {ended:?}; stderr:\n{}",
        server.stderr()
    );
    assert_eq!(get(server.addr(), "/healthz", &[]).status, 200);
}

#[test]
fn sigterm_sent_as_soon_as_serving_is_announced_exits_0() {
    let fixture = Workspace::with_corpus("");
    let mut server = start_announced(&fixture);
    server.signal(libc::SIGTERM);
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("exit within 15 s of SIGTERM");
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM right after `feedpub is serving` gave {status}, not a graceful exit 0; stderr:\n{}",
        server.stderr()
    );
}

/// Sets the modification time of every file of `folder` to `time`.
fn set_all_modified(folder: &std::path::Path, time: std::time::SystemTime) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(time).unwrap();
    }
}

/// The number after `field=` in the server's `published` log line.
fn published_count(stderr: &str, field: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.contains("feedpub::serve: published "))
        .unwrap_or_else(|| panic!("no `published` line in:\n{stderr}"));
    let at = line
        .find(&format!("{field}="))
        .unwrap_or_else(|| panic!("no {field} in {line}"));
    line[at + field.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// What `/rss.xml`, `/atom.xml` and `/feed.json` hold, entry by entry.
fn served_items(addr: std::net::SocketAddr) -> Vec<Vec<Item>> {
    ["/rss.xml", "/atom.xml", "/feed.json"]
        .iter()
        .map(|path| items(&parse_feed(&get(addr, path, &[]).body)))
        .collect()
}

/// A start saves what it parsed in the output folder; the next start takes every unchanged
/// article from there instead of reading its file, reads a file rewritten meanwhile (even
/// with its old size and modification time), and serves what a start without saved
/// articles serves. A damaged saved file costs only a full read.
#[test]
fn a_restart_takes_unchanged_articles_from_the_saved_ones_and_reads_changed_files() {
    // One base URL for every start (each listens on a new port).
    let fixture =
        Workspace::with_corpus("rescan_interval_secs = 3600\nbase_url = \"https://news.example\"");
    let edited = fixture.article_path("edited.txt");
    let before = simple_article(82_001, "Title before edit", 30, "Body.");
    let after = simple_article(82_001, "Title after edit!", 30, "Body.");
    assert_eq!(before.len(), after.len());
    std::fs::write(&edited, &before).unwrap();
    // Files modified moments before a scan are never saved: they may change again within
    // the clock's resolution.
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    set_all_modified(&fixture.articles, hour_ago);
    let saved = fixture.output.join(".feedpub-articles");

    let mut server = start(&fixture);
    assert_eq!(published_count(&server.stderr(), "files_read"), 11);
    assert_eq!(published_count(&server.stderr(), "files_restored"), 0);
    wait_for(WAIT, "the saved articles", || saved.is_file().then_some(()));
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(WAIT).and_then(|s| s.code()), Some(0));

    std::fs::write(&edited, &after).unwrap();
    let file = std::fs::File::options().write(true).open(&edited).unwrap();
    file.set_modified(hour_ago).unwrap();
    let mut server = start(&fixture);
    let stderr = server.stderr();
    assert_eq!(published_count(&stderr, "files_read"), 1, "{stderr}");
    assert_eq!(published_count(&stderr, "files_restored"), 10, "{stderr}");
    let restored = served_items(server.addr());
    let titles: Vec<&str> = restored[0].iter().map(|i| i.title.as_str()).collect();
    assert!(titles.contains(&"Title after edit!"), "{titles:?}");
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(WAIT).and_then(|s| s.code()), Some(0));

    // Damaged: ignored with a warning naming it; every file is read.
    let mut bytes = std::fs::read(&saved).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&saved, &bytes).unwrap();
    let server = start(&fixture);
    let stderr = server.stderr();
    assert_eq!(published_count(&stderr, "files_read"), 11, "{stderr}");
    assert!(
        stderr.contains(".feedpub-articles: damaged"),
        "no warning naming the damaged file:\n{stderr}"
    );
    assert!(
        served_items(server.addr()) == restored,
        "the feeds after a full read differ from the restored ones"
    );
}

/// A change is served first as identity, and its gzip and brotli variants follow: within
/// moments every encoding serves the new bytes, each variant decompresses to the identity
/// body, the variant's ETag is the identity's with its coding, and the output folder's
/// `.gz` and `.br` hold the same bytes the server sends.
#[test]
fn after_an_edit_every_encoding_serves_the_new_feed_and_the_disk_copy_agrees() {
    let fixture = Workspace::with_corpus("");
    let mut server = start(&fixture);
    let addr = server.addr();
    let before = get(addr, "/rss.xml", &[]).etag();
    fixture.write_article(
        "breaking.txt",
        &simple_article(82_001, "Compressed after the change", 0, "Fresh news."),
    );
    let identity = wait_for(WAIT, "the new feed", || {
        let r = get(addr, "/rss.xml", &[]);
        (r.etag() != before).then_some(r)
    });
    assert!(entry_titles(&parse_feed(&identity.body))
        .contains(&"Compressed after the change".to_string()));
    let tag = identity.etag();
    for (coding, decode) in [("gzip", gunzip as fn(&[u8]) -> Vec<u8>), ("br", unbrotli)] {
        let variant = wait_for(WAIT, &format!("the {coding} variant"), || {
            let r = get(addr, "/rss.xml", &[("Accept-Encoding", coding)]);
            (r.header("Content-Encoding") == Some(coding) && decode(&r.body) == identity.body)
                .then_some(r)
        });
        assert_eq!(
            variant.etag(),
            format!("{}-{coding}\"", tag.trim_end_matches('"')),
            "the {coding} variant's tag is the identity's with its coding"
        );
        let file = fixture.output.join(format!(
            "rss.xml.{}",
            if coding == "gzip" { "gz" } else { "br" }
        ));
        wait_until(WAIT, &format!("rss.xml's {coding} file on disk"), || {
            std::fs::read(&file).is_ok_and(|bytes| bytes == variant.body)
        });
    }
    assert_eq!(
        std::fs::read(fixture.output.join("rss.xml")).unwrap(),
        identity.body
    );
    server.stop();
}
