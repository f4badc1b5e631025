//! The HTML pages: the index (`/`), the history pages (`/archive/{n}.html`: the articles of
//! each RFC 5005 archive page, linked from the index and from each other) and one page per
//! article (`/articles/{id}.html`). Links are absolute (from `base_url`), so a site served
//! under a path (a project's GitHub Pages) works as well as one at a host's root.
//!
//! Every piece of article text is escaped, so no article can inject markup; the server adds
//! a `Content-Security-Policy` that forbids scripts besides.

use std::fmt::Write;

use crate::config::Config;
use crate::feed::{language_title, tag_title};
use crate::html::escape_html;
use crate::item::FeedItem;
use crate::lang::is_rtl;
use crate::urls::{
    article_path, history_path, language_feed_path, tag_feed_path, tag_slug, Format, OPML_PATH,
};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}\
a{color:#0645ad}time{color:#666;font-size:.9em}li{margin:.4rem 0}header p{color:#555}";

/// The feeds a page links to, beside the site's own: its tags' and its languages'.
#[derive(Debug, Clone, Copy, Default)]
pub struct Groups<'a> {
    /// Tags, as spelled.
    pub tags: &'a [String],
    /// Languages, as BCP 47 tags.
    pub languages: &'a [String],
}

/// The three formats with the words that name them on pages.
const FORMATS: [(Format, &str); 3] = [
    (Format::Rss, "RSS"),
    (Format::Atom, "Atom"),
    (Format::Json, "JSON Feed"),
];

/// `dir` of text in `lang`.
fn direction(lang: &str) -> &'static str {
    if is_rtl(lang) {
        "rtl"
    } else {
        "ltr"
    }
}

/// Every feed of `groups` as `(title, path of each format)`: the site's, then the
/// languages', then the tags'.
fn feeds_of(config: &Config, groups: &Groups) -> Vec<(String, [String; 3])> {
    let mut feeds = vec![(
        config.title.clone(),
        Format::ALL.map(|f| f.path().to_string()),
    )];
    for code in groups.languages {
        feeds.push((
            language_title(config, code),
            Format::ALL.map(|f| language_feed_path(code, f)),
        ));
    }
    for tag in groups.tags.iter().filter(|t| !tag_slug(t).is_empty()) {
        feeds.push((
            tag_title(config, tag),
            Format::ALL.map(|f| tag_feed_path(tag, f)),
        ));
    }
    feeds
}

/// The document's start: language and direction, title, autodiscovery of the site's feeds
/// and those of `groups`, and of the OPML list.
fn head(out: &mut String, config: &Config, title: &str, lang: &str, groups: &Groups) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n",
        lang = escape_html(lang),
        dir = direction(lang),
        title = escape_html(title),
    );
    for (name, paths) in feeds_of(config, groups) {
        for ((format, label), path) in FORMATS.iter().zip(&paths) {
            let _ = writeln!(
                out,
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({label})\" href=\"{}\">",
                format.mime(),
                escape_html(&name),
                escape_html(&config.url(path)),
            );
        }
    }
    let _ = write!(
        out,
        "<link rel=\"outline\" type=\"text/x-opml\" title=\"{} (OPML)\" href=\"{}\">\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape_html(&config.title),
        escape_html(&config.url(OPML_PATH)),
    );
}

/// `RSS · Atom · JSON Feed`, each linked to its path of `paths`.
fn format_links(config: &Config, paths: &[String; 3]) -> String {
    FORMATS
        .iter()
        .zip(paths)
        .map(|((_, label), path)| {
            format!("<a href=\"{}\">{label}</a>", escape_html(&config.url(path)))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The OPML 2.0 list of every feed of the site: the subscription feed, each language's and
/// each tag's, in RSS (one format each, so that a reader importing it subscribes to each
/// feed once).
pub fn opml(config: &Config, tags: &[&str], languages: &[&str]) -> String {
    let groups_tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    let groups_languages: Vec<String> = languages.iter().map(|l| l.to_string()).collect();
    let groups = Groups {
        tags: &groups_tags,
        languages: &groups_languages,
    };
    let mut out = String::with_capacity(512 + 256 * (tags.len() + languages.len()));
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head>\n<title>{}</title>\n<docs>http://opml.org/spec2.opml</docs>\n</head>\n<body>\n",
        escape_html(&config.title),
    );
    for (name, paths) in feeds_of(config, &groups) {
        let name = escape_html(&name);
        let _ = writeln!(
            out,
            "<outline type=\"rss\" version=\"RSS2\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\" htmlUrl=\"{}\"/>",
            escape_html(&config.url(&paths[0])),
            escape_html(&config.site_url),
        );
    }
    out.push_str("</body>\n</opml>\n");
    out
}

/// The index page: the newest `items`, newest first, with feed autodiscovery, a link to the
/// newest of the `history` pages (when there are any), and the feeds of each language and
/// each tag.
pub fn index_html(
    config: &Config,
    items: &[FeedItem],
    total: usize,
    groups: &Groups,
    history: usize,
) -> String {
    let mut out = String::with_capacity(4096 + items.len() * 200);
    head(&mut out, config, &config.title, &config.language, groups);
    let main = Format::ALL.map(|f| f.path().to_string());
    let _ = write!(
        out,
        "<header><h1>{title}</h1><p>{description}</p>\n<p>Subscribe: {links} · <a href=\"{opml}\">all feeds (OPML)</a></p></header>\n<main>\n",
        title = escape_html(&config.title),
        description = escape_html(&config.description),
        links = format_links(config, &main),
        opml = escape_html(&config.url(OPML_PATH)),
    );
    if items.len() < total {
        let _ = writeln!(
            out,
            "<p>The newest {} of {} articles.</p>",
            items.len(),
            total
        );
    }
    list(&mut out, config, items);
    if history > 0 {
        nav(&mut out, config, Some(history), None);
    }
    if !groups.languages.is_empty() {
        out.push_str("<h2>Languages</h2>\n<ul>\n");
        for code in groups.languages {
            let paths = Format::ALL.map(|f| language_feed_path(code, f));
            let _ = writeln!(
                out,
                "<li><span lang=\"{code}\">{code}</span>: {}</li>",
                format_links(config, &paths),
                code = escape_html(code),
            );
        }
        out.push_str("</ul>\n");
    }
    let tags: Vec<&String> = groups
        .tags
        .iter()
        .filter(|t| !tag_slug(t).is_empty())
        .collect();
    if !tags.is_empty() {
        out.push_str("<h2>Tags</h2>\n<ul>\n");
        for tag in tags {
            let paths = Format::ALL.map(|f| tag_feed_path(tag, f));
            let _ = writeln!(
                out,
                "<li dir=\"auto\">{name}: {}</li>",
                format_links(config, &paths),
                name = escape_html(tag),
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// History page `number` of `pages`: its `items` (newest first), with links to the newer
/// page (the index after the newest) and the older one.
pub fn history_html(config: &Config, items: &[FeedItem], number: usize, pages: usize) -> String {
    let mut out = String::with_capacity(4096 + items.len() * 200);
    let title = format!("{}: archive {number} of {pages}", config.title);
    head(
        &mut out,
        config,
        &title,
        &config.language,
        &Groups::default(),
    );
    let _ = writeln!(
        out,
        "<header><h1>{title}</h1><p><a href=\"{home}\">{site}</a></p></header>\n<main>",
        title = escape_html(&title),
        home = escape_html(&config.url("/")),
        site = escape_html(&config.title),
    );
    let newer = if number < pages {
        config.url(&history_path(number + 1))
    } else {
        config.url("/")
    };
    list(&mut out, config, items);
    nav(
        &mut out,
        config,
        (number > 1).then(|| number - 1),
        Some(newer),
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// The list of `items`: title (linked to the article's page) and day.
fn list(out: &mut String, config: &Config, items: &[FeedItem]) {
    out.push_str("<ul>\n");
    for item in items {
        let _ = writeln!(
            out,
            "<li lang=\"{lang}\" dir=\"{dir}\"><a href=\"{href}\">{title}</a> <time datetime=\"{date}\">{day}</time></li>",
            lang = escape_html(&item.language),
            dir = direction(&item.language),
            href = escape_html(&config.url(&article_path(&item.article.id))),
            title = escape_html(&item.article.title),
            date = item.published.to_rfc3339(),
            day = item.published.format("%Y-%m-%d"),
        );
    }
    out.push_str("</ul>\n");
}

/// The links to the older history page `older` (by number) and the newer page `newer` (a
/// URL: the index is newer than the newest history page).
fn nav(out: &mut String, config: &Config, older: Option<usize>, newer: Option<String>) {
    out.push_str("<nav>");
    if let Some(newer) = newer {
        let _ = write!(
            out,
            "<a rel=\"next\" href=\"{}\">Newer articles</a>",
            escape_html(&newer)
        );
    }
    if let Some(older) = older {
        if !out.ends_with("<nav>") {
            out.push_str(" · ");
        }
        let _ = write!(
            out,
            "<a rel=\"prev\" href=\"{}\">Older articles</a>",
            escape_html(&config.url(&history_path(older)))
        );
    }
    out.push_str("</nav>\n");
}

/// The page of one article, in its language and direction: the text, its tags and its
/// language with their feeds, and autodiscovery of every feed it is in.
pub fn article_html(config: &Config, item: &FeedItem) -> String {
    let lang = item.language.as_str();
    let languages = [item.language.clone()];
    let groups = Groups {
        tags: item.article.tags(),
        languages: &languages,
    };
    let mut out = String::with_capacity(4096 + item.content_html.len());
    head(&mut out, config, &item.article.title, lang, &groups);
    let updated = if item.updated > item.published {
        format!(
            " · updated <time datetime=\"{}\">{}</time>",
            item.updated.to_rfc3339(),
            item.updated.format("%-d %B %Y, %H:%M")
        )
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<article>\n<h1>{title}</h1>\n<p><time datetime=\"{date}\">{human}</time>{updated}</p>\n<div>\n{content}\n</div>\n</article>\n<footer>\n",
        title = escape_html(&item.article.title),
        date = item.published.to_rfc3339(),
        human = item.published.format("%-d %B %Y, %H:%M"),
        content = item.content_html,
    );
    let tags: Vec<&String> = item
        .article
        .tags()
        .iter()
        .filter(|t| !tag_slug(t).is_empty())
        .collect();
    if !tags.is_empty() {
        out.push_str("<p lang=\"en\" dir=\"ltr\">Tags: ");
        let links: Vec<String> = tags
            .iter()
            .map(|tag| {
                format!(
                    "<a href=\"{}\"><bdi>{}</bdi></a>",
                    escape_html(&config.url(&tag_feed_path(tag, Format::Rss))),
                    escape_html(tag)
                )
            })
            .collect();
        out.push_str(&links.join(", "));
        out.push_str("</p>\n");
    }
    let site = Format::ALL.map(|f| f.path().to_string());
    let own = Format::ALL.map(|f| language_feed_path(lang, f));
    let _ = write!(
        out,
        "<p lang=\"en\" dir=\"ltr\">Subscribe: {} · articles in <bdi lang=\"{code}\">{code}</bdi>: {}</p>\n<p><a href=\"{home}\">{site}</a></p>\n</footer>\n</body>\n</html>\n",
        format_links(config, &site),
        format_links(config, &own),
        code = escape_html(lang),
        home = escape_html(&config.url("/")),
        site = escape_html(&config.title),
    );
    out
}
