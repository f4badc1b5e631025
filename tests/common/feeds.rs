//! Feed checks. Every document is checked for well-formedness (XML) or validity (JSON),
//! then read by `feed-rs` into its neutral model, so that one check serves RSS 2.0, Atom 1.0
//! and JSON Feed alike: [`check_feed`] for one document, [`assert_same_items`] for the
//! formats of one build.

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed};

/// Parses a feed with `feed-rs`, panicking with the reason when it cannot.
pub fn parse_feed(bytes: &[u8]) -> Feed {
    feed_rs::parser::parse(bytes).unwrap_or_else(|e| {
        panic!(
            "not a feed: {e}; the body starts with {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        )
    })
}

/// The whole check of one document: a JSON Feed must be valid JSON, anything else
/// well-formed XML ([`check_well_formed`]); then `feed-rs` must read it, and every entry
/// must have an id. Returns the neutral model. `what` names the document in messages.
pub fn check_feed(what: &str, bytes: &[u8]) -> Feed {
    if is_json(bytes) {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .unwrap_or_else(|e| panic!("{what}: not valid JSON: {e}"));
    } else {
        assert_well_formed(what, bytes);
    }
    let feed = feed_rs::parser::parse(bytes)
        .unwrap_or_else(|e| panic!("{what}: feed-rs cannot read it: {e}"));
    for (i, entry) in feed.entries.iter().enumerate() {
        assert!(!entry.id.is_empty(), "{what}: entry {i} has no id");
    }
    feed
}

/// Is `bytes` a complete feed: well-formed XML that `feed-rs` reads?
pub fn is_complete_feed(bytes: &[u8]) -> bool {
    check_well_formed(bytes).is_ok() && feed_rs::parser::parse(bytes).is_ok()
}

/// Does the document look like JSON (its first non-blank byte is `{`)?
fn is_json(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// What the tests compare of an entry, the same for every format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The guid (RSS), id (Atom) or id (JSON Feed).
    pub id: String,
    /// The title as text.
    pub title: String,
    /// The first link.
    pub link: Option<String>,
    /// The publication instant.
    pub published: Option<DateTime<Utc>>,
    /// The full content (RSS `content:encoded`, Atom `content`, JSON `content_html`).
    pub content: Option<String>,
}

impl Item {
    /// The comparable parts of `entry`.
    pub fn of(entry: &Entry) -> Item {
        Item {
            id: entry.id.clone(),
            title: entry_title(entry),
            link: entry.links.first().map(|l| l.href.clone()),
            published: entry.published,
            content: entry_content(entry),
        }
    }
}

/// The comparable parts of every entry of `feed`, in order.
pub fn items(feed: &Feed) -> Vec<Item> {
    feed.entries.iter().map(Item::of).collect()
}

/// An entry's title as text (empty when it has none).
pub fn entry_title(entry: &Entry) -> String {
    entry
        .title
        .as_ref()
        .map(|t| t.content.clone())
        .unwrap_or_default()
}

/// An entry's full content, when it has one.
pub fn entry_content(entry: &Entry) -> Option<String> {
    entry.content.as_ref().and_then(|c| c.body.clone())
}

/// Every HTML fragment of an entry that a reader may display: the content, and the
/// summary (RSS `description`, Atom `summary`) when it is HTML rather than plain text.
pub fn entry_html(entry: &Entry) -> Vec<String> {
    let summary = entry
        .summary
        .as_ref()
        .filter(|s| s.content_type.to_string().contains("html"))
        .map(|s| s.content.clone());
    entry_content(entry).into_iter().chain(summary).collect()
}

/// The titles of a feed's entries.
pub fn entry_titles(feed: &Feed) -> Vec<String> {
    feed.entries.iter().map(entry_title).collect()
}

/// The ids of a feed's entries.
pub fn entry_ids(feed: &Feed) -> Vec<String> {
    feed.entries.iter().map(|e| e.id.clone()).collect()
}

/// The titles of a feed's entries, sorted.
pub fn sorted_titles(feed: &Feed) -> Vec<String> {
    let mut titles = entry_titles(feed);
    titles.sort();
    titles
}

/// Asserts that the RSS, the Atom and (when given) the JSON feed of one build carry the
/// same items in the same order: ids, titles, links and publication instants, and the same
/// content wherever both formats carry one.
pub fn assert_same_items(rss: &Feed, atom: &Feed, json: Option<&Feed>) {
    let rss_items = items(rss);
    let mut others = vec![("Atom", items(atom))];
    if let Some(json) = json {
        others.push(("JSON Feed", items(json)));
    }
    for (format, other) in others {
        assert_eq!(
            rss_items.len(),
            other.len(),
            "RSS and {format} hold the same number of items"
        );
        for (i, (a, b)) in rss_items.iter().zip(&other).enumerate() {
            let what = format!("item {i} ({})", a.id);
            assert_eq!(a.id, b.id, "{what}: RSS and {format} ids");
            assert_eq!(a.title, b.title, "{what}: RSS and {format} titles");
            assert_eq!(a.link, b.link, "{what}: RSS and {format} links");
            assert_eq!(
                a.published, b.published,
                "{what}: RSS and {format} publication dates"
            );
            if let (Some(x), Some(y)) = (&a.content, &b.content) {
                assert_eq!(x, y, "{what}: RSS and {format} content");
            }
        }
    }
}

/// XML 1.0 `Char` (§2.2), written independently of the crate under test.
pub fn xml_allows(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `Err` naming the first character of `text` that XML 1.0 does not allow.
pub fn xml_text_ok(text: &str) -> Result<(), String> {
    match text.chars().find(|&c| !xml_allows(c)) {
        Some(c) => Err(format!(
            "character U+{:04X} is not allowed in XML 1.0",
            c as u32
        )),
        None => Ok(()),
    }
}

/// Reads every event of `bytes` with quick-xml until Eof: UTF-8, no error, every
/// character and every resolved reference (in text and attributes) allowed by XML 1.0,
/// end tags matching their start tags, no text or CDATA outside the root, exactly one root
/// element. `Err` describes the first violation.
pub fn check_well_formed(bytes: &[u8]) -> Result<(), String> {
    use quick_xml::events::{BytesStart, Event};

    fn attributes(e: &BytesStart) -> Result<(), String> {
        for attr in e.attributes() {
            let attr = attr.map_err(|err| format!("bad attribute: {err}"))?;
            let value = attr
                .unescape_value()
                .map_err(|err| format!("bad attribute value: {err}"))?;
            xml_text_ok(&value)?;
        }
        Ok(())
    }

    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    xml_text_ok(text)?;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut roots = 0usize;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            format!(
                "not well-formed near byte {}: {e}",
                reader.buffer_position()
            )
        })?;
        match event {
            Event::Start(e) => {
                attributes(&e)?;
                if stack.is_empty() {
                    roots += 1;
                }
                stack.push(e.name().as_ref().to_vec());
            }
            Event::Empty(e) => {
                attributes(&e)?;
                if stack.is_empty() {
                    roots += 1;
                }
            }
            Event::End(e) => {
                let open = stack.pop().ok_or("end tag without start tag")?;
                if open != e.name().as_ref() {
                    return Err("mismatched end tag".into());
                }
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| format!("bad text or reference: {e}"))?;
                xml_text_ok(&text)?;
                if stack.is_empty() && !text.trim().is_empty() {
                    return Err(format!("text outside the root: {text:?}"));
                }
            }
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err("CDATA outside the root".into());
                }
                xml_text_ok(std::str::from_utf8(&c).map_err(|e| e.to_string())?)?;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err("unclosed elements at the end".into());
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

/// [`check_well_formed`], panicking with `what` and the reason.
pub fn assert_well_formed(what: &str, bytes: &[u8]) {
    if let Err(e) = check_well_formed(bytes) {
        panic!("{what}: {e}");
    }
}

/// Where two documents, each with a label, first differ: the line, and both texts around
/// the first differing character (lines may be long: the feeds are written on one line).
pub fn first_difference((a_label, a): (&str, &[u8]), (b_label, b): (&str, &[u8])) -> String {
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    for (n, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            let at = x.chars().zip(y.chars()).take_while(|(p, q)| p == q).count();
            let around = |s: &str| {
                s.chars()
                    .skip(at.saturating_sub(60))
                    .take(160)
                    .collect::<String>()
            };
            return format!(
                "first difference at line {}, character {}:\n  {a_label}: …{}\n  {b_label}: …{}",
                n + 1,
                at + 1,
                around(x),
                around(y)
            );
        }
    }
    format!(
        "one is a prefix of the other: {a_label} {} bytes ({} lines), {b_label} {} bytes ({} lines)",
        a.len(),
        a.lines().count(),
        b.len(),
        b.lines().count()
    )
}
