//! The contract every fuzz target checks, the same as `tests/hostile_input.rs`: an article
//! file is either rejected with a message naming the file, or published in feeds that are
//! well-formed XML and valid JSON, read back by `rss` and `atom_syndication` with the same
//! title and identity. Any violation panics, which libFuzzer records as a crash.

use std::path::Path;
use std::sync::{Arc, OnceLock};

fn config() -> &'static feedpub::Config {
    static CONFIG: OnceLock<feedpub::Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        feedpub::Config::parse(
            Path::new("fuzz.toml"),
            "timezone = \"Asia/Tehran\"\n",
            &feedpub::Overrides::default(),
        )
        .expect("the fuzz configuration is valid")
    })
}

fn xml_allows(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn assert_xml_text(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| !xml_allows(c)) {
        panic!("{what}: U+{:04X} is not allowed in XML 1.0", c as u32);
    }
}

fn assert_well_formed(what: &str, bytes: &[u8]) {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    assert_xml_text(what, text);
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        match reader.read_event_into(&mut buf) {
            Err(e) => panic!("{what}: not well-formed: {e}"),
            Ok(Event::Start(e)) => {
                for a in e.attributes() {
                    let a = a.unwrap_or_else(|err| panic!("{what}: attribute: {err}"));
                    let v = a
                        .unescape_value()
                        .unwrap_or_else(|err| panic!("{what}: {err}"));
                    assert_xml_text(what, &v);
                }
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Ok(Event::Empty(e)) => {
                for a in e.attributes() {
                    let a = a.unwrap_or_else(|err| panic!("{what}: attribute: {err}"));
                    let v = a
                        .unescape_value()
                        .unwrap_or_else(|err| panic!("{what}: {err}"));
                    assert_xml_text(what, &v);
                }
                roots += usize::from(depth == 0);
            }
            Ok(Event::End(_)) => {
                depth = depth.checked_sub(1).expect("end tag without start tag");
            }
            Ok(Event::Text(t)) => {
                let t = t
                    .unescape()
                    .unwrap_or_else(|e| panic!("{what}: reference: {e}"));
                assert_xml_text(what, &t);
                assert!(
                    depth > 0 || t.trim().is_empty(),
                    "{what}: text outside the root"
                );
            }
            Ok(Event::CData(c)) => {
                assert!(depth > 0, "{what}: CDATA outside the root");
                assert_xml_text(what, std::str::from_utf8(&c).expect("CDATA is UTF-8"));
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
        }
        buf.clear();
    }
    assert_eq!(depth, 0, "{what}: unclosed elements");
    assert_eq!(roots, 1, "{what}: exactly one root element");
}

/// Runs one input named `name` through parsing and rendering and checks the contract.
pub fn check(name: &str, data: &[u8]) {
    let path = Path::new(name);
    let parsed = match feedpub::Article::from_bytes(path, data) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert!(
                e.to_string().starts_with(name),
                "error does not name the file: {e}"
            );
            assert_eq!(e.path(), path);
            return;
        }
    };
    let article = Arc::new(parsed.article);
    let feeds = feedpub::Feeds::render(std::slice::from_ref(&article), config())
        .expect("a parsed article always renders");
    assert_well_formed("rss.xml", &feeds.rss);
    assert_well_formed("atom.xml", &feeds.atom);
    serde_json::from_slice::<serde_json::Value>(&feeds.json).expect("feed.json is JSON");
    let channel = rss::Channel::read_from(&feeds.rss[..]).expect("the rss crate reads it");
    let feed =
        atom_syndication::Feed::read_from(&feeds.atom[..]).expect("atom_syndication reads it");
    let item = &feeds.items[0];
    assert_eq!(channel.items().len(), 1);
    assert_eq!(feed.entries().len(), 1);
    assert_eq!(channel.items()[0].title(), Some(article.title.as_str()));
    assert_eq!(feed.entries()[0].title().as_str(), article.title.as_str());
    assert_eq!(
        channel.items()[0].guid().map(|g| g.value()),
        Some(item.guid.as_str())
    );
    assert_eq!(feed.entries()[0].id(), item.guid);
}
