//! The format-neutral feed item and the stable order of items.
//!
//! Every feed format is written from [`FeedItem`]s, so RSS, Atom and the HTML pages always
//! agree on identity, dates, links and text.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use crate::article::Article;
use crate::config::Config;
use crate::html::{absolutize, paragraphs_html};
use crate::urls::{item_link, url_id};

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
    /// Publication time in the configured zone (RSS `pubDate`, Atom `published` and `updated`).
    pub published: DateTime<FixedOffset>,
    /// Plain-text summary: the first paragraph cut at a word boundary (RSS `description`,
    /// Atom `summary`).
    pub summary: String,
    /// The full text as HTML paragraphs (RSS `content:encoded`, Atom `content type="html"`).
    pub content_html: String,
}

impl FeedItem {
    /// Builds the item of `article` under `config`.
    pub fn new(article: Arc<Article>, config: &Config) -> FeedItem {
        FeedItem {
            guid: format!("{}{}", config.id_prefix, url_id(&article.id)),
            link: item_link(config, &article.id),
            published: article.instant(config.timezone),
            summary: match &article.summary {
                Some(summary) => summary.clone(),
                None => summarize(
                    article.paragraphs.first().map(String::as_str).unwrap_or(""),
                    config.summary_chars,
                ),
            },
            content_html: match &article.html {
                Some(html) => absolutize(html, &config.site_url),
                None => paragraphs_html(&article.paragraphs),
            },
            article,
        }
    }
}

/// The items of `articles`, in the order given.
pub fn items_of<'a>(
    articles: impl IntoIterator<Item = &'a Arc<Article>>,
    config: &Config,
) -> Vec<FeedItem> {
    articles
        .into_iter()
        .map(|a| FeedItem::new(Arc::clone(a), config))
        .collect()
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
