//! The format-neutral feed item and the stable order of items.
//!
//! Every feed format is written from [`FeedItem`]s, so RSS, Atom and the HTML pages always
//! agree on identity, dates, links and text.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use crate::article::Article;
use crate::config::Config;
use crate::loader::with_text;
use std::fmt::Write;

use crate::html::{absolutize, escape_html, paragraphs_html};
use crate::lang::is_rtl;
use crate::urls::url_id;

/// One entry of every feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// The article it comes from.
    pub article: Arc<Article>,
    /// The permanent identity: RSS `guid` (`isPermaLink="false"`) and Atom `id`. It depends on
    /// the configured `id_prefix` and the article's id only.
    pub guid: String,
    /// The item's link (RSS `link`, Atom `link rel="alternate"`).
    pub link: String,
    /// Publication time in the configured zone (RSS `pubDate`, Atom `published`, JSON Feed
    /// `date_published`).
    pub published: DateTime<FixedOffset>,
    /// Time of the last correction, else `published` (Atom `updated`, JSON Feed
    /// `date_modified`).
    pub updated: DateTime<FixedOffset>,
    /// The article's language, a BCP 47 tag (Atom entry `xml:lang` where it differs from
    /// the feed's, JSON Feed item `language`, the page's `lang`).
    pub language: String,
    /// Plain-text summary: the first paragraph cut at a word boundary (RSS `description`,
    /// Atom `summary`).
    pub summary: String,
    /// The full text as HTML (RSS `content:encoded`, Atom `content type="html"`, JSON Feed
    /// `content_html`). Text in a right-to-left language, or in another language than the
    /// site's, is wrapped in `<div lang=".." dir="rtl|ltr">`, so that readers that ignore
    /// the feed's language markup still show it the right way round.
    pub content_html: String,
}

impl FeedItem {
    /// Builds the item of `article` under `config`, from the text the article holds.
    pub fn new(article: Arc<Article>, config: &Config) -> FeedItem {
        let text = Arc::clone(&article);
        FeedItem::with_text(article, &text, config)
    }

    /// Builds the item of `article`, reading its text back from its file when the article
    /// left it there ([`crate::loader::with_text`]).
    pub fn of(article: &Arc<Article>, config: &Config) -> FeedItem {
        FeedItem::with_text(Arc::clone(article), &with_text(article), config)
    }

    /// Builds the item of `article` with the text of `text`: the same article parsed with
    /// its text (see [`crate::loader::with_text`]), when `article` left it in its file. The
    /// item keeps `article` itself, whose identity later snapshots compare.
    pub fn with_text(article: Arc<Article>, text: &Article, config: &Config) -> FeedItem {
        let language = article.language_in(&config.languages).to_string();
        let body = match text.html() {
            Some(html) => absolutize(html, &config.site_url),
            None => paragraphs_html(&text.paragraphs),
        };
        FeedItem {
            guid: format!("{}{}", config.id_prefix, url_id(&article.id)),
            link: item_link(config, &article.id),
            published: article.instant(config.timezone),
            updated: article.updated_instant(config.timezone),
            summary: match text.summary() {
                Some(summary) => summary.to_string(),
                None => summarize(
                    text.paragraphs.first().map(String::as_str).unwrap_or(""),
                    config.summary_chars,
                ),
            },
            content_html: with_direction(body, &language, &config.language),
            language,
            article,
        }
    }
}

/// The items of `articles`, in the order given; the text of an article that left it in its
/// file is read again from there ([`crate::loader::with_text`]).
pub fn items_of<'a>(
    articles: impl IntoIterator<Item = &'a Arc<Article>>,
    config: &Config,
) -> Vec<FeedItem> {
    articles
        .into_iter()
        .map(|a| FeedItem::of(a, config))
        .collect()
}

/// The link of the article `id` from the `item_link` template.
fn item_link(config: &Config, id: &str) -> String {
    config
        .item_link
        .replace("{base_url}", &config.base_url)
        .replace("{id}", &url_id(id))
}

/// `html` marked with its language and direction when it is right-to-left or not in the
/// site's language; as it is otherwise.
fn with_direction(html: String, language: &str, site: &str) -> String {
    let rtl = is_rtl(language);
    if !rtl && language == site {
        return html;
    }
    let dir = if rtl { "rtl" } else { "ltr" };
    let mut out = String::with_capacity(html.len() + 40);
    let _ = writeln!(
        out,
        "<div lang=\"{}\" dir=\"{dir}\">",
        escape_html(language)
    );
    out.push_str(html.trim_end_matches('\n'));
    out.push_str("\n</div>");
    out
}

/// Cuts `text` at a word boundary to at most about `max_chars` characters, adding `…` when cut.
pub fn summarize(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let at_boundary = match cut.rfind(char::is_whitespace) {
        Some(i) if i > 0 => &cut[..i],
        _ => cut.as_str(),
    };
    let trimmed = at_boundary
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-'));
    format!("{trimmed}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_cuts_at_word_boundary() {
        assert_eq!(summarize("short text", 300), "short text");
        assert_eq!(summarize("alpha beta gamma", 12), "alpha beta…");
        assert_eq!(summarize("alpha, beta gamma", 8), "alpha…");
        assert_eq!(summarize("abcdefghij", 4), "abcd…");
    }
}
