//! Black-box tests of the whole pipeline: article files in, RSS 2.0 and Atom 1.0 out.
//!
//! Every test runs the `feedpub` binary in a fresh temporary folder (so the repository's
//! `feedpub.toml` is never picked up by accident) and reads the feeds back with three
//! independent readers: the `rss` crate, the `atom_syndication` crate and `feed-rs`.
//! The expected values come from `tests/fixtures/articles/EXPECTED.md`.
//! The property test at the end drives the library directly, for speed.

mod common;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use common::*;
use filetime::FileTime;
use proptest::prelude::*;

const ID_PREFIX: &str = "tag:test.example,2018:a:";
const BASE_URL: &str = "http://feeds.test";
const TEST_CONFIG: &str = r#"timezone = "Asia/Tehran"
id_prefix = "tag:test.example,2018:a:"
base_url = "http://feeds.test"
"#;

/// corpus/: the 9 published items, newest first: (id, title, published).
const CORPUS: [(&str, &str, &str); 9] = [
    (
        "70107",
        "Thief caught after posting stolen watch online",
        "2024-03-02T14:05:00+03:30",
    ),
    (
        "70109",
        "Metro police arrest pickpocketing gang",
        "2024-02-10T09:30:00+03:30",
    ),
    (
        "70106",
        "Swimmers warned after two drownings in Caspian",
        "2023-06-04T19:20:00+03:30",
    ),
    (
        "005_14a4ec46842397c3",
        "Lost and found office returns 500 items",
        "2022-11-11T00:00:00+03:30",
    ),
    (
        "70104",
        "Speeding fines & towing < last year, says traffic chief",
        "2021-05-30T09:45:00+04:30",
    ),
    (
        "70103",
        "Police seize 3,000 smuggled mobile phones",
        "2020-02-18T11:00:00+03:30",
    ),
    (
        "70102",
        "نجات سه کوهنورد گرفتار در ارتفاعات دماوند",
        "2019-07-23T16:30:00+04:30",
    ),
    (
        "70108",
        "Bank guard foils robbery attempt",
        "2018-08-05T06:30:00+04:30",
    ),
    (
        "70101",
        "Snowfall closes Chalus road for six hours",
        "2017-01-15T07:50:00+03:30",
    ),
];

/// parse/: every file alone gives one item: (file, id, title, published, paragraphs).
const PARSE: [(&str, &str, &str, &str, usize); 15] = [
    (
        "bom.txt",
        "60102",
        "Highway patrol reports quiet holiday weekend",
        "2021-06-17T21:10:00+04:30",
        2,
    ),
    (
        "control_chars.txt",
        "60112",
        "Warehouse fire under investigation in south Tehran",
        "2020-01-20T15:25:00+03:30",
        2,
    ),
    (
        "crlf.txt",
        "60101",
        "Police open new station in Pardis",
        "2020-10-05T10:20:00+03:30",
        2,
    ),
    (
        "full_month.txt",
        "full_month",
        "Students return to school under police traffic watch",
        "2020-09-01T00:00:00+04:30",
        1,
    ),
    (
        "multiline_paragraph.txt",
        "60113",
        "Bus drivers trained in first aid",
        "2021-05-06T12:10:00+04:30",
        2,
    ),
    (
        "nbsp_whitespace.txt",
        "60108",
        "Night patrols increased in old bazaar district",
        "2023-11-12T13:30:00+03:30",
        2,
    ),
    (
        "no_chrome.txt",
        "60103",
        "Ice warning issued for mountain roads",
        "2017-02-28T16:00:00+03:30",
        1,
    ),
    (
        "no_date_line.txt",
        "60104",
        "Stolen tractor found within a day",
        "2022-07-11T08:45:00+04:30",
        2,
    ),
    (
        "no_footer.txt",
        "no_footer",
        "Volunteers join neighbourhood watch scheme",
        "2019-09-03T00:00:00+04:30",
        2,
    ),
    (
        "persian.txt",
        "60109",
        "کشف ۲۰۰ کیلوگرم تریاک در عملیات پلیس",
        "2023-04-26T18:20:00+03:30",
        2,
    ),
    (
        "seed.txt",
        "26462",
        "The need for international capacity building to combat cybercrime",
        "2018-05-12T12:55:00+04:30",
        15,
    ),
    (
        "single_digit_footer.txt",
        "60106",
        "Schools take part in road safety week",
        "2019-03-09T07:05:00+03:30",
        1,
    ),
    (
        "spaced_footer.txt",
        "123",
        "Lost pilgrims guided home by border patrol",
        "2019-03-09T07:05:00+03:30",
        1,
    ),
    (
        "special_chars.txt",
        "60110",
        "Fines & “fees” <rise> for 'drivers'",
        "2018-08-14T10:15:00+04:30",
        2,
    ),
    (
        "windows1252.txt",
        "60111",
        "Café owner’s “lost” wallet returned by officers",
        "2019-12-02T11:40:00+03:30",
        1,
    ),
];

const BAD_FILES: [&str; 5] = [
    "binary.txt",
    "blank.txt",
    "empty.txt",
    "no_date.txt",
    "no_title.txt",
];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn date(rfc3339: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
}

/// Asserts that two dates are the same instant written with the same UTC offset.
fn assert_same_date(what: &str, actual: DateTime<FixedOffset>, expected: &str) {
    let expected = date(expected);
    assert_eq!(actual, expected, "{what}: instant");
    assert_eq!(actual.offset(), expected.offset(), "{what}: UTC offset");
}

/// The two documents of one build.
struct Built {
    rss: Vec<u8>,
    atom: Vec<u8>,
}

impl Built {
    fn read(out: &Path) -> Built {
        Built {
            rss: fs::read(out.join("rss.xml")).expect("rss.xml was written"),
            atom: fs::read(out.join("atom.xml")).expect("atom.xml was written"),
        }
    }

    fn channel(&self) -> rss::Channel {
        rss::Channel::read_from(&self.rss[..]).expect("rss.xml is read by the rss crate")
    }

    fn atom_feed(&self) -> atom_syndication::Feed {
        atom_syndication::Feed::read_from(&self.atom[..])
            .expect("atom.xml is read by atom_syndication")
    }

    fn rss_by_feed_rs(&self) -> feed_rs::model::Feed {
        check_feed("rss.xml", &self.rss)
    }

    fn atom_by_feed_rs(&self) -> feed_rs::model::Feed {
        check_feed("atom.xml", &self.atom)
    }

    fn rss_guids(&self) -> Vec<String> {
        self.channel()
            .items()
            .iter()
            .map(|i| i.guid().expect("every item has a guid").value().to_string())
            .collect()
    }

    fn atom_ids(&self) -> Vec<String> {
        self.atom_feed()
            .entries()
            .iter()
            .map(|e| e.id().to_string())
            .collect()
    }
}

/// A workspace whose configuration is [`TEST_CONFIG`]; the binary runs inside it.
fn workspace() -> Workspace {
    Workspace::with_config(TEST_CONFIG)
}

/// Runs of the binary in a workspace on a given articles folder.
trait Pipeline {
    fn command(&self, subcommand: &str, articles: &Path) -> Command;

    /// Runs `build` into the folder `out` (relative to the workspace).
    fn build(&self, articles: &Path, out: &str, extra: &[&str]) -> (Run, PathBuf);

    /// Runs `build` and asserts that it published; returns the documents.
    fn build_ok(&self, articles: &Path, out: &str, extra: &[&str]) -> Built {
        let (run, out) = self.build(articles, out, extra);
        assert_eq!(run.code, 0, "build must succeed: {run:?}");
        Built::read(&out)
    }

    fn check(&self, articles: &Path) -> Run {
        Run::of(&mut self.command("check", articles))
    }
}

impl Pipeline for Workspace {
    fn command(&self, subcommand: &str, articles: &Path) -> Command {
        let mut command = feedpub(self.root());
        command
            .arg(subcommand)
            .arg("--config")
            .arg(&self.config)
            .arg("--articles")
            .arg(articles);
        command
    }

    fn build(&self, articles: &Path, out: &str, extra: &[&str]) -> (Run, PathBuf) {
        let out = self.path(out);
        let run = Run::of(
            self.command("build", articles)
                .arg("--out")
                .arg(&out)
                .args(extra),
        );
        (run, out)
    }
}

/// The 1-based line of the first byte for which `pred` holds.
fn line_of_first(bytes: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    let pos = bytes.iter().position(|&b| pred(b)).expect("such a byte");
    1 + bytes[..pos].iter().filter(|&&b| b == b'\n').count()
}

/// The line numbers `N` of every `FILE:N:` in `line`, where FILE ends with `name`.
fn line_numbers_after(line: &str, name: &str) -> Vec<usize> {
    let needle = format!("{name}:");
    line.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &line[i + needle.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = rest[digits.len()..].chars().next();
            (!digits.is_empty() && after == Some(':')).then(|| digits.parse().unwrap())
        })
        .collect()
}

/// Reverses `paragraphs_html`-style markup: `<p>…</p>` lines with HTML-escaped text.
fn html_paragraphs_text(html: &str) -> Vec<String> {
    // Text in another language than the site's, or right to left, is wrapped in one
    // `<div lang=".." dir="..">`.
    let html = match html.strip_prefix("<div lang=\"") {
        Some(rest) => {
            let (open, inner) = rest.split_once('\n').expect("the wrapper's own line");
            assert!(
                open.ends_with("\">") && open.contains("\" dir=\""),
                "{html}"
            );
            inner.strip_suffix("\n</div>").expect("the wrapper closes")
        }
        None => html,
    };
    html.lines()
        .map(|line| {
            let inner = line
                .strip_prefix("<p>")
                .and_then(|l| l.strip_suffix("</p>"))
                .unwrap_or_else(|| panic!("not a <p> line: {line:?}"));
            assert!(
                !inner.contains('<') && !inner.contains('>'),
                "unescaped markup in {inner:?}"
            );
            inner
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}

fn rss_date(item: &rss::Item) -> DateTime<FixedOffset> {
    let text = item.pub_date().expect("every item has a pubDate");
    DateTime::parse_from_rfc2822(text).unwrap_or_else(|e| panic!("pubDate {text:?}: {e}"))
}

// ---------------------------------------------------------------------------------------
// corpus/
// ---------------------------------------------------------------------------------------

#[test]
fn corpus_builds_nine_items_newest_first_with_exact_ids_titles_links_and_dates() {
    let ws = workspace();
    let (run, out) = ws.build(&fixtures("corpus"), "out", &[]);
    assert_eq!(
        run.code, 0,
        "one article is rejected but others publish: {run:?}"
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("rejected") && l.contains("zz_bad_no_date.txt")),
        "the rejected file is named on stderr: {run:?}"
    );
    assert!(
        !run.stderr
            .lines()
            .filter(|l| l.contains("rejected"))
            .any(|l| !l.contains("zz_bad_no_date.txt")),
        "only zz_bad_no_date.txt is rejected: {run:?}"
    );
    let built = Built::read(&out);
    assert_well_formed("rss.xml", &built.rss);
    assert_well_formed("atom.xml", &built.atom);

    // RSS, read by the rss crate.
    let channel = built.channel();
    let items = channel.items();
    assert_eq!(items.len(), CORPUS.len(), "RSS item count");
    for (item, (id, title, published)) in items.iter().zip(CORPUS) {
        let what = format!("RSS item {id}");
        assert_eq!(item.title(), Some(title), "{what}: title");
        let guid = item.guid().expect("guid");
        assert_eq!(guid.value(), format!("{ID_PREFIX}{id}"), "{what}: guid");
        assert!(
            !guid.is_permalink(),
            "{what}: guid isPermaLink must be false"
        );
        assert_eq!(
            item.link(),
            Some(format!("{BASE_URL}/articles/{id}.html").as_str()),
            "{what}: link"
        );
        assert_same_date(&format!("{what}: pubDate"), rss_date(item), published);
    }
    let newest = CORPUS[0].2;
    let last_build = channel.last_build_date().expect("lastBuildDate");
    assert_same_date(
        "RSS lastBuildDate",
        DateTime::parse_from_rfc2822(last_build).expect("RFC 2822 lastBuildDate"),
        newest,
    );
    let self_links: Vec<_> = channel
        .atom_ext()
        .expect("atom extension on the channel")
        .links()
        .iter()
        .filter(|l| l.rel() == "self")
        .map(|l| l.href().to_string())
        .collect();
    assert_eq!(
        self_links,
        vec![format!("{BASE_URL}/rss.xml")],
        "RSS atom:link rel=self"
    );

    // Atom, read by atom_syndication.
    let feed = built.atom_feed();
    assert_eq!(feed.entries().len(), CORPUS.len(), "Atom entry count");
    for (entry, (id, title, published)) in feed.entries().iter().zip(CORPUS) {
        let what = format!("Atom entry {id}");
        assert_eq!(entry.title().as_str(), title, "{what}: title");
        assert_eq!(entry.id(), format!("{ID_PREFIX}{id}"), "{what}: id");
        let alternate: Vec<_> = entry
            .links()
            .iter()
            .filter(|l| l.rel() == "alternate")
            .map(|l| l.href())
            .collect();
        assert_eq!(
            alternate,
            vec![format!("{BASE_URL}/articles/{id}.html")],
            "{what}: alternate link"
        );
        assert_same_date(
            &format!("{what}: published"),
            *entry.published().expect("published"),
            published,
        );
        assert_same_date(&format!("{what}: updated"), *entry.updated(), published);
    }
    assert_same_date("Atom feed updated", *feed.updated(), newest);
    assert!(
        feed.authors().iter().any(|a| !a.name().trim().is_empty()),
        "Atom feed has an author with a name"
    );
    assert!(
        feed.id().starts_with(ID_PREFIX),
        "Atom feed id {:?} is under the id prefix",
        feed.id()
    );
    assert!(
        feed.entries().iter().all(|e| e.id() != feed.id()),
        "the feed id differs from every entry id"
    );
    let atom_self: Vec<_> = feed
        .links()
        .iter()
        .filter(|l| l.rel() == "self")
        .map(|l| l.href())
        .collect();
    assert_eq!(
        atom_self,
        vec![format!("{BASE_URL}/atom.xml")],
        "Atom self link"
    );

    // RSS and Atom, read by feed-rs: the same checks of both, and the same items in both.
    let rss_rs = built.rss_by_feed_rs();
    let atom_rs = built.atom_by_feed_rs();
    for (format, parsed) in [("RSS", &rss_rs), ("Atom", &atom_rs)] {
        assert_eq!(
            parsed.entries.len(),
            CORPUS.len(),
            "feed-rs {format} entry count"
        );
        for (entry, (id, title, published)) in parsed.entries.iter().zip(CORPUS) {
            let what = format!("feed-rs {format} entry {id}");
            assert_eq!(entry.id, format!("{ID_PREFIX}{id}"), "{what}: id");
            assert_eq!(entry_title(entry), title, "{what}: title");
            assert_eq!(
                entry.links.first().map(|l| l.href.as_str()),
                Some(format!("{BASE_URL}/articles/{id}.html").as_str()),
                "{what}: link"
            );
            assert_eq!(
                entry.published,
                Some(date(published).to_utc()),
                "{what}: published"
            );
        }
        assert_eq!(
            parsed.updated,
            Some(date(newest).to_utc()),
            "feed-rs {format} updated"
        );
    }
    assert_same_items(&rss_rs, &atom_rs, None);
    for (entry, (id, _, published)) in atom_rs.entries.iter().zip(CORPUS) {
        assert_eq!(
            entry.updated,
            Some(date(published).to_utc()),
            "feed-rs Atom entry {id}: updated"
        );
    }
    assert!(!atom_rs.authors.is_empty(), "feed-rs sees the Atom author");
    assert_eq!(atom_rs.id, feed.id(), "feed-rs sees the Atom feed id");
}

#[test]
fn corpus_ids_are_unique_and_identical_in_rss_and_atom() {
    let ws = workspace();
    let built = ws.build_ok(&fixtures("corpus"), "out", &[]);
    let rss = built.rss_guids();
    let atom = built.atom_ids();
    let unique: HashSet<_> = rss.iter().collect();
    assert_eq!(unique.len(), rss.len(), "duplicate guid in {rss:?}");
    assert_eq!(
        rss, atom,
        "RSS and Atom carry the same ids in the same order"
    );
    let expected: Vec<String> = CORPUS
        .iter()
        .map(|c| format!("{ID_PREFIX}{}", c.0))
        .collect();
    assert_eq!(rss, expected);

    // The same items, read by feed-rs, in all three formats.
    let json = fs::read(ws.path("out").join("feed.json")).expect("feed.json was written");
    assert_same_items(
        &built.rss_by_feed_rs(),
        &built.atom_by_feed_rs(),
        Some(&check_feed("feed.json", &json)),
    );
}

/// The shared cross-format check notices an item that differs between RSS and Atom.
#[test]
#[should_panic(expected = "RSS and Atom titles")]
fn the_same_items_check_notices_a_title_that_differs() {
    let ws = workspace();
    let built = ws.build_ok(&fixtures("corpus"), "out", &[]);
    let atom = String::from_utf8(built.atom.clone()).unwrap().replacen(
        "Bank guard foils robbery attempt",
        "Bank guard foils",
        1,
    );
    assert_same_items(
        &built.rss_by_feed_rs(),
        &check_feed("atom.xml", atom.as_bytes()),
        None,
    );
}

#[test]
fn duplicate_scrape_with_more_views_is_the_one_published() {
    let ws = workspace();
    let built = ws.build_ok(&fixtures("corpus"), "out", &[]);
    let guid = format!("{ID_PREFIX}70109");

    let channel = built.channel();
    let dups: Vec<_> = channel
        .items()
        .iter()
        .filter(|i| i.guid().map(|g| g.value()) == Some(guid.as_str()))
        .collect();
    assert_eq!(dups.len(), 1, "the pair gives one RSS item");
    let content = dups[0].content().expect("RSS content:encoded");
    assert!(
        content.contains("gang that targeted passengers"),
        "{content}"
    );
    assert!(!content.contains("targetted"), "{content}");

    let feed = built.atom_feed();
    let dups: Vec<_> = feed.entries().iter().filter(|e| e.id() == guid).collect();
    assert_eq!(dups.len(), 1, "the pair gives one Atom entry");
    let content = dups[0]
        .content()
        .and_then(|c| c.value())
        .expect("Atom content");
    assert!(
        content.contains("gang that targeted passengers"),
        "{content}"
    );
    assert!(!content.contains("targetted"), "{content}");

    for (what, bytes) in [("rss.xml", &built.rss), ("atom.xml", &built.atom)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("targetted"), "{what} carries dup_a's text");
    }
}

// ---------------------------------------------------------------------------------------
// parse/
// ---------------------------------------------------------------------------------------

#[test]
fn each_parse_fixture_alone_gives_one_item_with_expected_title_id_and_date() {
    let ws = workspace();
    for (n, (file, id, title, published, paragraphs)) in PARSE.into_iter().enumerate() {
        let dir = ws.copy_files(&fixtures("parse"), &format!("in{n}"), &[file.to_string()]);
        let built = ws.build_ok(&dir, &format!("out{n}"), &[]);
        assert_well_formed(&format!("{file}: rss.xml"), &built.rss);
        assert_well_formed(&format!("{file}: atom.xml"), &built.atom);

        let channel = built.channel();
        assert_eq!(channel.items().len(), 1, "{file}: RSS item count");
        let item = &channel.items()[0];
        assert_eq!(item.title(), Some(title), "{file}: RSS title");
        assert_eq!(
            item.guid().map(|g| g.value()),
            Some(format!("{ID_PREFIX}{id}").as_str()),
            "{file}: RSS guid"
        );
        assert_eq!(
            item.link(),
            Some(format!("{BASE_URL}/articles/{id}.html").as_str()),
            "{file}: RSS link"
        );
        assert_same_date(&format!("{file}: RSS pubDate"), rss_date(item), published);
        let content = item.content().expect("content:encoded");
        assert_eq!(
            html_paragraphs_text(content).len(),
            paragraphs,
            "{file}: paragraph count in {content}"
        );

        let feed = built.atom_feed();
        assert_eq!(feed.entries().len(), 1, "{file}: Atom entry count");
        let entry = &feed.entries()[0];
        assert_eq!(entry.title().as_str(), title, "{file}: Atom title");
        assert_eq!(entry.id(), format!("{ID_PREFIX}{id}"), "{file}: Atom id");
        assert_same_date(
            &format!("{file}: Atom published"),
            *entry.published().expect("published"),
            published,
        );
        assert_same_date(
            &format!("{file}: Atom updated"),
            *entry.updated(),
            published,
        );

        for (format, parsed) in [
            ("RSS", built.rss_by_feed_rs()),
            ("Atom", built.atom_by_feed_rs()),
        ] {
            assert_eq!(parsed.entries.len(), 1, "{file}: feed-rs {format} count");
            let entry = &parsed.entries[0];
            assert_eq!(
                entry.title.as_ref().map(|t| t.content.as_str()),
                Some(title),
                "{file}: feed-rs {format} title"
            );
            assert_eq!(
                entry.id,
                format!("{ID_PREFIX}{id}"),
                "{file}: feed-rs {format} id"
            );
            assert_eq!(
                entry.published,
                Some(date(published).to_utc()),
                "{file}: feed-rs {format} date"
            );
        }
    }
}

#[test]
fn control_characters_are_removed_and_the_feeds_stay_well_formed_xml() {
    let ws = workspace();
    let dir = ws.copy_files(&fixtures("parse"), "in", &["control_chars.txt".to_string()]);
    let built = ws.build_ok(&dir, "out", &[]);
    let removed = ['\u{1}', '\u{8}', '\u{b}', '\u{1f}', '\u{fffe}'];
    for (what, bytes) in [("rss.xml", &built.rss), ("atom.xml", &built.atom)] {
        assert_well_formed(what, bytes);
        let text = std::str::from_utf8(bytes).expect("UTF-8");
        for c in removed {
            assert!(!text.contains(c), "{what} contains U+{:04X}", c as u32);
            for reference in [format!("&#{};", c as u32), format!("&#x{:x};", c as u32)] {
                assert!(
                    !text.to_ascii_lowercase().contains(&reference),
                    "{what} contains {reference}"
                );
            }
        }
    }
    // The text around the removed characters is kept.
    let channel = built.channel();
    let content = channel.items()[0].content().expect("content:encoded");
    let paragraphs = html_paragraphs_text(content);
    assert_eq!(
        paragraphs[0],
        "Firefighters put out a large blaze at a warehouse in the south of the city on Monday. No one was injured, officials said.",
    );
    assert!(
        paragraphs[1].contains("are investigating the cause of the fire."),
        "{paragraphs:?}"
    );
    let atom = built.atom_feed();
    let atom_content = atom.entries()[0]
        .content()
        .and_then(|c| c.value())
        .expect("Atom content");
    assert_eq!(atom_content, content, "RSS and Atom carry the same content");
}

#[test]
fn check_on_parse_folder_exits_zero_and_warns_with_file_and_line() {
    let ws = workspace();
    let dir = fixtures("parse");
    let run = ws.check(&dir);
    assert_eq!(run.code, 0, "{run:?}");
    let output = run.all_output();

    let w1252 = fs::read(dir.join("windows1252.txt")).unwrap();
    let w1252_line = line_of_first(&w1252, |b| b >= 0x80);
    let control = fs::read(dir.join("control_chars.txt")).unwrap();
    let control_line = line_of_first(&control, |b| matches!(b, 0x01 | 0x08 | 0x0b | 0x1f));

    for (file, line) in [
        ("windows1252.txt", w1252_line),
        ("control_chars.txt", control_line),
    ] {
        let lines: Vec<_> = output
            .lines()
            .filter(|l| line_numbers_after(l, file).contains(&line))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "one warning naming {file}:{line}: expected in {run:?}"
        );
    }
    for (file, ..) in PARSE {
        if file == "windows1252.txt" || file == "control_chars.txt" {
            continue;
        }
        assert!(
            !output.contains(&format!("{file}:")),
            "no message about the clean file {file}: {run:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// bad/
// ---------------------------------------------------------------------------------------

#[test]
fn build_of_only_bad_files_exits_one_and_writes_nothing() {
    let ws = workspace();
    let (run, out) = ws.build(&fixtures("bad"), "out", &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        !out.join("rss.xml").exists() && !out.join("atom.xml").exists(),
        "no feed may be written"
    );
    let leftovers: Vec<_> = fs::read_dir(&out)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "the output folder stays empty: {leftovers:?}"
    );
    for file in BAD_FILES {
        assert!(run.stderr.contains(file), "{file} is reported: {run:?}");
    }
}

#[test]
fn check_of_bad_files_exits_one_and_reports_each_file_once_with_lines() {
    let ws = workspace();
    let dir = fixtures("bad");
    let run = ws.check(&dir);
    assert_eq!(run.code, 1, "{run:?}");
    let output = run.all_output();
    for file in BAD_FILES {
        let lines: Vec<_> = output
            .lines()
            .filter(|l| l.contains(&format!("/{file}:")) || l.starts_with(&format!("{file}:")))
            .collect();
        assert_eq!(lines.len(), 1, "one line naming {file}: {run:?}");
    }

    let binary = fs::read(dir.join("binary.txt")).unwrap();
    let nul_line = line_of_first(&binary, |b| b == 0);
    assert!(
        output
            .lines()
            .any(|l| line_numbers_after(l, "binary.txt") == vec![nul_line]),
        "binary.txt is reported at the line of its first NUL byte ({nul_line}): {run:?}"
    );
    let binary_line = output.lines().find(|l| l.contains("binary.txt")).unwrap();
    assert!(
        binary_line.to_lowercase().contains("binary"),
        "binary.txt is rejected for its binary content: {binary_line}"
    );

    // no_title.txt: chrome (1), date line (3), footer (5); the title is missing after the date.
    let no_title: Vec<usize> = output
        .lines()
        .flat_map(|l| line_numbers_after(l, "no_title.txt"))
        .collect();
    assert_eq!(no_title.len(), 1, "no_title.txt has a line number: {run:?}");
    assert!(
        (4..=5).contains(&no_title[0]),
        "no_title.txt line {} is after the date line: {run:?}",
        no_title[0]
    );
    let no_title_line = output.lines().find(|l| l.contains("no_title.txt")).unwrap();
    assert!(
        no_title_line.to_lowercase().contains("title"),
        "{no_title_line}"
    );
    let no_date_line = output.lines().find(|l| l.contains("no_date.txt")).unwrap();
    assert!(
        no_date_line.to_lowercase().contains("date"),
        "{no_date_line}"
    );
}

#[test]
fn last_paragraph_mentioning_a_number_is_body_text_not_a_malformed_footer() {
    // Per EXPECTED.md, the last line is the footer only when it matches the footer
    // pattern; this article has a date line, so it needs no footer and is valid.
    let ws = workspace();
    let dir = ws.path("in");
    fs::create_dir(&dir).unwrap();
    fs::write(
        dir.join("hotline.txt"),
        "5 May 2021\n\nHotline answers record number of calls\n\n\
         The hotline took 4,000 calls on Tuesday.\n\n\
         Citizens can call the emergency number: 110 at any time.\n",
    )
    .unwrap();
    let run = ws.check(&dir);
    assert_eq!(run.code, 0, "the article is valid: {run:?}");
    let built = ws.build_ok(&dir, "out", &[]);
    let channel = built.channel();
    assert_eq!(channel.items().len(), 1);
    let content = channel.items()[0].content().expect("content:encoded");
    assert!(content.contains("emergency number: 110"), "{content}");
}

// ---------------------------------------------------------------------------------------
// Determinism and change
// ---------------------------------------------------------------------------------------

#[test]
fn output_does_not_depend_on_file_creation_order_mtimes_or_build_time() {
    let ws = workspace();
    let corpus = fixtures("corpus");
    let names = file_names(&corpus);
    assert_eq!(names.len(), 11);

    let forward = ws.copy_files(&corpus, "forward", &names);
    for (i, name) in names.iter().enumerate() {
        let t = FileTime::from_unix_time(1_500_000_000 + 1000 * i as i64, 0);
        filetime::set_file_mtime(forward.join(name), t).unwrap();
    }
    let mut reversed_names = names.clone();
    reversed_names.reverse();
    let reversed = ws.copy_files(&corpus, "reversed", &reversed_names);
    for (i, name) in reversed_names.iter().enumerate() {
        // Scrambled times; then dup_a, the losing scrape, is made the newer file.
        let t = FileTime::from_unix_time(1_700_000_000 - 7919 * ((i as i64 * 5) % 11), 0);
        filetime::set_file_mtime(reversed.join(name), t).unwrap();
    }
    let newer = FileTime::from_unix_time(1_800_000_000, 0);
    filetime::set_file_mtime(reversed.join("dup_a.txt"), newer).unwrap();
    let a = fs::metadata(reversed.join("dup_a.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let b = fs::metadata(reversed.join("dup_b.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(a > b, "the test wants dup_a to be the newer file here");

    let one = ws.build_ok(&forward, "out1", &[]);
    let two = ws.build_ok(&reversed, "out2", &[]);
    assert_eq!(one.channel().items().len(), 9);
    assert!(one.rss == two.rss, "rss.xml differs between copies");
    assert!(one.atom == two.atom, "atom.xml differs between copies");

    std::thread::sleep(Duration::from_millis(1100));
    let three = ws.build_ok(&forward, "out3", &[]);
    assert!(one.rss == three.rss, "rss.xml differs between build times");
    assert!(
        one.atom == three.atom,
        "atom.xml differs between build times"
    );
}

#[test]
fn editing_a_body_changes_the_feeds_and_deleting_a_file_removes_its_item() {
    let ws = workspace();
    let corpus = fixtures("corpus");
    let dir = ws.copy_files(&corpus, "in", &file_names(&corpus));
    let before = ws.build_ok(&dir, "before", &[]);

    let path = dir.join("006_48210dc5923c8399.txt");
    let text = fs::read_to_string(&path).unwrap();
    let edited = text.replace(
        "Strong currents are common near river mouths",
        "Strong currents are frequent near river mouths",
    );
    assert_ne!(text, edited, "the edit applies");
    fs::write(&path, edited).unwrap();
    let after_edit = ws.build_ok(&dir, "edited", &[]);
    assert!(before.rss != after_edit.rss, "the edit changes rss.xml");
    assert!(before.atom != after_edit.atom, "the edit changes atom.xml");
    for (what, bytes) in [("rss.xml", &after_edit.rss), ("atom.xml", &after_edit.atom)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            text.contains("currents are frequent"),
            "{what} has the new text"
        );
        assert!(
            !text.contains("currents are common"),
            "{what} lost the old text"
        );
    }
    assert_eq!(before.rss_guids(), after_edit.rss_guids(), "same items");

    fs::remove_file(dir.join("003_ff503919b68d1922.txt")).unwrap();
    let after_delete = ws.build_ok(&dir, "deleted", &[]);
    let gone = format!("{ID_PREFIX}70103");
    let expected: Vec<String> = before
        .rss_guids()
        .into_iter()
        .filter(|g| *g != gone)
        .collect();
    assert_eq!(after_delete.rss_guids().len(), 8);
    assert_eq!(after_delete.rss_guids(), expected, "RSS lost only 70103");
    assert_eq!(after_delete.atom_ids(), expected, "Atom lost only 70103");
}

#[test]
fn changing_only_the_show_count_leaves_both_feeds_byte_identical() {
    let ws = workspace();
    let corpus = fixtures("corpus");
    let dir = ws.copy_files(&corpus, "in", &file_names(&corpus));
    let before = ws.build_ok(&dir, "before", &[]);

    let path = dir.join("dup_b.txt");
    let text = fs::read_to_string(&path).unwrap();
    let edited = text.replace("Show Count : 2045", "Show Count : 987654");
    assert_ne!(text, edited, "the edit applies");
    fs::write(&path, edited).unwrap();
    let after = ws.build_ok(&dir, "after", &[]);
    assert!(
        before.rss == after.rss,
        "rss.xml changed with the view count"
    );
    assert!(
        before.atom == after.atom,
        "atom.xml changed with the view count"
    );
    for (what, bytes) in [("rss.xml", &after.rss), ("atom.xml", &after.atom)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("987654"), "{what} publishes the view count");
    }
}

// ---------------------------------------------------------------------------------------
// Flags and configuration
// ---------------------------------------------------------------------------------------

#[test]
fn base_url_flag_changes_links_and_self_links_but_not_ids() {
    let ws = workspace();
    let corpus = fixtures("corpus");
    let default = ws.build_ok(&corpus, "default", &[]);
    let other = "http://other.example:9000";
    let moved = ws.build_ok(&corpus, "moved", &["--base-url", other]);

    assert_eq!(
        default.rss_guids(),
        moved.rss_guids(),
        "RSS guids unchanged"
    );
    assert_eq!(default.atom_ids(), moved.atom_ids(), "Atom ids unchanged");
    assert_eq!(
        default.atom_feed().id(),
        moved.atom_feed().id(),
        "Atom feed id unchanged"
    );

    let channel = moved.channel();
    for (item, (id, ..)) in channel.items().iter().zip(CORPUS) {
        assert_eq!(
            item.link(),
            Some(format!("{other}/articles/{id}.html").as_str())
        );
    }
    let self_links: Vec<_> = channel
        .atom_ext()
        .expect("atom extension")
        .links()
        .iter()
        .filter(|l| l.rel() == "self")
        .map(|l| l.href().to_string())
        .collect();
    assert_eq!(self_links, vec![format!("{other}/rss.xml")]);

    let feed = moved.atom_feed();
    for (entry, (id, ..)) in feed.entries().iter().zip(CORPUS) {
        let links: Vec<_> = entry.links().iter().map(|l| l.href()).collect();
        assert_eq!(links, vec![format!("{other}/articles/{id}.html")]);
    }
    let atom_self: Vec<_> = feed
        .links()
        .iter()
        .filter(|l| l.rel() == "self")
        .map(|l| l.href())
        .collect();
    assert_eq!(atom_self, vec![format!("{other}/atom.xml")]);

    for (what, bytes) in [("rss.xml", &moved.rss), ("atom.xml", &moved.atom)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(&format!("{BASE_URL}/")),
            "{what} still links under the configured base_url"
        );
    }
}

#[test]
fn unknown_config_key_makes_build_exit_two_naming_the_key() {
    let ws = Workspace::with_config(&format!("{TEST_CONFIG}titel = \"Typo\"\n"));
    let (run, out) = ws.build(&fixtures("corpus"), "out", &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("titel"), "{run:?}");
    assert!(!out.exists(), "nothing is written on a configuration error");
}

#[test]
fn bad_timezone_makes_build_exit_two_naming_the_key() {
    let config = TEST_CONFIG.replace("Asia/Tehran", "Mars/Olympus_Mons");
    let ws = Workspace::with_config(&config);
    let (run, out) = ws.build(&fixtures("corpus"), "out", &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("timezone"), "{run:?}");
    assert!(run.stderr.contains("Mars/Olympus_Mons"), "{run:?}");
    assert!(!out.exists(), "nothing is written on a configuration error");
}

// ---------------------------------------------------------------------------------------
// Escaping
// ---------------------------------------------------------------------------------------

#[test]
fn markup_in_title_and_body_round_trips_as_text_and_never_as_markup() {
    let ws = workspace();
    let dir = ws.path("in");
    fs::create_dir(&dir).unwrap();
    let title = "Fines & “fees” <rise>";
    fs::write(
        dir.join("escape.txt"),
        format!(
            "Print  Send to Friend\n\n3 Mar 2021\n\n{title}\n\n\
             Officials said <script>alert(\"x&y\")</script> was found.\n\n\
             Second ]]> paragraph & more.\n\n\
             10:00 - 2021/03/03 / number : 90001 / Show Count : 7\n"
        ),
    )
    .unwrap();
    let built = ws.build_ok(&dir, "out", &[]);
    assert_well_formed("rss.xml", &built.rss);
    assert_well_formed("atom.xml", &built.atom);

    let channel = built.channel();
    let item = &channel.items()[0];
    assert_eq!(item.title(), Some(title), "rss crate title");
    let rss_content = item.content().expect("content:encoded");

    let feed = built.atom_feed();
    let entry = &feed.entries()[0];
    assert_eq!(entry.title().as_str(), title, "atom_syndication title");
    let atom_content = entry.content().and_then(|c| c.value()).expect("content");

    let rss_rs = built.rss_by_feed_rs();
    let atom_rs = built.atom_by_feed_rs();
    for (what, parsed) in [("RSS", &rss_rs), ("Atom", &atom_rs)] {
        assert_eq!(
            parsed.entries[0].title.as_ref().map(|t| t.content.as_str()),
            Some(title),
            "feed-rs {what} title"
        );
    }
    let rss_rs_content = rss_rs.entries[0]
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .expect("feed-rs RSS content");
    let atom_rs_content = atom_rs.entries[0]
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .expect("feed-rs Atom content");

    for (what, content) in [
        ("rss content:encoded", rss_content),
        ("atom content", atom_content),
        ("feed-rs RSS content", rss_rs_content.as_str()),
        ("feed-rs Atom content", atom_rs_content.as_str()),
    ] {
        assert!(content.contains("&lt;script&gt;"), "{what}: {content}");
        assert!(!content.contains("<script"), "{what}: {content}");
        assert_eq!(
            html_paragraphs_text(content),
            vec![
                "Officials said <script>alert(\"x&y\")</script> was found.",
                "Second ]]> paragraph & more.",
            ],
            "{what}: the text survives one level of HTML escaping"
        );
    }
    for (what, bytes) in [("rss.xml", &built.rss), ("atom.xml", &built.atom)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("<script"), "{what} carries a live <script>");
        assert!(!text.contains("<rise>"), "{what} carries a live <rise>");
    }
}

// ---------------------------------------------------------------------------------------
// Property: arbitrary text never breaks the XML
// ---------------------------------------------------------------------------------------

/// The documented cleaning of a title line: characters XML 1.0 forbids are removed, tab
/// and CR become spaces, runs of white space become one space, the ends are trimmed.
fn cleaned(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter_map(|c| match c {
            '\t' | '\r' => Some(' '),
            c if xml_allows(c) => Some(c),
            _ => None,
        })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<char>().prop_map(String::from),
        3 => "[a-zA-Z0-9 ]{1,8}",
        1 => Just("]]>".to_string()),
        1 => Just("&".to_string()),
        1 => Just("&amp;".to_string()),
        1 => Just("<".to_string()),
        1 => Just("<script>".to_string()),
        1 => Just(">".to_string()),
        1 => Just("\"'".to_string()),
        1 => Just("\t".to_string()),
        1 => Just("\r".to_string()),
        1 => Just("\u{a0}".to_string()),
        1 => Just("\u{85}\u{2028}".to_string()),
        1 => prop::sample::select(vec![
            '\u{0}', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{1f}', '\u{7f}', '\u{fffe}',
            '\u{ffff}',
        ])
        .prop_map(String::from),
    ]
}

fn text_strategy(newlines: bool) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![9 => fragment(), 1 => Just("\n".to_string())],
        0..24,
    )
    .prop_map(move |parts| {
        let text = parts.concat();
        if newlines {
            text
        } else {
            text.replace('\n', "")
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_title_and_body_give_well_formed_feeds_with_the_cleaned_title(
        title in text_strategy(false),
        body in text_strategy(true),
    ) {
        let config = feedpub::Config::parse(
            Path::new("t.toml"),
            "",
            &feedpub::Overrides::default(),
        )
        .expect("the default configuration");
        let text = format!("1 May 2020\n{title}\n\n{body}\n");
        let expected_title = cleaned(&title);
        let parsed = match feedpub::Article::parse(Path::new("prop.txt"), &text) {
            Ok(parsed) => parsed,
            Err(e) => {
                let message = e.to_string();
                prop_assert!(message.starts_with("prop.txt"), "error names the file: {}", message);
                let footerish = format!("{title}\n{body}").to_lowercase().contains("number");
                prop_assert!(
                    expected_title.is_empty() || footerish,
                    "a usable title was rejected: {}",
                    message
                );
                return Ok(());
            }
        };
        let article = parsed.article;
        if !expected_title.is_empty() {
            prop_assert_eq!(&article.title, &expected_title);
        }
        let feeds = feedpub::Feeds::render(&[Arc::new(article.clone())], &config)
            .expect("a parsed article always renders");
        assert_well_formed("rss.xml", &feeds.rss);
        assert_well_formed("atom.xml", &feeds.atom);

        let channel = rss::Channel::read_from(&feeds.rss[..]).expect("rss crate reads it");
        prop_assert_eq!(channel.items().len(), 1);
        let item = &channel.items()[0];
        prop_assert_eq!(item.title(), Some(article.title.as_str()));
        let rss_content = item.content().unwrap_or("").to_string();

        let feed = atom_syndication::Feed::read_from(&feeds.atom[..])
            .expect("atom_syndication reads it");
        prop_assert_eq!(feed.entries().len(), 1);
        let entry = &feed.entries()[0];
        prop_assert_eq!(entry.title().as_str(), article.title.as_str());
        let atom_content = entry.content().and_then(|c| c.value()).unwrap_or("").to_string();

        prop_assert_eq!(&rss_content, &atom_content);
        let expected: Vec<String> = article.paragraphs.clone();
        let actual = if atom_content.is_empty() { Vec::new() } else { html_paragraphs_text(&atom_content) };
        prop_assert_eq!(actual, expected);
    }
}
