//! What every subscriber sees, through `feedpub serve` and `feedpub build` on real files
//! and a real socket, read back with the `rss`, `atom_syndication` and JSON parsers: the
//! language and direction of each entry, per-language feeds, icons, corrections, authors
//! in RSS, CORS, the OPML list, configured redirects and retired feeds, and the article
//! page around them.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

use common::*;

const STARTUP: Duration = Duration::from_secs(30);

const ENGLISH: &str = "Print        Send to Friend\n\n12 May 2018\n\nPolice open a new cybercrime unit\n\nThe cyber police opened a new unit on Saturday, officials said.\n\nIt will handle online fraud.\n\n12:55 - 2018/05/12    /    number : 26462    /    Show Count : 569\n";

const PERSIAN: &str = "Print        Send to Friend\n\n14 Aug 2018\n\nدستگیری باند سارقان منازل در شمال تهران\n\nرئیس پلیس آگاهی تهران بزرگ از دستگیری اعضای یک باند سه نفره سارقان منازل خبر داد.\n\nوی افزود: تحقیقات ادامه دارد.\n\n18:25 - 2018/08/14    /    number : 27395    /    Show Count : 321\n";

/// A Markdown post in Persian that was corrected after it was published, by its own author.
const CORRECTED: &str = "+++\ntitle = \"طرح ترافیکی نوروز\"\ndate = 2025-03-10T11:00:00+03:30\nupdated = 2025-03-12T09:30:00+03:30\nauthor = \"Traffic desk\"\ntags = [\"Traffic\", \"ترافیک\"]\n+++\n\nپلیس راهور اعلام کرد طرح ترافیکی نوروز از ۲۵ اسفند اجرا می‌شود.\n";

/// A Markdown post whose author says it is German, though it has no letters of its own.
const GERMAN: &str =
    "+++\ntitle = \"Verkehr\"\ndate = 2025-01-02\nlanguage = \"DE\"\n+++\n\nDer Verkehr.\n";

const MOVES: &str = "redirects = { \"/index.xml\" = \"/rss.xml\", \"/feed/\" = \"/atom.xml\", \"/old/\" = \"/index.xml\", \"/blog/feed\" = \"/feed\" }\ngone = [\"/old-feed.xml\"]\n";

fn site(extra: &str) -> Workspace {
    let workspace = Workspace::empty(&format!(
        "base_url = \"http://feeds.test\"\nsite_url = \"https://news.example/en\"\nlanguage = \"en\"\nauthor = {{ name = \"Police News desk\" }}\nicon = \"icon.png\"\nlogo = \"/images/logo.png\"\n{MOVES}{extra}"
    ));
    workspace.write_article("english.txt", ENGLISH);
    workspace.write_article("persian.txt", PERSIAN);
    workspace.write_article("corrected.md", CORRECTED);
    workspace.write_article("german.md", GERMAN);
    workspace
}

fn serve(workspace: &Workspace) -> ServerProcess {
    let mut command = serve_command(&workspace.config);
    command.arg("--base-url").arg("http://feeds.test");
    let mut server = ServerProcess::spawn(command);
    server.wait_for_banner(STARTUP);
    server
}

fn body(server: &ServerProcess, path: &str) -> Vec<u8> {
    let response = get(server.addr(), path, &[]);
    assert_eq!(response.status, 200, "GET {path}: {:?}", response.headers);
    response.body
}

fn atom(bytes: &[u8]) -> atom_syndication::Feed {
    atom_syndication::Feed::read_from(bytes).expect("an Atom feed")
}

fn rss(bytes: &[u8]) -> rss::Channel {
    rss::Channel::read_from(bytes).expect("an RSS channel")
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("a JSON Feed")
}

#[test]
fn every_entry_says_its_language_and_right_to_left_text_says_its_direction() {
    let workspace = site("");
    let server = serve(&workspace);

    let feed = atom(&body(&server, "/atom.xml"));
    assert_eq!(feed.lang.as_deref(), Some("en"));
    let lang_of = |title_start: &str| {
        let entry = feed
            .entries
            .iter()
            .find(|e| e.title.value.starts_with(title_start))
            .unwrap_or_else(|| panic!("an entry titled {title_start}…"));
        let content = entry.content.as_ref().expect("content");
        (
            entry.title.lang.clone(),
            content.lang.clone(),
            content.value.clone().unwrap(),
        )
    };
    let (title_lang, content_lang, html) = lang_of("دستگیری");
    assert_eq!(title_lang.as_deref(), Some("fa"));
    assert_eq!(content_lang.as_deref(), Some("fa"));
    assert!(
        html.starts_with("<div lang=\"fa\" dir=\"rtl\">\n<p>"),
        "{html}"
    );
    let (title_lang, content_lang, html) = lang_of("Police open");
    assert_eq!(
        (title_lang, content_lang),
        (None, None),
        "the feed's own language"
    );
    assert!(html.starts_with("<p>"), "{html}");
    let (_, content_lang, html) = lang_of("Verkehr");
    assert_eq!(
        content_lang.as_deref(),
        Some("de"),
        "front matter, in canonical case"
    );
    assert!(html.starts_with("<div lang=\"de\" dir=\"ltr\">"), "{html}");
    // The whole text is the content, and there is no summary a text-preferring reader
    // would show instead.
    assert!(feed.entries.iter().all(|e| e.summary.is_none()));

    let json = json(&body(&server, "/feed.json"));
    let languages: BTreeSet<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["language"].as_str().expect("every item has a language"))
        .collect();
    assert_eq!(languages, BTreeSet::from(["de", "en", "fa"]));

    // RSS has a channel language only; the direction is in the HTML.
    let channel = rss(&body(&server, "/rss.xml"));
    assert_eq!(channel.language(), Some("en"));
    let persian = channel
        .items()
        .iter()
        .find(|i| i.title().is_some_and(|t| t.starts_with("دستگیری")))
        .unwrap();
    assert!(persian
        .content()
        .unwrap()
        .starts_with("<div lang=\"fa\" dir=\"rtl\">"));
}

#[test]
fn each_language_has_its_own_feeds_linked_from_the_pages_in_it() {
    let workspace = site("");
    let server = serve(&workspace);

    let persian = atom(&body(&server, "/lang/fa/atom.xml"));
    assert_eq!(persian.lang.as_deref(), Some("fa"));
    let titles: Vec<&str> = persian
        .entries
        .iter()
        .map(|e| e.title.value.as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "طرح ترافیکی نوروز",
            "دستگیری باند سارقان منازل در شمال تهران"
        ]
    );
    assert!(
        persian
            .entries
            .iter()
            .all(|e| e.content.as_ref().unwrap().lang.is_none()),
        "in a Persian feed, Persian entries need no mark of their own"
    );
    assert!(persian
        .links
        .iter()
        .any(|l| l.rel == "self" && l.href == "http://feeds.test/lang/fa/atom.xml"));
    let english = rss(&body(&server, "/lang/en/rss.xml"));
    assert_eq!(english.language(), Some("en"));
    let titles: Vec<&str> = english.items().iter().filter_map(|i| i.title()).collect();
    assert_eq!(titles, ["Police open a new cybercrime unit"]);
    let german = json(&body(&server, "/lang/de/feed.json"));
    assert_eq!(german["language"], "de");
    assert_eq!(german["feed_url"], "http://feeds.test/lang/de/feed.json");
    assert_eq!(get(server.addr(), "/lang/ja/rss.xml", &[]).status, 404);
    assert_eq!(get(server.addr(), "/lang/fa_IR!/rss.xml", &[]).status, 404);

    let index = String::from_utf8(body(&server, "/")).unwrap();
    for code in ["de", "en", "fa"] {
        let link = format!("type=\"application/atom+xml\" title=\"feedpub ({code}) (Atom)\" href=\"http://feeds.test/lang/{code}/atom.xml\"");
        assert!(
            index.contains(&link),
            "the index autodiscovers {code}: {index}"
        );
    }
    assert!(index.contains(
        "<link rel=\"outline\" type=\"text/x-opml\" title=\"feedpub (OPML)\" href=\"http://feeds.test/feeds.opml\">"
    ));

    let page = String::from_utf8(body(&server, "/articles/corrected.html")).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>\n<html lang=\"fa\" dir=\"rtl\">"),
        "{page}"
    );
    assert!(page.contains("href=\"http://feeds.test/lang/fa/rss.xml\""));
    assert!(
        !page.contains("/lang/en/"),
        "only the feeds the page is in: {page}"
    );
    for tag in ["traffic", "%D8%AA%D8%B1%D8%A7%D9%81%DB%8C%DA%A9"] {
        let link = format!("href=\"http://feeds.test/tags/{tag}/atom.xml\"");
        assert!(page.contains(&link), "the page links its tag {tag}: {page}");
    }
    assert!(
        page.contains(">Traffic</bdi></a>"),
        "the tags are shown: {page}"
    );
    assert!(page.contains("Subscribe: <a href=\"http://feeds.test/rss.xml\">RSS</a>"));
}

#[test]
fn icons_corrections_and_authors_reach_every_format() {
    let workspace = site("");
    let server = serve(&workspace);

    let feed = atom(&body(&server, "/atom.xml"));
    assert_eq!(
        feed.icon.as_deref(),
        Some("https://news.example/en/icon.png")
    );
    assert_eq!(
        feed.logo.as_deref(),
        Some("https://news.example/images/logo.png")
    );
    let corrected = feed
        .entries
        .iter()
        .find(|e| e.title.value == "طرح ترافیکی نوروز")
        .unwrap();
    assert_eq!(corrected.updated.to_rfc3339(), "2025-03-12T09:30:00+03:30");
    assert_eq!(
        corrected.published.map(|p| p.to_rfc3339()).as_deref(),
        Some("2025-03-10T11:00:00+03:30")
    );
    assert_eq!(feed.updated.to_rfc3339(), "2025-03-12T09:30:00+03:30");

    let channel = rss(&body(&server, "/rss.xml"));
    let image = channel.image().expect("an RSS image");
    assert_eq!(image.url(), "https://news.example/en/icon.png");
    assert_eq!(image.title(), channel.title());
    assert_eq!(image.link(), channel.link());
    for item in channel.items() {
        let creators = item.dublin_core_ext().map(|dc| dc.creators().to_vec());
        let expected = if item.title() == Some("طرح ترافیکی نوروز") {
            "Traffic desk"
        } else {
            "Police News desk"
        };
        assert_eq!(creators, Some(vec![expected.to_string()]), "{item:?}");
        assert!(
            item.author().is_none(),
            "RSS author is for e-mail addresses"
        );
    }
    let item = channel
        .items()
        .iter()
        .find(|i| i.title() == Some("طرح ترافیکی نوروز"))
        .unwrap();
    assert_eq!(item.pub_date(), Some("Mon, 10 Mar 2025 11:00:00 +0330"));

    let json = json(&body(&server, "/feed.json"));
    assert_eq!(json["icon"], "https://news.example/en/icon.png");
    assert_eq!(json["favicon"], "https://news.example/en/icon.png");
    let item = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "طرح ترافیکی نوروز")
        .unwrap();
    assert_eq!(item["date_published"], "2025-03-10T11:00:00+03:30");
    assert_eq!(item["date_modified"], "2025-03-12T09:30:00+03:30");
}

#[test]
fn every_feed_and_page_can_be_read_from_another_origin() {
    let workspace = site("");
    let server = serve(&workspace);
    let addr = server.addr();
    for path in [
        "/feed.json",
        "/rss.xml",
        "/lang/fa/atom.xml",
        "/feeds.opml",
        "/",
        "/articles/27395.html",
    ] {
        let ok = get(addr, path, &[("origin", "https://reader.example")]);
        assert_eq!(ok.status, 200, "{path}");
        assert_eq!(
            ok.header("access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(
            ok.header("access-control-expose-headers"),
            Some("ETag, Last-Modified, Link"),
            "{path}"
        );
        let etag = ok.etag();
        let again = get(
            addr,
            path,
            &[
                ("origin", "https://reader.example"),
                ("if-none-match", &etag),
            ],
        );
        assert_eq!(again.status, 304, "{path}");
        assert_eq!(
            again.header("access-control-allow-origin"),
            Some("*"),
            "{path} on a 304"
        );
        assert_eq!(
            again.etag(),
            etag,
            "{path}: a script reads the ETag of a 304"
        );
    }
    let preflight = request(
        addr,
        "OPTIONS",
        "/feed.json",
        &[
            ("origin", "https://reader.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "if-none-match"),
        ],
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET, HEAD")
    );
    let allowed = preflight
        .expect_header("access-control-allow-headers")
        .to_ascii_lowercase();
    assert!(
        allowed.contains("if-none-match") && allowed.contains("if-modified-since"),
        "{allowed}"
    );
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn the_opml_list_names_every_feed_once_and_each_is_served() {
    let workspace = site("");
    let server = serve(&workspace);
    let response = get(server.addr(), "/feeds.opml", &[]);
    assert_eq!(
        response.header("content-type"),
        Some("text/x-opml; charset=utf-8")
    );
    let text = response.text();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">"));
    assert_well_formed("feeds.opml", &response.body);
    let mut urls = Vec::new();
    let mut reader = quick_xml::Reader::from_reader(response.body.as_slice());
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).unwrap() {
            quick_xml::events::Event::Empty(e) if e.local_name().as_ref() == b"outline" => {
                let attr = |name: &str| {
                    e.try_get_attribute(name)
                        .unwrap()
                        .unwrap_or_else(|| panic!("outline has {name}"))
                        .unescape_value()
                        .unwrap()
                        .into_owned()
                };
                assert_eq!(attr("type"), "rss");
                assert_eq!(attr("text"), attr("title"));
                assert_eq!(attr("htmlUrl"), "https://news.example/en");
                urls.push(attr("xmlUrl"));
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let expected: Vec<String> = [
        "/rss.xml",
        "/lang/de/rss.xml",
        "/lang/en/rss.xml",
        "/lang/fa/rss.xml",
        "/tags/traffic/rss.xml",
        "/tags/%D8%AA%D8%B1%D8%A7%D9%81%DB%8C%DA%A9/rss.xml",
    ]
    .iter()
    .map(|p| format!("http://feeds.test{p}"))
    .collect();
    assert_eq!(urls, expected);
    for url in &urls {
        let path = url.strip_prefix("http://feeds.test").unwrap();
        check_feed(path, &body(&server, path));
    }
}

#[test]
fn configured_moves_answer_301_to_one_absolute_url_and_retired_feeds_410() {
    let workspace = site("");
    let server = serve(&workspace);
    let addr = server.addr();
    for (from, to) in [
        ("/index.xml", "/rss.xml"),
        ("/old/", "/rss.xml"),
        ("/feed/", "/atom.xml"),
        ("/blog/feed", "/rss.xml"),
    ] {
        let moved = get(addr, &format!("{from}?utm=x"), &[]);
        assert_eq!(moved.status, 301, "{from}");
        assert_eq!(
            moved.header("location"),
            Some(format!("http://feeds.test{to}").as_str()),
            "{from}: one hop, absolute, nothing of the request kept"
        );
    }
    // A built-in alias the configuration does not name is still there.
    assert_eq!(
        get(addr, "/atom", &[]).header("location"),
        Some("/atom.xml")
    );
    let gone = get(addr, "/old-feed.xml", &[]);
    assert_eq!(gone.status, 410);
    assert!(gone.text().contains("retired"));
    assert_eq!(request(addr, "HEAD", "/old-feed.xml", &[]).status, 410);
    drop(server);

    let built = run_with_config("build", &workspace.config);
    assert_eq!(built.code, 0, "{built:?}");
    let redirects = fs::read_to_string(workspace.output.join("_redirects")).unwrap();
    let rules: Vec<&str> = redirects.lines().filter(|l| !l.starts_with('#')).collect();
    for rule in [
        "/index.xml http://feeds.test/rss.xml 301",
        "/old/ http://feeds.test/rss.xml 301",
        "/feed/ http://feeds.test/atom.xml 301",
        "/old-feed.xml / 410",
        "/atom /atom.xml 301",
    ] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
    assert!(
        !rules.contains(&"/feed/ /rss.xml 301"),
        "the configured one replaces the alias"
    );
}

#[test]
fn a_bad_move_or_icon_is_a_configuration_error_naming_the_key() {
    let cases = [
        (
            "redirects = { \"/a\" = \"/b\", \"/b\" = \"/a\" }",
            "redirects",
            "loop",
        ),
        (
            "redirects = { \"/a\" = \"/nowhere.xml\" }",
            "redirects",
            "not a path feedpub serves",
        ),
        (
            "redirects = { \"/rss.xml\" = \"/atom.xml\" }",
            "redirects",
            "is a path feedpub serves",
        ),
        (
            "redirects = { \"a\" = \"/rss.xml\" }",
            "redirects",
            "must start with `/`",
        ),
        (
            "redirects = { \"/a\" = \"/rss.xml\" }\ngone = [\"/a\"]",
            "gone",
            "both redirected",
        ),
        ("gone = [\"/atom.xml\"]", "gone", "is a path feedpub serves"),
        ("icon = \"javascript:alert(1)\"", "icon", "not a URL"),
        ("logo = \"my logo.png\"", "logo", "not a URL"),
        ("language = \"en_US!\"", "language", "BCP 47"),
        ("languages = [\"fa\", \"xx_YY!\"]", "languages", "BCP 47"),
    ];
    for (text, key, message) in cases {
        let workspace = Workspace::empty(text);
        let run = run_with_config("build", &workspace.config);
        assert_eq!(run.code, 2, "{text}: {run:?}");
        assert!(
            run.stderr.contains(&format!("invalid value for `{key}`"))
                && run.stderr.contains(message),
            "{text}: {run:?}"
        );
    }
}

#[test]
fn a_bad_language_or_correction_date_rejects_that_article_only() {
    let workspace = site("");
    workspace.write_article(
        "bad_language.md",
        "+++\ntitle = \"Bad\"\ndate = 2025-01-01\n\nlanguage = \"xx_YY!\"\n+++\nText.\n",
    );
    workspace.write_article(
        "bad_updated.md",
        "+++\ntitle = \"Early\"\ndate = 2025-01-05T10:00:00Z\nupdated = 2025-01-05T09:00:00Z\n+++\nText.\n",
    );
    let run = run_with_config("build", &workspace.config);
    assert_eq!(run.code, 0, "the other articles are published: {run:?}");
    let output = run.all_output();
    assert!(
        output.contains(
            "bad_language.md:5: front matter: `language`: `xx_YY!` is not a BCP 47 language tag"
        ),
        "{output}"
    );
    assert!(
        output.contains("bad_updated.md:4: `updated` is earlier than `date`"),
        "{output}"
    );
    let feed = atom(&fs::read(workspace.output.join("atom.xml")).unwrap());
    assert_eq!(feed.entries.len(), 4);
}

#[test]
fn the_same_articles_give_the_same_bytes() {
    let workspace = site("");
    let out_a = workspace.path("a");
    let out_b = workspace.path("b");
    for out in [&out_a, &out_b] {
        let run = Run::of(
            feedpub(workspace.root())
                .arg("build")
                .arg("--config")
                .arg(&workspace.config)
                .arg("--out")
                .arg(out),
        );
        assert_eq!(run.code, 0, "{run:?}");
    }
    for file in [
        "atom.xml",
        "rss.xml",
        "feed.json",
        "feeds.opml",
        "lang/fa/atom.xml",
        "articles/corrected.html",
    ] {
        assert_eq!(
            fs::read(out_a.join(file)).unwrap(),
            fs::read(out_b.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn a_new_article_changes_its_language_feeds_and_leaves_the_others_alone() {
    let workspace = site("");
    let server = serve(&workspace);
    let addr = server.addr();
    let etag = |path: &str| get(addr, path, &[]).etag();
    let (fa, en, de) = (
        etag("/lang/fa/atom.xml"),
        etag("/lang/en/atom.xml"),
        etag("/lang/de/feed.json"),
    );
    workspace.write_article(
        "new_persian.md",
        "+++\ntitle = \"هشدار پلیس راهور\"\ndate = 2025-06-01T10:00:00+03:30\n+++\n\nرانندگان احتیاط کنند.\n",
    );
    wait_until(
        Duration::from_secs(20),
        "the Persian feed to change",
        || etag("/lang/fa/atom.xml") != fa,
    );
    let titles: Vec<String> = atom(&body(&server, "/lang/fa/atom.xml"))
        .entries
        .iter()
        .map(|e| e.title.value.clone())
        .collect();
    assert_eq!(titles[0], "هشدار پلیس راهور");
    assert_eq!(
        etag("/lang/en/atom.xml"),
        en,
        "English's feed is not touched"
    );
    assert_eq!(etag("/lang/de/feed.json"), de);
    // The only German article goes: its feeds go with it, and the OPML list forgets them.
    fs::remove_file(workspace.article_path("german.md")).unwrap();
    wait_until(Duration::from_secs(20), "the German feeds to go", || {
        get(addr, "/lang/de/feed.json", &[]).status == 404
    });
    assert!(!get(addr, "/feeds.opml", &[]).text().contains("/lang/de/"));
    wait_until(
        Duration::from_secs(20),
        "the German feed files to be removed",
        || !workspace.output.join("lang/de/feed.json").exists(),
    );
}
