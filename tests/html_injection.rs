//! Markup injection through articles: titles, bodies, tags and ids full of `<script>`,
//! event-handler attributes, `javascript:` links, stray `</p>` and `<img onerror>`. The
//! pages are fetched over a real socket from a running server and parsed with an HTML5
//! parser (`scraper`, html5ever): no `<script>` element, no `on*` attribute, no
//! `javascript:` (or `vbscript:`, `data:text/html`) URL may appear, whatever the article
//! says, and the pages carry a Content-Security-Policy and `nosniff`.

mod common;

use std::net::SocketAddr;

use common::*;
use scraper::{Html, Selector};

// ---------------------------------------------------------------------------------------
// A server in this process
// ---------------------------------------------------------------------------------------

struct TestServer {
    runtime: tokio::runtime::Runtime,
    server: Option<feedpub::Server>,
    addr: SocketAddr,
    _workspace: Workspace,
}

impl TestServer {
    /// Starts a server over `articles` (file name, contents).
    fn start(articles: &[(&str, &str)]) -> TestServer {
        let workspace = Workspace::with_config(
            "articles = \"articles\"\noutput = \"feeds\"\naddr = \"127.0.0.1:0\"\ntimezone = \"Asia/Tehran\"\nrescan_interval_secs = 3600\n",
        );
        for (name, text) in articles {
            workspace.write_article(name, text);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(feedpub::Server::start(feedpub::ServeOptions {
                config_path: Some(workspace.config.clone()),
                overrides: Default::default(),
            }))
            .expect("the server starts");
        let addr = server.addr();
        TestServer {
            runtime,
            server: Some(server),
            addr,
            _workspace: workspace,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// `GET path` on a new connection.
fn get(addr: SocketAddr, path: &str) -> Response {
    common::get(addr, path, &[])
}

// ---------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------

/// URL schemes that run code or render attacker HTML when followed or loaded.
fn dangerous_url(value: &str) -> bool {
    // Browsers ignore ASCII white space and control characters inside the scheme.
    let squeezed: String = value
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .collect::<String>()
        .to_ascii_lowercase();
    squeezed.starts_with("javascript:")
        || squeezed.starts_with("vbscript:")
        || squeezed.starts_with("data:text/html")
}

/// Everything in `html` that could run script: returns one line per finding.
fn script_vectors(html: &Html) -> Vec<String> {
    let mut found = Vec::new();
    for element in html.select(&Selector::parse("*").unwrap()) {
        let el = element.value();
        let name = el.name();
        if matches!(
            name,
            "script" | "iframe" | "object" | "embed" | "frame" | "base" | "form"
        ) {
            found.push(format!("<{name}> element: {}", element.html()));
        }
        for (attr, value) in el.attrs() {
            if attr.to_ascii_lowercase().starts_with("on") {
                found.push(format!("{attr}= on <{name}>: {value:?}"));
            }
            if matches!(
                attr,
                "href" | "src" | "action" | "formaction" | "xlink:href" | "srcset" | "poster"
            ) && dangerous_url(value)
            {
                found.push(format!("{attr}={value:?} on <{name}>"));
            }
        }
        if name == "meta"
            && el
                .attr("http-equiv")
                .is_some_and(|v| v.eq_ignore_ascii_case("refresh"))
        {
            found.push("<meta http-equiv=refresh>".into());
        }
    }
    found
}

fn assert_safe_page(what: &str, response: &Response) -> Html {
    assert_eq!(response.status, 200, "{what}: {}", response.head());
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{what}"
    );
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    let csp = response
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    assert!(csp.contains("default-src 'none'"), "{what}: CSP {csp}");
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe-eval"),
        "{what}: the CSP must not allow scripts: {csp}"
    );
    let html = Html::parse_document(response.utf8());
    let vectors = script_vectors(&html);
    assert!(
        vectors.is_empty(),
        "{what}: {}\n--- page ---\n{}",
        vectors.join("\n"),
        response.utf8()
    );
    html
}

fn text_of(html: &Html, selector: &str) -> Vec<String> {
    html.select(&Selector::parse(selector).unwrap())
        .map(|e| e.text().collect::<String>())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Hostile articles
// ---------------------------------------------------------------------------------------

const PAYLOAD: &str = "<script>alert(1)</script> \"onload=alert(1) x=\" </p> <img src=x onerror=alert(1)> javascript:alert(1) <a href=\"javascript:alert(1)\">click</a> ]]> <svg onload=alert(1)> <iframe src=javascript:alert(1)></iframe> <meta http-equiv=refresh content=0;url=javascript:alert(1)>";

fn text_article() -> String {
    format!(
        "Print  Send to Friend\n\n12 May 2018\n\n{PAYLOAD}\n\nFirst paragraph {PAYLOAD}\n\n</p><script>alert(2)</script><p>\n\n12:55 - 2018/05/12 / number : 666 / Show Count : 1\n"
    )
}

fn markdown_article() -> String {
    let toml_payload = PAYLOAD.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "+++\ntitle = \"{toml_payload}\"\ndate = 2024-05-01T10:00:00+03:30\nid = \"\\\"><script>alert(3)</script>\"\ntags = [\"<script>alert(4)</script>\", \"\\\" onmouseover=\\\"alert(5)\"]\nauthor = \"<img src=x onerror=alert(6)>\"\nsummary = \"{toml_payload}\"\n+++\n\n{PAYLOAD}\n\n<script>alert(7)</script>\n\n<div onclick=\"alert(8)\">raw block</div>\n\n<img src=x onerror=alert(9)>\n\n[title attr](http://example.org/ \"x\\\" onmouseover=\\\"alert(10)\")\n\n![alt\" onerror=\"alert(11)](p.png)\n\n<a href=\"javascript:alert(12)\">raw link</a>\n\n```html\n<script>alert(13)</script>\n```\n\n`<script>alert(14)</script>`\n"
    )
}

#[test]
fn hostile_titles_bodies_tags_and_ids_never_become_markup_in_pages() {
    let text = text_article();
    let markdown = markdown_article();
    let server = TestServer::start(&[("666.txt", &text), ("evil.md", &markdown)]);
    let snapshot = server.server.as_ref().unwrap().snapshot();
    assert_eq!(
        snapshot.feeds.items.len(),
        2,
        "both hostile articles are published"
    );

    // The index page lists both titles, as text.
    let index = get(server.addr, "/");
    let html = assert_safe_page("/", &index);
    let titles = text_of(&html, "main li a[href*=\"/articles/\"]");
    assert_eq!(titles.len(), 2, "{}", index.utf8());
    for title in &titles {
        assert!(
            title.contains("<script>alert(1)</script>") && title.contains("onerror=alert(1)"),
            "the title is shown as text, not dropped: {title:?}"
        );
    }

    // Each article page, reached by the link the index gives.
    let links: Vec<String> = html
        .select(&Selector::parse("main li a[href*=\"/articles/\"]").unwrap())
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    for href in &links {
        // Links are absolute, from the base URL; the server is asked for the path.
        let start = href.find("/articles/").expect("a link to an article page");
        let link = &href[start..];
        let page = get(server.addr, link);
        let html = assert_safe_page(link, &page);
        let h1 = text_of(&html, "h1");
        assert_eq!(h1.len(), 1, "{link}: exactly one h1 (no injected one)");
        assert!(
            h1[0].contains("<script>alert(1)</script>"),
            "{link}: {h1:?}"
        );
        assert_eq!(
            text_of(&html, "title").len(),
            1,
            "{link}: the title element is not broken out of"
        );
        // The body text is there, as text.
        let body_text = text_of(&html, "article div").concat();
        assert!(
            body_text.contains("onerror=alert(1)"),
            "{link}: {body_text}"
        );
    }

    // A hostile id in the URL, and ids that do not exist, are never reflected as markup.
    for path in [
        "/articles/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/articles/%3Cscript%3Ealert(1)%3C%2Fscript%3E.html",
        "/articles/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "/%3Cscript%3E",
        "/tags/%3Cscript%3E/rss.xml",
    ] {
        let response = get(server.addr, path);
        assert_eq!(response.status, 404, "{path}");
        assert!(
            !response.utf8().contains('<'),
            "{path}: 404 body reflects input: {}",
            response.utf8()
        );
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    }
}

/// The feeds carry the article HTML for readers to display; it must not carry markup the
/// article did not mean as Markdown either (raw HTML is escaped).
#[test]
fn hostile_articles_give_feed_content_without_script_vectors() {
    let text = text_article();
    let markdown = markdown_article();
    let server = TestServer::start(&[("666.txt", &text), ("evil.md", &markdown)]);
    let rss_response = get(server.addr, "/rss.xml");
    assert_eq!(rss_response.status, 200);
    assert_eq!(
        rss_response.header("x-content-type-options"),
        Some("nosniff")
    );
    let atom_response = get(server.addr, "/atom.xml");
    assert_eq!(atom_response.status, 200);
    // The content and the summary (RSS `description`) of every item, in both formats.
    for (format, response) in [("rss.xml", &rss_response), ("atom.xml", &atom_response)] {
        let feed = check_feed(format, &response.body);
        assert_eq!(feed.entries.len(), 2, "{format}");
        for entry in &feed.entries {
            for html in entry_html(entry) {
                let vectors = script_vectors(&Html::parse_fragment(&html));
                assert!(
                    vectors.is_empty(),
                    "{format}: {}\n{html}",
                    vectors.join("\n")
                );
            }
        }
    }
}

/// Markdown link syntax with script URLs: pulldown-cmark passes link destinations through
/// unchanged, so `src/markdown.rs` must neutralize every scheme but http, https and mailto.
#[test]
fn markdown_links_with_script_urls_are_neutralized() {
    let markdown = "+++\ntitle = \"links\"\ndate = 2024-05-01\nid = \"links\"\n+++\n\n[plain](javascript:alert(1))\n\n[cased](JaVaScRiPt:alert(2))\n\n[spaced](<java script:alert(3)>)\n\n[entity](&#106;avascript:alert(4))\n\n<javascript:alert(5)>\n\n![img](javascript:alert(6))\n\n[vb](vbscript:msgbox(7))\n\n[data](data:text/html,<script>alert(8)</script>)\n\n[ref][r]\n\n[r]: javascript:alert(9)\n";
    let server = TestServer::start(&[("links.md", markdown)]);
    let page = get(server.addr, "/articles/links.html");
    assert_safe_page("/articles/links.html", &page);
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    let bad = [
        "<script>x</script>",
        "<p onclick=x>a</p>",
        "<a href=\" JaVa\tScript:alert(1)\">a</a>",
        "<img src=x OnError=alert(1)>",
        "<iframe src=x></iframe>",
        "<a href=\"data:text/html;base64,xx\">a</a>",
    ];
    for html in bad {
        assert!(
            !script_vectors(&Html::parse_fragment(html)).is_empty(),
            "{html}"
        );
    }
    assert!(script_vectors(&Html::parse_fragment(
        "<p>&lt;script&gt; <a href=\"https://x.org/\">a</a> javascript:alert(1)</p>"
    ))
    .is_empty());
    assert!(dangerous_url("javascript:alert(1)"));
    assert!(!dangerous_url("https://example.org/javascript:"));
}
