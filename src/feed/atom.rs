//! Atom 1.0 (RFC 4287): items → `atom_syndication::Feed` → bytes.

use std::collections::BTreeMap;

use atom_syndication::extension::Extension;
use atom_syndication::{Content, Entry, Feed, Generator, Link, Person, Text};

use super::{feed_date, FeedHead, GENERATOR, HISTORY_NS};
use crate::config::Config;
use crate::item::FeedItem;

fn link(href: String, rel: &str, mime: &str) -> Link {
    Link {
        href,
        rel: rel.to_string(),
        mime_type: Some(mime.to_string()),
        ..Link::default()
    }
}

/// Builds the Atom feed of `items` with `links`.
pub fn build_atom(items: &[FeedItem], config: &Config, links: &FeedHead) -> Feed {
    let mut all_links = vec![link(config.site_url.clone(), "alternate", "text/html")];
    all_links.extend(links.all().into_iter().map(|(rel, href)| {
        let mut l = link(href.to_string(), rel, "application/atom+xml");
        if rel == "hub" {
            l.mime_type = None;
        }
        l
    }));
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
    Feed {
        id: links.id.clone(),
        title: Text::plain(links.title.clone()),
        subtitle: Some(Text::plain(config.description.clone())),
        updated: feed_date(items),
        authors: vec![Person {
            name: config.author.name.clone(),
            email: config.author.email.clone(),
            uri: None,
            ..Person::default()
        }],
        links: all_links,
        namespaces,
        extensions,
        generator: Some(Generator {
            value: GENERATOR.to_string(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        lang: Some(links.language(config).to_string()),
        icon: config.icon.clone(),
        logo: config.logo.clone(),
        entries: items
            .iter()
            .map(|item| atom_entry(item, links.language(config)))
            .collect(),
        ..Feed::default()
    }
}

/// The entry of `item` in a feed in `language`. The entry's language is marked on its
/// title and content (`xml:lang`) where it differs. There is no `summary`: the whole text
/// is in `content`, and a reader that prefers plain text to HTML would otherwise show only
/// the summary (readers make their list views from the content, as feedparser does).
fn atom_entry(item: &FeedItem, language: &str) -> Entry {
    let lang = (item.language != language).then(|| item.language.clone());
    Entry {
        id: item.guid.clone(),
        title: Text {
            lang: lang.clone(),
            ..Text::plain(item.article.title.clone())
        },
        updated: item.updated,
        published: Some(item.published),
        links: vec![link(item.link.clone(), "alternate", "text/html")],
        authors: item
            .article
            .author()
            .iter()
            .map(|name| Person {
                name: name.to_string(),
                ..Person::default()
            })
            .collect(),
        categories: item
            .article
            .tags()
            .iter()
            .map(|t| atom_syndication::Category {
                term: t.clone(),
                ..atom_syndication::Category::default()
            })
            .collect(),
        content: Some(Content {
            value: Some(item.content_html.clone()),
            content_type: Some("html".to_string()),
            lang,
            ..Content::default()
        }),
        ..Entry::default()
    }
}

/// Serializes the feed.
pub fn render_atom(
    items: &[FeedItem],
    config: &Config,
    links: &FeedHead,
) -> Result<Vec<u8>, atom_syndication::Error> {
    let mut out = build_atom(items, config, links).write_to(Vec::new())?;
    out.push(b'\n');
    Ok(out)
}
