//! The files that tell static hosts how to serve the site as `serve` does: `_headers` (the
//! response headers) and `_redirects` (the old and alternative names), in the formats that
//! Netlify and Cloudflare Pages read.
//!
//! Both hosts apply every rule whose pattern matches a path and join the values of a header
//! named in several, so the rules are written such that no two that match one path name the
//! same header. `:name` matches one path segment and `*` the rest of the path on both, and
//! Cloudflare Pages reads at most 100 header rules: the rules are by pattern, not by file,
//! so their number does not grow with the site.

use std::fmt::Write;

use crate::config::Config;
use crate::render::{cache_control_text, CORS_EXPOSE, CSP};
use crate::urls::{Format, ALIASES, HTML_TYPE, OPML_PATH, OPML_TYPE};

/// The name of the headers file in the output folder.
pub const HEADERS_FILE: &str = "_headers";

/// The name of the redirects file in the output folder.
pub const REDIRECTS_FILE: &str = "_redirects";

/// One rule of `_headers`: a path pattern and its headers.
struct Rule {
    pattern: String,
    headers: Vec<(&'static str, String)>,
}

/// The `_headers` file of a site made with `config`.
pub fn headers_file(config: &Config) -> String {
    let mut out = String::from(
        "# Response headers for static hosts that read this file (Netlify, Cloudflare Pages):\n\
         # those `feedpub serve` sends. Written by feedpub build; edits are overwritten.\n",
    );
    for rule in rules(config) {
        let _ = writeln!(out, "{}", rule.pattern);
        for (name, value) in rule.headers {
            let _ = writeln!(out, "  {name}: {value}");
        }
    }
    out
}

/// The header rules, in order.
fn rules(config: &Config) -> Vec<Rule> {
    let cache = |max_age: u64| {
        let value = cache_control_text(
            max_age,
            config.stale_while_revalidate,
            config.stale_if_error,
        );
        ("Cache-Control", value)
    };
    let html = || {
        vec![
            ("Content-Security-Policy", CSP.to_string()),
            ("Referrer-Policy", "no-referrer".to_string()),
        ]
    };
    let mut rules = vec![Rule {
        pattern: "/*".into(),
        headers: vec![
            ("X-Content-Type-Options", "nosniff".into()),
            ("Access-Control-Allow-Origin", "*".into()),
            ("Access-Control-Expose-Headers", CORS_EXPOSE.into()),
        ],
    }];
    let mut index = html();
    index.push(cache(config.cache_max_age));
    rules.push(Rule {
        pattern: "/".into(),
        headers: index,
    });
    for format in Format::ALL {
        let mut headers = vec![
            ("Content-Type", format.content_type().to_string()),
            cache(config.cache_max_age),
        ];
        if let Some(link) = hub_link(config, format.path()) {
            headers.push(("Link", link));
        }
        rules.push(Rule {
            pattern: format.path().into(),
            headers,
        });
        for folder in ["/tags/:tag", "/lang/:code"] {
            rules.push(Rule {
                pattern: format!("{folder}{}", format.path()),
                headers: vec![
                    ("Content-Type", format.content_type().to_string()),
                    cache(config.cache_max_age),
                ],
            });
        }
    }
    rules.push(Rule {
        pattern: OPML_PATH.into(),
        headers: vec![
            ("Content-Type", OPML_TYPE.to_string()),
            cache(config.cache_max_age),
        ],
    });
    for format in Format::ARCHIVED {
        rules.push(Rule {
            pattern: format!("/archive/{}/*", format.name()),
            headers: vec![("Content-Type", format.content_type().to_string())],
        });
    }
    rules.push(Rule {
        pattern: "/archive/*".into(),
        headers: vec![cache(config.archive_max_age)],
    });
    // One segment: the history pages, not the archive feeds below them.
    rules.push(Rule {
        pattern: "/archive/:page".into(),
        headers: html(),
    });
    let mut articles = html();
    articles.push(("Content-Type", HTML_TYPE.to_string()));
    articles.push(cache(config.cache_max_age));
    rules.push(Rule {
        pattern: "/articles/*".into(),
        headers: articles,
    });
    rules
}

/// The WebSub `Link` header of the feed at `path`, as `serve` sends it, when hubs are
/// configured.
pub fn hub_link(config: &Config, path: &str) -> Option<String> {
    (!config.hubs.is_empty()).then(|| {
        let mut links: Vec<String> = config
            .hubs
            .iter()
            .map(|h| format!("<{h}>; rel=\"hub\""))
            .collect();
        links.push(format!("<{}>; rel=\"self\"", config.url(path)));
        links.join(", ")
    })
}

/// The `_redirects` file: every alias `serve` answers with 301, the configured `redirects`
/// (to the same absolute URL `serve` gives), and the `gone` paths with 410 (a host that
/// shows a page with such a status shows the index; Cloudflare Pages, which has no 410,
/// skips those lines).
pub fn redirects_file(config: &Config) -> String {
    let mut out = String::from(
        "# Redirects for static hosts that read this file (Netlify, Cloudflare Pages): those\n\
         # `feedpub serve` answers with 301 and 410. Written by feedpub build; edits are overwritten.\n",
    );
    for (from, to) in ALIASES {
        if !config.redirects.contains_key(*from) && !config.gone.contains(*from) {
            let _ = writeln!(out, "{from} {to} 301");
        }
    }
    for (from, to) in &config.redirects {
        let _ = writeln!(out, "{from} {} 301", config.url(to));
    }
    for path in &config.gone {
        let _ = writeln!(out, "{path} / 410");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use std::path::Path;

    fn config(extra: &str) -> Config {
        let text = format!("base_url = \"https://news.example\"\n{extra}");
        Config::parse(Path::new("feedpub.toml"), &text, &Overrides::default()).unwrap()
    }

    /// The headers `_headers` gives `path`, as a host that applies every matching rule does.
    fn headers_for(file: &str, path: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut applies = false;
        for line in file.lines().filter(|l| !l.starts_with('#')) {
            if let Some(header) = line.strip_prefix("  ") {
                if applies {
                    let (name, value) = header.split_once(": ").unwrap();
                    out.push((name.to_string(), value.to_string()));
                }
            } else {
                applies = matches(line, path);
            }
        }
        out
    }

    /// Netlify's and Cloudflare's matching: `:name` is one segment, a final `*` the rest.
    fn matches(pattern: &str, path: &str) -> bool {
        if let Some(prefix) = pattern.strip_suffix('*') {
            return path.starts_with(prefix);
        }
        let (p, q): (Vec<&str>, Vec<&str>) =
            (pattern.split('/').collect(), path.split('/').collect());
        p.len() == q.len()
            && p.iter()
                .zip(&q)
                .all(|(a, b)| a.starts_with(':') && !b.is_empty() || a == b)
    }

    #[test]
    fn every_path_gets_each_header_once_and_the_type_serve_sends() {
        let file = headers_file(&config("hubs = [\"https://hub.example/websub\"]"));
        let cases = [
            ("/rss.xml", Some(Format::Rss.content_type()), "300"),
            ("/atom.xml", Some(Format::Atom.content_type()), "300"),
            ("/feed.json", Some(Format::Json.content_type()), "300"),
            (
                "/tags/city-hall/atom.xml",
                Some(Format::Atom.content_type()),
                "300",
            ),
            ("/lang/fa/rss.xml", Some(Format::Rss.content_type()), "300"),
            (
                "/lang/en-US/feed.json",
                Some(Format::Json.content_type()),
                "300",
            ),
            ("/feeds.opml", Some(OPML_TYPE), "300"),
            (
                "/archive/rss/3.xml",
                Some(Format::Rss.content_type()),
                "86400",
            ),
            (
                "/archive/atom/3.xml",
                Some(Format::Atom.content_type()),
                "86400",
            ),
            ("/archive/3.html", None, "86400"),
            ("/articles/26462.html", Some(HTML_TYPE), "300"),
            ("/", None, "300"),
        ];
        for (path, content_type, max_age) in cases {
            let headers = headers_for(&file, path);
            let mut names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            let count = names.len();
            names.dedup();
            assert_eq!(
                names.len(),
                count,
                "{path}: a header named twice: {headers:?}"
            );
            let get = |name: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(get("X-Content-Type-Options"), Some("nosniff"), "{path}");
            assert_eq!(get("Access-Control-Allow-Origin"), Some("*"), "{path}");
            assert_eq!(
                get("Access-Control-Expose-Headers"),
                Some(CORS_EXPOSE),
                "{path}"
            );
            assert_eq!(get("Content-Type"), content_type, "{path}");
            let cache = format!(
                "public, max-age={max_age}, stale-while-revalidate=60, stale-if-error=86400"
            );
            assert_eq!(get("Cache-Control"), Some(cache.as_str()), "{path}");
            let html = path.ends_with(".html") || path == "/";
            assert_eq!(get("Content-Security-Policy").is_some(), html, "{path}");
        }
        let link = headers_for(&file, "/rss.xml");
        assert!(link.iter().any(|(n, v)| n == "Link"
            && v == "<https://hub.example/websub>; rel=\"hub\", <https://news.example/rss.xml>; rel=\"self\""));
    }

    #[test]
    fn redirects_are_the_aliases() {
        let file = redirects_file(&config(""));
        let rules: Vec<&str> = file.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(rules.len(), ALIASES.len());
        assert!(rules.contains(&"/feed /rss.xml 301"));
        assert!(rules.contains(&"/atom /atom.xml 301"));
    }

    #[test]
    fn configured_moves_join_the_aliases_and_replace_the_ones_they_name() {
        let file = redirects_file(&config(
            "redirects = { \"/index.xml\" = \"/rss.xml\", \"/feed\" = \"/atom.xml\" }\ngone = [\"/old-feed.xml\", \"/rss\"]",
        ));
        let rules: Vec<&str> = file.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(rules.contains(&"/index.xml https://news.example/rss.xml 301"));
        assert!(rules.contains(&"/feed https://news.example/atom.xml 301"));
        assert!(!rules.contains(&"/feed /rss.xml 301"));
        assert!(rules.contains(&"/old-feed.xml / 410"));
        assert!(rules.contains(&"/rss / 410"));
        assert!(!rules.iter().any(|r| r.starts_with("/rss /rss.xml")));
        assert_eq!(rules.len(), ALIASES.len() + 2);
    }
}
