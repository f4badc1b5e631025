//! Every path feedpub answers and every file it writes, in one place: the feed formats and
//! their media types, tag and archive paths, article links, and the parse of a request
//! path into the [`Route`] it names. Links are built and requests are read with the same
//! functions, so the two cannot drift apart.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The HTML content type.
pub const HTML_TYPE: &str = "text/html; charset=utf-8";

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// RSS 2.0
    Rss,
    /// Atom 1.0
    Atom,
    /// JSON Feed 1.1
    Json,
}

impl Format {
    /// Every format, in the order feeds are listed.
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The formats that have RFC 5005 archive pages.
    pub const ARCHIVED: [Format; 2] = [Format::Rss, Format::Atom];

    /// The format's name in archive paths.
    pub fn name(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    /// The file name of a feed of this format (`rss.xml`, `atom.xml`, `feed.json`).
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "rss.xml",
            Format::Atom => "atom.xml",
            Format::Json => "feed.json",
        }
    }

    /// The path of the subscription feed of this format.
    pub fn path(self) -> &'static str {
        match self {
            Format::Rss => "/rss.xml",
            Format::Atom => "/atom.xml",
            Format::Json => "/feed.json",
        }
    }

    /// The media type of this format, as used in `type` attributes.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }

    /// The `Content-Type` of a document of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The format whose subscription feed file is named `file` in a folder.
    pub fn from_file_name(file: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.file_name() == file)
    }
}

/// Characters of an id that are percent-encoded in URLs and identities (RFC 3986 unreserved
/// characters stay as they are).
const ID_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The id as it appears in URLs: percent-encoded where needed.
pub fn url_id(id: &str) -> String {
    utf8_percent_encode(id, ID_ESCAPES).to_string()
}

/// The URL-safe form of a tag: lower case, runs of anything but letters and digits made one
/// `-`.
pub fn tag_slug(tag: &str) -> String {
    let mut slug = String::with_capacity(tag.len());
    for c in tag.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

/// The folder of a tag's feeds: `/tags/{slug}`.
pub fn tag_prefix(tag: &str) -> String {
    format!("/tags/{}", url_id(&tag_slug(tag)))
}

/// The path of the `format` feed of the tag `tag`: `/tags/{slug}/rss.xml`, ...
pub fn tag_feed_path(tag: &str, format: Format) -> String {
    format!("{}{}", tag_prefix(tag), format.path())
}

/// The folder of the feeds of the language `code` (a BCP 47 tag): `/lang/{code}`.
pub fn language_prefix(code: &str) -> String {
    format!("/lang/{}", url_id(code))
}

/// The path of the `format` feed of the language `code`: `/lang/{code}/rss.xml`, ...
pub fn language_feed_path(code: &str, format: Format) -> String {
    format!("{}{}", language_prefix(code), format.path())
}

/// The path of the server's metrics (Prometheus text format), for the admin token only.
pub const METRICS_PATH: &str = "/metrics";

/// The path of the OPML list of every feed of the site.
pub const OPML_PATH: &str = "/feeds.opml";

/// The content type of the OPML list.
pub const OPML_TYPE: &str = "text/x-opml; charset=utf-8";

/// Whether `code` can be a language's folder: letters, digits and `-` only (what a
/// canonical BCP 47 tag is made of), so it never needs escaping in a path. Of any length:
/// a tag has no longest form (extensions and private use may follow one another), and one
/// of 65 characters or more had feeds that were listed and written but answered 404. A
/// request's target is bounded before it is parsed.
fn is_language_code(code: &str) -> bool {
    !code.is_empty()
        && !code.starts_with('-')
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The path of archive page `number` (from 1) of `format`.
pub fn archive_path(format: Format, number: usize) -> String {
    format!("/archive/{}/{number}.xml", format.name())
}

/// The path of HTML history page `number`: `/archive/{n}.html`, the articles of the RFC 5005
/// archive pages of the same number, for people.
pub fn history_path(number: usize) -> String {
    format!("/archive/{number}.html")
}

/// The path of the page of article `id`: `/articles/{id}.html`, the name of its file in the
/// output folder, so that a static web server answers it without a rewrite or a redirect.
pub fn article_path(id: &str) -> String {
    format!("/articles/{}.html", url_id(id))
}

/// The old and alternative names of resources, answered with 301 to the path beside them.
pub const ALIASES: &[(&str, &str)] = &[
    ("/index.html", "/"),
    ("/rss", "/rss.xml"),
    ("/feed", "/rss.xml"),
    ("/feed/", "/rss.xml"),
    ("/rss/", "/rss.xml"),
    ("/feed.xml", "/rss.xml"),
    ("/atom", "/atom.xml"),
    ("/atom/", "/atom.xml"),
];

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`
    Index,
    /// `/rss.xml`, `/atom.xml`, `/feed.json`: a subscription feed.
    Feed(Format),
    /// `/articles/{id}.html`, the id percent-decoded.
    Article(String),
    /// `/articles/{id}`, the form of article links before they named the page's file:
    /// answered with 301 to the article's page when there is such an article.
    OldArticle(String),
    /// `/tags/{slug}/rss.xml`, `/atom.xml` or `/feed.json`: a tag's feed.
    Tag(String, Format),
    /// `/lang/{code}/rss.xml`, `/atom.xml` or `/feed.json`: the feed of the articles in one
    /// language.
    Language(String, Format),
    /// `/feeds.opml`: every feed of the site, for subscribing to all at once.
    Opml,
    /// `/archive/{rss|atom}/{n}.xml`: an RFC 5005 archive page.
    Archive(Format, usize),
    /// `/archive/{n}.html`: the HTML page of the articles of archive page `n`.
    History(usize),
    /// `/healthz`
    Health,
    /// An old or alternative name of a resource: answered with 301 to this path.
    Moved(&'static str),
    /// Nothing.
    NotFound,
    /// `/stats`: the subscriber statistics as a page, for the holder of the admin token.
    Stats,
    /// `/stats.json`: the subscriber statistics as JSON, for the holder of the admin token.
    StatsJson,
}

/// The path of the statistics page.
pub const STATS_PATH: &str = "/stats";

/// The path of the statistics as JSON.
pub const STATS_JSON_PATH: &str = "/stats.json";

impl Route {
    /// Maps a request path to a route.
    pub fn parse(path: &str) -> Route {
        match path {
            "/" => return Route::Index,
            "/healthz" => return Route::Health,
            OPML_PATH => return Route::Opml,
            _ => {}
        }
        // The subscriber statistics.
        match path {
            STATS_PATH => return Route::Stats,
            STATS_JSON_PATH => return Route::StatsJson,
            _ => {}
        }
        if let Some(format) = Format::ALL.into_iter().find(|f| f.path() == path) {
            return Route::Feed(format);
        }
        if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == path) {
            return Route::Moved(to);
        }
        if let Some(rest) = path.strip_prefix("/archive/") {
            return archive_route(rest);
        }
        if let Some(rest) = path.strip_prefix("/tags/") {
            return tag_route(rest);
        }
        if let Some(rest) = path.strip_prefix("/lang/") {
            return match rest.split_once('/') {
                Some((code, file)) if is_language_code(code) => Format::from_file_name(file)
                    .map_or(Route::NotFound, |f| Route::Language(code.to_string(), f)),
                _ => Route::NotFound,
            };
        }
        match path.strip_prefix("/articles/") {
            Some(raw) if !raw.is_empty() && !raw.contains('/') => {
                let (raw, page) = match raw.strip_suffix(".html") {
                    Some(stem) => (stem, true),
                    None => (raw, false),
                };
                match percent_decode_str(raw).decode_utf8() {
                    Ok(id) if id.is_empty() => Route::NotFound,
                    Ok(id) if page => Route::Article(id.into_owned()),
                    Ok(id) => Route::OldArticle(id.into_owned()),
                    Err(_) => Route::NotFound,
                }
            }
            _ => Route::NotFound,
        }
    }

    /// The request path of this route, the inverse of [`Route::parse`]; `None` for what no
    /// single path names (redirects, nothing).
    pub fn path(&self) -> Option<String> {
        match self {
            Route::Index => Some("/".into()),
            Route::Feed(format) => Some(format.path().into()),
            Route::Tag(slug, format) => Some(format!("/tags/{}{}", url_id(slug), format.path())),
            Route::Language(code, format) => Some(language_feed_path(code, *format)),
            Route::Opml => Some(OPML_PATH.into()),
            Route::Archive(format, n) => Some(archive_path(*format, *n)),
            Route::History(n) => Some(history_path(*n)),
            Route::Article(id) => Some(article_path(id)),
            Route::Health => Some("/healthz".into()),
            Route::Moved(_) | Route::OldArticle(_) | Route::NotFound => None,
            Route::Stats => Some(STATS_PATH.into()),
            Route::StatsJson => Some(STATS_JSON_PATH.into()),
        }
    }

    /// The path of the file that holds this route's resource in the output folder, relative
    /// to it; `None` for what is not a file (health, redirects, nothing).
    pub fn file(&self) -> Option<String> {
        match self {
            Route::Index => Some("index.html".into()),
            Route::Feed(format) => Some(format.file_name().into()),
            Route::Tag(slug, format) => Some(format!("tags/{slug}/{}", format.file_name())),
            Route::Language(code, format) => Some(format!(
                "lang/{}/{}",
                file_component(code),
                format.file_name()
            )),
            Route::Opml => Some(OPML_PATH[1..].into()),
            Route::Archive(format, n) => Some(format!("archive/{}/{n}.xml", format.name())),
            Route::History(n) => Some(format!("archive/{n}.html")),
            Route::Article(id) => Some(format!("articles/{}.html", file_component(id))),
            Route::Health | Route::Moved(_) | Route::OldArticle(_) | Route::NotFound => None,
            Route::Stats | Route::StatsJson => None,
        }
    }
}

/// `/tags/` is stripped from `rest`.
fn tag_route(rest: &str) -> Route {
    let Some((raw, file)) = rest.split_once('/') else {
        return Route::NotFound;
    };
    let Some(format) = Format::from_file_name(file) else {
        return Route::NotFound;
    };
    match percent_decode_str(raw).decode_utf8() {
        Ok(slug) if !slug.is_empty() => Route::Tag(slug.into_owned(), format),
        _ => Route::NotFound,
    }
}

/// `/archive/` is stripped from `rest`.
fn archive_route(rest: &str) -> Route {
    let Some((name, file)) = rest.split_once('/') else {
        return page_number(rest, ".html").map_or(Route::NotFound, Route::History);
    };
    let Some(format) = Format::ARCHIVED.into_iter().find(|f| f.name() == name) else {
        return Route::NotFound;
    };
    page_number(file, ".xml").map_or(Route::NotFound, |n| Route::Archive(format, n))
}

/// The page number of a file name `{n}{suffix}`: digits without a leading zero, from 1.
fn page_number(file: &str, suffix: &str) -> Option<usize> {
    let digits = file.strip_suffix(suffix)?;
    if digits.starts_with(['0', '+']) {
        return None;
    }
    digits.parse::<usize>().ok().filter(|&n| n > 0)
}

/// `id` as one component of a path in the output folder: the id itself when it is a plain
/// name (what a static web server finds once it has decoded the request's path), else its
/// percent-encoded form, which can never step out of its folder.
pub fn file_component(id: &str) -> String {
    let plain = !id.is_empty()
        && !id.starts_with('.')
        && !id.contains(['/', '\\', '\0', '%'])
        && !id.chars().any(char::is_control);
    if plain {
        id.to_string()
    } else {
        let encoded = utf8_percent_encode(id, ID_ESCAPES).to_string();
        match encoded.strip_prefix('.') {
            Some(rest) => format!("%2E{rest}"),
            None => encoded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_slugs() {
        assert_eq!(tag_slug("City Hall"), "city-hall");
        assert_eq!(tag_slug("  C++ & Rust! "), "c-rust");
        assert_eq!(tag_slug("ترافیک"), "ترافیک");
        assert_eq!(
            tag_feed_path("City Hall", Format::Rss),
            "/tags/city-hall/rss.xml"
        );
    }

    #[test]
    fn ids_are_percent_encoded() {
        assert_eq!(url_id("26462"), "26462");
        assert_eq!(url_id("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn every_path_built_parses_back_to_its_route() {
        for format in Format::ALL {
            assert_eq!(Route::parse(format.path()), Route::Feed(format));
            assert_eq!(
                Route::parse(&tag_feed_path("City Hall", format)),
                Route::Tag("city-hall".into(), format)
            );
        }
        for format in Format::ARCHIVED {
            assert_eq!(
                Route::parse(&archive_path(format, 12)),
                Route::Archive(format, 12)
            );
        }
        assert_eq!(Route::parse("/archive/json/1.xml"), Route::NotFound);
        assert_eq!(Route::parse("/archive/rss/01.xml"), Route::NotFound);
        assert_eq!(Route::parse("/archive/7.html"), Route::History(7));
        for bad in [
            "/archive/0.html",
            "/archive/07.html",
            "/archive/+7.html",
            "/archive/7.xml",
        ] {
            assert_eq!(Route::parse(bad), Route::NotFound, "{bad}");
        }
        assert_eq!(
            Route::parse(&article_path("a b/é")),
            Route::Article("a b/é".into())
        );
        assert_eq!(article_path("26462"), "/articles/26462.html");
        assert_eq!(
            Route::parse("/articles/26462"),
            Route::OldArticle("26462".into())
        );
        assert_eq!(Route::parse("/articles/.html"), Route::NotFound);
        for route in [
            Route::Index,
            Route::Health,
            Route::Feed(Format::Json),
            Route::Tag("ترافیک".into(), Format::Atom),
            Route::Archive(Format::Rss, 3),
            Route::History(3),
            Route::Article("café news/1".into()),
            Route::Stats,
            Route::StatsJson,
        ] {
            assert_eq!(Route::parse(&route.path().unwrap()), route);
        }
        for (from, to) in ALIASES {
            assert_eq!(Route::parse(from), Route::Moved(to));
        }
    }

    /// Found by the `urls` oracle: the feeds of a language tag longer than 64 characters
    /// (which the configuration and the front matter accept) could not be requested.
    #[test]
    fn every_language_tag_has_feeds_that_can_be_requested() {
        let long = "en-a-aaaaaaaa-bbbbbbbb-cccccccc-dddddddd-eeeeeeee-ffffffff-gggggggg-hhhhhhhh";
        for format in Format::ALL {
            assert_eq!(
                Route::parse(&language_feed_path(long, format)),
                Route::Language(long.into(), format)
            );
        }
        assert_eq!(Route::parse("/lang/-en/rss.xml"), Route::NotFound);
        assert_eq!(Route::parse("/lang/e%6E/rss.xml"), Route::NotFound);
    }

    #[test]
    fn article_file_names_never_leave_their_folder() {
        assert_eq!(file_component("26462"), "26462");
        assert_eq!(file_component("winter-driving"), "winter-driving");
        assert_eq!(file_component(".."), "%2E.");
        assert_eq!(file_component(".hidden"), "%2Ehidden");
        assert_eq!(file_component("a/b"), "a%2Fb");
        assert_eq!(file_component("100%"), "100%25");
        for id in ["..", ".", "a/../../b", "\\x", "a\0b"] {
            let file = Route::Article(id.into()).file().unwrap();
            let component = &file["articles/".len()..file.len() - ".html".len()];
            assert!(!component.contains(['/', '\\', '\0']), "{id:?} -> {file}");
            assert!(!component.starts_with('.'), "{id:?} -> {file}");
        }
    }
}
