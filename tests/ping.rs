//! `feedpub ping` and `feedpub build --ping`, through the binary: loopback hubs record the
//! notifications they get; each feed of the output folder must be announced once per change,
//! never again while it is unchanged, and again after a hub did not accept it.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use sha2::{Digest, Sha256};

const BASE: &str = "http://feeds.test";

/// `ترافیک` in a URL path.
const PERSIAN_SLUG: &str = "%D8%AA%D8%B1%D8%A7%D9%81%DB%8C%DA%A9";

const TRAFFIC: &str = "+++\ntitle = \"Rush hour plan\"\ndate = 2025-01-13T07:30:00+03:30\ntags = [\"Traffic\"]\n+++\n\nMore buses at rush hour.\n";
const PERSIAN: &str = "+++\ntitle = \"طرح جدید ترافیک پایتخت\"\ndate = 2025-01-15T11:00:00+03:30\ntags = [\"ترافیک\"]\n+++\n\nطرح جدید ترافیک از شنبه اجرا می‌شود.\n";
const UNTAGGED: &str = "+++\ntitle = \"A post without tags\"\ndate = 2025-01-17T12:00:00+03:30\n+++\n\nNothing to tag here.\n";

/// A loopback WebSub hub: records the body of every POST and answers with the status it is
/// set to.
struct Hub {
    url: String,
    status: Arc<AtomicU16>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Hub {
    fn start(status: u16) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hub", listener.local_addr().unwrap());
        let hub = Hub {
            url,
            status: Arc::new(AtomicU16::new(status)),
            bodies: Arc::new(Mutex::new(Vec::new())),
        };
        let (status, bodies) = (Arc::clone(&hub.status), Arc::clone(&hub.bodies));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (status, bodies) = (Arc::clone(&status), Arc::clone(&bodies));
                std::thread::spawn(move || answer(stream, &status, &bodies));
            }
        });
        hub
    }

    fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// The bodies received since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.bodies.lock().unwrap())
    }

    /// The topics of the notifications received since the last call, each checked to be
    /// exactly `hub.mode=publish&hub.url=TOPIC`, sorted.
    fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.take().iter().map(|b| topic_of(b)).collect();
        topics.sort();
        topics
    }
}

/// Reads one request from `stream`, records its body, and answers with `status`.
fn answer(mut stream: TcpStream, status: &AtomicU16, bodies: &Mutex<Vec<String>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = find(&buf, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
        if buf.len() < end + 4 + length {
            continue;
        }
        assert!(head.starts_with("post /hub "), "{head}");
        assert!(
            head.contains("content-type: application/x-www-form-urlencoded"),
            "{head}"
        );
        let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
        bodies.lock().unwrap().push(body);
        let status = status.load(Ordering::SeqCst);
        let _ = stream.write_all(
            format!("HTTP/1.1 {status} Hub\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        );
        return;
    }
}

/// The topic of a publish notification, which must be nothing else.
fn topic_of(body: &str) -> String {
    let url = body
        .strip_prefix("hub.mode=publish&hub.url=")
        .unwrap_or_else(|| panic!("not a publish notification: {body}"));
    assert!(!url.contains(['&', '=']), "{body}");
    percent_encoding::percent_decode_str(url)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// The topic URLs of the three feeds in `folder` (`""` for the subscription feeds), sorted
/// with the others by the caller.
fn feeds_of(folder: &str) -> [String; 3] {
    ["rss.xml", "atom.xml", "feed.json"].map(|file| format!("{BASE}{folder}/{file}"))
}

fn sorted(groups: &[&str]) -> Vec<String> {
    let mut topics: Vec<String> = groups.iter().flat_map(|g| feeds_of(g)).collect();
    topics.sort();
    topics
}

const MAIN: &str = "";
const TAG_TRAFFIC: &str = "/tags/traffic";
const LANG_EN: &str = "/lang/en";
const LANG_FA: &str = "/lang/fa";

fn tag_persian() -> String {
    format!("/tags/{PERSIAN_SLUG}")
}

/// A workspace with a Traffic article, a Persian-tagged one and an untagged one (the feeds:
/// 3 subscription feeds, 3 per tag and 3 per language, English and Persian), announced to
/// `hubs`.
fn site(hubs: &[&Hub]) -> Workspace {
    let workspace = Workspace::new();
    workspace.write_article("traffic.md", TRAFFIC);
    workspace.write_article("persian.md", PERSIAN);
    workspace.write_article("untagged.md", UNTAGGED);
    configure(&workspace, hubs);
    workspace
}

fn configure(workspace: &Workspace, hubs: &[&Hub]) {
    let hubs: Vec<String> = hubs.iter().map(|h| format!("\"{}\"", h.url)).collect();
    workspace.write_config(&format!(
        "base_url = \"{BASE}\"\nwebsub_timeout_secs = 2\nhubs = [{}]",
        hubs.join(", ")
    ));
}

fn run(workspace: &Workspace, args: &[&str]) -> Run {
    Run::of(
        feedpub(workspace.root())
            .args(args)
            .arg("--config")
            .arg(&workspace.config),
    )
}

fn build(workspace: &Workspace) {
    let run = run(workspace, &["build"]);
    assert_eq!(run.code, 0, "{run:?}");
}

fn ping(workspace: &Workspace) -> Run {
    run(workspace, &["ping"])
}

fn state_file(workspace: &Workspace) -> std::path::PathBuf {
    workspace.output.join(".feedpub-pinged")
}

/// The topics the state file lists, after checking its header, its order and that each
/// digest is the SHA-256 of the feed's file.
fn recorded(workspace: &Workspace) -> Vec<String> {
    let text = fs::read_to_string(state_file(workspace)).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("# feedpub ping state 1"), "{text}");
    let mut topics = Vec::new();
    for line in lines {
        let (digest, topic) = line.split_once(' ').unwrap();
        let path = topic.strip_prefix(BASE).unwrap();
        let path = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .unwrap();
        let bytes = fs::read(workspace.output.join(&path[1..])).unwrap();
        let expected: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, expected, "{topic}");
        topics.push(topic.to_string());
    }
    let mut in_order = topics.clone();
    in_order.sort();
    assert_eq!(topics, in_order, "the state file is sorted:\n{text}");
    topics
}

#[test]
fn each_feed_is_announced_once_per_change_and_gone_feeds_leave_the_state() {
    let hub = Hub::start(202);
    let workspace = site(&[&hub]);
    build(&workspace);

    let first = ping(&workspace);
    assert_eq!(first.code, 0, "{first:?}");
    let all = sorted(&[MAIN, TAG_TRAFFIC, &tag_persian(), LANG_EN, LANG_FA]);
    assert_eq!(all.len(), 15);
    assert_eq!(hub.topics(), all);
    for topic in &all {
        assert!(
            first
                .stdout
                .contains(&format!("pinged {} for {topic}\n", hub.url)),
            "{first:?}"
        );
    }
    assert_eq!(recorded(&workspace), all);

    // Nothing changed: no request at all.
    let second = ping(&workspace);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stdout.contains("nothing changed"), "{second:?}");
    assert_eq!(hub.take(), Vec::<String>::new());

    // Rebuilding the same articles writes the same bytes: still nothing to announce.
    build(&workspace);
    assert_eq!(ping(&workspace).code, 0);
    assert_eq!(hub.take(), Vec::<String>::new());

    // The Persian article changes: the subscription feeds, its tag's and its language's, not
    // Traffic's or English's.
    workspace.write_article("persian.md", &PERSIAN.replace("شنبه", "یکشنبه"));
    build(&workspace);
    let third = ping(&workspace);
    assert_eq!(third.code, 0, "{third:?}");
    assert_eq!(hub.topics(), sorted(&[MAIN, &tag_persian(), LANG_FA]));
    assert_eq!(recorded(&workspace), all);

    // The only Traffic article goes: its tag's feeds are gone, announced no more, and
    // dropped from the state.
    fs::remove_file(workspace.article_path("traffic.md")).unwrap();
    build(&workspace);
    assert!(!workspace.output.join("tags/traffic").exists());
    let fourth = ping(&workspace);
    assert_eq!(fourth.code, 0, "{fourth:?}");
    assert_eq!(hub.topics(), sorted(&[MAIN, LANG_EN]));
    assert_eq!(
        recorded(&workspace),
        sorted(&[MAIN, &tag_persian(), LANG_EN, LANG_FA])
    );
}

#[test]
fn a_topic_a_hub_failed_is_kept_for_the_next_ping_and_sent_to_every_hub_again() {
    let good = Hub::start(202);
    let failing = Hub::start(500);
    let workspace = Workspace::new();
    workspace.write_article("untagged.md", UNTAGGED);
    configure(&workspace, &[&good, &failing]);
    build(&workspace);

    let failed = ping(&workspace);
    assert_eq!(failed.code, 1, "{failed:?}");
    for topic in feeds_of(MAIN).into_iter().chain(feeds_of(LANG_EN)) {
        let line = format!("error: {} did not accept {topic}: status 500", failing.url);
        assert!(failed.stderr.contains(&line), "{failed:?}");
        assert!(
            failed
                .stdout
                .contains(&format!("pinged {} for {topic}\n", good.url)),
            "{failed:?}"
        );
    }
    assert_eq!(good.topics(), sorted(&[MAIN, LANG_EN]));
    // Retried before giving up.
    assert!(failing.take().len() > 3);
    assert_eq!(recorded(&workspace), Vec::<String>::new());

    // The hub is fixed: the same topics again, to both hubs, and now recorded.
    failing.set_status(204);
    let retried = ping(&workspace);
    assert_eq!(retried.code, 0, "{retried:?}");
    assert_eq!(good.topics(), sorted(&[MAIN, LANG_EN]));
    assert_eq!(failing.topics(), sorted(&[MAIN, LANG_EN]));
    assert_eq!(recorded(&workspace), sorted(&[MAIN, LANG_EN]));
    assert_eq!(ping(&workspace).code, 0);
    assert!(good.take().is_empty() && failing.take().is_empty());
}

#[test]
fn a_changed_feed_a_hub_failed_keeps_its_old_digest_until_a_ping_succeeds() {
    let hub = Hub::start(202);
    let workspace = Workspace::new();
    workspace.write_article("untagged.md", UNTAGGED);
    configure(&workspace, &[&hub]);
    build(&workspace);
    assert_eq!(ping(&workspace).code, 0);
    let before = fs::read_to_string(state_file(&workspace)).unwrap();
    hub.take();

    workspace.write_article("untagged.md", &UNTAGGED.replace("Nothing", "Still nothing"));
    build(&workspace);
    hub.set_status(400);
    let refused = ping(&workspace);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("status 400"), "{refused:?}");
    // A client error is not retried.
    assert_eq!(hub.topics(), sorted(&[MAIN, LANG_EN]));
    assert_eq!(
        fs::read_to_string(state_file(&workspace)).unwrap(),
        before,
        "the state still holds the digests last accepted"
    );

    hub.set_status(202);
    assert_eq!(ping(&workspace).code, 0);
    assert_eq!(hub.topics(), sorted(&[MAIN, LANG_EN]));
    assert_eq!(recorded(&workspace), sorted(&[MAIN, LANG_EN]));
}

#[test]
fn build_with_ping_announces_what_it_just_wrote() {
    let hub = Hub::start(202);
    let workspace = site(&[&hub]);
    let built = run(&workspace, &["build", "--ping"]);
    assert_eq!(built.code, 0, "{built:?}");
    assert!(built.stdout.contains("published 3 article(s)"), "{built:?}");
    assert_eq!(
        hub.topics(),
        sorted(&[MAIN, TAG_TRAFFIC, &tag_persian(), LANG_EN, LANG_FA])
    );
    let again = run(&workspace, &["build", "--ping"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("nothing changed"), "{again:?}");
    assert!(hub.take().is_empty());

    // A hub that refuses makes the build fail, though the site is written.
    workspace.write_article("untagged.md", &UNTAGGED.replace("Nothing", "Something"));
    hub.set_status(403);
    let refused = run(&workspace, &["build", "--ping"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(fs::read_to_string(workspace.output.join("rss.xml"))
        .unwrap()
        .contains("Something"));
    assert_eq!(hub.topics(), sorted(&[MAIN, LANG_EN]));
}

#[test]
fn build_without_ping_announces_nothing_and_a_failed_build_pings_nothing() {
    let hub = Hub::start(202);
    let workspace = site(&[&hub]);
    build(&workspace);
    assert!(hub.take().is_empty());
    assert!(!state_file(&workspace).exists());

    let empty = Workspace::new();
    configure(&empty, &[&hub]);
    let failed = run(&empty, &["build", "--ping"]);
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(hub.take().is_empty());
}

#[test]
fn a_corrupt_state_file_is_reported_and_every_feed_announced_again() {
    let hub = Hub::start(202);
    let workspace = site(&[&hub]);
    build(&workspace);
    assert_eq!(ping(&workspace).code, 0);
    hub.take();

    fs::write(state_file(&workspace), "not a state file\n").unwrap();
    let run = ping(&workspace);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains(".feedpub-pinged:1:"),
        "{run:?}"
    );
    assert_eq!(hub.topics().len(), 15);
    assert_eq!(recorded(&workspace).len(), 15);
}

#[test]
fn without_hubs_nothing_is_read_or_written() {
    let workspace = Workspace::new();
    workspace.write_article("untagged.md", UNTAGGED);
    workspace.write_config(&format!("base_url = \"{BASE}\""));
    build(&workspace);
    let run = ping(&workspace);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("no WebSub hubs configured"), "{run:?}");
    assert!(!state_file(&workspace).exists());
}

#[test]
fn an_output_folder_that_cannot_be_read_fails_naming_it_and_a_bad_configuration_exits_2() {
    let hub = Hub::start(202);
    let workspace = site(&[&hub]);
    let missing = ping(&workspace);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains(&workspace.output.display().to_string()),
        "{missing:?}"
    );

    workspace.create_output();
    let empty = ping(&workspace);
    assert_eq!(empty.code, 1, "{empty:?}");
    assert!(empty.stderr.contains("no feed"), "{empty:?}");
    assert!(hub.take().is_empty());

    workspace.write_config("hubs = [\"ftp://nowhere\"]\nbase_url = \"http://a\"");
    assert_eq!(ping(&workspace).code, 2);
}

#[test]
fn ping_help_says_what_it_announces_and_its_exit_codes() {
    let run = Run::of(feedpub(std::env::temp_dir().as_path()).args(["ping", "--help"]));
    assert_eq!(run.code, 0, "{run:?}");
    for needle in [
        "rss.xml",
        "tags/",
        ".feedpub-pinged",
        "no hub",
        "Exits 0",
        "--out",
        "--base-url",
    ] {
        assert!(run.stdout.contains(needle), "{needle}: {run:?}");
    }
    let build = Run::of(feedpub(std::env::temp_dir().as_path()).args(["build", "--help"]));
    assert!(build.stdout.contains("--ping"), "{build:?}");
}
