//! Hostile article files: arbitrary bytes, and the seed format (and Markdown with front
//! matter) with random insertions. Every input must end as either a clear rejection whose
//! message names the file, or an article whose feeds are well-formed XML (every event read
//! by quick-xml, every character allowed by XML 1.0), valid JSON, and read back by the `rss`
//! and `atom_syndication` crates with the same title and identity.
//!
//! The same check runs over every file kept in `tests/fixtures/fuzz/` (inputs found by
//! `reliability/fuzz.sh`), alone and together through the loader.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------

fn config() -> feedpub::Config {
    feedpub::Config::parse(
        Path::new("hostile.toml"),
        "timezone = \"Asia/Tehran\"\n",
        &feedpub::Overrides::default(),
    )
    .expect("the test configuration is valid")
}

/// The whole contract for one input. `Err` describes the violation.
fn check_one(path: &Path, bytes: &[u8]) -> Result<Outcome, String> {
    let parsed = match feedpub::Article::from_bytes(path, bytes) {
        Ok(parsed) => parsed,
        Err(e) => {
            let message = e.to_string();
            let name = path.display().to_string();
            if !message.starts_with(&name) {
                return Err(format!("error does not name the file {name}: {message}"));
            }
            if e.path() != path {
                return Err(format!("error's path is {:?}", e.path()));
            }
            return Ok(Outcome::Rejected);
        }
    };
    for w in &parsed.warnings {
        if w.path != path {
            return Err(format!("warning names another file: {w}"));
        }
    }
    let article = Arc::new(parsed.article);
    check_feeds(std::slice::from_ref(&article))?;
    Ok(Outcome::Published)
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Rejected,
    Published,
}

/// Renders `articles` and checks every document; the feeds must carry each item's title and
/// identity as written in `Feeds::items`.
fn check_feeds(articles: &[Arc<feedpub::Article>]) -> Result<(), String> {
    let config = config();
    let feeds = feedpub::Feeds::render(articles, &config)
        .map_err(|e| format!("a parsed article failed to render: {e}"))?;
    check_well_formed(&feeds.rss).map_err(|e| format!("rss.xml: {e}"))?;
    check_well_formed(&feeds.atom).map_err(|e| format!("atom.xml: {e}"))?;
    serde_json::from_slice::<serde_json::Value>(&feeds.json)
        .map_err(|e| format!("feed.json: {e}"))?;

    let channel = rss::Channel::read_from(&feeds.rss[..]).map_err(|e| format!("rss crate: {e}"))?;
    let feed = atom_syndication::Feed::read_from(&feeds.atom[..])
        .map_err(|e| format!("atom_syndication: {e}"))?;
    if channel.items().len() != feeds.items.len() || feed.entries().len() != feeds.items.len() {
        return Err(format!(
            "{} items rendered, rss has {}, atom has {}",
            feeds.items.len(),
            channel.items().len(),
            feed.entries().len()
        ));
    }
    for ((item, rss_item), entry) in feeds.items.iter().zip(channel.items()).zip(feed.entries()) {
        let title = item.article.title.as_str();
        if rss_item.title() != Some(title) {
            return Err(format!(
                "rss title {:?} != article title {title:?}",
                rss_item.title()
            ));
        }
        if entry.title().as_str() != title {
            return Err(format!(
                "atom title {:?} != article title {title:?}",
                entry.title().as_str()
            ));
        }
        if rss_item.guid().map(|g| g.value()) != Some(item.guid.as_str()) {
            return Err(format!(
                "rss guid {:?} != {:?}",
                rss_item.guid().map(|g| g.value()),
                item.guid
            ));
        }
        if entry.id() != item.guid {
            return Err(format!("atom id {:?} != {:?}", entry.id(), item.guid));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

const SEED: &str = "Print    Send to Friend\n\n12 May 2018\n\nThe need for capacity building\n\nAccording to police news, the meeting began.\n\nSecond paragraph “quoted”.\n\n12:55 - 2018/05/12    /    number : 26462    /    Show Count : 569\n";

const MARKDOWN: &str = "+++\ntitle = \"Hello & welcome\"\ndate = 2024-05-01T10:00:00+03:30\ntags = [\"Traffic\", \"safety\"]\nauthor = \"Desk\"\nsummary = \"Short.\"\n+++\n\nFirst *para* with [a link](more.html).\n\nSecond <b>raw</b> paragraph.\n";

const YAML_MARKDOWN: &str = "---\ntitle: Yaml post\ndate: 2024-05-01 09:30\nid: 7001\ntags: [a, b]\n---\nBody with `code` and ![img](p.png).\n";

/// Pieces that have broken parsers and writers before: markup, CDATA ends, entities,
/// control characters, BOMs, invalid UTF-8, footers and date lines in the wrong place,
/// front-matter fences and escapes.
fn hostile_piece() -> impl Strategy<Value = Vec<u8>> {
    let fixed: Vec<&'static [u8]> = vec![
        b"\0",
        b"\x01",
        b"\x08\x0b\x0c\x1f\x7f",
        b"\xEF\xBB\xBF",
        b"\xFF\xFE",
        b"\xC0\xAE",
        b"\xED\xA0\x80",
        b"\xF4\x90\x80\x80",
        b"\xE2\x80",
        b"\xEF\xBF\xBE\xEF\xBF\xBF",
        "\u{85}\u{2028}\u{2029}\u{202E}\u{200B}".as_bytes(),
        "\u{a0}\u{a0}".as_bytes(),
        b"\r",
        b"\r\n",
        b"\n\n",
        b"\t",
        b"]]>",
        b"<![CDATA[",
        b"<!--",
        b"-->",
        b"<?xml version=\"1.0\"?>",
        b"<!DOCTYPE x [<!ENTITY e \"boom\">]>&e;",
        b"&",
        b"&amp;",
        b"&#1;",
        b"&#x0;",
        b"&#xFFFE;",
        b"&#55296;",
        b"<",
        b">",
        b"\"'",
        b"<script>alert(1)</script>",
        b"\"onload=alert(1) x=\"",
        b"<img src=x onerror=alert(1)>",
        b"</p>",
        b"[x](javascript:alert(1))",
        b"<javascript:alert(1)>",
        b"12:55 - 2018/05/12 / number : 1 / Show Count : 2",
        b"25:61 - 2018/13/40 / number : 99999999999999999999 / Show Count : 1",
        b"number : 12 / Show Count : x",
        b"31 Feb 2018",
        b"1 May 2020",
        b"0 Foo 0000",
        b"Print  Send to Friend",
        b"+++",
        b"---",
        b"title = \"\\u0001\\b\\f\"",
        b"title: \"\\x01\\x1f\"",
        b"date = 2024-02-30",
        b"date: 9999-12-31T23:59:59+23:59",
        b"id = \"../../etc/passwd\"",
        b"id: \"a/b c?d#e\"",
        b"tags = [\"\\u0002\", \"\", \"  \", \"---\"]",
        b"*",
        b"[",
        b"![",
        b"`",
        b"|a|b|\n|-|-|\n",
        b"[^1]\n\n[^1]: note",
    ];
    prop_oneof![
        6 => prop::sample::select(fixed).prop_map(|b| b.to_vec()),
        2 => prop::collection::vec(any::<u8>(), 1..8),
        2 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
        1 => "[a-zA-Z0-9 ]{1,12}".prop_map(String::into_bytes),
        1 => (1usize..4000).prop_map(|n| vec![b'x'; n]),
    ]
}

/// `base` with up to eight pieces inserted at arbitrary byte offsets (possibly inside a
/// multi-byte character) and up to three byte ranges deleted.
fn mutated(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec((any::<prop::sample::Index>(), hostile_piece()), 0..8),
        prop::collection::vec((any::<prop::sample::Index>(), 0usize..40), 0..3),
    )
        .prop_map(move |(insertions, deletions)| {
            let mut bytes = base.as_bytes().to_vec();
            for (at, len) in deletions {
                if bytes.is_empty() {
                    break;
                }
                let start = at.index(bytes.len());
                let end = (start + len).min(bytes.len());
                bytes.drain(start..end);
            }
            for (at, piece) in insertions {
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, piece);
            }
            bytes
        })
}

fn assert_contract(path: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    match check_one(Path::new(path), bytes) {
        Ok(_) => Ok(()),
        Err(violation) => Err(TestCaseError::fail(format!(
            "{path}: {violation}\ninput: {:?}",
            String::from_utf8_lossy(bytes)
        ))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_as_a_text_article_are_rejected_clearly_or_render_well_formed(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        assert_contract("in/arbitrary.txt", &bytes)?;
    }

    #[test]
    fn arbitrary_bytes_as_a_markdown_article_are_rejected_clearly_or_render_well_formed(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2048),
            prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| [b"+++\n".as_slice(), &b].concat()),
        ],
    ) {
        assert_contract("in/arbitrary.md", &bytes)?;
    }

    #[test]
    fn seed_format_with_random_insertions_keeps_the_contract(bytes in mutated(SEED)) {
        assert_contract("in/026462.txt", &bytes)?;
    }

    #[test]
    fn toml_markdown_with_random_insertions_keeps_the_contract(bytes in mutated(MARKDOWN)) {
        assert_contract("in/post.md", &bytes)?;
    }

    #[test]
    fn yaml_markdown_with_random_insertions_keeps_the_contract(bytes in mutated(YAML_MARKDOWN)) {
        assert_contract("in/yaml-post.markdown", &bytes)?;
    }
}

// ---------------------------------------------------------------------------------------
// Known inputs
// ---------------------------------------------------------------------------------------

#[test]
fn the_unmodified_templates_are_published() {
    assert_eq!(
        check_one(Path::new("a.txt"), SEED.as_bytes()),
        Ok(Outcome::Published)
    );
    assert_eq!(
        check_one(Path::new("a.md"), MARKDOWN.as_bytes()),
        Ok(Outcome::Published)
    );
    assert_eq!(
        check_one(Path::new("a.md"), YAML_MARKDOWN.as_bytes()),
        Ok(Outcome::Published)
    );
}

/// The oracle itself must catch what it is there to catch.
#[test]
fn the_oracle_rejects_broken_xml() {
    assert!(check_well_formed(b"<a><b></a>").is_err());
    assert!(check_well_formed(b"<a>\x01</a>").is_err());
    assert!(check_well_formed(b"<a>&#1;</a>").is_err());
    assert!(check_well_formed(b"<a/><b/>").is_err());
    assert!(check_well_formed(b"<a>").is_err());
    assert!(check_well_formed(b"<a>&nope;</a>").is_err());
    assert!(check_well_formed(b"<a x=\"1\">t</a>").is_ok());
}

/// Escapes in front matter (TOML `\u0001`, `\b`; YAML `\x01`) and numeric character
/// references in the Markdown body (`&#1;`) produce characters XML 1.0 forbids after the
/// raw lines were cleaned. They must be removed like any other forbidden character.
#[test]
fn escaped_control_characters_in_markdown_never_reach_the_feeds() {
    let cases = [
        "+++\ntitle = \"a\\u0001b\\b\"\ndate = 2024-01-01\nsummary = \"s\\u0002\"\ntags = [\"t\\u0003\"]\nauthor = \"x\\u0004\"\nid = \"i\\u0005\"\n+++\nBody\n",
        "---\ntitle: \"a\\x01b\"\ndate: 2024-01-01\nsummary: \"\\x1f\"\nauthor: \"\\b\"\ntags: [\"\\x02\"]\n---\nBody\n",
        "+++\ntitle = \"t\"\ndate = 2024-01-01\n+++\nBody &#1; &#x8; &#xB; &#31; &#xFFFE; end\n\n`&#1;`\n",
    ];
    for text in cases {
        let path = Path::new("esc.md");
        let parsed = feedpub::Article::from_bytes(path, text.as_bytes()).expect("parses");
        let a = &parsed.article;
        for field in [a.title.as_str(), a.id.as_str()]
            .into_iter()
            .chain(a.summary())
            .chain(a.author())
            .chain(a.tags().iter().map(String::as_str))
            .chain(a.html())
            .chain(a.paragraphs.iter().map(String::as_str))
        {
            assert!(
                field.chars().all(xml_allows),
                "{text:?}: field {field:?} keeps a forbidden character"
            );
        }
        assert!(
            !parsed.warnings.is_empty(),
            "{text:?}: the removal is reported"
        );
        check_one(path, text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
}

#[test]
fn long_lines_and_many_paragraphs_render_well_formed() {
    let mut text = String::from("1 May 2020\n");
    text.push_str(&"T".repeat(100_000));
    text.push_str("\n\n");
    for i in 0..5_000 {
        text.push_str(&format!("paragraph {i} <&>\n\n"));
    }
    assert_eq!(
        check_one(Path::new("long.txt"), text.as_bytes()),
        Ok(Outcome::Published)
    );
    // Deeply nested Markdown: block quotes and lists a thousand levels deep.
    let nested = format!(
        "+++\ntitle = \"deep\"\ndate = 2024-01-01\n+++\n{}x\n\n{}y\n\n{}z\n",
        "> ".repeat(1000),
        "- ".repeat(1000),
        "[".repeat(5000)
    );
    assert_eq!(
        check_one(Path::new("deep.md"), nested.as_bytes()),
        Ok(Outcome::Published)
    );
}

// ---------------------------------------------------------------------------------------
// Fuzz fixtures
// ---------------------------------------------------------------------------------------

fn fuzz_fixtures() -> Vec<(PathBuf, &'static str)> {
    let root = repo("tests/fixtures/fuzz");
    let mut files = Vec::new();
    for (folder, name) in [("article", "fuzz.txt"), ("markdown", "fuzz.md")] {
        let Ok(entries) = fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries {
            let entry = entry.expect("fixture entry");
            if entry.file_type().expect("file type").is_file() && entry.file_name() != "README.md" {
                files.push((entry.path(), name));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_fuzz_fixture_keeps_the_contract_alone_and_through_the_loader() {
    let fixtures = fuzz_fixtures();
    assert!(
        fixtures.len() >= 10,
        "tests/fixtures/fuzz holds the kept inputs ({} found)",
        fixtures.len()
    );
    let workspace = Workspace::new();
    let folder = workspace.articles.as_path();
    let mut failures = Vec::new();
    for (i, (fixture, as_name)) in fixtures.iter().enumerate() {
        let bytes = fs::read(fixture).unwrap();
        if let Err(e) = check_one(Path::new(as_name), &bytes) {
            failures.push(format!("{}: {e}", fixture.display()));
        }
        let ext = Path::new(as_name).extension().unwrap().to_str().unwrap();
        fs::write(folder.join(format!("{i:04}.{ext}")), &bytes).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // All together through the loader, as `feedpub build` would see them.
    let report = feedpub::Loader::new(folder, 1 << 20)
        .scan()
        .expect("the folder loads");
    assert!(report.articles.len() + report.rejected.len() + report.drafts <= fixtures.len());
    for rejected in &report.rejected {
        assert!(rejected
            .to_string()
            .starts_with(&folder.display().to_string()));
    }
    if !report.articles.is_empty() {
        check_feeds(&report.articles).unwrap_or_else(|e| panic!("all fixtures together: {e}"));
    }
}
