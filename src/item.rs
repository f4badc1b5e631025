//! The format-neutral feed item and the stable order of items.
//!
//! Every feed format is written from [`FeedItem`]s, so RSS, Atom and the HTML pages always
//! agree on identity, dates, links and text.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::article::Article;
use crate::config::Config;

/// Characters of an id that are percent-encoded in URLs and identities (RFC 3986 unreserved
/// characters stay as they are).
const ID_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
                Some(html) => crate::markdown::absolutize(html, &config.site_url),
                None => paragraphs_html(&article.paragraphs),
            },
            article,
        }
    }
}

/// The id as it appears in URLs: percent-encoded where needed.
pub fn url_id(id: &str) -> String {
    utf8_percent_encode(id, ID_ESCAPES).to_string()
}

/// The link of the article `id` from the `item_link` template.
pub fn item_link(config: &Config, id: &str) -> String {
    config
        .item_link
        .replace("{base_url}", &config.base_url)
        .replace("{id}", &url_id(id))
}

/// Reads a local wall-clock time in `zone`. A time skipped by a daylight-saving change
/// (such as midnight on the day Tehran moved its clocks forward) is read one hour later;
/// a time that occurs twice is read as the first.
pub fn local_time(local: NaiveDateTime, zone: Tz) -> DateTime<FixedOffset> {
    let resolved = match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
        LocalResult::None => {
            match zone.from_local_datetime(&(local + chrono::Duration::hours(1))) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
                LocalResult::None => None,
            }
        }
    };
    match resolved {
        Some(t) => t.fixed_offset(),
        // No zone skips two hours in a row; fall back to UTC rather than fail.
        None => local.and_utc().fixed_offset(),
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

/// The newest `max` articles as items: newest first, ties broken by identity.
pub fn select_items(articles: &[Arc<Article>], config: &Config, max: usize) -> Vec<FeedItem> {
    items_of(
        crate::corpus::Ranking::new(articles, config.timezone).newest(max),
        config,
    )
}

/// Escapes text for HTML and XML content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The paragraphs as `<p>` elements, one per line.
pub fn paragraphs_html(paragraphs: &[String]) -> String {
    paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape_html(p)))
        .collect::<Vec<_>>()
        .join("\n")
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
    use chrono::NaiveDate;

    #[test]
    fn summary_cuts_at_word_boundary() {
        assert_eq!(summarize("short text", 300), "short text");
        assert_eq!(summarize("alpha beta gamma", 12), "alpha beta…");
        assert_eq!(summarize("alpha, beta gamma", 8), "alpha…");
        assert_eq!(summarize("abcdefghij", 4), "abcd…");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            paragraphs_html(&["a < b & \"c\"".into()]),
            "<p>a &lt; b &amp; &quot;c&quot;</p>"
        );
    }

    #[test]
    fn tehran_dates_follow_daylight_saving() {
        let tz: Tz = "Asia/Tehran".parse().unwrap();
        let summer = NaiveDate::from_ymd_opt(2018, 5, 12)
            .unwrap()
            .and_hms_opt(12, 55, 0)
            .unwrap();
        assert_eq!(
            local_time(summer, tz).to_rfc3339(),
            "2018-05-12T12:55:00+04:30"
        );
        let winter = NaiveDate::from_ymd_opt(2018, 1, 2)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(
            local_time(winter, tz).to_rfc3339(),
            "2018-01-02T00:00:00+03:30"
        );
        // Clocks went from 00:00 to 01:00 on 22 March 2018.
        let skipped = NaiveDate::from_ymd_opt(2018, 3, 22)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(
            local_time(skipped, tz).to_rfc3339(),
            "2018-03-22T01:00:00+04:30"
        );
    }

    #[test]
    fn ids_are_percent_encoded() {
        assert_eq!(url_id("26462"), "26462");
        assert_eq!(url_id("a b/é"), "a%20b%2F%C3%A9");
    }
}
