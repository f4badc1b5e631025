//! The HTML pages: the index (`/`), the history pages (`/archive/{n}.html`: the articles of
//! each RFC 5005 archive page, linked from the index and from each other) and one page per
//! article (`/articles/{id}.html`). Links are absolute (from `base_url`), so a site served
//! under a path (a project's GitHub Pages) works as well as one at a host's root.
//!
//! Every piece of article text is escaped, so no article can inject markup; the server adds
//! a `Content-Security-Policy` that forbids scripts besides.

use std::fmt::Write;

use crate::config::Config;
use crate::html::escape_html;
use crate::item::FeedItem;
use crate::urls::{article_path, history_path, tag_feed_path, Format};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}\
a{color:#0645ad}time{color:#666;font-size:.9em}li{margin:.4rem 0}header p{color:#555}";

/// The language of an article: the configured one, unless most of its title's letters are
/// Arabic-script, which on this kind of site means Persian.
pub fn language_of<'a>(item: &FeedItem, config: &'a Config) -> &'a str {
    let letters = item.article.title.chars().filter(|c| c.is_alphabetic());
    let (arabic, total) = letters.fold((0usize, 0usize), |(a, t), c| {
        (a + usize::from(matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')), t + 1)
    });
    if total > 0 && arabic * 2 > total {
        "fa"
    } else {
        &config.language
    }
}

fn head(out: &mut String, config: &Config, title: &str, lang: &str, tags: &[String]) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"auto\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"{feed} (RSS)\" href=\"{rss}\">\n\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"{feed} (Atom)\" href=\"{atom}\">\n\
         <link rel=\"alternate\" type=\"application/feed+json\" title=\"{feed} (JSON Feed)\" href=\"{json}\">\n\
         {tag_links}<style>{STYLE}</style>\n</head>\n<body>\n",
        lang = escape_html(lang),
        title = escape_html(title),
        feed = escape_html(&config.title),
        rss = escape_html(&config.url(Format::Rss.path())),
        atom = escape_html(&config.url(Format::Atom.path())),
        json = escape_html(&config.url(Format::Json.path())),
        tag_links = tags
            .iter()
            .map(|tag| {
                let name = escape_html(&format!("{}: {tag}", config.title));
                [(Format::Rss, "RSS"), (Format::Atom, "Atom"), (Format::Json, "JSON Feed")]
                    .iter()
                    .map(|(format, label)| {
                        format!(
                            "<link rel=\"alternate\" type=\"{}\" title=\"{name} ({label})\" href=\"{}\">\n",
                            format.mime(),
                            escape_html(&config.url(&tag_feed_path(tag, *format)))
                        )
                    })
                    .collect::<String>()
            })
            .collect::<String>(),
    );
}

/// The index page: the newest `items`, newest first, with feed autodiscovery, a link to the
/// newest of the `history` pages (when there are any) and the tags' feeds.
pub fn index_html(
    config: &Config,
    items: &[FeedItem],
    total: usize,
    tags: &[String],
    history: usize,
) -> String {
    let mut out = String::with_capacity(4096 + items.len() * 200);
    head(&mut out, config, &config.title, &config.language, tags);
    let _ = write!(
        out,
        "<header><h1>{title}</h1><p>{description}</p>\n<p>Subscribe: <a href=\"{rss}\">RSS</a> · <a href=\"{atom}\">Atom</a> · <a href=\"{json}\">JSON Feed</a></p></header>\n<main>\n",
        title = escape_html(&config.title),
        description = escape_html(&config.description),
        rss = escape_html(&config.url(Format::Rss.path())),
        atom = escape_html(&config.url(Format::Atom.path())),
        json = escape_html(&config.url(Format::Json.path())),
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
    if !tags.is_empty() {
        out.push_str("<h2>Tags</h2>\n<ul>\n");
        for tag in tags {
            let _ = writeln!(
                out,
                "<li dir=\"auto\">{name}: <a href=\"{rss}\">RSS</a> · <a href=\"{atom}\">Atom</a> · <a href=\"{json}\">JSON Feed</a></li>",
                name = escape_html(tag),
                rss = escape_html(&config.url(&tag_feed_path(tag, Format::Rss))),
                atom = escape_html(&config.url(&tag_feed_path(tag, Format::Atom))),
                json = escape_html(&config.url(&tag_feed_path(tag, Format::Json))),
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
    head(&mut out, config, &title, &config.language, &[]);
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
            "<li lang=\"{lang}\" dir=\"auto\"><a href=\"{href}\">{title}</a> <time datetime=\"{date}\">{day}</time></li>",
            lang = escape_html(language_of(item, config)),
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

/// The page of one article.
pub fn article_html(config: &Config, item: &FeedItem) -> String {
    let lang = language_of(item, config);
    let mut out = String::with_capacity(2048 + item.content_html.len());
    head(&mut out, config, &item.article.title, lang, &[]);
    let _ = write!(
        out,
        "<article>\n<h1 dir=\"auto\">{title}</h1>\n<p><time datetime=\"{date}\">{human}</time></p>\n<div dir=\"auto\">\n{content}\n</div>\n</article>\n\
         <footer><p><a href=\"{home}\">{site}</a></p></footer>\n</body>\n</html>\n",
        title = escape_html(&item.article.title),
        date = item.published.to_rfc3339(),
        human = item.published.format("%-d %B %Y, %H:%M"),
        content = item.content_html,
        home = escape_html(&config.url("/")),
        site = escape_html(&config.title),
    );
    out
}
