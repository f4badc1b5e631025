//! JSON Feed 1.1 (<https://www.jsonfeed.org/version/1.1/>): items → document → bytes.

use serde::Serialize;

use super::FeedHead;
use crate::config::Config;
use crate::item::FeedItem;

/// The JSON Feed version URL.
pub const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// A JSON Feed document. Field order is fixed, so the output is deterministic.
#[derive(Debug, Serialize)]
pub struct JsonFeed<'a> {
    /// `version`
    pub version: &'static str,
    /// `title`
    pub title: &'a str,
    /// `home_page_url`: the site.
    pub home_page_url: &'a str,
    /// `feed_url`: where this document is served.
    pub feed_url: String,
    /// `description`
    pub description: &'a str,
    /// `language`
    pub language: &'a str,
    /// `icon`: the configured `icon`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<&'a str>,
    /// `favicon`: the configured `icon` too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favicon: Option<&'a str>,
    /// `authors`
    pub authors: Vec<JsonAuthor<'a>>,
    /// `hubs`: WebSub hubs, when configured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hubs: Vec<JsonHub<'a>>,
    /// `items`, newest first.
    pub items: Vec<JsonItem<'a>>,
}

/// An author.
#[derive(Debug, Serialize)]
pub struct JsonAuthor<'a> {
    /// `name`
    pub name: &'a str,
    /// `url`: a `mailto:` URL when the author has an e-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A WebSub hub.
#[derive(Debug, Serialize)]
pub struct JsonHub<'a> {
    /// `type`
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `url`
    pub url: &'a str,
}

/// An item.
#[derive(Debug, Serialize)]
pub struct JsonItem<'a> {
    /// `id`: the same permanent identity as RSS `guid` and Atom `id`.
    pub id: &'a str,
    /// `url`
    pub url: &'a str,
    /// `title`
    pub title: &'a str,
    /// `content_html`
    pub content_html: &'a str,
    /// `summary`
    pub summary: &'a str,
    /// `date_published` (RFC 3339)
    pub date_published: String,
    /// `date_modified` (RFC 3339): the last correction, else the publication.
    pub date_modified: String,
    /// `language`: the article's.
    pub language: &'a str,
    /// `authors`, when the article names its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<JsonAuthor<'a>>,
    /// `tags`, when the article has any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<&'a str>,
}

/// Builds the JSON Feed of `items`; `head` gives its title, URL and hubs.
pub fn build_json<'a>(
    items: &'a [FeedItem],
    config: &'a Config,
    head: &'a FeedHead,
) -> JsonFeed<'a> {
    JsonFeed {
        version: VERSION,
        title: &head.title,
        home_page_url: &config.site_url,
        feed_url: head.self_url.clone(),
        description: &config.description,
        language: head.language(config),
        icon: config.icon.as_deref(),
        favicon: config.icon.as_deref(),
        authors: vec![JsonAuthor {
            name: &config.author.name,
            url: config.author.email.as_ref().map(|e| format!("mailto:{e}")),
        }],
        hubs: head
            .hubs
            .iter()
            .map(|url| JsonHub {
                kind: "WebSub",
                url,
            })
            .collect(),
        items: items
            .iter()
            .map(|item| JsonItem {
                id: &item.guid,
                url: &item.link,
                title: &item.article.title,
                content_html: &item.content_html,
                summary: &item.summary,
                date_published: item.published.to_rfc3339(),
                date_modified: item.updated.to_rfc3339(),
                language: &item.language,
                authors: item
                    .article
                    .author()
                    .map(|name| vec![JsonAuthor { name, url: None }])
                    .unwrap_or_default(),
                tags: item.article.tags().iter().map(String::as_str).collect(),
            })
            .collect(),
    }
}

/// Serializes the JSON Feed.
pub fn render_json(
    items: &[FeedItem],
    config: &Config,
    head: &FeedHead,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec_pretty(&build_json(items, config, head))?;
    out.push(b'\n');
    Ok(out)
}
