//! RSS 2.0: items → `rss::Channel` → bytes.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::Extension;
use rss::{Channel, Guid, Item};

use super::{feed_date, FeedHead, GENERATOR, HISTORY_NS};
use crate::config::Config;
use crate::html::escape_html;
use crate::item::FeedItem;

/// Builds the RSS channel of `items` with `links` (as `atom:link` elements).
pub fn build_rss(items: &[FeedItem], config: &Config, links: &FeedHead) -> Channel {
    let date = (!items.is_empty()).then(|| feed_date(items).to_rfc2822());
    let atom_links = links
        .all()
        .into_iter()
        .map(|(rel, href)| {
            let mut link = Link::default();
            link.set_href(href);
            link.set_rel(rel);
            if rel != "hub" {
                link.set_mime_type(Some("application/rss+xml".to_string()));
            }
            link
        })
        .collect();
    let mut namespaces = BTreeMap::new();
    let mut extensions = BTreeMap::new();
    if links.archive {
        namespaces.insert("fh".to_string(), HISTORY_NS.to_string());
        let archive = Extension {
            name: "fh:archive".to_string(),
            ..Extension::default()
        };
        extensions.insert(
            "fh".to_string(),
            BTreeMap::from([("archive".to_string(), vec![archive])]),
        );
    }
    let mut channel = Channel {
        title: links.title.clone(),
        link: config.site_url.clone(),
        description: config.description.clone(),
        language: Some(links.language(config).to_string()),
        image: config.icon.as_ref().map(|url| rss::Image {
            url: url.clone(),
            title: links.title.clone(),
            link: config.site_url.clone(),
            ..rss::Image::default()
        }),
        generator: Some(GENERATOR.to_string()),
        docs: Some("https://www.rssboard.org/rss-specification".to_string()),
        ttl: Some(config.cache_max_age.div_ceil(60).max(1).to_string()),
        last_build_date: date.clone(),
        pub_date: date,
        atom_ext: Some(AtomExtension { links: atom_links }),
        namespaces,
        extensions,
        ..Channel::default()
    };
    channel.items = items.iter().map(|i| rss_item(i, config)).collect();
    channel
}

/// The item of `item`. Its author is `dc:creator` (the article's, else the configured
/// one): RSS `author` must be an e-mail address.
fn rss_item(item: &FeedItem, config: &Config) -> Item {
    let author = item.article.author().unwrap_or(&config.author.name);
    Item {
        title: Some(item.article.title.clone()),
        link: Some(item.link.clone()),
        // RSS descriptions are HTML: the plain-text summary is escaped once here and once
        // more by the XML writer.
        description: Some(escape_html(&item.summary)),
        guid: Some(Guid {
            value: item.guid.clone(),
            permalink: false,
        }),
        pub_date: Some(item.published.to_rfc2822()),
        content: Some(item.content_html.clone()),
        categories: item
            .article
            .tags()
            .iter()
            .map(|t| rss::Category {
                name: t.clone(),
                domain: None,
            })
            .collect(),
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![author.to_string()],
            ..DublinCoreExtension::default()
        }),
        ..Item::default()
    }
}

/// Serializes the channel. Writing to memory cannot fail for a channel built here; an error
/// would come from the XML writer only.
pub fn render_rss(
    items: &[FeedItem],
    config: &Config,
    links: &FeedHead,
) -> Result<Vec<u8>, rss::Error> {
    let mut out = build_rss(items, config, links).write_to(Vec::new())?;
    out.push(b'\n');
    Ok(out)
}
