//! `build` and `serve` make the same site.
//!
//! One corpus (scraped English and Persian articles, Markdown articles with tags, one of
//! them with an id that needs percent-encoding, and more articles than `max_items`, so that
//! there are RFC 5005 archive pages) is published twice with the same configuration and the
//! same explicit `base_url`: once by `feedpub build` into one folder, once by `feedpub serve`
//! (which keeps its own copy in another folder). The server is crawled from `/`, `/rss.xml`,
//! `/atom.xml` and `/feed.json`, following every link into the site: HTML `href`s; RSS and
//! Atom `<link>` text and `href` attributes; JSON Feed `home_page_url`, `feed_url`,
//! `items[].url` and `next_url`. Every link must answer 200 (no redirect, no error), every
//! body must be byte for byte the file `build` wrote for that path
//! (`feedpub::Route::parse(path).file()`), and every file `build` wrote must have been
//! reached: `build` writes nothing unreachable, and `serve` answers nothing `build` lacks.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use feedpub::{Format, Route};

/// The base URL both commands are given; links starting with it point into the site.
const BASE: &str = "http://feeds.example.test";

/// Items per feed and per archive page.
const PAGE: usize = 5;

/// How long `serve` may take to start (a debug build).
const STARTUP: Duration = Duration::from_secs(120);

/// The tags of the Markdown articles, and their URL slugs.
const TAGS: [(&str, &str); 3] = [
    ("Traffic", "traffic"),
    ("City Hall", "city-hall"),
    ("ترافیک", "ترافیک"),
];

/// Writes the corpus into the workspace's articles folder; returns how many articles it
/// publishes.
fn write_corpus(workspace: &Workspace) -> usize {
    let mut count = 0;
    // Scraped English articles, every other day from 1 Jan 2025.
    for i in 0..8u64 {
        workspace.write_article(
            &format!("en_{i}.txt"),
            &simple_article(
                1000 + i,
                &format!("Police report number {i} & more"),
                2 * i as i64,
                &format!("The police reported story {i} on Tuesday."),
            ),
        );
        count += 1;
    }
    // Scraped Persian articles.
    let persian = [
        (
            "کشف ۲۰۰ کیلوگرم تریاک در عملیات پلیس",
            "فرمانده انتظامی استان از کشف ۲۰۰ کیلوگرم تریاک در یک عملیات پلیسی خبر داد.",
        ),
        (
            "برگزاری همایش ایمنی ترافیک در تهران",
            "همایش ایمنی ترافیک با حضور مسئولان پلیس راهور برگزار شد.",
        ),
        (
            "دستگیری سارقان خودرو در مشهد",
            "مأموران پلیس آگاهی دو سارق خودرو را دستگیر کردند.",
        ),
    ];
    for (i, (title, body)) in persian.iter().enumerate() {
        let when = chrono::NaiveDate::from_ymd_opt(2025, 1, 2 + 4 * i as u32)
            .expect("a date")
            .and_hms_opt(18, 20, 0)
            .expect("a time");
        workspace.write_article(
            &format!("fa_{i}.txt"),
            &article_text(
                60_100 + i as u64,
                title,
                when,
                &[body.to_string(), "این خبر ادامه دارد.".to_string()],
            ),
        );
        count += 1;
    }
    // Markdown articles with tags; one id needs percent-encoding in a URL.
    let markdown = [
        (
            "cafe.md",
            "+++\ntitle = \"Café opens by the police station\"\ndate = 2025-01-04T09:15:00+03:30\nid = \"café-news\"\ntags = [\"City Hall\", \"Traffic\"]\n+++\n\nA new **café** opened.\n\nSecond paragraph.\n",
        ),
        (
            "winter.md",
            "+++\ntitle = \"Winter driving: ten checks\"\ndate = 2025-01-07T08:00:00+03:30\ntags = [\"Traffic\"]\n+++\n\nCheck your *tyres*.\n",
        ),
        (
            "council.md",
            "+++\ntitle = \"Council meets on parking\"\ndate = 2025-01-11T10:00:00+03:30\ntags = [\"City Hall\"]\nsummary = \"Parking.\"\n+++\n\nThe council met.\n",
        ),
        (
            "rush.md",
            "---\ntitle: \"Rush hour plan\"\ndate: 2025-01-13T07:30:00+03:30\ntags: [\"Traffic\"]\n---\n\nMore buses at rush hour.\n",
        ),
        (
            "persian.md",
            "+++\ntitle = \"طرح جدید ترافیک پایتخت\"\ndate = 2025-01-15T11:00:00+03:30\ntags = [\"ترافیک\", \"Traffic\"]\n+++\n\nطرح جدید ترافیک از شنبه اجرا می‌شود.\n",
        ),
        (
            "plain.md",
            "+++\ntitle = \"A post without tags\"\ndate = 2025-01-17T12:00:00+03:30\n+++\n\nNothing to tag here.\n",
        ),
    ];
    for (name, text) in markdown {
        workspace.write_article(name, text);
        count += 1;
    }
    count
}

/// The path inside the site that `link`, found on the page at `page`, points to; `None`
/// for a link out of the site (another origin, `mailto:`, a bare fragment). Non-ASCII
/// characters are percent-encoded as a browser would; `%XX` escapes are kept as they are.
fn site_path(page: &str, link: &str) -> Option<String> {
    let link = link.trim();
    let link = link.split('#').next().unwrap_or("");
    if link.is_empty() {
        return None;
    }
    let path = if let Some(rest) = link.strip_prefix(BASE) {
        match rest.chars().next() {
            None => "/".to_string(),
            Some('/') => rest.to_string(),
            Some('?') => format!("/{rest}"),
            // `http://feeds.example.test.evil/...`: another host.
            Some(_) => return None,
        }
    } else if link.starts_with("//") || (link.contains(':') && !link.starts_with('/')) {
        // Another origin, or another scheme (`https:`, `mailto:`).
        return None;
    } else if link.starts_with('/') {
        link.to_string()
    } else {
        // Relative to the page's folder.
        let folder = &page[..page.rfind('/').map_or(0, |i| i + 1)];
        format!("{folder}{link}")
    };
    let mut encoded = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii() {
            encoded.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Some(encoded)
}

/// Every `href` of an HTML page.
fn html_links(body: &str) -> Vec<String> {
    let document = scraper::Html::parse_document(body);
    let selector = scraper::Selector::parse("[href]").expect("a selector");
    document
        .select(&selector)
        .filter_map(|e| e.value().attr("href").map(str::to_string))
        .collect()
}

/// Every link of an RSS, Atom or OPML document: `href` attributes (Atom `link`,
/// `atom:link`), `xmlUrl` attributes (OPML outlines) and the text of `<link>` elements (RSS
/// channel and item links).
fn xml_links(what: &str, body: &[u8]) -> Vec<String> {
    use quick_xml::events::Event;

    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut links = Vec::new();
    let mut in_link = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .unwrap_or_else(|e| panic!("{what}: not well-formed XML: {e}"));
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                // `href` of links; `xmlUrl` of the OPML list's outlines.
                let href = e
                    .try_get_attribute("href")
                    .and_then(|h| match h {
                        Some(h) => Ok(Some(h)),
                        None => e.try_get_attribute("xmlUrl"),
                    })
                    .unwrap_or_else(|err| panic!("{what}: bad attribute: {err}"));
                if let Some(href) = href {
                    let value = href
                        .unescape_value()
                        .unwrap_or_else(|err| panic!("{what}: bad href: {err}"));
                    links.push(value.into_owned());
                } else if matches!(event, Event::Start(_)) && e.local_name().as_ref() == b"link" {
                    in_link = true;
                }
            }
            Event::Text(t) if in_link => {
                let text = t
                    .unescape()
                    .unwrap_or_else(|err| panic!("{what}: bad link text: {err}"));
                if !text.trim().is_empty() {
                    links.push(text.trim().to_string());
                }
            }
            Event::CData(c) if in_link => {
                links.push(String::from_utf8_lossy(&c).trim().to_string());
            }
            Event::End(_) => in_link = false,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    links
}

/// The links of a JSON Feed: `home_page_url`, `feed_url`, `next_url` and every item's `url`.
fn json_links(what: &str, body: &[u8]) -> Vec<String> {
    let feed: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("{what}: not valid JSON: {e}"));
    let mut links = Vec::new();
    for key in ["home_page_url", "feed_url", "next_url"] {
        if let Some(url) = feed.get(key).and_then(|v| v.as_str()) {
            links.push(url.to_string());
        }
    }
    for item in feed["items"].as_array().into_iter().flatten() {
        if let Some(url) = item.get("url").and_then(|v| v.as_str()) {
            links.push(url.to_string());
        }
    }
    links
}

/// Every file under `dir` but hidden ones (a writer's temporary files).
fn visible_files_under(dir: &Path) -> BTreeSet<String> {
    files_under(dir)
        .into_iter()
        .filter(|name| !name.split('/').any(|part| part.starts_with('.')))
        .collect()
}

/// What the crawl found.
#[derive(Default)]
struct Crawl {
    /// Every path answered 200, with the route it parses to.
    reached: BTreeMap<String, Route>,
    /// Every file of the build output a 200 answer was compared with.
    files: BTreeSet<String>,
    /// Everything wrong, one message each.
    failures: Vec<String>,
}

/// Crawls the server at `addr` from the site's entry points, comparing every page with
/// the file under `built`.
fn crawl(addr: SocketAddr, built: &Path) -> Crawl {
    let mut crawl = Crawl::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<(String, String)> = VecDeque::new();
    for start in ["/", "/rss.xml", "/atom.xml", "/feed.json"] {
        seen.insert(start.to_string());
        queue.push_back((start.to_string(), "(start)".to_string()));
    }
    while let Some((path, from)) = queue.pop_front() {
        let response = get(addr, &path, &[]);
        if response.status != 200 {
            let location = response
                .header("location")
                .map(|l| format!(" to {l}"))
                .unwrap_or_default();
            crawl.failures.push(format!(
                "GET {path} (linked from {from}) answered {}{location}, not 200",
                response.status
            ));
            continue;
        }
        if let Some(encoding) = response.header("content-encoding") {
            crawl.failures.push(format!(
                "GET {path} (linked from {from}) came with Content-Encoding {encoding} though none was asked for"
            ));
            continue;
        }
        let route_path = path.split('?').next().unwrap_or("");
        let route = Route::parse(route_path);
        match route.file() {
            None => crawl.failures.push(format!(
                "GET {path} (linked from {from}) answered 200 but its route {route:?} names no file"
            )),
            Some(file) => match fs::read(built.join(&file)) {
                Err(e) => crawl.failures.push(format!(
                    "GET {path} (linked from {from}) answered 200 but build wrote no {file}: {e}"
                )),
                Ok(bytes) if bytes != response.body => crawl.failures.push(format!(
                    "GET {path} (linked from {from}) differs from the built {file}: {}",
                    first_difference(("served", &response.body), ("built", &bytes))
                )),
                Ok(_) => {
                    compare_variants(addr, &path, built, &file, &mut crawl);
                    crawl.files.insert(file);
                }
            },
        }
        let content_type = response.header("content-type").unwrap_or("").to_string();
        let what = format!("{path} ({content_type})");
        let links = if content_type.starts_with("text/html") {
            html_links(&response.text())
        } else if content_type.contains("json") {
            json_links(&what, &response.body)
        } else if content_type.contains("xml") || content_type.starts_with("text/x-opml") {
            xml_links(&what, &response.body)
        } else {
            crawl.failures.push(format!(
                "GET {path} (linked from {from}) has an unexpected Content-Type {content_type:?}"
            ));
            Vec::new()
        };
        crawl.reached.insert(path.clone(), route);
        for link in links {
            if let Some(next) = site_path(&path, &link) {
                if seen.insert(next.clone()) {
                    queue.push_back((next, path.clone()));
                }
            }
        }
    }
    crawl
}

/// Compares what `serve` sends for `path` with `Accept-Encoding: gzip` and `br` with the
/// precompressed files `build` wrote beside `file` (`file.gz`, `file.br`): the same bytes,
/// or no such file when `serve` sends the plain bytes.
fn compare_variants(addr: SocketAddr, path: &str, built: &Path, file: &str, crawl: &mut Crawl) {
    for (coding, suffix) in [("gzip", "gz"), ("br", "br")] {
        let response = get(addr, path, &[("Accept-Encoding", coding)]);
        let name = format!("{file}.{suffix}");
        let on_disk = fs::read(built.join(&name)).ok();
        match (response.header("content-encoding"), on_disk) {
            (Some(c), Some(bytes)) if c == coding && bytes == response.body => {
                crawl.files.insert(name);
            }
            (Some(c), Some(bytes)) if c == coding => crawl.failures.push(format!(
                "GET {path} with Accept-Encoding {coding} differs from the built {name}: {}",
                first_difference(("served", &response.body), ("built", &bytes))
            )),
            (None, None) => {}
            (served, built) => crawl.failures.push(format!(
                "GET {path} with Accept-Encoding {coding}: served Content-Encoding {served:?}, built {name}: {}",
                if built.is_some() { "present" } else { "absent" }
            )),
        }
    }
}

#[test]
fn every_page_serve_answers_is_the_file_build_wrote() {
    let workspace = Workspace::empty(&format!(
        "title = \"Police news\"\nbase_url = \"{BASE}\"\nmax_items = {PAGE}\narchive_page_size = {PAGE}\n"
    ));
    let published = write_corpus(&workspace);
    let built = workspace.path("built");

    let build = Run::of(
        feedpub(workspace.root())
            .arg("build")
            .arg("--config")
            .arg(&workspace.config)
            .arg("--out")
            .arg(&built)
            .arg("--base-url")
            .arg(BASE),
    );
    assert_eq!(build.code, 0, "feedpub build failed: {build:?}");

    let mut command = serve_command(&workspace.config);
    command.arg("--base-url").arg(BASE);
    let mut server = ServerProcess::spawn(command);
    let addr = server.wait_for_banner(STARTUP);

    let crawl = crawl(addr, &built);
    drop(server);

    let mut articles = BTreeSet::new();
    let mut feeds = BTreeSet::new();
    let mut tags: BTreeMap<Format, BTreeSet<String>> = BTreeMap::new();
    let mut archives: BTreeMap<Format, BTreeSet<usize>> = BTreeMap::new();
    let mut history = BTreeSet::new();
    let mut languages: BTreeMap<Format, BTreeSet<String>> = BTreeMap::new();
    let mut index = false;
    let mut opml = false;
    for route in crawl.reached.values() {
        match route {
            Route::Index => index = true,
            Route::Opml => opml = true,
            Route::Language(code, format) => {
                languages.entry(*format).or_default().insert(code.clone());
            }
            Route::Feed(format) => {
                feeds.insert(*format);
            }
            Route::Tag(slug, format) => {
                tags.entry(*format).or_default().insert(slug.clone());
            }
            Route::Archive(format, n) => {
                archives.entry(*format).or_default().insert(*n);
            }
            Route::History(n) => {
                history.insert(*n);
            }
            Route::Article(id) => {
                articles.insert(id.clone());
            }
            Route::Health | Route::Moved(_) | Route::OldArticle(_) | Route::NotFound => {}
            Route::Stats | Route::StatsJson => {}
        }
    }
    println!(
        "reached {} URLs: index {index}, feeds {feeds:?}, tag feeds {tags:?}, archive pages {archives:?}, {} article pages\n{}",
        crawl.reached.len(),
        articles.len(),
        crawl.reached.keys().cloned().collect::<Vec<_>>().join("\n")
    );

    let mut failures = crawl.failures;
    let mut written = visible_files_under(&built);
    for host_file in ["_headers", "_redirects"] {
        assert!(
            written.remove(host_file),
            "build wrote the static hosts' {host_file}"
        );
    }
    let unreached: Vec<&String> = written.difference(&crawl.files).collect();
    if !unreached.is_empty() {
        failures.push(format!(
            "build wrote files that no link of the served site reaches (or whose page differed): {unreached:?}"
        ));
    }
    assert!(
        failures.is_empty(),
        "serve and build disagree ({} problems):\n{}",
        failures.len(),
        failures.join("\n")
    );

    assert!(index, "the crawl reached the index page");
    assert!(opml, "the crawl reached the OPML list of feeds");
    let codes: BTreeSet<String> = ["en", "fa"].map(String::from).into_iter().collect();
    for format in Format::ALL {
        assert_eq!(
            languages.get(&format),
            Some(&codes),
            "the crawl reached the {format:?} feed of every language"
        );
    }
    assert_eq!(
        feeds,
        Format::ALL.into_iter().collect(),
        "the crawl reached every subscription feed"
    );
    let slugs: BTreeSet<String> = TAGS.iter().map(|(_, slug)| slug.to_string()).collect();
    for format in Format::ALL {
        assert_eq!(
            tags.get(&format),
            Some(&slugs),
            "the crawl reached the {format:?} feed of every tag ({TAGS:?})"
        );
    }
    let pages: BTreeSet<usize> = (1..=published / PAGE).collect();
    for format in Format::ARCHIVED {
        assert_eq!(
            archives.get(&format),
            Some(&pages),
            "the crawl reached every complete {format:?} archive page of {published} articles in pages of {PAGE}"
        );
    }
    assert_eq!(
        history, pages,
        "the crawl reached every HTML history page of {published} articles in pages of {PAGE}"
    );
    assert_eq!(
        articles.len(),
        published,
        "the crawl reached the page of every published article: {articles:?}"
    );
    assert!(
        articles.contains("café-news"),
        "the page of the article whose id needs percent-encoding was reached: {articles:?}"
    );
}

/// Every file under `dir` with its bytes and modification time.
fn snapshot_of(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    visible_files_under(dir)
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            let bytes = fs::read(&path).expect("read a built file");
            let modified = fs::metadata(&path)
                .and_then(|m| m.modified())
                .expect("a modification time");
            (name, (bytes, modified))
        })
        .collect()
}

#[test]
fn a_rebuild_after_deleting_articles_removes_their_pages_tags_and_archive_pages_and_touches_no_other_page(
) {
    let workspace = Workspace::empty(&format!(
        "base_url = \"{BASE}\"\nmax_items = {PAGE}\narchive_page_size = {PAGE}\n"
    ));
    write_corpus(&workspace);
    // A file of someone else's in the output folder is left alone.
    workspace.create_output();
    let output = workspace.output.clone();
    fs::write(output.join("robots.txt"), "User-agent: *\n").expect("write robots.txt");
    let build = || {
        let run = Run::of(
            feedpub(workspace.root())
                .arg("build")
                .arg("--config")
                .arg(&workspace.config)
                .arg("--out")
                .arg(&output),
        );
        assert_eq!(run.code, 0, "feedpub build failed: {run:?}");
    };
    build();
    let before = snapshot_of(&output);
    // Three of the 17 articles go: one scraped page, the only article tagged ترافیک (whose
    // feeds go with it), and one more, so that 14 articles make 2 archive pages, not 3.
    let gone_pages = ["articles/1002.html", "articles/1003.html"];
    let gone_files = [
        "tags/ترافیک/rss.xml",
        "tags/ترافیک/atom.xml",
        "tags/ترافیک/feed.json",
        "archive/rss/3.xml",
        "archive/atom/3.xml",
    ];
    for name in gone_pages.iter().chain(&gone_files) {
        assert!(before.contains_key(*name), "{name}: {:?}", before.keys());
    }
    let persian_page = before
        .keys()
        .find(|n| {
            n.starts_with("articles/")
                && String::from_utf8_lossy(&before[*n].0).contains("طرح جدید ترافیک پایتخت")
        })
        .expect("the Persian Markdown article's page")
        .clone();
    // Modification times have a resolution: a rewrite would show.
    std::thread::sleep(Duration::from_millis(1100));
    for file in ["en_2.txt", "en_3.txt", "persian.md"] {
        fs::remove_file(workspace.article_path(file)).expect("delete an article");
    }
    build();
    let after = snapshot_of(&output);
    for name in gone_pages
        .iter()
        .chain(&gone_files)
        .chain([&persian_page.as_str()])
    {
        assert!(!after.contains_key(*name), "{name} is gone");
    }
    assert!(
        !output.join("tags/ترافیک").exists(),
        "the folder of a tag that is gone is removed"
    );
    assert!(
        after.contains_key("robots.txt"),
        "a file feedpub did not write stays"
    );
    for (name, (bytes, modified)) in &before {
        // A page's precompressed variants go and stay with it.
        let page = name
            .strip_suffix(".gz")
            .or_else(|| name.strip_suffix(".br"))
            .unwrap_or(name);
        if gone_pages.contains(&page) || page == persian_page || !name.starts_with("articles/") {
            continue;
        }
        let (new_bytes, new_modified) = after.get(name).expect("every other page is kept");
        assert_eq!(new_bytes, bytes, "{name} has the same bytes");
        assert_eq!(new_modified, modified, "{name} was not rewritten");
    }
    let new_names: Vec<&String> = after.keys().filter(|n| !before.contains_key(*n)).collect();
    assert!(new_names.is_empty(), "no file appears: {new_names:?}");
}
